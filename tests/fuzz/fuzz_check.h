#ifndef IPCTK_FUZZ_CHECK_H_
#define IPCTK_FUZZ_CHECK_H_

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "error.h"
#include "exit_status.h"

/// What every fuzz target shares: the input as text, and checks of the
/// properties a parser promises, which end the run (and make libFuzzer
/// keep the input as a crash) when they do not hold.
namespace ipctk::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Aborts with `what` when `ok` is false: libFuzzer reports the abort as
/// a crash and writes the input out.
inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "ipctk fuzz: property violated: %s\n", what);
  std::abort();
}

/// An error as the JSON contract needs it: an operation, an errno, a
/// sentence, and a failing exit status.
inline void check_error(const Error& e) {
  check(!e.op.empty(), "an error names its operation");
  check(e.err != 0, "an error carries an errno");
  check(!e.message.empty(), "an error has a message");
  check(e.exit_status != kExitOk, "an error has a failing exit status");
}

/// A usage error (a bad argument): EINVAL, exit status 2, and a message
/// that starts with the flag's name when `what` is given.
inline void check_usage_error(const Error& e, std::string_view what = {}) {
  check_error(e);
  check(e.err == EINVAL, "a usage error is EINVAL");
  check(e.exit_status == kExitUsage, "a usage error exits with 2");
  check(e.message.compare(0, what.size(), what) == 0,
        "a usage error's message starts with the flag it is about");
}

/// The first byte picks what a multi-parser target feeds the rest to: one
/// of `letters` (readable seeds), else its value modulo their number.
inline size_t pick(uint8_t first, std::string_view letters) {
  size_t at = letters.find(static_cast<char>(first));
  return at != std::string_view::npos ? at : first % letters.size();
}

}  // namespace ipctk::fuzz

#endif  // IPCTK_FUZZ_CHECK_H_
