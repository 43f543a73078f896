#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>

using namespace ipctk;

namespace {

double now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

/// Puts `fd` on stdin for the scope, and the old stdin back after.
struct StdinSwap {
  explicit StdinSwap(int fd) : saved(dup(0)) { REQUIRE(dup2(fd, 0) == 0); }
  ~StdinSwap() {
    dup2(saved, 0);
    close(saved);
  }
  int saved;
};

}  // namespace

TEST_CASE("check_command finds commands as execvp would", "[process]") {
  CHECK(check_command({"sh", "-c", "true"}).ok());
  CHECK(check_command({"/bin/sh"}).ok());
  auto missing = check_command({"/nonexistent/ipctk-command"});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == "ENOENT");
  CHECK(missing.error().exit_status == kExitCommandNotFound);
  auto not_in_path = check_command({"ipctk-no-such-command-here"});
  REQUIRE_FALSE(not_in_path.ok());
  CHECK(not_in_path.error().exit_status == kExitCommandNotFound);
  auto directory = check_command({"/tmp"});
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().code() == "EACCES");
  CHECK(directory.error().exit_status == kExitCannotExec);
  CHECK(check_command({}).error().exit_status == kExitUsage);
}

TEST_CASE("run_command returns the command's status", "[process]") {
  SignalCatcher signals;
  REQUIRE(signals.ok());
  CHECK(*run_command(signals, {"sh", "-c", "exit 0"}) == 0);
  CHECK(*run_command(signals, {"sh", "-c", "exit 7"}) == 7);
  // Killed by a signal: 128 + the signal, as a shell reports it.
  CHECK(*run_command(signals, {"sh", "-c", "kill -TERM $$"}) == 128 + SIGTERM);
  auto bad = run_command(signals, {"/nonexistent/ipctk-command"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().exit_status == kExitCommandNotFound);
}

TEST_CASE("run_command passes on a signal sent to the tool", "[process]") {
  SignalCatcher signals;
  REQUIRE(signals.ok());
  // The command would sleep for 30 s; SIGTERM sent to the tool with
  // kill(2) (SI_USER) must be passed on and end it.
  pid_t self = getpid();
  pid_t killer = fork();
  REQUIRE(killer >= 0);
  if (killer == 0) {
    usleep(200 * 1000);
    kill(self, SIGTERM);
    _exit(0);
  }
  double start = now();
  auto status = run_command(signals, {"sleep", "30"});
  waitpid(killer, nullptr, 0);
  REQUIRE(status.ok());
  CHECK(*status == 128 + SIGTERM);
  CHECK(now() - start < 20);
}

TEST_CASE("hold ends at the deadline", "[process]") {
  SignalCatcher signals;
  REQUIRE(signals.ok());
  double start = now();
  auto status = hold(signals, HoldUntil::kDeadline, 0.1);
  REQUIRE(status.ok());
  CHECK(*status == 0);
  CHECK(now() - start >= 0.1);
}

TEST_CASE("hold ends on a signal with 128 + its number", "[process]") {
  SignalCatcher signals;
  REQUIRE(signals.ok());
  raise(SIGTERM);  // blocked: it waits on the signalfd
  auto status = hold(signals, HoldUntil::kDeadline, 30);
  REQUIRE(status.ok());
  CHECK(*status == 128 + SIGTERM);
}

TEST_CASE("hold ends when stdin reaches its end", "[process]") {
  SignalCatcher signals;
  REQUIRE(signals.ok());
  int p[2];
  REQUIRE(pipe(p) == 0);
  REQUIRE(write(p[1], "some input\n", 11) == 11);
  close(p[1]);
  {
    StdinSwap swap(p[0]);
    auto status = hold(signals, HoldUntil::kStdinEof, 0);
    REQUIRE(status.ok());
    CHECK(*status == 0);
  }
  close(p[0]);
}

TEST_CASE("InterruptCatcher records a signal and puts the old handler back",
          "[process]") {
  struct sigaction before;
  REQUIRE(sigaction(SIGHUP, nullptr, &before) == 0);
  {
    InterruptCatcher interrupts;
    CHECK(interrupts.caught() == 0);
    raise(SIGHUP);  // would end the test run without the catcher
    CHECK(interrupts.caught() == SIGHUP);
    struct sigaction during;
    REQUIRE(sigaction(SIGHUP, nullptr, &during) == 0);
    CHECK((during.sa_flags & SA_RESTART) == 0);
  }
  struct sigaction after;
  REQUIRE(sigaction(SIGHUP, nullptr, &after) == 0);
  CHECK(after.sa_handler == before.sa_handler);
  CHECK(signal_name(SIGTERM) == "SIGTERM");
  CHECK(signal_name(SIGINT) == "SIGINT");
}

TEST_CASE("exec_command replaces the process, or says why it cannot",
          "[process]") {
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    Error e = exec_command({"sh", "-c", "exit 7"});
    _exit(e.exit_status == kExitCannotExec ? 100 : 101);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WEXITSTATUS(status) == 7);
  // Only the failure returns; no fork is needed to see it.
  Error missing = exec_command({"/nonexistent/ipctk-no-such-command"});
  CHECK(missing.err == ENOENT);
  CHECK(missing.exit_status == kExitCommandNotFound);
  Error not_exec = exec_command({"/etc/passwd"});
  CHECK(not_exec.err == EACCES);
  CHECK(not_exec.exit_status == kExitCannotExec);
}
