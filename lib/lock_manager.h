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
};

/// One 64-bit word, so that taking over a stale lock is one compare and
/// swap: bit 63 set, then 41 bits of start time and 22 of pid (the
/// kernel's pid limit is 2^22).
inline uint64_t pack_owner(const Owner& owner) {
  return (uint64_t{1} << 63) |
         ((owner.start & ((uint64_t{1} << 41) - 1)) << 22) |
         (static_cast<uint64_t>(owner.pid) & ((uint64_t{1} << 22) - 1));
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
  std::optional<Owner> owner;  // none when free, or taken and not yet recorded
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
    // The uncontended case inline: a range check, one sem_trywait, the
    // record. Everything else (errors, waiting, stealing) is out of line.
    if (stole != nullptr) *stole = false;
    if (id < seg_.lock_count()) [[likely]] {
      LockSlot* slot = seg_.slot(id);
      if (sem_trywait(&slot->sem) == 0) [[likely]] {
        record(slot, owner);
        return Ok{};
      }
    }
    return lock_slow(id, owner, wait, stole);
  }
  /// Takes over the lock if it is held by an owner that is gone: one
  /// compare-and-swap of the owner record, so of two stealers one wins.
  Result<bool> steal_if_stale(uint64_t id, const Owner& owner);
  /// Releases the lock: EBUSY if it is not locked. A lock held by a process
  /// that never recorded itself (it died between taking the lock and
  /// writing its record) is released only with `force`.
  Status unlock(uint64_t id, bool force = false) {
    if (id < seg_.lock_count()) [[likely]] {
      LockSlot* slot = seg_.slot(id);
      uint64_t word = slot->owner.load(std::memory_order_acquire);
      // Clearing the record first makes the release the winner's alone:
      // two unlocks of one lock never post twice.
      if (word != 0 &&
          slot->owner.compare_exchange_strong(word, 0,
                                              std::memory_order_acq_rel) &&
          sem_post(&slot->sem) == 0) [[likely]]
        return Ok{};
    }
    return unlock_slow(id, force);
  }
  /// Releases the lock only if `owner` still holds it (the owner record is
  /// cleared by one compare-and-swap): what a holder does at the end, so
  /// that a lock force-released and taken by another meanwhile is left to
  /// its new holder. EPERM otherwise.
  Status release(uint64_t id, const Owner& owner);

  /// `op` names the caller's operation in an out-of-range error.
  Result<LockState> state(uint64_t id, const char* op = "status") const;
  /// The same without range checks or /proc lookups of owners (`alive` is
  /// then not filled in): for status of large segments.
  LockState quick_state(uint64_t id) const;
  uint64_t lock_count() const { return seg_.lock_count(); }

 private:
  Status check_id(uint64_t id, const char* op) const;
  static void record(LockSlot* slot, const Owner& owner);
  Status lock_slow(uint64_t id, const Owner& owner, const LockWait& wait,
                   bool* stole);
  Status unlock_slow(uint64_t id, bool force);
  /// "'shmctl-lock WORDS --path P'", for hints.
  std::string hint_command(const std::string& words) const;

  const LockSegment& seg_;
};

}  // namespace ipctk

#endif  // IPCTK_LOCK_MANAGER_H_
