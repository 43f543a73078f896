#ifndef IPCTK_NAMES_H_
#define IPCTK_NAMES_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

/// User and group names for the tables. Read from /etc/passwd and
/// /etc/group themselves rather than through getpwuid(3): the tools are
/// linked statically, where glibc's NSS would have to load the shared
/// modules of the very glibc it was built with. Accounts that only a
/// directory service (LDAP, sssd) knows are shown by number.
namespace ipctk {

/// id -> name from the text of a passwd(5) or group(5) file: the first
/// field is the name, the third the id. Malformed lines are skipped; the
/// first line naming an id wins, as getpwuid(3) would find it.
std::unordered_map<uint32_t, std::string> parse_id_names(std::string_view text);

/// The name of a uid ("root"), or its number when it has none.
std::string user_name(uint32_t uid);

/// The name of a gid, or its number.
std::string group_name(uint32_t gid);

/// The command name (/proc/PID/comm) of `pid`, or "" when it is gone, or
/// when `acted_at` is given and the process running now had not started
/// by then (see process_label).
std::string acting_process_name(pid_t pid, std::optional<int64_t> acted_at);

/// "name (pid)" of a process from /proc/PID/comm; "-" for pid 0 (none).
/// With `acted_at` (a time the kernel recorded for what the pid did), the
/// name is given only if the process running now had started by then: a
/// pid reused since names another process, and is shown bare, as it is
/// when the process is gone.
std::string process_label(pid_t pid, std::optional<int64_t> acted_at);

}  // namespace ipctk

#endif  // IPCTK_NAMES_H_
