#include "process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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
  sigset_t old;
  static_assert(sizeof old <= sizeof old_mask_);
  if (sigprocmask(SIG_BLOCK, &set, &old) != 0) return;
  std::memcpy(old_mask_, &old, sizeof old);
  had_mask_ = true;
  fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

SignalCatcher::~SignalCatcher() {
  if (fd_ >= 0) close(fd_);
  restore_mask();
}

void SignalCatcher::restore_mask() const {
  if (!had_mask_) return;
  sigset_t old;
  std::memcpy(&old, old_mask_, sizeof old);
  sigprocmask(SIG_SETMASK, &old, nullptr);
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

/// 0 if `path` is a file execve could run, else the errno execve would give.
int runnable(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return errno;
  if (!S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) return EACCES;
  return 0;
}

}  // namespace

Status check_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return usage_error("-- COMMAND: no command given");
  const std::string& name = argv[0];
  bool has_slash = name.find('/') != std::string::npos;
  auto refuse = [&](int err) {
    std::string hint = err == EACCES ? "it is not an executable file"
                       : has_slash   ? "no such file"
                                     : "no such command in PATH";
    Error e = sys_error("execvp", err, name, hint);
    e.exit_status = err == ENOENT ? kExitCommandNotFound : kExitCannotExec;
    return e;
  };
  if (has_slash) {
    int err = runnable(name);
    if (err != 0) return refuse(err);
    return Ok{};
  }
  const char* path = getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  int err = ENOENT;
  size_t start = 0;
  for (;;) {
    size_t end = dirs.find(':', start);
    std::string dir = dirs.substr(start, end == std::string::npos ? end : end - start);
    int e = runnable((dir.empty() ? "." : dir) + "/" + name);
    if (e == 0) return Ok{};
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

std::optional<uint64_t> process_start_time(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return std::nullopt;
  return parse_stat_start_time(std::string_view(buf, static_cast<size_t>(n)));
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

Error exec_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return usage_error("-- COMMAND: no command given");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  int err = errno;
  Error e = sys_error("execvp", err, argv[0]);
  e.exit_status = err == ENOENT ? kExitCommandNotFound : kExitCannotExec;
  return e;
}

Result<int> run_command(const SignalCatcher& signals,
                        const std::vector<std::string>& argv) {
  if (argv.empty()) return usage_error("-- COMMAND: no command given");
  if (!signals.ok()) return sys_error("signalfd", errno);
  // The child reports a failed exec through this pipe; a successful exec
  // closes it (O_CLOEXEC) and the parent reads end of file.
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return sys_error("pipe2", errno);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t child = fork();
  if (child < 0) {
    int err = errno;
    close(pipefd[0]);
    close(pipefd[1]);
    return sys_error("fork", err);
  }
  if (child == 0) {
    // The command gets the signal mask the tool started with.
    signals.restore_mask();
    close(pipefd[0]);
    execvp(args[0], args.data());
    int err = errno;
    (void)!write(pipefd[1], &err, sizeof err);
    _exit(err == ENOENT ? kExitCommandNotFound : kExitCannotExec);
  }
  close(pipefd[1]);
  int exec_err = 0;
  ssize_t got;
  do {
    got = read(pipefd[0], &exec_err, sizeof exec_err);
  } while (got < 0 && errno == EINTR);
  close(pipefd[0]);

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
  if (got == static_cast<ssize_t>(sizeof exec_err)) {
    Error e = sys_error("execvp", exec_err, argv[0]);
    e.exit_status = exec_err == ENOENT ? kExitCommandNotFound : kExitCannotExec;
    return e;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return kExitSignalBase + WTERMSIG(status);
  return kExitFailed;
}

}  // namespace ipctk
