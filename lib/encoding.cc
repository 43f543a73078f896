#include "encoding.h"

#include <array>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace ipctk {

namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kHexDigits[] = "0123456789abcdef";

constexpr std::array<int8_t, 256> make_base64_table() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr auto kBase64Table = make_base64_table();

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Error invalid_utf8(size_t at) {
  return Error{"encode", EILSEQ,
               "the data is not valid UTF-8 (first bad byte at offset " +
                   std::to_string(at) + " of the region)",
               "use --encoding base64 or hex, or --raw", kExitFailed};
}

Error bad_data(const char* flag, std::string message) {
  return usage_error(std::string(flag) + ": " + message);
}

}  // namespace

Result<Encoding> parse_encoding(std::string_view name) {
  if (name == "base64") return Encoding::kBase64;
  if (name == "hex") return Encoding::kHex;
  if (name == "utf8" || name == "utf-8") return Encoding::kUtf8;
  return usage_error("--encoding: '" + std::string(name) +
                     "' is not an encoding", "use base64, hex or utf8");
}

const char* encoding_name(Encoding encoding) {
  switch (encoding) {
    case Encoding::kBase64: return "base64";
    case Encoding::kHex: return "hex";
    case Encoding::kUtf8: return "utf8";
  }
  return "base64";
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.resize((bytes.size() + 2) / 3 * 4);
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  char* o = out.data();
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    *o++ = kBase64Alphabet[(v >> 18) & 63];
    *o++ = kBase64Alphabet[(v >> 12) & 63];
    *o++ = kBase64Alphabet[(v >> 6) & 63];
    *o++ = kBase64Alphabet[v & 63];
  }
  if (i < n) {
    uint32_t v = uint32_t{in[i]} << 16;
    if (i + 1 < n) v |= uint32_t{in[i + 1]} << 8;
    *o++ = kBase64Alphabet[(v >> 18) & 63];
    *o++ = kBase64Alphabet[(v >> 12) & 63];
    *o++ = i + 1 < n ? kBase64Alphabet[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t symbols = 0;
  size_t padding = 0;
  for (char c : text) {
    if (is_space(c)) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding != 0)
      return bad_data("--base64", "data after '=' padding");
    int v = kBase64Table[static_cast<unsigned char>(c)];
    if (v < 0)
      return bad_data("--base64", std::string("'") + c +
                                      "' is not in the base64 alphabet");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    ++symbols;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  size_t rest = symbols % 4;
  if (rest == 1) return bad_data("--base64", "truncated (a lone final symbol)");
  if (padding != 0 && (padding > 2 || (symbols + padding) % 4 != 0))
    return bad_data("--base64", "wrong '=' padding");
  // The bits left over must be zero, or the text is not canonical base64.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    return bad_data("--base64", "non-zero bits after the last byte");
  return out;
}

std::string hex_encode(std::string_view bytes) {
  std::string out;
  out.resize(bytes.size() * 2);
  char* o = out.data();
  for (unsigned char c : bytes) {
    *o++ = kHexDigits[c >> 4];
    *o++ = kHexDigits[c & 15];
  }
  return out;
}

Result<std::string> hex_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 2);
  int high = -1;
  for (char c : text) {
    if (is_space(c)) {
      if (high >= 0) return bad_data("--hex", "white space inside a byte");
      continue;
    }
    int v = hex_value(c);
    if (v < 0)
      return bad_data("--hex", std::string("'") + c + "' is not a hex digit");
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<char>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0) return bad_data("--hex", "odd number of hex digits");
  return out;
}

size_t utf8_invalid_at(std::string_view bytes) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    uint32_t min;
    if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
    else return i;
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len;
  }
  return std::string_view::npos;
}

Status check_encodable(std::string_view bytes, Encoding encoding) {
  if (encoding != Encoding::kUtf8) return Ok{};
  size_t at = utf8_invalid_at(bytes);
  if (at != std::string_view::npos) return invalid_utf8(at);
  return Ok{};
}

Status encode_json_chunks(std::string_view bytes, Encoding encoding,
                          size_t chunk,
                          const std::function<Status(std::string_view)>& sink) {
  if (encoding == Encoding::kBase64) chunk = chunk / 3 * 3;  // no padding inside
  if (chunk == 0) chunk = 3;
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t n = std::min(chunk, bytes.size() - pos);
    if (encoding == Encoding::kUtf8) {
      // Never split a character: end the piece where one starts, backing
      // off, or going on when the piece is smaller than one character.
      auto continues = [&](size_t at) {
        return at < bytes.size() &&
               (static_cast<unsigned char>(bytes[at]) & 0xc0) == 0x80;
      };
      size_t back = n;
      while (back > 0 && continues(pos + back)) --back;
      if (back > 0) {
        n = back;
      } else {
        while (continues(pos + n)) ++n;
      }
    }
    std::string_view piece = bytes.substr(pos, n);
    std::string text;
    switch (encoding) {
      case Encoding::kBase64: text = base64_encode(piece); break;
      case Encoding::kHex: text = hex_encode(piece); break;
      case Encoding::kUtf8: {
        // nlohmann's escaping, without the quotes around it.
        text = nlohmann::json(std::string(piece)).dump();
        text = text.substr(1, text.size() - 2);
        break;
      }
    }
    auto sent = sink(text);
    if (!sent) return sent;
    pos += n;
  }
  return Ok{};
}

Result<std::string> encode(std::string_view bytes, Encoding encoding) {
  switch (encoding) {
    case Encoding::kBase64: return base64_encode(bytes);
    case Encoding::kHex: return hex_encode(bytes);
    case Encoding::kUtf8: {
      size_t at = utf8_invalid_at(bytes);
      if (at != std::string_view::npos) return invalid_utf8(at);
      return std::string(bytes);
    }
  }
  return base64_encode(bytes);
}

}  // namespace ipctk
