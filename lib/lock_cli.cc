#include "lock_cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#include "io.h"
#include "lock_manager.h"
#include "lock_segment.h"
#include "names.h"
#include "parse.h"
#include "podman_cli.h"
#include "process.h"
#include "table.h"

namespace ipctk {

namespace {

Outcome document(Json doc) { return Outcome{std::move(doc), kExitOk}; }

/// A document for a change that stays made if it cannot be printed: the
/// error's hint then says so.
Outcome changed(Json doc, std::string done) {
  Outcome out{std::move(doc), kExitOk};
  out.done = std::move(done);
  return out;
}

/// The segment a command names: --path, or the default (which the first
/// use of any command creates, race-free, with the default lock count).
Result<LockSegment> open_segment(const LockSegmentArgs& a) {
  bool given = !a.path.empty();
  auto path = parse_segment_path(given ? a.path : default_segment_path());
  if (!path) return path.error();
  if (given) {
    LockSegment::OpenOptions options;
    options.any_owner = a.any_owner;
    return LockSegment::open(*path, options);
  }
  LockSegment::CreateOptions options;
  options.exist_ok = true;
  options.exact_locks = false;  // an existing default is used as it is
  options.any_owner = a.any_owner;
  return LockSegment::create(*path, options, nullptr);
}

/// The segment on the heap, for an undo that outlives the command's frame.
Result<std::shared_ptr<LockSegment>> open_shared(const LockSegmentArgs& a) {
  auto seg = open_segment(a);
  if (!seg) return seg.error();
  return std::make_shared<LockSegment>(std::move(*seg));
}

Result<uint64_t> parse_lock_id(const std::string& text) {
  return parse_uint(text, "ID", kMaxLocks - 1);
}

struct Totals {
  uint64_t allocated = 0, held = 0, stale = 0;
};

Totals count(const LockManager& m) {
  Totals t;
  for (uint64_t id = 0; id < m.lock_count(); ++id) {
    LockState s = m.quick_state(id);
    t.allocated += s.allocated;
    t.held += s.locked;
    if (s.owner && s.locked && !owner_alive(*s.owner)) ++t.stale;
  }
  return t;
}

Json segment_json(const LockSegment& seg, const Totals& t) {
  const SegmentHeader* h = seg.header();
  Json j;
  j["path"] = seg.path().name;
  j["backend"] = seg.path().backend();
  j["version"] = h->version;
  j["locks"] = h->lock_count;
  j["size"] = seg.size();
  j["allocated"] = t.allocated;
  j["free"] = h->lock_count - t.allocated;
  j["held"] = t.held;
  j["stale"] = t.stale;
  return j;
}

/// A buffer written out in large pieces: status of a million locks is one
/// streamed document, not a tree built in memory. Entries are formatted
/// straight into it (room() and commit()), with no std::string per entry.
class StreamOut {
 public:
  /// What room() always has free: more than the longest entry and its
  /// separator.
  static constexpr size_t kRoom = 512;

  StreamOut() : buf_(kFlushAt + kRoom, '\0') {}

  Status add(std::string_view text) {
    if (used_ + text.size() > buf_.size()) {
      if (auto f = flush(); !f) return f;
      if (text.size() > buf_.size())
        return write_all(1, text.data(), text.size(), "stdout");
    }
    std::memcpy(buf_.data() + used_, text.data(), text.size());
    return commit(buf_.data() + used_ + text.size());
  }
  /// Where the next bytes go; kRoom of them at least.
  char* room() { return buf_.data() + used_; }
  /// The bytes up to `end` (from room()) are part of the output now.
  Status commit(char* end) {
    used_ = static_cast<size_t>(end - buf_.data());
    if (used_ >= kFlushAt) return flush();
    return Ok{};
  }
  Status flush() {
    auto w = write_all(1, buf_.data(), used_, "stdout");
    used_ = 0;
    return w;
  }

 private:
  static constexpr size_t kFlushAt = size_t{1} << 20;
  std::string buf_;
  size_t used_ = 0;
};

void append_number(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

/// Copies a literal: its length is known when compiling, no strlen.
template <size_t N>
char* put(char* p, const char (&literal)[N]) {
  std::memcpy(p, literal, N - 1);
  return p + N - 1;
}

char* put_number(char* p, int64_t v) {
  return std::to_chars(p, p + 20, v).ptr;  // 20 digits hold any int64_t
}

/// One status entry, formatted by hand (numbers and booleans only) at `p`,
/// which has room for it (at most 156 bytes); returns its end. A million
/// of them in well under a second: the literals are copied with lengths
/// known when compiling (appending them as C strings, a strlen and an
/// append each, cost ~1,100 instructions an entry).
char* put_state(char* p, const LockState& s) {
  p = put(p, "{\"id\":");
  p = put_number(p, static_cast<int64_t>(s.id));
  p = s.allocated ? put(p, ",\"allocated\":true") : put(p, ",\"allocated\":false");
  p = s.locked ? put(p, ",\"locked\":true") : put(p, ",\"locked\":false");
  if (s.owner) {
    p = put(p, ",\"owner_pid\":");
    p = put_number(p, s.owner->pid);
    p = s.owner_alive ? put(p, ",\"owner_alive\":true") : put(p, ",\"owner_alive\":false");
  } else {
    p = put(p, ",\"owner_pid\":null,\"owner_alive\":null");
  }
  p = s.stale ? put(p, ",\"stale\":true") : put(p, ",\"stale\":false");
  if (s.owner) {
    p = put(p, ",\"since\":");
    p = put_number(p, s.since_ns / 1000000000);
    p = put(p, "}");
  } else {
    p = put(p, ",\"since\":null}");
  }
  return p;
}

/// The lines of `status --table`. The widths are fixed before the first
/// line, from the lock count: a million locks are streamed, not measured.
class StatusTable {
 public:
  explicit StatusTable(uint64_t lock_count)
      : id_width_(std::max<size_t>(2, std::to_string(lock_count - 1).size())) {}

  std::string heading() const {
    return line("ID", "ALLOCATED", "STATE", "OWNER", "SINCE");
  }

  /// Held locks say "held", and those whose owner is gone "STALE", so
  /// that they stand out in a column of "free".
  std::string row(const LockState& s) const {
    std::string owner = "-";
    if (s.owner)
      owner = s.owner_alive ? cell(process_label(s.owner->pid, std::nullopt))
                            : std::to_string(s.owner->pid) + " (gone)";
    return line(std::to_string(s.id), s.allocated ? "yes" : "no",
                s.stale ? "STALE" : s.locked ? "held" : "free", owner,
                s.owner ? local_time(s.since_ns / 1000000000) : "-");
  }

 private:
  // "command-name (pid)": 15 bytes of comm, a 7-digit pid.
  static constexpr size_t kOwnerWidth = 25;

  std::string line(std::string_view id, std::string_view allocated,
                   std::string_view state, std::string_view owner,
                   std::string_view since) const {
    std::string l = pad(id, id_width_, Table::Align::kRight);
    l += "  " + pad(allocated, 9, Table::Align::kLeft);
    l += "  " + pad(state, 5, Table::Align::kLeft);
    l += "  " + pad(owner, kOwnerWidth, Table::Align::kLeft);
    l += "  ";
    l += since;
    l += '\n';
    return l;
  }

  size_t id_width_;
};

/// Whether the object at `path` is a (possibly broken) lock segment: a
/// regular file or shm object whose first bytes are the magic, or zeros.
Status looks_like_segment(const SegmentPath& path) {
  std::string file = path.placement == Placement::kShm ? "/dev/shm" + path.name
                                                       : path.name;
  int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return sys_error("open", errno, file);
  struct stat st;
  char head[sizeof kSegmentMagic] = {};
  bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ssize_t n = regular ? pread(fd, head, sizeof head, 0) : -1;
  ::close(fd);
  bool zeros = true;
  for (char c : head) zeros = zeros && c == 0;
  if (regular && n >= 0 &&
      (zeros || std::memcmp(head, kSegmentMagic, sizeof head) == 0))
    return Ok{};
  return Error{"destroy", EPROTO,
               file + " is not a shmctl-lock segment",
               "nothing was removed: remove it yourself if it is not needed",
               kExitFailed};
}

}  // namespace

Result<Outcome> lock_init_command(const LockInitArgs& a, const Context&) {
  auto path = parse_segment_path(a.path.empty() ? default_segment_path() : a.path);
  if (!path) return path.error();
  auto mode = parse_mode(a.mode);
  if (!mode) return mode.error();
  LockSegment::CreateOptions options;
  options.mode = *mode;
  options.exist_ok = a.exist_ok;
  options.exact_locks = !a.locks.empty();
  options.any_owner = a.any_owner;
  if (!a.locks.empty()) {
    auto n = parse_uint(a.locks, "--locks", kMaxLocks);
    if (!n) return n.error();
    options.locks = *n;
  }
  bool created = false;
  auto seg = LockSegment::create(*path, options, &created);
  if (!seg) return seg.error();
  LockManager m(*seg);
  Json doc = segment_json(*seg, count(m));
  doc["created"] = created;
  Outcome out = document(std::move(doc));
  // A segment this call made is removed again if its document is lost: the
  // caller is told init failed. One that --exist-ok opened is left alone.
  if (created) {
    SegmentPath made = *path;
    out.undo = [made]() -> std::string {
      auto rm = LockSegment::remove(made);
      if (!rm)
        return made.name + ", which this call created, could not be removed "
                           "again: " + rm.error().message;
      return made.name + ", which this call created, was removed again";
    };
  }
  return out;
}

Result<Outcome> lock_info_command(const LockPathArgs& a, const Context& ctx) {
  if (a.podman) return podman_info_command(a, ctx);
  auto seg = open_segment(a);
  if (!seg) return seg.error();
  LockManager m(*seg);
  return document(segment_json(*seg, count(m)));
}

Result<Outcome> lock_destroy_command(const LockDestroyArgs& a, const Context&) {
  auto path = parse_segment_path(a.path.empty() ? default_segment_path() : a.path);
  if (!path) return path.error();
  LockSegment::OpenOptions how;
  how.any_owner = a.any_owner;
  auto seg = LockSegment::open(*path, how);
  if (!seg) {
    // A segment that is not valid can still be removed, with --force, but
    // only if it is one: ours by its magic, or an empty start left by a
    // creator that died. Anything else at the path is not ours to delete.
    if (!a.force || seg.error().err != EPROTO) return seg.error();
    auto ours = looks_like_segment(*path);
    if (!ours) return ours.error();
    auto removed = LockSegment::remove(*path);
    if (!removed) return removed.error();
    Json doc;
    doc["path"] = path->name;
    doc["backend"] = path->backend();
    doc["destroyed"] = true;
    doc["held"] = nullptr;
    return changed(std::move(doc), "it was removed all the same");
  }
  LockManager m(*seg);
  Totals t = count(m);
  if (t.held > 0 && !a.force)
    return Error{"destroy", EBUSY,
                 path->name + " has " + std::to_string(t.held) +
                     " held lock(s)",
                 "'shmctl-lock status --held' shows them; --force destroys "
                 "it anyway",
                 kExitFailed};
  auto removed = LockSegment::remove(*path);
  if (!removed) return removed.error();
  Json doc;
  doc["path"] = path->name;
  doc["backend"] = path->backend();
  doc["destroyed"] = true;
  doc["held"] = t.held;
  return changed(std::move(doc), "it was removed all the same");
}

Result<Outcome> lock_alloc_command(const LockAllocArgs& a, const Context&) {
  std::optional<uint64_t> want;
  if (!a.id.empty()) {
    auto id = parse_lock_id(a.id);
    if (!id) return id.error();
    want = *id;
  }
  auto seg = open_shared(a);
  if (!seg) return seg.error();
  LockManager m(**seg);
  uint64_t id = 0;
  if (want) {
    auto made = m.allocate(*want);
    if (!made) return made.error();
    id = *want;
  } else {
    auto made = m.allocate();
    if (!made) return made.error();
    id = *made;
  }
  auto n = m.allocated_count();
  if (!n) return n.error();
  Json doc;
  doc["id"] = id;
  doc["allocated"] = *n;
  doc["free"] = (*seg)->lock_count() - *n;
  Outcome out = document(std::move(doc));
  // The caller would never learn which lock it was given: it is freed.
  std::shared_ptr<LockSegment> held = *seg;
  out.undo = [held, id]() -> std::string {
    auto freed = LockManager(*held).free(id);
    if (!freed)
      return "lock " + std::to_string(id) + ", allocated by this call, "
             "could not be freed again: " + freed.error().message;
    return "lock " + std::to_string(id) +
           ", allocated by this call, was freed again";
  };
  return out;
}

Result<Outcome> lock_free_command(const LockFreeArgs& a, const Context&) {
  if (a.all && !a.ids.empty())
    return usage_error("give IDs or --all, not both");
  if (!a.all && a.ids.empty())
    return usage_error("nothing to free", "give IDs, or --all --yes");
  if (a.all && !a.yes)
    return usage_error("--all frees every lock of the segment",
                       "add --yes to confirm");
  std::vector<uint64_t> ids;
  for (const auto& text : a.ids) {
    auto id = parse_lock_id(text);
    if (!id) return id.error();
    ids.push_back(*id);
  }
  auto seg = open_segment(a);
  if (!seg) return seg.error();
  LockManager m(*seg);
  Json doc;
  if (a.all) {
    auto n = m.free_all();
    if (!n) return n.error();
    doc["count"] = *n;
    doc["all"] = true;
    return changed(std::move(doc), "the locks were freed all the same");
  }
  // Every id is checked first, so that a bad one frees nothing.
  for (size_t i = 0; i < ids.size(); ++i) {
    auto s = m.state(ids[i], "free");
    if (!s) return s.error();
    for (size_t j = 0; j < i; ++j)
      if (ids[j] == ids[i])
        return usage_error("ID " + std::to_string(ids[i]) + " is given twice");
    if (!s->allocated)
      return Error{"free", ENOENT,
                   "lock " + std::to_string(ids[i]) + " is not allocated",
                   "nothing was freed", kExitFailed};
  }
  Json freed = Json::array();
  for (uint64_t id : ids) {
    auto f = m.free(id);
    if (!f) return f.error();
    freed.push_back(id);
  }
  doc["count"] = ids.size();
  doc["freed"] = std::move(freed);
  return changed(std::move(doc), "the locks were freed all the same");
}

Result<Outcome> lock_lock_command(const LockLockArgs& a, const Context& ctx) {
  auto id = parse_lock_id(a.id);
  if (!id) return id.error();
  LockWait wait;
  wait.nowait = a.nowait;
  wait.steal_stale = a.steal_stale;
  if (!a.timeout.empty()) {
    auto s = parse_seconds(a.timeout, "--timeout");
    if (!s) return s.error();
    wait.timeout = *s;
  }
  std::optional<int> conflict;
  if (!a.conflict_exit_code.empty()) {
    auto c = parse_uint(a.conflict_exit_code, "--conflict-exit-code", 255);
    if (!c) return c.error();
    if (*c == 0)
      return usage_error("--conflict-exit-code: 0 would make a conflict "
                         "look like success",
                         "use 1..255 (the default is 3)");
    conflict = static_cast<int>(*c);
  }
  bool with_command = !ctx.command.empty();
  if (with_command && !a.owner_pid.empty())
    return usage_error("--owner-pid and -- COMMAND do not go together",
                       "with a command the lock is this tool's while the "
                       "command runs");
  // The owner: the process the lock belongs to after this tool exits.
  Owner owner;
  if (with_command) {
    // This process becomes the command (exec): the lock is its, and is
    // free the moment it ends, however it ends.
    // Looked up, not self_owner(): without a start time the lock would
    // look free the moment it is taken.
    auto self = owner_of(getpid());
    if (!self) return self.error();
    owner = *self;
    owner.until_exit = true;
  } else {
    pid_t pid = getppid();
    if (!a.owner_pid.empty()) {
      auto p = parse_uint(a.owner_pid, "--owner-pid", INT_MAX);
      if (!p) return p.error();
      if (*p == 0) return usage_error("--owner-pid: 0 is not a process");
      pid = static_cast<pid_t>(*p);
    }
    auto o = owner_of(pid);
    if (!o) return o.error();
    owner = *o;
  }
  Command command;
  if (with_command) {
    auto found = find_command(ctx.command);
    if (!found) return found.error();
    command = std::move(*found);
  }
  auto seg = open_shared(a);
  if (!seg) return seg.error();
  LockManager m(**seg);
  bool stole = false;
  {
    InterruptCatcher interrupts;
    wait.interrupts = &interrupts;
    auto locked = m.lock(*id, owner, wait, &stole);
    if (!locked) {
      Error e = locked.error();
      if (e.exit_status == kExitWouldBlock && conflict)
        e.exit_status = static_cast<ExitStatus>(*conflict);
      return e;
    }
    // A signal as the wait ended: this tool was asked to stop, so the lock
    // goes back rather than being kept or handed to a command.
    if (int late = interrupts.caught(); late != 0) {
      (void)m.release(*id, owner);
      return Error{"sem_wait", EINTR,
                   signal_name(late) + " arrived as lock " +
                       std::to_string(*id) + " was taken; it was released",
                   "", static_cast<ExitStatus>(kExitSignalBase + late)};
    }
  }
  Json doc;
  doc["id"] = *id;
  doc["path"] = (*seg)->path().name;
  doc["owner_pid"] = owner.pid;
  doc["stolen"] = stole;
  doc["since"] = m.held_since_ns(*id) / 1000000000;
  doc["until"] = with_command ? "command" : "unlock";
  if (!with_command) {
    Outcome out = document(std::move(doc));
    // A caller told "lock failed" would never unlock: it is given back.
    std::shared_ptr<LockSegment> held = *seg;
    uint64_t lock_id = *id;
    out.undo = [held, lock_id, owner]() -> std::string {
      auto back = LockManager(*held).release(lock_id, owner);
      if (!back)
        return "lock " + std::to_string(lock_id) +
               " was taken and could not be released again: " +
               back.error().message;
      return "lock " + std::to_string(lock_id) +
             " was taken and released again";
    };
    return out;
  }

  auto printed = print_document(doc, ctx.pretty);
  if (!printed) {
    auto back = m.release(*id, owner);
    Error e = printed.error();
    e.hint = "lock " + std::to_string(*id) + " was taken and " +
             (back ? "released again" : "could not be released again: " +
                                            back.error().message) +
             "; the command was not run";
    return e;
  }
  // exec, not fork: the command is the owner recorded, so the lock is held
  // exactly as long as it runs (a SIGKILL included), signals reach it
  // directly, and its exit status is the caller's to see. Returns only if
  // exec failed.
  Error failed = exec_command(command);
  (void)m.release(*id, owner);
  return failed;
}

Result<Outcome> lock_unlock_command(const LockUnlockArgs& a, const Context&) {
  auto id = parse_lock_id(a.id);
  if (!id) return id.error();
  auto seg = open_segment(a);
  if (!seg) return seg.error();
  LockManager m(*seg);
  auto before = m.state(*id, "unlock");
  if (!before) return before.error();
  if (!before->locked)
    return Error{"unlock", EBUSY, "lock " + std::to_string(*id) + " is not locked",
                 "", kExitFailed};
  if (before->owner && !a.force) {
    pid_t pid = before->owner->pid;
    bool mine = pid == getpid() || pid == getppid();
    if (!before->owner_alive)
      return Error{"unlock", EPERM,
                   "lock " + std::to_string(*id) + " is stale: its owner pid " +
                       std::to_string(pid) + " is gone",
                   "--force releases it; 'lock --steal-stale' takes it over",
                   kExitFailed};
    if (!mine) {
      std::string name = process_name(pid);
      return Error{"unlock", EPERM,
                   "lock " + std::to_string(*id) + " belongs to pid " +
                       std::to_string(pid) +
                       (name.empty() ? "" : " (" + name + ")") +
                       ", which is alive and is neither this process nor its "
                       "parent",
                   "--force releases it anyway", kExitFailed};
    }
  }
  // The owner looked at above, and only that one: a lock released and
  // taken by another meanwhile is the new holder's.
  auto done = m.release(*id, *before->owner);
  if (!done) return done.error();
  Json doc;
  doc["id"] = *id;
  doc["path"] = seg->path().name;
  doc["owner_pid"] = before->owner ? Json(before->owner->pid) : Json(nullptr);
  doc["was_stale"] = before->stale;
  doc["forced"] = a.force;
  return changed(std::move(doc), "the lock was released all the same");
}

namespace {

/// Whether `status` shows a lock in this state (--held, --stale,
/// --allocated).
bool status_shows(const LockStatusArgs& a, const LockState& s) {
  return !((a.held && !s.locked) || (a.stale && !s.stale) ||
           (a.allocated && !s.allocated));
}

/// The state of lock `id` as status reports it: with its owner's liveness.
LockState status_state(const LockManager& m, uint64_t id) {
  LockState s = m.quick_state(id);
  if (s.owner && s.locked) {
    s.owner_alive = owner_alive(*s.owner);
    s.stale = !s.owner_alive;
  }
  return s;
}

/// `status --table`: the lines of the locks shown, then (with headings) a
/// line of totals, as the JSON's "totals" has them.
Result<Outcome> status_table(const LockSegment& seg, const LockManager& m,
                             const std::vector<uint64_t>* ids,
                             const LockStatusArgs& a, const TableOptions& o) {
  StatusTable table(m.lock_count());
  StreamOut out;
  if (o.headings)
    if (auto w = out.add(table.heading()); !w) return w.error();
  Totals t;
  uint64_t shown = 0;
  uint64_t n = ids ? ids->size() : m.lock_count();
  for (uint64_t i = 0; i < n; ++i) {
    LockState s = status_state(m, ids ? (*ids)[i] : i);
    t.allocated += s.allocated;
    t.held += s.locked;
    t.stale += s.stale;
    if (!status_shows(a, s)) continue;
    ++shown;
    if (auto w = out.add(table.row(s)); !w) return w.error();
  }
  if (o.headings) {
    std::string totals = "\n" + std::to_string(shown) + " shown; " +
                         std::to_string(t.allocated) + " allocated, " +
                         std::to_string(t.held) + " held, " +
                         std::to_string(t.stale) + " stale of " +
                         std::to_string(n) + (ids ? " given" : " locks") +
                         " in " + cell(seg.path().name) + " (" +
                         seg.path().backend() + ")\n";
    if (auto w = out.add(totals); !w) return w.error();
  }
  if (auto w = out.flush(); !w) return w.error();
  return Outcome{std::nullopt, kExitOk};
}

}  // namespace

Result<Outcome> lock_status_command(const LockStatusArgs& a,
                                    const Context& ctx) {
  if (a.podman) return podman_status_command(a, ctx);
  std::vector<uint64_t> ids;
  for (const auto& text : a.ids) {
    auto id = parse_lock_id(text);
    if (!id) return id.error();
    for (uint64_t seen : ids)
      if (seen == *id)
        return usage_error("ID " + std::to_string(*id) + " is given twice");
    ids.push_back(*id);
  }
  auto seg = open_segment(a);
  if (!seg) return seg.error();
  LockManager m(*seg);
  for (uint64_t id : ids)
    if (id >= m.lock_count()) {
      auto s = m.state(id, "status");
      return s.error();
    }
  bool all = ids.empty();
  uint64_t n = all ? m.lock_count() : ids.size();
  if (ctx.table) return status_table(*seg, m, all ? nullptr : &ids, a, *ctx.table);
  Json head;
  head["path"] = seg->path().name;
  head["backend"] = seg->path().backend();
  head["locks"] = m.lock_count();
  // Indented (--pretty, a terminal) as one entry a line: the streamed
  // entries are not built as a tree to be indented.
  const char* sep = ctx.pretty ? ",\n    " : ",";
  std::string text = ctx.pretty ? head.dump(2) : head.dump();
  text.resize(text.rfind('}'));  // the array and totals follow
  while (!text.empty() && text.back() == '\n') text.pop_back();
  text += ctx.pretty ? ",\n  \"status\": [\n    " : ",\"status\":[";
  StreamOut out;
  if (auto s = out.add(text); !s) return s.error();
  Totals t;
  uint64_t shown = 0;
  const size_t sep_len = std::strlen(sep);
  std::string entry;
  for (uint64_t i = 0; i < n; ++i) {
    LockState s = status_state(m, all ? i : ids[i]);
    t.allocated += s.allocated;
    t.held += s.locked;
    t.stale += s.stale;
    if (!status_shows(a, s)) continue;
    char* p = out.room();
    if (shown++ > 0) {
      std::memcpy(p, sep, sep_len);
      p += sep_len;
    }
    if (auto w = out.commit(put_state(p, s)); !w) return w.error();
  }
  entry = ctx.pretty ? "\n  ],\n  \"totals\": {\"shown\":" : "],\"totals\":{\"shown\":";
  append_number(entry, static_cast<int64_t>(shown));
  entry += ",\"allocated\":";
  append_number(entry, static_cast<int64_t>(t.allocated));
  entry += ",\"held\":";
  append_number(entry, static_cast<int64_t>(t.held));
  entry += ",\"stale\":";
  append_number(entry, static_cast<int64_t>(t.stale));
  entry += ctx.pretty ? "}\n}\n" : "}}\n";
  if (auto w = out.add(entry); !w) return w.error();
  if (auto w = out.flush(); !w) return w.error();
  return Outcome{std::nullopt, kExitOk};
}

}  // namespace ipctk
