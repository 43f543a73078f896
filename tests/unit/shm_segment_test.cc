#include "shm_segment.h"

#include <fcntl.h>
#include <sys/ipc.h>
#include <unistd.h>

#include <catch2/catch.hpp>
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

TEST_CASE("effective_size rounds up to pages", "[shm]") {
  uint64_t page = page_size();
  CHECK(effective_size(1, false) == page);
  CHECK(effective_size(page, false) == page);
  CHECK(effective_size(page + 1, false) == 2 * page);
  CHECK(effective_size(1, true) == huge_page_size());
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

TEST_CASE("write and read through an attachment", "[shm][ipc]") {
  ScopedSegment seg(64);
  auto att = Attachment::attach(seg.id, false);
  REQUIRE(att.ok());
  CHECK(att->size() == 64);
  uint64_t zeroed = 99;
  REQUIRE(att->write(*make_region(64, 10, std::nullopt), "hello", false, &zeroed).ok());
  CHECK(zeroed == 0);
  CHECK(att->bytes(*make_region(64, 10, 5)) == "hello");

  SECTION("data longer than the region writes nothing") {
    std::string before(att->bytes(*make_region(64, 0, std::nullopt)));
    auto r = att->write(*make_region(64, 60, std::nullopt), "hello", false, &zeroed);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == "EFBIG");
    CHECK(att->bytes(*make_region(64, 0, std::nullopt)) == before);
  }
  SECTION("zero fill clears the rest of the region") {
    REQUIRE(att->write(*make_region(64, 10, 20), "hi", true, &zeroed).ok());
    CHECK(zeroed == 18);
    CHECK(att->bytes(*make_region(64, 10, 5)) == std::string("hi\0\0\0", 5));
  }
}

TEST_CASE("write_from_fd: pipes are all-or-nothing", "[shm][ipc]") {
  ScopedSegment seg(16);
  auto att = Attachment::attach(seg.id, false);
  REQUIRE(att.ok());
  uint64_t zeroed = 0;
  {
    Pipe p;
    p.feed(std::string(16, 'a'));
    auto n = att->write_from_fd(*make_region(16, 0, std::nullopt), p.fd[0], false, &zeroed);
    REQUIRE(n.ok());
    CHECK(*n == 16);
  }
  {
    Pipe p;
    p.feed(std::string(17, 'b'));
    auto n = att->write_from_fd(*make_region(16, 0, std::nullopt), p.fd[0], false, &zeroed);
    REQUIRE_FALSE(n.ok());
    CHECK(n.error().code() == "EFBIG");
    CHECK(att->bytes(*make_region(16, 0, std::nullopt)) == std::string(16, 'a'));
  }
}

TEST_CASE("write_from_fd: regular files go straight in, checked first",
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
  auto too_long = att->write_from_fd(*make_region(8, 0, std::nullopt), fd, false, &zeroed);
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.error().code() == "EFBIG");
  CHECK(att->bytes(*make_region(8, 0, std::nullopt)) == std::string(8, '\0'));
  REQUIRE(lseek(fd, 4, SEEK_SET) == 4);  // from the current position on
  auto n = att->write_from_fd(*make_region(8, 1, std::nullopt), fd, true, &zeroed);
  REQUIRE(n.ok());
  CHECK(*n == 6);
  CHECK(zeroed == 1);
  CHECK(att->bytes(*make_region(8, 0, std::nullopt)) == std::string(1, '\0') + "456789" + std::string(1, '\0'));
  std::fclose(f);
}

TEST_CASE("remove while attached is deferred", "[shm][ipc]") {
  auto made = shm_create({IPC_PRIVATE, 4096, 0600, false, false, false});
  REQUIRE(made.ok());
  {
    auto att = Attachment::attach(made->id, true);
    REQUIRE(att.ok());
    CHECK(att->readonly());
    REQUIRE(shm_remove(made->id).ok());
    auto info = shm_stat(made->id);
    REQUIRE(info.ok());
    CHECK(info->dest());
    CHECK(info->nattch == 1);
  }
  CHECK(shm_stat(made->id).error().code() == "EINVAL");
}

TEST_CASE("set changes mode; errors name the segment", "[shm][ipc]") {
  ScopedSegment seg(4096);
  ShmSetRequest request;
  request.mode = 0640;
  REQUIRE(shm_set(seg.id, request).ok());
  CHECK((shm_stat(seg.id)->mode & 0777) == 0640);
  auto missing = shm_stat(INT32_MAX);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("segment") != std::string::npos);
  CHECK_FALSE(missing.error().hint.empty());
}
