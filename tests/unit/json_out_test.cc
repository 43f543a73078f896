#include "json_out.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "io.h"

using namespace ipctk;

TEST_CASE("the error object has the contract's fields", "[json_out]") {
  Json doc = error_json(sys_error("shmget", ENOENT, "key 0x1", "try list"));
  REQUIRE(doc.contains("error"));
  const Json& e = doc["error"];
  CHECK(e["op"] == "shmget");
  CHECK(e["errno"] == ENOENT);
  CHECK(e["code"] == "ENOENT");
  CHECK(e["message"] == "key 0x1: No such file or directory");
  CHECK(e["hint"] == "try list");
  // No hint, no field: nothing is printed as a placeholder.
  CHECK_FALSE(error_json(usage_error("bad"))["error"].contains("hint"));
  CHECK(error_json(usage_error("bad"))["error"]["op"] == "usage");
}

TEST_CASE("errno names", "[error]") {
  CHECK(sys_error("x", EAGAIN).code() == "EAGAIN");
  CHECK(sys_error("x", EILSEQ).code() == "EILSEQ");
  CHECK(sys_error("x", 4000).code() == "E4000");
  CHECK(usage_error("x").exit_status == kExitUsage);
  CHECK(would_block_error("semop", EAGAIN, "busy").exit_status == kExitWouldBlock);
}

TEST_CASE("write_all and read_full move whole buffers", "[io]") {
  int p[2];
  REQUIRE(pipe(p) == 0);
  std::string data(3000, 'x');
  REQUIRE(write_all(p[1], data.data(), data.size(), "pipe").ok());
  close(p[1]);
  std::string got(4000, '\0');
  auto n = read_full(p[0], got.data(), got.size(), "pipe");
  REQUIRE(n.ok());
  CHECK(*n == 3000);  // end of file before the buffer was full
  CHECK(got.substr(0, 3000) == data);
  close(p[0]);
  auto bad = write_all(p[1], "x", 1, "closed");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == "EBADF");
}

TEST_CASE("read_whole_file reads past its first chunk", "[io]") {
  char path[] = "/tmp/ipctk-io-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  std::string data(200000, 'q');
  data += "end";
  REQUIRE(write_all(fd, data.data(), data.size(), "tmp").ok());
  close(fd);
  auto got = read_whole_file(path);
  unlink(path);
  REQUIRE(got.ok());
  CHECK(*got == data);
  CHECK(read_whole_file("/nonexistent/ipctk").error().code() == "ENOENT");
  CHECK(read_whole_file("/proc/sysvipc/shm")->rfind("key", 200) != std::string::npos);
}
