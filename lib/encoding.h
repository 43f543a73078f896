#ifndef IPCTK_ENCODING_H_
#define IPCTK_ENCODING_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "error.h"

/// Byte encodings that carry binary data through JSON and argv: base64
/// (RFC 4648, standard alphabet), hex, and UTF-8 checked to be valid.
namespace ipctk {

enum class Encoding { kBase64, kHex, kUtf8 };

/// Parses "base64" / "hex" / "utf8".
Result<Encoding> parse_encoding(std::string_view name);
const char* encoding_name(Encoding encoding);

std::string base64_encode(std::string_view bytes);
/// Strict: only the standard alphabet, padding optional but correct when
/// present; ASCII white space (line wrapping) is skipped.
Result<std::string> base64_decode(std::string_view text);

std::string hex_encode(std::string_view bytes);
/// Pairs of hex digits, either case; white space between pairs is skipped.
Result<std::string> hex_decode(std::string_view text);

/// The offset of the first byte that is not part of valid UTF-8 (overlong
/// forms, surrogates and code points past U+10FFFF are invalid), or npos.
size_t utf8_invalid_at(std::string_view bytes);

/// Encodes `bytes` in `encoding`; utf8 fails on invalid input instead of
/// substituting characters.
Result<std::string> encode(std::string_view bytes, Encoding encoding);

/// Whether `bytes` can be encoded at all (utf8: valid UTF-8): checked
/// before any output so that a failure leaves stdout empty.
Status check_encodable(std::string_view bytes, Encoding encoding);

/// Encodes `bytes` piece by piece, as the text of a JSON string (escaped
/// for utf8; base64 and hex need no escaping), handing each piece of about
/// `chunk` input bytes to `sink`. Memory stays at one piece whatever the
/// size. Call check_encodable first: a piece is not validated again.
Status encode_json_chunks(std::string_view bytes, Encoding encoding,
                          size_t chunk,
                          const std::function<Status(std::string_view)>& sink);

}  // namespace ipctk

#endif  // IPCTK_ENCODING_H_
