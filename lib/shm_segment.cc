#include "shm_segment.h"

#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
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
  if (input.fd_ >= 0) {
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

Status Attachment::read_to_fd(const Region& region, int fd) const {
  // A pipe, file or socket copies the bytes out of the mapping: fault the
  // pages in ahead. A character device (/dev/null, a terminal) may never
  // touch them, so it is left to fault them in itself if it does.
  struct stat st;
  bool touches = fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode);
  const char* p = data_ + region.offset;
  for (size_t left = static_cast<size_t>(region.length); left > 0;) {
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
