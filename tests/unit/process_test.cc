#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

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

namespace {

/// The command, found; REQUIREs that it is.
Command found(const std::vector<std::string>& argv) {
  auto c = find_command(argv);
  REQUIRE(c.ok());
  return *c;
}

}  // namespace

TEST_CASE("find_command finds commands as execvp would", "[process]") {
  auto sh = find_command({"sh", "-c", "true"});
  REQUIRE(sh.ok());
  CHECK(sh->path.ends_with("/sh"));
  CHECK(access(sh->path.c_str(), X_OK) == 0);
  CHECK(sh->argv == std::vector<std::string>{"sh", "-c", "true"});
  CHECK(find_command({"/bin/sh"})->path == "/bin/sh");
  auto missing = find_command({"/nonexistent/ipctk-command"});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == "ENOENT");
  CHECK(missing.error().exit_status == kExitCommandNotFound);
  auto not_in_path = find_command({"ipctk-no-such-command-here"});
  REQUIRE_FALSE(not_in_path.ok());
  CHECK(not_in_path.error().exit_status == kExitCommandNotFound);
  auto directory = find_command({"/tmp"});
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().code() == "EACCES");
  CHECK(directory.error().exit_status == kExitCannotExec);
  CHECK(find_command({}).error().exit_status == kExitUsage);
}

TEST_CASE("run_command returns the command's status", "[process]") {
  SignalCatcher signals;
  REQUIRE(signals.ok());
  CHECK(*run_command(signals, found({"sh", "-c", "exit 0"})) == 0);
  CHECK(*run_command(signals, found({"sh", "-c", "exit 7"})) == 7);
  // Killed by a signal: 128 + the signal, as a shell reports it.
  CHECK(*run_command(signals, found({"sh", "-c", "kill -TERM $$"})) ==
        128 + SIGTERM);
  // Gone between finding and running it.
  auto bad = run_command(signals, {"/nonexistent/ipctk-command",
                                   {"ipctk-command"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().exit_status == kExitCommandNotFound);
}

TEST_CASE("a file without #! runs under /bin/sh, as execvp runs it",
          "[process]") {
  char dir[] = "/tmp/ipctk-process-test-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string script = std::string(dir) + "/script";
  FILE* f = std::fopen(script.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fputs("exit $(( $# + 4 ))\n", f);
  std::fclose(f);
  REQUIRE(chmod(script.c_str(), 0700) == 0);
  SignalCatcher signals;
  REQUIRE(signals.ok());
  auto ran = run_command(signals, found({script, "a", "b"}));
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    (void)exec_command(found({script, "a"}));
    _exit(100);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  unlink(script.c_str());
  rmdir(dir);
  REQUIRE(ran.ok());
  CHECK(*ran == 6);
  CHECK(WEXITSTATUS(status) == 5);
}

TEST_CASE("run_command passes on a signal sent to the tool",
          "[process][concurrency]") {
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
  auto status = run_command(signals, found({"sleep", "30"}));
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

TEST_CASE("hold ends on a signal with 128 + its number",
          "[process][concurrency]") {
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
          "[process][concurrency]") {
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
    Error e = exec_command(found({"sh", "-c", "exit 7"}));
    _exit(e.exit_status == kExitCannotExec ? 100 : 101);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WEXITSTATUS(status) == 7);
  // Only the failure returns; no fork is needed to see it.
  Error missing = exec_command({"/nonexistent/ipctk-no-such-command",
                                {"/nonexistent/ipctk-no-such-command"}});
  CHECK(missing.err == ENOENT);
  CHECK(missing.exit_status == kExitCommandNotFound);
  Error not_exec = exec_command({"/etc/passwd", {"/etc/passwd"}});
  CHECK(not_exec.err == EACCES);
  CHECK(not_exec.exit_status == kExitCannotExec);
}

TEST_CASE("boot time from /proc/stat text", "[process]") {
  CHECK(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1796540000\nprocesses 9\n") ==
        int64_t{1796540000});
  CHECK(parse_boot_time("btime 12") == int64_t{12});  // no newline
  CHECK_FALSE(parse_boot_time("cpu 1\n"));
  CHECK_FALSE(parse_boot_time("btime x\n"));
  CHECK_FALSE(parse_boot_time("xbtime 5\n"));
  // A process started after boot, in this second or before.
  auto started = process_started_at(getpid());
  REQUIRE(started);
  CHECK(*started <= time(nullptr));
  CHECK(*started > 1700000000);
}
