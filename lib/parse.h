#ifndef IPCTK_PARSE_H_
#define IPCTK_PARSE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"

/// Parsers for everything a user types: pure functions over text (except
/// ftok, which asks the file system), each rejecting negatives, overflow,
/// garbage and trailing junk with a message that names the flag.
namespace ipctk {

/// A byte count: "4096", "4K" or "4KiB" (1024), "4KB" (1000), up to E.
/// `what` names the flag in the message ("--size").
Result<uint64_t> parse_size(std::string_view text, std::string_view what);

/// A plain decimal unsigned number no larger than `max`.
Result<uint64_t> parse_uint(std::string_view text, std::string_view what,
                            uint64_t max);

/// A System V IPC id: decimal, 0..INT_MAX.
Result<int> parse_id(std::string_view text, std::string_view what = "ID");

/// A key: decimal (negative allowed, as /proc/sysvipc prints it), 0x hex up
/// to 32 bits, or "private" (IPC_PRIVATE, which is also what 0 means).
Result<key_t> parse_key(std::string_view text, std::string_view what = "--key");

/// The key ftok(3) derives from an existing path and a project id 1..255.
Result<key_t> ftok_key(const std::string& path, std::string_view proj_id);

/// Permission bits in octal ("0600", "600"), at most 0777.
Result<unsigned> parse_mode(std::string_view text,
                            std::string_view what = "--mode");

/// A duration in seconds, decimal fractions allowed ("0.3", "5"); finite and
/// not negative.
Result<double> parse_seconds(std::string_view text, std::string_view what);

/// One semop(2) operation as a user writes it: `NUM:DELTA[:undo][:nowait]`
/// (the flags in either order, each at most once; DELTA 0 waits for zero).
struct SemOpSpec {
  unsigned num = 0;   // 0..65535; checked against the set's nsems later
  int delta = 0;      // -32767..32767 (SEMVMX), what a short sem_op holds
  bool undo = false;
  bool nowait = false;
};
Result<SemOpSpec> parse_sem_op(std::string_view text);

/// A comma-separated list of semaphore values ("5" or "1,0,3"), each at
/// most 65535 (the kernel's SEMVMX, usually 32767, is checked by the
/// caller, who knows it).
Result<std::vector<unsigned>> parse_value_list(std::string_view text,
                                               std::string_view what);

/// `NUM=VALUE`, as `sysv-sem set --value` takes it.
struct SemAssignment {
  unsigned num = 0;
  unsigned value = 0;
};
Result<SemAssignment> parse_assignment(std::string_view text,
                                       std::string_view what);

/// Formatting shared by every tool's JSON: "0x0000abcd" and "0600".
std::string key_hex(key_t key);
std::string mode_octal(unsigned mode);
std::string hex_u64(uint64_t value);

}  // namespace ipctk

#endif  // IPCTK_PARSE_H_
