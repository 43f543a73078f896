// The parsers of single command-line values: --size, plain numbers with
// their bounds, ids, keys, --mode, seconds (--timeout, --hold), --uid and
// --gid with --mode (set), --proj-id, and --path of shmctl-lock. The first
// byte picks the parser (see kParsers), the rest is the text.

#include <limits.h>
#include <sys/ipc.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "clock.h"
#include "fuzz_check.h"
#include "ipc_perm.h"
#include "lock_segment.h"
#include "parse.h"

using namespace ipctk;
using namespace ipctk::fuzz;

namespace {

// s: size, u: uint (next byte picks the bound), i: id, k: key, m: mode,
// t: seconds, p: "MODE\nUID\nGID" for set, f: --proj-id (ftok of "/"),
// P: --path.
constexpr std::string_view kParsers = "suikmtpfP";

void size(std::string_view text) {
  auto v = parse_size(text, "--size");
  if (!v) return check_usage_error(v.error(), "--size: ");
  check(!text.empty() && text[0] >= '0' && text[0] <= '9',
        "a size starts with a digit");
  auto again = parse_size(std::to_string(*v), "--size");
  check(again && *again == *v, "a size reads back as its byte count");
  if (text.find_first_not_of("0123456789") == std::string_view::npos)
    check(*v == std::stoull(std::string(text)), "a plain size is the number");
}

void uint_with_bound(std::string_view text) {
  static constexpr uint64_t kBounds[] = {0, 1, 255, 32767, 65535, INT_MAX,
                                         UINT32_MAX - 1, UINT32_MAX,
                                         UINT64_MAX};
  uint64_t max = 0;
  if (!text.empty()) {
    max = kBounds[static_cast<unsigned char>(text[0]) % std::size(kBounds)];
    text.remove_prefix(1);
  }
  auto v = parse_uint(text, "--n", max);
  if (!v) return check_usage_error(v.error(), "--n: ");
  check(*v <= max, "a number is within its bound");
  auto again = parse_uint(std::to_string(*v), "--n", max);
  check(again && *again == *v, "a number reads back");
}

void id(std::string_view text) {
  auto v = parse_id(text);
  if (!v) return check_usage_error(v.error(), "ID: ");
  check(*v >= 0, "an id is not negative");
}

void key(std::string_view text) {
  auto k = parse_key(text);
  if (!k) return check_usage_error(k.error(), "--key: ");
  auto hex = parse_key(key_hex(*k));
  check(hex && *hex == *k, "a key reads back from its hex form");
  auto dec = parse_key(std::to_string(*k));
  check(dec && *dec == *k, "a key reads back from its decimal form");
  check(key_hex(*k).size() == 10, "a key's hex form is 0x and 8 digits");
}

void mode(std::string_view text) {
  auto m = parse_mode(text);
  if (!m) return check_usage_error(m.error(), "--mode: ");
  check(*m <= 0777, "a mode is at most 0777");
  auto again = parse_mode(mode_octal(*m));
  check(again && *again == *m, "a mode reads back from its octal form");
}

void seconds(std::string_view text) {
  auto s = parse_seconds(text, "--timeout");
  if (!s) return check_usage_error(s.error(), "--timeout: ");
  check(std::isfinite(*s) && *s >= 0 && *s <= 1e9,
        "seconds are finite, 0..1e9");
  struct timespec ts = to_timespec(*s);
  check(ts.tv_sec >= 0 && ts.tv_sec <= 1000000000 && ts.tv_nsec >= 0 &&
            ts.tv_nsec < 1000000000,
        "seconds make a valid timespec");
}

void perm_change(std::string_view text) {
  std::string parts[3];
  for (int i = 0; i < 3; ++i) {
    size_t nl = text.find('\n');
    parts[i] = std::string(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  auto c = parse_perm_change(parts[0], parts[1], parts[2]);
  if (!c) return check_usage_error(c.error());
  check(c->mode || c->uid || c->gid, "a change changes something");
  check(c->mode.has_value() == !parts[0].empty() &&
            c->uid.has_value() == !parts[1].empty() &&
            c->gid.has_value() == !parts[2].empty(),
        "a change has the fields given");
  check(!c->mode || *c->mode <= 0777, "a mode is at most 0777");
  // (uid_t)-1 and (gid_t)-1 mean "unchanged" to the kernel.
  check(!c->uid || *c->uid != static_cast<uid_t>(-1), "uid -1 is refused");
  check(!c->gid || *c->gid != static_cast<gid_t>(-1), "gid -1 is refused");
}

void proj_id(std::string_view text) {
  // "/" always exists: only the project id is fuzzed (no other file is
  // looked at).
  auto k = ftok_key("/", text);
  if (!k) return check_error(k.error());
  auto n = parse_uint(text, "--proj-id", 255);
  check(n && *n >= 1, "a project id is 1..255");
  check(*k == ftok("/", static_cast<int>(*n)), "the key is ftok's");
}

void segment_path(std::string_view text) {
  auto p = parse_segment_path(text);
  if (!p) return check_usage_error(p.error(), "--path: ");
  check(p->name == text, "a path is kept as given");
  check(!text.empty() && text != "/" && text.back() != '/',
        "a path names something that is not a directory");
  check(text.find('\0') == std::string_view::npos, "a path has no NUL");
  bool shm = text[0] == '/' && text.find('/', 1) == std::string_view::npos;
  check(p->placement == (shm ? Placement::kShm : Placement::kFile),
        "/name is shm, anything else a file");
  check(!shm || text.size() <= NAME_MAX + 1, "a shm name fits NAME_MAX");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size_) {
  if (size_ == 0) return 0;
  std::string_view text = as_text(data + 1, size_ - 1);
  switch (pick(data[0], kParsers)) {
    case 0: size(text); break;
    case 1: uint_with_bound(text); break;
    case 2: id(text); break;
    case 3: key(text); break;
    case 4: mode(text); break;
    case 5: seconds(text); break;
    case 6: perm_change(text); break;
    case 7: proj_id(text); break;
    case 8: segment_path(text); break;
  }
  return 0;
}
