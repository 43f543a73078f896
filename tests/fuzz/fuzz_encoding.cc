// The byte encodings of sysv-shm read and write: base64 and hex decoding
// (--base64, --hex), UTF-8 validation, --encoding names, and the pieces
// of a streamed JSON string. The first byte picks (see kParsers).

#include <cctype>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "encoding.h"
#include "fuzz_check.h"

using namespace ipctk;
using namespace ipctk::fuzz;

namespace {

// b: base64 text, h: hex text, u: bytes checked as UTF-8, e: an
// --encoding name, r: raw bytes through every encoder (the next byte
// picks the piece size of the streamed form).
constexpr std::string_view kParsers = "bhuer";

std::string without(std::string_view text, std::string_view drop) {
  std::string out;
  for (char c : text)
    if (drop.find(c) == std::string_view::npos) out += c;
  return out;
}

constexpr std::string_view kSpace = " \n\r\t";

void base64_text(std::string_view text) {
  auto bytes = base64_decode(text);
  if (!bytes) return check_usage_error(bytes.error(), "--base64: ");
  // Decoding is strict, so the text was the canonical encoding of the
  // bytes, up to white space and optional padding.
  check(without(base64_encode(*bytes), "=") ==
            without(text, std::string(kSpace) + "="),
        "base64 text is the canonical encoding of what it decodes to");
}

void hex_text(std::string_view text) {
  auto bytes = hex_decode(text);
  if (!bytes) return check_usage_error(bytes.error(), "--hex: ");
  std::string lower = without(text, kSpace);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  check(hex_encode(*bytes) == lower, "hex text encodes what it decodes to");
}

void utf8(std::string_view bytes) {
  size_t at = utf8_invalid_at(bytes);
  bool valid = at == std::string_view::npos;
  check(valid || at < bytes.size(), "the first bad byte is in the data");
  if (!valid)
    check(utf8_invalid_at(bytes.substr(0, at)) == std::string_view::npos,
          "what comes before the first bad byte is valid");
  // nlohmann's own (strict) validation must agree: the JSON output would
  // throw on what the check let through.
  bool json_ok = true;
  try {
    (void)nlohmann::json(std::string(bytes)).dump();
  } catch (const nlohmann::json::type_error&) {
    json_ok = false;
  }
  check(valid == json_ok, "UTF-8 validation agrees with nlohmann::json");
  auto checked = check_encodable(bytes, Encoding::kUtf8);
  check(checked.ok() == valid, "check_encodable agrees");
  if (!checked) check_error(checked.error());
  auto encoded = encode(bytes, Encoding::kUtf8);
  check(encoded.ok() == valid, "encode agrees");
  if (encoded) check(*encoded == bytes, "UTF-8 is passed through");
}

void encoding_name_text(std::string_view text) {
  auto e = parse_encoding(text);
  if (!e) return check_usage_error(e.error(), "--encoding: ");
  auto again = parse_encoding(encoding_name(*e));
  check(again && *again == *e, "an encoding's name reads back");
}

/// encode_json_chunks in pieces of about `chunk` bytes gives the same text
/// as the whole encoded at once.
void chunks(std::string_view bytes, Encoding encoding, size_t chunk,
            const std::string& whole) {
  std::string joined;
  size_t pieces = 0;
  auto sent = encode_json_chunks(bytes, encoding, chunk,
                                 [&](std::string_view piece) -> Status {
                                   joined += piece;
                                   ++pieces;
                                   return Ok{};
                                 });
  check(sent.ok(), "streaming to a sink that takes everything succeeds");
  check(joined == whole, "the pieces join into the whole");
  check(bytes.empty() == (pieces == 0), "no empty document, no empty piece");
  // A sink that fails stops the stream with its error.
  if (bytes.empty()) return;
  auto stopped = encode_json_chunks(
      bytes, encoding, chunk, [](std::string_view) -> Status {
        return Error{"write", EPIPE, "stdout is closed", "", kExitFailed};
      });
  check(!stopped && stopped.error().err == EPIPE, "a sink's error stops it");
}

void raw(std::string_view bytes) {
  size_t chunk = 0;
  if (!bytes.empty()) {
    chunk = static_cast<unsigned char>(bytes[0]);
    bytes.remove_prefix(1);
  }
  std::string b64 = base64_encode(bytes);
  check(b64.size() == (bytes.size() + 2) / 3 * 4, "base64 is 4/3 as long");
  auto b64_back = base64_decode(b64);
  check(b64_back && *b64_back == bytes, "base64 round trip");
  std::string hex = hex_encode(bytes);
  check(hex.size() == 2 * bytes.size(), "hex is twice as long");
  auto hex_back = hex_decode(hex);
  check(hex_back && *hex_back == bytes, "hex round trip");
  chunks(bytes, Encoding::kBase64, chunk, b64);
  chunks(bytes, Encoding::kHex, chunk, hex);
  if (utf8_invalid_at(bytes) == std::string_view::npos) {
    std::string json = nlohmann::json(std::string(bytes)).dump();
    chunks(bytes, Encoding::kUtf8, chunk, json.substr(1, json.size() - 2));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text = as_text(data + 1, size - 1);
  switch (pick(data[0], kParsers)) {
    case 0: base64_text(text); break;
    case 1: hex_text(text); break;
    case 2: utf8(text); break;
    case 3: encoding_name_text(text); break;
    case 4: raw(text); break;
  }
  return 0;
}
