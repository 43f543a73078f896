// sem_pingpong: a P/V ping-pong between two processes through the library's
// sem_apply, for tests/bench/sem_bench.py (not installed, not a test).
//
//   sem_pingpong [--rounds N] [--warmup W] [--raw] ID_FWD [ID_BACK]
//
// With two ids, semaphore 0 of each set carries one direction (the layout
// the Python peer needs: sysv_ipc.Semaphore works on semaphore 0 only); with
// one id, semaphores 0 and 1 of that set do. Both must be 0 at the start.
// The process forks: A (the parent) does V(fwd) P(back), B (the child) does
// P(fwd) V(back). One round trip is one V-P on each side: four semops, two
// wake-ups. A times N round trips after W warm-up ones and prints one JSON
// line: {"rounds":N,"seconds":S,"round_trips_per_second":R,...}.
//
// --raw calls semop(2) directly instead of sem_apply, to show what the
// library adds per call. The sets are the caller's: this program neither
// creates nor removes them (B also ends when its set is removed: EIDRM).
// If either side fails or dies, the other does not wait forever: B gets
// SIGKILL when A dies, and A ends (status 1) when B ends with a failure.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "json_out.h"
#include "parse.h"
#include "sem_set.h"

using namespace ipctk;

namespace {

pid_t g_child = 0;
volatile sig_atomic_t g_child_done = 0;
int g_child_status = 0;

/// A's SIGCHLD handler: B ending well is noted; B ending badly while A may
/// be waiting for it ends A at once (async-signal-safe calls only).
void on_child(int) {
  int saved = errno;
  int status = 0;
  if (waitpid(g_child, &status, WNOHANG) == g_child) {
    g_child_status = status;
    g_child_done = 1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      static const char msg[] = "sem_pingpong: the other process failed\n";
      ssize_t ignored = write(2, msg, sizeof msg - 1);
      (void)ignored;
      _exit(1);
    }
  }
  errno = saved;
}

struct Side {
  int id;
  unsigned num;
};

int usage(const char* why) {
  std::fprintf(stderr,
               "sem_pingpong: %s\n"
               "usage: sem_pingpong [--rounds N] [--warmup W] [--raw] "
               "ID_FWD [ID_BACK]\n",
               why);
  return 2;
}

bool parse_count(const char* text, long& out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 0) return false;
  out = v;
  return true;
}

/// One half of the ping-pong, `rounds` times: the library's call (the
/// operation vectors are built once, outside the loop) or a bare semop.
class Player {
 public:
  Player(Side give, Side take, bool raw)
      : give_{give}, take_{take}, raw_(raw) {
    give_ops_.push_back(SemOpSpec{give.num, +1, false, false});
    take_ops_.push_back(SemOpSpec{take.num, -1, false, false});
    give_buf_ = {static_cast<unsigned short>(give.num), 1, 0};
    take_buf_ = {static_cast<unsigned short>(take.num), -1, 0};
  }

  // A: V(give) P(take).   B: P(take) V(give).
  Status serve(long rounds, bool give_first) {
    for (long i = 0; i < rounds; ++i) {
      if (give_first) {
        if (auto s = give(); !s) return s;
        if (auto s = take(); !s) return s;
      } else {
        if (auto s = take(); !s) return s;
        if (auto s = give(); !s) return s;
      }
    }
    return Ok{};
  }

 private:
  Status give() {
    if (!raw_) return sem_apply(give_.id, give_ops_, std::nullopt, nullptr);
    return bare(give_.id, &give_buf_);
  }
  Status take() {
    if (!raw_) return sem_apply(take_.id, take_ops_, std::nullopt, nullptr);
    return bare(take_.id, &take_buf_);
  }
  static Status bare(int id, struct sembuf* op) {
    while (semop(id, op, 1) != 0)
      if (errno != EINTR) return sys_error("semop", errno, sem_text(id));
    return Ok{};
  }

  Side give_, take_;
  bool raw_;
  std::vector<SemOpSpec> give_ops_, take_ops_;
  struct sembuf give_buf_, take_buf_;
};

/// Both semaphores must start at 0, or the first P would not wait.
Status check_zero(Side s) {
  auto info = sem_stat(s.id);
  if (!info) return info.error();
  if (s.num >= info->nsems)
    return usage_error(sem_text(s.id) + " has no semaphore " +
                       std::to_string(s.num));
  auto values = sem_values(s.id, info->nsems);
  if (!values) return values.error();
  if ((*values)[s.num] != 0)
    return usage_error("semaphore " + std::to_string(s.num) + " of " +
                       sem_text(s.id) + " is " +
                       std::to_string((*values)[s.num]) + ", not 0");
  return Ok{};
}

}  // namespace

int main(int argc, char** argv) {
  long rounds = 100000, warmup = 1000;
  bool raw = false;
  std::vector<int> ids;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if ((a == "--rounds" || a == "--warmup") && i + 1 < argc) {
      if (!parse_count(argv[++i], a == "--rounds" ? rounds : warmup))
        return usage("bad count");
    } else if (a == "--raw") {
      raw = true;
    } else {
      auto id = parse_id(a);
      if (!id) return usage("bad set id");
      ids.push_back(*id);
    }
  }
  if (ids.empty() || ids.size() > 2 || rounds < 1)
    return usage("give one or two set ids and --rounds >= 1");
  Side fwd{ids[0], 0};
  Side back = ids.size() == 2 ? Side{ids[1], 0} : Side{ids[0], 1};
  for (Side s : {fwd, back}) {
    if (auto ok = check_zero(s); !ok) {
      print_error(ok.error());
      return 1;
    }
  }

  std::fflush(nullptr);
  struct sigaction sa = {};
  sa.sa_handler = on_child;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, nullptr);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  // Blocked until g_child is set, so the handler never sees a stale one.
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) {
    print_error(sys_error("fork", errno));
    return 1;
  }
  if (child == 0) {
    signal(SIGCHLD, SIG_DFL);
    sigprocmask(SIG_UNBLOCK, &chld, nullptr);
    // B ends with A, even if A is killed while B waits.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    Player b(back, fwd, raw);
    auto done = b.serve(warmup + rounds, /*give_first=*/false);
    if (!done) print_error(done.error());
    std::fflush(nullptr);
    _exit(done ? 0 : 1);
  }

  g_child = child;
  sigprocmask(SIG_UNBLOCK, &chld, nullptr);
  Player a(fwd, back, raw);
  auto done = a.serve(warmup, /*give_first=*/true);
  auto t0 = std::chrono::steady_clock::now();
  if (done) done = a.serve(rounds, /*give_first=*/true);
  auto t1 = std::chrono::steady_clock::now();
  if (!done) {
    print_error(done.error());
    kill(child, SIGKILL);
  }
  // With SIGCHLD blocked, B is reaped either by the handler (before) or
  // here, never by both.
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  int wstatus = g_child_status;
  if (!g_child_done) {
    while (waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
    }
  }
  if (!done) return 1;
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    std::fprintf(stderr, "sem_pingpong: the other process failed\n");
    return 1;
  }
  double seconds = std::chrono::duration<double>(t1 - t0).count();
  std::printf(
      "{\"rounds\":%ld,\"warmup\":%ld,\"api\":\"%s\",\"layout\":\"%s\","
      "\"seconds\":%.9f,\"round_trips_per_second\":%.1f,"
      "\"ns_per_round_trip\":%.1f}\n",
      rounds, warmup, raw ? "semop" : "sem_apply",
      ids.size() == 2 ? "two sets" : "one set", seconds,
      static_cast<double>(rounds) / seconds,
      seconds * 1e9 / static_cast<double>(rounds));
  return 0;
}
