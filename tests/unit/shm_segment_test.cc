#include "shm_segment.h"

#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "scoped_segment.h"

using namespace ipctk;

namespace {

struct Pipe {
  Pipe() { REQUIRE(pipe(fd) == 0); }
  ~Pipe() {
    if (fd[0] >= 0) close(fd[0]);
    if (fd[1] >= 0) close(fd[1]);
  }
  void feed(const std::string& data) {
    REQUIRE(write(fd[1], data.data(), data.size()) ==
            static_cast<ssize_t>(data.size()));
    close(fd[1]);
    fd[1] = -1;
  }
  int fd[2] = {-1, -1};
};

}  // namespace

TEST_CASE("make_region checks bounds", "[shm]") {
  CHECK(make_region(100, 0, std::nullopt)->length == 100);
  CHECK(make_region(100, 40, std::nullopt)->length == 60);
  CHECK(make_region(100, 100, std::nullopt)->length == 0);
  CHECK(make_region(100, 90, 10)->length == 10);
  CHECK(make_region(100, 91, 10).error().err == ERANGE);
  CHECK(make_region(100, 101, std::nullopt).error().err == ERANGE);
  CHECK(make_region(100, 1, UINT64_MAX).error().err == ERANGE);
}

TEST_CASE("append_json writes the bytes of to_json's dump", "[shm]") {
  ShmInfo zero;  // id -1, everything else 0
  ShmInfo typical;
  typical.id = 7929860;
  typical.key = 0x1a2b;
  typical.mode = 0600;
  typical.size = 4096;
  typical.uid = typical.cuid = 1000;
  typical.gid = typical.cgid = 100;
  typical.ctime = 1795458508;
  typical.cpid = 3076;
  ShmInfo extreme;  // the widest numbers, a negative key, the flag bits
  extreme.id = INT32_MAX;
  extreme.key = static_cast<key_t>(0xdeadbeef);
  extreme.mode = 0777 | SHM_DEST | SHM_LOCKED;
  extreme.size = UINT64_MAX;
  extreme.nattch = UINT64_MAX;
  extreme.uid = extreme.gid = extreme.cuid = extreme.cgid = UINT32_MAX;
  extreme.atime = INT64_MIN;
  extreme.dtime = INT64_MAX;
  extreme.ctime = -1;
  extreme.cpid = INT32_MAX;
  extreme.lpid = 1;
  ShmInfo small;  // one-digit key and mode: padding
  small.key = 1;
  small.mode = 04 | SHM_DEST;
  for (const ShmInfo& info : {zero, typical, extreme, small}) {
    std::string out = "[";
    append_json(out, info);
    CHECK(out == "[" + to_json(info).dump());
  }
}

TEST_CASE("effective_size rounds up to pages", "[shm]") {
  uint64_t page = page_size();
  CHECK(effective_size(1, false) == page);
  CHECK(effective_size(page, false) == page);
  CHECK(effective_size(page + 1, false) == 2 * page);
  CHECK(effective_size(1, true) == huge_page_size());
}

TEST_CASE("parse_huge_page_size reads /proc/meminfo's line", "[shm]") {
  const std::string meminfo =
      "MemTotal:       24684000 kB\n"
      "HugePages_Total:       0\n"
      "Hugepagesize:       2048 kB\n"
      "Hugetlb:               0 kB\n";
  CHECK(parse_huge_page_size(meminfo) == uint64_t{2} << 20);
  CHECK(parse_huge_page_size("Hugepagesize: 1048576 kB") == uint64_t{1} << 30);
  CHECK_FALSE(parse_huge_page_size("MemTotal: 1 kB\n").has_value());
  CHECK_FALSE(parse_huge_page_size("").has_value());
  CHECK_FALSE(parse_huge_page_size("XHugepagesize: 2048 kB\n").has_value());
  CHECK_FALSE(parse_huge_page_size("Hugepagesize: 0 kB\n").has_value());
  CHECK_FALSE(parse_huge_page_size("Hugepagesize: 2048 MB\n").has_value());
  CHECK_FALSE(parse_huge_page_size("Hugepagesize: 2048\n").has_value());
  // sscanf's %llu took "-1" as 2^64 - 1 and the size wrapped; 2^54 KiB
  // wrapped to 0 bytes.
  CHECK_FALSE(parse_huge_page_size("Hugepagesize: -1 kB\n").has_value());
  CHECK_FALSE(
      parse_huge_page_size("Hugepagesize: 18014398509481984 kB\n").has_value());
  CHECK(parse_huge_page_size("Hugepagesize: 18014398509481983 kB\n") ==
        uint64_t{18014398509481983} * 1024);
}

TEST_CASE("create with a key: EXCL, reopen, created flag", "[shm][ipc]") {
  key_t key = 0x7d000000 | (getpid() & 0xffffff);
  auto first = shm_create({key, 4096, 0600, true, false, false});
  REQUIRE(first.ok());
  struct Cleanup {
    int id;
    ~Cleanup() { (void)shm_remove(id); }
  } cleanup{first->id};
  CHECK(first->created);
  auto again = shm_create({key, 4096, 0600, false, false, false});
  REQUIRE(again.ok());
  CHECK_FALSE(again->created);
  CHECK(again->id == first->id);
  auto excl = shm_create({key, 4096, 0600, true, false, false});
  REQUIRE_FALSE(excl.ok());
  CHECK(excl.error().code() == "EEXIST");
  auto bigger = shm_create({key, 8192, 0600, false, false, false});
  REQUIRE_FALSE(bigger.ok());
  CHECK(bigger.error().code() == "EINVAL");
  CHECK(*shm_find(key) == first->id);
  auto info = shm_stat(first->id);
  REQUIRE(info.ok());
  CHECK(info->key == key);
  CHECK((info->mode & 0777) == 0600);
  CHECK(info->size == 4096);
}

namespace {

/// Stages `bytes` for `region` and writes them; the staging error if any.
Result<uint64_t> put(const Attachment& att, const Region& region,
                     std::string bytes, bool zero_fill, uint64_t* zeroed) {
  auto input = StagedInput::from_bytes(std::move(bytes), region);
  if (!input) return input.error();
  return att.write(region, *input, zero_fill, zeroed);
}

}  // namespace

TEST_CASE("write and read through an attachment", "[shm][ipc]") {
  ScopedSegment seg(64);
  auto att = Attachment::attach(seg.id, false);
  REQUIRE(att.ok());
  CHECK(att->size() == 64);
  uint64_t zeroed = 99;
  REQUIRE(put(*att, *make_region(64, 10, std::nullopt), "hello", false, &zeroed).ok());
  CHECK(zeroed == 0);
  CHECK(att->bytes(*make_region(64, 10, 5)) == "hello");

  SECTION("data longer than the region is refused when staged") {
    auto r = StagedInput::from_bytes("hello", *make_region(64, 60, std::nullopt));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == "EFBIG");
  }
  SECTION("zero fill clears the rest of the region") {
    REQUIRE(put(*att, *make_region(64, 10, 20), "hi", true, &zeroed).ok());
    CHECK(zeroed == 18);
    CHECK(att->bytes(*make_region(64, 10, 5)) == std::string("hi\0\0\0", 5));
  }
}

TEST_CASE("staged pipe input is all-or-nothing", "[shm][ipc]") {
  ScopedSegment seg(16);
  auto att = Attachment::attach(seg.id, false);
  REQUIRE(att.ok());
  Region all = *make_region(16, 0, std::nullopt);
  uint64_t zeroed = 0;
  {
    Pipe p;
    p.feed(std::string(16, 'a'));
    auto input = StagedInput::from_fd(p.fd[0], all);
    REQUIRE(input.ok());
    CHECK(input->size() == 16);
    auto n = att->write(all, *input, false, &zeroed);
    REQUIRE(n.ok());
    CHECK(*n == 16);
  }
  {
    Pipe p;
    p.feed(std::string(17, 'b'));
    auto input = StagedInput::from_fd(p.fd[0], all);
    REQUIRE_FALSE(input.ok());
    CHECK(input.error().code() == "EFBIG");
    CHECK(att->bytes(all) == std::string(16, 'a'));
  }
}

TEST_CASE("staged regular files are measured, then read straight in",
          "[shm][ipc]") {
  ScopedSegment seg(8);
  auto att = Attachment::attach(seg.id, false);
  REQUIRE(att.ok());
  FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  std::fputs("0123456789", f);
  std::fflush(f);
  int fd = fileno(f);
  uint64_t zeroed = 0;
  REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
  auto too_long = StagedInput::from_fd(fd, *make_region(8, 0, std::nullopt));
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.error().code() == "EFBIG");
  REQUIRE(lseek(fd, 4, SEEK_SET) == 4);  // from the current position on
  Region tail = *make_region(8, 1, std::nullopt);
  auto input = StagedInput::from_fd(fd, tail);
  REQUIRE(input.ok());
  CHECK(input->size() == 6);
  auto n = att->write(tail, *input, true, &zeroed);
  REQUIRE(n.ok());
  CHECK(*n == 6);
  CHECK(zeroed == 1);
  CHECK(att->bytes(*make_region(8, 0, std::nullopt)) ==
        std::string(1, '\0') + "456789" + std::string(1, '\0'));
  std::fclose(f);
}

TEST_CASE("remove while attached is deferred", "[shm][ipc]") {
  ScopedSegment seg(4096);
  {
    auto att = Attachment::attach(seg.id, true);
    REQUIRE(att.ok());
    CHECK(att->readonly());
    REQUIRE(shm_remove(seg.id).ok());
    auto info = shm_stat(seg.id);
    REQUIRE(info.ok());
    CHECK(info->dest());
    CHECK(info->nattch == 1);
  }
  CHECK(shm_stat(seg.id).error().code() == "EINVAL");
}

TEST_CASE("set changes mode; errors name the segment", "[shm][ipc]") {
  ScopedSegment seg(4096);
  PermChange request;
  request.mode = 0640;
  REQUIRE(shm_set(*shm_stat(seg.id), request).ok());
  CHECK((shm_stat(seg.id)->mode & 0777) == 0640);
  auto missing = shm_stat(INT32_MAX);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("segment") != std::string::npos);
  CHECK_FALSE(missing.error().hint.empty());
}

TEST_CASE("lock and unlock in memory; the owner may remove", "[shm][ipc]") {
  ScopedSegment seg(4096);
  REQUIRE(shm_lock(seg.id, true).ok());
  CHECK(shm_stat(seg.id)->locked());
  REQUIRE(shm_lock(seg.id, false).ok());
  CHECK_FALSE(shm_stat(seg.id)->locked());
  CHECK(shm_check_owner(*shm_stat(seg.id)).ok());
  CHECK(shm_lock(INT32_MAX, true).error().code() == "EINVAL");
}
