#include "json_out.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "io.h"

namespace ipctk {

namespace {
bool stdout_closed = false;
}  // namespace

void guard_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    // open() returns the lowest free descriptor: this one.
    int got = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (got >= 0 && got != fd) close(got);
    if (fd == 1) stdout_closed = true;
  }
}

Status check_cout() {
  std::cout.flush();
  if (stdout_closed) return sys_error("write", EBADF, "stdout");
  if (!std::cout) return sys_error("write", errno != 0 ? errno : EIO, "stdout");
  return Ok{};
}

bool want_pretty(bool pretty_flag) { return pretty_flag || isatty(1) == 1; }

Status print_document(const Json& doc, bool pretty) {
  // Invalid UTF-8 can only come from data, which is encoded before it gets
  // here; replace rather than throw so that a bug cannot crash the tool.
  std::string text = doc.dump(pretty ? 2 : -1, ' ', false,
                              Json::error_handler_t::replace);
  text.push_back('\n');
  if (stdout_closed) return sys_error("write", EBADF, "stdout");
  return write_all(1, text.data(), text.size(), "stdout");
}

Status print_document_streaming(
    const Json& doc, bool pretty,
    const std::function<Status(const std::function<Status(std::string_view)>&)>&
        fill) {
  if (stdout_closed) return sys_error("write", EBADF, "stdout");
  std::string text = doc.dump(pretty ? 2 : -1, ' ', false,
                              Json::error_handler_t::replace);
  // The last field is "": split between its quotes and stream in between.
  size_t quotes = text.rfind("\"\"");
  if (quotes == std::string::npos)
    return Error{"internal", EINVAL, "no empty string field to stream", "",
                 kExitFailed};
  auto head = write_all(1, text.data(), quotes + 1, "stdout");
  if (!head) return head;
  auto body = fill([](std::string_view piece) {
    return write_all(1, piece.data(), piece.size(), "stdout");
  });
  if (!body) return body;
  std::string tail = text.substr(quotes + 1);
  tail.push_back('\n');
  return write_all(1, tail.data(), tail.size(), "stdout");
}

Json error_json(const Error& error) {
  Json body;
  body["op"] = error.op;
  body["errno"] = error.err;
  body["code"] = error.code();
  body["message"] = error.message;
  if (!error.hint.empty()) body["hint"] = error.hint;
  Json doc;
  doc["error"] = std::move(body);
  return doc;
}

void print_error(const Error& error) {
  std::string text = error_json(error).dump(-1, ' ', false,
                                            Json::error_handler_t::replace);
  text.push_back('\n');
  (void)write_all(2, text.data(), text.size(), "stderr");
}

}  // namespace ipctk
