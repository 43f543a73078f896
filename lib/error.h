#ifndef IPCTK_ERROR_H_
#define IPCTK_ERROR_H_

#include <string>
#include <utility>
#include <variant>

#include "exit_status.h"

namespace ipctk {

/// What went wrong, in the shape the JSON error object needs: the operation
/// (a syscall name or a parse step), the errno, a sentence for people and an
/// optional hint saying what to do about it. The library returns these; only
/// a tool decides to print and exit.
struct Error {
  std::string op;
  int err = 0;
  std::string message;
  std::string hint;
  /// Which exit status this error ends a tool with.
  ExitStatus exit_status = kExitFailed;

  /// The symbolic errno name ("EAGAIN"), or "E<n>" for numbers glibc does
  /// not name.
  std::string code() const;
};

/// An error from a failed syscall: errno is read here, the message is the
/// libc text prefixed with `what` when given.
Error sys_error(std::string op, int err, std::string what = {},
                std::string hint = {});

/// A malformed invocation: EINVAL, exit status 2.
Error usage_error(std::string message, std::string hint = {});

/// A would-block or timeout result: exit status 3.
Error would_block_error(std::string op, int err, std::string message,
                        std::string hint = {});

/// The result of an operation that can fail: a value or an Error. Kept tiny
/// because std::expected is C++23.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  Error& error() { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result<void>: success carries nothing.
struct Ok {};
using Status = Result<Ok>;

}  // namespace ipctk

#endif  // IPCTK_ERROR_H_
