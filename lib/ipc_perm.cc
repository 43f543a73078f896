#include "ipc_perm.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdint>

#include "parse.h"

namespace ipctk {

namespace {

bool has_capability(unsigned cap) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return geteuid() == 0;
  return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

bool in_group(gid_t gid) {
  if (getegid() == gid) return true;
  gid_t groups[NGROUPS_MAX];
  int n = getgroups(NGROUPS_MAX, groups);
  for (int i = 0; i < n; ++i)
    if (groups[i] == gid) return true;
  return false;
}

}  // namespace

bool has_sys_admin() { return has_capability(CAP_SYS_ADMIN); }

unsigned ipc_granted(unsigned mode, bool owner, bool group) {
  if (owner) return (mode >> 6) & 7;
  if (group) return (mode >> 3) & 7;
  return mode & 7;
}

bool ipc_allows(uid_t uid, uid_t cuid, gid_t gid, gid_t cgid, unsigned mode,
                unsigned want) {
  uid_t euid = geteuid();
  bool owner = euid == uid || euid == cuid;
  bool group = !owner && (in_group(gid) || in_group(cgid));
  if ((want & ~ipc_granted(mode, owner, group) & 7) == 0) return true;
  return has_capability(CAP_IPC_OWNER);
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
