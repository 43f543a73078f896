#ifndef IPCTK_LOCK_MANAGER_H_
#define IPCTK_LOCK_MANAGER_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "error.h"
#include "lock_segment.h"

/// A container engine's lock manager on top of a LockSegment: allocate and
/// free lock ids in the bitmap, and lock/unlock each lock, recording its
/// owner (pid and process start time) so that a lock whose owner is gone
/// can be seen and taken over.
namespace ipctk {

class InterruptCatcher;

/// A process as an owner record names it.
struct Owner {
  pid_t pid = 0;
  uint64_t start = 0;  // clock ticks since boot (/proc/PID/stat field 22)
  /// The lock ends with this process: once it is gone the lock is free
  /// (what `lock ID -- COMMAND` takes), rather than stale.
  bool until_exit = false;
};

inline constexpr uint64_t kOwnerHeldBit = uint64_t{1} << 63;
inline constexpr uint64_t kOwnerUntilExitBit = uint64_t{1} << 62;
/// 40 bits of clock ticks: 348 years of uptime at 100 Hz.
inline constexpr uint64_t kOwnerStartMask = (uint64_t{1} << 40) - 1;
inline constexpr uint64_t kOwnerPidMask = (uint64_t{1} << 22) - 1;

/// One 64-bit word, so that taking a lock and recording its owner, and
/// taking over a stale lock, are each one compare and swap: bit 63 set,
/// bit 62 for until_exit, then 40 bits of start time and 22 of pid (the
/// kernel's pid limit is 2^22).
inline uint64_t pack_owner(const Owner& owner) {
  return kOwnerHeldBit | (owner.until_exit ? kOwnerUntilExitBit : 0) |
         ((owner.start & kOwnerStartMask) << 22) |
         (static_cast<uint64_t>(owner.pid) & kOwnerPidMask);
}
std::optional<Owner> unpack_owner(uint64_t word);

/// The owner record for `pid` (ESRCH if there is no such process).
Result<Owner> owner_of(pid_t pid);
/// This process, looked up once.
const Owner& self_owner();
/// Whether `owner` still exists: the pid lives and started when recorded.
bool owner_alive(const Owner& owner);

/// What status shows of one lock.
struct LockState {
  uint64_t id = 0;
  bool allocated = false;
  bool locked = false;
  std::optional<Owner> owner;  // none when free (or its until_exit owner is gone)
  int64_t since_ns = 0;        // CLOCK_REALTIME when taken
  bool owner_alive = false;
  bool stale = false;          // locked, and its owner is gone
};

struct LockWait {
  std::optional<double> timeout;  // none: wait for ever
  bool nowait = false;
  bool steal_stale = false;       // take over the lock if its owner is gone
  const InterruptCatcher* interrupts = nullptr;
};

class LockManager {
 public:
  explicit LockManager(const LockSegment& segment) : seg_(segment) {}

  /// The first free lock (lowest id), amortized O(1); ENOSPC when all are
  /// allocated.
  Result<uint64_t> allocate();
  /// That lock: EEXIST when it is allocated, EINVAL when out of range.
  Status allocate(uint64_t id);
  /// ENOENT when it is not allocated. The lock itself is untouched: a
  /// holder keeps it, and it stays usable.
  Status free(uint64_t id);
  /// Frees every lock; returns how many were allocated.
  Result<uint64_t> free_all();
  /// The number of allocated locks, from the counter the bitmap's guard
  /// keeps.
  Result<uint64_t> allocated_count();

  /// Takes the lock for `owner`: waits (as `wait` says) while it is held.
  /// Would-block and timeout are EAGAIN/ETIMEDOUT with exit status 3; a
  /// signal caught by wait.interrupts is EINTR with 128 + the signal.
  /// `stole` (if given) says whether a stale owner's lock was taken over.
  Status lock(uint64_t id, const Owner& owner, const LockWait& wait,
              bool* stole = nullptr) {
    // The uncontended case inline: a range check and the one
    // compare-and-swap that takes the lock and records its owner.
    // Everything else (errors, waiting, stealing) is out of line.
    if (stole != nullptr) *stole = false;
    if (id < seg_.lock_count()) [[likely]] {
      LockSlot* slot = seg_.slot(id);
      uint64_t free_word = 0;
      if (slot->owner.compare_exchange_strong(free_word, pack_owner(owner)))
          [[likely]] {
        stamp(slot);
        return Ok{};
      }
    }
    return lock_slow(id, owner, wait, stole);
  }
  /// Takes over the lock if it is held by an owner that is gone: one
  /// compare-and-swap of the owner word, so of two stealers one wins.
  Result<bool> steal_if_stale(uint64_t id, const Owner& owner);
  /// Releases the lock, whoever holds it: EBUSY if it is not locked. The
  /// release is a compare-and-swap of the owner word to 0, so of two
  /// unlocks of one lock only one releases it.
  Status unlock(uint64_t id) {
    if (id < seg_.lock_count()) [[likely]] {
      LockSlot* slot = seg_.slot(id);
      uint64_t word = slot->owner.load(std::memory_order_relaxed);
      // A holder that the lock ends with may be gone (the lock is then
      // free): the slow path looks.
      if (word != 0 && (word & kOwnerUntilExitBit) == 0 &&
          slot->owner.compare_exchange_strong(word, 0)) [[likely]] {
        // Sequentially consistent with the waiter's increment and its own
        // compare-and-swap: either it is counted here or it sees the lock
        // free, so no wake-up is lost.
        if (slot->waiters.load() == 0) [[likely]]
          return Ok{};
        return wake_waiter(id, slot);
      }
    }
    return unlock_slow(id);
  }
  /// Releases the lock only if `owner` still holds it (the owner record is
  /// cleared by one compare-and-swap): what a holder does at the end, so
  /// that a lock force-released and taken by another meanwhile is left to
  /// its new holder. EPERM otherwise.
  Status release(uint64_t id, const Owner& owner);

  /// `op` names the caller's operation in an out-of-range error.
  Result<LockState> state(uint64_t id, const char* op = "status") const;
  /// The same without range checks, and without /proc look-ups of owners
  /// but for those the lock ends with (`alive` is not filled in): for
  /// status of large segments.
  LockState quick_state(uint64_t id) const;
  uint64_t lock_count() const { return seg_.lock_count(); }
  /// When the lock was last taken (CLOCK_REALTIME ns); `id` in range.
  int64_t held_since_ns(uint64_t id) const {
    return seg_.slot(id)->since_ns.load(std::memory_order_relaxed);
  }

 private:
  Status check_id(uint64_t id, const char* op) const;
  /// Records when the lock was taken, right after taking it (a status in
  /// between sees the previous holder's time).
  static void stamp(LockSlot* slot);
  /// A release while processes wait: posts the semaphore they sleep on,
  /// unless a wake-up is already pending.
  static Status wake_waiter(uint64_t id, LockSlot* slot);
  Status lock_slow(uint64_t id, const Owner& owner, const LockWait& wait,
                   bool* stole);
  Status unlock_slow(uint64_t id);
  /// "'shmctl-lock WORDS --path P'", for hints.
  std::string hint_command(const std::string& words) const;

  const LockSegment& seg_;
};

}  // namespace ipctk

#endif  // IPCTK_LOCK_MANAGER_H_
