// SPDX-License-Identifier: Apache-2.0
// to_ascii(): domain names as the DNS carries them. RFC 5890/5891 (IDNA2008) with the UTS #46
// non-transitional mapping (so "ß" stays "ß" and becomes xn--zca, as browsers do), by libidn2.
#include <mailkit/dns/resolver.hpp>

#include <cstdlib>
#include <idn2.h>
#include <memory>

namespace mailkit::dns {
namespace {

// RFC 1035 §2.3.4 and RFC 1123 §2.1: labels of 1-63 octets; the text form of a name (without
// the trailing dot) at most 253 octets so that the wire form fits 255.
constexpr std::size_t max_label = 63;
constexpr std::size_t max_name = 253;

bool valid_lengths(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_name) return false;
  std::size_t label = 0;
  for (const char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (++label > max_label) {
      return false;
    }
  }
  return label != 0;
}

} // namespace

expected<std::string> to_ascii(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return fail(errc::bad_name);
  bool ascii = true;
  for (const char c : name) {
    if (c == '\0') return fail(errc::bad_name);
    if (static_cast<unsigned char>(c) >= 0x80) ascii = false;
  }
  std::string out;
  if (ascii) {
    // ASCII names pass as they are, only lower-cased: the DNS allows any octet in a label
    // (RFC 2181 §11), and mail needs underscores ("_dmarc", "_domainkey") that the IDNA STD3
    // rules would reject. Only names with a U-label go through IDNA.
    out.assign(name);
  } else {
    char* converted = nullptr;
    const std::string input(name);
    // UTS #46 §4 processing, non-transitional; no STD3 rules (underscores stay allowed).
    const int rc =
        idn2_to_ascii_8z(input.c_str(), &converted, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    const std::unique_ptr<char, decltype(&idn2_free)> owner(converted, &idn2_free);
    if (rc != IDN2_OK || converted == nullptr) return fail(errc::bad_name);
    out = converted;
  }
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (!valid_lengths(out)) return fail(errc::bad_name);
  return out;
}

} // namespace mailkit::dns
