#include "ipc_perm.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "parse.h"

namespace ipctk {

bool has_sys_admin() {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return geteuid() == 0;
  return (data[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32))) != 0;
}

Status check_ipc_owner(uid_t uid, uid_t cuid, const char* op,
                       const std::string& what, const std::string& noun) {
  uid_t euid = geteuid();
  if (euid == uid || euid == cuid || has_sys_admin()) return Ok{};
  return sys_error(op, EPERM, what,
                   "only the " + noun + "'s owner or creator (uid " +
                       std::to_string(uid) + "/" + std::to_string(cuid) +
                       ") or CAP_SYS_ADMIN may remove or change it");
}

Result<PermChange> parse_perm_change(const std::string& mode,
                                     const std::string& uid,
                                     const std::string& gid) {
  if (mode.empty() && uid.empty() && gid.empty())
    return usage_error("nothing to set", "give --mode, --uid and/or --gid");
  PermChange change;
  if (!mode.empty()) {
    auto m = parse_mode(mode);
    if (!m) return m.error();
    change.mode = *m;
  }
  if (!uid.empty()) {
    auto u = parse_uint(uid, "--uid", UINT32_MAX - 1);
    if (!u) return u.error();
    change.uid = static_cast<uid_t>(*u);
  }
  if (!gid.empty()) {
    auto g = parse_uint(gid, "--gid", UINT32_MAX - 1);
    if (!g) return g.error();
    change.gid = static_cast<gid_t>(*g);
  }
  return change;
}

}  // namespace ipctk
