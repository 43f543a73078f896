#include "lock_segment.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "clock.h"

namespace ipctk {

namespace {

constexpr uint64_t kLine = 64;

uint64_t round_up(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

struct Layout {
  uint64_t bitmap_offset, slots_offset, total_size;
};

Layout layout_for(uint64_t locks) {
  Layout l;
  l.bitmap_offset = round_up(sizeof(SegmentHeader), kLine);
  l.slots_offset =
      round_up(l.bitmap_offset + locks / kLocksPerWord * sizeof(uint64_t), kLine);
  l.total_size = l.slots_offset + locks * sizeof(LockSlot);
  return l;
}

std::string where_text(const SegmentPath& path) {
  return std::string(path.backend()) + " " + path.name;
}

int open_object(const SegmentPath& path, int flags, unsigned mode) {
  if (path.placement == Placement::kShm)
    return shm_open(path.name.c_str(), flags, static_cast<mode_t>(mode));
  // The final component is never followed: a symlink planted where the
  // lock file should be must not redirect writes elsewhere.
  return ::open(path.name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC,
                static_cast<mode_t>(mode));
}

Error object_error(const char* op, int err, const SegmentPath& path) {
  std::string hint;
  if (err == ENOENT)
    hint = "'shmctl-lock init --path " + path.name + "' creates it";
  else if (err == EACCES || err == EPERM)
    hint = "its mode or owner does not allow this caller";
  else if (err == ELOOP)
    hint = "the path is a symbolic link, which is never followed";
  return sys_error(op, err, where_text(path), hint);
}

/// What to do when the file system that holds a new segment is full.
std::string no_room_hint(const SegmentPath& path, uint64_t size) {
  std::string dir = "/dev/shm";
  if (path.placement == Placement::kFile) {
    size_t slash = path.name.rfind('/');
    dir = slash == std::string::npos ? "."
          : slash == 0                ? "/"
                                      : path.name.substr(0, slash);
  }
  return "not enough room for its " + std::to_string(size) + " bytes in " +
         dir + "; 'df " + dir + "' shows the room left, and fewer --locks "
         "need less";
}

Error invalid(const std::string& where, std::string what) {
  return Error{"open", EPROTO, where + ": " + std::move(what),
               "refused: it is not a segment this build can use; 'shmctl-lock "
               "destroy --force' removes it, 'init' makes a new one",
               kExitFailed};
}

/// Fills a fresh (zeroed) mapping of `locks` locks and marks it ready.
Status initialize(char* base, uint64_t locks) {
  Layout l = layout_for(locks);
  auto* h = new (base) SegmentHeader{};
  std::memcpy(h->magic, kSegmentMagic, sizeof h->magic);
  h->version = kSegmentVersion;
  h->header_size = sizeof(SegmentHeader);
  h->slot_size = sizeof(LockSlot);
  h->mutex_size = sizeof(pthread_mutex_t);
  h->sem_size = sizeof(sem_t);
  h->lock_count = locks;
  h->bitmap_offset = l.bitmap_offset;
  h->slots_offset = l.slots_offset;
  h->total_size = l.total_size;
  h->next_free_word = 0;
  h->allocated = 0;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  int rc = pthread_mutex_init(&h->mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) return sys_error("pthread_mutex_init", rc);
  auto* slots = reinterpret_cast<LockSlot*>(base + l.slots_offset);
  for (uint64_t i = 0; i < locks; ++i) {
    auto* s = new (&slots[i]) LockSlot{};
    if (sem_init(&s->sem, 1, 0) != 0) return sys_error("sem_init", errno);
  }
  h->ready.store(kSegmentReady, std::memory_order_release);
  return Ok{};
}

Result<uint64_t> rounded_locks(uint64_t locks) {
  if (locks == 0) return usage_error("--locks: a segment holds at least 1 lock");
  if (locks > kMaxLocks)
    return usage_error("--locks: " + std::to_string(locks) + " is more than " +
                       std::to_string(kMaxLocks));
  return round_up(locks, kLocksPerWord);
}

}  // namespace

const char* SegmentPath::backend() const {
  switch (placement) {
    case Placement::kShm: return "shm";
    case Placement::kFile: return "file";
    case Placement::kAnonymous: return "anonymous";
  }
  return "?";
}

Result<SegmentPath> parse_segment_path(std::string_view text) {
  if (text.empty() || text == "/")
    return usage_error("--path: '" + std::string(text) + "' names nothing",
                       "give /name for a POSIX shm object or a file path");
  if (text.find('\0') != std::string_view::npos)
    return usage_error("--path: contains a NUL byte");
  bool shm = text[0] == '/' && text.find('/', 1) == std::string_view::npos;
  if (shm && text.size() - 1 > NAME_MAX)
    return usage_error("--path: a shm name is at most " +
                       std::to_string(NAME_MAX) + " bytes");
  if (text.back() == '/')
    return usage_error("--path: '" + std::string(text) + "' names a directory",
                       "give a file path, or /name for a POSIX shm object");
  return SegmentPath{shm ? Placement::kShm : Placement::kFile, std::string(text)};
}

std::string default_segment_path() {
  const char* env = getenv("SHMCTL_LOCK_PATH");
  if (env != nullptr && *env != '\0') return env;
  uid_t uid = geteuid();
  if (uid == 0) return "/shmctl-lock";
  return "/shmctl-lock-" + std::to_string(uid);
}

uint64_t segment_size(uint64_t locks) { return layout_for(locks).total_size; }

Status check_segment_owner(uid_t owner, uid_t caller, bool any_owner,
                           const std::string& where) {
  if (any_owner || owner == caller || owner == 0) return Ok{};
  return Error{"open", EPERM,
               where + " is owned by uid " + std::to_string(owner) +
                   ", neither this user (uid " + std::to_string(caller) +
                   ") nor root",
               "refused: its owner could take, release and forge these "
               "locks; --any-owner uses it all the same",
               kExitFailed};
}

Status validate_segment(const void* data, size_t size, const std::string& where) {
  if (size < sizeof(SegmentHeader))
    return invalid(where, "truncated: " + std::to_string(size) +
                              " bytes, less than its " +
                              std::to_string(sizeof(SegmentHeader)) +
                              "-byte header");
  const auto* h = static_cast<const SegmentHeader*>(data);
  if (std::memcmp(h->magic, kSegmentMagic, sizeof h->magic) != 0)
    return invalid(where, "not a shmctl-lock segment (wrong magic)");
  if (h->version != kSegmentVersion)
    return invalid(where, "layout version " + std::to_string(h->version) +
                              ", this build reads version " +
                              std::to_string(kSegmentVersion));
  auto abi = [&](const char* what, uint32_t have, size_t want) -> Status {
    if (have == want) return Ok{};
    return invalid(where, std::string("made by a build whose ") + what +
                              " is " + std::to_string(have) +
                              " bytes; here it is " + std::to_string(want));
  };
  for (Status s : {abi("header", h->header_size, sizeof(SegmentHeader)),
                   abi("lock slot", h->slot_size, sizeof(LockSlot)),
                   abi("pthread_mutex_t", h->mutex_size, sizeof(pthread_mutex_t)),
                   abi("sem_t", h->sem_size, sizeof(sem_t))})
    if (!s) return s;
  if (h->ready.load(std::memory_order_acquire) != kSegmentReady)
    return invalid(where, "not initialized (its creator did not finish)");
  uint64_t locks = h->lock_count;
  if (locks == 0 || locks % kLocksPerWord != 0 || locks > kMaxLocks)
    return invalid(where, "lock count " + std::to_string(locks) +
                              " is not a multiple of 64 in 64.." +
                              std::to_string(kMaxLocks));
  Layout l = layout_for(locks);
  if (h->bitmap_offset != l.bitmap_offset || h->slots_offset != l.slots_offset ||
      h->total_size != l.total_size)
    return invalid(where, "its offsets and size do not match its lock count " +
                              std::to_string(locks));
  if (l.total_size != size)
    return invalid(where, "its header says " + std::to_string(l.total_size) +
                              " bytes for " + std::to_string(locks) +
                              " locks, the object has " + std::to_string(size));
  if (h->next_free_word > locks / kLocksPerWord || h->allocated > locks)
    return invalid(where, "its allocation counters are out of range");
  return Ok{};
}

LockSegment::LockSegment(LockSegment&& other) noexcept
    : path_(std::move(other.path_)), base_(other.base_), size_(other.size_) {
  other.base_ = nullptr;
}

LockSegment& LockSegment::operator=(LockSegment&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) munmap(base_, size_);
    path_ = std::move(other.path_);
    base_ = other.base_;
    size_ = other.size_;
    other.base_ = nullptr;
  }
  return *this;
}

LockSegment::~LockSegment() {
  if (base_ != nullptr) munmap(base_, size_);
}

Result<LockSegment> LockSegment::create(const SegmentPath& path,
                                        const CreateOptions& options,
                                        bool* created) {
  auto locks = rounded_locks(options.locks);
  if (!locks) return locks.error();
  uint64_t size = segment_size(*locks);
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = open_object(path, O_RDWR | O_CREAT | O_EXCL, options.mode);
    if (fd < 0) {
      int err = errno;
      if (err != EEXIST) return object_error("open", err, path);
      if (!options.exist_ok) {
        Error e = object_error("open", err, path);
        e.hint = "it exists; --exist-ok opens it, 'shmctl-lock info --path " +
                 path.name + "' shows it";
        return e;
      }
      OpenOptions how;
      if (options.exact_locks) how.expect_locks = *locks;
      how.any_owner = options.any_owner;
      auto opened = open(path, how);
      if (!opened && opened.error().err == ENOENT) continue;  // removed: again
      if (created != nullptr) *created = false;
      return opened;
    }
    // The umask may have taken bits the caller asked for.
    Status made = Ok{};
    if (fchmod(fd, static_cast<mode_t>(options.mode)) != 0)
      made = sys_error("fchmod", errno, where_text(path));
    // Allocated, not just sized: a sparse file or shm object on a full
    // tmpfs would take the size and then kill the first process to touch
    // a missing page with SIGBUS (initialize touches every one). Here the
    // room is claimed up front, and its lack is an error.
    if (made) {
      int err = posix_fallocate(fd, 0, static_cast<off_t>(size));
      if (err != 0)
        made = sys_error("posix_fallocate", err, where_text(path),
                         err == ENOSPC || err == EFBIG ? no_room_hint(path, size)
                                                       : "");
    }
    void* base = MAP_FAILED;
    if (made) {
      base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (base == MAP_FAILED) made = sys_error("mmap", errno, where_text(path));
    }
    close(fd);
    if (made) made = initialize(static_cast<char*>(base), *locks);
    if (!made) {
      if (base != MAP_FAILED) munmap(base, size);
      (void)remove(path);  // a half-made segment is not left behind
      return made.error();
    }
    if (created != nullptr) *created = true;
    return LockSegment(path, static_cast<char*>(base), size);
  }
  return sys_error("open", EAGAIN, where_text(path) +
                                       " kept appearing and vanishing");
}

Result<LockSegment> LockSegment::open(const SegmentPath& path,
                                      const OpenOptions& options) {
  int fd = open_object(path, O_RDWR, 0);
  if (fd < 0) return object_error("open", errno, path);
  struct stat st;
  std::string where = where_text(path);
  // Its creator may be between O_EXCL and the ready mark: wait for it, a
  // little, as long as what is there looks like a segment being made.
  double deadline = monotonic_seconds() + 2.0;
  for (;;) {
    if (fstat(fd, &st) != 0) {
      int err = errno;
      close(fd);
      return sys_error("fstat", err, where);
    }
    if (path.placement == Placement::kFile && !S_ISREG(st.st_mode)) {
      close(fd);
      return invalid(where, "not a regular file");
    }
    auto owner = check_segment_owner(st.st_uid, geteuid(), options.any_owner,
                                     where);
    if (!owner) {
      close(fd);
      return owner.error();
    }
    bool pending = static_cast<uint64_t>(st.st_size) < sizeof(SegmentHeader);
    if (!pending) {
      SegmentHeader h;
      ssize_t n = pread(fd, &h, sizeof h, 0);
      if (n != static_cast<ssize_t>(sizeof h)) {
        pending = true;
      } else {
        bool zero_magic = true;
        for (char c : h.magic) zero_magic = zero_magic && c == 0;
        bool ours = std::memcmp(h.magic, kSegmentMagic, sizeof h.magic) == 0;
        pending = zero_magic ||
                  (ours && h.ready.load(std::memory_order_relaxed) != kSegmentReady);
        if (!zero_magic && !ours) break;  // foreign: validation says so
      }
    }
    // Only a young object can be one whose creator is still at work.
    if (pending && time(nullptr) - st.st_mtim.tv_sec > 2) pending = false;
    if (!pending) break;
    if (monotonic_seconds() >= deadline) break;  // validation says what is wrong
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, nullptr);
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < sizeof(SegmentHeader)) {
    close(fd);
    return invalid(where, "truncated: " + std::to_string(size) +
                              " bytes, less than its " +
                              std::to_string(sizeof(SegmentHeader)) +
                              "-byte header");
  }
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);
  if (base == MAP_FAILED) return sys_error("mmap", err, where);
  LockSegment seg(path, static_cast<char*>(base), size);
  auto valid = validate_segment(base, size, where);
  if (!valid) return valid.error();
  if (options.expect_locks) {
    auto want = rounded_locks(*options.expect_locks);
    if (!want) return want.error();
    if (*want != seg.lock_count())
      return Error{"open", EINVAL,
                   where + " has " + std::to_string(seg.lock_count()) +
                       " locks, not " + std::to_string(*want),
                   "drop --locks to use it as it is, or destroy it and init "
                   "again",
                   kExitFailed};
  }
  return seg;
}

Result<LockSegment> LockSegment::anonymous(uint64_t locks) {
  auto rounded = rounded_locks(locks);
  if (!rounded) return rounded.error();
  uint64_t size = segment_size(*rounded);
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return sys_error("mmap", errno, "anonymous segment");
  LockSegment seg(SegmentPath{Placement::kAnonymous, "(anonymous)"},
                  static_cast<char*>(base), size);
  auto made = initialize(static_cast<char*>(base), *rounded);
  if (!made) return made.error();
  return seg;
}

Status LockSegment::remove(const SegmentPath& path) {
  int rc = path.placement == Placement::kShm ? shm_unlink(path.name.c_str())
                                             : unlink(path.name.c_str());
  if (rc != 0) return object_error("unlink", errno, path);
  return Ok{};
}

}  // namespace ipctk
