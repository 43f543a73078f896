#include "podman_locks.h"

#include <pthread.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "lock_segment.h"

using namespace ipctk;

namespace {

/// The first 56 bytes of a podman segment header.
std::string header(uint16_t magic, uint16_t unused, uint32_t bitmaps,
                   uint32_t locks) {
  std::string h(kPodmanHeaderSize, '\0');
  std::memcpy(h.data(), &magic, 2);
  std::memcpy(h.data() + 2, &unused, 2);
  std::memcpy(h.data() + 48, &bitmaps, 4);
  std::memcpy(h.data() + 52, &locks, 4);
  return h;
}

uint64_t size_for(uint32_t bitmaps) { return 56 + uint64_t{bitmaps} * 1288; }

}  // namespace

TEST_CASE("podman's layout with this build's mutex", "[podman]") {
  REQUIRE(sizeof(pthread_mutex_t) == 40);  // the layout the tests describe
  auto l = podman_layout(header(0x87D1, 0, 64, 2048), 82488, "/libpod_lock");
  REQUIRE(l);
  CHECK((l->bitmaps == 64 && l->locks == 2048 && l->size == 82488));
  CHECK(podman_layout(header(0x87D1, 0, 1, 32), size_for(1), "p"));
}

TEST_CASE("what is not podman's layout is refused, saying what differs", "[podman]") {
  auto message = [](const std::string& head, uint64_t size) {
    auto l = podman_layout(head, size, "/x");
    REQUIRE_FALSE(l);
    CHECK(l.error().err == EPROTO);
    return l.error().message;
  };
  CHECK_THAT(message(header(0x1234, 0, 64, 2048), 82488),
             Catch::Contains("magic 0x1234, podman's is 0x87d1"));
  CHECK_THAT(message(header(0x87D1, 3, 64, 2048), 82488),
             Catch::Contains("unused field is 3"));
  CHECK_THAT(message(header(0x87D1, 0, 64, 2048).substr(0, 20), 20),
             Catch::Contains("20 bytes, shorter than the 56-byte header"));
  CHECK_THAT(message(header(0x87D1, 0, 64, 2048), 82488 - 1288),
             Catch::Contains("num_locks larger than the object"));
  // A 48-byte mutex (another ABI) would make another size.
  CHECK_THAT(message(header(0x87D1, 0, 64, 2048), 56 + 64 * (8 + 32 * 48)),
             Catch::Contains("another ABI"));
  CHECK_THAT(message(header(0x87D1, 0, 64, 2049), 82488),
             Catch::Contains("num_locks 2049 does not fit num_bitmaps 64"));
  CHECK_THAT(message(header(0x87D1, 0, 64, 2016), 82488),
             Catch::Contains("does not fit"));
  CHECK_THAT(message(header(0x87D1, 0, 0, 0), 56), Catch::Contains("does not fit"));
  // podman writes a multiple of 32; counts that overflow 32 bits, or are
  // implausibly large, are refused before any lock is read.
  CHECK_THAT(message(header(0x87D1, 0, 2, 40), size_for(2)), Catch::Contains("does not fit"));
  CHECK_THAT(message(header(0x87D1, 0, 1u << 27, 0xFFFFFFFFu), size_for(1u << 27)),
             Catch::Contains("does not fit"));
  CHECK_THAT(message(header(0x87D1, 0, 1u << 25, 1u << 30), size_for(1u << 25)),
             Catch::Contains("more than the 16777216"));
  std::string ours(kPodmanHeaderSize, '\0');
  std::memcpy(ours.data(), kSegmentMagic, sizeof kSegmentMagic);
  CHECK_THAT(message(ours, 8448), Catch::Contains("is a shmctl-lock segment"));
}

TEST_CASE("a robust mutex's words", "[podman]") {
  MutexState free = mutex_state(0, 0);
  CHECK_FALSE((free.held || free.owner_died || free.waiters));
  CHECK(free.holder_tid == 0);
  MutexState held = mutex_state(4242, 4242);
  CHECK((held.held && !held.owner_died && held.holder_tid == 4242));
  MutexState contended = mutex_state(0x80000000u | 77, 77);
  CHECK((contended.held && contended.waiters && contended.holder_tid == 77));
  // The holder died: the kernel cleared the tid and set OWNER_DIED; glibc's
  // owner field still names the thread.
  MutexState died = mutex_state(0x40000000u, 4242);
  CHECK((!died.held && died.owner_died && died.holder_tid == 4242));
  CHECK(mutex_state(0xC0000000u, 9).waiters);
  // Taken over after EOWNERDEAD and not yet made consistent (owner field
  // INT_MAX): held by the new thread.
  MutexState recovering = mutex_state(555, 0x7fffffff);
  CHECK((recovering.held && recovering.holder_tid == 555));
  MutexState recovering2 = mutex_state(555, 0x7fffffff);
  CHECK(recovering2.inconsistent);
  CHECK_FALSE(held.inconsistent);
  // Not recoverable comes first: a trylock leaves its tid in the word.
  MutexState gone = mutex_state(0, 0x7ffffffe);
  CHECK((gone.not_recoverable && !gone.held));
  MutexState tried = mutex_state(15000, 0x7ffffffe);
  CHECK((tried.not_recoverable && !tried.held && tried.holder_tid == 0));
}

TEST_CASE("a mapping of a file in maps text", "[podman]") {
  const char* maps =
      "7f00-7f10 r--s 00000000 00:19 4242                       /dev/shm/libpod_lock\n"
      "7f10-7f20 r-xp 00000000 fd:01 4242                       /usr/lib/x\n"
      "7f20-7f30 rw-p 00000000 00:00 0\n";
  CHECK(maps_file(maps, makedev(0, 0x19), 4242));
  CHECK(maps_file(maps, makedev(0xfd, 1), 4242));
  CHECK_FALSE(maps_file(maps, makedev(0, 0x19), 424));   // a prefix of the inode
  CHECK_FALSE(maps_file(maps, makedev(0, 0x18), 4242));  // another device
  CHECK_FALSE(maps_file("", makedev(0, 0x19), 4242));
}

TEST_CASE("a thread's process from /proc/TID/status", "[podman]") {
  CHECK(parse_status_tgid("Name:\tpython3\nUmask:\t0022\nState:\tS\nTgid:\t4209\nNgid:\t0\nPid:\t4212\n") ==
        pid_t{4209});
  CHECK(parse_status_tgid("Tgid: 7\n") == pid_t{7});
  CHECK_FALSE(parse_status_tgid("Name:\tx\nPid:\t5\n"));
  CHECK_FALSE(parse_status_tgid("Tgid:\tabc\n"));
  CHECK(thread_group(getpid()) == getpid());
}
