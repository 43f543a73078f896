// Kernel text: /proc/sysvipc/shm and /proc/sysvipc/sem (what list, and
// stat of an object the caller cannot read, parse), /proc/PID/stat (the
// owner checks of shmctl-lock) and /proc/meminfo (the huge page size). Another kernel, or a file system
// mounted over /proc, may hand over anything. The first byte picks (see
// kParsers).

#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "process.h"
#include "sem_set.h"
#include "shm_segment.h"
#include "sysv_list.h"

using namespace ipctk;
using namespace ipctk::fuzz;

namespace {

// m: /proc/sysvipc/shm, s: /proc/sysvipc/sem, p: /proc/PID/stat,
// h: /proc/meminfo.
constexpr std::string_view kParsers = "msph";

/// The lines after the first that hold a field: each must be a row.
size_t data_lines(std::string_view text) {
  size_t eol = text.find('\n');
  size_t lines = 0;
  while (eol != std::string_view::npos) {
    size_t start = eol + 1;
    eol = text.find('\n', start);
    std::string_view line = text.substr(
        start, eol == std::string_view::npos ? eol : eol - start);
    if (line.find_first_not_of(" \t") != std::string_view::npos) ++lines;
  }
  return lines;
}

template <typename Info>
void check_table(std::string_view text,
                 const Result<std::vector<Info>>& rows) {
  if (!rows) {
    check_error(rows.error());
    check(rows.error().message.rfind("/proc/sysvipc/", 0) == 0,
          "a /proc error names the file");
    return;
  }
  check(rows->size() == data_lines(text), "every line is one row");
  // Every field goes out in the JSON contract, whatever its value.
  for (const Info& info : *rows) (void)to_json(info).dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text = as_text(data + 1, size - 1);
  switch (pick(data[0], kParsers)) {
    case 0: check_table(text, parse_proc_shm(text)); break;
    case 1: check_table(text, parse_proc_sem(text)); break;
    case 2: {
      auto start = parse_stat_start_time(text);
      // Field 22 comes after the last ')'.
      check(!start || text.rfind(')') != std::string_view::npos,
            "a start time comes after the command name");
      break;
    }
    case 3: {
      auto huge = parse_huge_page_size(text);
      check(!huge || (*huge != 0 && *huge % 1024 == 0),
            "a huge page size is a non-zero number of KiB");
      break;
    }
  }
  return 0;
}
