#include "sysv_list.h"

#include <sys/ipc.h>

#include <catch2/catch.hpp>

#include "scoped_segment.h"

using namespace ipctk;

namespace {

// As Linux 6.x prints it (16 columns, with rss and swap).
const char kProc16[] =
    "       key      shmid perms                  size  cpid  lpid nattch   uid"
    "   gid  cuid  cgid      atime      dtime      ctime                   rss"
    "                  swap\n"
    " -39683037          0   644                  5000  2356     0      0     0"
    "     0     0     0          0          0 1795425545                     0"
    "                     0\n"
    "      4660          7  3600                  8192  100   200      2  1000"
    "  1000     0     0 1795425600 1795425601 1795425545                  8192"
    "                     0\n";

// As kernels before 4.x printed it (14 columns, no rss/swap).
const char kProc14[] =
    "       key      shmid perms       size  cpid  lpid nattch   uid   gid  cuid"
    "  cgid      atime      dtime      ctime\n"
    "         0      32768  1600    1048576  4242  4243      1     0     0     0"
    "     0 1300000000          0 1300000000\n";

}  // namespace

TEST_CASE("parse_proc_shm reads a 16-column table", "[sysv_list]") {
  auto rows = parse_proc_shm(kProc16);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  const ShmInfo& a = (*rows)[0];
  CHECK(a.id == 0);
  CHECK(a.key == -39683037);
  CHECK(a.mode == 0644);
  CHECK(a.size == 5000);
  CHECK(a.cpid == 2356);
  CHECK(a.ctime == 1795425545);
  const ShmInfo& b = (*rows)[1];
  CHECK(b.id == 7);
  CHECK(b.key == 0x1234);
  CHECK(b.mode == 03600);  // SHM_DEST | SHM_LOCKED | 0600
  CHECK(b.dest());
  CHECK(b.locked());
  CHECK(b.nattch == 2);
  CHECK(b.uid == 1000);
  CHECK(b.gid == 1000);
  CHECK(b.atime == 1795425600);
  CHECK(b.dtime == 1795425601);
  CHECK(b.lpid == 200);
}

TEST_CASE("parse_proc_shm reads a 14-column table", "[sysv_list]") {
  auto rows = parse_proc_shm(kProc14);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].id == 32768);
  CHECK((*rows)[0].size == 1048576);
  CHECK((*rows)[0].dest());
  CHECK_FALSE((*rows)[0].locked());
  CHECK((*rows)[0].cpid == 4242);
}

TEST_CASE("parse_proc_shm: header only, and malformed tables", "[sysv_list]") {
  auto empty = parse_proc_shm(
      "       key      shmid perms size  cpid  lpid nattch   uid   gid  cuid"
      "  cgid      atime      dtime      ctime\n");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  CHECK_FALSE(parse_proc_shm("").ok());
  CHECK_FALSE(parse_proc_shm("key shmid perms\n1 2 3\n").ok());
  std::string short_line = std::string(kProc14) + "  1 2 3\n";
  CHECK_FALSE(parse_proc_shm(short_line).ok());
  std::string junk = kProc14;
  junk.replace(junk.find("4242"), 4, "42x2");
  CHECK_FALSE(parse_proc_shm(junk).ok());
  std::string bad_perms = kProc14;
  bad_perms.replace(bad_perms.find("1600"), 4, "1690");
  CHECK_FALSE(parse_proc_shm(bad_perms).ok());
}

TEST_CASE("list_segments agrees with shm_stat for a live segment",
          "[sysv_list][ipc]") {
  ScopedSegment seg(12345);
  auto stat = shm_stat(seg.id);
  REQUIRE(stat.ok());
  // Both ways of listing see the segment exactly as IPC_STAT does.
  for (auto list : {list_segments, list_segments_by_shm_stat}) {
    auto all = list();
    REQUIRE(all.ok());
    int found = 0;
    for (const ShmInfo& s : *all) {
      if (s.id != seg.id) continue;
      ++found;
      CHECK(to_json(s) == to_json(*stat));
    }
    CHECK(found == 1);
  }
  auto limits = shm_limits();
  REQUIRE(limits.ok());
  CHECK(limits->segments >= 1);
  CHECK(limits->shmmni > 0);
}
