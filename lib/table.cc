#include "table.h"

#include <time.h>

#include <algorithm>
#include <cmath>

#include "encoding.h"

namespace ipctk {

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (std::string& c : cells) c = cell(c);
  rows_.push_back(std::move(cells));
}

size_t text_width(std::string_view text) {
  size_t n = 0;
  for (char ch : text) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

std::string pad(std::string_view text, size_t width, Table::Align align) {
  std::string out;
  size_t used = text_width(text);
  size_t fill = width > used ? width - used : 0;
  if (align == Table::Align::kRight) out.append(fill, ' ');
  out.append(text);
  if (align == Table::Align::kLeft) out.append(fill, ' ');
  return out;
}

std::string Table::render(bool headings) const {
  std::vector<size_t> width(columns_.size(), 0);
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (headings) width[c] = text_width(columns_[c].heading);
    for (const auto& row : rows_) width[c] = std::max(width[c], text_width(row[c]));
  }
  std::string out;
  auto line = [&](auto cell_at) {
    std::string l;
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (c > 0) l += "  ";
      l += pad(cell_at(c), width[c], columns_[c].align);
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l;
    out += '\n';
  };
  if (headings) line([&](size_t c) -> const std::string& { return columns_[c].heading; });
  for (const auto& row : rows_)
    line([&](size_t c) -> const std::string& { return row[c]; });
  return out;
}

std::string cell(std::string_view text) {
  if (text.empty()) return "-";
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t bad = utf8_invalid_at(text);
    // The valid part: C0 controls and DEL, and C1 controls (U+0080 to
    // U+009F, "\xc2\x80" to "\xc2\x9f": 0x9b is CSI to some terminals)
    // become '?'.
    std::string_view good = text.substr(0, bad);
    for (size_t i = 0; i < good.size(); ++i) {
      unsigned char ch = static_cast<unsigned char>(good[i]);
      if (ch < 0x20 || ch == 0x7f) {
        out += '?';
      } else if (ch == 0xc2 && i + 1 < good.size() &&
                 static_cast<unsigned char>(good[i + 1]) < 0xa0) {
        out += '?';
        ++i;
      } else {
        out += good[i];
      }
    }
    if (bad >= text.size()) break;
    // A byte that is not UTF-8 (a command name cut in the middle of a
    // character): U+FFFD, as the JSON writer shows it.
    out += "\xef\xbf\xbd";
    text.remove_prefix(bad + 1);
  }
  return out;
}

std::string human_size(uint64_t bytes, bool exact) {
  if (exact) return std::to_string(bytes);
  if (bytes < 1024) return std::to_string(bytes) + "B";
  static constexpr char kUnits[] = "KMGTPE";
  // In tenths of the unit, rounded; a value that rounds to 1024.0 of one
  // unit is shown as 1 of the next (1048575 bytes is 1M, not 1024.0K).
  int unit = 0;
  long double value = static_cast<long double>(bytes) / 1024;
  while (unit < 5 && std::llround(value * 10) >= 10240) {
    value /= 1024;
    ++unit;
  }
  long long tenths = std::llround(value * 10);
  std::string out = std::to_string(tenths / 10);
  if (tenths % 10 != 0) out += "." + std::to_string(tenths % 10);
  return out + kUnits[unit];
}

std::string local_time(int64_t seconds) {
  if (seconds == 0) return "-";
  time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  if (localtime_r(&t, &tm) == nullptr) return std::to_string(seconds);
  char buf[32];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return n > 0 ? std::string(buf, n) : std::to_string(seconds);
}

}  // namespace ipctk
