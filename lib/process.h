#ifndef IPCTK_PROCESS_H_
#define IPCTK_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"

/// Processes: holding something until a deadline, end of input or a signal,
/// and running a command while holding it.
namespace ipctk {

/// Blocks the signals that end a hold (INT, TERM, HUP, QUIT) and reads them
/// from a signalfd instead, so that whoever holds a resource can release it
/// before exiting. Restores the mask when destroyed.
class SignalCatcher {
 public:
  SignalCatcher();
  ~SignalCatcher();
  SignalCatcher(const SignalCatcher&) = delete;
  SignalCatcher& operator=(const SignalCatcher&) = delete;
  int fd() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  /// The mask before this catcher: what a command it runs starts with.
  const sigset_t& old_mask() const { return old_mask_; }

 private:
  int fd_ = -1;
  bool had_mask_ = false;
  sigset_t old_mask_ = {};
};

enum class HoldUntil {
  kDeadline,   // the given number of seconds passed
  kStdinEof,   // standard input reached its end (or was closed)
};

/// Waits as asked, or until one of the catcher's signals arrives. Returns the
/// exit status to end with: 0, or 128 + the signal.
Result<int> hold(const SignalCatcher& signals, HoldUntil until,
                 double seconds);

/// Catches INT, TERM, HUP and QUIT with a handler that only records the
/// signal, installed without SA_RESTART: a blocking call such as semop then
/// returns EINTR, and the tool can say what interrupted the wait (and end
/// with 128 + the signal) instead of dying without a word. The handlers
/// that were there before are put back when this is destroyed.
class InterruptCatcher {
 public:
  InterruptCatcher();
  ~InterruptCatcher();
  InterruptCatcher(const InterruptCatcher&) = delete;
  InterruptCatcher& operator=(const InterruptCatcher&) = delete;
  /// The last signal caught, or 0.
  int caught() const;
};

/// The start time of a process, in clock ticks since boot: field 22 of
/// /proc/PID/stat. With the pid it names a process for good: a pid reused
/// by a later process comes with another start time.
std::optional<uint64_t> process_start_time(pid_t pid);

/// Field 22 of the text of /proc/PID/stat (the command name in field 2 may
/// hold spaces and parentheses, so fields are counted from its last ')').
std::optional<uint64_t> parse_stat_start_time(std::string_view stat);

/// The "btime" line of /proc/stat: when the system booted, in Unix
/// seconds.
std::optional<int64_t> parse_boot_time(std::string_view proc_stat);

/// When process `pid` started, in Unix seconds (rounded down), or none
/// when it is gone.
std::optional<int64_t> process_started_at(pid_t pid);

/// Whether /proc/PID/stat says the process is a zombie (false when it
/// cannot be read).
bool process_is_zombie(pid_t pid);

/// Whether the process `pid` that started at `start` still exists (a
/// zombie counts as gone: it holds nothing any more).
bool process_alive(pid_t pid, uint64_t start);

/// /proc/PID/comm, or "" when the process is gone.
std::string process_name(pid_t pid);

/// "SIGTERM" for SIGTERM.
std::string signal_name(int sig);

/// A command to run: its argv, and the file that execve is given (argv[0]
/// itself when it has a '/', else found in PATH as execvp finds it).
struct Command {
  std::string path;
  std::vector<std::string> argv;
};

/// Finds argv[0] as execvp would, so that a tool can refuse a command it
/// cannot run before it acquires anything or prints a result. ENOENT and
/// EACCES errors carry exit status 127 and 126.
Result<Command> find_command(const std::vector<std::string>& argv);

/// Runs the command (posix_spawn, never through a shell; a file without a
/// #! line runs under /bin/sh, as execvp does it) and waits for it,
/// forwarding signals that other processes send to this one (the terminal
/// signals the whole process group itself). The command starts with the
/// signal mask from before `signals`. Returns the exit status to end with:
/// the command's, or 128 + the signal that killed it; 126/127 with an
/// error when it cannot be executed.
Result<int> run_command(const SignalCatcher& signals, const Command& command);

/// Replaces this process with the command (execve, never through a shell),
/// so that what the process holds in the kernel (a semaphore's undo record)
/// stays with the command and ends when it does. Returns only if exec
/// failed, with exit status 127 (not found) or 126.
Error exec_command(const Command& command);

}  // namespace ipctk

#endif  // IPCTK_PROCESS_H_
