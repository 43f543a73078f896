#ifndef IPCTK_IPC_PERM_H_
#define IPCTK_IPC_PERM_H_

#include <sys/types.h>

#include <string>

#include "error.h"

/// The kernel's rule for who may remove or change a System V object,
/// checked ahead of the syscall so that a command naming several objects
/// refuses them all before it touches any.
namespace ipctk {

/// CAP_SYS_ADMIN in the effective set (capget(2); there is no glibc
/// wrapper). Root without the capability (a container) does not have it.
bool has_sys_admin();

/// EPERM unless the caller is the object's owner (`uid`) or creator
/// (`cuid`), or has CAP_SYS_ADMIN: what IPC_RMID and IPC_SET require.
/// `op` is the syscall ("shmctl"), `what` names the object ("segment 5").
Status check_ipc_owner(uid_t uid, uid_t cuid, const char* op,
                       const std::string& what, const std::string& noun);

}  // namespace ipctk

#endif  // IPCTK_IPC_PERM_H_
