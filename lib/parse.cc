#include "parse.h"

#include <sys/ipc.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace ipctk {

namespace {

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

Error bad(std::string_view what, std::string_view text, std::string_view is,
          std::string hint = {}) {
  return usage_error(std::string(what) + ": " + quoted(text) + " " +
                         std::string(is),
                     std::move(hint));
}

/// Parses all of `text` as an unsigned number in `base`; false on anything
/// else (sign, space, junk, overflow).
bool whole_unsigned(std::string_view text, int base, uint64_t* out,
                    bool* overflow) {
  *overflow = false;
  if (text.empty()) return false;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, *out, base);
  if (ec == std::errc::result_out_of_range) {
    *overflow = true;
    return false;
  }
  return ec == std::errc() && ptr == last;
}

struct Suffix {
  std::string_view text;
  uint64_t multiplier;
};

/// Binary multipliers for K/KiB, decimal for KB, as util-linux's strtosize.
constexpr Suffix kSuffixes[] = {
    {"", 1},
    {"K", 1ULL << 10}, {"KiB", 1ULL << 10}, {"KB", 1000ULL},
    {"M", 1ULL << 20}, {"MiB", 1ULL << 20}, {"MB", 1000ULL * 1000},
    {"G", 1ULL << 30}, {"GiB", 1ULL << 30}, {"GB", 1000ULL * 1000 * 1000},
    {"T", 1ULL << 40}, {"TiB", 1ULL << 40}, {"TB", 1000ULL * 1000 * 1000 * 1000},
    {"P", 1ULL << 50}, {"PiB", 1ULL << 50},
    {"PB", 1000ULL * 1000 * 1000 * 1000 * 1000},
    {"E", 1ULL << 60}, {"EiB", 1ULL << 60},
    {"EB", 1000ULL * 1000 * 1000 * 1000 * 1000 * 1000},
};

bool suffix_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    // The unit letter may be lower case ("4k"); the "iB" part is exact.
    if (i == 0 && x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (x != b[i]) return false;
  }
  return true;
}

}  // namespace

Result<uint64_t> parse_size(std::string_view text, std::string_view what) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  if (digits == 0 && !text.empty() && text[0] == '-')
    return bad(what, text, "is negative");
  if (digits == 0)
    return bad(what, text, "is not a size",
               "use a byte count with an optional suffix: 4096, 4K, 4KiB, "
               "1M, 2G (K = 1024, KB = 1000)");
  uint64_t number = 0;
  bool overflow = false;
  if (!whole_unsigned(text.substr(0, digits), 10, &number, &overflow))
    return bad(what, text, "is too large");
  std::string_view suffix = text.substr(digits);
  for (const Suffix& s : kSuffixes) {
    if (!suffix_equal(suffix, s.text)) continue;
    if (number != 0 && s.multiplier > UINT64_MAX / number)
      return bad(what, text, "is too large");
    return number * s.multiplier;
  }
  return bad(what, text, "has an unknown suffix",
             "suffixes: K M G T P E, with iB (1024) or B (1000)");
}

Result<uint64_t> parse_uint(std::string_view text, std::string_view what,
                            uint64_t max) {
  uint64_t value = 0;
  bool overflow = false;
  if (!whole_unsigned(text, 10, &value, &overflow)) {
    if (overflow) return bad(what, text, "is too large");
    if (!text.empty() && text[0] == '-')
      return bad(what, text, "is negative");
    return bad(what, text, "is not a decimal number");
  }
  if (value > max)
    return bad(what, text, "is too large (at most " + std::to_string(max) + ")");
  return value;
}

Result<int> parse_id(std::string_view text, std::string_view what) {
  auto value = parse_uint(text, what, INT_MAX);
  if (!value) return value.error();
  return static_cast<int>(*value);
}

Result<key_t> parse_key(std::string_view text, std::string_view what) {
  static constexpr const char* kHint =
      "a key is decimal, 0x hex (32 bits), or 'private'";
  if (text == "private" || text == "IPC_PRIVATE") return key_t{IPC_PRIVATE};
  uint64_t value = 0;
  bool overflow = false;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    if (!whole_unsigned(text.substr(2), 16, &value, &overflow) ||
        value > UINT32_MAX)
      return bad(what, text, "is not a 32-bit hex key", kHint);
    return static_cast<key_t>(static_cast<uint32_t>(value));
  }
  if (!text.empty() && text[0] == '-') {
    // /proc/sysvipc and key_t are signed: accept what they print.
    if (!whole_unsigned(text.substr(1), 10, &value, &overflow) ||
        value > static_cast<uint64_t>(INT32_MAX) + 1)
      return bad(what, text, "is not a key", kHint);
    return static_cast<key_t>(-static_cast<int64_t>(value));
  }
  if (!whole_unsigned(text, 10, &value, &overflow) || value > UINT32_MAX)
    return bad(what, text, "is not a key", kHint);
  return static_cast<key_t>(static_cast<uint32_t>(value));
}

Result<key_t> ftok_key(const std::string& path, std::string_view proj_id) {
  auto id = parse_uint(proj_id, "--proj-id", 255);
  if (!id) return id.error();
  if (*id == 0)
    return usage_error("--proj-id: 0 is not allowed",
                       "ftok(3) uses the low 8 bits and they must not be 0");
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return sys_error("ftok", errno, "--key-path " + path,
                     "ftok derives the key from an existing file's inode");
  key_t key = ftok(path.c_str(), static_cast<int>(*id));
  if (key == -1) return sys_error("ftok", errno, path);
  return key;
}

Result<unsigned> parse_mode(std::string_view text, std::string_view what) {
  std::string_view digits = text;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'o' || digits[1] == 'O'))
    digits = digits.substr(2);
  uint64_t value = 0;
  bool overflow = false;
  if (!whole_unsigned(digits, 8, &value, &overflow))
    return bad(what, text, "is not an octal mode", "e.g. 0600 or 644");
  if (value > 0777)
    return bad(what, text, "has bits beyond 0777",
               "System V IPC permissions are the nine rwx bits");
  return static_cast<unsigned>(value);
}

Result<double> parse_seconds(std::string_view text, std::string_view what) {
  // strtod accepts "inf", "nan", hex floats and leading space: refuse those
  // first so that only plain decimals get through.
  bool digit_seen = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      digit_seen = true;
    } else if (c != '.') {
      if (c == '-') return bad(what, text, "is negative");
      return bad(what, text, "is not a number of seconds", "e.g. 5 or 0.25");
    }
  }
  if (!digit_seen)
    return bad(what, text, "is not a number of seconds", "e.g. 5 or 0.25");
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || errno == ERANGE ||
      !std::isfinite(value))
    return bad(what, text, "is not a number of seconds", "e.g. 5 or 0.25");
  if (value > 1e9) return bad(what, text, "is too large");
  return value;
}

namespace {

constexpr uint64_t kMaxSemNum = 65535;    // sem_num is an unsigned short
constexpr uint64_t kMaxSemValue = 65535;  // SETALL takes unsigned shorts
constexpr int kMaxDelta = 32767;          // SEMVMX: no value lies beyond

constexpr const char* kSpecHint =
    "a SPEC is NUM:DELTA[:undo][:nowait], e.g. 0:-1 (take one from "
    "semaphore 0), 1:+2:undo, 0:0 (wait until semaphore 0 is zero)";

}  // namespace

Result<SemOpSpec> parse_sem_op(std::string_view text) {
  auto refuse = [&](std::string is) {
    return bad("SPEC", text, std::move(is), kSpecHint);
  };
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t colon = text.find(':', start);
    parts.push_back(text.substr(start, colon == std::string_view::npos
                                           ? std::string_view::npos
                                           : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() < 2) return refuse("has no ':DELTA'");
  if (parts.size() > 4) return refuse("has too many fields");
  SemOpSpec spec;
  uint64_t num = 0;
  bool overflow = false;
  if (!whole_unsigned(parts[0], 10, &num, &overflow))
    return refuse(!parts[0].empty() && parts[0][0] == '-'
                      ? "has a negative semaphore number"
                      : "has no semaphore number before ':'");
  if (num > kMaxSemNum)
    return refuse("has a semaphore number above " + std::to_string(kMaxSemNum));
  spec.num = static_cast<unsigned>(num);
  std::string_view delta = parts[1];
  bool negative = !delta.empty() && delta[0] == '-';
  if (!delta.empty() && (delta[0] == '-' || delta[0] == '+'))
    delta.remove_prefix(1);
  uint64_t magnitude = 0;
  if (!whole_unsigned(delta, 10, &magnitude, &overflow)) {
    if (overflow)
      return refuse("has a DELTA outside -" + std::to_string(kMaxDelta) +
                    "..+" + std::to_string(kMaxDelta));
    return refuse("has no DELTA number after ':'");
  }
  if (magnitude > static_cast<uint64_t>(kMaxDelta))
    return refuse("has a DELTA outside -" + std::to_string(kMaxDelta) + "..+" +
                  std::to_string(kMaxDelta));
  spec.delta = negative ? -static_cast<int>(magnitude)
                        : static_cast<int>(magnitude);
  for (size_t i = 2; i < parts.size(); ++i) {
    bool* flag = parts[i] == "undo"     ? &spec.undo
                 : parts[i] == "nowait" ? &spec.nowait
                                        : nullptr;
    if (flag == nullptr)
      return refuse("has an unknown flag '" + std::string(parts[i]) +
                    "' (undo and nowait are known)");
    if (*flag) return refuse("names '" + std::string(parts[i]) + "' twice");
    *flag = true;
  }
  return spec;
}

Result<std::vector<unsigned>> parse_value_list(std::string_view text,
                                               std::string_view what) {
  std::vector<unsigned> values;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos
                                               : comma - start);
    auto v = parse_uint(item, what, kMaxSemValue);
    if (!v) {
      Error e = v.error();
      if (item.empty())
        e = bad(what, text, "has an empty value",
                "give values separated by commas, e.g. 1,0,5");
      return e;
    }
    values.push_back(static_cast<unsigned>(*v));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return values;
}

Result<SemAssignment> parse_assignment(std::string_view text,
                                       std::string_view what) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos)
    return bad(what, text, "is not NUM=VALUE", "e.g. 0=5");
  auto num = parse_uint(text.substr(0, eq), std::string(what) + " NUM",
                        kMaxSemNum);
  if (!num) return num.error();
  auto value = parse_uint(text.substr(eq + 1), std::string(what) + " VALUE",
                          kMaxSemValue);
  if (!value) return value.error();
  return SemAssignment{static_cast<unsigned>(*num),
                       static_cast<unsigned>(*value)};
}

std::string key_hex(key_t key) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<uint32_t>(key));
  return buf;
}

std::string mode_octal(unsigned mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

std::string hex_u64(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace ipctk
