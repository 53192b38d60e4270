// SPDX-License-Identifier: Apache-2.0
#include "header_hash.hpp"

#include <mailkit/core/base64.hpp>
#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/signer.hpp>

#include <algorithm>
#include <charconv>
#include <initializer_list>

namespace mailkit::dkim {

const std::vector<std::string>& default_signed_headers() {
  static const std::vector<std::string> names{"From",
                                              "Reply-To",
                                              "Subject",
                                              "Date",
                                              "To",
                                              "Cc",
                                              "Message-ID",
                                              "In-Reply-To",
                                              "References",
                                              "MIME-Version",
                                              "Content-Type",
                                              "Content-Transfer-Encoding",
                                              "Content-Disposition",
                                              "Content-ID",
                                              "Content-Description",
                                              "List-Id",
                                              "List-Unsubscribe",
                                              "List-Unsubscribe-Post"};
  return names;
}

namespace {

// Fold `text` into the field at `col` (current column), breaking before items, at 78 columns.
void append_folded(std::string& out, std::size_t& col, std::string_view item) {
  if (col + item.size() + 1 > 78 && col > 1) {
    out += "\r\n\t";
    col = 8;
  } else if (col > 0 && out.back() != '\t' && out.back() != ' ') {
    out.push_back(' ');
    ++col;
  }
  out.append(item);
  col += item.size();
}

} // namespace

namespace {

expected<std::string> sign_split(const split_message& split, std::string_view body_hash,
                                 std::uint64_t body_length, const private_key& key,
                                 const sign_options& o);

} // namespace

expected<std::string> sign_header(std::string_view header_block, std::string_view body_hash,
                                  std::uint64_t body_length, const private_key& key,
                                  const sign_options& o) {
  std::string normalized;
  if (detail::has_bare_lf(header_block)) {
    normalized = to_crlf(header_block);
    header_block = normalized;
  }
  return sign_split(split_header(header_block), body_hash, body_length, key, o);
}

expected<std::string> sign(std::string_view message, const private_key& key,
                           const sign_options& o) {
  const split_message split = split_header(message);
  const std::string_view header = message.substr(0, split.body_offset);
  body_hasher bh(o.body_c, hash_of(o.algo));
  bh.update(message.substr(split.body_offset));
  const std::string hash = bh.finish();
  if (detail::has_bare_lf(header)) return sign_header(header, hash, bh.canonical_length(), key, o);
  return sign_split(split, hash, bh.canonical_length(), key, o);
}

namespace {

expected<std::string> sign_split(const split_message& split, std::string_view body_hash,
                                 std::uint64_t body_length, const private_key& key,
                                 const sign_options& o) {
  if (o.domain.empty() || o.selector.empty()) return fail(errc::bad_option);
  // RFC 8301 §3.1: signers MUST NOT use rsa-sha1.
  if (o.algo == algorithm::rsa_sha1) return fail(errc::bad_option);
  if ((o.algo == algorithm::ed25519_sha256) != (key.type() == key_type::ed25519))
    return fail(errc::bad_option);
  for (char c : o.domain + o.selector)
    if (static_cast<unsigned char>(c) <= 0x20 || c == ';') return fail(errc::bad_option);

  // Header selection with over-signing (RFC 6376 §5.4, §8.15). One pass per distinct wanted
  // name over the fields finds its instances; h= lists the name once per instance, plus once
  // more when over-signing (that extra entry selects nothing: §5.4.2 "nonexistent header
  // field"), and the hash input takes the instances bottom-up (§5.4.2), which is exactly what
  // the verifier's selection of the same h= yields.
  const auto& wanted = o.headers.empty() ? default_signed_headers() : o.headers;
  static const std::vector<std::string> default_lower = [] {
    std::vector<std::string> v;
    for (const auto& n : default_signed_headers())
      v.push_back(to_lower(n));
    return v;
  }();
  std::vector<std::string> custom_lower; // lower-case names of o.headers (no reallocation below)
  if (!o.headers.empty()) {
    custom_lower.reserve(o.headers.size());
    for (const auto& n : o.headers)
      custom_lower.push_back(to_lower(n));
  }
  const auto& lower = o.headers.empty() ? default_lower : custom_lower;
  std::string input; // the header hash input: selected fields, then this field
  input.reserve(2048);
  std::vector<std::string_view> names; // h=, in order
  names.reserve(2 * wanted.size() + 4);
  std::vector<std::size_t> instances; // indices of one name's fields, top to bottom
  instances.reserve(8);
  // The default list is distinct and holds "from" (added first), so only a caller's list
  // needs the duplicate check.
  const bool check_duplicates = !o.headers.empty();
  auto add_name = [&](std::string_view n, bool dedupe) {
    if (dedupe)
      for (std::size_t k = 0; k < names.size(); ++k)
        if (names[k].size() == n.size() && iequals(names[k], n)) return;
    instances.clear();
    for (std::size_t i = 0; i < split.fields.size(); ++i) {
      const auto& fn = split.fields[i].name;
      if (fn.size() == n.size() && iequals(fn, n)) instances.push_back(i);
    }
    const std::size_t times = o.oversign ? instances.size() + 1 : instances.size();
    for (std::size_t t = 0; t < times; ++t)
      names.push_back(n);
    for (std::size_t t = instances.size(); t-- > 0;)
      canonicalize_header(split.fields[instances[t]].raw, o.header_c, input);
  };
  bool has_from = false;
  for (const auto& f : split.fields)
    has_from = has_from || (f.name.size() == 4 && iequals(f.name, "from"));
  // RFC 6376 §5.4: "The From header field MUST be signed".
  if (!has_from) return fail(errc::no_from);
  add_name("from", false);
  for (const auto& n : lower)
    if (check_duplicates || n != "from") add_name(n, check_duplicates);

  // The field, b= last and empty (RFC 6376 §3.7: hashed with an empty b= value).
  std::string f = "DKIM-Signature:";
  f.reserve(1024);
  std::size_t col = f.size();
  // The relaxed canonical form of this field (RFC 6376 §3.4.2) is known while it is built: the
  // lower-case name, ":", and the items joined by one SP (each fold is CRLF + TAB, a WSP run).
  // It is built alongside instead of re-reading the field, unless an item holds WSP or a line
  // break (then canonicalize_header does it).
  const bool relaxed_h = o.header_c == canonicalization::relaxed;
  std::string canon = relaxed_h ? "dkim-signature:" : "";
  // Items come from checked parts: d= and s= have no byte <= SP (checked above), the rest are
  // numbers, fixed tokens and base64; i= and a caller's header names are checked here.
  bool canon_ok = relaxed_h && o.identity.find_first_of(" \t\r\n") == std::string::npos;
  for (const auto& n : custom_lower)
    if (n.find_first_of(" \t\r\n") != std::string::npos) canon_ok = false;
  if (canon_ok) canon.reserve(1024);
  auto put = [&](std::string_view item) {
    append_folded(f, col, item);
    if (!canon_ok) return;
    if (canon.size() > 15) canon.push_back(' ');
    canon.append(item);
  };
  // Each tag is assembled in one reused buffer (no temporary strings per tag).
  std::string item;
  item.reserve(128);
  auto tag = [&](std::string_view name, std::initializer_list<std::string_view> parts) {
    item.clear();
    item.append(name);
    item.push_back('=');
    for (auto p : parts)
      item.append(p);
    item.push_back(';');
    put(item);
  };
  char num[2][24];
  auto decimal = [&](int slot, std::uint64_t v) {
    const auto r = std::to_chars(num[slot], num[slot] + sizeof num[slot], v);
    return std::string_view(num[slot], static_cast<std::size_t>(r.ptr - num[slot]));
  };
  tag("v", {"1"});
  tag("a", {to_string(o.algo)});
  tag("c", {to_string(o.header_c), "/", to_string(o.body_c)});
  tag("d", {o.domain});
  tag("s", {o.selector});
  if (!o.identity.empty()) tag("i", {o.identity});
  const clock& clk = o.clk ? *o.clk : default_clock();
  const auto when = o.signing_time.value_or(clk.now());
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch());
  const auto t = static_cast<std::uint64_t>(std::max<std::int64_t>(0, secs.count()));
  if (o.timestamp) tag("t", {decimal(0, t)});
  if (o.expire_after)
    tag("x", {decimal(1, static_cast<std::uint64_t>(
                             std::max<std::int64_t>(0, (secs + *o.expire_after).count())))});
  if (o.body_length) tag("l", {decimal(0, body_length)});
  for (std::size_t i = 0; i < names.size(); ++i) {
    item.clear();
    if (i == 0) item.append("h=");
    item.append(names[i]);
    item.push_back(i + 1 == names.size() ? ';' : ':');
    put(item);
  }
  item.clear();
  item.append("bh=");
  base64::encode_append(body_hash, item);
  item.push_back(';');
  put(item);
  put("b=");

  if (canon_ok) {
    input.append(canon);
  } else {
    canonicalize_header(f, o.header_c, input, false);
  }
  digest d(hash_of(o.algo));
  d.update(input);
  const std::string hh = d.finish();
  auto sig = key.sign_digest(hh, hash_of(o.algo));
  if (!sig) return unexpected(sig.error());
  const std::string b64 = base64::encode(*sig);
  // Fold b= in pieces; its whitespace is removed before hashing on both sides.
  std::size_t pos = 0;
  while (pos < b64.size()) {
    const std::size_t room = col >= 76 ? 0 : 76 - col;
    if (room < 8) {
      f += "\r\n\t";
      col = 8;
      continue;
    }
    const std::size_t take = std::min(room, b64.size() - pos);
    f.append(b64, pos, take);
    col += take;
    pos += take;
  }
  f += "\r\n";
  return f;
}

} // namespace

} // namespace mailkit::dkim
