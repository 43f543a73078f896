#include "sem_set.h"

#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <iterator>

#include "clock.h"
#include "ipc_perm.h"
#include "process.h"
#include "sysv_list.h"  // the limits, to say which one a creation hit

namespace ipctk {

namespace {

/// semctl's fourth argument, which the caller must declare (semctl(2)).
union SemArg {
  int val;
  struct semid_ds* buf;
  unsigned short* array;
  struct seminfo* info;
};

Error semctl_error(const char* what, int err, int id) {
  if (err == EINVAL || err == EIDRM) {
    Error e = sys_error("semctl", err, sem_text(id),
                        "'sysv-sem list' shows the sets");
    e.message = sem_text(id) + " does not exist (" + e.code() + ")";
    return e;
  }
  std::string hint;
  if (err == EACCES || err == EPERM)
    hint = "the set's mode or owner does not allow this caller";
  else if (err == ERANGE)
    hint = "a semaphore holds 0..SEMVMX; 'sysv-sem info' shows semvmx";
  return sys_error("semctl", err, sem_text(id) + " (" + what + ")", hint);
}

/// A semop that changes no value but sets sem_otime, the mark that the
/// set is initialized: give one to semaphore 0 and take it back in the
/// same call, which cannot block whatever others do to the set meanwhile
/// (they may: only openers with --init wait for the mark). At SEMVMX the
/// other order is used.
Status mark_ready(int id) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    struct sembuf up_down[2] = {{0, 1, 0}, {0, -1, 0}};
    if (semop(id, up_down, 2) == 0) return Ok{};
    if (errno != ERANGE) break;
    struct sembuf down_up[2] = {{0, -1, IPC_NOWAIT}, {0, 1, IPC_NOWAIT}};
    if (semop(id, down_up, 2) == 0) return Ok{};
    if (errno != EAGAIN) break;
  }
  return sys_error("semop", errno, sem_text(id) + " (marking it ready)",
                   "the set was made but not marked ready; 'sysv-sem rm " +
                       std::to_string(id) + "' removes it");
}

/// Waits until the set's creator has run mark_ready.
Status wait_ready(int id, double seconds) {
  double deadline = monotonic_seconds() + seconds;
  long pause_us = 1000;
  for (;;) {
    auto info = sem_stat(id);
    if (!info) return info.error();
    if (info->otime != 0) return Ok{};
    if (monotonic_seconds() >= deadline)
      return Error{"semget", ETIMEDOUT,
                   sem_text(id) + " was created but not initialized within " +
                       seconds_text(seconds) +
                       " s (its sem_otime is still 0)",
                   "its creator may have died before initializing it, or "
                   "it was made by a tool that does not mark it ready; any "
                   "operation marks it ready ('sysv-sem op " +
                       std::to_string(id) + " 0:+1 0:-1'), 'sysv-sem rm " +
                       std::to_string(id) + "' removes it",
                   kExitFailed};
    struct timespec ts = {0, pause_us * 1000};
    nanosleep(&ts, nullptr);
    if (pause_us < 50000) pause_us *= 2;
  }
}

/// An existing set is opened asking for read permission, so that the
/// kernel refuses a caller who could not read it (flags of 0 would open
/// anything, and every later step would fail instead).
constexpr int kOpenFlags = 0400;

Error semget_error(int err, const SemGetRequest& r, bool creating) {
  std::string what = r.key == IPC_PRIVATE ? "private set"
                                          : "key " + key_hex(r.key);
  std::string hint;
  // Which limit: the kernel's ENOSPC and EINVAL do not say, and the
  // limits and their use read now do.
  std::optional<LimitHit> limit;
  if (creating && (err == EINVAL || err == ENOSPC)) {
    auto limits = sem_limits();
    if (limits) limit = sem_limit_hit(*limits, err, r.nsems);
  }
  if (limit) {
    Error e = sys_error("semget", err, what, limit->hint);
    e.message += ": " + limit->message;
    return e;
  }
  if (err == EEXIST)
    hint = "a set with this key exists; drop --excl to open it";
  else if (err == ENOENT)
    hint = "no set has this key; --create makes one, 'sysv-sem list' "
           "shows the sets";
  else if (err == EINVAL && creating)
    hint = "--nsems must be 1..semmsl; 'sysv-sem info' shows the limits";
  else if (err == EINVAL)
    hint = "the set with this key has fewer semaphores than --nsems; "
           "'sysv-sem stat --key " + key_hex(r.key) + "' shows its size";
  else if (err == ENOSPC)
    hint = "the kernel's semmni (sets) or semmns (semaphores) limit is "
           "reached; 'sysv-sem info' shows the limits";
  else if (err == EACCES)
    hint = "the set's mode does not allow this caller";
  return sys_error("semget", err, what, hint);
}

/// Creates, initializes and marks ready; removes the set again if any
/// step after creation fails, so that a failed get leaves nothing behind.
/// The creator needs read and alter permission for those steps, so a mode
/// that denies them to the owner (0400, 0000) is set only at the end.
Result<SemGot> create_new(const SemGetRequest& r, int flags) {
  unsigned mode = r.mode & 0777;
  int id = semget(r.key, static_cast<int>(r.nsems),
                  flags | static_cast<int>(mode | 0600));
  if (id < 0) return semget_error(errno, r, true);
  Status done = Ok{};
  if (!r.init.empty()) done = sem_set_all(id, r.init);
  if (done) done = mark_ready(id);
  if (done && (mode & 0600) != 0600) {
    auto info = sem_stat(id);
    if (!info) done = info.error();
    PermChange restrict;
    restrict.mode = mode;
    if (done) done = sem_set_perm(*info, restrict);
  }
  if (!done) {
    sem_remove(id);
    return done.error();
  }
  return SemGot{id, true};
}

}  // namespace

std::string sem_text(int id) { return "set " + std::to_string(id); }

Json to_json(const SemInfo& info) {
  Json j;
  j["id"] = info.id;
  j["key"] = static_cast<uint32_t>(info.key);
  j["key_hex"] = key_hex(info.key);
  j["mode"] = info.mode & 0777;
  j["mode_octal"] = mode_octal(info.mode & 0777);
  j["uid"] = info.uid;
  j["gid"] = info.gid;
  j["cuid"] = info.cuid;
  j["cgid"] = info.cgid;
  j["nsems"] = info.nsems;
  j["otime"] = info.otime;
  j["ctime"] = info.ctime;
  return j;
}

Json to_json(const std::vector<SemState>& states) {
  Json out = Json::array();
  for (size_t i = 0; i < states.size(); ++i) {
    Json s;
    s["num"] = i;
    s["value"] = states[i].value;
    s["ncnt"] = states[i].ncnt;
    s["zcnt"] = states[i].zcnt;
    s["pid"] = states[i].pid;
    out.push_back(std::move(s));
  }
  return out;
}

Json to_json(const SemOpSpec& op) {
  Json j;
  j["num"] = op.num;
  j["delta"] = op.delta;
  j["undo"] = op.undo;
  j["nowait"] = op.nowait;
  return j;
}

Result<SemGot> sem_get(const SemGetRequest& r) {
  int mode = static_cast<int>(r.mode & 0777);
  if (r.key == IPC_PRIVATE) return create_new(r, mode | IPC_CREAT);
  if (!r.create) {
    int id = semget(r.key, static_cast<int>(r.nsems), kOpenFlags);
    if (id < 0) return semget_error(errno, r, false);
    return SemGot{id, false};
  }
  // Try to create first; an existing set is opened only when the caller
  // did not ask for a new one, and one removed meanwhile is made again.
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto made = create_new(r, mode | IPC_CREAT | IPC_EXCL);
    if (made || made.error().err != EEXIST || r.excl) return made;
    int id = semget(r.key, static_cast<int>(r.nsems), kOpenFlags);
    if (id < 0) {
      if (errno == ENOENT) continue;
      return semget_error(errno, r, false);
    }
    if (r.wait_ready) {
      auto ready = wait_ready(id, *r.wait_ready);
      if (!ready && (ready.error().err == EINVAL || ready.error().err == EIDRM))
        continue;  // removed while we waited: start again
      if (!ready) return ready.error();
    }
    return SemGot{id, false};
  }
  return sys_error("semget", EAGAIN, "key " + key_hex(r.key) +
                                         " kept appearing and vanishing");
}

Result<int> sem_find(key_t key) {
  if (key == IPC_PRIVATE)
    return usage_error("--key: a private set has no key to look up",
                       "name the set by its id");
  int id = semget(key, 0, 0);
  if (id < 0) {
    int err = errno;
    return sys_error("semget", err, "key " + key_hex(key),
                     err == ENOENT ? "no set has this key; 'sysv-sem list' "
                                     "shows the sets"
                                   : "");
  }
  return id;
}

Result<SemInfo> sem_stat(int id) {
  struct semid_ds ds;
  SemArg arg;
  arg.buf = &ds;
  if (semctl(id, 0, IPC_STAT, arg) != 0)
    return semctl_error("IPC_STAT", errno, id);
  SemInfo info;
  info.id = id;
  info.key = ds.sem_perm.__key;
  info.uid = ds.sem_perm.uid;
  info.gid = ds.sem_perm.gid;
  info.cuid = ds.sem_perm.cuid;
  info.cgid = ds.sem_perm.cgid;
  info.mode = ds.sem_perm.mode;
  info.nsems = static_cast<unsigned>(ds.sem_nsems);
  info.otime = ds.sem_otime;
  info.ctime = ds.sem_ctime;
  return info;
}

Result<std::vector<unsigned>> sem_values(int id, unsigned nsems) {
  std::vector<unsigned short> raw(nsems == 0 ? 1 : nsems);
  SemArg arg;
  arg.array = raw.data();
  if (semctl(id, 0, GETALL, arg) != 0) return semctl_error("GETALL", errno, id);
  return std::vector<unsigned>(raw.begin(), raw.begin() + nsems);
}

Result<std::vector<SemState>> sem_states(int id, unsigned nsems) {
  auto values = sem_values(id, nsems);
  if (!values) return values.error();
  std::vector<SemState> out(nsems);
  for (unsigned i = 0; i < nsems; ++i) {
    out[i].value = (*values)[i];
    int ncnt = semctl(id, static_cast<int>(i), GETNCNT);
    if (ncnt < 0) return semctl_error("GETNCNT", errno, id);
    int zcnt = semctl(id, static_cast<int>(i), GETZCNT);
    if (zcnt < 0) return semctl_error("GETZCNT", errno, id);
    int pid = semctl(id, static_cast<int>(i), GETPID);
    if (pid < 0) return semctl_error("GETPID", errno, id);
    out[i].ncnt = static_cast<unsigned>(ncnt);
    out[i].zcnt = static_cast<unsigned>(zcnt);
    out[i].pid = pid;
  }
  return out;
}

Status sem_set_value(int id, unsigned num, unsigned value) {
  SemArg arg;
  arg.val = static_cast<int>(value);
  if (semctl(id, static_cast<int>(num), SETVAL, arg) != 0)
    return semctl_error("SETVAL", errno, id);
  return Ok{};
}

Status sem_set_all(int id, const std::vector<unsigned>& values) {
  std::vector<unsigned short> raw(values.begin(), values.end());
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] > 0xffff) return semctl_error("SETALL", ERANGE, id);
  SemArg arg;
  arg.array = raw.data();
  if (semctl(id, 0, SETALL, arg) != 0) return semctl_error("SETALL", errno, id);
  return Ok{};
}

Status sem_set_perm(const SemInfo& current, const PermChange& request) {
  // IPC_SET reads only uid, gid and mode; the rest of the buffer is ignored.
  struct semid_ds ds = {};
  ds.sem_perm.uid = request.uid.value_or(current.uid);
  ds.sem_perm.gid = request.gid.value_or(current.gid);
  ds.sem_perm.mode = static_cast<unsigned short>(
      request.mode.value_or(current.mode & 0777));
  SemArg arg;
  arg.buf = &ds;
  if (semctl(current.id, 0, IPC_SET, arg) != 0)
    return semctl_error("IPC_SET", errno, current.id);
  return Ok{};
}

Status sem_remove(int id) {
  if (semctl(id, 0, IPC_RMID) != 0) return semctl_error("IPC_RMID", errno, id);
  return Ok{};
}

Status sem_check_owner(const SemInfo& info) {
  return check_ipc_owner(info.uid, info.cuid, "semctl", sem_text(info.id),
                         "set");
}

Status sem_check_ops(const std::vector<SemOpSpec>& ops, const SemInfo& info) {
  if (ops.empty())
    return usage_error("no operation given", "give at least one SPEC, "
                                             "NUM:DELTA[:undo][:nowait]");
  for (const SemOpSpec& op : ops)
    if (op.num >= info.nsems)
      return Error{"semop", EFBIG,
                   "semaphore " + std::to_string(op.num) + " is out of range: " +
                       sem_text(info.id) + " has " +
                       std::to_string(info.nsems) + " (0.." +
                       std::to_string(info.nsems - 1) + ")",
                   "nothing was applied", kExitFailed};
  return Ok{};
}

Status sem_apply(int id, const std::vector<SemOpSpec>& ops,
                 std::optional<double> timeout,
                 const InterruptCatcher* interrupts) {
  // A few operations (P, V, a handoff) fit on the stack: no allocation on
  // the path a ping-pong takes.
  struct sembuf small[8];
  std::vector<struct sembuf> large;
  struct sembuf* buf = small;
  if (ops.size() > std::size(small)) {
    large.resize(ops.size());
    buf = large.data();
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    short flags = 0;
    if (ops[i].undo) flags |= SEM_UNDO;
    if (ops[i].nowait) flags |= IPC_NOWAIT;
    buf[i] = {static_cast<unsigned short>(ops[i].num),
              static_cast<short>(ops[i].delta), flags};
  }
  const char* call = timeout ? "semtimedop" : "semop";
  double deadline = timeout ? monotonic_seconds() + *timeout : 0;
  for (;;) {
    // A signal that came before the wait began must end it too.
    int sig = interrupts != nullptr ? interrupts->caught() : 0;
    if (sig != 0) {
      return Error{call, EINTR,
                   "interrupted by " + signal_name(sig) +
                       " while waiting; nothing was applied",
                   "", static_cast<ExitStatus>(kExitSignalBase + sig)};
    }
    int rc;
    if (timeout) {
      double left = deadline - monotonic_seconds();
      struct timespec ts = to_timespec(left > 0 ? left : 0);
      rc = semtimedop(id, buf, ops.size(), &ts);
    } else {
      rc = semop(id, buf, ops.size());
    }
    if (rc == 0) return Ok{};
    int err = errno;
    switch (err) {
      case EINTR:
        continue;  // the check above says whether it was one of ours
      case EAGAIN:
        // A nowait SPEC can give EAGAIN long before the deadline.
        if (timeout && monotonic_seconds() >= deadline)
          return would_block_error(
              call, err,
              "timed out after " + seconds_text(*timeout) +
                  " s; nothing was applied",
              "'sysv-sem stat " + std::to_string(id) +
                  "' shows the values and who waits");
        return would_block_error(
            call, err,
            std::string(ops.size() == 1 ? "the operation" : "the operations") +
                " would block; nothing was applied",
            "'sysv-sem stat " + std::to_string(id) +
                "' shows the values; drop nowait to wait");
      case EIDRM:
        return sys_error(call, err,
                         sem_text(id) + " was removed while waiting",
                         "nothing was applied");
      case EINVAL: {
        Error e = sys_error(call, err, sem_text(id),
                            "'sysv-sem list' shows the sets");
        e.message = sem_text(id) + " does not exist (" + e.code() + ")";
        return e;
      }
      case EFBIG:
        return sys_error(call, err, sem_text(id),
                         "a semaphore number is beyond the set's size");
      case E2BIG:
        return sys_error(call, err,
                         std::to_string(ops.size()) + " operations",
                         "more than the kernel's semopm allows in one call; "
                         "'sysv-sem info' shows it");
      case ERANGE:
        return sys_error(call, err, sem_text(id),
                         "the operations would take a semaphore above SEMVMX "
                         "or its undo record beyond SEMAEM; nothing was "
                         "applied");
      case EACCES:
        return sys_error(call, err, sem_text(id),
                         "the set's mode does not let this caller alter it");
      default:
        return sys_error(call, err, sem_text(id));
    }
  }
}

}  // namespace ipctk
