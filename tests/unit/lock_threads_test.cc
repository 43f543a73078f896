// The lock manager used by several threads of one process, on one mapping
// of an anonymous segment. These are the tests ThreadSanitizer can judge:
// scripts/test runs every [concurrency] case in a TSan build.
//
// What TSan sees and what it cannot: it follows the memory accesses and
// the synchronization (atomics, pthread mutexes, semaphores) of the threads
// of the one process it runs in, by virtual address. Another process's
// accesses to shared memory (the forked children of lock_manager_test.cc,
// or a second mapping of the same segment) are invisible to it, so a race
// between processes is not a TSan report: those tests catch it by their
// counts instead (a lost increment, an id held twice). Under TSan the fork
// tests still check each process on its own: mutex misuse, and calls that
// are not async-signal-safe in a signal handler. Here both sides of every
// access are threads of this process: if lock/unlock did not order the
// critical sections (happens-before), the plain counter below is a data
// race TSan reports, and in any build the count comes out short.

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "lock_manager.h"
#include "lock_segment.h"

using namespace ipctk;

namespace {

constexpr int kThreads = 8;

/// Starts `n` threads running `body(i)` at once and joins them.
template <typename F>
void run_threads(int n, F body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < n) std::this_thread::yield();
      body(i);
    });
  for (auto& t : threads) t.join();
}

}  // namespace

TEST_CASE("threads: lock and unlock order the critical sections",
          "[lock][concurrency]") {
  auto seg = LockSegment::anonymous(64);
  REQUIRE(seg.ok());
  LockManager m(*seg);
  // A plain counter: only the lock orders the read-modify-writes.
  uint64_t counter = 0;
  std::atomic<int> errors{0};
  constexpr int kRounds = 2000;
  run_threads(kThreads, [&](int) {
    for (int i = 0; i < kRounds; ++i) {
      // Every other round waits for ever; the others with a timeout, so
      // that the sleeping path (the semaphore) and the try path both run.
      LockWait wait;
      if (i % 2 == 1) wait.timeout = 60;
      if (!m.lock(7, self_owner(), wait).ok()) {
        errors.fetch_add(1);
        return;
      }
      uint64_t v = counter;
      if (i % 64 == 0) std::this_thread::yield();  // widen the window
      counter = v + 1;
      if (!m.unlock(7).ok()) {
        errors.fetch_add(1);
        return;
      }
    }
  });
  CHECK(errors.load() == 0);
  CHECK(counter == uint64_t{kThreads} * kRounds);
  CHECK_FALSE(m.state(7)->locked);
  CHECK(seg->slot(7)->waiters.load() == 0);
}

TEST_CASE("threads: release hands the lock to a sleeping waiter with the "
          "holder's writes", "[lock][concurrency]") {
  auto seg = LockSegment::anonymous(64);
  REQUIRE(seg.ok());
  LockManager m(*seg);
  for (int round = 0; round < 50; ++round) {
    REQUIRE(m.lock(3, self_owner(), {}).ok());
    int message = 0;  // plain: written by the holder, read by the waiter
    int seen = -1;
    std::thread waiter([&] {
      if (m.lock(3, self_owner(), {}).ok()) {
        seen = message;
        (void)m.unlock(3);
      }
    });
    // Asleep (counted) before the release, most rounds.
    for (int i = 0; i < 1000 && seg->slot(3)->waiters.load() == 0; ++i)
      usleep(100);
    message = round + 1;
    REQUIRE(m.unlock(3).ok());
    waiter.join();
    CHECK(seen == round + 1);
  }
  CHECK_FALSE(m.state(3)->locked);
}

TEST_CASE("threads: allocate and free under the bitmap's mutex",
          "[lock][concurrency]") {
  auto seg = LockSegment::anonymous(256);
  REQUIRE(seg.ok());
  LockManager m(*seg);
  // holder[id]: which thread holds it (0 = none), claimed with a CAS right
  // after allocate() returns it; a failed CAS is a double allocation.
  std::vector<std::atomic<int>> holder(256);
  for (auto& h : holder) h = 0;
  std::atomic<int> violations{0};
  run_threads(kThreads, [&](int thread) {
    std::mt19937 rng(static_cast<unsigned>(thread) + 1);
    std::vector<uint64_t> mine;
    for (int step = 0; step < 3000; ++step) {
      if (mine.empty() || (rng() % 3 != 0 && mine.size() < 40)) {
        uint64_t id = 0;
        if (rng() % 2 == 1) {  // the given-id form
          id = rng() % 256;
          if (!m.allocate(id).ok()) continue;  // taken: EEXIST
        } else {
          auto got = m.allocate();
          if (!got.ok()) continue;  // all taken: ENOSPC
          id = *got;
        }
        int expected = 0;
        if (!holder[id].compare_exchange_strong(expected, thread + 1))
          violations.fetch_add(1);
        mine.push_back(id);
      } else {
        size_t k = rng() % mine.size();
        uint64_t id = mine[k];
        mine.erase(mine.begin() + static_cast<long>(k));
        holder[id] = 0;
        if (!m.free(id).ok()) violations.fetch_add(1);
      }
      if (step % 500 == 0) (void)m.allocated_count();
    }
  });
  CHECK(violations.load() == 0);
  // What the threads still hold is exactly what the bitmap says, and the
  // guarded counter agrees.
  uint64_t held = 0;
  for (uint64_t id = 0; id < 256; ++id) {
    bool allocated = m.state(id)->allocated;
    CHECK(allocated == (holder[id] != 0));
    held += allocated;
  }
  CHECK(*m.allocated_count() == held);
}

TEST_CASE("threads: one of many concurrent unlocks releases and one stealer wins",
          "[lock][concurrency]") {
  auto seg = LockSegment::anonymous(64);
  REQUIRE(seg.ok());
  LockManager m(*seg);
  // An owner that is gone: this pid, but another start time (as if the
  // pid had been reused since).
  Owner gone = self_owner();
  gone.start ^= 1;
  for (int round = 0; round < 20; ++round) {
    REQUIRE(m.lock(5, self_owner(), {}).ok());
    std::atomic<int> released{0};
    run_threads(kThreads, [&](int) {
      if (m.unlock(5).ok()) released.fetch_add(1);
    });
    CHECK(released.load() == 1);
    // Stale now: of the stealers one takes it over.
    REQUIRE(m.lock(5, gone, {}).ok());
    REQUIRE(m.state(5)->stale);
    std::atomic<int> stole{0};
    run_threads(kThreads, [&](int) {
      auto won = m.steal_if_stale(5, self_owner());
      if (won.ok() && *won) stole.fetch_add(1);
    });
    CHECK(stole.load() == 1);
    CHECK(m.state(5)->owner->pid == getpid());
    REQUIRE(m.unlock(5).ok());
  }
}
