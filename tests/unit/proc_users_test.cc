#include "proc_users.h"

#include <sys/syscall.h>

#include <catch2/catch.hpp>
#include <string>

using namespace ipctk;

TEST_CASE("a segment's mapping is found by its id in maps text", "[proc_users]") {
  const std::string maps =
      "55d0c0a00000-55d0c0a22000 r--p 00000000 fd:01 1311 /usr/bin/x\n"
      "7f1c2a000000-7f1c2a003000 rw-s 00000000 00:01 65545                      /SYSV00001234 (deleted)\n"
      "7f1c2b000000-7f1c2b001000 r--s 00000000 00:01 32768                      /SYSV00000000 (deleted)\n"
      "7f1c2c000000-7f1c2c001000 rw-s 00000000 00:05 7                          /dev/zero (deleted)\n"
      "7ffd1a1f0000-7ffd1a211000 rw-p 00000000 00:00 0                          [stack]\n";
  CHECK(maps_segment(maps, 65545));
  CHECK(maps_segment(maps, 32768));
  CHECK_FALSE(maps_segment(maps, 7));     // the inode of another file
  CHECK_FALSE(maps_segment(maps, 1311));
  CHECK_FALSE(maps_segment(maps, 0));     // anonymous memory has inode 0
  CHECK_FALSE(maps_segment(maps, 6554));  // a prefix of an id is not the id
  CHECK_FALSE(maps_segment("", 1));
  CHECK_FALSE(maps_segment("garbage\n\n  \n", 1));
  // The last line without a newline still counts.
  CHECK(maps_segment("7f-80 rw-s 00000000 00:01 9 /SYSV0000abcd (deleted)", 9));
}

TEST_CASE("a blocked thread's system call from /proc/PID/syscall", "[proc_users]") {
  auto s = parse_syscall(
      "65 0x5 0x7ffe5c3a1b40 0x2 0x0 0x0 0x0 0x7ffe5c3a1a98 0x7f0e1c2e5a3d\n");
  REQUIRE(s);
  CHECK(s->nr == 65);
  CHECK(s->args[0] == 5);
  CHECK(s->args[1] == 0x7ffe5c3a1b40u);
  CHECK(s->args[2] == 2);
  CHECK_FALSE(parse_syscall("running\n"));
  CHECK_FALSE(parse_syscall("-1 0x7ffe5c3a1a98 0x7f0e1c2e5a3d\n"));  // not in a call
  CHECK_FALSE(parse_syscall("65 0x5 0x1\n"));                          // too few
  CHECK_FALSE(parse_syscall("65 5 0x1 0x2 0x0 0x0 0x0 0x0 0x0\n"));   // not hex
  CHECK_FALSE(parse_syscall(""));
}
