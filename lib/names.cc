#include "names.h"


#include "io.h"
#include "process.h"

namespace ipctk {

namespace {

/// The file's names, read once per process (a table asks for the same few
/// ids again and again).
const std::unordered_map<uint32_t, std::string>& names_of(const char* file) {
  static std::unordered_map<std::string, std::unordered_map<uint32_t, std::string>> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    auto text = read_whole_file(file);
    it = cache.emplace(file, text ? parse_id_names(*text)
                                  : std::unordered_map<uint32_t, std::string>())
             .first;
  }
  return it->second;
}

std::string name_or_number(const char* file, uint32_t id) {
  const auto& names = names_of(file);
  auto it = names.find(id);
  return it != names.end() ? it->second : std::to_string(id);
}

}  // namespace

std::unordered_map<uint32_t, std::string> parse_id_names(std::string_view text) {
  std::unordered_map<uint32_t, std::string> names;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    size_t c1 = line.find(':');
    if (c1 == 0 || c1 == std::string_view::npos) continue;
    size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    size_t c3 = line.find(':', c2 + 1);
    std::string_view id = line.substr(c2 + 1, c3 == std::string_view::npos
                                                  ? std::string_view::npos
                                                  : c3 - c2 - 1);
    if (id.empty() || id.size() > 10) continue;
    uint64_t value = 0;
    bool digits = true;
    for (char ch : id) {
      digits = digits && ch >= '0' && ch <= '9';
      value = value * 10 + static_cast<uint64_t>(ch - '0');
    }
    if (!digits || value > UINT32_MAX) continue;
    names.emplace(static_cast<uint32_t>(value), std::string(line.substr(0, c1)));
  }
  return names;
}

std::string user_name(uint32_t uid) { return name_or_number("/etc/passwd", uid); }

std::string group_name(uint32_t gid) { return name_or_number("/etc/group", gid); }

std::string acting_process_name(pid_t pid, std::optional<int64_t> acted_at) {
  if (pid <= 0) return {};
  if (acted_at) {
    auto started = process_started_at(pid);
    if (!started || *started > *acted_at) return {};
  }
  return process_name(pid);
}

std::string process_label(pid_t pid, std::optional<int64_t> acted_at) {
  if (pid <= 0) return "-";
  std::string name = acting_process_name(pid, acted_at);
  if (name.empty()) return std::to_string(pid);
  return name + " (" + std::to_string(pid) + ")";
}

}  // namespace ipctk
