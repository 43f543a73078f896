#ifndef IPCTK_SEM_SET_H_
#define IPCTK_SEM_SET_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "ipc_perm.h"
#include "json_out.h"
#include "parse.h"

/// System V semaphore sets: get (with race-free initialization), atomic
/// multi-operation semop with timeout and undo, values, stat, set, remove.
namespace ipctk {

class InterruptCatcher;

/// One set as IPC_STAT or /proc/sysvipc/sem describes it.
struct SemInfo {
  int id = -1;
  key_t key = 0;
  uid_t uid = 0, gid = 0, cuid = 0, cgid = 0;
  unsigned mode = 0;
  unsigned nsems = 0;
  int64_t otime = 0, ctime = 0;
};

/// The contract's set object (same fields for stat, list, set and get).
Json to_json(const SemInfo& info);

/// One semaphore: GETVAL, GETNCNT, GETZCNT, GETPID.
struct SemState {
  unsigned value = 0;
  unsigned ncnt = 0;  // processes waiting for the value to grow
  unsigned zcnt = 0;  // processes waiting for it to be zero
  pid_t pid = 0;      // the last process that operated on it
};
/// [{"num":0,"value":..,"ncnt":..,"zcnt":..,"pid":..}, ...]
Json to_json(const std::vector<SemState>& states);

/// An operation as op prints it: num, delta, undo, nowait.
Json to_json(const SemOpSpec& op);

struct SemGetRequest {
  key_t key = 0;        // IPC_PRIVATE: always a new set
  unsigned nsems = 0;   // 0 opens a set of any size; creating needs >= 1
  unsigned mode = 0600;
  bool create = false;  // create the set if the key has none
  bool excl = false;    // and fail if it has one
  /// The values a new set starts with (one per semaphore); empty: zeros.
  std::vector<unsigned> init;
  /// When an existing set is opened: wait until its creator has
  /// initialized it (sem_otime set), at most this long.
  std::optional<double> wait_ready;
};

struct SemGot {
  int id = -1;
  bool created = false;
};

/// semget. A new set is created with IPC_EXCL (so `created` is a fact),
/// given its values with SETALL, and then marked ready by a semop that
/// changes nothing but sets sem_otime: an opener that waits for sem_otime
/// never sees a set its creator has not initialized yet (Stevens' method,
/// UNP vol. 2, 11.2). A set whose initialization fails is removed again.
Result<SemGot> sem_get(const SemGetRequest& request);

/// The id of the set with `key` (not IPC_PRIVATE).
Result<int> sem_find(key_t key);

Result<SemInfo> sem_stat(int id);

/// GETALL: every value, read at one instant.
Result<std::vector<unsigned>> sem_values(int id, unsigned nsems);

/// The values (one GETALL) and each semaphore's waiters and last pid.
Result<std::vector<SemState>> sem_states(int id, unsigned nsems);

/// SETVAL of one semaphore, SETALL of all; both clear the semaphores' undo
/// records in every process (the kernel's rule).
Status sem_set_value(int id, unsigned num, unsigned value);
Status sem_set_all(int id, const std::vector<unsigned>& values);

/// IPC_SET of the given fields; the others keep the values `current`
/// has (from sem_stat, or sem_describe for a set the caller cannot read).
Status sem_set_perm(const SemInfo& current, const PermChange& request);

Status sem_remove(int id);

/// Whether the caller may IPC_RMID or IPC_SET the set (see ipc_perm.h).
Status sem_check_owner(const SemInfo& info);

/// Applies every operation in one semop (semtimedop with `timeout`):
/// all of them or none. A would-block (IPC_NOWAIT) or timeout is EAGAIN
/// with exit status 3; a signal recorded by `interrupts` while waiting is
/// EINTR with exit status 128 + the signal; removal of the set while
/// waiting is EIDRM.
Status sem_apply(int id, const std::vector<SemOpSpec>& ops,
                 std::optional<double> timeout,
                 const InterruptCatcher* interrupts);

/// Checks the operations against the set's size before anything is tried,
/// so that the error names the SPEC instead of the kernel's EFBIG.
Status sem_check_ops(const std::vector<SemOpSpec>& ops, const SemInfo& info);

/// "set 5".
std::string sem_text(int id);

}  // namespace ipctk

#endif  // IPCTK_SEM_SET_H_
