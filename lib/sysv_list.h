#ifndef IPCTK_SYSV_LIST_H_
#define IPCTK_SYSV_LIST_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "error.h"
#include "json_out.h"
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

}  // namespace ipctk

#endif  // IPCTK_SYSV_LIST_H_
