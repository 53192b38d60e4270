// SPDX-License-Identifier: Apache-2.0
#include "header_hash.hpp"

#include <mailkit/core/base64.hpp>
#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/signer.hpp>

#include <algorithm>

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

  // Header selection with over-signing.
  const auto& wanted = o.headers.empty() ? default_signed_headers() : o.headers;
  std::vector<std::string> lowered; // one lower-case copy per distinct name
  lowered.reserve(wanted.size() + 1);
  std::vector<std::string> names;
  names.reserve(2 * wanted.size() + 4);
  auto add_name = [&](std::string_view n) {
    for (const auto& s : lowered)
      if (iequals(s, n)) return;
    lowered.push_back(to_lower(n));
    std::size_t count = 0;
    for (const auto& f : split.fields)
      if (iequals(f.name, n)) ++count;
    const std::size_t times = o.oversign ? count + 1 : count;
    for (std::size_t i = 0; i < times; ++i)
      names.push_back(lowered.back());
  };
  bool has_from = false;
  for (const auto& f : split.fields)
    has_from = has_from || iequals(f.name, "from");
  // RFC 6376 §5.4: "The From header field MUST be signed".
  if (!has_from) return fail(errc::no_from);
  add_name("from");
  for (const auto& n : wanted)
    add_name(n);

  // The field, b= last and empty (RFC 6376 §3.7: hashed with an empty b= value).
  std::string f = "DKIM-Signature:";
  f.reserve(1024);
  std::size_t col = f.size();
  auto tagv = [&](std::string_view t) { append_folded(f, col, t); };
  tagv("v=1;");
  tagv(std::string("a=") + std::string(to_string(o.algo)) + ";");
  tagv(std::string("c=") + std::string(to_string(o.header_c)) + "/" +
       std::string(to_string(o.body_c)) + ";");
  tagv("d=" + o.domain + ";");
  tagv("s=" + o.selector + ";");
  if (!o.identity.empty()) tagv("i=" + o.identity + ";");
  const clock& clk = o.clk ? *o.clk : default_clock();
  const auto when = o.signing_time.value_or(clk.now());
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch());
  if (o.timestamp) tagv("t=" + std::to_string(secs.count()) + ";");
  if (o.expire_after) tagv("x=" + std::to_string((secs + *o.expire_after).count()) + ";");
  if (o.body_length) tagv("l=" + std::to_string(body_length) + ";");
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::string item = (i == 0 ? "h=" : "") + names[i] + (i + 1 == names.size() ? ";" : ":");
    append_folded(f, col, item);
  }
  tagv("bh=" + base64::encode(body_hash) + ";");
  tagv("b=");

  std::string input;
  input.reserve(2048);
  detail::append_selected(split.fields, names, o.header_c, input);
  canonicalize_header(f, o.header_c, input, false);
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
