#include "proc_users.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "process.h"
#include "sem_set.h"

namespace ipctk {

namespace {

/// The numeric entries of a /proc directory (pids, or a process's tids).
std::vector<pid_t> numeric_entries(const std::string& dir) {
  std::vector<pid_t> ids;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return ids;
  while (struct dirent* e = readdir(d)) {
    pid_t id = 0;
    const char* end = e->d_name + std::strlen(e->d_name);
    auto [p, ec] = std::from_chars(e->d_name, end, id);
    if (ec == std::errc() && p == end && id > 0) ids.push_back(id);
  }
  closedir(d);
  return ids;
}

enum class Read { kOk, kGone, kDenied };

/// A /proc file's whole text. A process that ended meanwhile is "gone",
/// one the caller may not look into "denied".
Read read_proc(const std::string& path, std::string& text) {
  text.clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == EACCES || errno == EPERM ? Read::kDenied : Read::kGone;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return err == EACCES || err == EPERM ? Read::kDenied : Read::kGone;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return Read::kOk;
}

std::string_view next_field(std::string_view& line) {
  size_t start = line.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    line = {};
    return {};
  }
  line.remove_prefix(start);
  size_t end = line.find(' ');
  std::string_view field = line.substr(0, end);
  line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  return field;
}

/// Ids are per IPC namespace: a process in another one (a container)
/// with "the same" id uses another object. The namespace's link text
/// ("ipc:[4026531839]") tells them apart.
class SameNamespace {
 public:
  SameNamespace() : own_(link("/proc/self/ns/ipc", nullptr)) {}

  /// kOk: pid is in ours (or namespaces cannot be told apart here);
  /// kGone: it is in another, or has gone; kDenied: it may not be looked at.
  Read check(pid_t pid) const {
    if (own_.empty()) return Read::kOk;
    Read r = Read::kOk;
    std::string theirs = link("/proc/" + std::to_string(pid) + "/ns/ipc", &r);
    if (r != Read::kOk) return r;
    return theirs == own_ ? Read::kOk : Read::kGone;
  }

 private:
  static std::string link(const std::string& path, Read* result) {
    char buf[64];
    ssize_t n = readlink(path.c_str(), buf, sizeof buf);
    if (n < 0 && result != nullptr)
      *result = errno == EACCES || errno == EPERM ? Read::kDenied : Read::kGone;
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

  std::string own_;
};

/// The operations a waiter passed to semop: `count` struct sembuf at
/// `address` in its memory.
std::optional<std::vector<SemOpSpec>> read_operations(pid_t pid, uint64_t address,
                                                      uint64_t count) {
  if (count == 0 || count > 4096) return std::nullopt;
  int fd = open(("/proc/" + std::to_string(pid) + "/mem").c_str(),
                O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::vector<struct sembuf> ops(count);
  size_t want = count * sizeof(struct sembuf);
  ssize_t n = pread(fd, ops.data(), want, static_cast<off_t>(address));
  close(fd);
  if (n != static_cast<ssize_t>(want)) return std::nullopt;
  std::vector<SemOpSpec> out;
  for (const struct sembuf& op : ops) {
    SemOpSpec s;
    s.num = op.sem_num;
    s.delta = op.sem_op;
    s.undo = (op.sem_flg & SEM_UNDO) != 0;
    s.nowait = (op.sem_flg & IPC_NOWAIT) != 0;
    out.push_back(s);
  }
  return out;
}

bool is_semop(long nr) {
#ifdef SYS_semop
  if (nr == SYS_semop) return true;
#endif
#ifdef SYS_semtimedop
  if (nr == SYS_semtimedop) return true;
#endif
  (void)nr;
  return false;
}

}  // namespace

Json to_json(const ProcessUses& uses, bool waiters) {
  Json list = Json::array();
  for (const ProcessUse& p : uses.processes) {
    Json j;
    j["pid"] = p.pid;
    if (waiters) j["tid"] = p.tid;
    j["command"] = p.command;
    if (waiters) {
      Json ops = nullptr;
      if (p.operations) {
        ops = Json::array();
        for (const SemOpSpec& op : *p.operations) ops.push_back(to_json(op));
      }
      j["operations"] = std::move(ops);
    }
    list.push_back(std::move(j));
  }
  return list;
}

bool maps_segment(std::string_view maps, int shmid) {
  while (!maps.empty()) {
    size_t end = maps.find('\n');
    std::string_view line = maps.substr(0, end);
    maps.remove_prefix(end == std::string_view::npos ? maps.size() : end + 1);
    // address perms offset dev inode path
    for (int i = 0; i < 4; ++i) next_field(line);
    std::string_view inode = next_field(line);
    std::string_view path = next_field(line);
    long long value = -1;
    auto [p, ec] = std::from_chars(inode.data(), inode.data() + inode.size(), value);
    if (ec == std::errc() && p == inode.data() + inode.size() && value == shmid &&
        path.substr(0, 5) == "/SYSV")
      return true;
  }
  return false;
}

ProcessUses segment_users(int shmid) {
  ProcessUses uses;
  std::string text;
  SameNamespace ours;
  for (pid_t pid : numeric_entries("/proc")) {
    Read r = ours.check(pid);
    if (r == Read::kOk)
      r = read_proc("/proc/" + std::to_string(pid) + "/maps", text);
    if (r == Read::kDenied) ++uses.unreadable;
    if (r != Read::kOk || !maps_segment(text, shmid)) continue;
    uses.processes.push_back({pid, 0, process_name(pid), std::nullopt});
  }
  return uses;
}

std::optional<SyscallState> parse_syscall(std::string_view text) {
  std::string_view line = text.substr(0, text.find('\n'));
  std::string_view nr = next_field(line);
  SyscallState s;
  auto [p, ec] = std::from_chars(nr.data(), nr.data() + nr.size(), s.nr);
  if (ec != std::errc() || p != nr.data() + nr.size() || s.nr < 0) return std::nullopt;
  for (uint64_t& arg : s.args) {
    std::string_view a = next_field(line);
    if (a.substr(0, 2) != "0x") return std::nullopt;
    a.remove_prefix(2);
    auto [q, e] = std::from_chars(a.data(), a.data() + a.size(), arg, 16);
    if (e != std::errc() || q != a.data() + a.size()) return std::nullopt;
  }
  return s;
}

ProcessUses set_waiters(int semid) {
  ProcessUses uses;
  std::string text;
  SameNamespace ours;
  for (pid_t pid : numeric_entries("/proc")) {
    Read in = ours.check(pid);
    if (in != Read::kOk) {
      uses.unreadable += in == Read::kDenied;
      continue;
    }
    std::string task = "/proc/" + std::to_string(pid) + "/task/";
    bool denied = false;
    for (pid_t tid : numeric_entries(task)) {
      Read r = read_proc(task + std::to_string(tid) + "/syscall", text);
      denied = denied || r == Read::kDenied;
      if (r != Read::kOk) continue;
      auto call = parse_syscall(text);
      if (!call || !is_semop(call->nr) ||
          static_cast<int>(call->args[0]) != semid)
        continue;
      uses.processes.push_back({pid, tid, process_name(pid),
                                read_operations(pid, call->args[1], call->args[2])});
    }
    uses.unreadable += denied;
  }
  return uses;
}

}  // namespace ipctk
