#include "parse.h"

#include <sys/ipc.h>

#include <catch2/catch.hpp>

using namespace ipctk;

TEST_CASE("parse_size accepts plain numbers and suffixes", "[parse]") {
  CHECK(*parse_size("0", "--size") == 0);
  CHECK(*parse_size("4096", "--size") == 4096);
  CHECK(*parse_size("4K", "--size") == 4096);
  CHECK(*parse_size("4k", "--size") == 4096);
  CHECK(*parse_size("4KiB", "--size") == 4096);
  CHECK(*parse_size("4KB", "--size") == 4000);
  CHECK(*parse_size("1M", "--size") == 1048576);
  CHECK(*parse_size("1MiB", "--size") == 1048576);
  CHECK(*parse_size("2G", "--size") == 2147483648ULL);
  CHECK(*parse_size("1T", "--size") == (1ULL << 40));
  CHECK(*parse_size("15E", "--size") == 15ULL << 60);
  CHECK(*parse_size("18446744073709551615", "--size") == UINT64_MAX);
}

TEST_CASE("parse_size rejects garbage, negatives, overflow, junk", "[parse]") {
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "K", "4Q", "4KiBx", "4Ki",
                          "4kib", "0x10", "1.5M", "4K4", "16E",
                          "18446744073709551616", "99999999999999999999999"}) {
    INFO(bad);
    auto r = parse_size(bad, "--size");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().exit_status == kExitUsage);
    CHECK(r.error().err == EINVAL);
    CHECK(r.error().message.find("--size") == 0);
  }
}

TEST_CASE("parse_uint and parse_id", "[parse]") {
  CHECK(*parse_uint("0", "--n", 10) == 0);
  CHECK(*parse_uint("10", "--n", 10) == 10);
  CHECK_FALSE(parse_uint("11", "--n", 10).ok());
  CHECK_FALSE(parse_uint("-1", "--n", 10).ok());
  CHECK(parse_uint("-1", "--n", 10).error().message.find("negative") !=
        std::string::npos);
  CHECK_FALSE(parse_uint("1e3", "--n", 10000).ok());
  CHECK(*parse_id("2147483647") == 2147483647);
  CHECK_FALSE(parse_id("2147483648").ok());
  CHECK_FALSE(parse_id("").ok());
  CHECK_FALSE(parse_id("3x").ok());
}

TEST_CASE("parse_key: decimal, negative, hex, private", "[parse]") {
  CHECK(*parse_key("private") == IPC_PRIVATE);
  CHECK(*parse_key("0") == IPC_PRIVATE);
  CHECK(*parse_key("4660") == 0x1234);
  CHECK(*parse_key("0x1234") == 0x1234);
  CHECK(*parse_key("0XABCDEF01") == static_cast<key_t>(0xabcdef01u));
  CHECK(*parse_key("0xffffffff") == -1);
  CHECK(*parse_key("4294967295") == -1);
  // /proc/sysvipc prints keys as signed decimals.
  CHECK(*parse_key("-39683037") == -39683037);
  CHECK(*parse_key("-2147483648") == INT32_MIN);
  for (const char* bad : {"", "0x", "0xZZ", "0x1ffffffff", "4294967296",
                          "-2147483649", "12a", "--1", "key", " 1"}) {
    INFO(bad);
    auto r = parse_key(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().exit_status == kExitUsage);
  }
}

TEST_CASE("parse_mode: octal up to 0777", "[parse]") {
  CHECK(*parse_mode("0600") == 0600);
  CHECK(*parse_mode("600") == 0600);
  CHECK(*parse_mode("0o644") == 0644);
  CHECK(*parse_mode("0") == 0);
  CHECK(*parse_mode("777") == 0777);
  for (const char* bad : {"", "0999", "8", "01000", "1777", "rw", "-600", "0x1ff"}) {
    INFO(bad);
    CHECK_FALSE(parse_mode(bad).ok());
  }
}

TEST_CASE("parse_seconds: plain decimals only", "[parse]") {
  CHECK(*parse_seconds("5", "--hold") == 5.0);
  CHECK(*parse_seconds("0.25", "--hold") == 0.25);
  CHECK(*parse_seconds("0", "--hold") == 0.0);
  CHECK(*parse_seconds(".5", "--hold") == 0.5);
  for (const char* bad : {"", "-1", "inf", "nan", "1e3", "0x10", "1..2", ".",
                          " 1", "1s", "99999999999"}) {
    INFO(bad);
    CHECK_FALSE(parse_seconds(bad, "--hold").ok());
  }
}

TEST_CASE("ftok_key needs an existing path and a project id 1..255", "[parse]") {
  auto k = ftok_key("/", "1");
  REQUIRE(k.ok());
  CHECK(*k == ftok("/", 1));
  CHECK(ftok_key("/", "255").ok());
  CHECK(ftok_key("/", "0").error().exit_status == kExitUsage);
  CHECK(ftok_key("/", "256").error().exit_status == kExitUsage);
  auto missing = ftok_key("/nonexistent/ipctk/path", "1");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().err == ENOENT);
  CHECK(missing.error().exit_status == kExitFailed);
}

TEST_CASE("formatting of keys and modes", "[parse]") {
  CHECK(key_hex(0x1234) == "0x00001234");
  CHECK(key_hex(-1) == "0xffffffff");
  CHECK(mode_octal(0600) == "0600");
  CHECK(mode_octal(07) == "0007");
  CHECK(hex_u64(0x7f00) == "0x7f00");
}

TEST_CASE("parse_sem_op reads NUM:DELTA and its flags", "[parse][sem]") {
  auto take = parse_sem_op("0:-1");
  REQUIRE(take.ok());
  CHECK(take->num == 0);
  CHECK(take->delta == -1);
  CHECK_FALSE(take->undo);
  CHECK_FALSE(take->nowait);

  auto give = parse_sem_op("3:+2:undo");
  REQUIRE(give.ok());
  CHECK(give->num == 3);
  CHECK(give->delta == 2);
  CHECK(give->undo);
  CHECK_FALSE(give->nowait);

  auto zero = parse_sem_op("1:0:nowait:undo");
  REQUIRE(zero.ok());
  CHECK(zero->delta == 0);
  CHECK(zero->undo);
  CHECK(zero->nowait);

  auto other_order = parse_sem_op("1:5:undo:nowait");
  REQUIRE(other_order.ok());
  CHECK(other_order->undo);
  CHECK(other_order->nowait);

  CHECK(parse_sem_op("65535:32767")->num == 65535);
  CHECK(parse_sem_op("0:32767")->delta == 32767);
  CHECK(parse_sem_op("0:-32767")->delta == -32767);
}

TEST_CASE("parse_sem_op refuses malformed SPECs", "[parse][sem]") {
  for (const char* bad :
       {"", "0", ":", "0:", ":1", "-1:1", "+1:1", "x:1", "0:x", "0:1x", "0:--1",
        "0:+-1", "0:1:", "0:1:undo:", "0:1:Undo", "0:1:wait", "0:1:undo:undo",
        "0:1:nowait:nowait", "0:1:undo:nowait:undo", "65536:1", "0:32768",
        "0:-32768", "0:99999999999999999999", " 0:1", "0:1 ", "0 :1",
        "0:1.5"}) {
    INFO("SPEC '" << bad << "'");
    auto r = parse_sem_op(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().exit_status == kExitUsage);
    CHECK(r.error().message.find("SPEC") == 0);
    CHECK_FALSE(r.error().hint.empty());
  }
}

TEST_CASE("parse_value_list and parse_assignment", "[parse][sem]") {
  CHECK(*parse_value_list("5", "--init") == std::vector<unsigned>{5});
  CHECK(*parse_value_list("1,0,65535", "--init") ==
        std::vector<unsigned>{1, 0, 65535});
  for (const char* bad : {"", ",", "1,", ",1", "1,,2", "-1", "1,-2", "65536",
                          "a", "1;2", " 1", "1.0"}) {
    INFO(bad);
    auto r = parse_value_list(bad, "--init");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().exit_status == kExitUsage);
    CHECK(r.error().message.find("--init") == 0);
  }
  auto as = parse_assignment("2=7", "--value");
  REQUIRE(as.ok());
  CHECK(as->num == 2);
  CHECK(as->value == 7);
  for (const char* bad : {"", "=", "2", "2=", "=7", "-1=2", "2=-1", "2=7=8",
                          "65536=1", "1=65536", "a=1"}) {
    INFO(bad);
    CHECK_FALSE(parse_assignment(bad, "--value").ok());
  }
}
