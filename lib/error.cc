#include "error.h"

#include <cstring>

namespace ipctk {

std::string Error::code() const {
  if (const char* name = strerrorname_np(err)) return name;
  // Built in two steps: GCC 12's -Wrestrict misfires on "E" + to_string.
  std::string name(1, 'E');
  name += std::to_string(err);
  return name;
}

Error sys_error(std::string op, int err, std::string what, std::string hint) {
  std::string message = strerror(err);
  if (!what.empty()) message = what + ": " + message;
  return Error{std::move(op), err, std::move(message), std::move(hint),
               kExitFailed};
}

Error usage_error(std::string message, std::string hint) {
  return Error{"usage", EINVAL, std::move(message), std::move(hint),
               kExitUsage};
}

Error would_block_error(std::string op, int err, std::string message,
                        std::string hint) {
  return Error{std::move(op), err, std::move(message), std::move(hint),
               kExitWouldBlock};
}

}  // namespace ipctk
