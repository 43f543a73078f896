#ifndef IPCTK_VIEWS_H_
#define IPCTK_VIEWS_H_

#include <string>

#include "json_out.h"
#include "table.h"

/// The --table views of the tools' documents. Each is drawn from the very
/// document the command would print as JSON, so the two cannot say
/// different things; the view only makes values readable (names for uids,
/// gids and pids, sizes as 4K, local times) and never adds a value the
/// document lacks. Drawn from a document of another shape (a missing
/// field) they throw nlohmann's type error, which the frame reports.
namespace ipctk {

/// sysv-shm list: one line per segment, the columns of `ipcs -m` and more.
std::string shm_list_view(const Json& doc, const TableOptions& options);
/// sysv-shm stat: one line per field.
std::string shm_stat_view(const Json& doc, const TableOptions& options);
/// sysv-shm info: the limits against their use, as `lsipc -g` shows them.
std::string shm_info_view(const Json& doc, const TableOptions& options);

/// sysv-sem list: one line per set (with --values, their values and
/// waiters too).
std::string sem_list_view(const Json& doc, const TableOptions& options);
/// sysv-sem stat: the set's fields, then one line per semaphore.
std::string sem_stat_view(const Json& doc, const TableOptions& options);
/// sysv-sem info: the limits against their use.
std::string sem_info_view(const Json& doc, const TableOptions& options);

/// shmctl-lock info: one line per field. (status streams its own table:
/// see lock_cli.cc.)
std::string lock_info_view(const Json& doc, const TableOptions& options);

/// shmctl-lock status --podman: one line per lock shown (STATE free, held,
/// or OWNER-DIED), then the totals and the segment lock.
std::string podman_status_view(const Json& doc, const TableOptions& options);
/// shmctl-lock info --podman: one line per field.
std::string podman_info_view(const Json& doc, const TableOptions& options);

/// "0600 rw-------": a mode in octal and as ls(1) shows it.
std::string mode_text(unsigned mode);

}  // namespace ipctk

#endif  // IPCTK_VIEWS_H_
