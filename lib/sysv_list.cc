#include "sysv_list.h"

#include <sys/ipc.h>
#include <sys/sem.h>
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

/// The rows of a /proc/sysvipc table with the fields of `names` picked out
/// by the header's column names, so that kernels that add columns (rss and
/// swap in shm) still parse; a row that does not match the header is an
/// error, not a guess.
template <size_t N>
struct ProcTable {
  std::vector<std::array<std::string_view, N>> rows;
};

Error proc_error(std::string_view file, std::string message) {
  return Error{"parse", EPROTO,
               "/proc/sysvipc/" + std::string(file) + ": " + std::move(message),
               "", kExitFailed};
}

template <size_t N>
Result<ProcTable<N>> parse_proc_table(
    std::string_view text, std::string_view file,
    const std::array<std::string_view, N>& names) {
  size_t eol = text.find('\n');
  auto header = split_ws(text.substr(0, eol));
  std::array<size_t, N> where;
  for (size_t c = 0; c < N; ++c) {
    where[c] = header.size();
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == names[c]) where[c] = i;
    if (where[c] == header.size())
      return proc_error(file, "no '" + std::string(names[c]) +
                                  "' column in the header");
  }
  ProcTable<N> table;
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
      return proc_error(file, "line " + std::to_string(line_no) + " has " +
                                  std::to_string(f.size()) +
                                  " fields, the header " +
                                  std::to_string(header.size()));
    std::array<std::string_view, N> row;
    for (size_t c = 0; c < N; ++c) row[c] = f[where[c]];
    table.rows.push_back(row);
  }
  return table;
}

/// The perms column is printed in octal ("%4o").
bool to_octal(std::string_view text, unsigned* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, 8);
  return ec == std::errc() && ptr == text.data() + text.size();
}

enum ShmColumn { kKey, kShmid, kPerms, kSize, kCpid, kLpid, kNattch, kUid,
                 kGid, kCuid, kCgid, kAtime, kDtime, kCtime, kShmColumns };
constexpr std::array<std::string_view, kShmColumns> kShmColumnNames = {
    "key", "shmid", "perms", "size", "cpid", "lpid", "nattch", "uid",
    "gid", "cuid", "cgid", "atime", "dtime", "ctime"};

enum SemColumn { kSemKey, kSemid, kSemPerms, kNsems, kSemUid, kSemGid,
                 kSemCuid, kSemCgid, kOtime, kSemCtime, kSemColumns };
constexpr std::array<std::string_view, kSemColumns> kSemColumnNames = {
    "key", "semid", "perms", "nsems", "uid", "gid", "cuid", "cgid",
    "otime", "ctime"};

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
  auto table = parse_proc_table(text, "shm", kShmColumnNames);
  if (!table) return table.error();
  std::vector<ShmInfo> out;
  out.reserve(table->rows.size());
  for (size_t n = 0; n < table->rows.size(); ++n) {
    const auto& f = table->rows[n];
    ShmInfo info;
    int32_t key = 0;
    bool ok = to_number(f[kKey], &key) && to_number(f[kShmid], &info.id) &&
              to_octal(f[kPerms], &info.mode) &&
              to_number(f[kSize], &info.size) &&
              to_number(f[kCpid], &info.cpid) &&
              to_number(f[kLpid], &info.lpid) &&
              to_number(f[kNattch], &info.nattch) &&
              to_number(f[kUid], &info.uid) && to_number(f[kGid], &info.gid) &&
              to_number(f[kCuid], &info.cuid) &&
              to_number(f[kCgid], &info.cgid) &&
              to_number(f[kAtime], &info.atime) &&
              to_number(f[kDtime], &info.dtime) &&
              to_number(f[kCtime], &info.ctime);
    if (!ok)
      return proc_error("shm", "row " + std::to_string(n + 1) +
                                   " has a field that is not a number");
    info.key = key;
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

Result<std::vector<SemInfo>> parse_proc_sem(std::string_view text) {
  auto table = parse_proc_table(text, "sem", kSemColumnNames);
  if (!table) return table.error();
  std::vector<SemInfo> out;
  out.reserve(table->rows.size());
  for (size_t n = 0; n < table->rows.size(); ++n) {
    const auto& f = table->rows[n];
    SemInfo info;
    int32_t key = 0;
    bool ok = to_number(f[kSemKey], &key) && to_number(f[kSemid], &info.id) &&
              to_octal(f[kSemPerms], &info.mode) &&
              to_number(f[kNsems], &info.nsems) &&
              to_number(f[kSemUid], &info.uid) &&
              to_number(f[kSemGid], &info.gid) &&
              to_number(f[kSemCuid], &info.cuid) &&
              to_number(f[kSemCgid], &info.cgid) &&
              to_number(f[kOtime], &info.otime) &&
              to_number(f[kSemCtime], &info.ctime);
    if (!ok)
      return proc_error("sem", "row " + std::to_string(n + 1) +
                                   " has a field that is not a number");
    info.key = key;
    out.push_back(info);
  }
  return out;
}

namespace {

/// semctl's fourth argument for IPC_INFO/SEM_INFO/SEM_STAT.
union SemInfoArg {
  struct semid_ds* buf;
  struct seminfo* info;
};

}  // namespace

Result<std::vector<SemInfo>> list_sem_sets_by_sem_stat() {
  struct seminfo usage;
  SemInfoArg arg;
  arg.info = &usage;
  int max = semctl(0, 0, SEM_INFO, arg);
  if (max < 0) return sys_error("semctl", errno, "SEM_INFO");
  std::vector<SemInfo> out;
  for (int index = 0; index <= max; ++index) {
    struct semid_ds ds;
    arg.buf = &ds;
    int id = semctl(index, 0, SEM_STAT, arg);
    if (id < 0) continue;  // unused slot, or not readable by this caller
    auto info = sem_stat(id);
    if (info) out.push_back(*info);
  }
  return out;
}

Result<std::vector<SemInfo>> list_sem_sets() {
  auto text = read_whole_file("/proc/sysvipc/sem");
  if (text) {
    auto parsed = parse_proc_sem(*text);
    if (parsed) return parsed;
  }
  return list_sem_sets_by_sem_stat();
}

Result<SemLimits> sem_limits() {
  struct seminfo lim;
  SemInfoArg arg;
  arg.info = &lim;
  if (semctl(0, 0, IPC_INFO, arg) < 0)
    return sys_error("semctl", errno, "IPC_INFO");
  SemLimits out;
  out.semmsl = static_cast<uint64_t>(lim.semmsl);
  out.semmns = static_cast<uint64_t>(lim.semmns);
  out.semopm = static_cast<uint64_t>(lim.semopm);
  out.semmni = static_cast<uint64_t>(lim.semmni);
  out.semvmx = static_cast<uint64_t>(lim.semvmx);
  out.semaem = static_cast<uint64_t>(lim.semaem);
  struct seminfo usage;
  arg.info = &usage;
  if (semctl(0, 0, SEM_INFO, arg) < 0)
    return sys_error("semctl", errno, "SEM_INFO");
  out.sets = static_cast<uint64_t>(usage.semusz);
  out.semaphores = static_cast<uint64_t>(usage.semaem);
  return out;
}

Json to_json(const SemLimits& l) {
  Json limits;
  limits["semmsl"] = l.semmsl;
  limits["semmns"] = l.semmns;
  limits["semopm"] = l.semopm;
  limits["semmni"] = l.semmni;
  limits["semvmx"] = l.semvmx;
  limits["semaem"] = l.semaem;
  Json usage;
  usage["sets"] = l.sets;
  usage["semaphores"] = l.semaphores;
  Json doc;
  doc["limits"] = std::move(limits);
  doc["usage"] = std::move(usage);
  return doc;
}

namespace {

template <typename Info>
Result<Info> describe(int id, Result<Info> stat,
                      Result<std::vector<Info>> (*parse)(std::string_view),
                      const char* file) {
  if (stat || stat.error().err != EACCES) return stat;
  auto text = read_whole_file(file);
  if (!text) return stat;
  auto rows = parse(*text);
  if (!rows) return stat;
  for (const Info& row : *rows)
    if (row.id == id) return row;
  return stat;
}

}  // namespace

Result<ShmInfo> shm_describe(int id) {
  return describe(id, shm_stat(id), parse_proc_shm, "/proc/sysvipc/shm");
}

Result<SemInfo> sem_describe(int id) {
  return describe(id, sem_stat(id), parse_proc_sem, "/proc/sysvipc/sem");
}

}  // namespace ipctk

namespace ipctk {

namespace {

std::string n(uint64_t v) { return std::to_string(v); }

std::string plural(uint64_t v, const char* one, const char* many) {
  return n(v) + " " + (v == 1 ? one : many);
}

}  // namespace

std::optional<LimitHit> shm_limit_hit(const ShmLimits& l, int err,
                                      uint64_t size, uint64_t page_size) {
  const std::string info = "'sysv-shm info' shows it (";
  if (err == EINVAL) {
    if (size > l.shmmax)
      return LimitHit{"shmmax",
                      "--size " + n(size) +
                          " is above the kernel's shmmax limit of " +
                          plural(l.shmmax, "byte", "bytes") + " per segment",
                      info + "limits.shmmax); ask for less, or raise "
                             "kernel.shmmax (sysctl)"};
    if (size < l.shmmin)
      return LimitHit{"shmmin",
                      "--size " + n(size) +
                          " is below the kernel's shmmin limit of " +
                          plural(l.shmmin, "byte", "bytes"),
                      info + "limits.shmmin)"};
    return std::nullopt;
  }
  if (err != ENOSPC) return std::nullopt;
  uint64_t unit = page_size == 0 ? 1 : page_size;
  uint64_t pages = size / unit + (size % unit != 0);
  if (l.pages_total + pages > l.shmall || l.pages_total + pages < pages)
    return LimitHit{
        "shmall",
        "the kernel's shmall limit of " + plural(l.shmall, "page", "pages") +
            " (" + n(unit) + " bytes each) for all segments together would "
            "be passed: " + n(l.pages_total) + " in use, and this segment "
            "needs " + n(pages),
        info + "limits.shmall and usage.pages_total, in pages of page_size "
               "bytes); remove segments ('sysv-shm rm'), or raise "
               "kernel.shmall (sysctl)"};
  if (l.segments >= l.shmmni)
    return LimitHit{
        "shmmni",
        "the kernel's shmmni limit of " + plural(l.shmmni, "segment", "segments") +
            " is reached: " + n(l.segments) + " exist",
        info + "limits.shmmni and usage.segments); remove segments "
               "('sysv-shm rm'), or raise kernel.shmmni (sysctl)"};
  return LimitHit{
      "shmmni or shmall",
      "the kernel's shmmni limit (" + n(l.shmmni) + " segments, " +
          n(l.segments) + " exist now) or shmall limit (" + n(l.shmall) +
          " pages, " + n(l.pages_total) + " in use now) was reached",
      info + "limits.shmmni, limits.shmall and usage); remove segments "
             "('sysv-shm rm'), or raise kernel.shmmni or kernel.shmall"};
}

std::optional<LimitHit> sem_limit_hit(const SemLimits& l, int err,
                                      uint64_t nsems) {
  const std::string info = "'sysv-sem info' shows it (";
  if (err == EINVAL) {
    if (nsems > l.semmsl)
      return LimitHit{"semmsl",
                      "--nsems " + n(nsems) +
                          " is above the kernel's semmsl limit of " +
                          plural(l.semmsl, "semaphore", "semaphores") +
                          " per set",
                      info + "limits.semmsl); ask for fewer, or raise semmsl, "
                             "the 1st field of kernel.sem (sysctl)"};
    return std::nullopt;
  }
  if (err != ENOSPC) return std::nullopt;
  if (l.semaphores + nsems > l.semmns)
    return LimitHit{
        "semmns",
        "the kernel's semmns limit of " +
            plural(l.semmns, "semaphore", "semaphores") +
            " in all sets together would be passed: " + n(l.semaphores) +
            " in use, and this set needs " + n(nsems),
        info + "limits.semmns and usage.semaphores); remove sets "
               "('sysv-sem rm'), or raise semmns, the 2nd field of "
               "kernel.sem (sysctl)"};
  if (l.sets >= l.semmni)
    return LimitHit{
        "semmni",
        "the kernel's semmni limit of " + plural(l.semmni, "set", "sets") +
            " is reached: " + n(l.sets) + " exist",
        info + "limits.semmni and usage.sets); remove sets ('sysv-sem rm'), "
               "or raise semmni, the 4th field of kernel.sem (sysctl)"};
  return LimitHit{
      "semmni or semmns",
      "the kernel's semmni limit (" + n(l.semmni) + " sets, " + n(l.sets) +
          " exist now) or semmns limit (" + n(l.semmns) + " semaphores, " +
          n(l.semaphores) + " in use now) was reached",
      info + "limits.semmni, limits.semmns and usage); remove sets "
             "('sysv-sem rm'), or raise them in kernel.sem (sysctl)"};
}

}  // namespace ipctk
