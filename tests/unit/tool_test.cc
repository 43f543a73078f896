#include "tool.h"

#include <sys/ipc.h>

#include <catch2/catch.hpp>

using namespace ipctk;

TEST_CASE("target_key: an id, a key, or ftok", "[tool]") {
  TargetArgs none;
  auto missing = target_key(none);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().exit_status == kExitUsage);

  TargetArgs by_id;
  by_id.id = "5";
  REQUIRE(target_key(by_id).ok());
  CHECK_FALSE(target_key(by_id)->has_value());

  TargetArgs by_key;
  by_key.key = "0x10";
  CHECK(**target_key(by_key) == 0x10);
  by_key.key = "private";
  CHECK(target_key(by_key).error().exit_status == kExitUsage);
  by_key.key = "0xZZ";
  CHECK(target_key(by_key).error().exit_status == kExitUsage);

  TargetArgs by_path;
  by_path.key_path = "/";
  by_path.proj_id = "7";
  CHECK(**target_key(by_path) == ftok("/", 7));
  by_path.key_path = "/nonexistent/ipctk";
  CHECK(target_key(by_path).error().code() == "ENOENT");
}

TEST_CASE("creation_key: private unless told otherwise", "[tool]") {
  CHECK(*creation_key("", "", "") == IPC_PRIVATE);
  CHECK(*creation_key("0x1234", "", "") == 0x1234);
  CHECK(*creation_key("", "/", "1") == ftok("/", 1));
  CHECK_FALSE(creation_key("nope", "", "").ok());
}
