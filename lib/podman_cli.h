#ifndef IPCTK_PODMAN_CLI_H_
#define IPCTK_PODMAN_CLI_H_

#include "lock_cli.h"

/// shmctl-lock info --podman and status --podman: podman's own lock
/// segment (podman_locks.h), read-only. See "PODMAN'S LOCKS" in
/// shmctl-lock(1).
namespace ipctk {

Result<Outcome> podman_info_command(const LockPathArgs& args, const Context&);
Result<Outcome> podman_status_command(const LockStatusArgs& args, const Context&);

}  // namespace ipctk

#endif  // IPCTK_PODMAN_CLI_H_
