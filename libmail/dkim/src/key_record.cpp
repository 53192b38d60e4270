// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/base64.hpp>
#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/key_record.hpp>
#include <mailkit/dkim/tag_list.hpp>

#include <algorithm>

namespace mailkit::dkim {

namespace {

std::vector<std::string> colon_list(std::string_view v) {
  std::vector<std::string> out;
  const std::string s = strip_fws(v);
  std::size_t pos = 0;
  while (pos <= s.size()) {
    std::size_t c = s.find(':', pos);
    if (c == std::string::npos) c = s.size();
    if (c > pos) out.push_back(s.substr(pos, c - pos));
    pos = c + 1;
  }
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::any_of(v.begin(), v.end(), [x](const std::string& e) { return iequals(e, x); });
}

} // namespace

bool key_record::testing() const noexcept {
  return contains(t, "y");
}
bool key_record::strict() const noexcept {
  return contains(t, "s");
}
bool key_record::allows_hash(std::string_view hash) const noexcept {
  return h.empty() || contains(h, hash);
}
bool key_record::allows_email() const noexcept {
  return contains(s, "*") || contains(s, "email");
}

key_record_parse parse_key_record(std::string_view text) {
  key_record_parse r;
  std::vector<tag> tags;
  if (std::string err = parse_tag_list(text, tags); !err.empty()) {
    r.error = "malformed key record: " + err;
    return r;
  }
  bool have_p = false;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    const tag& t = tags[i];
    if (t.name == "v") {
      // RFC 6376 §3.6.1 v=: "If specified, this tag MUST be set to "DKIM1" ... MUST be the
      // first tag in the record. Records beginning with a "v=" tag with any other value MUST
      // be discarded."
      if (i != 0) {
        r.error = "key record v= is not the first tag";
        return r;
      }
      if (t.value != "DKIM1") {
        r.error = "key record version is not DKIM1";
        return r;
      }
    } else if (t.name == "h") {
      r.key.h = colon_list(t.value);
    } else if (t.name == "k") {
      r.key.k = to_lower(t.value);
    } else if (t.name == "n") {
      r.key.n = std::string(t.value);
    } else if (t.name == "p") {
      have_p = true;
      const std::string b64 = strip_fws(t.value);
      if (b64.empty()) {
        // RFC 6376 §3.6.1 p=: "An empty value means that this public key has been revoked."
        r.key.revoked = true;
      } else {
        auto d = base64::decode(b64, base64::mode::strict);
        if (!d) {
          r.error = "key record p= is not valid base64";
          return r;
        }
        r.key.p = std::move(*d);
      }
    } else if (t.name == "s") {
      r.key.s = colon_list(t.value);
    } else if (t.name == "t") {
      r.key.t = colon_list(t.value);
    }
    // RFC 6376 §3.6.1: unrecognized tags MUST be ignored (g= of RFC 4871 among them).
  }
  if (!have_p) {
    // RFC 6376 §3.6.1: p= is REQUIRED.
    r.error = "key record has no p=";
    return r;
  }
  r.ok = true;
  return r;
}

} // namespace mailkit::dkim
