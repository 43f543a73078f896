#ifndef IPCTK_IO_H_
#define IPCTK_IO_H_

#include <cstddef>
#include <string>

#include "error.h"

/// Whole-buffer reads and writes on file descriptors, retrying on EINTR and
/// short transfers. These move data straight between an fd and memory that
/// may be a shared-memory attachment: no staging buffer.
namespace ipctk {

Status write_all(int fd, const void* data, size_t size, const char* what);

/// Reads until `size` bytes arrived or end of file; returns the count read.
Result<size_t> read_full(int fd, void* data, size_t size, const char* what);

/// The whole content of a file such as /proc/sysvipc/shm, whose size
/// stat(2) does not tell.
Result<std::string> read_whole_file(const char* path);

}  // namespace ipctk

#endif  // IPCTK_IO_H_
