#include "shm_cli.h"

#include <fcntl.h>
#include <sys/ipc.h>
#include <unistd.h>

#include <climits>
#include <cstdint>

#include "encoding.h"
#include "io.h"
#include "parse.h"
#include "proc_users.h"
#include "process.h"
#include "shm_segment.h"
#include "sysv_list.h"

namespace ipctk {

namespace {

Result<int> resolve(const TargetArgs& target) {
  auto key = target_key(target);
  if (!key) return key.error();
  if (*key) return shm_find(**key);
  return parse_id(target.id);
}

Result<std::optional<uint64_t>> optional_size(const std::string& text,
                                              const char* what) {
  if (text.empty()) return std::optional<uint64_t>();
  auto v = parse_size(text, what);
  if (!v) return v.error();
  return std::optional<uint64_t>(*v);
}

/// --offset and --length of a read or write, parsed before any lookup.
struct Span {
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

Result<Span> parse_span(const std::string& offset_text,
                        const std::string& length_text) {
  auto offset = optional_size(offset_text, "--offset");
  if (!offset) return offset.error();
  auto length = optional_size(length_text, "--length");
  if (!length) return length.error();
  return Span{offset->value_or(0), *length};
}

/// A JSON read of more than this is streamed in pieces of kStreamChunk.
constexpr size_t kWholeDocumentLimit = 1 << 20;
constexpr size_t kStreamChunk = 1 << 20;

Outcome document(Json doc) { return Outcome{std::move(doc), kExitOk}; }

/// A document for a change that stays made if it cannot be printed: the
/// error's hint then says so.
Outcome changed(Json doc, std::string done) {
  Outcome out{std::move(doc), kExitOk};
  out.done = std::move(done);
  return out;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Result<Outcome> shm_create_command(const ShmCreateArgs& a, const Context&) {
  auto size = parse_size(a.size, "--size");
  if (!size) return size.error();
  auto mode = parse_mode(a.mode);
  if (!mode) return mode.error();
  auto key = creation_key(a.key, a.key_path, a.proj_id);
  if (!key) return key.error();
  ShmCreateRequest request{*key, *size, *mode, a.excl, a.hugetlb, a.noreserve};
  auto made = shm_create(request);
  if (!made) return made.error();
  // Described from /proc when the mode denies its owner reading (0200).
  auto info = shm_describe(made->id);
  if (!info) {
    if (made->created) (void)shm_remove(made->id);
    return info.error();
  }
  Json doc = to_json(*info);
  doc["effective_size"] = effective_size(info->size, made->created && a.hugetlb);
  doc["created"] = made->created;
  // The kernel keeps neither flag where it can be read back: report what
  // this call asked for when it created the segment, and null (unknown)
  // when it opened an existing one.
  doc["hugetlb"] = made->created ? Json(a.hugetlb) : Json(nullptr);
  doc["noreserve"] = made->created ? Json(a.noreserve) : Json(nullptr);
  Outcome out = document(std::move(doc));
  // No one can be told the id of a segment whose document is lost: one
  // this call made is removed again (an opened one was not changed).
  if (made->created) {
    int id = made->id;
    out.undo = remove_again("segment " + std::to_string(id),
                            [id] { return shm_remove(id); });
  }
  return out;
}

Result<Outcome> shm_attach_command(const ShmAttachArgs& a, const Context& ctx) {
  auto id = resolve(a.target);
  if (!id) return id.error();
  std::optional<double> seconds;
  if (!a.hold.empty()) {
    if (!ctx.command.empty())
      return usage_error("give either --hold or -- COMMAND, not both");
    auto s = parse_seconds(a.hold, "--hold");
    if (!s) return s.error();
    seconds = *s;
  }
  Command command;
  if (!ctx.command.empty()) {
    auto found = find_command(ctx.command);
    if (!found) return found.error();
    command = std::move(*found);
  }
  // Signals are caught before attaching, so none can end the process while
  // it is attached without a detach.
  SignalCatcher signals;
  if (!signals.ok()) return sys_error("signalfd", errno);
  auto att = Attachment::attach(*id, a.readonly);
  if (!att) return att.error();
  auto info = shm_stat(*id);
  if (!info) return info.error();
  Json doc;
  doc["id"] = *id;
  doc["key"] = static_cast<uint32_t>(info->key);
  doc["key_hex"] = key_hex(info->key);
  doc["address"] = reinterpret_cast<uintptr_t>(att->data());
  doc["address_hex"] = hex_u64(reinterpret_cast<uintptr_t>(att->data()));
  doc["size"] = att->size();
  doc["readonly"] = a.readonly;
  doc["nattch"] = info->nattch;
  doc["pid"] = getpid();
  doc["until"] = !ctx.command.empty() ? "command"
                 : seconds            ? "deadline"
                                      : "stdin";
  auto printed = print_document(doc, ctx.pretty);
  if (!printed) {
    Error e = printed.error();
    e.hint = std::string("it was detached again") +
             (ctx.command.empty() ? "" : "; the command was not run");
    return e;  // the attachment ends with `att`
  }
  Result<int> status = !ctx.command.empty()
                           ? run_command(signals, command)
                       : seconds ? hold(signals, HoldUntil::kDeadline, *seconds)
                                 : hold(signals, HoldUntil::kStdinEof, 0);
  if (!status) return status.error();
  return Outcome{std::nullopt, *status};
}

Result<Outcome> shm_read_command(const ShmReadArgs& a, const Context& ctx) {
  auto encoding = parse_encoding(a.encoding);
  if (!encoding) return encoding.error();
  auto span = parse_span(a.offset, a.length);
  if (!span) return span.error();
  auto id = resolve(a.target);
  if (!id) return id.error();
  // Bounds are checked on IPC_STAT's size before attaching: a failed read
  // must not even move the segment's atime and lpid.
  auto info = shm_stat(*id);
  if (!info) return info.error();
  auto region = make_region(info->size, span->offset, span->length);
  if (!region) return region.error();
  auto att = Attachment::attach(*id, true);
  if (!att) return att.error();
  if (a.raw) {
    auto sent = att->read_to_fd(*region, 1);
    if (!sent) return sent.error();
    return Outcome{std::nullopt, kExitOk};
  }
  Json doc;
  doc["id"] = *id;
  doc["offset"] = region->offset;
  doc["length"] = region->length;
  doc["encoding"] = encoding_name(*encoding);
  doc["data"] = "";
  std::string_view bytes = att->bytes(*region);
  // Small regions are encoded whole, so that an encoding error leaves
  // stdout empty; large ones stream (utf8 is validated before the first
  // byte goes out either way), keeping memory flat whatever the size.
  if (bytes.size() <= kWholeDocumentLimit) {
    auto text = encode(bytes, *encoding);
    if (!text) return text.error();
    doc["data"] = std::move(*text);
    return document(std::move(doc));
  }
  auto encodable = check_encodable(bytes, *encoding);
  if (!encodable) return encodable.error();
  auto printed = print_document_streaming(
      doc, ctx.pretty, [&](const std::function<Status(std::string_view)>& sink) {
        return encode_json_chunks(bytes, *encoding, kStreamChunk, sink);
      });
  if (!printed) return printed.error();
  return Outcome{std::nullopt, kExitOk};
}

Result<Outcome> shm_write_command(const ShmWriteArgs& a, const Context&) {
  // Decode before touching the segment: bad input changes nothing.
  std::optional<std::string> bytes;
  if (a.data) bytes = *a.data;
  if (a.hex) {
    auto d = hex_decode(*a.hex);
    if (!d) return d.error();
    bytes = std::move(*d);
  }
  if (a.base64) {
    auto d = base64_decode(*a.base64);
    if (!d) return d.error();
    bytes = std::move(*d);
  }
  auto span = parse_span(a.offset, a.length);
  if (!span) return span.error();
  auto id = resolve(a.target);
  if (!id) return id.error();
  auto info = shm_stat(*id);
  if (!info) return info.error();
  auto region = make_region(info->size, span->offset, span->length);
  if (!region) return region.error();

  // The input is staged and measured before the segment is attached, so
  // that input which does not fit leaves the segment untouched.
  std::optional<Fd> file;
  int input_fd = 0;
  if (!bytes && !a.file.empty() && a.file != "-") {
    int fd = open(a.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_error("open", errno, "--file " + a.file);
    file.emplace(fd);
    input_fd = fd;
  }
  auto input = bytes ? StagedInput::from_bytes(std::move(*bytes), *region)
                     : StagedInput::from_fd(input_fd, *region);
  if (!input) return input.error();
  auto att = Attachment::attach(*id, false);
  if (!att) return att.error();
  uint64_t zeroed = 0;
  auto written = att->write(*region, *input, a.zero_fill, &zeroed);
  if (!written) return written.error();
  Json doc;
  doc["id"] = *id;
  doc["offset"] = region->offset;
  doc["written"] = *written;
  doc["zero_filled"] = zeroed;
  return changed(std::move(doc), "the bytes were written all the same");
}

Result<Outcome> shm_rm_command(const ShmRmArgs& a, const Context&) {
  if (a.ids.empty() && a.keys.empty())
    return usage_error("nothing to remove", "give IDs or --key K");
  // Every target is resolved and checked first, so that a bad one removes
  // nothing.
  std::vector<ShmInfo> targets;
  for (const auto& text : a.ids) {
    auto id = parse_id(text);
    if (!id) return id.error();
    auto info = shm_describe(*id);
    if (!info) return info.error();
    auto owner = shm_check_owner(*info);
    if (!owner) return owner.error();
    targets.push_back(*info);
  }
  for (const auto& text : a.keys) {
    auto key = parse_key(text);
    if (!key) return key.error();
    auto id = shm_find(*key);
    if (!id) return id.error();
    auto info = shm_describe(*id);
    if (!info) return info.error();
    auto owner = shm_check_owner(*info);
    if (!owner) return owner.error();
    targets.push_back(*info);
  }
  Json removed = Json::array();
  for (const ShmInfo& t : targets) {
    bool seen = false;
    for (const auto& r : removed) seen = seen || r["id"] == t.id;
    if (seen) continue;
    auto rm = shm_remove(t.id);
    // Gone between the check and here (someone else removed it): what was
    // asked holds, and the segments already removed must still be reported.
    if (!rm && rm.error().err != EINVAL && rm.error().err != EIDRM)
      return rm.error();
    Json entry;
    entry["id"] = t.id;
    entry["key"] = static_cast<uint32_t>(t.key);
    entry["key_hex"] = key_hex(t.key);
    entry["nattch"] = t.nattch;
    entry["deferred"] = t.nattch > 0;
    removed.push_back(std::move(entry));
  }
  Json doc;
  doc["removed"] = std::move(removed);
  return changed(std::move(doc), "the segments were removed all the same");
}

Result<Outcome> shm_stat_command(const ShmStatArgs& a, const Context&) {
  auto id = resolve(a.target);
  if (!id) return id.error();
  auto info = shm_stat(*id);
  if (!info) return info.error();
  Json doc = to_json(*info);
  if (a.processes) {
    ProcessUses users = segment_users(*id);
    doc["attached"] = to_json(users, /*waiters=*/false);
    doc["attached_unreadable"] = users.unreadable;
  }
  return document(std::move(doc));
}

Result<Outcome> shm_list_command(const ShmListArgs& a, const Context& ctx) {
  std::optional<key_t> key;
  std::optional<uint64_t> owner, cpid;
  if (!a.key.empty()) {
    auto k = parse_key(a.key);
    if (!k) return k.error();
    key = *k;
  }
  if (!a.owner.empty()) {
    auto u = parse_uint(a.owner, "--owner", UINT32_MAX);
    if (!u) return u.error();
    owner = *u;
  }
  if (!a.creator_pid.empty()) {
    auto p = parse_uint(a.creator_pid, "--creator-pid", INT_MAX);
    if (!p) return p.error();
    cpid = *p;
  }
  auto all = list_segments();
  if (!all) return all.error();
  auto wanted = [&](const ShmInfo& s) {
    return (!key || s.key == *key) && (!owner || s.uid == *owner) &&
           (!cpid || static_cast<uint64_t>(s.cpid) == *cpid);
  };
  if (!ctx.pretty && !ctx.table) {
    // Compact: the same bytes as the tree's dump, written entry by entry
    // (thousands of segments: the tree cost ~20,000 instructions each).
    size_t count = 0;
    for (const ShmInfo& s : *all) count += wanted(s);
    std::string text = "{\"count\":" + std::to_string(count) + ",\"segments\":[";
    text.reserve(text.size() + count * 300 + 2);
    bool first = true;
    for (const ShmInfo& s : *all) {
      if (!wanted(s)) continue;
      if (!first) text.push_back(',');
      first = false;
      append_json(text, s);
    }
    text += "]}";
    if (auto printed = print_json_text(std::move(text)); !printed)
      return printed.error();
    return Outcome{std::nullopt, kExitOk};
  }
  Json segments = Json::array();
  for (const ShmInfo& s : *all)
    if (wanted(s)) segments.push_back(to_json(s));
  Json doc;
  doc["count"] = segments.size();
  doc["segments"] = std::move(segments);
  return document(std::move(doc));
}

Result<Outcome> shm_info_command(const Context&) {
  auto limits = shm_limits();
  if (!limits) return limits.error();
  return document(to_json(*limits));
}

Result<Outcome> shm_set_command(const ShmSetArgs& a, const Context&) {
  auto request = parse_perm_change(a.mode, a.uid, a.gid);
  if (!request) return request.error();
  auto id = resolve(a.target);
  if (!id) return id.error();
  auto current = shm_describe(*id);
  if (!current) return current.error();
  auto set = shm_set(*current, *request);
  if (!set) return set.error();
  auto info = shm_describe(*id);
  if (!info) return info.error();
  return changed(to_json(*info), "the change was made all the same");
}

Result<Outcome> shm_lock_command(const ShmStatArgs& a, bool lock,
                                 const Context&) {
  auto id = resolve(a.target);
  if (!id) return id.error();
  auto done = shm_lock(*id, lock);
  if (!done) return done.error();
  auto info = shm_stat(*id);
  if (!info) return info.error();
  return changed(to_json(*info), std::string("the segment was ") +
                                     (lock ? "locked" : "unlocked") +
                                     " all the same");
}

}  // namespace ipctk
