// A lock segment's bytes are whatever is in the shm object or file: a
// truncated, foreign or hostile one must be refused before anything is
// read past its end. Each input is checked twice: by validate_segment on
// a copy in memory (where ASan sees every byte past the end), and as a
// file opened by LockSegment::open (fstat, mmap, validate). Both must
// agree, and an accepted segment is walked: its bitmap and every lock's
// owner word.

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuzz_check.h"
#include "lock_manager.h"
#include "lock_segment.h"

using namespace ipctk;
using namespace ipctk::fuzz;

namespace {

/// The file the inputs are written to: one per process, made on the first
/// input in $TMPDIR (run_fuzzer.sh points it into the build dir) and
/// removed at exit.
struct SegmentFile {
  SegmentFile() {
    const char* dir = std::getenv("TMPDIR");
    path = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") +
           "/ipctk-fuzz-segment-XXXXXX";
    fd = mkstemp(path.data());
    check(fd >= 0, "the temporary segment file can be made");
  }
  ~SegmentFile() {
    close(fd);
    unlink(path.c_str());
  }
  /// Makes the file hold exactly `data`, and look old: open() waits a
  /// little for a young file that may be a segment still being made.
  void write(const void* data, size_t size) const {
    check(ftruncate(fd, static_cast<off_t>(size)) == 0, "ftruncate");
    check(pwrite(fd, data, size, 0) == static_cast<ssize_t>(size), "pwrite");
    struct timespec times[2];
    clock_gettime(CLOCK_REALTIME, &times[0]);
    times[1] = times[0];
    times[1].tv_sec -= 3600;
    check(futimens(fd, times) == 0, "futimens");
  }
  std::string path;
  int fd = -1;
};

/// A copy of the input at the alignment a mapping has (the header has
/// 64-byte alignment), exactly as long as the input.
struct Aligned {
  Aligned(const uint8_t* data, size_t size) {
    check(posix_memalign(&p, 64, size) == 0, "posix_memalign");
    if (size != 0) std::memcpy(p, data, size);
  }
  ~Aligned() { std::free(p); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
  void* p = nullptr;
};

/// Reads what the lock manager reads of an accepted segment of `size`
/// bytes at `base`: every bitmap word and every lock's owner word.
void walk(const char* base, size_t size) {
  const auto* h = reinterpret_cast<const SegmentHeader*>(base);
  uint64_t locks = h->lock_count;
  uint64_t words = locks / kLocksPerWord;
  check(locks != 0 && locks % kLocksPerWord == 0, "whole bitmap words");
  check(h->bitmap_offset % alignof(uint64_t) == 0 &&
            h->slots_offset % alignof(LockSlot) == 0,
        "the parts are aligned");
  check(h->bitmap_offset >= sizeof(SegmentHeader) &&
            h->bitmap_offset + words * sizeof(uint64_t) <= h->slots_offset &&
            h->slots_offset + locks * sizeof(LockSlot) <= size,
        "the header claims no more than the object holds");
  check(h->next_free_word <= words && h->allocated <= locks,
        "the counters are in range");
  const auto* bitmap = reinterpret_cast<const uint64_t*>(base + h->bitmap_offset);
  uint64_t bits = 0;
  for (uint64_t w = 0; w < words; ++w)
    bits += static_cast<uint64_t>(__builtin_popcountll(bitmap[w]));
  check(bits <= locks, "no more bits than locks");
  const auto* slots = reinterpret_cast<const LockSlot*>(base + h->slots_offset);
  for (uint64_t i = 0; i < locks; ++i) {
    uint64_t word = slots[i].owner.load(std::memory_order_relaxed);
    auto owner = unpack_owner(word);
    check(owner.has_value() == ((word & kOwnerHeldBit) != 0),
          "an owner word is held when its top bit is set");
    // The word has no spare bits: held, until_exit, start and pid.
    if (owner) check(pack_owner(*owner) == word, "an owner word reads back");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const SegmentFile file;

  Aligned copy(data, size);
  auto in_memory = validate_segment(copy.p, size, "fuzz input");
  if (in_memory) {
    walk(static_cast<const char*>(copy.p), size);
  } else {
    check_error(in_memory.error());
    check(in_memory.error().err == EPROTO, "a refused segment is EPROTO");
  }

  file.write(data, size);
  SegmentPath path{Placement::kFile, file.path};
  auto opened = LockSegment::open(path);
  check(opened.ok() == in_memory.ok(),
        "opening the file and validating the bytes agree");
  if (!opened) {
    check_error(opened.error());
    check(opened.error().message.find(file.path) != std::string::npos,
          "a refusal names the file");
    return 0;
  }
  check(opened->size() == size, "the whole file is mapped");
  walk(reinterpret_cast<const char*>(opened->header()), size);
  uint64_t locks = opened->lock_count();
  check(LockSegment::open(path, {.expect_locks = locks}).ok(),
        "its own lock count is expected");
  auto other =
      LockSegment::open(path, {.expect_locks = locks + kLocksPerWord});
  check(!other && other.error().err == EINVAL, "another lock count is refused");
  return 0;
}
