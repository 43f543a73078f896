#include "process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iterator>

#include "clock.h"
#include "io.h"

namespace ipctk {

namespace {

constexpr int kHeldSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

sigset_t held_set(bool with_child) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kHeldSignals) sigaddset(&set, s);
  if (with_child) sigaddset(&set, SIGCHLD);
  return set;
}

/// Reads one signal from the signalfd; 0 if none is pending.
int take_signal(int fd, struct signalfd_siginfo* info) {
  ssize_t n = read(fd, info, sizeof *info);
  if (n != static_cast<ssize_t>(sizeof *info)) return 0;
  return static_cast<int>(info->ssi_signo);
}

}  // namespace

SignalCatcher::SignalCatcher() {
  sigset_t set = held_set(true);
  if (sigprocmask(SIG_BLOCK, &set, &old_mask_) != 0) return;
  had_mask_ = true;
  fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

SignalCatcher::~SignalCatcher() {
  if (fd_ >= 0) close(fd_);
  if (had_mask_) sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
}

Result<int> hold(const SignalCatcher& signals, HoldUntil until,
                 double seconds) {
  if (!signals.ok()) return sys_error("signalfd", errno);
  double deadline = monotonic_seconds() + seconds;
  bool watch_stdin = until == HoldUntil::kStdinEof;
  for (;;) {
    struct pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {0, POLLIN, 0}};
    int timeout_ms = -1;
    if (until == HoldUntil::kDeadline) {
      double left = deadline - monotonic_seconds();
      if (left <= 0) return 0;
      timeout_ms = static_cast<int>(std::ceil(std::min(left, 86400.0) * 1000));
    }
    int n = poll(fds, watch_stdin ? 2 : 1, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("poll", errno);
    }
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo info;
      int sig = take_signal(signals.fd(), &info);
      if (sig != 0 && sig != SIGCHLD) return kExitSignalBase + sig;
    }
    if (watch_stdin && fds[1].revents != 0) {
      if (fds[1].revents & POLLNVAL) return 0;  // no stdin at all
      char buf[4096];
      ssize_t r = read(0, buf, sizeof buf);
      if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) return 0;
    }
  }
}

namespace {

/// An error that ends the tool with 127 (not found) or 126.
Error exec_error(const char* op, int err, const std::string& name,
                 std::string hint = "") {
  Error e = sys_error(op, err, name, std::move(hint));
  e.exit_status = err == ENOENT ? kExitCommandNotFound : kExitCannotExec;
  return e;
}

/// argv as execve takes it; with `sh`, as execvp runs a file that has no
/// #! line: "/bin/sh FILE ARGS...".
std::vector<char*> exec_args(const Command& c, bool sh) {
  std::vector<char*> args;
  args.reserve(c.argv.size() + 2);
  if (sh) {
    args.push_back(const_cast<char*>("/bin/sh"));
    args.push_back(const_cast<char*>(c.path.c_str()));
  } else {
    args.push_back(const_cast<char*>(c.argv[0].c_str()));
  }
  for (size_t i = 1; i < c.argv.size(); ++i)
    args.push_back(const_cast<char*>(c.argv[i].c_str()));
  args.push_back(nullptr);
  return args;
}

/// 0 if `path` is a file execve could run, else the errno execve would give.
int runnable(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return errno;
  if (!S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) return EACCES;
  return 0;
}

}  // namespace

Result<Command> find_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return usage_error("-- COMMAND: no command given");
  const std::string& name = argv[0];
  bool has_slash = name.find('/') != std::string::npos;
  auto refuse = [&](int err) {
    std::string hint = err == EACCES ? "it is not an executable file"
                       : has_slash   ? "no such file"
                                     : "no such command in PATH";
    return exec_error("execvp", err, name, hint);
  };
  if (has_slash) {
    int err = runnable(name);
    if (err != 0) return refuse(err);
    return Command{name, argv};
  }
  const char* path = getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  int err = ENOENT;
  size_t start = 0;
  for (;;) {
    size_t end = dirs.find(':', start);
    std::string dir = dirs.substr(start, end == std::string::npos ? end : end - start);
    std::string file = (dir.empty() ? "." : dir) + "/" + name;
    int e = runnable(file);
    if (e == 0) return Command{std::move(file), argv};
    if (e == EACCES) err = EACCES;  // as execvp: EACCES if any was found
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return refuse(err);
}

namespace {

volatile sig_atomic_t g_interrupt = 0;
struct sigaction g_old_actions[std::size(kHeldSignals)];

void record_interrupt(int sig) { g_interrupt = sig; }

}  // namespace

InterruptCatcher::InterruptCatcher() {
  g_interrupt = 0;
  struct sigaction sa = {};
  sa.sa_handler = record_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the wait must end
  for (size_t i = 0; i < std::size(kHeldSignals); ++i) {
    sigaction(kHeldSignals[i], &sa, &g_old_actions[i]);
    // An ignored signal (nohup's SIGHUP, a background job's SIGINT) stays
    // ignored: the caller chose that it must not end us.
    if (g_old_actions[i].sa_handler == SIG_IGN)
      sigaction(kHeldSignals[i], &g_old_actions[i], nullptr);
  }
}

InterruptCatcher::~InterruptCatcher() {
  for (size_t i = 0; i < std::size(kHeldSignals); ++i)
    sigaction(kHeldSignals[i], &g_old_actions[i], nullptr);
}

int InterruptCatcher::caught() const { return g_interrupt; }

std::optional<uint64_t> parse_stat_start_time(std::string_view stat) {
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // Fields after the name: 3 (state) ... 22 (starttime).
  std::string_view rest = stat.substr(close + 1);
  int field = 2;
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    size_t start = i;
    while (i < rest.size() && rest[i] != ' ' && rest[i] != '\n') ++i;
    if (i == start) break;
    ++field;
    if (field == 3 && rest.substr(start, i - start) == "Z") return std::nullopt;
    if (field == 22) {
      uint64_t value = 0;
      auto [p, ec] = std::from_chars(rest.data() + start, rest.data() + i, value);
      if (ec != std::errc() || p != rest.data() + i) return std::nullopt;
      return value;
    }
  }
  return std::nullopt;
}

namespace {

/// /proc/PID/stat into `buf`; its length, or 0.
size_t read_stat(pid_t pid, char (&buf)[1024]) {
  if (pid <= 0) return 0;
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

}  // namespace

std::optional<uint64_t> process_start_time(pid_t pid) {
  char buf[1024];
  size_t n = read_stat(pid, buf);
  if (n == 0) return std::nullopt;
  return parse_stat_start_time(std::string_view(buf, n));
}

std::optional<int64_t> parse_boot_time(std::string_view text) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (line.substr(0, 6) != "btime ") continue;
    line.remove_prefix(6);
    int64_t t = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), t);
    if (ec != std::errc() || p != line.data() + line.size() || t <= 0)
      return std::nullopt;
    return t;
  }
  return std::nullopt;
}

std::optional<int64_t> process_started_at(pid_t pid) {
  static const std::optional<int64_t> boot = [] {
    auto text = read_whole_file("/proc/stat");
    return text ? parse_boot_time(*text) : std::nullopt;
  }();
  auto ticks = process_start_time(pid);
  long hz = sysconf(_SC_CLK_TCK);
  if (!boot || !ticks || hz <= 0) return std::nullopt;
  return *boot + static_cast<int64_t>(*ticks / static_cast<uint64_t>(hz));
}

bool process_is_zombie(pid_t pid) {
  char buf[1024];
  std::string_view stat(buf, read_stat(pid, buf));
  size_t close = stat.rfind(')');
  return close != std::string_view::npos && close + 2 < stat.size() &&
         stat[close + 2] == 'Z';
}

bool process_alive(pid_t pid, uint64_t start) {
  auto now = process_start_time(pid);
  return now && *now == start;
}

std::string process_name(pid_t pid) {
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/comm", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[64];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n <= 0) return {};
  std::string name(buf, static_cast<size_t>(n));
  while (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  if (abbrev == nullptr) return "signal " + std::to_string(sig);
  return std::string("SIG") + abbrev;
}

Error exec_command(const Command& command) {
  if (command.argv.empty()) return usage_error("-- COMMAND: no command given");
  std::vector<char*> args = exec_args(command, false);
  execve(command.path.c_str(), args.data(), environ);
  int err = errno;
  if (err == ENOEXEC) {
    args = exec_args(command, true);
    execve(args[0], args.data(), environ);
    err = errno;
  }
  return exec_error("execve", err, command.argv[0]);
}

Result<int> run_command(const SignalCatcher& signals, const Command& command) {
  if (command.argv.empty()) return usage_error("-- COMMAND: no command given");
  if (!signals.ok()) return sys_error("signalfd", errno);
  // posix_spawn, not fork: the child shares this process's memory until it
  // execs (vfork), which spares copying the page tables and the faults on
  // both sides after a fork; and it reports a failed exec itself.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &signals.old_mask());
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> args = exec_args(command, false);
  pid_t child = -1;
  int err = posix_spawn(&child, command.path.c_str(), nullptr, &attr,
                        args.data(), environ);
  if (err == ENOEXEC) {
    args = exec_args(command, true);
    err = posix_spawn(&child, args[0], nullptr, &attr, args.data(), environ);
  }
  posix_spawnattr_destroy(&attr);
  if (err != 0) return exec_error("posix_spawn", err, command.argv[0]);

  int status = 0;
  for (;;) {
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) break;
    if (r < 0 && errno != EINTR) return sys_error("waitpid", errno);
    struct pollfd fds = {signals.fd(), POLLIN, 0};
    if (poll(&fds, 1, -1) < 0 && errno != EINTR)
      return sys_error("poll", errno);
    struct signalfd_siginfo info;
    int sig;
    while ((sig = take_signal(signals.fd(), &info)) != 0) {
      if (sig == SIGCHLD) continue;
      // A signal from the terminal went to the child's process group too;
      // one sent with kill(2) to this process alone is passed on.
      if (info.ssi_code == SI_USER || info.ssi_code == SI_QUEUE)
        kill(child, sig);
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return kExitSignalBase + WTERMSIG(status);
  return kExitFailed;
}

}  // namespace ipctk
