#ifndef IPCTK_SEM_CLI_H_
#define IPCTK_SEM_CLI_H_

#include <string>
#include <vector>

#include "tool.h"

/// The subcommands of sysv-sem: each takes its options as typed (parsed
/// here, so that every bad value gets the contract's error) and returns the
/// document to print. See sysv-sem(1).
namespace ipctk {

struct SemGetArgs {
  std::string key, key_path, proj_id, nsems, mode = "0600", init;
  bool is_private = false, create = false, excl = false;
};
Result<Outcome> sem_get_command(const SemGetArgs& args, const Context&);

/// op: words are `[ID] SPEC...`.
struct SemOpArgs {
  TargetArgs target;
  std::vector<std::string> words;
  std::string timeout, conflict_exit_code;
  bool nowait = false, undo = false;
};
Result<Outcome> sem_op_command(const SemOpArgs& args, const Context&);

/// P and V: words are `[ID] [NUM]`.
struct SemPvArgs {
  TargetArgs target;
  std::vector<std::string> words;
  std::string by = "1", timeout, conflict_exit_code;
  bool nowait = false, undo = false;
};
/// `release` is V (add), otherwise P (take, waiting while it cannot).
Result<Outcome> sem_pv_command(const SemPvArgs& args, bool release,
                               const Context&);

struct SemStatArgs {
  TargetArgs target;
  /// --processes: find the threads blocked on it (/proc).
  bool processes = false;
};
Result<Outcome> sem_stat_command(const SemStatArgs& args, const Context&);

struct SemSetArgs {
  TargetArgs target;
  std::vector<std::string> values;
  std::string all, mode, uid, gid;
};
Result<Outcome> sem_set_command(const SemSetArgs& args, const Context&);

struct SemRmArgs {
  std::vector<std::string> ids, keys;
};
Result<Outcome> sem_rm_command(const SemRmArgs& args, const Context&);

struct SemListArgs {
  std::string key, owner;
  bool values = false;
};
Result<Outcome> sem_list_command(const SemListArgs& args, const Context&);

Result<Outcome> sem_info_command(const Context&);

}  // namespace ipctk

#endif  // IPCTK_SEM_CLI_H_
