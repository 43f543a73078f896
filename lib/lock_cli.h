#ifndef IPCTK_LOCK_CLI_H_
#define IPCTK_LOCK_CLI_H_

#include <string>
#include <vector>

#include "tool.h"

/// The subcommands of shmctl-lock: each takes its options as typed (parsed
/// here, so that every bad value gets the contract's error) and returns the
/// document to print. See shmctl-lock(1).
namespace ipctk {

/// Every subcommand names its segment with --path and may use one owned by
/// another user with --any-owner.
struct LockSegmentArgs {
  std::string path;
  bool any_owner = false;
};

struct LockInitArgs : LockSegmentArgs {
  std::string locks, mode = "0600";
  bool exist_ok = false;
};
Result<Outcome> lock_init_command(const LockInitArgs& args, const Context&);

struct LockPathArgs : LockSegmentArgs {
  /// --podman: read podman's own lock segment instead (podman_cli.h).
  bool podman = false;
};
Result<Outcome> lock_info_command(const LockPathArgs& args, const Context&);

struct LockDestroyArgs : LockSegmentArgs {
  bool force = false;
};
Result<Outcome> lock_destroy_command(const LockDestroyArgs& args,
                                     const Context&);

struct LockAllocArgs : LockSegmentArgs {
  std::string id;
};
Result<Outcome> lock_alloc_command(const LockAllocArgs& args, const Context&);

struct LockFreeArgs : LockSegmentArgs {
  std::vector<std::string> ids;
  bool all = false, yes = false;
};
Result<Outcome> lock_free_command(const LockFreeArgs& args, const Context&);

struct LockLockArgs : LockSegmentArgs {
  std::string id, timeout, owner_pid, conflict_exit_code;
  bool nowait = false, steal_stale = false;
};
Result<Outcome> lock_lock_command(const LockLockArgs& args, const Context&);

struct LockUnlockArgs : LockSegmentArgs {
  std::string id;
  bool force = false;
};
Result<Outcome> lock_unlock_command(const LockUnlockArgs& args,
                                    const Context&);

struct LockStatusArgs : LockSegmentArgs {
  std::vector<std::string> ids;
  bool held = false, stale = false, allocated = false;
  bool podman = false;  // as in LockPathArgs
};
Result<Outcome> lock_status_command(const LockStatusArgs& args,
                                    const Context&);

}  // namespace ipctk

#endif  // IPCTK_LOCK_CLI_H_
