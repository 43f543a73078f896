#ifndef IPCTK_PROC_USERS_H_
#define IPCTK_PROC_USERS_H_

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json_out.h"
#include "parse.h"

/// Which processes use a System V object, found in /proc as lsof(8) finds
/// them: the kernel keeps only counts (nattch, ncnt, zcnt) and the last
/// pid. What a caller may not read there (another user's processes, for
/// anyone but root) is counted, so that a short list says it is short.
namespace ipctk {

struct ProcessUse {
  pid_t pid = 0;
  pid_t tid = 0;  // the thread, for a waiter
  std::string command;
  /// For a waiter: the operations it waits in, when its memory could be
  /// read (root); none otherwise.
  std::optional<std::vector<SemOpSpec>> operations;
};

struct ProcessUses {
  std::vector<ProcessUse> processes;
  /// Processes (or threads) whose /proc files could not be read.
  uint64_t unreadable = 0;
};

/// The processes as JSON: {pid, command} each, and for `waiters`
/// {pid, tid, command, operations} (operations null where unreadable).
Json to_json(const ProcessUses& uses, bool waiters);

/// Whether the text of a /proc/PID/maps maps System V segment `shmid`: a
/// line whose inode is the id and whose file is /SYSV<key> (deleted).
bool maps_segment(std::string_view maps, int shmid);

/// The processes that have segment `shmid` attached.
ProcessUses segment_users(int shmid);

/// A thread blocked in a system call, from the text of /proc/PID/syscall:
/// the call's number and its six arguments. None when it is running, not
/// in a call ("-1 ..."), or the text is not of this form.
struct SyscallState {
  long nr = 0;
  std::array<uint64_t, 6> args{};
};
std::optional<SyscallState> parse_syscall(std::string_view text);

/// The threads blocked in semop(2) or semtimedop(2) on set `semid`, with
/// the operations they wait in where their memory can be read. Threads of
/// 32-bit (i386, x32) programs, whose calls /proc shows by other numbers
/// (ipc(2)'s SEMTIMEDOP, semtimedop_time64), are not recognized.
ProcessUses set_waiters(int semid);

}  // namespace ipctk

#endif  // IPCTK_PROC_USERS_H_
