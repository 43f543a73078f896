#include "json_out.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "io.h"

namespace ipctk {

namespace {
/// A document's write found no reader (EPIPE).
bool stdout_broken = false;

/// Writes to stdout with SIGPIPE blocked, and takes back the SIGPIPE that
/// a write to a pipe without a reader raised, so that the caller sees
/// EPIPE and decides what happens next.
Status write_holding_sigpipe(std::string_view text) {
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  bool held = pthread_sigmask(SIG_BLOCK, &pipe_only, &old) == 0;
  bool was_blocked = held && sigismember(&old, SIGPIPE) == 1;
  auto written = write_all(1, text.data(), text.size(), "stdout");
  if (!written && written.error().err == EPIPE) {
    stdout_broken = true;
    if (held && !was_blocked) {
      struct timespec now = {0, 0};
      while (sigtimedwait(&pipe_only, nullptr, &now) == SIGPIPE) {
      }
    }
  }
  if (held) pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return written;
}
}  // namespace

void guard_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    // open() returns the lowest free descriptor: this one. Stdout gets a
    // read-only one, so that writing to it fails as on the closed fd.
    int got = open("/dev/null", fd == 2 ? O_WRONLY : O_RDONLY);
    if (got >= 0 && got != fd) close(got);
  }
}

void end_if_stdout_broken() {
  if (!stdout_broken) return;
  struct sigaction current;
  if (sigaction(SIGPIPE, nullptr, &current) != 0 ||
      current.sa_handler != SIG_DFL)
    return;
  // A SIGPIPE blocked by whoever started this tool would not have ended it
  // at the write either.
  sigset_t mask;
  if (pthread_sigmask(SIG_BLOCK, nullptr, &mask) != 0 ||
      sigismember(&mask, SIGPIPE) == 1)
    return;
  raise(SIGPIPE);
}

bool want_pretty(bool pretty_flag) { return pretty_flag || isatty(1) == 1; }

Status print_document(const Json& doc, bool pretty) {
  // Invalid UTF-8 can only come from data, which is encoded before it gets
  // here; replace rather than throw so that a bug cannot crash the tool.
  std::string text = doc.dump(pretty ? 2 : -1, ' ', false,
                              Json::error_handler_t::replace);
  text.push_back('\n');
  return write_holding_sigpipe(text);
}

Status print_json_text(std::string text) {
  text.push_back('\n');
  return write_holding_sigpipe(text);
}

Status print_output(std::string_view text) { return write_holding_sigpipe(text); }

Status print_document_streaming(
    const Json& doc, bool pretty,
    const std::function<Status(const std::function<Status(std::string_view)>&)>&
        fill) {
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
