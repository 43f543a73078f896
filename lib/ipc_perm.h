#ifndef IPCTK_IPC_PERM_H_
#define IPCTK_IPC_PERM_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "error.h"

/// The kernel's rule for who may remove or change a System V object,
/// checked ahead of the syscall so that a command naming several objects
/// refuses them all before it touches any.
namespace ipctk {

/// CAP_SYS_ADMIN in the effective set (capget(2); there is no glibc
/// wrapper). Root without the capability (a container) does not have it.
bool has_sys_admin();

/// The three permission bits of `mode` that apply to a caller who is the
/// object's owner or creator (`owner`), or else in its group (`group`),
/// or else anyone: the kernel's ipcperms() rule.
unsigned ipc_granted(unsigned mode, bool owner, bool group);

inline constexpr unsigned kIpcRead = 4;
inline constexpr unsigned kIpcWrite = 2;  // write, or alter a semaphore

/// Whether this process may read or write (`want`: kIpcRead, kIpcWrite)
/// an object with these owners and mode, as the kernel decides it: its
/// effective uid, effective gid and supplementary groups, or
/// CAP_IPC_OWNER. For checking ahead of a call whose refusal would still
/// leave a trace (see sysv-sem's undo operations).
bool ipc_allows(uid_t uid, uid_t cuid, gid_t gid, gid_t cgid, unsigned mode,
                unsigned want);

/// EPERM unless the caller is the object's owner (`uid`) or creator
/// (`cuid`), or has CAP_SYS_ADMIN: what IPC_RMID and IPC_SET require.
/// `op` is the syscall ("shmctl"), `what` names the object ("segment 5").
Status check_ipc_owner(uid_t uid, uid_t cuid, const char* op,
                       const std::string& what, const std::string& noun);

/// The fields IPC_SET changes (`set --mode/--uid/--gid` of every tool);
/// those not given keep their values.
struct PermChange {
  std::optional<unsigned> mode;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

/// Parses --mode, --uid and --gid as typed ("" = not given). Nothing given
/// is a usage error, and so is uid or gid 4294967295, which the kernel
/// reads as "leave unchanged".
Result<PermChange> parse_perm_change(const std::string& mode,
                                     const std::string& uid,
                                     const std::string& gid);

}  // namespace ipctk

#endif  // IPCTK_IPC_PERM_H_
