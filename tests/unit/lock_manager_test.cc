#include "lock_manager.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "process.h"

using namespace ipctk;

namespace {

double now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

/// Memory shared with forked children, for counters and ownership maps.
template <typename T>
struct Shared {
  explicit Shared(size_t n) : n_(n) {
    void* p = mmap(nullptr, sizeof(T) * n, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    data = static_cast<T*>(p);
  }
  ~Shared() { munmap(data, sizeof(T) * n_); }
  T* data;
  size_t n_;
};

/// Runs `body(i)` in `n` forked children and returns how many exited 0.
template <typename F>
int run_children(int n, F body) {
  std::vector<pid_t> kids;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) _exit(body(i) ? 0 : 1);
    kids.push_back(pid);
  }
  int ok = 0;
  for (pid_t pid : kids) {
    int status = 0;
    waitpid(pid, &status, 0);
    ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  return ok;
}

/// An owner that existed and is gone: a child that has exited and been
/// reaped.
Owner dead_owner() {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    pause();
    _exit(0);
  }
  auto owner = owner_of(pid);
  REQUIRE(owner.ok());
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return *owner;
}

/// The three placements of one format.
struct Placed {
  explicit Placed(Placement where, uint64_t locks = 128) {
    if (where == Placement::kAnonymous) {
      auto s = LockSegment::anonymous(locks);
      REQUIRE(s.ok());
      seg.emplace(std::move(*s));
      return;
    }
    path.placement = where;
    path.name = where == Placement::kShm
                    ? "/ipctk-unit-mgr-" + std::to_string(getpid())
                    : "/tmp/ipctk-unit-mgr-" + std::to_string(getpid());
    LockSegment::CreateOptions o;
    o.locks = locks;
    bool created = false;
    auto s = LockSegment::create(path, o, &created);
    REQUIRE(s.ok());
    seg.emplace(std::move(*s));
  }
  ~Placed() {
    if (path.placement != Placement::kAnonymous && !path.name.empty())
      (void)LockSegment::remove(path);
  }
  SegmentPath path{Placement::kAnonymous, ""};
  std::optional<LockSegment> seg;
};

}  // namespace

TEST_CASE("owner records pack pid and start time in one word", "[lock]") {
  for (bool until_exit : {false, true}) {
    Owner o{4194303, (uint64_t{1} << 40) - 1, until_exit};
    auto back = unpack_owner(pack_owner(o));
    REQUIRE(back);
    CHECK(back->pid == o.pid);
    CHECK(back->start == o.start);
    CHECK(back->until_exit == until_exit);
    Owner small{1, 0, until_exit};
    back = unpack_owner(pack_owner(small));
    REQUIRE(back);
    CHECK((back->pid == 1 && back->start == 0 && back->until_exit == until_exit));
  }
  CHECK_FALSE(unpack_owner(0));
  CHECK(owner_alive(self_owner()));
  CHECK(self_owner().pid == getpid());
  Owner reused = self_owner();
  reused.start += 1;  // the same pid, another process
  CHECK_FALSE(owner_alive(reused));
  CHECK_FALSE(owner_alive(dead_owner()));
  CHECK_FALSE(owner_of(0).ok());
}

TEST_CASE("parse_stat_start_time counts fields after the name", "[lock]") {
  CHECK(*parse_stat_start_time(
            "42 (a) b) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 19") ==
        777);
  CHECK(*parse_stat_start_time(
            "1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 12 9") == 12);
  CHECK_FALSE(parse_stat_start_time("1 (x) Z 0 1 1 0 -1 1 2 3 4 5 6 7 8 9 1 2 3 4 5"));
  CHECK_FALSE(parse_stat_start_time("no parenthesis"));
  CHECK_FALSE(parse_stat_start_time("1 (x) S 2 3"));
}

TEST_CASE("allocation: first free, given id, free, reuse, exhaustion",
          "[lock]") {
  Placed p(Placement::kAnonymous, 128);
  LockManager m(*p.seg);
  for (uint64_t want = 0; want < 70; ++want) CHECK(*m.allocate() == want);
  REQUIRE(m.free(3).ok());
  REQUIRE(m.free(65).ok());
  CHECK(*m.allocate() == 3);   // the lowest free one
  CHECK(*m.allocate() == 65);
  CHECK(*m.allocate() == 70);
  auto twice = m.allocate(70);
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().err == EEXIST);
  auto out = m.allocate(128);
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().err == EINVAL);
  REQUIRE(m.allocate(127).ok());
  auto not_allocated = m.free(100);
  REQUIRE_FALSE(not_allocated.ok());
  CHECK(not_allocated.error().err == ENOENT);
  CHECK(*m.allocated_count() == 72);
  // Exhaustion: ENOSPC, and nothing allocated by the failure.
  while (m.allocate().ok()) {
  }
  CHECK(*m.allocated_count() == 128);
  auto full = m.allocate();
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().err == ENOSPC);
  CHECK(*m.allocated_count() == 128);
  CHECK(*m.free_all() == 128);
  CHECK(*m.allocated_count() == 0);
  CHECK(*m.allocate() == 0);
  // A freed lock stays usable.
  REQUIRE(m.lock(0, self_owner(), {}).ok());
  REQUIRE(m.free(0).ok());
  REQUIRE(m.unlock(0).ok());
}

TEST_CASE("lock, trylock, timed lock, unlock", "[lock]") {
  Placed p(Placement::kAnonymous, 64);
  LockManager m(*p.seg);
  auto not_locked = m.unlock(5);
  REQUIRE_FALSE(not_locked.ok());
  CHECK(not_locked.error().err == EBUSY);
  REQUIRE(m.lock(5, self_owner(), {}).ok());
  auto st = m.state(5);
  REQUIRE(st.ok());
  CHECK(st->locked);
  CHECK_FALSE(st->allocated);  // locks work on unallocated ids
  REQUIRE(st->owner);
  CHECK(st->owner->pid == getpid());
  CHECK(st->owner_alive);
  CHECK_FALSE(st->stale);
  CHECK(st->since_ns > 0);
  LockWait nowait;
  nowait.nowait = true;
  auto busy = m.lock(5, self_owner(), nowait);
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error().err == EAGAIN);
  CHECK(busy.error().exit_status == kExitWouldBlock);
  LockWait timed;
  timed.timeout = 0.2;
  double t0 = now();
  auto late = m.lock(5, self_owner(), timed);
  double took = now() - t0;
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().err == ETIMEDOUT);
  CHECK(late.error().exit_status == kExitWouldBlock);
  CHECK(took >= 0.2);
  CHECK(took < 2.0);
  REQUIRE(m.unlock(5).ok());
  CHECK_FALSE(m.unlock(5).ok());
  CHECK_FALSE(m.state(5)->locked);
  CHECK_FALSE(m.lock(64, self_owner(), {}).ok());
}

TEST_CASE("a lock whose owner is gone is stale, and one stealer wins",
          "[lock][concurrency]") {
  Placed p(Placement::kAnonymous, 64);
  LockManager m(*p.seg);
  Owner gone = dead_owner();
  REQUIRE(m.lock(9, gone, {}).ok());
  auto st = m.state(9);
  REQUIRE(st.ok());
  CHECK(st->locked);
  CHECK(st->stale);
  CHECK_FALSE(st->owner_alive);
  // A live owner's lock is not stolen.
  REQUIRE(m.lock(10, self_owner(), {}).ok());
  CHECK_FALSE(*m.steal_if_stale(10, self_owner()));
  // Many processes race to steal lock 9: exactly one does.
  // Each stays alive until all have tried: a winner that exited would be a
  // stale owner in turn.
  Shared<std::atomic<int>> counts(3);  // winners, ready, done
  for (int i = 0; i < 3; ++i) counts.data[i] = 0;
  int ok = run_children(8, [&](int) {
    auto me = owner_of(getpid());
    counts.data[1].fetch_add(1);
    while (counts.data[1].load() < 8) sched_yield();  // start together
    auto won = m.steal_if_stale(9, *me);
    if (won.ok() && *won) counts.data[0].fetch_add(1);
    counts.data[2].fetch_add(1);
    while (counts.data[2].load() < 8) sched_yield();
    return won.ok();
  });
  std::atomic<int>* winners = counts.data;
  CHECK(ok == 8);
  CHECK(winners[0] == 1);
  // The winner is gone too by now: stale again, and lock --steal-stale
  // semantics through lock() take it.
  LockWait steal;
  steal.steal_stale = true;
  steal.timeout = 2.0;
  bool stole = false;
  REQUIRE(m.lock(9, self_owner(), steal, &stole).ok());
  CHECK(stole);
  CHECK(m.state(9)->owner->pid == getpid());
  // A holder that dies while another waits with steal_stale: the waiter
  // takes it over without anyone posting.
  REQUIRE(m.unlock(9).ok());
  pid_t holder = fork();
  if (holder == 0) {
    auto me = owner_of(getpid());
    if (!m.lock(9, *me, {}).ok()) _exit(1);
    pause();
    _exit(0);
  }
  // Killed once it holds the lock (taking it records it).
  while (!m.state(9)->owner) usleep(1000);
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  stole = false;
  REQUIRE(m.lock(9, self_owner(), steal, &stole).ok());
  CHECK(stole);
  REQUIRE(m.unlock(9).ok());
  REQUIRE(m.unlock(10).ok());
}

TEST_CASE("mutual exclusion: 8 processes x 5000 increments, every placement",
          "[lock][slow][concurrency]") {
  for (Placement where :
       {Placement::kAnonymous, Placement::kShm, Placement::kFile}) {
    Placed p(where, 64);
    INFO("placement " << p.seg->path().backend());
    LockManager m(*p.seg);
    Shared<uint64_t> counter(1);
    counter.data[0] = 0;
    int ok = run_children(8, [&](int) {
      auto me = owner_of(getpid());
      for (int i = 0; i < 5000; ++i) {
        if (!m.lock(7, *me, {}).ok()) return false;
        // A read-modify-write that loses updates without the lock.
        volatile uint64_t* c = counter.data;
        uint64_t v = *c;
        if (i % 64 == 0) sched_yield();
        *c = v + 1;
        if (!m.unlock(7).ok()) return false;
      }
      return true;
    });
    CHECK(ok == 8);
    CHECK(counter.data[0] == 40000);
    CHECK_FALSE(m.state(7)->locked);
  }
}

TEST_CASE("concurrent allocation: no id is ever held twice",
          "[lock][slow][concurrency]") {
  Placed p(Placement::kAnonymous, 256);
  LockManager m(*p.seg);
  // holder[id]: which child holds it (0 = none), claimed with a CAS right
  // after allocate() returns it; a failed CAS is a double allocation.
  Shared<std::atomic<int>> holder(256);
  Shared<std::atomic<int>> violations(1);
  for (int i = 0; i < 256; ++i) holder.data[i] = 0;
  violations.data[0] = 0;
  double until = now() + 1.5;
  int ok = run_children(8, [&](int child) {
    std::mt19937 rng(static_cast<unsigned>(getpid()));
    std::vector<uint64_t> mine;
    while (now() < until) {
      if (mine.empty() || (rng() % 3 != 0 && mine.size() < 40)) {
        Result<uint64_t> id = uint64_t{0};
        if (rng() % 2 == 1) {  // the given-id form
          uint64_t want = rng() % 256;
          if (!m.allocate(want).ok()) continue;  // taken: EEXIST
          id = want;
        } else {
          id = m.allocate();
          if (!id.ok()) continue;  // all taken: ENOSPC
        }
        int expected = 0;
        if (!holder.data[*id].compare_exchange_strong(expected, child + 1))
          violations.data[0].fetch_add(1);
        mine.push_back(*id);
      } else {
        size_t k = rng() % mine.size();
        uint64_t id = mine[k];
        mine.erase(mine.begin() + static_cast<long>(k));
        holder.data[id] = 0;
        if (!m.free(id).ok()) violations.data[0].fetch_add(1);
      }
    }
    return true;
  });
  CHECK(ok == 8);
  CHECK(violations.data[0] == 0);
  // What the children still hold is exactly what the bitmap says.
  uint64_t held = 0, bits = 0;
  for (uint64_t id = 0; id < 256; ++id) {
    held += holder.data[id] != 0;
    bool allocated = m.state(id)->allocated;
    bits += allocated;
    CHECK(allocated == (holder.data[id] != 0));
  }
  CHECK(held == bits);
  CHECK(*m.allocated_count() == bits);
}

TEST_CASE("a process killed holding the bitmap mutex does not wedge it",
          "[lock][concurrency]") {
  Placed p(Placement::kAnonymous, 128);
  LockManager m(*p.seg);
  REQUIRE(m.allocate().ok());  // lock 0
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Dies inside the critical section, half way through an allocation:
    // the bit is set, the counter not yet incremented.
    SegmentHeader* h = p.seg->header();
    pthread_mutex_lock(&h->mutex);
    p.seg->bitmap()[0] |= 2;  // lock 1
    _exit(0);
  }
  waitpid(child, nullptr, 0);
  // The next user gets EOWNERDEAD inside, repairs the counters from the
  // bitmap, and goes on.
  CHECK(*m.allocate() == 2);
  CHECK(*m.allocated_count() == 3);
  CHECK(m.state(1)->allocated);
  CHECK(*m.allocate() == 3);
}

TEST_CASE("release gives back only the holder's own lock", "[lock]") {
  Placed p(Placement::kAnonymous, 64);
  LockManager m(*p.seg);
  Owner other = self_owner();
  other.pid += 1;  // some other holder's record
  REQUIRE(m.lock(4, self_owner(), {}).ok());
  // Force-released and taken by another meanwhile: not ours to release.
  REQUIRE(m.unlock(4).ok());
  REQUIRE(m.lock(4, other, {}).ok());
  auto r = m.release(4, self_owner());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().err == EPERM);
  auto st = m.state(4);
  REQUIRE(st.ok());
  CHECK(st->locked);
  CHECK(st->owner->pid == other.pid);
  REQUIRE(m.release(4, other).ok());
  CHECK_FALSE(m.state(4)->locked);
  CHECK_FALSE(m.release(4, other).ok());  // not locked: nothing posted
  CHECK_FALSE(m.state(4)->locked);
  LockWait nowait;
  nowait.nowait = true;
  REQUIRE(m.lock(4, self_owner(), nowait).ok());
  CHECK_FALSE(m.lock(4, self_owner(), nowait).ok());  // one token, not two
  REQUIRE(m.unlock(4).ok());
}

namespace {

int sem_value(const LockSegment& seg, uint64_t id) {
  int value = -1;
  sem_getvalue(&seg.slot(id)->sem, &value);
  return value;
}

uint32_t waiters(const LockSegment& seg, uint64_t id) {
  return seg.slot(id)->waiters.load();
}

/// Polls until `cond` holds, for at most 5 s.
template <typename F>
bool eventually(F cond) {
  for (double until = now() + 5; now() < until; usleep(1000))
    if (cond()) return true;
  return cond();
}

}  // namespace

TEST_CASE("of many concurrent unlocks of one held lock, one releases it",
          "[lock][concurrency]") {
  Placed p(Placement::kAnonymous, 64);
  LockManager m(*p.seg);
  for (int round = 0; round < 20; ++round) {
    REQUIRE(m.lock(3, self_owner(), {}).ok());
    Shared<std::atomic<int>> counts(2);  // released, ready
    counts.data[0] = 0;
    counts.data[1] = 0;
    int ok = run_children(6, [&](int) {
      counts.data[1].fetch_add(1);
      while (counts.data[1].load() < 6) sched_yield();
      auto r = m.unlock(3);
      if (r.ok()) counts.data[0].fetch_add(1);
      return r.ok() || r.error().err == EBUSY;
    });
    CHECK(ok == 6);
    CHECK(counts.data[0] == 1);
    // Released once: one lock takes it, a second would block.
    LockWait nowait;
    nowait.nowait = true;
    REQUIRE(m.lock(3, self_owner(), nowait).ok());
    CHECK_FALSE(m.lock(3, self_owner(), nowait).ok());
    REQUIRE(m.unlock(3).ok());
  }
}

TEST_CASE("a waiter sleeps on the semaphore until the release wakes it",
          "[lock][concurrency]") {
  Placed p(Placement::kShm, 64);
  LockManager m(*p.seg);
  REQUIRE(m.lock(2, self_owner(), {}).ok());
  Shared<double> taken_at(1);
  taken_at.data[0] = 0;
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto me = owner_of(getpid());
    if (!m.lock(2, *me, {}).ok()) _exit(1);
    taken_at.data[0] = now();
    _exit(m.release(2, *me).ok() ? 0 : 1);
  }
  // Asleep in sem_wait, counted, nothing posted.
  REQUIRE(eventually([&] { return waiters(*p.seg, 2) == 1; }));
  usleep(100000);
  CHECK(taken_at.data[0] == 0);
  CHECK(sem_value(*p.seg, 2) == 0);
  double released_at = now();
  REQUIRE(m.unlock(2).ok());
  int status = 0;
  waitpid(child, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(taken_at.data[0] >= released_at);
  CHECK(waiters(*p.seg, 2) == 0);
  CHECK(sem_value(*p.seg, 2) == 0);  // the wake-up was taken
  CHECK_FALSE(m.state(2)->locked);
}

TEST_CASE("waiters that time out or die leave the lock working",
          "[lock][concurrency]") {
  Placed p(Placement::kAnonymous, 64);
  LockManager m(*p.seg);
  REQUIRE(m.lock(6, self_owner(), {}).ok());
  // A waiter that times out is uncounted again.
  LockWait timed;
  timed.timeout = 0.1;
  auto late = m.lock(6, self_owner(), timed);
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().err == ETIMEDOUT);
  CHECK(waiters(*p.seg, 6) == 0);
  // A waiter killed while it sleeps stays counted: every release then
  // posts, yet at most one wake-up is ever pending.
  pid_t doomed = fork();
  REQUIRE(doomed >= 0);
  if (doomed == 0) {
    auto me = owner_of(getpid());
    (void)m.lock(6, *me, {});
    _exit(1);
  }
  REQUIRE(eventually([&] { return waiters(*p.seg, 6) == 1; }));
  kill(doomed, SIGKILL);
  waitpid(doomed, nullptr, 0);
  CHECK(waiters(*p.seg, 6) == 1);
  for (int i = 0; i < 100; ++i) {
    REQUIRE(m.unlock(6).ok());
    CHECK(sem_value(*p.seg, 6) == 1);
    REQUIRE(m.lock(6, self_owner(), {}).ok());
  }
  // A live waiter is still woken by a release (the stray wake-up makes it
  // look once more and sleep again first).
  Shared<int> got(1);
  got.data[0] = 0;
  pid_t waiter = fork();
  REQUIRE(waiter >= 0);
  if (waiter == 0) {
    auto me = owner_of(getpid());
    if (!m.lock(6, *me, {}).ok()) _exit(1);
    got.data[0] = 1;
    _exit(m.release(6, *me).ok() ? 0 : 1);
  }
  REQUIRE(eventually([&] { return waiters(*p.seg, 6) == 2; }));
  usleep(50000);
  CHECK(got.data[0] == 0);
  REQUIRE(m.unlock(6).ok());
  int status = 0;
  waitpid(waiter, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(got.data[0] == 1);
  CHECK_FALSE(m.state(6)->locked);
}

TEST_CASE("a lock that ends with its holder is free once the holder is gone",
          "[lock]") {
  Placed p(Placement::kAnonymous, 64);
  LockManager m(*p.seg);
  Owner ended = dead_owner();
  ended.until_exit = true;
  REQUIRE(m.lock(8, ended, {}).ok());
  // Not stale: free, though its word is not cleared yet.
  auto st = m.state(8);
  REQUIRE(st.ok());
  CHECK_FALSE(st->locked);
  CHECK_FALSE(st->owner);
  CHECK_FALSE(st->stale);
  auto not_locked = m.unlock(8);
  REQUIRE_FALSE(not_locked.ok());
  CHECK(not_locked.error().err == EBUSY);
  CHECK(p.seg->slot(8)->owner.load() == 0);  // and now cleared
  // Taken by a plain lock, no --steal-stale needed, without waiting.
  REQUIRE(m.lock(8, ended, {}).ok());
  LockWait nowait;
  nowait.nowait = true;
  bool stole = true;
  REQUIRE(m.lock(8, self_owner(), nowait, &stole).ok());
  CHECK_FALSE(stole);
  CHECK(m.state(8)->owner->pid == getpid());
  // A live holder of that kind holds it like any other.
  REQUIRE(m.unlock(8).ok());
  Owner me = self_owner();
  me.until_exit = true;
  REQUIRE(m.lock(8, me, {}).ok());
  st = m.state(8);
  CHECK(st->locked);
  CHECK(st->owner_alive);
  CHECK_FALSE(st->stale);
  CHECK_FALSE(m.lock(8, self_owner(), nowait).ok());
  REQUIRE(m.unlock(8).ok());
  CHECK_FALSE(m.state(8)->locked);
}

TEST_CASE("a waiter takes the lock when a holder it ends with exits",
          "[lock][concurrency]") {
  Placed p(Placement::kShm, 64);
  LockManager m(*p.seg);
  Shared<std::atomic<int>> go(1);
  go.data[0] = 0;
  pid_t holder = fork();
  REQUIRE(holder >= 0);
  if (holder == 0) {
    auto me = owner_of(getpid());
    me->until_exit = true;
    if (!m.lock(11, *me, {}).ok()) _exit(1);
    go.data[0] = 1;
    while (go.data[0] != 2) usleep(1000);
    _exit(0);  // never unlocks: its exit is the release
  }
  REQUIRE(eventually([&] { return go.data[0].load() == 1; }));
  Shared<double> taken_at(1);
  taken_at.data[0] = 0;
  pid_t waiter = fork();
  REQUIRE(waiter >= 0);
  if (waiter == 0) {
    auto me = owner_of(getpid());
    LockWait timed;
    timed.timeout = 20;
    if (!m.lock(11, *me, timed).ok()) _exit(1);
    taken_at.data[0] = now();
    _exit(m.release(11, *me).ok() ? 0 : 1);
  }
  REQUIRE(eventually([&] { return waiters(*p.seg, 11) == 1; }));
  usleep(200000);
  CHECK(taken_at.data[0] == 0);
  double exit_at = now();
  go.data[0] = 2;
  // The holder is not reaped yet: a zombie holds nothing.
  CHECK(eventually([&] { return taken_at.data[0] != 0; }));
  int status = 0;
  waitpid(waiter, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  waitpid(holder, nullptr, 0);
  CHECK(taken_at.data[0] >= exit_at);
  // Without anyone unlocking: woken by the exit.
  CHECK(taken_at.data[0] - exit_at < 1.0);
  CHECK_FALSE(m.state(11)->locked);
}
