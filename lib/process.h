#ifndef IPCTK_PROCESS_H_
#define IPCTK_PROCESS_H_

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
  /// Makes the calling thread's mask what it was before this catcher, for a
  /// child about to exec.
  void restore_mask() const;

 private:
  int fd_ = -1;
  bool had_mask_ = false;
  unsigned char old_mask_[128] = {};
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

/// Whether the process `pid` that started at `start` still exists (a
/// zombie counts as gone: it holds nothing any more).
bool process_alive(pid_t pid, uint64_t start);

/// /proc/PID/comm, or "" when the process is gone.
std::string process_name(pid_t pid);

/// "SIGTERM" for SIGTERM.
std::string signal_name(int sig);

/// Checks that argv[0] names an executable file (directly, or found in
/// PATH as execvp would), so that a tool can refuse before it acquires
/// anything or prints a result. ENOENT/EACCES errors carry exit 127/126.
Status check_command(const std::vector<std::string>& argv);

/// Runs argv (execvp, never through a shell) and waits for it, forwarding
/// signals that other processes send to this one (the terminal signals the
/// whole process group itself). Returns the exit status to end with: the
/// command's, or 128 + the signal that killed it; 126/127 with an error when
/// it cannot be executed.
Result<int> run_command(const SignalCatcher& signals,
                        const std::vector<std::string>& argv);

/// Replaces this process with argv (execvp, never through a shell), so that
/// what the process holds in the kernel (a semaphore's undo record) stays
/// with the command and ends when it does. Returns only if exec failed,
/// with exit status 127 (not found) or 126.
Error exec_command(const std::vector<std::string>& argv);

}  // namespace ipctk

#endif  // IPCTK_PROCESS_H_
