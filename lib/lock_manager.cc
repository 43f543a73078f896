#include "lock_manager.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "clock.h"
#include "process.h"

namespace ipctk {

namespace {

constexpr uint64_t kOwnerBit = uint64_t{1} << 63;
constexpr int kPidBits = 22;
constexpr uint64_t kPidMask = (uint64_t{1} << kPidBits) - 1;
constexpr uint64_t kStartMask = (uint64_t{1} << 41) - 1;

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
  if (!owner) return "a process that has not recorded itself yet";
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

}  // namespace

std::optional<Owner> unpack_owner(uint64_t word) {
  if ((word & kOwnerBit) == 0) return std::nullopt;
  Owner o;
  o.pid = static_cast<pid_t>(word & kPidMask);
  o.start = (word >> kPidBits) & kStartMask;
  return o;
}

Result<Owner> owner_of(pid_t pid) {
  auto start = process_start_time(pid);
  if (!start)
    return sys_error("open", ESRCH, "/proc/" + std::to_string(pid) + "/stat",
                     "no such process: the owner must be alive when it locks");
  return Owner{pid, *start & kStartMask};
}

const Owner& self_owner() {
  static const Owner self = [] {
    auto o = owner_of(getpid());
    return o ? *o : Owner{getpid(), 0};
  }();
  return self;
}

bool owner_alive(const Owner& owner) {
  auto start = process_start_time(owner.pid);
  return start && (*start & kStartMask) == owner.start;
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

void LockManager::record(LockSlot* slot, const Owner& owner) {
  slot->since_ns.store(realtime_ns(), std::memory_order_relaxed);
  slot->owner.store(pack_owner(owner), std::memory_order_release);
}

Status LockManager::lock_slow(uint64_t id, const Owner& owner,
                              const LockWait& wait, bool* stole) {
  if (auto s = check_id(id, "lock"); !s) return s;
  LockSlot* slot = seg_.slot(id);
  auto taken = [&] {
    record(slot, owner);
    return Status(Ok{});
  };
  if (sem_trywait(&slot->sem) == 0) return taken();
  if (errno != EAGAIN) return sys_error("sem_trywait", errno, lock_text(id));
  auto steal = [&]() -> Result<bool> {
    if (!wait.steal_stale) return false;
    auto s = steal_if_stale(id, owner);
    if (s && *s && stole != nullptr) *stole = true;
    return s;
  };
  if (auto s = steal(); !s || *s) {
    if (!s) return s.error();
    return Ok{};
  }
  if (wait.nowait)
    return would_block_error(
        "sem_trywait", EAGAIN,
        lock_text(id) + " is held by " +
            owner_text(slot->owner.load(std::memory_order_acquire)),
        hint_command("status " + std::to_string(id)) + " shows it");
  double deadline = wait.timeout ? monotonic_seconds() + *wait.timeout : 0;
  for (;;) {
    int sig = wait.interrupts != nullptr ? wait.interrupts->caught() : 0;
    if (sig != 0) return interrupted(sig, id);
    int rc;
    if (wait.timeout || wait.steal_stale) {
      // With --steal-stale the wait wakes up now and then to look at the
      // owner: a holder that dies while we wait never posts.
      double until = wait.timeout ? deadline : monotonic_seconds() + 0.1;
      if (wait.steal_stale) until = std::min(until, monotonic_seconds() + 0.1);
      struct timespec ts = to_timespec(until);
      rc = sem_clockwait(&slot->sem, CLOCK_MONOTONIC, &ts);
    } else {
      rc = sem_wait(&slot->sem);
    }
    if (rc == 0) return taken();
    int err = errno;
    if (err == EINTR) continue;  // the check above says whether it was ours
    if (err != ETIMEDOUT) return sys_error("sem_wait", err, lock_text(id));
    if (auto s = steal(); !s || *s) {
      if (!s) return s.error();
      return Ok{};
    }
    if (wait.timeout && monotonic_seconds() >= deadline)
      return would_block_error(
          "sem_clockwait", ETIMEDOUT,
          "timed out after " + seconds_text(*wait.timeout) + " s: " +
              lock_text(id) + " is held by " +
              owner_text(slot->owner.load(std::memory_order_acquire)),
          hint_command("status " + std::to_string(id)) + " shows it");
  }
}

Result<bool> LockManager::steal_if_stale(uint64_t id, const Owner& owner) {
  if (auto s = check_id(id, "lock"); !s) return s.error();
  LockSlot* slot = seg_.slot(id);
  uint64_t word = slot->owner.load(std::memory_order_acquire);
  auto current = unpack_owner(word);
  if (!current || owner_alive(*current)) return false;
  int value = 1;
  sem_getvalue(&slot->sem, &value);
  if (value > 0) return false;  // released meanwhile
  if (!slot->owner.compare_exchange_strong(word, pack_owner(owner),
                                           std::memory_order_acq_rel))
    return false;  // someone else took it over first
  slot->since_ns.store(realtime_ns(), std::memory_order_relaxed);
  return true;
}

Status LockManager::release(uint64_t id, const Owner& owner) {
  if (auto s = check_id(id, "unlock"); !s) return s;
  LockSlot* slot = seg_.slot(id);
  uint64_t word = pack_owner(owner);
  if (!slot->owner.compare_exchange_strong(word, 0, std::memory_order_acq_rel))
    return Error{"unlock", EPERM,
                 lock_text(id) + " is no longer this holder's: it was "
                                 "released or taken over meanwhile",
                 "it was left as it is", kExitFailed};
  if (sem_post(&slot->sem) != 0)
    return sys_error("sem_post", errno, lock_text(id));
  return Ok{};
}

Status LockManager::unlock_slow(uint64_t id, bool force) {
  if (auto s = check_id(id, "unlock"); !s) return s;
  LockSlot* slot = seg_.slot(id);
  for (int attempt = 0;; ++attempt) {
    uint64_t word = slot->owner.load(std::memory_order_acquire);
    if (word != 0) {
      // Clearing the record first makes the release the winner's alone:
      // two unlocks of one lock never post twice.
      if (!slot->owner.compare_exchange_strong(word, 0,
                                               std::memory_order_acq_rel))
        continue;
      if (sem_post(&slot->sem) != 0)
        return sys_error("sem_post", errno, lock_text(id));
      return Ok{};
    }
    int value = 0;
    sem_getvalue(&slot->sem, &value);
    if (value > 0)
      return Error{"unlock", EBUSY, lock_text(id) + " is not locked", "",
                   kExitFailed};
    // Held, and its taker has not written its record yet: it is between
    // two instructions, or it died there. Give it 100 ms.
    if (attempt < 1000) {
      struct timespec ts = {0, 100000};
      nanosleep(&ts, nullptr);
      continue;
    }
    if (!force)
      return Error{"unlock", EBUSY,
                   lock_text(id) + " is held by a process that never recorded "
                                   "itself (it died while taking the lock)",
                   "--force releases it", kExitFailed};
    if (sem_post(&slot->sem) != 0)
      return sys_error("sem_post", errno, lock_text(id));
    return Ok{};
  }
}

LockState LockManager::quick_state(uint64_t id) const {
  LockState s;
  s.id = id;
  s.allocated = (seg_.bitmap()[id / kLocksPerWord] >> (id % kLocksPerWord)) & 1;
  LockSlot* slot = seg_.slot(id);
  int value = 1;
  sem_getvalue(&slot->sem, &value);
  s.locked = value <= 0;
  if (s.locked) {
    s.owner = unpack_owner(slot->owner.load(std::memory_order_acquire));
    if (s.owner) s.since_ns = slot->since_ns.load(std::memory_order_relaxed);
  }
  return s;
}

Result<LockState> LockManager::state(uint64_t id, const char* op) const {
  if (auto s = check_id(id, op); !s) return s.error();
  LockState s = quick_state(id);
  if (s.owner) {
    s.owner_alive = owner_alive(*s.owner);
    s.stale = !s.owner_alive;
  }
  return s;
}

}  // namespace ipctk
