#include "lock_segment.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace ipctk;

namespace {

/// A temporary directory for one test, removed with what is in it.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/ipctk-lockseg-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string file(const char* name) const { return path + "/" + name; }
  std::string path;
};

SegmentPath file_path(const std::string& p) { return {Placement::kFile, p}; }

std::vector<char> read_file(const std::string& p) {
  std::vector<char> bytes;
  int fd = open(p.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  close(fd);
  return bytes;
}

void write_file(const std::string& p, const std::vector<char>& bytes) {
  int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  close(fd);
}

/// Opens `p` and expects a refusal whose message contains `says`.
void expect_refused(const std::string& p, const std::string& says) {
  auto seg = LockSegment::open(file_path(p));
  REQUIRE_FALSE(seg.ok());
  INFO(seg.error().message);
  CHECK(seg.error().err == EPROTO);
  CHECK(seg.error().message.find(says) != std::string::npos);
}

}  // namespace

TEST_CASE("parse_segment_path tells shm names from files", "[lock_segment]") {
  auto shm = parse_segment_path("/locks");
  REQUIRE(shm.ok());
  CHECK(shm->placement == Placement::kShm);
  CHECK(std::string(shm->backend()) == "shm");
  for (const char* f : {"./locks", "locks", "/tmp/locks", "//locks", "a/b"}) {
    auto p = parse_segment_path(f);
    REQUIRE(p.ok());
    CHECK(p->placement == Placement::kFile);
  }
  for (const char* bad : {"", "/", "dir/", "/tmp/"}) {
    INFO(bad);
    auto p = parse_segment_path(bad);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().exit_status == kExitUsage);
  }
  CHECK_FALSE(parse_segment_path("/" + std::string(300, 'x')).ok());
}

TEST_CASE("the layout: sizes, alignment, rounding", "[lock_segment]") {
  CHECK(sizeof(LockSlot) == 64);
  CHECK(segment_size(64) % 64 == 0);
  CHECK(segment_size(128) - segment_size(64) >= 64 * 64);
  auto seg = LockSegment::anonymous(100);  // rounded up to 128
  REQUIRE(seg.ok());
  CHECK(seg->lock_count() == 128);
  CHECK(seg->size() == segment_size(128));
  CHECK(reinterpret_cast<uintptr_t>(seg->slot(0)) % 64 == 0);
  CHECK(reinterpret_cast<uintptr_t>(seg->slot(1)) -
            reinterpret_cast<uintptr_t>(seg->slot(0)) == 64);
  CHECK(validate_segment(seg->header(), seg->size(), "anon").ok());
  CHECK_FALSE(LockSegment::anonymous(0).ok());
  CHECK_FALSE(LockSegment::anonymous(kMaxLocks + 1).ok());
}

TEST_CASE("create, open, exist_ok and a lock count that differs",
          "[lock_segment]") {
  TempDir dir;
  std::string p = dir.file("locks");
  LockSegment::CreateOptions options;
  options.locks = 200;
  options.mode = 0640;
  bool created = false;
  auto seg = LockSegment::create(file_path(p), options, &created);
  REQUIRE(seg.ok());
  CHECK(created);
  CHECK(seg->lock_count() == 256);
  struct stat st;
  REQUIRE(stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  CHECK(static_cast<uint64_t>(st.st_size) == segment_size(256));
  auto again = LockSegment::create(file_path(p), options, &created);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().err == EEXIST);
  options.exist_ok = true;
  auto opened = LockSegment::create(file_path(p), options, &created);
  REQUIRE(opened.ok());
  CHECK_FALSE(created);
  auto expecting = [](uint64_t locks) {
    LockSegment::OpenOptions o;
    o.expect_locks = locks;
    return o;
  };
  CHECK(LockSegment::open(file_path(p), expecting(256)).ok());
  CHECK(LockSegment::open(file_path(p), expecting(193)).ok());  // rounds to 256
  auto other = LockSegment::open(file_path(p), expecting(64));
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().err == EINVAL);
  options.locks = 64;
  CHECK_FALSE(LockSegment::create(file_path(p), options, &created).ok());
  REQUIRE(LockSegment::remove(file_path(p)).ok());
  auto gone = LockSegment::open(file_path(p));
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().err == ENOENT);
}

TEST_CASE("a shm placement works like a file", "[lock_segment]") {
  std::string name = "/ipctk-unit-" + std::to_string(getpid());
  SegmentPath path{Placement::kShm, name};
  bool created = false;
  auto seg = LockSegment::create(path, {}, &created);
  REQUIRE(seg.ok());
  CHECK(created);
  CHECK(seg->lock_count() == kDefaultLocks);
  CHECK(access(("/dev/shm" + name).c_str(), F_OK) == 0);
  CHECK(LockSegment::open(path).ok());
  REQUIRE(LockSegment::remove(path).ok());
  CHECK(access(("/dev/shm" + name).c_str(), F_OK) != 0);
}

TEST_CASE("corrupt, foreign and lying segments are refused", "[lock_segment]") {
  TempDir dir;
  std::string good = dir.file("good");
  bool created = false;
  LockSegment::CreateOptions options;
  options.locks = 128;
  {
    auto seg = LockSegment::create(file_path(good), options, &created);
    REQUIRE(seg.ok());
  }
  const std::vector<char> bytes = read_file(good);
  auto header_at = [](std::vector<char>& b) {
    return reinterpret_cast<SegmentHeader*>(b.data());
  };
  std::string p = dir.file("bad");

  auto b = bytes;
  b[0] = 'X';
  write_file(p, b);
  expect_refused(p, "wrong magic");

  b = bytes;
  header_at(b)->version = 1;  // the layout before the owner word was the lock
  write_file(p, b);
  expect_refused(p, "layout version 1");

  b = bytes;
  header_at(b)->mutex_size = 48;
  write_file(p, b);
  expect_refused(p, "pthread_mutex_t is 48 bytes");

  b = bytes;
  header_at(b)->lock_count = 1 << 20;  // more than the object holds
  write_file(p, b);
  expect_refused(p, "do not match its lock count");

  b = bytes;  // a lie told consistently: a 192-lock header on 128 locks
  {
    LockSegment::CreateOptions o;
    o.locks = 192;
    std::string tall = dir.file("tall");
    auto s = LockSegment::create(file_path(tall), o, &created);
    REQUIRE(s.ok());
    std::memcpy(b.data(), s->header(), sizeof(SegmentHeader));
  }
  write_file(p, b);
  expect_refused(p, "the object has " + std::to_string(bytes.size()));

  b = bytes;
  b.resize(bytes.size() - 64);  // truncated by one slot
  write_file(p, b);
  expect_refused(p, "the object has " + std::to_string(bytes.size() - 64));

  b.assign(bytes.begin(), bytes.begin() + 100);  // less than a header
  write_file(p, b);
  expect_refused(p, "truncated");

  b = bytes;
  header_at(b)->allocated = 129;
  write_file(p, b);
  expect_refused(p, "allocation counters");

  b.assign(bytes.size(), 'z');  // a foreign file: refused at once
  write_file(p, b);
  expect_refused(p, "wrong magic");

  // Our magic, never marked ready: the creator died half way. Waited for
  // (2 s), then refused.
  b = bytes;
  header_at(b)->ready.store(0);
  write_file(p, b);
  expect_refused(p, "not initialized");

  // The pure check agrees with open on every byte string above, and a good
  // copy passes it.
  CHECK(validate_segment(bytes.data(), bytes.size(), "copy").ok());
  CHECK_FALSE(validate_segment(bytes.data(), bytes.size() - 1, "copy").ok());
  CHECK_FALSE(validate_segment(bytes.data(), 0, "copy").ok());
}

TEST_CASE("a symlink and a directory are never opened as segments",
          "[lock_segment]") {
  TempDir dir;
  std::string target = dir.file("target");
  bool created = false;
  REQUIRE(LockSegment::create(file_path(target), {}, &created).ok());
  std::string link = dir.file("link");
  REQUIRE(symlink(target.c_str(), link.c_str()) == 0);
  auto opened = LockSegment::open(file_path(link));
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().err == ELOOP);
  auto made = LockSegment::create(file_path(link), {}, &created);
  REQUIRE_FALSE(made.ok());
  auto on_dir = LockSegment::open(file_path(dir.path));
  REQUIRE_FALSE(on_dir.ok());
}

TEST_CASE("check_segment_owner: the caller's own, root's, or --any-owner",
          "[lock_segment]") {
  CHECK(check_segment_owner(1000, 1000, false, "x").ok());
  CHECK(check_segment_owner(0, 1000, false, "x").ok());
  CHECK(check_segment_owner(0, 0, false, "x").ok());
  CHECK(check_segment_owner(65534, 0, true, "x").ok());
  auto other = check_segment_owner(65534, 0, false, "file /tmp/seg");
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().err == EPERM);
  CHECK(other.error().op == "open");
  CHECK(other.error().message ==
        "file /tmp/seg is owned by uid 65534, neither this user (uid 0) "
        "nor root");
  CHECK(other.error().hint.find("--any-owner") != std::string::npos);
  auto stranger = check_segment_owner(1001, 1000, false, "shm /x");
  REQUIRE_FALSE(stranger.ok());
  CHECK(stranger.error().err == EPERM);
}

TEST_CASE("a segment owned by another user is refused unless any_owner",
          "[lock_segment]") {
  if (geteuid() != 0) return;  // chown to another user needs root
  TempDir dir;
  std::string p = dir.file("theirs");
  bool created = false;
  LockSegment::CreateOptions made;
  made.locks = 64;
  REQUIRE(LockSegment::create(file_path(p), made, &created).ok());
  REQUIRE(chown(p.c_str(), 65534, 65534) == 0);
  std::vector<char> before = read_file(p);
  auto refused = LockSegment::open(file_path(p));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().err == EPERM);
  CHECK(refused.error().message.find("uid 65534") != std::string::npos);
  // init --exist-ok takes the same way.
  LockSegment::CreateOptions again = made;
  again.exist_ok = true;
  auto reopened = LockSegment::create(file_path(p), again, &created);
  REQUIRE_FALSE(reopened.ok());
  CHECK(reopened.error().err == EPERM);
  CHECK(read_file(p) == before);
  LockSegment::OpenOptions any;
  any.any_owner = true;
  CHECK(LockSegment::open(file_path(p), any).ok());
  again.any_owner = true;
  CHECK(LockSegment::create(file_path(p), again, &created).ok());
  CHECK_FALSE(created);
  // A foreign owner is refused before the contents are looked at.
  write_file(p, std::vector<char>(100, 'x'));
  REQUIRE(chown(p.c_str(), 65534, 65534) == 0);
  CHECK(LockSegment::open(file_path(p)).error().err == EPERM);
  CHECK(LockSegment::open(file_path(p), any).error().err == EPROTO);
}
