#include "podman_locks.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstring>

#include "io.h"
#include "lock_segment.h"

namespace ipctk {

namespace {

// The layout as this build's compiler lays out podman's C structs: the
// mutex's size and alignment are this build's (40 and 8 with glibc on
// x86_64 and arm64).
constexpr size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
constexpr size_t kMutexSize = sizeof(pthread_mutex_t);
constexpr size_t kMutexAlign = alignof(pthread_mutex_t);
constexpr size_t kSegmentLockAt = align_up(4, kMutexAlign);
constexpr size_t kNumBitmapsAt = kSegmentLockAt + kMutexSize;
constexpr size_t kNumLocksAt = kNumBitmapsAt + 4;
constexpr size_t kGroupsAt = align_up(kNumLocksAt + 4, kMutexAlign);
constexpr size_t kGroupLocksAt = align_up(4, kMutexAlign);
constexpr size_t kGroupSize =
    align_up(kGroupLocksAt + kPodmanBitmapBits * kMutexSize, kMutexAlign);
static_assert(kGroupsAt == kPodmanHeaderSize || kMutexSize != 40,
              "a 40-byte mutex makes podman's 56-byte header");

// glibc's mutex words, as this build's headers place them.
constexpr size_t kLockWordAt = offsetof(pthread_mutex_t, __data.__lock);
constexpr size_t kOwnerAt = offsetof(pthread_mutex_t, __data.__owner);
constexpr size_t kKindAt = offsetof(pthread_mutex_t, __data.__kind);

// The futex word of a robust mutex (linux/futex.h).
constexpr uint32_t kFutexWaiters = 0x80000000u;
constexpr uint32_t kFutexOwnerDied = 0x40000000u;
constexpr uint32_t kFutexTidMask = 0x3fffffffu;
// glibc's owner field after EOWNERDEAD (until pthread_mutex_consistent),
// and once it is given up for good.
constexpr int32_t kOwnerInconsistent = INT_MAX;
constexpr int32_t kOwnerNotRecoverable = INT_MAX - 1;
// The kind podman's mutexes are made with: PTHREAD_MUTEX_ROBUST (glibc's
// PTHREAD_MUTEX_ROBUST_NORMAL_NP, 16) and process-shared (glibc's bit 128),
// of the normal type.
constexpr int32_t kRobustBit = 16;
constexpr int32_t kPsharedBit = 128;

uint32_t load_u32(const unsigned char* p) {
  return __atomic_load_n(reinterpret_cast<const uint32_t*>(p), __ATOMIC_RELAXED);
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

Error refused(const std::string& path, const std::string& why) {
  return Error{"podman", EPROTO, path + ": " + why,
               "nothing was read from it; --podman reads only podman's lock "
               "segment of this ABI (podman 4 and 5, glibc)",
               kExitFailed};
}

}  // namespace

std::string podman_default_path() {
  if (geteuid() == 0) return "/libpod_lock";
  return "/libpod_rootless_lock_" + std::to_string(geteuid());
}

MutexState mutex_state(uint32_t word, int32_t owner) {
  MutexState s;
  s.waiters = (word & kFutexWaiters) != 0;
  pid_t tid = static_cast<pid_t>(word & kFutexTidMask);
  // First: a not-recoverable mutex may still carry the id of a thread
  // that tried it (glibc's trylock leaves it), and is not held by it.
  if (owner == kOwnerNotRecoverable) {
    s.not_recoverable = true;
    return s;
  }
  s.inconsistent = owner == kOwnerInconsistent && tid != 0;
  if (tid != 0) {
    s.held = true;
    s.holder_tid = tid;
  } else if ((word & kFutexOwnerDied) != 0) {
    s.owner_died = true;
    if (owner > 0 && owner < kOwnerNotRecoverable) s.holder_tid = owner;
  }
  return s;
}

Result<PodmanLayout> podman_layout(std::string_view head, uint64_t size,
                                   const std::string& path) {
  if (head.size() >= sizeof kSegmentMagic &&
      std::memcmp(head.data(), kSegmentMagic, sizeof kSegmentMagic) == 0)
    return Error{"podman", EPROTO,
                 path + " is a shmctl-lock segment, not podman's",
                 "drop --podman to read it", kExitFailed};
  if (size < kGroupsAt || head.size() < kGroupsAt)
    return refused(path, std::to_string(size) + " bytes, shorter than the " +
                             std::to_string(kGroupsAt) + "-byte header of "
                             "podman's lock segment");
  uint16_t magic, unused;
  std::memcpy(&magic, head.data(), 2);
  std::memcpy(&unused, head.data() + 2, 2);
  if (magic != kPodmanMagic)
    return refused(path, "magic " + hex(magic) + ", podman's is " +
                             hex(kPodmanMagic) + ": not podman's lock segment");
  if (unused != 0)
    return refused(path, "the header's unused field is " + std::to_string(unused) +
                             " (podman 4 and 5 write 0): another version of "
                             "podman's layout");
  PodmanLayout l;
  std::memcpy(&l.bitmaps, head.data() + kNumBitmapsAt, 4);
  std::memcpy(&l.locks, head.data() + kNumLocksAt, 4);
  l.size = size;
  // podman makes num_locks a multiple of 32, in num_locks / 32 bitmaps.
  if (l.bitmaps == 0 || l.locks != uint64_t{l.bitmaps} * kPodmanBitmapBits)
    return refused(path, "num_locks " + std::to_string(l.locks) +
                             " does not fit num_bitmaps " +
                             std::to_string(l.bitmaps) + " (32 locks each)");
  if (l.locks > kPodmanMaxLocks)
    return refused(path, "num_locks " + std::to_string(l.locks) +
                             " is more than the " + std::to_string(kPodmanMaxLocks) +
                             " this reader takes to be plausible");
  uint64_t want = kGroupsAt + uint64_t{l.bitmaps} * kGroupSize;
  if (size != want)
    return refused(path,
                   std::to_string(size) + " bytes, but " +
                       std::to_string(l.bitmaps) + " bitmaps of " +
                       std::to_string(kPodmanBitmapBits) + " locks make " +
                       std::to_string(want) + " with this build's " +
                       std::to_string(kMutexSize) + "-byte pthread_mutex_t" +
                       (size < want ? " (num_locks larger than the object)"
                                    : "") +
                       ": another ABI, or another podman layout");
  return l;
}

Result<PodmanSegment> PodmanSegment::open(const std::string& name, bool shm) {
  std::string file = shm ? "/dev/shm" + name : name;
  // Only a regular file is opened: opening a FIFO would block, and a
  // device may act on being opened (a watchdog starts).
  struct stat first;
  if (lstat(file.c_str(), &first) != 0) {
    int err = errno;
    return sys_error("stat", err, file,
                     err == ENOENT ? "podman makes it on its first use (any "
                                     "podman command); rootless podman's is "
                                     "/libpod_rootless_lock_UID"
                                   : "");
  }
  if (!S_ISREG(first.st_mode)) return refused(name, "not a regular file");
  int fd = ::open(file.c_str(),
                  O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return sys_error("open", errno, file);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return sys_error("fstat", err, file);
  }
  if (!S_ISREG(st.st_mode) || st.st_dev != first.st_dev || st.st_ino != first.st_ino) {
    ::close(fd);
    return refused(name, "replaced while it was opened");
  }
  char head[kGroupsAt] = {};
  ssize_t n = pread(fd, head, sizeof head, 0);
  if (n < 0) {
    int err = errno;
    ::close(fd);
    return sys_error("read", err, file);
  }
  auto layout = podman_layout(std::string_view(head, static_cast<size_t>(n)),
                              static_cast<uint64_t>(st.st_size), name);
  if (!layout) {
    ::close(fd);
    return layout.error();
  }
  // Read-only: podman's segment is never written, nor any mutex in it
  // locked, by this mapping.
  void* base = mmap(nullptr, layout->size, PROT_READ, MAP_SHARED, fd, 0);
  int err = errno;
  ::close(fd);
  if (base == MAP_FAILED) return sys_error("mmap", err, file);
  PodmanSegment seg(name, *layout, static_cast<const unsigned char*>(base),
                    st.st_dev, st.st_ino);
  // Every mutex must be of the kind podman makes: a mutex of another size
  // or layout shows here as garbage where the kind should be.
  auto kind_of = [](const unsigned char* m) {
    int32_t kind;
    std::memcpy(&kind, m + kKindAt, 4);
    return kind;
  };
  auto podmans = [](int32_t kind) {
    return (kind & kRobustBit) != 0 && (kind & kPsharedBit) != 0 &&
           (kind & 3) == PTHREAD_MUTEX_NORMAL;
  };
  if (!podmans(kind_of(seg.base_ + kSegmentLockAt)))
    return refused(name, "the segment lock's mutex kind is " +
                             hex(static_cast<uint32_t>(kind_of(seg.base_ + kSegmentLockAt))) +
                             ", not the robust process-shared kind podman makes: "
                             "another ABI, or not podman's segment");
  for (uint32_t id = 0; id < layout->locks; ++id)
    if (!podmans(kind_of(seg.mutex_at(id))))
      return refused(name, "lock " + std::to_string(id) + "'s mutex kind is " +
                               hex(static_cast<uint32_t>(kind_of(seg.mutex_at(id)))) +
                               ", not the robust process-shared kind podman "
                               "makes: another ABI, or not podman's segment");
  return seg;
}

PodmanSegment::PodmanSegment(PodmanSegment&& other) noexcept
    : path_(std::move(other.path_)), layout_(other.layout_), base_(other.base_),
      dev_(other.dev_), ino_(other.ino_) {
  other.base_ = nullptr;
}

PodmanSegment::~PodmanSegment() {
  if (base_ != nullptr) munmap(const_cast<unsigned char*>(base_), layout_.size);
}

const unsigned char* PodmanSegment::mutex_at(uint32_t id) const {
  return base_ + kGroupsAt + (id / kPodmanBitmapBits) * kGroupSize +
         kGroupLocksAt + (id % kPodmanBitmapBits) * kMutexSize;
}

bool PodmanSegment::allocated(uint32_t id) const {
  uint32_t bitmap = load_u32(base_ + kGroupsAt + (id / kPodmanBitmapBits) * kGroupSize);
  return (bitmap >> (id % kPodmanBitmapBits)) & 1;
}

MutexState PodmanSegment::lock(uint32_t id) const {
  const unsigned char* m = mutex_at(id);
  return mutex_state(load_u32(m + kLockWordAt),
                     static_cast<int32_t>(load_u32(m + kOwnerAt)));
}

MutexState PodmanSegment::segment_lock() const {
  const unsigned char* m = base_ + kSegmentLockAt;
  return mutex_state(load_u32(m + kLockWordAt),
                     static_cast<int32_t>(load_u32(m + kOwnerAt)));
}

std::optional<pid_t> parse_status_tgid(std::string_view status) {
  size_t at = status.find("\nTgid:");
  if (at == std::string_view::npos) {
    if (status.substr(0, 5) != "Tgid:") return std::nullopt;
    at = 0;
  } else {
    at += 1;
  }
  std::string_view rest = status.substr(at + 5);
  rest = rest.substr(0, rest.find('\n'));
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t'))
    rest.remove_prefix(1);
  pid_t pid = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
  if (ec != std::errc() || p != rest.data() + rest.size() || pid <= 0)
    return std::nullopt;
  return pid;
}

bool maps_file(std::string_view maps, dev_t dev, ino_t ino) {
  char want[40];
  std::snprintf(want, sizeof want, "%02x:%02x %llu", major(dev), minor(dev),
                static_cast<unsigned long long>(ino));
  std::string_view w(want);
  while (!maps.empty()) {
    size_t end = maps.find('\n');
    std::string_view line = maps.substr(0, end);
    maps.remove_prefix(end == std::string_view::npos ? maps.size() : end + 1);
    // address perms offset dev inode path: the 4th and 5th fields.
    size_t at = 0;
    for (int field = 0; field < 3 && at != std::string_view::npos; ++field) {
      at = line.find(' ', at);
      if (at != std::string_view::npos) at = line.find_first_not_of(' ', at);
    }
    if (at == std::string_view::npos) continue;
    std::string_view rest = line.substr(at);
    if (rest.substr(0, w.size()) == w &&
        (rest.size() == w.size() || rest[w.size()] == ' '))
      return true;
  }
  return false;
}

std::optional<pid_t> PodmanSegment::holder_process(pid_t tid) const {
  auto pid = thread_group(tid);
  if (!pid) return std::nullopt;
  auto maps = read_whole_file(("/proc/" + std::to_string(*pid) + "/maps").c_str());
  if (!maps || !maps_file(*maps, dev_, ino_)) return std::nullopt;
  return pid;
}

std::optional<pid_t> thread_group(pid_t tid) {
  if (tid <= 0) return std::nullopt;
  auto text = read_whole_file(("/proc/" + std::to_string(tid) + "/status").c_str());
  if (!text) return std::nullopt;
  return parse_status_tgid(*text);
}

}  // namespace ipctk
