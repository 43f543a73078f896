#include "sysv_list.h"

#include <sys/ipc.h>

#include <catch2/catch.hpp>

#include "scoped_segment.h"
#include "scoped_set.h"

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

// /proc/sysvipc/sem as Linux 6.x prints it: a negative key, a set that was
// never operated on (otime 0), and one with mode 0666 owned by uid 1000.
const char kProcSem[] =
    "       key      semid perms      nsems   uid   gid  cuid  cgid      otime"
    "      ctime\n"
    " 688824383          0   644          2     0     0     0     0          0"
    " 1795432017\n"
    " -12345678          5   666        250  1000   100  1000   100 1795432100"
    " 1795432017\n";

}  // namespace

TEST_CASE("parse_proc_sem reads the table", "[sysv_list][sem]") {
  auto rows = parse_proc_sem(kProcSem);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  const SemInfo& a = (*rows)[0];
  CHECK(a.id == 0);
  CHECK(a.key == 688824383);
  CHECK(a.mode == 0644);
  CHECK(a.nsems == 2);
  CHECK(a.otime == 0);
  CHECK(a.ctime == 1795432017);
  const SemInfo& b = (*rows)[1];
  CHECK(b.id == 5);
  CHECK(b.key == -12345678);
  CHECK(b.mode == 0666);
  CHECK(b.nsems == 250);
  CHECK(b.uid == 1000);
  CHECK(b.gid == 100);
  CHECK(b.cuid == 1000);
  CHECK(b.cgid == 100);
  CHECK(b.otime == 1795432100);
  CHECK(to_json(b)["key_hex"] == "0xff439eb2");
}

TEST_CASE("parse_proc_sem: header only, extra columns, malformed tables",
          "[sysv_list][sem]") {
  auto empty = parse_proc_sem(
      "       key      semid perms      nsems   uid   gid  cuid  cgid      "
      "otime      ctime\n");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  // A kernel that adds a column still parses: columns are found by name.
  auto wider = parse_proc_sem(
      "key semid perms nsems uid gid cuid cgid otime ctime extra\n"
      "7 3 600 1 0 0 0 0 0 1700000000 99\n");
  REQUIRE(wider.ok());
  REQUIRE(wider->size() == 1);
  CHECK((*wider)[0].id == 3);
  CHECK((*wider)[0].ctime == 1700000000);
  CHECK_FALSE(parse_proc_sem("").ok());
  // The shm table is not the sem table.
  CHECK_FALSE(parse_proc_sem(kProc16).ok());
  std::string short_line = std::string(kProcSem) + " 1 2 3\n";
  CHECK_FALSE(parse_proc_sem(short_line).ok());
  std::string junk = kProcSem;
  junk.replace(junk.find("250"), 3, "2x0");
  CHECK_FALSE(parse_proc_sem(junk).ok());
  std::string bad_perms = kProcSem;
  bad_perms.replace(bad_perms.find("666"), 3, "686");
  CHECK_FALSE(parse_proc_sem(bad_perms).ok());
  auto err = parse_proc_sem(junk).error();
  CHECK(err.message.find("/proc/sysvipc/sem") == 0);
}

TEST_CASE("list_sem_sets agrees with sem_stat for a live set",
          "[sysv_list][sem][ipc]") {
  ScopedSet set({3, 1});
  auto stat = sem_stat(set.id);
  REQUIRE(stat.ok());
  for (auto list : {list_sem_sets, list_sem_sets_by_sem_stat}) {
    auto all = list();
    REQUIRE(all.ok());
    int found = 0;
    for (const SemInfo& s : *all) {
      if (s.id != set.id) continue;
      ++found;
      CHECK(to_json(s) == to_json(*stat));
    }
    CHECK(found == 1);
  }
  auto limits = sem_limits();
  REQUIRE(limits.ok());
  CHECK(limits->sets >= 1);
  CHECK(limits->semaphores >= 2);
  CHECK(limits->semvmx == 32767);
  CHECK(limits->semmsl > 0);
  CHECK(limits->semopm > 0);
}

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

TEST_CASE("shm_limit_hit names the limit a creation ran into",
          "[sysv_list][limits]") {
  ShmLimits l;
  l.shmmax = 65536;
  l.shmmin = 1;
  l.shmmni = 2;
  l.shmall = 4;
  l.segments = 1;
  l.pages_total = 1;
  // EINVAL: above shmmax, and nothing to say within the range (an existing
  // segment that is smaller, say).
  auto big = shm_limit_hit(l, EINVAL, 65537, 4096);
  REQUIRE(big);
  CHECK(big->limit == "shmmax");
  CHECK(big->message.find("65537") != std::string::npos);
  CHECK(big->message.find("65536 bytes") != std::string::npos);
  CHECK(big->hint.find("'sysv-shm info'") != std::string::npos);
  CHECK(big->hint.find("limits.shmmax") != std::string::npos);
  CHECK_FALSE(shm_limit_hit(l, EINVAL, 65536, 4096));
  CHECK_FALSE(shm_limit_hit(l, EINVAL, 4096, 4096));
  CHECK_FALSE(shm_limit_hit(l, EACCES, 1 << 30, 4096));
  // ENOSPC: shmall first (pages rounded up), as the kernel checks it.
  auto all = shm_limit_hit(l, ENOSPC, 3 * 4096 + 1, 4096);
  REQUIRE(all);
  CHECK(all->limit == "shmall");
  CHECK(all->message.find("4 pages") != std::string::npos);
  CHECK(all->message.find("1 in use") != std::string::npos);
  CHECK(all->message.find("needs 4") != std::string::npos);
  CHECK(all->hint.find("limits.shmall") != std::string::npos);
  // Exactly filling shmall is allowed: then it is shmmni.
  l.segments = 2;
  auto mni = shm_limit_hit(l, ENOSPC, 3 * 4096, 4096);
  REQUIRE(mni);
  CHECK(mni->limit == "shmmni");
  CHECK(mni->message ==
        "the kernel's shmmni limit of 2 segments is reached: 2 exist");
  CHECK(mni->hint.find("limits.shmmni") != std::string::npos);
  // Both reached: the kernel stops at shmall.
  CHECK(shm_limit_hit(l, ENOSPC, 4 * 4096, 4096)->limit == "shmall");
  // A page count that wraps around is shmall's too.
  CHECK(shm_limit_hit(l, ENOSPC, UINT64_MAX, 1)->limit == "shmall");
  // Neither shows in the use read afterwards: both are named, with values.
  l.segments = 0;
  auto either = shm_limit_hit(l, ENOSPC, 4096, 4096);
  REQUIRE(either);
  CHECK(either->limit == "shmmni or shmall");
  CHECK(either->message.find("2 segments") != std::string::npos);
  CHECK(either->message.find("4 pages") != std::string::npos);
}

TEST_CASE("sem_limit_hit names the limit a creation ran into",
          "[sysv_list][limits]") {
  SemLimits l;
  l.semmsl = 5;
  l.semmns = 10;
  l.semmni = 3;
  l.sets = 2;
  l.semaphores = 8;
  auto msl = sem_limit_hit(l, EINVAL, 6);
  REQUIRE(msl);
  CHECK(msl->limit == "semmsl");
  CHECK(msl->message ==
        "--nsems 6 is above the kernel's semmsl limit of 5 semaphores per set");
  CHECK(msl->hint.find("'sysv-sem info'") != std::string::npos);
  CHECK_FALSE(sem_limit_hit(l, EINVAL, 5));
  auto mns = sem_limit_hit(l, ENOSPC, 3);
  REQUIRE(mns);
  CHECK(mns->limit == "semmns");
  CHECK(mns->message.find("10 semaphores") != std::string::npos);
  CHECK(mns->message.find("8 in use") != std::string::npos);
  CHECK(mns->hint.find("limits.semmns") != std::string::npos);
  CHECK(sem_limit_hit(l, ENOSPC, 2)->limit != "semmns");  // 8 + 2 fits
  l.sets = 3;
  auto mni = sem_limit_hit(l, ENOSPC, 2);
  REQUIRE(mni);
  CHECK(mni->limit == "semmni");
  CHECK(mni->message == "the kernel's semmni limit of 3 sets is reached: 3 exist");
  CHECK(mni->hint.find("limits.semmni") != std::string::npos);
  l.sets = 1;
  CHECK(sem_limit_hit(l, ENOSPC, 1)->limit == "semmni or semmns");
  CHECK_FALSE(sem_limit_hit(l, EEXIST, 1));
}
