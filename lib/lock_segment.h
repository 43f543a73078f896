#ifndef IPCTK_LOCK_SEGMENT_H_
#define IPCTK_LOCK_SEGMENT_H_

#include <pthread.h>
#include <semaphore.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "error.h"

/// The lock manager's shared layout, and where it lives: a POSIX shm object
/// ("/name"), a regular file (any path with another '/', or no leading
/// '/'), or anonymous shared memory (for fork-based users and tests). One
/// format for all three; opening checks every header field against the
/// object's real size, so a truncated, foreign or lying segment is refused.
namespace ipctk {

enum class Placement { kShm, kFile, kAnonymous };

struct SegmentPath {
  Placement placement = Placement::kShm;
  std::string name;  // "/name" for shm, the path for a file

  /// "shm", "file" or "anonymous".
  const char* backend() const;
};

/// "/name" (one leading slash, no other) is a POSIX shm object; anything
/// else names a file. Empty, "/" and names longer than NAME_MAX are usage
/// errors.
Result<SegmentPath> parse_segment_path(std::string_view text);

/// $SHMCTL_LOCK_PATH, else "/shmctl-lock" for root and
/// "/shmctl-lock-UID" for anyone else (as podman separates rootless users).
std::string default_segment_path();

inline constexpr char kSegmentMagic[8] = {'i', 'p', 'c', 't', 'k', 'L', 'C', 'K'};
/// 2: the owner word is the lock and the semaphore only wakes waiters (in
/// 1 the semaphore was the lock and the owner was recorded after it).
inline constexpr uint32_t kSegmentVersion = 2;
inline constexpr uint32_t kSegmentReady = 0x52454459;  // "READY"
/// Locks come in whole bitmap words.
inline constexpr uint64_t kLocksPerWord = 64;
inline constexpr uint64_t kDefaultLocks = 2048;
/// 2^22 words: far more than anyone needs, and a bound a lying header
/// cannot exceed.
inline constexpr uint64_t kMaxLocks = uint64_t{1} << 28;

/// The segment's first bytes. The sizes of the parts are recorded so that
/// a binary built with another pthread_mutex_t or sem_t (another ABI), or a
/// later version of this layout, is refused instead of misread (podman's
/// header has no such fields, so its users see ERANGE and garbage after an
/// ABI change: podman issues #9164, #16119).
struct SegmentHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_size;   // sizeof(SegmentHeader)
  uint32_t slot_size;     // sizeof(LockSlot)
  uint32_t mutex_size;    // sizeof(pthread_mutex_t)
  uint32_t sem_size;      // sizeof(sem_t)
  uint32_t reserved0;
  uint64_t lock_count;    // a multiple of kLocksPerWord
  uint64_t bitmap_offset; // lock_count / 64 words of allocation bits
  uint64_t slots_offset;  // lock_count slots
  uint64_t total_size;    // the whole layout; the object is exactly this big
  /// kSegmentReady once the creator has initialized everything (stored
  /// last, with release order): openers wait for it.
  std::atomic<uint32_t> ready;
  uint32_t reserved1;
  // Guarded by `mutex`:
  uint64_t next_free_word;  // no free bit in any word before this one
  uint64_t allocated;       // bits set in the bitmap
  alignas(64) pthread_mutex_t mutex;  // robust, process-shared
};

/// One lock, on a cache line of its own so that locks taken by different
/// processes do not slow each other down.
///
/// The owner word is the lock: taking it and recording the holder are one
/// compare-and-swap (0 to the holder), releasing is another (the holder to
/// 0). So a lock is never held without a recorded owner, of two unlocks
/// only one releases, and taking over a dead owner's lock is one more swap.
/// The process-shared semaphore is where waiters sleep: a release posts it
/// when `waiters` says someone waits and no wake-up is pending, so its
/// value stays small (two releases at once may both post), and any
/// process may post it.
struct alignas(64) LockSlot {
  std::atomic<uint64_t> owner;      // 0 free, else pack_owner() of the holder
  std::atomic<int64_t> since_ns;    // CLOCK_REALTIME when it was taken
  std::atomic<uint32_t> waiters;    // processes blocked in lock() on it
  uint32_t reserved;
  sem_t sem;                        // wake-ups for waiters
};
static_assert(sizeof(LockSlot) == 64);
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

/// The bytes a segment of `locks` locks takes.
uint64_t segment_size(uint64_t locks);

/// Whether a segment owned by `owner` may be used by a process whose
/// effective uid is `caller`: its own, or root's, unless `any_owner`.
/// /dev/shm and /tmp are writable by everyone, so another user can make
/// the object first (the default /dev/shm/shmctl-lock before root's first
/// use, say) and would then hold, release and forge the caller's locks:
/// such a segment is refused with EPERM. `where` names it in the message.
Status check_segment_owner(uid_t owner, uid_t caller, bool any_owner,
                           const std::string& where);

/// Checks a segment's bytes: magic, version, the recorded sizes against
/// this build's, the lock count against the limits, every offset against
/// the layout and the total against `size` (the object's real size). A
/// pure function of the bytes (for tests and fuzzing); `where` names the
/// object in messages.
Status validate_segment(const void* data, size_t size, const std::string& where);

/// A mapped segment. Unmapped (and its fd closed) when destroyed.
class LockSegment {
 public:
  struct CreateOptions {
    uint64_t locks = kDefaultLocks;  // rounded up to a multiple of 64
    unsigned mode = 0600;
    bool exist_ok = false;           // open it if it exists (and is valid)
    /// With exist_ok: an existing segment of another lock count is an
    /// error (an explicit --locks), or is taken as it is (the default).
    bool exact_locks = true;
    /// With exist_ok: open an existing segment whoever owns it (see
    /// OpenOptions::any_owner).
    bool any_owner = false;
  };

  struct OpenOptions {
    /// A segment of another (rounded) lock count is an error.
    std::optional<uint64_t> expect_locks;
    /// Use a segment owned by any user; without it, one owned by neither
    /// the caller's effective uid nor root is refused (check_segment_owner,
    /// on the fstat of the descriptor opened, so no other file can be
    /// swapped in between).
    bool any_owner = false;
  };

  /// Creates the segment race-free (O_CREAT|O_EXCL; others who open it
  /// meanwhile wait for its ready mark). With exist_ok an existing valid
  /// segment is opened; `created` says which happened.
  static Result<LockSegment> create(const SegmentPath& path,
                                    const CreateOptions& options,
                                    bool* created);

  /// Opens, checks the owner of, and validates an existing segment.
  static Result<LockSegment> open(const SegmentPath& path,
                                  const OpenOptions& options);
  static Result<LockSegment> open(const SegmentPath& path) {
    return open(path, OpenOptions());
  }

  /// A segment in anonymous shared memory: shared with children forked
  /// after this call, gone with the last of them.
  static Result<LockSegment> anonymous(uint64_t locks);

  /// shm_unlink or unlink.
  static Status remove(const SegmentPath& path);

  LockSegment(LockSegment&& other) noexcept;
  LockSegment& operator=(LockSegment&& other) noexcept;
  LockSegment(const LockSegment&) = delete;
  LockSegment& operator=(const LockSegment&) = delete;
  ~LockSegment();

  SegmentHeader* header() const { return reinterpret_cast<SegmentHeader*>(base_); }
  uint64_t* bitmap() const {
    return reinterpret_cast<uint64_t*>(base_ + header()->bitmap_offset);
  }
  LockSlot* slot(uint64_t id) const {
    return reinterpret_cast<LockSlot*>(base_ + header()->slots_offset) + id;
  }
  uint64_t lock_count() const { return header()->lock_count; }
  uint64_t size() const { return size_; }
  const SegmentPath& path() const { return path_; }

 private:
  LockSegment(SegmentPath path, char* base, uint64_t size)
      : path_(std::move(path)), base_(base), size_(size) {}

  SegmentPath path_;
  char* base_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace ipctk

#endif  // IPCTK_LOCK_SEGMENT_H_
