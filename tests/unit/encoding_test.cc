#include "encoding.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace ipctk;
using namespace std::string_literals;

TEST_CASE("base64 round-trips every length and byte", "[encoding]") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); ++n) {
    std::string bytes = all.substr(0, n);
    auto decoded = base64_decode(base64_encode(bytes));
    REQUIRE(decoded.ok());
    REQUIRE(*decoded == bytes);
  }
}

TEST_CASE("base64 known vectors (RFC 4648)", "[encoding]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(*base64_decode("Zm9vYg==") == "foob");
  CHECK(*base64_decode("Zm9vYg") == "foob");  // padding optional
  CHECK(*base64_decode("Zm9v\nYmFy\n") == "foobar");  // wrapped lines
}

TEST_CASE("base64 rejects malformed text", "[encoding]") {
  for (const char* bad : {"Zm9v!", "Z", "Zm9vY", "Zg=", "Zg===", "Zg==Zg==",
                          "Zh==", "Zm9=", "-_8="}) {
    INFO(bad);
    auto r = base64_decode(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().exit_status == kExitUsage);
  }
}

TEST_CASE("hex round-trips and rejects bad digits", "[encoding]") {
  CHECK(hex_encode("\x00\xff\x10"s) == "00ff10");
  CHECK(*hex_decode("00FF10") == "\x00\xff\x10"s);
  CHECK(*hex_decode("00 ff\n10") == "\x00\xff\x10"s);
  CHECK(*hex_decode("") == "");
  for (const char* bad : {"0", "0g", "0 0", "zz", "0x00"}) {
    INFO(bad);
    CHECK_FALSE(hex_decode(bad).ok());
  }
}

TEST_CASE("utf8 validation", "[encoding]") {
  CHECK(utf8_invalid_at("hello") == std::string_view::npos);
  CHECK(utf8_invalid_at("h\xc3\xa9llo") == std::string_view::npos);     // é
  CHECK(utf8_invalid_at("\xf0\x9f\x98\x80") == std::string_view::npos); // U+1F600
  CHECK(utf8_invalid_at("\x00"s) == std::string_view::npos);
  CHECK(utf8_invalid_at("ab\xff") == 2);
  CHECK(utf8_invalid_at("\xc0\xaf") == 0);          // overlong '/'
  CHECK(utf8_invalid_at("\xed\xa0\x80") == 0);      // surrogate
  CHECK(utf8_invalid_at("\xf4\x90\x80\x80") == 0);  // past U+10FFFF
  CHECK(utf8_invalid_at("a\xc3") == 1);             // truncated
  auto r = encode("ab\xff", Encoding::kUtf8);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == "EILSEQ");
  CHECK(*encode("hi", Encoding::kHex) == "6869");
}

TEST_CASE("encoding names", "[encoding]") {
  CHECK(*parse_encoding("base64") == Encoding::kBase64);
  CHECK(*parse_encoding("hex") == Encoding::kHex);
  CHECK(*parse_encoding("utf8") == Encoding::kUtf8);
  CHECK_FALSE(parse_encoding("latin1").ok());
  CHECK(std::string(encoding_name(Encoding::kHex)) == "hex");
}

TEST_CASE("chunked JSON encoding equals the whole, at any chunk size",
          "[encoding]") {
  std::string text;
  for (int i = 0; i < 500; ++i) text += "a\xc3\xa9\"\\\n\xf0\x9f\x98\x80";
  std::string binary;
  for (int i = 0; i < 3000; ++i) binary.push_back(static_cast<char>(i * 7));
  for (size_t chunk : {1, 2, 3, 4, 5, 7, 64, 1000, 100000}) {
    INFO("chunk " << chunk);
    auto collect = [&](std::string_view bytes, Encoding enc) {
      std::string out;
      REQUIRE(check_encodable(bytes, enc).ok());
      REQUIRE(encode_json_chunks(bytes, enc, chunk, [&](std::string_view p) {
                out.append(p);
                return Status(Ok{});
              }).ok());
      return out;
    };
    CHECK(collect(binary, Encoding::kBase64) == base64_encode(binary));
    CHECK(collect(binary, Encoding::kHex) == hex_encode(binary));
    std::string quoted = nlohmann::json(text).dump();
    CHECK(collect(text, Encoding::kUtf8) == quoted.substr(1, quoted.size() - 2));
  }
  CHECK(check_encodable("ok\xff", Encoding::kUtf8).error().code() == "EILSEQ");
  CHECK(check_encodable("ok\xff", Encoding::kHex).ok());
}
