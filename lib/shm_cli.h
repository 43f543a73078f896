#ifndef IPCTK_SHM_CLI_H_
#define IPCTK_SHM_CLI_H_

#include <optional>
#include <string>
#include <vector>

#include "tool.h"

/// The subcommands of sysv-shm: each takes its options as typed (strings
/// parsed here, so that every bad value gets the contract's error) and
/// returns the document to print. See sysv-shm(1).
namespace ipctk {

struct ShmCreateArgs {
  std::string size, key, key_path, proj_id, mode = "0600";
  bool is_private = false, excl = false, hugetlb = false, noreserve = false;
};
Result<Outcome> shm_create_command(const ShmCreateArgs& args, const Context&);

struct ShmAttachArgs {
  TargetArgs target;
  bool readonly = false;
  std::string hold;
};
Result<Outcome> shm_attach_command(const ShmAttachArgs& args, const Context&);

struct ShmReadArgs {
  TargetArgs target;
  std::string offset, length, encoding = "base64";
  bool raw = false;
};
Result<Outcome> shm_read_command(const ShmReadArgs& args, const Context&);

struct ShmWriteArgs {
  TargetArgs target;
  std::string offset, length, file;
  std::optional<std::string> data, hex, base64;
  bool zero_fill = false;
};
Result<Outcome> shm_write_command(const ShmWriteArgs& args, const Context&);

struct ShmRmArgs {
  std::vector<std::string> ids, keys;
};
Result<Outcome> shm_rm_command(const ShmRmArgs& args, const Context&);

struct ShmStatArgs {
  TargetArgs target;
  /// --processes: find the processes that have it attached (/proc).
  bool processes = false;
};
Result<Outcome> shm_stat_command(const ShmStatArgs& args, const Context&);

struct ShmListArgs {
  std::string key, owner, creator_pid;
};
Result<Outcome> shm_list_command(const ShmListArgs& args, const Context&);

Result<Outcome> shm_info_command(const Context&);

struct ShmSetArgs {
  TargetArgs target;
  std::string mode, uid, gid;
};
Result<Outcome> shm_set_command(const ShmSetArgs& args, const Context&);

/// SHM_LOCK / SHM_UNLOCK.
Result<Outcome> shm_lock_command(const ShmStatArgs& args, bool lock,
                                 const Context&);

}  // namespace ipctk

#endif  // IPCTK_SHM_CLI_H_
