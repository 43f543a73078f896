#ifndef IPCTK_TABLE_H_
#define IPCTK_TABLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

/// Text tables for a person at a terminal (--table): aligned columns under
/// headings, as ipcs(1) and lsipc(1) print them. The JSON document stays
/// the contract; a table is drawn from the same values.
namespace ipctk {

/// How a table is drawn: --no-headings and --bytes.
struct TableOptions {
  bool headings = true;
  /// Sizes as exact byte counts rather than 4K, 1.5M.
  bool bytes = false;
};

class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string heading;
    Align align = Align::kLeft;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  /// A row of cells, one per column. An empty cell is drawn as "-", so
  /// that every column of every line has a word in it.
  void add_row(std::vector<std::string> cells);

  /// The lines, each ending in '\n': columns two spaces apart, each as wide
  /// as its widest cell (or heading), numbers aligned right, no trailing
  /// blanks. Headings first unless `headings` is false.
  std::string render(bool headings) const;

  size_t rows() const { return rows_.size(); }

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

/// The characters of UTF-8 `text` (code points: a wide CJK character
/// counts as one, which a terminal draws as two).
size_t text_width(std::string_view text);

/// `text` padded with blanks to `width` characters, on the right
/// (kLeft) or on the left (kRight); longer text is left as it is.
std::string pad(std::string_view text, size_t width, Table::Align align);

/// A cell's text made safe for a terminal: C0 and C1 control characters
/// (a command name may hold an escape sequence) become '?', bytes that are
/// not UTF-8 U+FFFD, and an empty text "-". Table::add_row applies it to
/// every cell.
std::string cell(std::string_view text);

/// Sizes as lsipc(1) shows them: "512B", "4K", "1.5M", "2G" (powers of
/// 1024, one decimal at most, rounded to nearest). With `bytes`, the exact
/// count.
std::string human_size(uint64_t bytes, bool exact = false);

/// A Unix time in local time, "2026-12-06 08:36:27"; 0 (never) as "-".
std::string local_time(int64_t seconds);

}  // namespace ipctk

#endif  // IPCTK_TABLE_H_
