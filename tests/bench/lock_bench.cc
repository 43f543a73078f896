// lock_bench: the shmctl-lock library (LockManager on a LockSegment) side by
// side with the primitives a container engine uses, for issue 4's targets
// (not installed, not a test: ratios are printed, never asserted).
//
//   lock_bench [--quick] [--pairs N] [--reps R] [--alloc-reps R]
//              [--naive-max LOCKS] [--naive-budget S] [--handoffs N]
//              [--handoff-reps R] [--spread-pairs N] [--json FILE]
//              [--skip-pairs] [--skip-alloc] [--skip-handoff]
//
// (a) pairs     one uncontended lock + unlock of one lock, ns per pair, for
//               LockManager on an anonymous segment and on a /dev/shm
//               segment, against a robust process-shared pthread mutex
//               (podman's lock) in the same run; for information also a bare
//               pair of compare-and-swaps on one word (what a lock and its
//               release are made of, the floor) and a plain (non-robust)
//               process-shared mutex. Each repetition times
//               --pairs pairs of every variant, in a rotating order; the
//               row shows the median repetition, in CPU time of the thread
//               (a busy machine's preemptions left out). Target <= 1.2x.
// (b) alloc     LockManager::allocate() until a segment is full, against a
//               first-fit scan from word 0 for every allocation over a plain
//               bitmap (guarded by the same kind of robust mutex, so that
//               only the search differs), for 2,048 ... 1,048,576 locks:
//               wall time and CPU ns per lock (which should stay flat).
//               Target for 1,048,576 locks: under 0.1 s; CPU ns per lock
//               at 1,048,576 over that at 2,048: at most 1.5. Also, for
//               the plot, lock + unlock against the segment's size.
// --json FILE   also writes the rows and plot series in the shape of
//               benchlib.py's write_json (not when interrupted).
// (c) handoff   two processes: A holds the lock, B blocks in lock(); once B
//               is asleep (/proc/B/stat says S), A notes the time and
//               unlocks; B notes the time when its lock() returns. The
//               latency is a wake-up, for LockManager, the robust mutex and
//               a SysV semaphore, taking turns handoff by handoff. For
//               information.
//
// Everything it makes is its own and goes at the end, also on SIGINT,
// SIGTERM or SIGHUP: the /dev/shm object is unlinked as soon as it is mapped
// (the mapping lives on), the SysV set is removed with IPC_RMID. It exits 1
// if a check failed (a wrong id, a lock not taken, a child that failed) or
// something of its own was left behind, 0 otherwise.

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "lock_manager.h"
#include "lock_segment.h"

using namespace ipctk;

namespace {

// -- cleanup, also from a signal handler -------------------------------------

char g_shm_name[64];
volatile sig_atomic_t g_shm_live = 0;  // the object exists (not unlinked yet)
volatile sig_atomic_t g_sem_id = -1;   // our SysV set, or -1
bool g_failed = false;
int g_last_sem_id = -1;  // to check at the end that it is gone

void remove_ipc() {
  if (g_shm_live) {
    shm_unlink(g_shm_name);
    g_shm_live = 0;
  }
  if (g_sem_id >= 0) {
    semctl(g_sem_id, 0, IPC_RMID);
    g_sem_id = -1;
  }
}

void on_signal(int sig) {
  remove_ipc();  // shm_unlink and semctl are plain syscalls
  static const char msg[] = "\nlock_bench: interrupted; removed what it made\n";
  ssize_t ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
  _exit(128 + sig);
}

void fail(const std::string& what) {
  std::fprintf(stderr, "lock_bench: FAILED: %s\n", what.c_str());
  std::fflush(stderr);
  g_failed = true;
}

void fail(const std::string& what, const Error& e) {
  fail(what + ": " + e.op + ": " + e.message);
}

// -- numbers -------------------------------------------------------------------

int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

/// This thread's CPU time: unlike the wall clock, it does not count the
/// time other processes had the CPU (on a busy machine a run of tens of
/// milliseconds is preempted several times).
int64_t cpu_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

/// Wall and CPU time of one run, in seconds.
struct Took {
  double wall = -1, cpu = -1;
  bool ok() const { return wall >= 0; }
};

class Stopwatch {
 public:
  Stopwatch() : wall_(now_ns()), cpu_(cpu_ns()) {}
  Took took() const {
    int64_t c = cpu_ns(), w = now_ns();
    return {static_cast<double>(w - wall_) / 1e9, static_cast<double>(c - cpu_) / 1e9};
  }

 private:
  int64_t wall_, cpu_;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string with_commas(uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<size_t>(i), ",");
  return s;
}

/// One line of the final table. Ratio = ipctk / peer (lower is better);
/// `target` is either a ratio bound or a bound on the ipctk value itself
/// (in the row's unit). The numbers (in ns) and how they were measured go
/// to --json as well, in the shape benchlib.py's Row.to_json() has.
struct TableRow {
  std::string what, ipctk, peer;
  double ratio = -1;  // < 0: no ratio
  std::string target = "-";
  std::string met = "-";
  long runs = 0;
  double ipctk_ns = -1, peer_ns = -1;  // medians; < 0: none
  std::string method;
};
std::vector<TableRow> g_rows;

TableRow ratio_row(std::string what, std::string a, std::string b, double ratio,
                   std::optional<double> at_most) {
  TableRow r{std::move(what), std::move(a), std::move(b), ratio, "-", "-", 0, -1, -1, ""};
  if (at_most) {
    r.target = fmt("<= %.2f", *at_most);
    r.met = ratio <= *at_most ? "yes" : "NO";
  }
  return r;
}

/// ratio_row with the medians (ns), the number of runs and the method.
TableRow& add_row(TableRow r, long runs, double ipctk_ns, double peer_ns,
                  std::string method) {
  r.runs = runs;
  r.ipctk_ns = ipctk_ns;
  r.peer_ns = peer_ns;
  r.method = std::move(method);
  g_rows.push_back(std::move(r));
  return g_rows.back();
}

/// Plot data for --json: plot -> {"x": label, "y": label, "lines": {line:
/// [[x, y], ...]}}, as benchlib.py's BenchBase.add_point records it.
nlohmann::ordered_json g_series = nlohmann::ordered_json::object();

void add_point(const std::string& plot, const std::string& line, uint64_t x, double y,
               const std::string& x_label, const std::string& y_label) {
  auto& p = g_series[plot];
  if (!p.contains("x")) {
    p["x"] = x_label;
    p["y"] = y_label;
    p["lines"] = nlohmann::ordered_json::object();
  }
  auto& points = p["lines"][line];
  if (points.is_null()) points = nlohmann::ordered_json::array();
  points.push_back({x, y});
}

void print_table() {
  const char* head[] = {"what", "ipctk", "peer", "ratio", "target", "met?"};
  std::vector<std::vector<std::string>> body;
  for (const auto& r : g_rows)
    body.push_back({r.what, r.ipctk, r.peer,
                    r.ratio < 0 ? "-" : fmt("%.2f", r.ratio), r.target, r.met});
  size_t w[6];
  for (int i = 0; i < 6; ++i) {
    w[i] = std::strlen(head[i]);
    for (const auto& b : body) w[i] = std::max(w[i], b[static_cast<size_t>(i)].size());
  }
  std::printf("\nRatio = ipctk / peer on the median (lower is better).\n");
  std::string line;
  for (int i = 0; i < 6; ++i) {
    char cell[256];
    std::snprintf(cell, sizeof cell, "%-*s%s", static_cast<int>(w[i]), head[i],
                  i < 5 ? "  " : "");
    line += cell;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  std::printf("%s\n%s\n", line.c_str(), std::string(line.size(), '-').c_str());
  for (const auto& b : body) {
    for (size_t i = 0; i < 6; ++i)
      std::printf(i == 0 ? "%-*s" : "  %*s", static_cast<int>(w[i]), b[i].c_str());
    std::printf("\n");
  }
  int met = 0, missed = 0;
  std::string which;
  for (const auto& r : g_rows) {
    if (r.met == "yes") ++met;
    if (r.met == "NO") {
      ++missed;
      which += (which.empty() ? "" : "; ") + r.what;
    }
  }
  std::printf("\ntargets: %d met, %d missed%s\n", met, missed,
              which.empty() ? "" : (" (" + which + ")").c_str());
}

// -- shared memory and mutexes -------------------------------------------------

void* shared_pages(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("lock_bench: mmap");
    std::exit(1);
  }
  return p;
}

/// A process-shared mutex on a cache line of its own, robust like podman's
/// (pthread_mutexattr_setrobust) or not.
pthread_mutex_t* make_mutex(bool robust) {
  auto* m = static_cast<pthread_mutex_t*>(shared_pages(4096));
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (robust) pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  int rc = pthread_mutex_init(m, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) {
    std::fprintf(stderr, "lock_bench: pthread_mutex_init: %s\n", std::strerror(rc));
    std::exit(1);
  }
  return m;
}

/// A robust mutex lock, with EOWNERDEAD taken over (never expected here).
int robust_lock(pthread_mutex_t* m) {
  int rc = pthread_mutex_lock(m);
  if (rc == EOWNERDEAD) rc = pthread_mutex_consistent(m);
  return rc;
}

// -- options ---------------------------------------------------------------------

struct Options {
  long pairs = 2000000;
  int reps = 11;
  int alloc_reps = 5;
  uint64_t naive_max = 1048576;
  double naive_budget = 6.0;  // seconds of naive runs per size, at least one
  long handoffs = 1000;
  int handoff_reps = 3;
  long spread_pairs = 200000;  // per size, for the lock+unlock plot; 0: none
  std::string json;            // --json FILE
  bool skip_pairs = false, skip_alloc = false, skip_handoff = false;
};

// -- (a) uncontended pairs -----------------------------------------------------

constexpr uint64_t kLockId = 7;

struct Variant {
  std::string name;
  std::function<bool(long)> run;  // `pairs` pairs; false on a failure
  std::vector<double> ns_per_pair;       // CPU time
  std::vector<double> wall_ns_per_pair;  // wall time
};

void bench_pairs(const Options& o, const LockSegment& anon,
                 const LockSegment& shm) {
  std::printf("\n(a) Uncontended lock + unlock of one lock, ns per pair of CPU time "
              "(median of %d repetitions of %ld pairs each,\n"
              "    rotating order; the wall-time median is shown too)\n",
              o.reps, o.pairs);
  LockManager m_anon(anon), m_shm(shm);
  const Owner owner = self_owner();
  const LockWait wait;  // block for ever: the lock is always free here
  pthread_mutex_t* robust = make_mutex(true);
  pthread_mutex_t* plain = make_mutex(false);
  auto* bare = new (shared_pages(4096)) std::atomic<uint64_t>(0);

  auto manager = [&](LockManager& m, const char* where) {
    return [&m, &owner, &wait, where](long n) {
      for (long i = 0; i < n; ++i) {
        auto l = m.lock(kLockId, owner, wait);
        if (!l) {
          fail(std::string("LockManager::lock on ") + where, l.error());
          return false;
        }
        auto u = m.unlock(kLockId);
        if (!u) {
          fail(std::string("LockManager::unlock on ") + where, u.error());
          return false;
        }
      }
      return true;
    };
  };
  std::vector<Variant> v;
  v.push_back({"LockManager, anonymous segment", manager(m_anon, "anonymous"), {}, {}});
  v.push_back({"LockManager, /dev/shm segment", manager(m_shm, "/dev/shm"), {}, {}});
  v.push_back({"robust pshared pthread mutex", [robust](long n) {
                 for (long i = 0; i < n; ++i) {
                   if (robust_lock(robust) != 0 || pthread_mutex_unlock(robust) != 0) {
                     fail("robust mutex lock/unlock");
                     return false;
                   }
                 }
                 return true;
               }, {}, {}});
  v.push_back({"bare pair of compare-and-swaps", [bare](long n) {
                 for (long i = 0; i < n; ++i) {
                   uint64_t free_word = 0, held = 1;
                   if (!bare->compare_exchange_strong(free_word, 1) ||
                       !bare->compare_exchange_strong(held, 0)) {
                     fail("compare-and-swap pair");
                     return false;
                   }
                 }
                 return true;
               }, {}, {}});
  v.push_back({"plain pshared pthread mutex", [plain](long n) {
                 for (long i = 0; i < n; ++i) {
                   if (pthread_mutex_lock(plain) != 0 || pthread_mutex_unlock(plain) != 0) {
                     fail("mutex lock/unlock");
                     return false;
                   }
                 }
                 return true;
               }, {}, {}});

  // Warm-up: faults the pages in, trains the branch predictors.
  for (auto& x : v)
    if (!x.run(std::max(1L, o.pairs / 10))) return;
  for (int rep = 0; rep < o.reps; ++rep) {
    for (size_t k = 0; k < v.size(); ++k) {
      auto& x = v[(k + static_cast<size_t>(rep)) % v.size()];  // rotating order
      Stopwatch sw;
      if (!x.run(o.pairs)) return;
      Took t = sw.took();
      x.ns_per_pair.push_back(t.cpu * 1e9 / static_cast<double>(o.pairs));
      x.wall_ns_per_pair.push_back(t.wall * 1e9 / static_cast<double>(o.pairs));
    }
  }
  // The lock must be free again on both segments, and the owner record clear.
  for (const LockManager* m : {&m_anon, &m_shm}) {
    LockState s = m->quick_state(kLockId);
    if (s.locked || s.owner) fail("lock 7 is still held after the pairs");
  }
  double peer = median(v[2].ns_per_pair);
  for (auto& x : v) {
    double med = median(x.ns_per_pair);
    std::printf("  %-34s %6.1f ns/pair  (min %.1f, max %.1f; wall %.1f)  %5.2fx the "
                "robust mutex\n",
                x.name.c_str(), med,
                *std::min_element(x.ns_per_pair.begin(), x.ns_per_pair.end()),
                *std::max_element(x.ns_per_pair.begin(), x.ns_per_pair.end()),
                median(x.wall_ns_per_pair), med / peer);
  }
  std::string peer_text = fmt("%.1f ns", peer);  // CPU time per pair
  const std::string method =
      "thread CPU time per pair (CLOCK_THREAD_CPUTIME_ID), median of " +
      std::to_string(o.reps) + " repetitions of " + with_commas(static_cast<uint64_t>(o.pairs)) +
      " pairs, variants in rotating order";
  for (int i = 0; i < 2; ++i) {
    double a = median(v[static_cast<size_t>(i)].ns_per_pair);
    add_row(ratio_row(std::string("lock+unlock pair, ") +
                          (i == 0 ? "anonymous" : "/dev/shm") + " (peer robust mutex)",
                      fmt("%.1f ns", a), peer_text, a / peer, 1.2),
            o.reps, a, peer, method);
  }
  add_row(ratio_row("  info: bare CAS pair (peer robust mutex)",
                    fmt("%.1f ns", median(v[3].ns_per_pair)), peer_text,
                    median(v[3].ns_per_pair) / peer, std::nullopt),
          o.reps, median(v[3].ns_per_pair), peer, method);
  add_row(ratio_row("  info: plain pshared mutex (peer robust mutex)",
                    fmt("%.1f ns", median(v[4].ns_per_pair)), peer_text,
                    median(v[4].ns_per_pair) / peer, std::nullopt),
          o.reps, median(v[4].ns_per_pair), peer, method);
  pthread_mutex_destroy(robust);
  pthread_mutex_destroy(plain);
  munmap(bare, 4096);
  munmap(robust, 4096);
  munmap(plain, 4096);
}

// -- (b) allocation ----------------------------------------------------------------

/// The naive allocator: first fit, scanning the bitmap from word 0 for every
/// allocation, under a robust process-shared mutex like LockManager's.
class NaiveAllocator {
 public:
  explicit NaiveAllocator(uint64_t locks)
      : words_(locks / 64), bits_(words_, 0), mutex_(make_mutex(true)) {}
  ~NaiveAllocator() {
    pthread_mutex_destroy(mutex_);
    munmap(mutex_, 4096);
  }
  NaiveAllocator(const NaiveAllocator&) = delete;
  NaiveAllocator& operator=(const NaiveAllocator&) = delete;

  void clear() { std::fill(bits_.begin(), bits_.end(), 0); }

  /// The lowest free id, or -1 when all are taken.
  int64_t allocate() {
    if (robust_lock(mutex_) != 0) return -1;
    int64_t id = -1;
    for (uint64_t w = 0; w < words_; ++w) {
      if (bits_[w] == ~uint64_t{0}) continue;
      int bit = __builtin_ctzll(~bits_[w]);
      bits_[w] |= uint64_t{1} << bit;
      id = static_cast<int64_t>(w * 64 + static_cast<uint64_t>(bit));
      break;
    }
    pthread_mutex_unlock(mutex_);
    return id;
  }

 private:
  uint64_t words_;
  std::vector<uint64_t> bits_;
  pthread_mutex_t* mutex_;
};

/// Allocates every lock of `m`'s (emptied) segment; the time it took, not
/// ok() on a failure. Every id must come in order (first free = lowest), and one more
/// allocation must fail with ENOSPC.
Took fill_manager(LockManager& m, uint64_t locks) {
  auto freed = m.free_all();
  if (!freed) {
    fail("free_all", freed.error());
    return {};
  }
  Stopwatch sw;
  for (uint64_t i = 0; i < locks; ++i) {
    auto id = m.allocate();
    if (!id || *id != i) {
      if (!id)
        fail("LockManager::allocate #" + std::to_string(i), id.error());
      else
        fail("LockManager::allocate gave " + std::to_string(*id) +
             ", not the lowest free id " + std::to_string(i));
      return {};
    }
  }
  Took took = sw.took();
  auto more = m.allocate();
  if (more || more.error().err != ENOSPC) {
    fail("allocate on a full segment of " + std::to_string(locks) +
         " locks did not fail with ENOSPC");
    return {};
  }
  auto n = m.allocated_count();
  if (!n || *n != locks) {
    fail("allocated_count is not " + std::to_string(locks));
    return {};
  }
  return took;
}

Took fill_naive(NaiveAllocator& a, uint64_t locks) {
  a.clear();
  Stopwatch sw;
  for (uint64_t i = 0; i < locks; ++i) {
    int64_t id = a.allocate();
    if (id != static_cast<int64_t>(i)) {
      fail("the naive allocator gave " + std::to_string(id) + ", not " +
           std::to_string(i));
      return {};
    }
  }
  Took took = sw.took();
  if (a.allocate() != -1) {
    fail("the naive allocator allocated past the end");
    return {};
  }
  return took;
}

constexpr const char* kAllocX = "locks in the segment";
constexpr const char* kAllocY = "ns per lock (CPU)";

/// (locks, ns per pair on one lock, ns per pair spread over the segment).
std::vector<std::tuple<uint64_t, double, double>> g_spread_ns;

/// Uncontended lock + unlock against the segment's size, for the plot:
/// `o.spread_pairs` pairs on lock 7 alone, and as many on ids spread over
/// the whole segment (an odd stride, so every pair is on another lock and
/// the slots' cache lines and pages come from all over it); CPU time per
/// pair, the median of three runs after one untimed one (which faults the
/// pages in). The lock must be free after each pair.
bool spread_pairs(const Options& o, LockManager& m, uint64_t locks) {
  if (o.spread_pairs <= 0) return true;
  if ((locks & (locks - 1)) != 0) {  // the spread below wraps with a mask
    fail("spread_pairs: " + std::to_string(locks) + " is not a power of two");
    return false;
  }
  const Owner owner = self_owner();
  const LockWait wait;
  const uint64_t stride = 40503;  // odd: cycles through every id mod 2^k
  auto run = [&](bool spread) {
    uint64_t id = kLockId;
    for (long i = 0; i < o.spread_pairs; ++i) {
      if (spread) id = (id + stride) & (locks - 1);
      auto l = m.lock(id, owner, wait);
      if (!l) {
        fail("LockManager::lock " + std::to_string(id), l.error());
        return false;
      }
      auto u = m.unlock(id);
      if (!u) {
        fail("LockManager::unlock " + std::to_string(id), u.error());
        return false;
      }
    }
    return true;
  };
  double med[2];
  for (int spread = 0; spread < 2; ++spread) {
    if (!run(spread != 0)) return false;
    std::vector<double> ns;
    for (int rep = 0; rep < 3; ++rep) {
      Stopwatch sw;
      if (!run(spread != 0)) return false;
      ns.push_back(sw.took().cpu * 1e9 / static_cast<double>(o.spread_pairs));
    }
    med[spread] = median(ns);
  }
  add_point("lock", "LockManager lock+unlock, one lock", locks, med[0], kAllocX,
            "ns per lock+unlock pair (CPU)");
  add_point("lock", "LockManager lock+unlock, ids spread over the segment", locks, med[1],
            kAllocX, "ns per lock+unlock pair (CPU)");
  g_spread_ns.emplace_back(locks, med[0], med[1]);
  return true;
}

void bench_alloc(const Options& o) {
  std::printf("\n(b) Allocating every lock of an empty segment: LockManager::allocate() "
              "vs a first-fit scan from word 0\n"
              "    (median of %d runs each, alternating; the scan's runs stop "
              "after %.0f s per size, at least one;\n"
              "    times are wall times, ns/lock is CPU time per lock, ratio is on "
              "wall times)\n",
              o.alloc_reps, o.naive_budget);
  std::printf("  %10s  %12s %8s  %12s %8s  %8s\n", "locks", "manager", "ns/lock",
              "first-fit", "ns/lock", "ratio");
  const uint64_t sizes[] = {2048, 8192, 32768, 131072, 524288, 1048576};
  double first_per_lock = 0, last_per_lock = 0;
  for (uint64_t locks : sizes) {
    auto seg = LockSegment::anonymous(locks);
    if (!seg) {
      fail("LockSegment::anonymous(" + std::to_string(locks) + ")", seg.error());
      return;
    }
    LockManager m(*seg);
    bool naive_on = locks <= o.naive_max;
    std::optional<NaiveAllocator> naive;
    if (naive_on) naive.emplace(locks);
    // Warm-up of the manager (the bitmap's pages, the code); the scan's
    // clear() touches its bitmap before every run.
    if (!fill_manager(m, locks).ok()) return;
    std::vector<double> a, a_cpu, b, b_cpu;
    double naive_spent = 0;
    for (int rep = 0; rep < o.alloc_reps; ++rep) {
      Took s = fill_manager(m, locks);
      if (!s.ok()) return;
      a.push_back(s.wall);
      a_cpu.push_back(s.cpu);
      if (naive_on && (b.empty() || naive_spent < o.naive_budget)) {
        Took t = fill_naive(*naive, locks);
        if (!t.ok()) return;
        b.push_back(t.wall);
        b_cpu.push_back(t.cpu);
        naive_spent += t.wall;
      }
    }
    double n = static_cast<double>(locks);
    double am = median(a), per_a = median(a_cpu) * 1e9 / n;
    if (locks == sizes[0]) first_per_lock = per_a;
    last_per_lock = per_a;
    add_point("alloc", "LockManager::allocate", locks, per_a, kAllocX, kAllocY);
    std::string label = locks == 1048576 ? "allocate all 1,048,576 (peer first-fit from word 0)"
                                         : "  allocate all " + with_commas(locks) +
                                               " (peer first-fit from word 0)";
    if (naive_on) {
      double bm = median(b), per_b = median(b_cpu) * 1e9 / n;
      std::printf("  %10s  %9.3f ms %8.1f  %9.3f ms %8.1f  %8.4f   (scan n=%zu)\n",
                  with_commas(locks).c_str(), am * 1e3, per_a, bm * 1e3, per_b, am / bm,
                  b.size());
      add_row(ratio_row(label, fmt("%.3f ms", am * 1e3),
                        fmt(bm >= 1 ? "%.0f ms" : "%.3f ms", bm * 1e3), am / bm,
                        std::nullopt),
              static_cast<long>(a.size()), am * 1e9, bm * 1e9,
              "wall-clock median of " + std::to_string(a.size()) + " runs (first-fit: " +
                  std::to_string(b.size()) + "), alternating");
      add_point("alloc", "first-fit scan from word 0 (baseline)", locks, per_b, kAllocX,
                kAllocY);
    } else {
      std::printf("  %10s  %9.3f ms %8.1f  %12s %8s  %8s\n", with_commas(locks).c_str(),
                  am * 1e3, per_a, "(skipped)", "-", "-");
      // The row all the same (no peer), so that every run has the same rows.
      add_row(ratio_row(label, fmt("%.3f ms", am * 1e3), "(skipped)", -1, std::nullopt),
              static_cast<long>(a.size()), am * 1e9, -1,
              "wall-clock median of " + std::to_string(a.size()) +
                  " runs (first-fit skipped above --naive-max)");
    }
    if (locks == 1048576) {
      TableRow r{"allocate all 1,048,576: manager's wall time", fmt("%.3f ms", am * 1e3),
                 "-", -1, "< 100 ms", am < 0.1 ? "yes" : "NO", 0, -1, -1, ""};
      add_row(r, static_cast<long>(a.size()), am * 1e9, -1,
              "wall-clock median of " + std::to_string(a.size()) + " runs");
    }
    if (!spread_pairs(o, m, locks)) return;
    std::fflush(stdout);
  }
  // Flat: the cost per lock at 1M against the cost at 2048. A first-fit
  // scan's grows with the segment (about 20x from 2,048 to 131,072 locks);
  // 1.5 leaves room for the bitmap and the slots outgrowing the caches.
  double flat = last_per_lock / first_per_lock;
  std::printf("  CPU ns per lock at 1,048,576 / at 2,048: %.2f (flat is ~1)\n", flat);
  add_row(ratio_row("CPU ns/lock allocating 1,048,576 (peer: allocating 2,048)",
                    fmt("%.1f ns", last_per_lock), fmt("%.1f ns", first_per_lock), flat,
                    1.5),
          o.alloc_reps, last_per_lock, first_per_lock,
          "thread CPU time per allocation (CLOCK_THREAD_CPUTIME_ID), median of " +
              std::to_string(o.alloc_reps) + " runs per size");
  if (!g_spread_ns.empty()) {
    std::printf("  lock+unlock CPU ns per pair against the segment's size (%ld pairs, "
                "median of 3):\n   ",
                o.spread_pairs);
    for (const auto& [locks, one, spread] : g_spread_ns)
      std::printf(" %s: %.1f / %.1f;", with_commas(locks).c_str(), one, spread);
    std::printf("  (one lock / ids spread over the segment)\n");
  }
}

// -- (c) two-process handoff ---------------------------------------------------

struct HandoffShared {
  std::atomic<long> round;     // A: B may start round `round`
  std::atomic<long> ready;     // B: about to lock for round ready - 1
  std::atomic<long> done;      // B: took and released the lock for round done - 1
  std::atomic<int64_t> t0;     // A: when it released the lock
  std::atomic<long> not_asleep;  // rounds where B was not seen asleep in time
};

/// The three primitives, as operations on a lock that starts held by A.
struct Primitive {
  std::string name;
  std::function<bool()> acquire;  // blocking
  std::function<bool()> release;
  std::vector<double> us;         // latency samples
  std::function<void()> in_child = [] {};  // B's set-up after fork
  int order = 0;                  // where its row goes
};

/// /proc/PID/stat's state letter.
char proc_state(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return '?';
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return '?';
  std::string_view s(buf, static_cast<size_t>(n));
  size_t close_paren = s.rfind(')');
  if (close_paren == std::string_view::npos || close_paren + 2 >= s.size()) return '?';
  return s[close_paren + 2];
}

/// Spins (yielding the CPU) until `cond` holds; false if the child ended or
/// 10 s went by.
template <typename F>
bool wait_for(F cond, pid_t child) {
  int64_t deadline = now_ns() + 10'000'000'000;
  for (long i = 0;; ++i) {
    if (cond()) return true;
    if ((i & 255) == 255) {
      int status;
      if (waitpid(child, &status, WNOHANG) == child) {
        fail("the handoff's other process ended early");
        return false;
      }
      if (now_ns() > deadline) {
        fail("the handoff's other process did not answer in 10 s");
        return false;
      }
    }
    sched_yield();
  }
}

/// `n` handoffs of each primitive in `prims`, interleaved (round i uses
/// primitive i % size, so that a burst of load on the machine hits all
/// alike), with a new process B. A (this process) holds every lock.
bool handoff_run(std::vector<Primitive>& prims, HandoffShared* sh, long n) {
  const long kinds = static_cast<long>(prims.size());
  const long rounds = n * kinds;
  sh->round = -1;
  sh->ready = 0;
  sh->done = 0;
  size_t bytes = static_cast<size_t>(rounds) * sizeof(double);
  auto* latency = static_cast<double*>(shared_pages(bytes));
  std::fflush(nullptr);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) {
    fail(std::string("fork: ") + std::strerror(errno));
    munmap(latency, bytes);
    return false;
  }
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    signal(SIGINT, SIG_DFL);  // A cleans up; B just goes
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    for (auto& p : prims) p.in_child();
    for (long i = 0; i < rounds; ++i) {
      Primitive& p = prims[static_cast<size_t>(i % kinds)];
      while (sh->round.load() != i) sched_yield();
      sh->ready.store(i + 1);
      if (!p.acquire()) _exit(2);
      int64_t t1 = now_ns();
      latency[i] = static_cast<double>(t1 - sh->t0.load()) / 1e3;
      if (!p.release()) _exit(3);
      sh->done.store(i + 1);
    }
    _exit(0);
  }
  bool ok = true;
  for (long i = 0; i < rounds && ok; ++i) {
    Primitive& p = prims[static_cast<size_t>(i % kinds)];
    sh->round.store(i);
    ok = wait_for([&] { return sh->ready.load() == i + 1; }, child);
    if (!ok) break;
    // B is about to block: wait until the kernel has it asleep (5 ms at most).
    int64_t until = now_ns() + 5'000'000;
    while (proc_state(child) != 'S') {
      if (now_ns() > until) {
        sh->not_asleep.fetch_add(1);
        break;
      }
      sched_yield();
    }
    sh->t0.store(now_ns());
    if (!p.release()) {
      fail(p.name + ": release by A");
      ok = false;
      break;
    }
    ok = wait_for([&] { return sh->done.load() == i + 1; }, child);
    if (ok && !p.acquire()) {
      fail(p.name + ": acquire by A");
      ok = false;
    }
  }
  if (!ok) kill(child, SIGKILL);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (ok && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
    fail("the handoff's other process failed (status " + std::to_string(status) + ")");
    ok = false;
  }
  if (ok)
    for (long i = 0; i < rounds; ++i)
      prims[static_cast<size_t>(i % kinds)].us.push_back(latency[i]);
  munmap(latency, bytes);
  return ok;
}

void bench_handoff(const Options& o, const LockSegment& anon) {
  std::printf("\n(c) Two-process handoff: B blocked in lock(), A unlocks; from A's "
              "unlock to B's lock() returning\n"
              "    (%d runs of %ld handoffs per primitive, the primitives taking "
              "turns handoff by handoff;\n    all samples pooled)\n",
              o.handoff_reps, o.handoffs);
  auto* sh = static_cast<HandoffShared*>(shared_pages(4096));
  new (sh) HandoffShared{};
  pthread_mutex_t* robust = make_mutex(true);
  LockManager m(anon);
  const uint64_t id = 9;
  int sem = semget(IPC_PRIVATE, 1, 0600);
  if (sem < 0) {
    fail(std::string("semget: ") + std::strerror(errno));
    return;
  }
  g_sem_id = sem;  // value 0: held by A
  g_last_sem_id = sem;
  auto semop1 = [sem](short delta) {
    struct sembuf op = {0, delta, 0};
    while (semop(sem, &op, 1) != 0)
      if (errno != EINTR) return false;
    return true;
  };

  std::vector<Primitive> prims;
  // The owner recorded is whoever locks: A's, and B's own after fork.
  Owner owner = self_owner();
  prims.push_back({"LockManager", [&m, &owner, id] {
                     return static_cast<bool>(m.lock(id, owner, LockWait{}));
                   },
                   [&m, id] { return static_cast<bool>(m.unlock(id)); }, {},
                   [&owner] {
                     auto o = owner_of(getpid());
                     if (o) owner = *o;
                   },
                   0});
  prims.push_back({"robust pshared mutex", [robust] { return robust_lock(robust) == 0; },
                   [robust] { return pthread_mutex_unlock(robust) == 0; }, {}, [] {}, 1});
  prims.push_back({"SysV semaphore", [semop1] { return semop1(-1); },
                   [semop1] { return semop1(+1); }, {}, [] {}, 2});
  // A holds each lock to begin with (the SysV one is held at 0).
  if (!prims[0].acquire() || !prims[1].acquire()) {
    fail("taking the handoff locks");
    return;
  }
  bool ok = true;
  for (int rep = 0; rep < o.handoff_reps && ok; ++rep) {
    // Each run starts with another primitive.
    std::rotate(prims.begin(), prims.begin() + 1, prims.end());
    ok = handoff_run(prims, sh, o.handoffs);
  }
  // Back in the order the rows use: LockManager, mutex, SysV.
  std::sort(prims.begin(), prims.end(),
            [](const Primitive& x, const Primitive& y) { return x.order < y.order; });
  if (ok) {
    prims[0].release();
    prims[1].release();
    for (auto& p : prims)
      std::printf("  %-22s median %7.1f us  p10 %7.1f  p90 %7.1f  (n=%zu)\n",
                  p.name.c_str(), median(p.us), percentile(p.us, 0.1),
                  percentile(p.us, 0.9), p.us.size());
    std::printf("  rounds where B was not yet seen asleep after 5 ms: %ld\n",
                sh->not_asleep.load());
    double a = median(prims[0].us);
    const std::string method =
        "wall clock (CLOCK_MONOTONIC) from A's unlock to B's lock() returning, median of " +
        std::to_string(prims[0].us.size()) + " handoffs in " + std::to_string(o.handoff_reps) +
        " runs, primitives taking turns";
    for (size_t k = 1; k < 3; ++k) {
      double b = median(prims[k].us);
      add_row(ratio_row("  info: handoff, 2 processes (peer " + prims[k].name + ")",
                        fmt("%.1f us", a), fmt("%.1f us", b), a / b, std::nullopt),
              static_cast<long>(prims[0].us.size()), a * 1e3, b * 1e3, method);
    }
  }
  semctl(sem, 0, IPC_RMID);
  g_sem_id = -1;
  pthread_mutex_destroy(robust);
  munmap(robust, 4096);
  munmap(sh, 4096);
}

// -- main ------------------------------------------------------------------------

/// The load average as benchlib.py's loadavg() words it.
std::string load_text() {
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  char buf[128];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f%s", load[0], load[1], load[2],
                load[0] > 0.75 * static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN))
                    ? " (busy machine: expect noisy numbers)"
                    : "");
  return buf;
}

/// Writes the run's rows and plot data to `path` (through a temporary file
/// renamed over it) in the shape of benchlib.py's write_json, so that
/// tests/bench/run reads this program's document like the scripts'. False
/// (and a message) if it cannot be written.
bool write_json(const std::string& path, int argc, char** argv, int status,
                const std::string& host, int64_t started_ns) {
  using J = nlohmann::ordered_json;
  J doc;
  doc["script"] = "lock_bench";
  J args = J::array();
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  doc["argv"] = std::move(args);
  doc["status"] = status;
  struct utsname u;
  std::string kernel = uname(&u) == 0 ? u.release : "?";
  doc["host"] = "kernel " + kernel + ", " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
                " CPUs, " + host;
  doc["load_at_end"] = load_text();
  doc["seconds"] = std::round(static_cast<double>(now_ns() - started_ns) / 1e8) / 10;
  J rows = J::array();
  for (const auto& r : g_rows) {
    J j;
    size_t lead = r.what.find_first_not_of(' ');
    j["what"] = lead == std::string::npos ? r.what : r.what.substr(lead);
    j["ipctk"] = r.ipctk;
    j["peer"] = r.peer;
    j["ratio"] = r.ratio < 0 ? "-" : fmt("%.2f", r.ratio);
    j["ratio_value"] = r.ratio < 0 ? J(nullptr) : J(r.ratio);
    j["target"] = r.target;
    j["met"] = r.met;
    j["runs"] = r.runs;
    j["ipctk_median"] = r.ipctk_ns < 0 ? J(nullptr) : J(r.ipctk_ns);
    j["peer_median"] = r.peer_ns < 0 ? J(nullptr) : J(r.peer_ns);
    j["size"] = nullptr;
    j["method"] = r.method;
    rows.push_back(std::move(j));
  }
  doc["rows"] = std::move(rows);
  doc["series"] = g_series;
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "lock_bench: %s: %s\n", tmp.c_str(), std::strerror(errno));
    return false;
  }
  std::string text = doc.dump(1) + "\n";
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::fprintf(stderr, "lock_bench: writing %s: %s\n", path.c_str(), std::strerror(errno));
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "lock_bench: %s\n"
               "usage: lock_bench [--quick] [--pairs N] [--reps R] [--alloc-reps R]\n"
               "                  [--naive-max LOCKS] [--naive-budget SECONDS]\n"
               "                  [--handoffs N] [--handoff-reps R] [--spread-pairs N]\n"
               "                  [--json FILE]\n"
               "                  [--skip-pairs] [--skip-alloc] [--skip-handoff]\n",
               why);
  return 2;
}

bool parse_long(const char* text, long lo, long& out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo) return false;
  out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t started = now_ns();
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    long v = 0;
    auto value = [&](long lo) {
      return i + 1 < argc && parse_long(argv[++i], lo, v);
    };
    if (a == "--quick") {
      o.pairs = 200000;
      o.reps = 5;
      o.alloc_reps = 3;
      o.naive_max = 131072;
      o.naive_budget = 1.0;
      o.handoffs = 200;
      o.handoff_reps = 1;
      o.spread_pairs = 20000;
    } else if (a == "--json") {
      if (i + 1 >= argc || argv[i + 1][0] == '\0') return usage("--json needs a FILE");
      o.json = argv[++i];
    } else if (a == "--spread-pairs") {
      if (!value(0)) return usage("bad --spread-pairs");
      o.spread_pairs = v;
    } else if (a == "--pairs") {
      if (!value(1)) return usage("bad --pairs");
      o.pairs = v;
    } else if (a == "--reps") {
      if (!value(1)) return usage("bad --reps");
      o.reps = static_cast<int>(std::min(v, 1000L));
    } else if (a == "--alloc-reps") {
      if (!value(1)) return usage("bad --alloc-reps");
      o.alloc_reps = static_cast<int>(std::min(v, 1000L));
    } else if (a == "--naive-max") {
      if (!value(0)) return usage("bad --naive-max");
      o.naive_max = static_cast<uint64_t>(v);
    } else if (a == "--naive-budget") {
      if (!value(0)) return usage("bad --naive-budget");
      o.naive_budget = static_cast<double>(v);
    } else if (a == "--handoffs") {
      if (!value(1)) return usage("bad --handoffs");
      o.handoffs = v;
    } else if (a == "--handoff-reps") {
      if (!value(1)) return usage("bad --handoff-reps");
      o.handoff_reps = static_cast<int>(std::min(v, 1000L));
    } else if (a == "--skip-pairs") {
      o.skip_pairs = true;
    } else if (a == "--skip-alloc") {
      o.skip_alloc = true;
    } else if (a == "--skip-handoff") {
      o.skip_handoff = true;
    } else {
      return usage(("unknown argument " + std::string(a)).c_str());
    }
  }

  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);

  std::string host = "?";
  if (FILE* f = std::fopen("/proc/cpuinfo", "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "model name", 10) == 0) {
        const char* c = std::strchr(line, ':');
        host = c ? c + 2 : line;
        host.erase(host.find_last_not_of("\n") + 1);
        break;
      }
    std::fclose(f);
  }
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("lock_bench: %ld CPUs, %s; load average %.2f %.2f %.2f%s\n",
              sysconf(_SC_NPROCESSORS_ONLN), host.c_str(), load[0], load[1], load[2],
              load[0] > 0.75 * static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN))
                  ? " (busy machine: expect noisy numbers)"
                  : "");

  // The segments of (a) and (c): anonymous, and a /dev/shm object of our
  // own, unlinked as soon as it is mapped.
  auto anon = LockSegment::anonymous(kDefaultLocks);
  auto finish = [&](int status) {
    if (!o.json.empty() && !write_json(o.json, argc, argv, status, host, started))
      status = 1;
    return status;
  };
  if (!anon) {
    fail("LockSegment::anonymous", anon.error());
    return finish(1);
  }
  std::random_device rd;
  std::snprintf(g_shm_name, sizeof g_shm_name, "/ipctk-lockbench-%d-%08x",
                static_cast<int>(getpid()), rd());
  SegmentPath shm_path{Placement::kShm, g_shm_name};
  LockSegment::CreateOptions create;
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);  // created and recorded at once
  bool created = false;
  auto shm = LockSegment::create(shm_path, create, &created);
  if (created) g_shm_live = 1;
  sigprocmask(SIG_SETMASK, &old, nullptr);
  if (!shm) {
    fail(std::string("LockSegment::create ") + g_shm_name, shm.error());
    return finish(1);
  }
  if (auto r = LockSegment::remove(shm_path); !r) fail("removing " + shm_path.name, r.error());
  g_shm_live = 0;

  if (!o.skip_pairs && !g_failed) bench_pairs(o, *anon, *shm);
  if (!o.skip_alloc && !g_failed) bench_alloc(o);
  if (!o.skip_handoff && !g_failed) bench_handoff(o, *anon);

  if (!g_rows.empty()) print_table();
  getloadavg(load, 3);
  std::printf("load average at end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);

  // Nothing of ours left: the shm object is gone, and so is the SysV set.
  remove_ipc();
  int fd = shm_open(g_shm_name, O_RDONLY, 0);
  if (fd >= 0) {
    close(fd);
    fail(std::string("left behind: /dev/shm") + g_shm_name);
  }
  bool sem_left = false;
  if (g_last_sem_id >= 0) {
    struct semid_ds ds;
    union semun_arg {
      int val;
      struct semid_ds* buf;
    } arg;
    arg.buf = &ds;
    sem_left = semctl(g_last_sem_id, 0, IPC_STAT, arg) == 0;
    if (sem_left) fail("left behind: SysV set " + std::to_string(g_last_sem_id));
  }
  std::printf("left behind: %s\n", fd >= 0 || sem_left ? "something (see above)" : "nothing");
  return finish(g_failed ? 1 : 0);
}
