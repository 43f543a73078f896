#include "lock_manager.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "clock.h"
#include "process.h"

namespace ipctk {

namespace {


std::string lock_text(uint64_t id) { return "lock " + std::to_string(id); }

/// The coarse clock is a few nanoseconds where the precise one costs tens,
/// on the path every lock takes; "held since" needs no better than 4 ms.
int64_t realtime_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string owner_text(uint64_t word) {
  auto owner = unpack_owner(word);
  if (!owner) return "nobody (it was released just now)";
  std::string name = process_name(owner->pid);
  std::string text = "pid " + std::to_string(owner->pid);
  if (!owner_alive(*owner)) return text + " (gone: the lock is stale)";
  if (!name.empty()) text += " (" + name + ")";
  return text;
}

/// The bitmap's guard: a robust mutex. A holder that died inside leaves
/// EOWNERDEAD to the next locker, who makes the counters agree with the
/// bitmap again (each bit is one store, so the bits themselves are whole).
class BitmapGuard {
 public:
  explicit BitmapGuard(const LockSegment& seg) : seg_(seg) {
    SegmentHeader* h = seg_.header();
    int rc = pthread_mutex_lock(&h->mutex);
    if (rc == EOWNERDEAD) {
      repair();
      rc = pthread_mutex_consistent(&h->mutex);
    }
    rc_ = rc;
  }
  ~BitmapGuard() {
    if (rc_ == 0) pthread_mutex_unlock(&seg_.header()->mutex);
  }
  BitmapGuard(const BitmapGuard&) = delete;
  BitmapGuard& operator=(const BitmapGuard&) = delete;

  Status status() const {
    if (rc_ == 0) return Ok{};
    return sys_error("pthread_mutex_lock", rc_, "the segment's bitmap mutex",
                     rc_ == ENOTRECOVERABLE
                         ? "the segment is unusable; destroy it and init again"
                         : "");
  }

 private:
  void repair() {
    SegmentHeader* h = seg_.header();
    uint64_t words = h->lock_count / kLocksPerWord;
    const uint64_t* bm = seg_.bitmap();
    uint64_t count = 0;
    uint64_t first_free = words;
    for (uint64_t w = 0; w < words; ++w) {
      count += static_cast<uint64_t>(__builtin_popcountll(bm[w]));
      if (first_free == words && bm[w] != ~uint64_t{0}) first_free = w;
    }
    h->allocated = count;
    h->next_free_word = first_free;
  }

  const LockSegment& seg_;
  int rc_ = 0;
};

Error interrupted(int sig, uint64_t id) {
  return Error{"sem_wait", EINTR,
               "interrupted by " + signal_name(sig) + " while waiting for " +
                   lock_text(id) + "; it was not taken",
               "", static_cast<ExitStatus>(kExitSignalBase + sig)};
}

/// How long a waiter for a holder's exit sleeps before it looks at the lock
/// again (it may be force-released meanwhile, which does not wake it).
constexpr double kExitWaitSlice = 0.1;
/// The longest sleep on the semaphore, and the one with --steal-stale.
constexpr double kSleepSlice = 0.5;
constexpr double kStealSlice = 0.1;

/// Sleeps until `holder` exits or `until` (CLOCK_MONOTONIC seconds) comes,
/// whichever is first; a caught signal ends it early too.
Status wait_for_exit(const Owner& holder, double until) {
  double left = until - monotonic_seconds();
  if (left <= 0) return Ok{};
  int timeout_ms = static_cast<int>(std::ceil(left * 1000));
  int fd = static_cast<int>(syscall(SYS_pidfd_open, holder.pid, 0));
  if (fd < 0) {
    if (errno == ESRCH) return Ok{};  // gone already
    // No pidfd (a kernel before 5.3): look again in a while.
    struct timespec ts = {0, std::min(timeout_ms, 10) * 1000000L};
    nanosleep(&ts, nullptr);
    return Ok{};
  }
  // The pid may name a later process by now: then the holder is gone.
  if (owner_alive(holder)) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR) {
      int err = errno;
      close(fd);
      return sys_error("poll", err, "pidfd of pid " + std::to_string(holder.pid));
    }
  }
  close(fd);
  return Ok{};
}

}  // namespace

std::optional<Owner> unpack_owner(uint64_t word) {
  if ((word & kOwnerHeldBit) == 0) return std::nullopt;
  Owner o;
  o.pid = static_cast<pid_t>(word & kOwnerPidMask);
  o.start = (word >> 22) & kOwnerStartMask;
  o.until_exit = (word & kOwnerUntilExitBit) != 0;
  return o;
}

Result<Owner> owner_of(pid_t pid) {
  auto start = process_start_time(pid);
  if (!start)
    return sys_error("open", ESRCH, "/proc/" + std::to_string(pid) + "/stat",
                     "no such process: the owner must be alive when it locks");
  return Owner{pid, *start & kOwnerStartMask};
}

const Owner& self_owner() {
  // Without /proc the start time is unknown (0): such an owner is never
  // seen alive, so callers that need it alive (lock -- COMMAND) use
  // owner_of, which fails instead.
  static const Owner self = [] {
    auto o = owner_of(getpid());
    return o ? *o : Owner{getpid(), 0};
  }();
  return self;
}

bool owner_alive(const Owner& owner) {
  auto start = process_start_time(owner.pid);
  if (start) return (*start & kOwnerStartMask) == owner.start;
  // No start time: a zombie or no such process, or one this caller cannot
  // see in /proc (hidepid) or read (out of descriptors). Only a process
  // that does not exist is gone; the others are given the benefit of the
  // doubt, so that no lock is taken over from a live holder.
  if (kill(owner.pid, 0) == 0 || errno == EPERM) {
    return !process_is_zombie(owner.pid);
  }
  return false;
}

std::string LockManager::hint_command(const std::string& words) const {
  return "'shmctl-lock " + words + " --path " + seg_.path().name + "'";
}

Status LockManager::check_id(uint64_t id, const char* op) const {
  if (id < seg_.lock_count()) return Ok{};
  return Error{op, EINVAL,
               lock_text(id) + " is out of range: " + seg_.path().name +
                   " has locks 0.." + std::to_string(seg_.lock_count() - 1),
               hint_command("info") + " shows the lock count", kExitFailed};
}

Result<uint64_t> LockManager::allocate() {
  BitmapGuard guard(seg_);
  if (auto s = guard.status(); !s) return s.error();
  SegmentHeader* h = seg_.header();
  uint64_t* bm = seg_.bitmap();
  uint64_t words = h->lock_count / kLocksPerWord;
  for (uint64_t w = h->next_free_word; w < words; ++w) {
    if (bm[w] == ~uint64_t{0}) continue;
    int bit = __builtin_ctzll(~bm[w]);
    bm[w] |= uint64_t{1} << bit;
    ++h->allocated;
    h->next_free_word = bm[w] == ~uint64_t{0} ? w + 1 : w;
    return w * kLocksPerWord + static_cast<uint64_t>(bit);
  }
  h->next_free_word = words;
  return Error{"alloc", ENOSPC,
               "all " + std::to_string(h->lock_count) + " locks of " +
                   seg_.path().name + " are allocated",
               "free some (" + hint_command("status --allocated") +
                   " lists them), or init a segment with more --locks",
               kExitFailed};
}

Status LockManager::allocate(uint64_t id) {
  if (auto s = check_id(id, "alloc"); !s) return s;
  BitmapGuard guard(seg_);
  if (auto s = guard.status(); !s) return s;
  uint64_t& word = seg_.bitmap()[id / kLocksPerWord];
  uint64_t bit = uint64_t{1} << (id % kLocksPerWord);
  if (word & bit)
    return Error{"alloc", EEXIST, lock_text(id) + " is already allocated",
                 hint_command("alloc") + " gives the first free one",
                 kExitFailed};
  word |= bit;
  ++seg_.header()->allocated;
  return Ok{};
}

Status LockManager::free(uint64_t id) {
  if (auto s = check_id(id, "free"); !s) return s;
  BitmapGuard guard(seg_);
  if (auto s = guard.status(); !s) return s;
  SegmentHeader* h = seg_.header();
  uint64_t w = id / kLocksPerWord;
  uint64_t& word = seg_.bitmap()[w];
  uint64_t bit = uint64_t{1} << (id % kLocksPerWord);
  if ((word & bit) == 0)
    return Error{"free", ENOENT, lock_text(id) + " is not allocated",
                 hint_command("status --allocated") + " lists the allocated locks",
                 kExitFailed};
  word &= ~bit;
  --h->allocated;
  if (w < h->next_free_word) h->next_free_word = w;
  return Ok{};
}

Result<uint64_t> LockManager::free_all() {
  BitmapGuard guard(seg_);
  if (auto s = guard.status(); !s) return s.error();
  SegmentHeader* h = seg_.header();
  uint64_t freed = h->allocated;
  std::memset(seg_.bitmap(), 0, h->lock_count / kLocksPerWord * sizeof(uint64_t));
  h->allocated = 0;
  h->next_free_word = 0;
  return freed;
}

Result<uint64_t> LockManager::allocated_count() {
  BitmapGuard guard(seg_);
  if (auto s = guard.status(); !s) return s.error();
  return seg_.header()->allocated;
}

void LockManager::stamp(LockSlot* slot) {
  slot->since_ns.store(realtime_ns(), std::memory_order_relaxed);
}

Status LockManager::wake_waiter(uint64_t id, LockSlot* slot) {
  // The release before this must be seen before the semaphore is read: a
  // wake-up read as pending is then taken by a waiter that sees the lock
  // free (or held by someone whose release wakes again).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  int value = 0;
  if (sem_getvalue(&slot->sem, &value) == 0 && value > 0) return Ok{};
  if (sem_post(&slot->sem) != 0)
    return sys_error("sem_post", errno, lock_text(id));
  return Ok{};
}

Status LockManager::lock_slow(uint64_t id, const Owner& owner,
                              const LockWait& wait, bool* stole) {
  if (auto s = check_id(id, "lock"); !s) return s;
  LockSlot* slot = seg_.slot(id);
  const uint64_t mine = pack_owner(owner);
  auto take = [&] {
    uint64_t free_word = 0;
    if (!slot->owner.compare_exchange_strong(free_word, mine)) return false;
    stamp(slot);
    return true;
  };
  // A holder that the lock ends with and that is gone: the lock is free,
  // only its word not cleared yet. Taken over like a free lock.
  auto take_ended = [&] {
    uint64_t word = slot->owner.load(std::memory_order_acquire);
    auto current = unpack_owner(word);
    if (!current || !current->until_exit || owner_alive(*current)) return false;
    if (!slot->owner.compare_exchange_strong(word, mine)) return false;
    stamp(slot);
    return true;
  };
  auto held_by = [&] {
    return lock_text(id) + " is held by " +
           owner_text(slot->owner.load(std::memory_order_acquire));
  };
  double deadline = wait.timeout ? monotonic_seconds() + *wait.timeout : 0;
  // Counted in `waiters` from the first sleep on, so that a release wakes
  // us; uncounted however the wait ends. One that gives up (a timeout, a
  // signal) may have taken the wake-up a release meant for all: it passes
  // one on if others wait. A waiter killed while counted leaves the count
  // one too high (releases then post wake-ups nobody needs: spurious
  // wakes), and one killed holding a wake-up leaves the others to their
  // next look, which every sleep has within kSleepSlice.
  struct Counted {
    uint64_t id = 0;
    LockSlot* slot = nullptr;
    bool taken = false;
    ~Counted() {
      if (slot == nullptr) return;
      if (slot->waiters.fetch_sub(1) > 1 && !taken) (void)wake_waiter(id, slot);
    }
  } counted;
  auto got_it = [&] {
    counted.taken = true;
    return Status(Ok{});
  };
  for (;;) {
    int sig = wait.interrupts != nullptr ? wait.interrupts->caught() : 0;
    if (sig != 0) return interrupted(sig, id);
    if (take() || take_ended()) return got_it();
    if (wait.steal_stale) {
      auto s = steal_if_stale(id, owner);
      if (!s) return s.error();
      if (*s) {
        if (stole != nullptr) *stole = true;
        return got_it();
      }
    }
    if (wait.nowait)
      return would_block_error(
          "lock", EAGAIN, held_by(),
          hint_command("status " + std::to_string(id)) + " shows it");
    if (wait.timeout && monotonic_seconds() >= deadline)
      return would_block_error(
          "sem_clockwait", ETIMEDOUT,
          "timed out after " + seconds_text(*wait.timeout) + " s: " +
              held_by(),
          hint_command("status " + std::to_string(id)) + " shows it");
    if (counted.slot == nullptr) {
      // Counted before the next try, which a release after this sees.
      slot->waiters.fetch_add(1);
      counted.id = id;
      counted.slot = slot;
      continue;
    }
    auto holder = unpack_owner(slot->owner.load(std::memory_order_acquire));
    if (holder && holder->until_exit) {
      // Nobody posts when such a holder ends: wait for its exit instead.
      double until = monotonic_seconds() + kExitWaitSlice;
      if (wait.timeout) until = std::min(until, deadline);
      if (auto s = wait_for_exit(*holder, until); !s) return s;
      continue;
    }
    // Every sleep ends within a slice, to look at the lock again: a holder
    // that dies never releases (--steal-stale looks often), a holder that
    // the lock ends with may have taken it over meanwhile, and a wake-up
    // can be lost with its waiter.
    double until =
        monotonic_seconds() + (wait.steal_stale ? kStealSlice : kSleepSlice);
    if (wait.timeout) until = std::min(until, deadline);
    struct timespec ts = to_timespec(until);
    int rc = sem_clockwait(&slot->sem, CLOCK_MONOTONIC, &ts);
    if (rc != 0 && errno != EINTR && errno != ETIMEDOUT)
      return sys_error("sem_clockwait", errno, lock_text(id));
    // Woken, timed out or interrupted: the checks above say which matters.
    // The fence pairs with the one in wake_waiter: a wake-up taken here is
    // ordered before the look at the owner word.
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

Result<bool> LockManager::steal_if_stale(uint64_t id, const Owner& owner) {
  if (auto s = check_id(id, "lock"); !s) return s.error();
  LockSlot* slot = seg_.slot(id);
  uint64_t word = slot->owner.load(std::memory_order_acquire);
  auto current = unpack_owner(word);
  if (!current || owner_alive(*current)) return false;
  // Fails if the lock was released or taken over since the load.
  if (!slot->owner.compare_exchange_strong(word, pack_owner(owner)))
    return false;
  stamp(slot);
  return true;
}

Status LockManager::release(uint64_t id, const Owner& owner) {
  if (auto s = check_id(id, "unlock"); !s) return s;
  LockSlot* slot = seg_.slot(id);
  uint64_t word = pack_owner(owner);
  if (!slot->owner.compare_exchange_strong(word, 0))
    return Error{"unlock", EPERM,
                 lock_text(id) + " is no longer this holder's: it was "
                                 "released or taken over meanwhile",
                 "it was left as it is", kExitFailed};
  if (slot->waiters.load() == 0) return Ok{};
  return wake_waiter(id, slot);
}

Status LockManager::unlock_slow(uint64_t id) {
  if (auto s = check_id(id, "unlock"); !s) return s;
  LockSlot* slot = seg_.slot(id);
  for (;;) {
    uint64_t word = slot->owner.load(std::memory_order_acquire);
    if (word == 0)
      return Error{"unlock", EBUSY, lock_text(id) + " is not locked", "",
                   kExitFailed};
    auto current = unpack_owner(word);
    bool ended = current && current->until_exit && !owner_alive(*current);
    // Lost to a steal or another release meanwhile: look again.
    if (!slot->owner.compare_exchange_strong(word, 0)) continue;
    if (ended) {  // cleared, as the next lock would have done
      if (slot->waiters.load() != 0) (void)wake_waiter(id, slot);
      return Error{"unlock", EBUSY,
                   lock_text(id) + " is not locked: the command that held it "
                                   "has ended",
                   "", kExitFailed};
    }
    if (slot->waiters.load() == 0) return Ok{};
    return wake_waiter(id, slot);
  }
}

LockState LockManager::quick_state(uint64_t id) const {
  LockState s;
  s.id = id;
  s.allocated = (seg_.bitmap()[id / kLocksPerWord] >> (id % kLocksPerWord)) & 1;
  LockSlot* slot = seg_.slot(id);
  s.owner = unpack_owner(slot->owner.load(std::memory_order_acquire));
  if (s.owner && s.owner->until_exit) {
    // Free once that process is gone: it is the lock's only holder.
    s.owner_alive = owner_alive(*s.owner);
    if (!s.owner_alive) s.owner.reset();
  }
  s.locked = s.owner.has_value();
  if (s.locked) s.since_ns = slot->since_ns.load(std::memory_order_relaxed);
  return s;
}

Result<LockState> LockManager::state(uint64_t id, const char* op) const {
  if (auto s = check_id(id, op); !s) return s.error();
  LockState s = quick_state(id);
  if (s.owner) {
    if (!s.owner->until_exit) s.owner_alive = owner_alive(*s.owner);
    s.stale = !s.owner_alive;
  }
  return s;
}

}  // namespace ipctk
