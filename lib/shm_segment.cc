#include "shm_segment.h"

#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>

#include "io.h"
#include "ipc_perm.h"
#include "parse.h"
#include "sysv_list.h"  // the limits, to say which one a creation hit

namespace ipctk {

namespace {

/// shmget flags Linux accepts but older headers may not name.
#ifndef SHM_NORESERVE
constexpr int SHM_NORESERVE = 010000;
#endif
#ifndef SHM_HUGETLB
constexpr int SHM_HUGETLB = 04000;
#endif

std::string id_text(int id) { return "segment " + std::to_string(id); }

Error shmctl_error(const char* op, int err, int id) {
  if (err == EINVAL || err == EIDRM) {
    // The kernel's word for "no such id" is EINVAL; say it plainly.
    Error e = sys_error(op, err, id_text(id),
                        "'sysv-shm list' shows the segments");
    e.message = id_text(id) + " does not exist (" + e.code() + ")";
    return e;
  }
  std::string hint;
  if (err == EACCES || err == EPERM)
    hint = "the segment's mode or owner does not allow this caller";
  return sys_error(op, err, id_text(id), hint);
}

/// Bulk copies go this many bytes at a time: each chunk's pages are faulted
/// in with one madvise, then copied while they are still in cache.
constexpr size_t kCopyChunk = 8u << 20;

/// Faults in the pages of [p, p + len) ahead of a copy: one madvise call
/// instead of one page fault per 4 KiB page (MADV_POPULATE_READ/WRITE,
/// Linux 5.14). Where unsupported (EINVAL) it does nothing and the copy
/// faults the pages in as before; any other failure (ENOMEM) is left for the
/// copy itself to report.
void prefault(const char* p, size_t len, bool for_write) {
#if defined(__linux__)
  constexpr int kPopulateRead = 22;   // MADV_POPULATE_READ
  constexpr int kPopulateWrite = 23;  // MADV_POPULATE_WRITE
  static bool unsupported = false;
  if (len == 0 || unsupported) return;
  uintptr_t mask = static_cast<uintptr_t>(page_size()) - 1;
  uintptr_t start = reinterpret_cast<uintptr_t>(p) & ~mask;
  uintptr_t end = reinterpret_cast<uintptr_t>(p) + len;
  if (madvise(reinterpret_cast<void*>(start), end - start,
              for_write ? kPopulateWrite : kPopulateRead) != 0 &&
      errno == EINVAL)
    unsupported = true;
#else
  (void)p, (void)len, (void)for_write;
#endif
}

/// sendfile moves at most this much per call (Linux's limit for any
/// read or write).
constexpr size_t kMaxSend = 0x7ffff000;

/// The segment's own shmem file, opened through /proc/self/map_files/ for
/// the range this process just attached, or -1. Copying through this fd
/// (sendfile, pwrite) moves the bytes between page caches in the kernel
/// and never maps a page: on a VM where every first touch of a mapped page
/// costs a shadow page-table fault, that is several times faster than any
/// copy through the mapping (see tests/bench/README.md). Linux lets only
/// CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN) open map_files; without it,
/// for hugetlb segments (whose mapping is rounded to huge pages, so the
/// name does not match) and without /proc, the caller uses the mapping.
/// The fd reaches no more than the attachment does: it is opened read-only
/// for a read-only attachment, and only after shmat allowed the access.
int open_backing(const char* data, uint64_t size, bool for_write) {
#if defined(__linux__)
  uint64_t unit = page_size();
  uint64_t len = (size + unit - 1) / unit * unit;
  auto start = reinterpret_cast<uintptr_t>(data);
  char path[80];
  std::snprintf(path, sizeof path, "/proc/self/map_files/%llx-%llx",
                static_cast<unsigned long long>(start),
                static_cast<unsigned long long>(start + len));
  int fd = open(path, (for_write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return -1;
  // The file is exactly the segment: its size is the segment's size.
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != size) {
    close(fd);
    return -1;
  }
  return fd;
#else
  (void)data, (void)size, (void)for_write;
  return -1;
#endif
}

/// Closes an fd (open_backing's, a pipe's end) on every way out.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

/// Whether a sendfile that moved nothing yet failed because this pair of
/// files cannot do it (no splice support, O_APPEND output, ...): the copy
/// then goes through the mapping instead.
bool sendfile_unsupported(int err) {
  return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP || err == EXDEV;
}

/// Copies [p, p + len) of the mapping into the regular file `fd` (at its
/// position) without touching the pages from user space: vmsplice hands
/// the pages to a private pipe (the kernel finds them by walking the page
/// tables, faulting in what is missing), and splice copies them from there
/// into the file's pages before it returns. On a VM whose first user-space
/// touch of each mapped page costs a shadow page-table fault, that is about
/// twice as fast as write(2) from the mapping. Returns the bytes copied;
/// fewer than `len` (0 at worst) if the pair of files cannot do it, for
/// the caller to copy the rest through the mapping.
Result<size_t> splice_to_file(const char* p, size_t len, int fd) {
#if defined(__linux__)
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return size_t{0};
  ScopedFd rd(pipe_fds[0]), wr(pipe_fds[1]);
  // 1 MiB, the default pipe-max-size; a smaller pipe works too.
  fcntl(wr.get(), F_SETPIPE_SZ, 1 << 20);
  int capacity = fcntl(wr.get(), F_GETPIPE_SZ);
  size_t cap = capacity > 0 ? static_cast<size_t>(capacity) : 65536;
  size_t sent = 0;
  while (sent < len) {
    struct iovec iov;
    iov.iov_base = const_cast<char*>(p + sent);
    iov.iov_len = std::min(len - sent, cap);
    ssize_t n = vmsplice(wr.get(), &iov, 1, 0);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (sendfile_unsupported(err) || err == ENOMEM || err == EFAULT)
        return sent;
      return sys_error("vmsplice", err, "stdout");
    }
    // The pipe was empty and is drained completely before the next
    // vmsplice, so it never blocks.
    for (size_t moved = 0; moved < static_cast<size_t>(n);) {
      ssize_t m = splice(rd.get(), nullptr, fd, nullptr,
                         static_cast<size_t>(n) - moved, SPLICE_F_MOVE);
      if (m < 0) {
        int err = errno;
        if (err == EINTR) continue;
        // Nothing reached the file yet: let the mapping do it all.
        if (sent == 0 && moved == 0 && sendfile_unsupported(err))
          return size_t{0};
        return sys_error("write", err, "stdout");
      }
      if (m == 0) return sys_error("write", EIO, "stdout");
      moved += static_cast<size_t>(m);
    }
    sent += static_cast<size_t>(n);
  }
  return sent;
#else
  (void)p, (void)len, (void)fd;
  return size_t{0};
#endif
}

Error too_big(uint64_t have, uint64_t room, const Region& region) {
  return Error{"write", EFBIG,
               "the data is " + std::to_string(have) +
                   " bytes but only " + std::to_string(room) +
                   " fit at offset " + std::to_string(region.offset),
               "nothing was written; shorten the data, lower --offset, or "
               "use a larger segment",
               kExitFailed};
}

Error too_big_unknown(uint64_t room, const Region& region) {
  return Error{"write", EFBIG,
               "the input is longer than the " + std::to_string(room) +
                   " bytes that fit at offset " + std::to_string(region.offset),
               "nothing was written; shorten the data, lower --offset, or "
               "use a larger segment",
               kExitFailed};
}

}  // namespace

bool ShmInfo::dest() const { return (mode & SHM_DEST) != 0; }
bool ShmInfo::locked() const { return (mode & SHM_LOCKED) != 0; }

Json to_json(const ShmInfo& info) {
  Json j;
  j["id"] = info.id;
  j["key"] = static_cast<uint32_t>(info.key);
  j["key_hex"] = key_hex(info.key);
  j["mode"] = info.mode & 0777;
  j["mode_octal"] = mode_octal(info.mode & 0777);
  j["uid"] = info.uid;
  j["gid"] = info.gid;
  j["cuid"] = info.cuid;
  j["cgid"] = info.cgid;
  j["size"] = info.size;
  j["nattch"] = info.nattch;
  j["atime"] = info.atime;
  j["dtime"] = info.dtime;
  j["ctime"] = info.ctime;
  j["cpid"] = info.cpid;
  j["lpid"] = info.lpid;
  j["dest"] = info.dest();
  j["locked"] = info.locked();
  return j;
}

namespace {

/// Copies a literal: its length is known when compiling, no strlen.
template <size_t N>
char* put(char* p, const char (&literal)[N]) {
  std::memcpy(p, literal, N - 1);
  return p + N - 1;
}

template <typename T>
char* put_number(char* p, T v) {
  return std::to_chars(p, p + 24, v).ptr;  // 20 digits and a sign at most
}

/// `v` in `base`, zero-padded to `width` digits (the "%08x" of key_hex
/// and the "%04o" of mode_octal).
char* put_padded(char* p, uint32_t v, int base, size_t width) {
  char digits[16];
  char* end = std::to_chars(digits, digits + sizeof digits, v, base).ptr;
  auto n = static_cast<size_t>(end - digits);
  for (; n < width; --width) *p++ = '0';
  std::memcpy(p, digits, n);
  return p + n;
}

}  // namespace

void append_json(std::string& out, const ShmInfo& info) {
  char buf[512];  // the fields' names ~170 bytes, 14 numbers ~300 at most
  char* p = put(buf, "{\"id\":");
  p = put_number(p, info.id);
  p = put(p, ",\"key\":");
  p = put_number(p, static_cast<uint32_t>(info.key));
  p = put(p, ",\"key_hex\":\"0x");
  p = put_padded(p, static_cast<uint32_t>(info.key), 16, 8);
  p = put(p, "\",\"mode\":");
  p = put_number(p, info.mode & 0777);
  p = put(p, ",\"mode_octal\":\"");
  p = put_padded(p, info.mode & 0777, 8, 4);
  p = put(p, "\",\"uid\":");
  p = put_number(p, info.uid);
  p = put(p, ",\"gid\":");
  p = put_number(p, info.gid);
  p = put(p, ",\"cuid\":");
  p = put_number(p, info.cuid);
  p = put(p, ",\"cgid\":");
  p = put_number(p, info.cgid);
  p = put(p, ",\"size\":");
  p = put_number(p, info.size);
  p = put(p, ",\"nattch\":");
  p = put_number(p, info.nattch);
  p = put(p, ",\"atime\":");
  p = put_number(p, info.atime);
  p = put(p, ",\"dtime\":");
  p = put_number(p, info.dtime);
  p = put(p, ",\"ctime\":");
  p = put_number(p, info.ctime);
  p = put(p, ",\"cpid\":");
  p = put_number(p, info.cpid);
  p = put(p, ",\"lpid\":");
  p = put_number(p, info.lpid);
  p = info.dest() ? put(p, ",\"dest\":true") : put(p, ",\"dest\":false");
  p = info.locked() ? put(p, ",\"locked\":true}") : put(p, ",\"locked\":false}");
  out.append(buf, p);
}

Result<ShmCreated> shm_create(const ShmCreateRequest& request) {
  if (request.size == 0)
    return usage_error("--size: 0 is not a segment size",
                       "a segment holds at least one byte");
  if (request.size > SIZE_MAX) return usage_error("--size: too large");
  int flags = static_cast<int>(request.mode & 0777);
  if (request.hugetlb) flags |= SHM_HUGETLB;
  if (request.noreserve) flags |= SHM_NORESERVE;
  auto size = static_cast<size_t>(request.size);
  // Try to create first: whether we created it is then a fact, and an
  // existing key is only opened when the caller did not ask for a new one.
  for (int attempt = 0; attempt < 100; ++attempt) {
    int id = shmget(request.key, size, flags | IPC_CREAT | IPC_EXCL);
    if (id >= 0) return ShmCreated{id, true};
    int err = errno;
    if (err == EEXIST && !request.excl) {
      id = shmget(request.key, size, flags & 0777);
      if (id >= 0) return ShmCreated{id, false};
      err = errno;
      if (err == ENOENT) continue;  // removed meanwhile: create again
      if (err == EINVAL)
        return sys_error("shmget", err,
                         "key " + key_hex(request.key) +
                             " exists with a smaller size",
                         "'sysv-shm stat --key " + key_hex(request.key) +
                             "' shows its size");
      return sys_error("shmget", err, "key " + key_hex(request.key));
    }
    std::string hint;
    // Which limit: the kernel's ENOSPC and EINVAL do not say, and the
    // limits and their use read now do (a limit raised or a segment
    // removed in between leaves both named).
    std::optional<LimitHit> limit;
    if (err == EINVAL || err == ENOSPC) {
      auto limits = shm_limits();
      if (limits) limit = shm_limit_hit(*limits, err, request.size, page_size());
    }
    if (err == EEXIST)
      hint = "a segment with this key exists; drop --excl to open it";
    else if (limit)
      hint = limit->hint;
    else if (err == EINVAL)
      hint = "the size is outside the kernel's shmmin..shmmax; "
             "'sysv-shm info' shows the limits";
    else if (err == ENOSPC)
      hint = "the kernel's shmmni or shmall limit is reached; "
             "'sysv-shm info' shows the limits";
    else if (err == ENOMEM && request.hugetlb)
      hint = "not enough huge pages are reserved (vm.nr_hugepages)";
    else if (err == ENOMEM)
      hint = "the kernel cannot commit that much memory (memory, swap, "
             "overcommit policy); --noreserve skips the reservation";
    else if (err == EPERM && request.hugetlb)
      hint = "hugetlb segments need CAP_IPC_LOCK or vm.hugetlb_shm_group";
    Error e = sys_error("shmget", err,
                        request.key == IPC_PRIVATE ? "private segment"
                                                   : "key " + key_hex(request.key),
                        hint);
    if (limit) e.message += ": " + limit->message;
    return e;
  }
  return sys_error("shmget", EAGAIN, "key " + key_hex(request.key) +
                                         " kept appearing and vanishing");
}

Result<int> shm_find(key_t key) {
  if (key == IPC_PRIVATE)
    return usage_error("--key: a private segment has no key to look up",
                       "name the segment by its id");
  int id = shmget(key, 0, 0);
  if (id < 0) {
    int err = errno;
    return sys_error("shmget", err, "key " + key_hex(key),
                     err == ENOENT ? "no segment has this key; 'sysv-shm "
                                     "list' shows the segments"
                                   : "");
  }
  return id;
}

Result<ShmInfo> shm_stat(int id) {
  struct shmid_ds ds;
  if (shmctl(id, IPC_STAT, &ds) != 0) return shmctl_error("shmctl", errno, id);
  ShmInfo info;
  info.id = id;
  info.key = ds.shm_perm.__key;
  info.uid = ds.shm_perm.uid;
  info.gid = ds.shm_perm.gid;
  info.cuid = ds.shm_perm.cuid;
  info.cgid = ds.shm_perm.cgid;
  info.mode = ds.shm_perm.mode;
  info.size = ds.shm_segsz;
  info.nattch = ds.shm_nattch;
  info.atime = ds.shm_atime;
  info.dtime = ds.shm_dtime;
  info.ctime = ds.shm_ctime;
  info.cpid = ds.shm_cpid;
  info.lpid = ds.shm_lpid;
  return info;
}

Status shm_set(const ShmInfo& current, const PermChange& request) {
  // IPC_SET reads only uid, gid and mode; the rest of the buffer is ignored.
  struct shmid_ds ds = {};
  ds.shm_perm.uid = request.uid.value_or(current.uid);
  ds.shm_perm.gid = request.gid.value_or(current.gid);
  ds.shm_perm.mode = static_cast<unsigned short>(
      request.mode.value_or(current.mode & 0777));
  if (shmctl(current.id, IPC_SET, &ds) != 0)
    return shmctl_error("shmctl", errno, current.id);
  return Ok{};
}

Status shm_remove(int id) {
  if (shmctl(id, IPC_RMID, nullptr) != 0)
    return shmctl_error("shmctl", errno, id);
  return Ok{};
}

Status shm_lock(int id, bool lock) {
  if (shmctl(id, lock ? SHM_LOCK : SHM_UNLOCK, nullptr) != 0) {
    int err = errno;
    if (err == ENOMEM)
      return sys_error("shmctl", err, id_text(id),
                       "RLIMIT_MEMLOCK is too low for this segment");
    return shmctl_error("shmctl", err, id);
  }
  return Ok{};
}

Status shm_check_owner(const ShmInfo& info) {
  return check_ipc_owner(info.uid, info.cuid, "shmctl", id_text(info.id),
                         "segment");
}

uint64_t page_size() {
  static const uint64_t size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return size;
}

uint64_t huge_page_size() {
  auto text = read_whole_file("/proc/meminfo");
  std::optional<uint64_t> size;
  if (text) size = parse_huge_page_size(*text);
  return size.value_or(uint64_t{2} << 20);
}

std::optional<uint64_t> parse_huge_page_size(std::string_view meminfo) {
  static constexpr std::string_view kField = "Hugepagesize:";
  size_t at = 0;
  for (;; at += kField.size()) {
    at = meminfo.find(kField, at);
    if (at == std::string_view::npos) return std::nullopt;
    if (at == 0 || meminfo[at - 1] == '\n') break;
  }
  std::string_view rest = meminfo.substr(at + kField.size());
  size_t digits = rest.find_first_not_of(' ');
  if (digits == std::string_view::npos) return std::nullopt;
  rest.remove_prefix(digits);
  // from_chars, unlike sscanf's %llu, takes no sign: "-1" is not a size.
  uint64_t kib = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kib);
  if (ec != std::errc() || kib == 0 || kib > UINT64_MAX / 1024)
    return std::nullopt;
  std::string_view unit = rest.substr(static_cast<size_t>(end - rest.data()));
  if (unit != " kB" && unit.substr(0, 4) != " kB\n") return std::nullopt;
  return kib * 1024;
}

uint64_t effective_size(uint64_t size, bool hugetlb) {
  uint64_t unit = hugetlb ? huge_page_size() : page_size();
  if (size > UINT64_MAX - (unit - 1)) return size;
  return (size + unit - 1) / unit * unit;
}

Result<Region> make_region(uint64_t segment_size, uint64_t offset,
                           std::optional<uint64_t> length) {
  if (offset > segment_size)
    return Error{"bounds", ERANGE,
                 "--offset " + std::to_string(offset) +
                     " is past the end of the " +
                     std::to_string(segment_size) + "-byte segment",
                 "", kExitFailed};
  uint64_t room = segment_size - offset;
  if (length && *length > room)
    return Error{"bounds", ERANGE,
                 "--offset " + std::to_string(offset) + " + --length " +
                     std::to_string(*length) + " is past the end of the " +
                     std::to_string(segment_size) + "-byte segment",
                 "", kExitFailed};
  return Region{offset, length.value_or(room)};
}

Result<Attachment> Attachment::attach(int id, bool readonly) {
  auto info = shm_stat(id);
  if (!info) return info.error();
  void* p = shmat(id, nullptr, readonly ? SHM_RDONLY : 0);
  if (p == reinterpret_cast<void*>(-1)) {
    int err = errno;
    if (err == EINVAL || err == EIDRM) return shmctl_error("shmat", err, id);
    return sys_error("shmat", err, id_text(id),
                     err == EACCES ? "the segment's mode does not allow this "
                                     "caller to attach it this way"
                                   : "");
  }
  return Attachment(id, static_cast<char*>(p), info->size, readonly);
}

Attachment::Attachment(Attachment&& other) noexcept
    : id_(other.id_), data_(other.data_), size_(other.size_),
      readonly_(other.readonly_) {
  other.data_ = nullptr;
}

Attachment& Attachment::operator=(Attachment&& other) noexcept {
  if (this != &other) {
    detach();
    id_ = other.id_;
    data_ = other.data_;
    size_ = other.size_;
    readonly_ = other.readonly_;
    other.data_ = nullptr;
  }
  return *this;
}

Attachment::~Attachment() { detach(); }

void Attachment::detach() {
  if (data_ != nullptr) shmdt(data_);
  data_ = nullptr;
}

std::string_view Attachment::bytes(const Region& region) const {
  return {data_ + region.offset, static_cast<size_t>(region.length)};
}

Result<StagedInput> StagedInput::from_bytes(std::string bytes,
                                            const Region& region) {
  if (bytes.size() > region.length)
    return too_big(bytes.size(), region.length, region);
  StagedInput input;
  input.size_ = bytes.size();
  input.bytes_ = std::move(bytes);
  input.from_bytes_ = true;
  return input;
}

Result<StagedInput> StagedInput::from_fd(int fd, const Region& region) {
  struct stat st;
  if (fstat(fd, &st) != 0) return sys_error("fstat", errno, "input");
  StagedInput input;
  // A size of 0 is not to be trusted: /proc and other pseudo files say 0
  // and still have content, so they are read like a pipe.
  off_t pos = S_ISREG(st.st_mode) && st.st_size > 0 ? lseek(fd, 0, SEEK_CUR) : -1;
  if (pos >= 0) {
    uint64_t have = st.st_size > pos ? static_cast<uint64_t>(st.st_size - pos) : 0;
    if (have > region.length) return too_big(have, region.length, region);
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, pos, static_cast<off_t>(have), POSIX_FADV_SEQUENTIAL);
#endif
    input.fd_ = fd;
    input.size_ = have;
    return input;
  }
  // One byte more than fits tells "too long" from "exactly full". The pages
  // are touched only as data arrives (MAP_NORESERVE, lazily backed).
  size_t cap = static_cast<size_t>(region.length) + 1;
  void* p = mmap(nullptr, cap, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return sys_error("mmap", errno, "input buffer");
  input.scratch_ = static_cast<char*>(p);
  input.scratch_size_ = cap;
  auto n = read_full(fd, input.scratch_, cap, "input");
  if (!n) return n.error();
  if (*n > region.length) return too_big_unknown(region.length, region);
  input.size_ = *n;
  return input;
}

StagedInput::StagedInput(StagedInput&& other) noexcept
    : bytes_(std::move(other.bytes_)), fd_(other.fd_),
      scratch_(other.scratch_), scratch_size_(other.scratch_size_),
      size_(other.size_), from_bytes_(other.from_bytes_) {
  other.scratch_ = nullptr;
}

StagedInput::~StagedInput() {
  if (scratch_ != nullptr) munmap(scratch_, scratch_size_);
}

Result<uint64_t> Attachment::write(const Region& region, StagedInput& input,
                                   bool zero_fill, uint64_t* zeroed) const {
  if (input.size_ > region.length)
    return too_big(input.size_, region.length, region);
  char* dest = data_ + region.offset;
  uint64_t got = 0;
  bool done = false;
  if (input.size_ > 0) {
    ScopedFd backing(open_backing(data_, size_, true));
    if (backing.get() >= 0) {
      auto moved = write_backing(backing.get(), region.offset, input);
      if (!moved) return moved.error();
      if (*moved) {
        got = **moved;
        done = true;
      }
    }
  }
  if (done) {
    // written through the segment's file
  } else if (input.fd_ >= 0) {
    for (size_t left = static_cast<size_t>(input.size_); left > 0;) {
      size_t chunk = std::min(left, kCopyChunk);
      prefault(dest + got, chunk, true);
      auto n = read_full(input.fd_, dest + got, chunk, "input file");
      if (!n) return n.error();
      got += *n;
      left -= chunk;
      if (*n < chunk) break;  // the file shrank meanwhile
    }
  } else {
    const char* src = input.from_bytes_ ? input.bytes_.data() : input.scratch_;
    got = input.size_;
    prefault(dest, static_cast<size_t>(got), true);
    if (got != 0) std::memcpy(dest, src, static_cast<size_t>(got));
  }
  *zeroed = 0;
  if (zero_fill) {
    *zeroed = region.length - got;
    std::memset(dest + got, 0, *zeroed);
  }
  return got;
}

Result<std::optional<uint64_t>> Attachment::write_backing(
    int backing, uint64_t offset, StagedInput& input) const {
  uint64_t got = 0;
  if (input.fd_ >= 0) {
    // sendfile writes at the output's file position and reads the input
    // from its own, as read(2) would.
    if (lseek(backing, static_cast<off_t>(offset), SEEK_SET) < 0)
      return std::optional<uint64_t>();
    while (got < input.size_) {
      size_t want = static_cast<size_t>(
          std::min<uint64_t>(input.size_ - got, kMaxSend));
      ssize_t n = sendfile(backing, input.fd_, nullptr, want);
      if (n < 0) {
        int err = errno;
        if (err == EINTR) continue;
        if (got == 0 && sendfile_unsupported(err))
          return std::optional<uint64_t>();
        return sys_error("sendfile", err, "input file");
      }
      if (n == 0) break;  // the file shrank meanwhile
      got += static_cast<uint64_t>(n);
    }
    return std::optional<uint64_t>(got);
  }
  const char* src = input.from_bytes_ ? input.bytes_.data() : input.scratch_;
  while (got < input.size_) {
    size_t want = static_cast<size_t>(
        std::min<uint64_t>(input.size_ - got, kMaxSend));
    ssize_t n = pwrite(backing, src + got, want,
                       static_cast<off_t>(offset + got));
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (got == 0) return std::optional<uint64_t>();  // use the mapping
      return sys_error("write", err, id_text(id_));
    }
    if (n == 0) return sys_error("write", EIO, id_text(id_));
    got += static_cast<uint64_t>(n);
  }
  return std::optional<uint64_t>(got);
}

Status Attachment::read_to_fd(const Region& region, int fd) const {
  // A pipe, file or socket copies the bytes out of the mapping: fault the
  // pages in ahead. A character device (/dev/null, a terminal) may never
  // touch them, so it is left to fault them in itself if it does.
  struct stat st;
  bool known = fstat(fd, &st) == 0;
  bool touches = !known || !S_ISCHR(st.st_mode);
  size_t sent = 0;
  // Only into a regular file: there sendfile copies the bytes into the
  // file's pages before it returns. Into a pipe (or a socket) it would
  // pass references to the segment's pages, and a reader would see what
  // the segment holds when it reads, not when this command ran.
  if (known && S_ISREG(st.st_mode) && region.length > 0) {
    ScopedFd backing(open_backing(data_, size_, false));
    if (backing.get() >= 0) {
      off_t from = static_cast<off_t>(region.offset);
      while (sent < region.length) {
        size_t want = static_cast<size_t>(
            std::min<uint64_t>(region.length - sent, kMaxSend));
        ssize_t n = sendfile(fd, backing.get(), &from, want);
        if (n < 0) {
          int err = errno;
          if (err == EINTR) continue;
          if (sent == 0 && sendfile_unsupported(err)) break;
          return sys_error("write", err, "stdout");
        }
        if (n == 0)  // the segment's file is never shorter than the region
          return sys_error("sendfile", EIO, id_text(id_));
        sent += static_cast<size_t>(n);
      }
    }
    if (sent == 0) {
      auto spliced = splice_to_file(data_ + region.offset,
                                    static_cast<size_t>(region.length), fd);
      if (!spliced) return spliced.error();
      sent = *spliced;
    }
  }
  const char* p = data_ + region.offset + sent;
  for (size_t left = static_cast<size_t>(region.length) - sent; left > 0;) {
    size_t chunk = std::min(left, kCopyChunk);
    if (touches) prefault(p, chunk, false);
    auto w = write_all(fd, p, chunk, "stdout");
    if (!w) return w;
    p += chunk;
    left -= chunk;
  }
  return Ok{};
}

}  // namespace ipctk
