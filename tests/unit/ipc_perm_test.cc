#include "ipc_perm.h"

#include <unistd.h>

#include <catch2/catch.hpp>

using namespace ipctk;

TEST_CASE("ipc_granted: owner, group or other bits, as ipcperms picks",
          "[ipc_perm]") {
  CHECK(ipc_granted(0640, true, false) == 6);
  CHECK(ipc_granted(0640, true, true) == 6);   // the owner's bits win
  CHECK(ipc_granted(0640, false, true) == 4);
  CHECK(ipc_granted(0640, false, false) == 0);
  CHECK(ipc_granted(0207, false, false) == 7);
  CHECK(ipc_granted(0070, true, true) == 0);   // even if the group may
}

TEST_CASE("ipc_allows: this process's uid and capabilities", "[ipc_perm]") {
  uid_t me = geteuid();
  gid_t mine = getegid();
  CHECK(ipc_allows(me, me, mine, mine, 0600, kIpcRead | kIpcWrite));
  if (me == 0) {
    // CAP_IPC_OWNER: everything, whatever the mode.
    CHECK(ipc_allows(65534, 65534, 65534, 65534, 0, kIpcWrite));
  } else {
    CHECK_FALSE(ipc_allows(me, me, mine, mine, 0400, kIpcWrite));
    CHECK(ipc_allows(me + 1, me + 1, mine, mine, 0060, kIpcWrite));
  }
}
