#ifndef IPCTK_SYSV_LIST_H_
#define IPCTK_SYSV_LIST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "json_out.h"
#include "sem_set.h"
#include "shm_segment.h"

/// Enumerating System V objects and reading the kernel's limits. Like
/// util-linux, /proc/sysvipc is read first (one read, every object), and
/// the SHM_INFO/SHM_STAT loop is the fallback where /proc is not mounted.
namespace ipctk {

/// Parses the text of /proc/sysvipc/shm. Columns are found by the header's
/// names, so 14-column (before rss/swap) and 16-column kernels both parse;
/// a line that does not match the header is an error, not a guess.
Result<std::vector<ShmInfo>> parse_proc_shm(std::string_view text);

/// Every segment visible to the caller.
Result<std::vector<ShmInfo>> list_segments();

/// The fallback alone: SHM_INFO for the highest index, SHM_STAT on each.
Result<std::vector<ShmInfo>> list_segments_by_shm_stat();

struct ShmLimits {
  uint64_t shmmax = 0, shmmin = 0, shmmni = 0, shmseg = 0, shmall = 0;
  uint64_t segments = 0;        // used_ids
  uint64_t pages_total = 0;     // shm_tot
  uint64_t pages_resident = 0;  // shm_rss
  uint64_t pages_swapped = 0;   // shm_swp
};

/// IPC_INFO and SHM_INFO.
Result<ShmLimits> shm_limits();
Json to_json(const ShmLimits& limits);

/// IPC_STAT of a segment or set, or, for a caller who may not read it,
/// its row in /proc/sysvipc (which lists every object): the kernel lets an
/// object's owner remove it or change its mode without read permission,
/// and the ownership check before rm and set must see it too.
Result<ShmInfo> shm_describe(int id);
Result<SemInfo> sem_describe(int id);

/// Parses the text of /proc/sysvipc/sem (columns found by name, as for shm).
Result<std::vector<SemInfo>> parse_proc_sem(std::string_view text);

/// Every semaphore set visible to the caller: /proc first, then the
/// SEM_INFO/SEM_STAT loop.
Result<std::vector<SemInfo>> list_sem_sets();
Result<std::vector<SemInfo>> list_sem_sets_by_sem_stat();

struct SemLimits {
  uint64_t semmsl = 0;  // semaphores per set
  uint64_t semmns = 0;  // semaphores in all sets
  uint64_t semopm = 0;  // operations per semop call
  uint64_t semmni = 0;  // sets
  uint64_t semvmx = 0;  // largest value
  uint64_t semaem = 0;  // largest undo adjustment
  uint64_t sets = 0;        // in use (SEM_INFO's semusz)
  uint64_t semaphores = 0;  // in use (SEM_INFO's semaem)
};

/// IPC_INFO and SEM_INFO.
Result<SemLimits> sem_limits();
Json to_json(const SemLimits& limits);

/// Which of the kernel's limits a failed creation ran into: the kernel
/// says only ENOSPC or EINVAL, and the limits that can cause them differ in
/// what to do about them.
struct LimitHit {
  std::string limit;    // "shmmni", "shmall", "shmmax", "shmmin",
                        // "semmni", "semmns", "semmsl", or two joined by
                        // " or " when the use read afterwards shows neither
  std::string message;  // the limit, its value and the use, in numbers
  std::string hint;     // the info subcommand and fields that show it
};

/// For shmget's ENOSPC, or EINVAL, when creating a segment of `size`
/// bytes, from the limits and use read afterwards (`page_size` is
/// shmall's unit). The kernel's order is followed: shmmin/shmmax
/// (EINVAL), then shmall, then shmmni (ENOSPC). nullopt when no limit
/// explains it (EINVAL for a size within shmmin..shmmax).
std::optional<LimitHit> shm_limit_hit(const ShmLimits& limits, int err,
                                      uint64_t size, uint64_t page_size);

/// For semget's ENOSPC, or EINVAL, when creating a set of `nsems`
/// semaphores: semmsl (EINVAL), then semmns, then semmni (ENOSPC), the
/// kernel's order.
std::optional<LimitHit> sem_limit_hit(const SemLimits& limits, int err,
                                      uint64_t nsems);

}  // namespace ipctk

#endif  // IPCTK_SYSV_LIST_H_
