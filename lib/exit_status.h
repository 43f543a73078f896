#ifndef IPCTK_EXIT_STATUS_H_
#define IPCTK_EXIT_STATUS_H_

/// Every exit status any ipctk tool returns is named here, so that the man
/// pages, the tools and the tests agree on one table (see ipctk(7)).
namespace ipctk {

enum ExitStatus : int {
  kExitOk = 0,
  /// The operation was attempted and failed (the kernel said no, bad data).
  kExitFailed = 1,
  /// The invocation was wrong: unknown flag, malformed number, conflicting
  /// flags. Nothing was attempted.
  kExitUsage = 2,
  /// The operation would block (--nowait) or timed out (--timeout).
  kExitWouldBlock = 3,
  /// -- COMMAND could not be executed (as env(1) and flock(1) do).
  kExitCannotExec = 126,
  kExitCommandNotFound = 127,
  /// A fatal signal N ends a tool with 128 + N, as a shell reports it.
  kExitSignalBase = 128,
};

}  // namespace ipctk

#endif  // IPCTK_EXIT_STATUS_H_
