#ifndef IPCTK_SHM_SEGMENT_H_
#define IPCTK_SHM_SEGMENT_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "error.h"
#include "ipc_perm.h"
#include "json_out.h"

/// System V shared memory segments: create/find/stat/set/remove, and an
/// attachment that moves bytes straight between a file descriptor and the
/// segment's memory.
namespace ipctk {

/// One segment as IPC_STAT or /proc/sysvipc/shm describes it. `mode` holds
/// the kernel's whole mode word, status bits included.
struct ShmInfo {
  int id = -1;
  key_t key = 0;
  uid_t uid = 0, gid = 0, cuid = 0, cgid = 0;
  unsigned mode = 0;
  uint64_t size = 0;
  uint64_t nattch = 0;
  int64_t atime = 0, dtime = 0, ctime = 0;
  pid_t cpid = 0, lpid = 0;

  bool dest() const;
  bool locked() const;
  // No hugetlb()/noreserve(): Linux never records SHM_HUGETLB or
  // SHM_NORESERVE in the mode word, so nothing can read them back.
};

/// The contract's segment object (same fields for stat, list and set).
Json to_json(const ShmInfo& info);

/// Appends to_json(info).dump() to `out`, the same bytes without building
/// the tree: `list` of thousands of segments streams its entries.
void append_json(std::string& out, const ShmInfo& info);

struct ShmCreateRequest {
  key_t key = 0;  // IPC_PRIVATE for a new private segment
  uint64_t size = 0;
  unsigned mode = 0600;
  bool excl = false;
  bool hugetlb = false;
  bool noreserve = false;
};

struct ShmCreated {
  int id = -1;
  bool created = false;
};

/// Creates a segment; without `excl` an existing segment of that key is
/// opened instead (and `created` says which happened). Creation is tried
/// with IPC_EXCL first, so `created` is never a guess.
Result<ShmCreated> shm_create(const ShmCreateRequest& request);

/// The id of the segment with `key` (not IPC_PRIVATE).
Result<int> shm_find(key_t key);

Result<ShmInfo> shm_stat(int id);

/// IPC_SET of the given fields; the others keep the values `current`
/// has (from shm_stat, or shm_describe for a segment the caller cannot
/// read).
Status shm_set(const ShmInfo& current, const PermChange& request);

Status shm_remove(int id);

/// Whether the caller may IPC_RMID or IPC_SET `info` (its owner or
/// creator, or CAP_SYS_ADMIN): checked for every target before any is
/// removed, so that `rm A B` does not remove A and then fail on B.
Status shm_check_owner(const ShmInfo& info);

/// SHM_LOCK (true) or SHM_UNLOCK (false).
Status shm_lock(int id, bool lock);

uint64_t page_size();
/// The default huge page size from /proc/meminfo, or 2 MiB if unknown.
uint64_t huge_page_size();
/// The size in bytes that the text of /proc/meminfo gives on its
/// "Hugepagesize:   2048 kB" line; none when the line is missing or
/// malformed, or gives 0 or more bytes than 64 bits hold.
std::optional<uint64_t> parse_huge_page_size(std::string_view meminfo);
/// `size` rounded up to whole pages (huge pages for hugetlb segments).
uint64_t effective_size(uint64_t size, bool hugetlb);

/// A byte range [offset, offset + length) checked to lie inside a segment.
struct Region {
  uint64_t offset = 0;
  uint64_t length = 0;
};
/// Without `length` the region runs to the end. Out of bounds is ERANGE.
Result<Region> make_region(uint64_t segment_size, uint64_t offset,
                           std::optional<uint64_t> length);

/// The data of a write, staged and measured before the segment is touched,
/// so that input that does not fit fails before anything is attached or
/// written. Bytes from argv are held as they are; a regular file is only
/// measured (it is read straight into the segment later); anything else (a
/// pipe, a terminal, a /proc file that says its size is 0) is read into
/// private memory, because its length is known only at its end.
class StagedInput {
 public:
  static Result<StagedInput> from_bytes(std::string bytes, const Region& region);
  static Result<StagedInput> from_fd(int fd, const Region& region);
  StagedInput(StagedInput&& other) noexcept;
  StagedInput& operator=(StagedInput&&) = delete;
  StagedInput(const StagedInput&) = delete;
  StagedInput& operator=(const StagedInput&) = delete;
  ~StagedInput();

  uint64_t size() const { return size_; }

 private:
  friend class Attachment;
  StagedInput() = default;

  std::string bytes_;
  int fd_ = -1;              // a regular file, read at copy time
  char* scratch_ = nullptr;  // mmap'ed private memory holding the input
  size_t scratch_size_ = 0;
  uint64_t size_ = 0;
  bool from_bytes_ = false;
};

/// An attachment of a segment (shmat); detached when destroyed.
class Attachment {
 public:
  static Result<Attachment> attach(int id, bool readonly);
  Attachment(Attachment&& other) noexcept;
  Attachment& operator=(Attachment&& other) noexcept;
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;
  ~Attachment();

  int id() const { return id_; }
  char* data() const { return data_; }
  uint64_t size() const { return size_; }
  bool readonly() const { return readonly_; }
  std::string_view bytes(const Region& region) const;

  /// Writes `input` into `region` (it was checked to fit when staged);
  /// with `zero_fill` the rest of the region is zeroed. Returns the bytes
  /// written.
  Result<uint64_t> write(const Region& region, class StagedInput& input,
                         bool zero_fill, uint64_t* zeroed) const;

  /// Writes the bytes of `region` to `fd`, straight from the segment.
  Status read_to_fd(const Region& region, int fd) const;

  /// Both copies go through the segment's own file when this process may
  /// open it (/proc/self/map_files: CAP_CHECKPOINT_RESTORE or
  /// CAP_SYS_ADMIN), which maps no page; otherwise through the mapping
  /// (read_to_fd into a regular file by vmsplice + splice, so that the
  /// kernel, not user space, touches the pages). Either way the bytes are
  /// copied once, with no buffer in between.

 private:
  /// The write through the segment's file `backing`: the bytes written,
  /// or nothing if this input cannot go that way and nothing was written.
  Result<std::optional<uint64_t>> write_backing(int backing, uint64_t offset,
                                                StagedInput& input) const;
  Attachment(int id, char* data, uint64_t size, bool readonly)
      : id_(id), data_(data), size_(size), readonly_(readonly) {}
  void detach();

  int id_ = -1;
  char* data_ = nullptr;
  uint64_t size_ = 0;
  bool readonly_ = false;
};

}  // namespace ipctk

#endif  // IPCTK_SHM_SEGMENT_H_
