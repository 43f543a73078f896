// kill_storm: the shmctl-lock library under SIGKILL (issue 5, fault
// injection). Worker processes lock, unlock, allocate and free at random
// while this process, the killer, stops a random worker every few ms, looks
// at what it was doing, kills it with SIGKILL, reaps it and starts a new
// process in its place. At the end every worker is stopped and looked at,
// then killed, and the segment is checked:
//
//   - it opens by its path (LockSegment::open validates it);
//   - every lock is free, held by a live worker, or stale (held by one that
//     was killed); the stale ones are recovered as `lock --steal-stale` and
//     `unlock --force` do, and then every lock is free and lockable;
//   - each guarded counter equals the number of critical sections completed
//     on it, exactly (the journal protocol below);
//   - the bitmap holds the guarded ids, every id a worker recorded, and
//     nothing else but the ids whose fate a kill left open (see
//     check_bitmap); the allocated counter equals its popcount, the next
//     allocation is the lowest free id, and allocate and free still work
//     (the robust mutex recovered from workers killed while holding it).
//
// The workers check as they go, too: a lock they take holds no other
// section pending (after a steal's reconcile), their release() finds the
// lock still theirs, free() finds their id allocated, allocate() never
// gives an id another worker holds, a lock of an id they hold is never
// busy; and any error but a timeout is one of these violations.
//
//   kill_storm [--workers N] [--seconds S] [--seed X] [--kill-interval-ms M]
//              [--locks N] [--guarded G] [--path P]
//
// It prints its seed on stderr first and one JSON line of figures on stdout
// at the end; exit status 0 only if every check held, 1 with what differed
// on stderr. A failure is replayed with its --seed as far as randomness
// allows (the kills land wherever the scheduler has the workers).
//
// Everything it makes goes at the end, on failure too: the segment (a POSIX
// shm object /ipctk-storm-PID unless --path), and the workers, which are
// killed with SIGKILL (also by the kernel if this process dies:
// PR_SET_PDEATHSIG). SIGINT, SIGTERM, SIGHUP and SIGQUIT (meson's timeout)
// kill the workers and remove the segment before it exits.
//
// The critical section and its journal. Guarded lock L protects a counter
// that is read and written back (not an atomic increment: without mutual
// exclusion updates are lost). Worker slot w keeps one journal word per L:
// {pending, target, completed}. Holding L, it reads c, stores {pending,
// c+1, n}, stores c+1 to the counter, then {not pending, n+1} in one store.
// A kill can land between any two of these. Whoever takes L over from a
// dead holder (a steal) reconciles first: a pending entry whose target the
// counter holds was written (completed + 1), any other pending entry was
// not (dropped). Nobody else writes the counter in between (that is what
// the lock is for), so after the storm counter[L] == sum over w of
// completed[w][L], exactly. (A killed process's stores are all visible to
// whoever saw it gone; what matters is their order in the program, which
// the release stores keep: SIGKILL lands between any two instructions.)
//
// The allocation record. Worker slot w lists the ids it holds (allocated
// and not yet freed); a new process in the slot goes on with the list.
// Allocating, it first notes the intent (and the list entry it will use),
// then calls allocate() (or allocate(id)), records the id, and clears the
// intent; freeing, it notes the intent and the id, forgets the id, calls
// free(), and clears the intent. When a worker is killed, its intent
// says what may be open: killed allocating with nothing recorded, at most
// one allocated id nobody records (an allowance); killed freeing after
// forgetting the id, the id may or may not be free (limbo). The bitmap
// must then hold exactly the guarded ids, the recorded ids, limbo ids that
// were not freed yet, and at most one unrecorded id per allowance.
//
// The kills. The killer stops its victim (SIGSTOP, then waits until it is
// stopped), so that what it was doing can be read exactly: a guarded lock
// it holds (and whether its section was pending, before or after the
// counter write), another lock, the bitmap mutex (the futex word of a
// robust mutex holds its owner's tid), an intent. Then SIGKILL, reap,
// settle the record, and fork a new worker for the slot. Most victims are
// any worker; some are picked among workers in an allocation burst, where
// a stop lands inside allocate() or free() (and the mutex) often enough.

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/clock.h"
#include "lib/lock_manager.h"
#include "lib/lock_segment.h"

namespace {

using ipctk::LockManager;
using ipctk::LockSegment;
using ipctk::LockWait;
using ipctk::Owner;
using ipctk::SegmentPath;

constexpr int kMaxWorkers = 64;
constexpr int kMaxGuarded = 16;
/// Ids a worker holds at most: 16 workers x 16 stay well inside the
/// default 1024 locks, with room for the ids that kills leave unrecorded.
constexpr int kHeldMax = 16;

// A journal word: bit 63 pending, bits 32..62 the counter value the pending
// write stores (31 bits: when it is looked at, the counter is the value
// read or one more, so the low bits decide), bits 0..31 the sections
// completed.
constexpr uint64_t kPending = uint64_t{1} << 63;
constexpr uint64_t kTargetMask = (uint64_t{1} << 31) - 1;
constexpr uint64_t kCompletedMask = (uint64_t{1} << 32) - 1;

uint64_t journal_pending(uint64_t target, uint64_t completed) {
  return kPending | ((target & kTargetMask) << 32) | (completed & kCompletedMask);
}
uint64_t journal_done(uint64_t completed) { return completed & kCompletedMask; }
bool is_pending(uint64_t j) { return (j & kPending) != 0; }
uint64_t target_of(uint64_t j) { return (j >> 32) & kTargetMask; }
uint64_t completed_of(uint64_t j) { return j & kCompletedMask; }

// An intent word: bits 62..63 what (0 nothing, 1 allocating, 2 freeing),
// bits 32..39 the record entry, bits 0..31 the id being freed.
constexpr uint64_t kAllocating = 1;
constexpr uint64_t kFreeing = 2;
uint64_t intent(uint64_t what, int entry, uint64_t id) {
  return (what << 62) | (static_cast<uint64_t>(entry) << 32) | (id & 0xffffffff);
}
uint64_t intent_what(uint64_t i) { return i >> 62; }
int intent_entry(uint64_t i) { return static_cast<int>((i >> 32) & 0xff); }
uint64_t intent_id(uint64_t i) { return i & 0xffffffff; }

/// Figures the workers add to (advisory where a kill can land between the
/// deed and its count; the checks use the journals and records instead).
struct Stats {
  std::atomic<uint64_t> sections{0};        // critical sections, as counted
  std::atomic<uint64_t> lock_timeouts{0};
  std::atomic<uint64_t> steals_guarded{0};  // stale guarded locks taken over
  std::atomic<uint64_t> steals_other{0};    // stale other locks taken over
  std::atomic<uint64_t> reconciled_done{0};     // pending, counter written
  std::atomic<uint64_t> reconciled_dropped{0};  // pending, counter not written
  std::atomic<uint64_t> allocs{0};
  std::atomic<uint64_t> allocs_given{0};    // of which allocate(id)
  std::atomic<uint64_t> enospc{0};
  std::atomic<uint64_t> eexist{0};
  std::atomic<uint64_t> frees{0};
  std::atomic<uint64_t> own_locks{0};       // locks of an id the worker holds
  std::atomic<uint64_t> starts{0};          // workers that got going
};

/// What every process shares: made before the first fork, MAP_SHARED.
struct Shared {
  /// counter[L] is guarded by lock guarded[L]: loaded and stored, never
  /// incremented atomically (atomic only so that the reconcile of a dead
  /// holder's section and the final check read it without a data race).
  std::atomic<uint64_t> counter[kMaxGuarded];
  std::atomic<uint64_t> journal[kMaxWorkers][kMaxGuarded];
  /// Per worker slot, inherited by each new process in the slot: the ids
  /// it holds (id + 1; 0 empty) and what it was doing with them.
  struct alignas(64) Record {
    std::atomic<uint64_t> intent{0};
    std::atomic<uint64_t> held[kHeldMax];
    std::atomic<uint32_t> bursting{0};  // for the killer's choice only
  } records[kMaxWorkers];
  Stats stats;
  /// Broken rules the workers saw; the first message is kept.
  std::atomic<uint64_t> violations{0};
  std::atomic<int> message_claimed{0};
  char message[512];
};

struct Config {
  int workers = 16;
  double seconds = 20;
  uint64_t seed = 0;
  double kill_interval_ms = 15;  // the mean; each interval is uniform in 0..2x
  /// 0: 1024 + 16 per second of storm. Kills inside allocate() and free()
  /// leave ids allocated that nobody will free (some 5 a second at the
  /// default rate); a longer storm needs the room.
  uint64_t locks = 0;
  int guarded = 8;
  std::string path;
};

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

void sleep_us(uint64_t us) {
  struct timespec ts = {static_cast<time_t>(us / 1000000),
                        static_cast<long>(us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void violation(Shared* sh, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
void violation(Shared* sh, const char* fmt, ...) {
  sh->violations.fetch_add(1);
  int expected = 0;
  if (!sh->message_claimed.compare_exchange_strong(expected, 1)) return;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(sh->message, sizeof sh->message, fmt, ap);
  va_end(ap);
}

struct Reconciled {
  uint64_t done = 0, dropped = 0, pending = 0;
};

/// Settles the sections left pending on guarded lock L by holders that
/// died: the caller holds L, taken over from a dead holder (or at the end,
/// with every worker gone). Each settlement is one store that clears the
/// pending bit, so a reconciler killed half way leaves the rest to the next.
Reconciled reconcile(Shared* sh, int workers, int L) {
  Reconciled r;
  uint64_t c = sh->counter[L].load(std::memory_order_acquire);
  for (int w = 0; w < workers; ++w) {
    uint64_t j = sh->journal[w][L].load(std::memory_order_acquire);
    if (!is_pending(j)) continue;
    ++r.pending;
    if ((c & kTargetMask) == target_of(j)) {
      sh->journal[w][L].store(journal_done(completed_of(j) + 1),
                              std::memory_order_release);
      ++r.done;
    } else {
      sh->journal[w][L].store(journal_done(completed_of(j)),
                              std::memory_order_release);
      ++r.dropped;
    }
  }
  // One holder at a time: at most one section can be left pending on L.
  if (r.pending > 1)
    violation(sh, "lock %d: %" PRIu64 " sections pending at once", L, r.pending);
  return r;
}

// ---------------------------------------------------------------------------
// The worker.

class Worker {
 public:
  Worker(const Config& cfg, const std::vector<uint64_t>& guarded, Shared* sh,
         int slot, uint64_t incarnation, LockManager& m, Owner me)
      : cfg_(cfg), guarded_(guarded), sh_(sh), w_(slot), m_(m), me_(me),
        rng_(splitmix(cfg.seed ^ (static_cast<uint64_t>(slot) << 40) ^
                      splitmix(incarnation))) {}

  [[noreturn]] void run() {
    sh_->stats.starts.fetch_add(1);
    for (;;) {
      unsigned op = pick(100);
      if (op < 50) {
        section();
      } else if (op < 65) {
        allocate(true);
      } else if (op < 80) {
        free_one(true);
      } else if (op < 88) {
        own_lock();
      } else if (op < 95) {
        burst();
      } else {
        sleep_us(100 + pick(900));  // idle, holding nothing
      }
    }
  }

 private:
  unsigned pick(unsigned n) { return static_cast<unsigned>(rng_() % n); }

  /// Widens the windows between the steps of a section: mostly nothing,
  /// often a yield (another worker runs in between), sometimes a sleep long
  /// enough for the killer to land there.
  void widen() {
    unsigned r = pick(1000);
    if (r < 700) return;
    if (r < 960) {
      sched_yield();
      return;
    }
    sleep_us(300 + pick(2500));
  }

  /// Allocations and frees back to back, nothing in between: most of the
  /// time then goes to allocate() and free(), so that a kill lands inside
  /// them (and inside the bitmap mutex) now and then.
  void burst() {
    auto& bursting = sh_->records[w_].bursting;
    bursting.store(1);
    for (int i = 0; i < 1024; ++i) {
      if (pick(2) == 0)
        allocate(false);
      else
        free_one(false);
    }
    bursting.store(0);
  }

  void section() {
    int L = static_cast<int>(pick(static_cast<unsigned>(guarded_.size())));
    uint64_t id = guarded_[static_cast<size_t>(L)];
    LockWait wait;
    wait.steal_stale = true;
    wait.timeout = 10.0;
    bool stole = false;
    auto locked = m_.lock(id, me_, wait, &stole);
    if (!locked) {
      if (locked.error().err == ETIMEDOUT) {
        sh_->stats.lock_timeouts.fetch_add(1);
        return;
      }
      violation(sh_, "worker %d: lock %" PRIu64 ": %s", w_, id,
                locked.error().message.c_str());
      return;
    }
    if (stole) {
      sh_->stats.steals_guarded.fetch_add(1);
      Reconciled r = reconcile(sh_, cfg_.workers, L);
      sh_->stats.reconciled_done.fetch_add(r.done);
      sh_->stats.reconciled_dropped.fetch_add(r.dropped);
    }
    // Taken free, or over and reconciled: no section can be pending on L
    // now (a pending one means another holder at the same time).
    for (int v = 0; v < cfg_.workers; ++v)
      if (is_pending(sh_->journal[v][L].load(std::memory_order_acquire)))
        violation(sh_, "worker %d took lock %" PRIu64
                       " (stolen: %d) while worker slot %d's section on it "
                       "was pending",
                  w_, id, stole ? 1 : 0, v);
    widen();
    uint64_t n = completed_of(sh_->journal[w_][L].load(std::memory_order_relaxed));
    uint64_t c = sh_->counter[L].load(std::memory_order_relaxed);
    widen();
    // The three stores in this order, each whole: a SIGKILL can come
    // between any two machine instructions, so the compiler must not move
    // one past another (release keeps earlier stores before each).
    sh_->journal[w_][L].store(journal_pending(c + 1, n), std::memory_order_release);
    widen();
    sh_->counter[L].store(c + 1, std::memory_order_release);
    widen();
    sh_->journal[w_][L].store(journal_done(n + 1), std::memory_order_release);
    sh_->stats.sections.fetch_add(1, std::memory_order_relaxed);
    widen();
    auto released = m_.release(id, me_);
    if (!released)
      violation(sh_, "worker %d: release of guarded lock %" PRIu64 ": %s", w_,
                id, released.error().message.c_str());
  }

  int empty_entry() {
    auto& rec = sh_->records[w_];
    int start = static_cast<int>(pick(kHeldMax));
    for (int i = 0; i < kHeldMax; ++i) {
      int k = (start + i) % kHeldMax;
      if (rec.held[k].load() == 0) return k;
    }
    return -1;
  }

  int held_entry() {
    auto& rec = sh_->records[w_];
    int start = static_cast<int>(pick(kHeldMax));
    for (int i = 0; i < kHeldMax; ++i) {
      int k = (start + i) % kHeldMax;
      if (rec.held[k].load() != 0) return k;
    }
    return -1;
  }

  /// `slow`: with the windows around the call widened.
  void allocate(bool slow) {
    int k = empty_entry();
    if (k < 0) return free_one(slow);
    auto& rec = sh_->records[w_];
    rec.intent.store(intent(kAllocating, k, 0));
    if (slow) widen();
    uint64_t id = 0;
    if (pick(4) == 0) {  // the given-id form, on the ids that are churned
      uint64_t first = static_cast<uint64_t>(cfg_.guarded);
      id = first + pick(static_cast<unsigned>(m_.lock_count() - first));
      auto s = m_.allocate(id);
      if (!s) {
        rec.intent.store(0);
        if (s.error().err == EEXIST) {
          sh_->stats.eexist.fetch_add(1);
          return;
        }
        violation(sh_, "worker %d: allocate(%" PRIu64 "): %s", w_, id,
                  s.error().message.c_str());
        return;
      }
      sh_->stats.allocs_given.fetch_add(1);
    } else {
      auto r = m_.allocate();
      if (!r) {
        rec.intent.store(0);
        if (r.error().err == ENOSPC) {
          sh_->stats.enospc.fetch_add(1);
          return;
        }
        violation(sh_, "worker %d: allocate(): %s", w_,
                  r.error().message.c_str());
        return;
      }
      id = *r;
    }
    if (slow) widen();  // allocated, not yet recorded
    if (std::find(guarded_.begin(), guarded_.end(), id) != guarded_.end())
      violation(sh_, "worker %d: allocated guarded lock %" PRIu64, w_, id);
    // Nobody may hold it: its bit was clear, and every holder forgets an id
    // before it frees it. (Not in a burst, which should spend its time in
    // the library.)
    for (int v = 0; slow && v < cfg_.workers; ++v)
      for (int j = 0; j < kHeldMax; ++j)
        if (sh_->records[v].held[j].load() == id + 1)
          violation(sh_, "worker %d: allocated id %" PRIu64
                         " that worker slot %d holds",
                    w_, id, v);
    rec.held[k].store(id + 1);
    rec.intent.store(0);
    sh_->stats.allocs.fetch_add(1);
  }

  void free_one(bool slow) {
    int k = held_entry();
    if (k < 0) return;
    auto& rec = sh_->records[w_];
    uint64_t id = rec.held[k].load() - 1;
    rec.intent.store(intent(kFreeing, k, id));
    if (slow) widen();
    rec.held[k].store(0);
    if (slow) widen();  // forgotten, not yet freed
    auto s = m_.free(id);
    if (!s)
      violation(sh_, "worker %d: free(%" PRIu64 ") of its own id: %s", w_, id,
                s.error().message.c_str());
    if (slow) widen();  // freed, intent not yet cleared
    rec.intent.store(0);
    sh_->stats.frees.fetch_add(1);
  }

  /// Locks an id this worker holds (allocated): nobody else locks it, so
  /// it is free or left by a dead holder, never busy.
  void own_lock() {
    int k = held_entry();
    if (k < 0) return;
    uint64_t id = sh_->records[w_].held[k].load() - 1;
    LockWait wait;
    wait.nowait = true;
    wait.steal_stale = true;
    bool stole = false;
    auto locked = m_.lock(id, me_, wait, &stole);
    if (!locked) {
      violation(sh_, "worker %d: lock of its own id %" PRIu64 ": %s", w_, id,
                locked.error().message.c_str());
      return;
    }
    if (stole) sh_->stats.steals_other.fetch_add(1);
    sh_->stats.own_locks.fetch_add(1);
    if (pick(10) == 0) sleep_us(200 + pick(2000));
    auto released = m_.release(id, me_);
    if (!released)
      violation(sh_, "worker %d: release of its own id %" PRIu64 ": %s", w_,
                id, released.error().message.c_str());
  }

  const Config& cfg_;
  const std::vector<uint64_t>& guarded_;
  Shared* sh_;
  int w_;
  LockManager& m_;
  Owner me_;
  std::mt19937_64 rng_;
};

// ---------------------------------------------------------------------------
// The killer.

/// What the workers are killed and cleaned up with when this process is
/// told to stop: read by a signal handler, so plain atomics and a buffer.
std::atomic<pid_t> g_pids[kMaxWorkers];
char g_unlink_path[4200];

extern "C" void on_stop_signal(int sig) {
  for (auto& p : g_pids) {
    pid_t pid = p.load();
    if (pid > 0) kill(pid, SIGKILL);
  }
  if (g_unlink_path[0] != '\0') unlink(g_unlink_path);
  _exit(128 + sig);
}

/// What a stopped worker was doing when it was killed.
struct KillFigures {
  uint64_t kills = 0;
  uint64_t holding_guarded = 0;   // inside a critical section (lock to release)
  uint64_t pending_before_write = 0;  // its journal pending, counter not written
  uint64_t pending_after_write = 0;   // its journal pending, counter written
  uint64_t holding_other = 0;     // holding a lock of an id it allocated
  uint64_t holding_bitmap_mutex = 0;
  uint64_t owner_died_seen = 0;   // of those, the mutex seen marked after the kill
  uint64_t allocating = 0;        // between intent and record: in allocate()
  uint64_t freeing = 0;
  uint64_t idle = 0;              // none of the above

  nlohmann::ordered_json json() const {
    return {{"kills", kills},
            {"inside_critical_section", holding_guarded},
            {"section_pending_before_write", pending_before_write},
            {"section_pending_after_write", pending_after_write},
            {"holding_other_lock", holding_other},
            {"holding_bitmap_mutex", holding_bitmap_mutex},
            {"bitmap_mutex_seen_owner_dead", owner_died_seen},
            {"allocating", allocating},
            {"freeing", freeing},
            {"elsewhere", idle}};
  }
};

class Storm {
 public:
  explicit Storm(Config cfg) : cfg_(std::move(cfg)), rng_(cfg_.seed) {}
  Storm(const Storm&) = delete;
  Storm& operator=(const Storm&) = delete;

  ~Storm() {
    kill_all();
    remove_segment();
    if (sh_ != nullptr) munmap(sh_, sizeof(Shared));
  }

  int run();

 private:
  void fail(std::string what) {
    std::fprintf(stderr, "kill_storm: FAIL: %s\n", what.c_str());
    failures_.push_back(std::move(what));
  }
  bool setup();
  void spawn(int w);
  [[noreturn]] void child(int w, uint64_t incarnation);
  /// Stops worker w (unless `stopped`: stopped and looked at already),
  /// looks at what it was doing, kills and reaps it, and settles its
  /// record; with `restart` a new process takes its slot.
  void kill_worker(int w, bool restart, KillFigures& f, bool stopped = false);
  void inspect(int w, KillFigures& f);
  void settle(int w);
  /// Mostly any worker; else one in an allocation burst. Most workers
  /// sleep in a wait most of the time, and the bitmap mutex is held for
  /// some 50 ns of an allocation: only a worker stopped in a burst is
  /// stopped inside it now and then.
  int pick_victim();
  void reap_unexpected();
  void kill_all();
  void remove_segment();
  void final_checks(nlohmann::ordered_json& out);
  void check_bitmap(LockManager& m, const LockSegment& seg,
                    nlohmann::ordered_json& out);
  uint32_t mutex_word(const LockSegment& seg) const {
    return static_cast<uint32_t>(
        __atomic_load_n(&seg.header()->mutex.__data.__lock, __ATOMIC_ACQUIRE));
  }

  Config cfg_;
  std::mt19937_64 rng_;
  SegmentPath path_;
  bool created_ = false;
  std::optional<LockSegment> seg_;  // the creator's mapping
  Shared* sh_ = nullptr;
  std::vector<uint64_t> guarded_;
  pid_t parent_ = 0;
  std::vector<pid_t> pids_;
  std::vector<Owner> owners_;   // of each slot's current process
  std::set<uint64_t> dead_;     // pack_owner() of every worker killed
  uint64_t incarnations_ = 0;
  uint64_t restarts_ = 0;
  uint64_t unexpected_exits_ = 0;
  std::vector<char> held_mutex_;  // per slot: when looked at, held the mutex
  uint64_t burst_victims_ = 0;  // kills of a worker picked in a burst
  uint64_t allowances_ = 0;     // killed with an allocating intent, unrecorded
  std::vector<uint64_t> limbo_; // killed freeing these, after forgetting them
  KillFigures storm_, end_;
  std::vector<std::string> failures_;
};

bool Storm::setup() {
  parent_ = getpid();
  if (cfg_.path.empty()) cfg_.path = "/ipctk-storm-" + std::to_string(parent_);
  auto parsed = ipctk::parse_segment_path(cfg_.path);
  if (!parsed) {
    fail("--path: " + parsed.error().message);
    return false;
  }
  path_ = *parsed;
  std::string unlink_path =
      path_.placement == ipctk::Placement::kShm ? "/dev/shm" + path_.name
                                                : path_.name;
  std::snprintf(g_unlink_path, sizeof g_unlink_path, "%s", unlink_path.c_str());
  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);

  LockSegment::CreateOptions o;
  o.locks = cfg_.locks;
  bool created = false;
  auto seg = LockSegment::create(path_, o, &created);
  if (!seg) {
    g_unlink_path[0] = '\0';  // not ours
    fail("create " + cfg_.path + ": " + seg.error().message);
    return false;
  }
  created_ = created;
  seg_.emplace(std::move(*seg));
  if (seg_->lock_count() < static_cast<uint64_t>(cfg_.guarded) + 64) {
    fail("--locks: too few for the guarded locks and the churn");
    return false;
  }
  LockManager m(*seg_);
  for (int L = 0; L < cfg_.guarded; ++L) {
    auto id = m.allocate();
    if (!id || *id != static_cast<uint64_t>(L)) {
      fail("a fresh segment did not allocate lock " + std::to_string(L) + " first");
      return false;
    }
    guarded_.push_back(*id);
  }
  void* p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    fail(std::string("mmap: ") + std::strerror(errno));
    return false;
  }
  sh_ = new (p) Shared;
  for (auto& c : sh_->counter) c.store(0);
  for (auto& row : sh_->journal)
    for (auto& j : row) j.store(0);
  for (auto& r : sh_->records)
    for (auto& h : r.held) h.store(0);
  pids_.assign(static_cast<size_t>(cfg_.workers), 0);
  owners_.assign(static_cast<size_t>(cfg_.workers), Owner{});
  held_mutex_.assign(static_cast<size_t>(cfg_.workers), 0);
  return true;
}

void Storm::child(int w, uint64_t incarnation) {
  // Dies with the killer, whatever ends it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent_) _exit(0);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) signal(sig, SIG_DFL);
  // Opened by its path, as any user of the library opens it.
  auto seg = LockSegment::open(path_);
  if (!seg) {
    violation(sh_, "worker %d: open %s: %s", w, cfg_.path.c_str(),
              seg.error().message.c_str());
    _exit(3);
  }
  LockManager m(*seg);
  // Looked up, not self_owner(): that is the killer's if it was cached
  // before the fork.
  auto me = ipctk::owner_of(getpid());
  if (!me) {
    violation(sh_, "worker %d: owner_of: %s", w, me.error().message.c_str());
    _exit(3);
  }
  Worker(cfg_, guarded_, sh_, w, incarnation, m, *me).run();
}

void Storm::spawn(int w) {
  uint64_t incarnation = incarnations_++;
  pid_t pid = fork();
  if (pid < 0) {
    fail(std::string("fork: ") + std::strerror(errno));
    return;
  }
  if (pid == 0) child(w, incarnation);
  pids_[static_cast<size_t>(w)] = pid;
  g_pids[w].store(pid);
  auto owner = ipctk::owner_of(pid);
  if (!owner) {
    fail("owner_of a new worker: " + owner.error().message);
    owners_[static_cast<size_t>(w)] = Owner{pid, 0};
    return;
  }
  owners_[static_cast<size_t>(w)] = *owner;
}

void Storm::inspect(int w, KillFigures& f) {
  const Owner& o = owners_[static_cast<size_t>(w)];
  const uint64_t word = ipctk::pack_owner(o);
  const LockSegment& seg = *seg_;
  bool busy = false;
  for (int L = 0; L < cfg_.guarded; ++L) {
    uint64_t holder = seg.slot(guarded_[static_cast<size_t>(L)])->owner.load();
    uint64_t j = sh_->journal[w][L].load();
    if (holder == word) {
      ++f.holding_guarded;
      busy = true;
      if (is_pending(j)) {
        uint64_t c = sh_->counter[L].load();
        if ((c & kTargetMask) == target_of(j))
          ++f.pending_after_write;
        else
          ++f.pending_before_write;
      }
    }
  }
  const uint64_t first = static_cast<uint64_t>(cfg_.guarded);
  for (uint64_t id = first; id < seg.lock_count(); ++id)
    if (seg.slot(id)->owner.load() == word) {
      ++f.holding_other;
      busy = true;
      break;
    }
  bool held = (mutex_word(seg) & 0x3fffffff) == static_cast<uint32_t>(o.pid);
  held_mutex_[static_cast<size_t>(w)] = held;
  if (held) {
    ++f.holding_bitmap_mutex;
    busy = true;
  }
  uint64_t in = sh_->records[w].intent.load();
  if (intent_what(in) == kAllocating) {
    ++f.allocating;
    busy = true;
  } else if (intent_what(in) == kFreeing) {
    ++f.freeing;
    busy = true;
  }
  if (!busy) ++f.idle;
}

void Storm::settle(int w) {
  auto& rec = sh_->records[w];
  uint64_t in = rec.intent.load();
  int k = intent_entry(in);
  if (intent_what(in) == kAllocating) {
    // Died in allocate(): an id may be allocated that nobody recorded.
    if (rec.held[k].load() == 0) ++allowances_;
  } else if (intent_what(in) == kFreeing) {
    uint64_t id = intent_id(in);
    // Still recorded: free() was not called, the id is still this slot's.
    // Forgotten: free() may or may not have run.
    if (rec.held[k].load() != id + 1) limbo_.push_back(id);
  }
  rec.intent.store(0);
  rec.bursting.store(0);
}

void Storm::kill_worker(int w, bool restart, KillFigures& f, bool stopped) {
  pid_t pid = pids_[static_cast<size_t>(w)];
  if (pid <= 0) return;
  int status = 0;
  bool gone = false;
  if (!stopped) held_mutex_[static_cast<size_t>(w)] = 0;
  // A second SIGSTOP to a stopped process is not reported again.
  if (!stopped && kill(pid, SIGSTOP) == 0 &&
      waitpid(pid, &status, WUNTRACED) == pid) {
    if (WIFSTOPPED(status)) {
      inspect(w, f);
    } else {
      gone = true;
      ++unexpected_exits_;
      fail("worker slot " + std::to_string(w) + " (pid " + std::to_string(pid) +
           ") ended by itself, status " + std::to_string(status));
    }
  }
  if (!gone) {
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  // The kernel marks a robust mutex its dead owner held: the next locker
  // gets EOWNERDEAD and repairs. Seen here unless a worker waiting for the
  // mutex got there first.
  if (held_mutex_[static_cast<size_t>(w)] &&
      (mutex_word(*seg_) & 0x40000000) != 0)
    ++f.owner_died_seen;
  ++f.kills;
  dead_.insert(ipctk::pack_owner(owners_[static_cast<size_t>(w)]));
  pids_[static_cast<size_t>(w)] = 0;
  g_pids[w].store(0);
  settle(w);
  if (restart) {
    spawn(w);
    ++restarts_;
  }
}

int Storm::pick_victim() {
  int any = static_cast<int>(rng_() % static_cast<uint64_t>(cfg_.workers));
  if (rng_() % 5 < 3) return any;
  // Waits a little for a burst if none is on.
  std::vector<int> bursting;
  for (int tries = 0; tries < 100 && bursting.empty(); ++tries) {
    if (tries > 0) sleep_us(50);
    for (int w = 0; w < cfg_.workers; ++w)
      if (sh_->records[w].bursting.load() != 0) bursting.push_back(w);
  }
  if (bursting.empty()) return any;
  ++burst_victims_;
  return bursting[rng_() % bursting.size()];
}

void Storm::reap_unexpected() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (int w = 0; w < cfg_.workers; ++w) {
      if (pids_[static_cast<size_t>(w)] != pid) continue;
      ++unexpected_exits_;
      fail("worker slot " + std::to_string(w) + " (pid " + std::to_string(pid) +
           ") ended by itself, status " + std::to_string(status));
      dead_.insert(ipctk::pack_owner(owners_[static_cast<size_t>(w)]));
      pids_[static_cast<size_t>(w)] = 0;
      g_pids[w].store(0);
      settle(w);
      spawn(w);
      ++restarts_;
    }
  }
}

void Storm::kill_all() {
  for (size_t w = 0; w < pids_.size(); ++w) {
    if (pids_[w] <= 0) continue;
    kill(pids_[w], SIGKILL);
    while (waitpid(pids_[w], nullptr, 0) < 0 && errno == EINTR) {
    }
    pids_[w] = 0;
    g_pids[w].store(0);
  }
}

void Storm::remove_segment() {
  seg_.reset();
  if (!created_) return;
  created_ = false;
  g_unlink_path[0] = '\0';
  auto removed = LockSegment::remove(path_);
  if (!removed) fail("remove " + cfg_.path + ": " + removed.error().message);
}

void Storm::check_bitmap(LockManager& m, const LockSegment& seg,
                         nlohmann::ordered_json& out) {
  const uint64_t count = seg.lock_count();
  const uint64_t* bm = seg.bitmap();
  auto bit = [&](uint64_t id) { return ((bm[id / 64] >> (id % 64)) & 1) != 0; };
  // What the workers recorded: each id once, in range, never a guarded one.
  std::vector<int> recorded_by(count, -1);
  uint64_t recorded = 0;
  for (int w = 0; w < cfg_.workers; ++w)
    for (int k = 0; k < kHeldMax; ++k) {
      uint64_t v = sh_->records[w].held[k].load();
      if (v == 0) continue;
      uint64_t id = v - 1;
      if (id >= count || id < static_cast<uint64_t>(cfg_.guarded)) {
        fail("worker slot " + std::to_string(w) + " recorded id " +
             std::to_string(id) + ", which is out of the churned range");
        continue;
      }
      if (recorded_by[id] >= 0) {
        fail("id " + std::to_string(id) + " is recorded by worker slots " +
             std::to_string(recorded_by[id]) + " and " + std::to_string(w) +
             ": allocated twice");
        continue;
      }
      recorded_by[id] = w;
      ++recorded;
    }
  std::set<uint64_t> limbo(limbo_.begin(), limbo_.end());
  uint64_t set_bits = 0, unrecorded = 0, limbo_allocated = 0, missing = 0;
  std::string unrecorded_ids;
  for (uint64_t id = 0; id < count; ++id) {
    bool b = bit(id);
    set_bits += b;
    if (id < static_cast<uint64_t>(cfg_.guarded)) {
      if (!b) fail("guarded lock " + std::to_string(id) + " is not allocated");
      continue;
    }
    if (recorded_by[id] >= 0) {
      if (!b) {
        ++missing;
        fail("id " + std::to_string(id) + " is recorded by worker slot " +
             std::to_string(recorded_by[id]) + " but not allocated");
      }
      continue;
    }
    if (!b) continue;
    if (limbo.count(id) != 0) {
      ++limbo_allocated;  // killed freeing it before free() ran
    } else {
      ++unrecorded;
      if (unrecorded_ids.size() < 200) unrecorded_ids += " " + std::to_string(id);
    }
  }
  if (unrecorded > allowances_)
    fail(std::to_string(unrecorded) + " ids are allocated that no worker " +
         "recorded, more than the " + std::to_string(allowances_) +
         " workers killed inside allocate() can account for:" + unrecorded_ids);
  // The guard's counters, as the next user of the mutex finds them (with
  // EOWNERDEAD if a worker died holding it, repaired then).
  uint32_t word = mutex_word(seg);
  bool owner_died = (word & 0x40000000) != 0;
  if ((word & 0x3fffffff) != 0)
    fail("the bitmap mutex is held by tid " + std::to_string(word & 0x3fffffff) +
         " with every worker gone");
  auto counted = m.allocated_count();
  if (!counted) {
    fail("allocated_count: " + counted.error().message);
  } else if (*counted != set_bits) {
    fail("the header counts " + std::to_string(*counted) +
         " allocated locks, the bitmap has " + std::to_string(set_bits));
  }
  uint64_t words = count / 64;
  uint64_t next_free = seg.header()->next_free_word;
  for (uint64_t w = 0; w < next_free && w < words; ++w)
    if (bm[w] != ~uint64_t{0})
      fail("bitmap word " + std::to_string(w) + " has a free bit before "
           "next_free_word " + std::to_string(next_free));
  uint64_t lowest = count;
  for (uint64_t id = 0; id < count; ++id)
    if (!bit(id)) {
      lowest = id;
      break;
    }
  // Allocation still works, and gives the lowest free id.
  auto id = m.allocate();
  if (!id) {
    fail("allocate after the storm: " + id.error().message);
  } else {
    if (*id != lowest)
      fail("allocate after the storm gave " + std::to_string(*id) +
           ", the lowest free id is " + std::to_string(lowest));
    auto freed = m.free(*id);
    if (!freed) fail("free after the storm: " + freed.error().message);
    auto again = m.allocated_count();
    if (!again || *again != set_bits) fail("allocate and free changed the count");
  }
  out["bitmap"] = {{"allocated", set_bits},
                   {"recorded_by_workers", recorded},
                   {"guarded", cfg_.guarded},
                   {"killed_allocating_unrecorded", allowances_},
                   {"unrecorded_allocated", unrecorded},
                   {"killed_freeing_after_forget", limbo_.size()},
                   {"of_those_still_allocated", limbo_allocated},
                   {"recorded_not_allocated", missing},
                   {"mutex_owner_died_at_end", owner_died}};
}

void Storm::final_checks(nlohmann::ordered_json& out) {
  // Every worker stopped where it was, and looked at.
  for (int w = 0; w < cfg_.workers; ++w)
    if (pid_t pid = pids_[static_cast<size_t>(w)]; pid > 0) kill(pid, SIGSTOP);
  std::set<uint64_t> live;
  for (int w = 0; w < cfg_.workers; ++w) {
    pid_t pid = pids_[static_cast<size_t>(w)];
    if (pid <= 0) continue;
    int status = 0;
    if (waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status)) {
      fail("worker slot " + std::to_string(w) + " did not stop");
      continue;
    }
    live.insert(ipctk::pack_owner(owners_[static_cast<size_t>(w)]));
    inspect(w, end_);
  }
  // The segment opens by its path, and validates.
  auto opened = LockSegment::open(path_);
  if (!opened) {
    fail("LockSegment::open after the storm: " + opened.error().message);
    return;
  }
  const LockSegment& seg = *opened;
  LockManager m(seg);
  // Every lock free, held by a live (stopped) worker, or stale: held by
  // one that was killed.
  uint64_t free_locks = 0, held_live = 0, stale = 0;
  for (uint64_t id = 0; id < seg.lock_count(); ++id) {
    auto st = m.state(id);
    if (!st) {
      fail("state(" + std::to_string(id) + "): " + st.error().message);
      continue;
    }
    if (!st->locked) {
      ++free_locks;
      continue;
    }
    uint64_t word = ipctk::pack_owner(*st->owner);
    if (st->owner_alive) {
      ++held_live;
      if (live.count(word) == 0)
        fail("lock " + std::to_string(id) + " is held by live pid " +
             std::to_string(st->owner->pid) + ", which is no worker");
    } else if (st->stale) {
      ++stale;
      if (dead_.count(word) == 0)
        fail("lock " + std::to_string(id) + " is stale, held by pid " +
             std::to_string(st->owner->pid) + ", which was no worker");
    } else {
      fail("lock " + std::to_string(id) + " is locked, neither live nor stale");
    }
  }
  out["at_freeze"] = {{"free", free_locks}, {"held_by_live_worker", held_live},
                      {"stale", stale}};
  // Then every worker killed: what they hold is stale now.
  for (int w = 0; w < cfg_.workers; ++w) kill_worker(w, false, end_, true);
  uint64_t locked_now = 0;
  for (uint64_t id = 0; id < seg.lock_count(); ++id) {
    auto st = m.state(id);
    if (!st || !st->locked) continue;
    ++locked_now;
    if (!st->stale)
      fail("lock " + std::to_string(id) + " is held by a live owner (pid " +
           std::to_string(st->owner->pid) + ") with every worker gone");
  }
  // Recovery as the tool does it: `lock --steal-stale` (then the section
  // left pending is settled, and the lock released) for guarded locks,
  // `unlock --force` (release as the stale owner) for the others.
  auto me = ipctk::owner_of(getpid());
  if (!me) {
    fail("owner_of(self): " + me.error().message);
    return;
  }
  uint64_t recovered_guarded = 0, recovered_other = 0;
  Reconciled settled;
  for (int L = 0; L < cfg_.guarded; ++L) {
    uint64_t id = guarded_[static_cast<size_t>(L)];
    auto st = m.state(id);
    if (!st || !st->locked) {
      // Free: nothing may be pending on it.
      for (int w = 0; w < cfg_.workers; ++w)
        if (is_pending(sh_->journal[w][L].load()))
          fail("guarded lock " + std::to_string(id) + " is free with worker slot " +
               std::to_string(w) + "'s section on it pending");
      continue;
    }
    LockWait wait;
    wait.steal_stale = true;
    wait.timeout = 5.0;
    bool stole = false;
    auto locked = m.lock(id, *me, wait, &stole);
    if (!locked || !stole) {
      fail("lock --steal-stale of stale guarded lock " + std::to_string(id) +
           (locked ? std::string(": taken without a steal")
                   : ": " + locked.error().message));
      continue;
    }
    Reconciled r = reconcile(sh_, cfg_.workers, L);
    settled.done += r.done;
    settled.dropped += r.dropped;
    auto released = m.release(id, *me);
    if (!released) fail("release of recovered lock: " + released.error().message);
    ++recovered_guarded;
  }
  const uint64_t first = static_cast<uint64_t>(cfg_.guarded);
  for (uint64_t id = first; id < seg.lock_count(); ++id) {
    auto st = m.state(id);
    if (!st || !st->locked) continue;
    auto released = m.release(id, *st->owner);
    if (!released) {
      fail("unlock --force of stale lock " + std::to_string(id) + ": " +
           released.error().message);
      continue;
    }
    ++recovered_other;
  }
  // Now all free, and the guarded ones lockable.
  uint64_t still_locked = 0;
  for (uint64_t id = 0; id < seg.lock_count(); ++id) {
    auto st = m.state(id);
    if (st && st->locked) ++still_locked;
  }
  if (still_locked != 0)
    fail(std::to_string(still_locked) + " locks are still locked after recovery");
  for (uint64_t id : guarded_) {
    LockWait nowait;
    nowait.nowait = true;
    auto locked = m.lock(id, *me, nowait);
    if (!locked) {
      fail("guarded lock " + std::to_string(id) + " after recovery: " +
           locked.error().message);
      continue;
    }
    if (!m.release(id, *me)) fail("release of guarded lock after recovery");
  }
  uint64_t waiters_left = 0;
  for (uint64_t id = 0; id < seg.lock_count(); ++id)
    waiters_left += seg.slot(id)->waiters.load();
  out["after_kill"] = {{"locked", locked_now},
                       {"recovered_guarded", recovered_guarded},
                       {"recovered_other", recovered_other},
                       {"sections_settled_written", settled.done},
                       {"sections_settled_dropped", settled.dropped},
                       {"waiters_left_counted_by_killed_waiters", waiters_left}};
  // The counters: exact for every completed section.
  uint64_t total = 0, sections = 0;
  nlohmann::ordered_json totals = nlohmann::ordered_json::array();
  for (int L = 0; L < cfg_.guarded; ++L) {
    uint64_t sum = 0;
    for (int w = 0; w < cfg_.workers; ++w) {
      uint64_t j = sh_->journal[w][L].load();
      if (is_pending(j))
        fail("worker slot " + std::to_string(w) + "'s section on lock " +
             std::to_string(L) + " is still pending");
      sum += completed_of(j);
    }
    uint64_t c = sh_->counter[L].load();
    if (c != sum)
      fail("counter of guarded lock " + std::to_string(L) + " is " +
           std::to_string(c) + ", the sections completed on it " +
           std::to_string(sum));
    totals.push_back(c);
    total += c;
    sections += sum;
  }
  out["sections_completed"] = sections;
  out["counter_total"] = total;
  out["counters"] = totals;
  check_bitmap(m, seg, out);
}

int Storm::run() {
  double t0 = ipctk::monotonic_seconds();
  if (!setup()) return 1;
  for (int w = 0; w < cfg_.workers; ++w) spawn(w);
  double end = t0 + cfg_.seconds;
  std::uniform_real_distribution<double> interval(
      0, 2 * cfg_.kill_interval_ms * 1000);
  while (ipctk::monotonic_seconds() < end && failures_.size() < 20) {
    sleep_us(static_cast<uint64_t>(interval(rng_)));
    reap_unexpected();
    kill_worker(pick_victim(), true, storm_);
  }
  double storm_seconds = ipctk::monotonic_seconds() - t0;
  nlohmann::ordered_json out;
  out["test"] = "kill storm";
  out["seed"] = cfg_.seed;
  out["workers"] = cfg_.workers;
  out["seconds"] = cfg_.seconds;
  out["storm_seconds"] = std::round(storm_seconds * 100) / 100;
  out["path"] = cfg_.path;
  out["locks"] = seg_->lock_count();
  out["guarded_locks"] = cfg_.guarded;
  out["restarts"] = restarts_;
  out["victims_picked_in_burst"] = burst_victims_;
  out["kills_during_storm"] = storm_.json();
  nlohmann::ordered_json checks;
  final_checks(checks);
  out["kills_at_end"] = end_.json();
  const Stats& s = sh_->stats;
  out["workers_started"] = s.starts.load();
  out["stale_recovered_during_storm"] = {{"guarded", s.steals_guarded.load()},
                                         {"other", s.steals_other.load()}};
  out["sections_settled_during_storm"] = {
      {"written", s.reconciled_done.load()},
      {"dropped", s.reconciled_dropped.load()}};
  out["sections_counted_by_workers"] = s.sections.load();
  out["lock_timeouts"] = s.lock_timeouts.load();
  out["allocs"] = s.allocs.load();
  out["allocs_given_id"] = s.allocs_given.load();
  out["alloc_eexist"] = s.eexist.load();
  out["alloc_enospc"] = s.enospc.load();
  out["frees"] = s.frees.load();
  out["own_lock_cycles"] = s.own_locks.load();
  // Each kill of a worker holding the bitmap mutex is one EOWNERDEAD and
  // repair for the next locker (at the end: for check_bitmap).
  out["robust_mutex_recoveries"] =
      storm_.holding_bitmap_mutex + end_.holding_bitmap_mutex;
  for (auto& [k, v] : checks.items()) out[k] = v;
  if (uint64_t v = sh_->violations.load(); v != 0)
    fail(std::to_string(v) + " violations seen by workers; the first: " +
         std::string(sh_->message, strnlen(sh_->message, sizeof sh_->message)));
  if (unexpected_exits_ != 0)
    fail(std::to_string(unexpected_exits_) + " workers ended by themselves");
  remove_segment();
  out["violations"] = sh_->violations.load();
  out["failures"] = failures_;
  out["ok"] = failures_.empty();
  out["elapsed_seconds"] =
      std::round((ipctk::monotonic_seconds() - t0) * 100) / 100;
  std::printf("%s\n", out.dump().c_str());
  std::fflush(stdout);
  return failures_.empty() ? 0 : 1;
}

[[noreturn]] void usage(const char* what) {
  std::fprintf(stderr,
               "kill_storm: %s\nusage: kill_storm [--workers N] [--seconds S] "
               "[--seed X] [--kill-interval-ms M] [--locks N] [--guarded G] "
               "[--path P]\n",
               what);
  std::exit(2);
}

Config parse_args(int argc, char** argv) {
  Config cfg;
  bool seeded = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + a).c_str());
    std::string v = argv[++i];
    char* end = nullptr;
    errno = 0;
    auto number = [&](double lo, double hi) {
      double d = std::strtod(v.c_str(), &end);
      if (errno != 0 || end == v.c_str() || *end != '\0' || !(d >= lo && d <= hi))
        usage((a + ": '" + v + "' is not a number in range").c_str());
      return d;
    };
    if (a == "--workers") {
      cfg.workers = static_cast<int>(number(1, kMaxWorkers));
    } else if (a == "--seconds") {
      cfg.seconds = number(0.1, 86400 * 7);
    } else if (a == "--kill-interval-ms") {
      cfg.kill_interval_ms = number(0.1, 60000);
    } else if (a == "--locks") {
      cfg.locks = static_cast<uint64_t>(number(128, 1 << 20));
    } else if (a == "--guarded") {
      cfg.guarded = static_cast<int>(number(1, kMaxGuarded));
    } else if (a == "--seed") {
      cfg.seed = std::strtoull(v.c_str(), &end, 0);
      if (errno != 0 || end == v.c_str() || *end != '\0')
        usage(("--seed: '" + v + "' is not a number").c_str());
      seeded = true;
    } else if (a == "--path") {
      cfg.path = v;
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (cfg.locks == 0)
    cfg.locks = 1024 + 16 * static_cast<uint64_t>(std::ceil(cfg.seconds));
  if (!seeded) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cfg.seed = splitmix(static_cast<uint64_t>(ts.tv_nsec) ^
                        (static_cast<uint64_t>(ts.tv_sec) << 20) ^
                        static_cast<uint64_t>(getpid()));
  }
  return cfg;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg = parse_args(argc, argv);
  std::fprintf(stderr,
               "kill_storm: seed %" PRIu64 " (replay with --seed %" PRIu64
               "), %d workers, %g s\n",
               cfg.seed, cfg.seed, cfg.workers, cfg.seconds);
  Storm storm(std::move(cfg));
  return storm.run();
}
