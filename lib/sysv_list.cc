#include "sysv_list.h"

#include <sys/ipc.h>
#include <sys/shm.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <string>

#include "io.h"

namespace ipctk {

namespace {

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <typename T>
bool to_number(std::string_view text, T* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

Error proc_error(std::string message) {
  return Error{"parse", EPROTO, "/proc/sysvipc/shm: " + std::move(message), "",
               kExitFailed};
}

enum Column { kKey, kShmid, kPerms, kSize, kCpid, kLpid, kNattch, kUid, kGid,
              kCuid, kCgid, kAtime, kDtime, kCtime, kColumnCount };
constexpr std::array<std::string_view, kColumnCount> kColumnNames = {
    "key", "shmid", "perms", "size", "cpid", "lpid", "nattch", "uid",
    "gid", "cuid", "cgid", "atime", "dtime", "ctime"};

}  // namespace

Result<std::vector<ShmInfo>> list_segments_by_shm_stat() {
  struct shm_info usage;
  int max = shmctl(0, SHM_INFO, reinterpret_cast<struct shmid_ds*>(&usage));
  if (max < 0) return sys_error("shmctl", errno, "SHM_INFO");
  std::vector<ShmInfo> out;
  for (int index = 0; index <= max; ++index) {
    struct shmid_ds ds;
    int id = shmctl(index, SHM_STAT, &ds);
    if (id < 0) continue;  // unused slot, or not readable by this caller
    auto info = shm_stat(id);
    if (info) out.push_back(*info);
  }
  return out;
}

Result<std::vector<ShmInfo>> parse_proc_shm(std::string_view text) {
  size_t eol = text.find('\n');
  auto header = split_ws(text.substr(0, eol));
  std::array<int, kColumnCount> where;
  where.fill(-1);
  for (size_t i = 0; i < header.size(); ++i)
    for (size_t c = 0; c < kColumnCount; ++c)
      if (header[i] == kColumnNames[c]) where[c] = static_cast<int>(i);
  for (size_t c = 0; c < kColumnCount; ++c)
    if (where[c] < 0)
      return proc_error("no '" + std::string(kColumnNames[c]) +
                        "' column in the header");

  std::vector<ShmInfo> out;
  size_t line_no = 1;
  while (eol != std::string_view::npos && eol + 1 < text.size()) {
    size_t start = eol + 1;
    eol = text.find('\n', start);
    std::string_view line = text.substr(start, eol == std::string_view::npos
                                                   ? std::string_view::npos
                                                   : eol - start);
    ++line_no;
    auto f = split_ws(line);
    if (f.empty()) continue;
    if (f.size() != header.size())
      return proc_error("line " + std::to_string(line_no) + " has " +
                        std::to_string(f.size()) + " fields, the header " +
                        std::to_string(header.size()));
    auto col = [&](Column c) { return f[static_cast<size_t>(where[c])]; };
    ShmInfo info;
    int32_t key = 0;
    unsigned perms = 0;
    bool ok = to_number(col(kKey), &key) && to_number(col(kShmid), &info.id);
    // perms is printed in octal ("%4o").
    {
      auto p = col(kPerms);
      auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), perms, 8);
      ok = ok && ec == std::errc() && ptr == p.data() + p.size();
    }
    ok = ok && to_number(col(kSize), &info.size) &&
         to_number(col(kCpid), &info.cpid) &&
         to_number(col(kLpid), &info.lpid) &&
         to_number(col(kNattch), &info.nattch) &&
         to_number(col(kUid), &info.uid) && to_number(col(kGid), &info.gid) &&
         to_number(col(kCuid), &info.cuid) &&
         to_number(col(kCgid), &info.cgid) &&
         to_number(col(kAtime), &info.atime) &&
         to_number(col(kDtime), &info.dtime) &&
         to_number(col(kCtime), &info.ctime);
    if (!ok)
      return proc_error("line " + std::to_string(line_no) +
                        " has a field that is not a number");
    info.key = key;
    info.mode = perms;
    out.push_back(info);
  }
  return out;
}

Result<std::vector<ShmInfo>> list_segments() {
  auto text = read_whole_file("/proc/sysvipc/shm");
  if (text) {
    auto parsed = parse_proc_shm(*text);
    if (parsed) return parsed;
  }
  return list_segments_by_shm_stat();
}

Result<ShmLimits> shm_limits() {
  struct shminfo lim;
  if (shmctl(0, IPC_INFO, reinterpret_cast<struct shmid_ds*>(&lim)) < 0)
    return sys_error("shmctl", errno, "IPC_INFO");
  struct shm_info usage;
  if (shmctl(0, SHM_INFO, reinterpret_cast<struct shmid_ds*>(&usage)) < 0)
    return sys_error("shmctl", errno, "SHM_INFO");
  ShmLimits out;
  out.shmmax = lim.shmmax;
  out.shmmin = lim.shmmin;
  out.shmmni = lim.shmmni;
  out.shmseg = lim.shmseg;
  out.shmall = lim.shmall;
  out.segments = static_cast<uint64_t>(usage.used_ids);
  out.pages_total = usage.shm_tot;
  out.pages_resident = usage.shm_rss;
  out.pages_swapped = usage.shm_swp;
  return out;
}

Json to_json(const ShmLimits& l) {
  Json limits;
  limits["shmmax"] = l.shmmax;
  limits["shmmin"] = l.shmmin;
  limits["shmmni"] = l.shmmni;
  limits["shmseg"] = l.shmseg;
  limits["shmall"] = l.shmall;
  Json usage;
  usage["segments"] = l.segments;
  usage["pages_total"] = l.pages_total;
  usage["pages_resident"] = l.pages_resident;
  usage["pages_swapped"] = l.pages_swapped;
  Json doc;
  doc["limits"] = std::move(limits);
  doc["usage"] = std::move(usage);
  doc["page_size"] = page_size();
  return doc;
}

}  // namespace ipctk
