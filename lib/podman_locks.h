#ifndef IPCTK_PODMAN_LOCKS_H_
#define IPCTK_PODMAN_LOCKS_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "error.h"

/// Podman's own lock segment, read and never written: the POSIX shm object
/// in which libpod keeps one robust process-shared pthread mutex per
/// container, pod and volume (libpod/lock/shm/shm_lock.h, podman 4 and 5).
/// Its layout, for glibc on a 64-bit build:
///
///   offset 0   uint16 magic 0x87D1, uint16 unused (0)
///          8   pthread_mutex_t segment lock (guards the bitmaps)
///         48   uint32 num_bitmaps
///         52   uint32 num_locks
///         56   num_bitmaps groups of {uint32 bitmap; pthread_mutex_t locks[32]}
///              (the mutexes 8-aligned: a group is 8 + 32 * 40 = 1288 bytes)
///
/// Bit b of group g set means lock 32 * g + b is allocated. The header has
/// no size or ABI field: what is checked is that the object's size is the
/// one its counts make with this build's mutex, and that every mutex is of
/// the robust, process-shared kind podman makes.
namespace ipctk {

inline constexpr uint16_t kPodmanMagic = 0x87D1;
inline constexpr size_t kPodmanHeaderSize = 56;
inline constexpr uint32_t kPodmanBitmapBits = 32;
/// More locks than any podman is configured with (its default is 2,048;
/// 16M locks make a 644 MB object): a header saying so is corrupt.
inline constexpr uint32_t kPodmanMaxLocks = uint32_t{1} << 24;

/// podman's default path: /libpod_lock for root, /libpod_rootless_lock_UID
/// for anyone else (its rootless mode).
std::string podman_default_path();

/// What a mutex's words say, read without locking it. glibc keeps the
/// holder's thread id in the lock word (the futex); when a holder dies, the
/// kernel clears it and sets FUTEX_OWNER_DIED, and glibc's owner field
/// still names the thread that had it.
struct MutexState {
  bool held = false;          // a thread holds it (its id is in the word)
  bool owner_died = false;    // its holder died holding it (EOWNERDEAD next)
  /// Given up for good: a locker got EOWNERDEAD and unlocked without
  /// pthread_mutex_consistent; every lock of it fails (ENOTRECOVERABLE).
  bool not_recoverable = false;
  /// Taken after EOWNERDEAD and not yet made consistent.
  bool inconsistent = false;
  bool waiters = false;       // FUTEX_WAITERS: threads sleep on it
  pid_t holder_tid = 0;       // the holder, or for owner_died the one that died
};

/// The state of the 40-byte pthread_mutex_t at `mutex` (x86_64 glibc:
/// int __lock at 0, int __owner at 8), from its two words.
MutexState mutex_state(uint32_t lock_word, int32_t owner_field);

/// The layout a header and the object's size describe. Pure, for tests on
/// made-up headers: `head` is the object's first kPodmanHeaderSize bytes
/// (fewer when the object is shorter).
struct PodmanLayout {
  uint32_t bitmaps = 0;
  uint32_t locks = 0;
  uint64_t size = 0;
};
Result<PodmanLayout> podman_layout(std::string_view head, uint64_t size,
                                   const std::string& path);

/// The segment, mapped read-only.
class PodmanSegment {
 public:
  /// Opens `path` ("/name" in /dev/shm, or a file) read-only, checks the
  /// layout and every mutex's kind, and maps it read-only.
  static Result<PodmanSegment> open(const std::string& path, bool shm);

  PodmanSegment(PodmanSegment&& other) noexcept;
  PodmanSegment& operator=(PodmanSegment&&) = delete;
  ~PodmanSegment();

  const PodmanLayout& layout() const { return layout_; }
  const std::string& path() const { return path_; }

  /// The process of thread `tid` if it has this object mapped: a thread
  /// id is only the holder's if its process uses the segment (an id of
  /// another pid namespace, or one reused since, names another process).
  std::optional<pid_t> holder_process(pid_t tid) const;

  bool allocated(uint32_t id) const;
  MutexState lock(uint32_t id) const;
  MutexState segment_lock() const;

 private:
  PodmanSegment(std::string path, PodmanLayout layout, const unsigned char* base,
                dev_t dev, ino_t ino)
      : path_(std::move(path)), layout_(layout), base_(base), dev_(dev), ino_(ino) {}
  const unsigned char* mutex_at(uint32_t id) const;

  std::string path_;
  PodmanLayout layout_;
  const unsigned char* base_ = nullptr;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

/// The process (thread group) of thread `tid`: "Tgid:" of /proc/TID/status,
/// or none when there is no such thread.
std::optional<pid_t> thread_group(pid_t tid);

/// Whether a /proc/PID/maps text maps the file on device `dev` (its maps
/// form "MAJOR:MINOR" in hex) with inode `ino`.
bool maps_file(std::string_view maps, dev_t dev, ino_t ino);

/// The "Tgid:" line of a /proc/TID/status text.
std::optional<pid_t> parse_status_tgid(std::string_view status);

}  // namespace ipctk

#endif  // IPCTK_PODMAN_LOCKS_H_
