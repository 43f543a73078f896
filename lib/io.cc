#include "io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace ipctk {

namespace {
/// Linux transfers at most this much per read/write call anyway.
constexpr size_t kMaxChunk = 0x7ffff000;
}  // namespace

Status write_all(int fd, const void* data, size_t size, const char* what) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, std::min(size, kMaxChunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("write", errno, what);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Ok{};
}

Result<size_t> read_full(int fd, void* data, size_t size, const char* what) {
  char* p = static_cast<char*>(data);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, p + done, std::min(size - done, kMaxChunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read", errno, what);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Result<std::string> read_whole_file(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_error("open", errno, path);
  std::string text;
  constexpr size_t kChunk = 65536;
  for (;;) {
    size_t have = text.size();
    text.resize(have + kChunk);
    auto n = read_full(fd, text.data() + have, kChunk, path);
    if (!n) {
      close(fd);
      return n.error();
    }
    text.resize(have + *n);
    if (*n < kChunk) break;  // end of file
  }
  close(fd);
  return text;
}

}  // namespace ipctk
