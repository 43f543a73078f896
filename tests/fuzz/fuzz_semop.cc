// What sysv-sem takes for semaphores: op SPECs (NUM:DELTA[:undo][:nowait]),
// value lists (--init, set --all), NUM=VALUE (set --value), and a list of
// SPECs checked against a set's size. The first byte picks (see kParsers).

#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "parse.h"
#include "sem_set.h"

using namespace ipctk;
using namespace ipctk::fuzz;

namespace {

// o: one SPEC, v: a value list, a: NUM=VALUE, c: "N SPEC SPEC...", the
// SPECs separated by spaces, checked against a set of N (a byte)
// semaphores.
constexpr std::string_view kParsers = "ovac";

std::string spec_text(const SemOpSpec& s) {
  std::string text = std::to_string(s.num) + ":" + std::to_string(s.delta);
  if (s.undo) text += ":undo";
  if (s.nowait) text += ":nowait";
  return text;
}

void one_spec(std::string_view text) {
  auto s = parse_sem_op(text);
  if (!s) return check_usage_error(s.error(), "SPEC: ");
  check(s->num <= 65535, "a semaphore number is an unsigned short");
  check(s->delta >= -32767 && s->delta <= 32767, "a delta is within SEMVMX");
  auto again = parse_sem_op(spec_text(*s));
  check(again && again->num == s->num && again->delta == s->delta &&
            again->undo == s->undo && again->nowait == s->nowait,
        "a SPEC reads back");
}

void value_list(std::string_view text) {
  auto v = parse_value_list(text, "--init");
  if (!v) return check_usage_error(v.error(), "--init: ");
  size_t commas = 0;
  for (char c : text) commas += c == ',';
  check(v->size() == commas + 1, "one value per comma-separated item");
  std::string joined;
  for (unsigned x : *v) {
    check(x <= 65535, "a value is at most 65535");
    if (!joined.empty()) joined += ',';
    joined += std::to_string(x);
  }
  auto again = parse_value_list(joined, "--init");
  check(again && *again == *v, "a value list reads back");
}

void assignment(std::string_view text) {
  auto a = parse_assignment(text, "--value");
  if (!a) return check_usage_error(a.error(), "--value");
  check(a->num <= 65535 && a->value <= 65535, "NUM and VALUE are 0..65535");
  auto again = parse_assignment(
      std::to_string(a->num) + "=" + std::to_string(a->value), "--value");
  check(again && again->num == a->num && again->value == a->value,
        "NUM=VALUE reads back");
}

void checked_specs(std::string_view text) {
  SemInfo info;
  info.id = 7;
  if (!text.empty()) {
    info.nsems = static_cast<unsigned char>(text[0]);
    text.remove_prefix(1);
  }
  std::vector<SemOpSpec> ops;
  size_t start = 0;
  while (start < text.size()) {
    size_t space = text.find(' ', start);
    if (space == std::string_view::npos) space = text.size();
    if (space > start) {
      auto s = parse_sem_op(text.substr(start, space - start));
      if (!s) return check_usage_error(s.error(), "SPEC: ");
      ops.push_back(*s);
    }
    start = space + 1;
  }
  auto ok = sem_check_ops(ops, info);
  if (!ok) return check_error(ok.error());
  check(!ops.empty(), "no operation is refused");
  for (const SemOpSpec& op : ops)
    check(op.num < info.nsems, "an accepted SPEC names a semaphore of the set");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text = as_text(data + 1, size - 1);
  switch (pick(data[0], kParsers)) {
    case 0: one_spec(text); break;
    case 1: value_list(text); break;
    case 2: assignment(text); break;
    case 3: checked_specs(text); break;
  }
  return 0;
}
