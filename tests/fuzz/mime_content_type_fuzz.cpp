// SPDX-License-Identifier: Apache-2.0
// Fuzz target for mailkit::mime::parse_content_type (RFC 2045 §5, RFC 2183, RFC 2231 parameters
// with continuations and charsets, RFC 2047 words in values). Type, subtype and parameter names
// come out in lower case, values as well-formed UTF-8, param() finds the first of duplicates;
// and a parameter written by format_parameter parses back to its value, as the builder needs.
#include "fuzz_support.hpp"

#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/content_type.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace mime = mailkit::mime;

bool is_lower(std::string_view s) {
  for (const char c : s)
    if (c >= 'A' && c <= 'Z') return false;
  return true;
}

// RFC 2045 §5.1 token characters.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F ||
        std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos)
      return false;
  }
  return true;
}

void check_parsed(std::string_view in) {
  const mime::content_type ct = mime::parse_content_type(in);
  MAILKIT_FUZZ_CHECK(is_lower(ct.type) && is_lower(ct.subtype));
  for (const mime::parameter& p : ct.params) {
    MAILKIT_FUZZ_CHECK(is_lower(p.name));
    MAILKIT_FUZZ_CHECK(mailkit::is_valid_utf8(p.value));
    const auto found = ct.param(p.name);
    MAILKIT_FUZZ_CHECK(found.has_value());
  }
  for (std::size_t i = 0; i < ct.params.size(); ++i) {
    const auto found = ct.param(ct.params[i].name);
    // The first parameter of that name is the one param() returns.
    std::size_t first = 0;
    while (!mailkit::iequals(ct.params[first].name, ct.params[i].name))
      ++first;
    MAILKIT_FUZZ_CHECK(*found == ct.params[first].value);
  }
  const std::string mt = ct.mime_type();
  MAILKIT_FUZZ_CHECK(is_lower(mt));
  if (!ct.type.empty()) MAILKIT_FUZZ_CHECK(ct.is(ct.type));
  // Parsing is a pure function of the bytes.
  MAILKIT_FUZZ_CHECK(mime::parse_content_type(in) == ct);
}

// format_parameter round trip: the first line of the input is a parameter name, the rest its
// value (well-formed UTF-8 only, which is what the builder passes).
void check_format(std::string_view in) {
  const std::size_t nl = in.find('\n');
  if (nl == std::string_view::npos) return;
  const std::string name = mailkit::to_lower(in.substr(0, nl));
  const std::string_view value = in.substr(nl + 1);
  if (!is_token(name) || name.find('*') != std::string::npos) return;
  if (!mailkit::is_valid_utf8(value)) return;
  const std::string piece = mime::format_parameter(name, value);
  MAILKIT_FUZZ_CHECK(piece.find_first_of("\r\n") == std::string::npos ||
                     value.find_first_of("\r\n") != std::string_view::npos);
  const mime::content_type ct = mime::parse_content_type("application/x-fuzz" + piece);
  MAILKIT_FUZZ_CHECK(ct.type == "application" && ct.subtype == "x-fuzz");
  const auto back = ct.param(name);
  MAILKIT_FUZZ_CHECK(back.has_value() && *back == value);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = mailkit::fuzz::as_view(data, size);
  check_parsed(in);
  check_format(in);
  return 0;
}
