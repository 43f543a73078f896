#include "table.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "json_out.h"
#include "names.h"
#include "views.h"

using namespace ipctk;

TEST_CASE("sizes as lsipc shows them", "[table]") {
  CHECK(human_size(0) == "0B");
  CHECK(human_size(1023) == "1023B");
  CHECK(human_size(1024) == "1K");
  CHECK(human_size(1536) == "1.5K");
  CHECK(human_size(4096) == "4K");
  CHECK(human_size(1100) == "1.1K");  // 1.074 rounds to 1.1
  CHECK(human_size(1048575) == "1M");  // 1023.999K rounds up a unit
  CHECK(human_size(1048576 + 524288) == "1.5M");
  CHECK(human_size(uint64_t{1} << 30) == "1G");
  CHECK(human_size(18446744073692774399ull) == "16E");
  CHECK(human_size(1536, /*exact=*/true) == "1536");
}

TEST_CASE("columns are aligned, numbers right, no trailing blanks", "[table]") {
  Table t({{"NAME"}, {"N", Table::Align::kRight}, {"NOTE"}});
  t.add_row({"a", "1", "x"});
  t.add_row({"longer", "1234", ""});
  CHECK(t.render(true) ==
        "NAME       N  NOTE\n"
        "a          1  x\n"
        "longer  1234  -\n");
  // Without headings the widths are the cells' own.
  CHECK(t.render(false) ==
        "a          1  x\n"
        "longer  1234  -\n");
  CHECK(Table({{"A"}}).render(true) == "A\n");
  CHECK(Table({{"A"}}).render(false).empty());
}

TEST_CASE("cells are safe to print on a terminal", "[table]") {
  CHECK(cell("") == "-");
  CHECK(cell("bash") == "bash");
  CHECK(cell("evil\x1b]0;x\x07") == "evil?]0;x?");
  CHECK(cell(std::string("a\nb\x7f", 4)) == "a?b?");
  CHECK(pad("ab", 4, Table::Align::kLeft) == "ab  ");
  CHECK(pad("ab", 4, Table::Align::kRight) == "  ab");
  CHECK(pad("abcdef", 4, Table::Align::kRight) == "abcdef");
}

TEST_CASE("cells are UTF-8 a terminal will not act on", "[table]") {
  // C1 controls: U+009B is CSI to some terminals.
  CHECK(cell("a\xc2\x9b" "2J") == "a?2J");
  CHECK(cell("\xc2\xa0nbsp") == "\xc2\xa0nbsp");  // U+00A0 is printable
  // A name cut in the middle of a character, and a stray byte.
  CHECK(cell("abc\xc3") == "abc\xef\xbf\xbd");
  CHECK(cell("\x9b[31m") == "\xef\xbf\xbd[31m");
  CHECK(cell("s\xc3\xa9maphore") == "s\xc3\xa9maphore");
  // Widths are characters, so that accented names keep columns straight.
  CHECK(text_width("s\xc3\xa9maphore") == 9);
  CHECK(pad("\xc3\xa9", 3, Table::Align::kLeft) == "\xc3\xa9  ");
  Table t({{"NAME"}, {"N", Table::Align::kRight}});
  t.add_row({"s\xc3\xa9maphore", "1"});
  t.add_row({"x\x1b", "22"});
  CHECK(t.render(true) ==
        "NAME        N\n"
        "s\xc3\xa9maphore   1\n"
        "x?         22\n");
}

TEST_CASE("local times, and never as -", "[table]") {
  const char* old = getenv("TZ");
  std::string saved = old ? old : "";
  setenv("TZ", "UTC", 1);
  tzset();
  CHECK(local_time(0) == "-");
  CHECK(local_time(1796546187) == "2026-12-06 08:36:27");
  // Local time is the reader's: an hour ahead in Paris in December (where
  // tzdata is installed; without the zone file glibc falls back to UTC).
  setenv("TZ", "Europe/Paris", 1);
  tzset();
  bool tzdata = access("/usr/share/zoneinfo/Europe/Paris", R_OK) == 0;
  CHECK(local_time(1796546187) ==
        (tzdata ? "2026-12-06 09:36:27" : "2026-12-06 08:36:27"));
  if (old) setenv("TZ", saved.c_str(), 1); else unsetenv("TZ");
  tzset();
}

TEST_CASE("passwd and group text to names", "[names]") {
  auto names = parse_id_names(
      "root:x:0:0:root:/root:/bin/bash\n"
      "# a comment:x:5:\n"
      "daemon:x:1:1::/:/usr/sbin/nologin\n"
      "broken line\n"
      ":x:7:7::/:\n"            // no name
      "big:x:4294967296:0::/:\n"  // over 32 bits
      "neg:x:-1:0::/:\n"
      "again:x:0:0::/:\n"       // the first line for an id wins
      "users:x:100:alice,bob\n"  // group(5): the id is the third field too
      "last:x:65534");          // no newline, no fourth field
  CHECK(names.size() == 5);
  CHECK(names.at(0) == "root");
  CHECK(names.at(1) == "daemon");
  CHECK(names.at(100) == "users");
  CHECK(names.at(65534) == "last");
  CHECK(names.count(7) == 0);
  CHECK(names.at(5) == "# a comment");  // what getpwuid(3) would give too
  CHECK(parse_id_names("").empty());
}

TEST_CASE("modes as octal and rwx", "[views]") {
  CHECK(mode_text(0600) == "0600 rw-------");
  CHECK(mode_text(0754) == "0754 rwxr-xr--");
  CHECK(mode_text(01777) == "0777 rwxrwxrwx");  // only the permission bits
}

namespace {

Json segment(int id, uint64_t size) {
  Json s;
  s["id"] = id;
  s["key"] = 0x1234;
  s["key_hex"] = "0x00001234";
  s["mode"] = 0640;
  s["mode_octal"] = "0640";
  s["uid"] = 4000000001u;  // no name: shown by number
  s["gid"] = 4000000002u;
  s["cuid"] = 4000000001u;
  s["cgid"] = 4000000002u;
  s["size"] = size;
  s["nattch"] = 2;
  s["atime"] = 0;
  s["dtime"] = 0;
  s["ctime"] = 0;
  s["cpid"] = 0;
  s["lpid"] = 0;
  s["dest"] = true;
  s["locked"] = false;
  return s;
}

}  // namespace

TEST_CASE("the segment list view shows each segment's values", "[views]") {
  Json doc;
  doc["count"] = 2;
  doc["segments"] = Json::array({segment(5, 4096), segment(65536, 1536)});
  std::string text = shm_list_view(doc, TableOptions{});
  CHECK(text ==
        "KEY            ID  OWNER       GROUP       PERMS  SIZE  NATTCH  STATUS  CPID  LPID  CHANGED  COMMAND\n"
        "0x00001234      5  4000000001  4000000002  0640     4K       2  dest       0     0  -        -\n"
        "0x00001234  65536  4000000001  4000000002  0640   1.5K       2  dest       0     0  -        -\n");
  TableOptions bare{false, true};
  CHECK(shm_list_view(doc, bare) ==
        "0x00001234      5  4000000001  4000000002  0640  4096  2  dest  0  0  -  -\n"
        "0x00001234  65536  4000000001  4000000002  0640  1536  2  dest  0  0  -  -\n");
  // A document of another shape is a bug to report, not a table to guess.
  Json wrong = doc;
  wrong["segments"][0].erase("nattch");
  CHECK_THROWS(shm_list_view(wrong, TableOptions{}));
}

TEST_CASE("a process is named only if it had started by the time", "[names]") {
  std::string me = acting_process_name(getpid(), std::nullopt);
  REQUIRE_FALSE(me.empty());
  CHECK(acting_process_name(getpid(), time(nullptr) + 1) == me);
  // Said to have acted in 1970: the process running with this pid now
  // cannot be the one that did.
  CHECK(acting_process_name(getpid(), 1).empty());
  CHECK(process_label(getpid(), 1) == std::to_string(getpid()));
  CHECK(process_label(getpid(), std::nullopt) ==
        me + " (" + std::to_string(getpid()) + ")");
  CHECK(process_label(0, std::nullopt) == "-");
}

namespace {

Json sem_set_doc() {
  Json s;
  s["id"] = 3;
  s["key"] = 0x5e11;
  s["key_hex"] = "0x00005e11";
  s["mode"] = 0600;
  s["mode_octal"] = "0600";
  s["uid"] = 4000000001u;
  s["gid"] = 4000000002u;
  s["cuid"] = 4000000001u;
  s["cgid"] = 4000000002u;
  s["nsems"] = 2;
  s["otime"] = 0;
  s["ctime"] = 0;
  return s;
}

Json sem_states_doc() {
  Json a = Json::array();
  for (int i = 0; i < 2; ++i) {
    Json s;
    s["num"] = i;
    s["value"] = i == 0 ? 1 : 0;
    s["ncnt"] = i;
    s["zcnt"] = 2 * i;
    s["pid"] = 0;
    a.push_back(s);
  }
  return a;
}

}  // namespace

TEST_CASE("the set views: list with values, and stat", "[views]") {
  Json readable = sem_set_doc();
  readable["semaphores"] = sem_states_doc();
  Json hidden = sem_set_doc();
  hidden["id"] = 4;
  hidden["semaphores"] = nullptr;  // --values of a set the caller may not read
  Json doc;
  doc["count"] = 2;
  doc["sets"] = Json::array({readable, hidden});
  CHECK(sem_list_view(doc, TableOptions{}) ==
        "KEY         ID  OWNER       GROUP       PERMS  NSEMS  LAST-OP  CHANGED  NCNT  ZCNT  VALUES\n"
        "0x00005e11   3  4000000001  4000000002  0600       2  -        -           1     2  1,0\n"
        "0x00005e11   4  4000000001  4000000002  0600       2  -        -           -     -  (not readable)\n");
  Json set = sem_set_doc();
  set["semaphores"] = sem_states_doc();
  std::string text = sem_stat_view(set, TableOptions{});
  CHECK(text.find("\nnsems       2\n") != std::string::npos);
  CHECK(text.substr(text.find("\n\n") + 2) ==
        "NUM  VALUE  NCNT  ZCNT  PID\n"
        "  0      1     0     0  -\n"
        "  1      0     1     2  -\n");
  set["waiting"] = Json::array({Json{{"pid", 7}, {"tid", 8}, {"command", "w"},
                                     {"operations", nullptr}}});
  set["waiting_unreadable"] = 0;
  text = sem_stat_view(set, TableOptions{false, false});
  CHECK(text.substr(text.rfind("\n\n") + 2) == "7  8  w  (not readable)\n");
}

TEST_CASE("the info views: limits against use", "[views]") {
  Json doc;
  doc["limits"] = {{"shmmax", 18446744073692774399ull}, {"shmmin", 1},
                   {"shmmni", 4096}, {"shmseg", 4096},
                   {"shmall", 18446744073692774399ull}};
  doc["usage"] = {{"segments", 1024}, {"pages_total", 3},
                  {"pages_resident", 18446744073692774399ull},
                  {"pages_swapped", 0}};
  doc["page_size"] = 4096;
  std::string text = shm_info_view(doc, TableOptions{});
  INFO(text);
  CHECK(text.find("\nSHMMNI    Shared memory segments                         4096  1024  25.00%\n") !=
        std::string::npos);
  CHECK(text.find("\nSHMMAX    Max size of a segment                           16E     -       -\n") !=
        std::string::npos);
  // Pages whose bytes would not fit in 64 bits are shown as pages only.
  CHECK(text.find("\npages_resident  18446744073692774399 pages\n") != std::string::npos);
  CHECK(text.find("\npages_swapped   0 pages (0B)\n") != std::string::npos);
  Json sem;
  sem["limits"] = {{"semmsl", 32000}, {"semmns", 1024000000}, {"semopm", 500},
                   {"semmni", 32000}, {"semvmx", 32767}, {"semaem", 32767}};
  sem["usage"] = {{"sets", 8000}, {"semaphores", 16000}};
  text = sem_info_view(sem, TableOptions{});
  INFO(text);
  CHECK(text.find("\nSEMMNI    Semaphore sets               32000   8000  25.00%\n") !=
        std::string::npos);
}

TEST_CASE("the stat view has a line per field of the document", "[views]") {
  std::string text = shm_stat_view(segment(5, 8192), TableOptions{});
  CHECK(text.rfind("FIELD       VALUE\n", 0) == 0);
  CHECK(text.find("\nid          5\n") != std::string::npos);
  CHECK(text.find("\nmode_octal  0640 rw-r-----\n") != std::string::npos);
  CHECK(text.find("\nsize        8K\n") != std::string::npos);
  CHECK(text.find("\ndest        yes\n") != std::string::npos);
  CHECK(text.find("\nlocked      no\n") != std::string::npos);
  CHECK(text.find("\ncpid        -\n") != std::string::npos);
}
