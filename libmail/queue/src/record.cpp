// SPDX-License-Identifier: Apache-2.0
// The queue record: serialize and parse (format in envelope.hpp). The parser treats its input
// as hostile: a damaged database row must give errc::corrupt, never a crash or a huge
// allocation.
#include <mailkit/queue/envelope.hpp>
#include <mailkit/queue/error.hpp>

#include <charconv>
#include <string>

namespace mailkit::queue {
namespace {

constexpr char hex[] = "0123456789ABCDEF";

bool needs_escape(unsigned char c) noexcept {
  return c < 0x21 || c == 0x7f || c == '%';
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.push_back(' ');
  out.append(escape_field(value));
  out.push_back('\n');
}

std::string_view route_name(route r) {
  return r == route::local ? "local" : "remote";
}

// Split off the next space-separated token.
std::string_view token(std::string_view& s) {
  const auto sp = s.find(' ');
  std::string_view t = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view{} : s.substr(sp + 1);
  return t;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (hex_value(c) < 0) return false;
  return true;
}

} // namespace

std::string escape_field(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (needs_escape(c)) {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

expected<std::string> unescape_field(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '%') {
      if (i + 2 >= s.size()) return fail(errc::corrupt);
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return fail(errc::corrupt);
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (needs_escape(c)) {
      return fail(errc::corrupt); // a raw control octet or space cannot appear in a value
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string serialize_record(const envelope& e) {
  std::string out = "MKQ1\n";
  field(out, "id", e.id);
  out += "received " + std::to_string(e.received) + "\n";
  field(out, "from", e.reverse_path);
  out += e.ret == ret_type::full   ? "ret full\n"
         : e.ret == ret_type::hdrs ? "ret hdrs\n"
                                   : "ret -\n";
  if (!e.envid.empty()) field(out, "envid", e.envid);
  std::string flags;
  auto flag = [&](bool on, std::string_view name) {
    if (!on) return;
    if (!flags.empty()) flags.push_back(',');
    flags.append(name);
  };
  flag(e.smtputf8, "smtputf8");
  flag(e.eightbitmime, "8bitmime");
  flag(e.binarymime, "binarymime");
  flag(e.requiretls, "requiretls");
  flag(e.bounce, "bounce");
  out += "flags " + (flags.empty() ? std::string("-") : flags) + "\n";
  if (!e.auth.empty()) field(out, "auth", e.auth);
  if (!e.client.empty()) field(out, "client", e.client);
  if (!e.helo.empty()) field(out, "helo", e.helo);
  if (!e.mailbox.empty()) field(out, "mailbox", e.mailbox);
  for (const auto& r : e.recipients) {
    out += "rcpt ";
    out += route_name(r.where);
    out += ' ';
    out += std::to_string(static_cast<unsigned>(r.notify));
    out += ' ';
    out += escape_field(r.address);
    out += ' ';
    out += escape_field(r.original);
    out += ' ';
    out += escape_field(r.orcpt);
    out += ' ';
    out += escape_field(r.tag);
    out += '\n';
  }
  return out;
}

expected<envelope> parse_record(std::string_view text) {
  if (text.size() > max_record_size) return fail(errc::corrupt);
  envelope e;
  bool have_id = false, have_received = false, have_from = false, have_ret = false,
       have_flags = false;
  std::size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) return fail(errc::corrupt); // every line ends in LF
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.size() > max_record_line) return fail(errc::corrupt);
    if (first) {
      if (line != "MKQ1") return fail(errc::corrupt);
      first = false;
      continue;
    }
    std::string_view rest = line;
    const std::string_view name = token(rest);
    // A value is one token: escaping leaves no spaces in it.
    auto single = [&](std::string& out) -> bool {
      if (rest.find(' ') != std::string_view::npos) return false;
      auto v = unescape_field(rest);
      if (!v) return false;
      out = std::move(*v);
      return true;
    };
    if (name == "id") {
      if (have_id || !single(e.id) || !valid_id(e.id)) return fail(errc::corrupt);
      have_id = true;
    } else if (name == "received") {
      if (have_received || !parse_number(rest, e.received) || e.received < 0)
        return fail(errc::corrupt);
      have_received = true;
    } else if (name == "from") {
      if (have_from || !single(e.reverse_path)) return fail(errc::corrupt);
      have_from = true;
    } else if (name == "ret") {
      if (have_ret) return fail(errc::corrupt);
      if (rest == "full")
        e.ret = ret_type::full;
      else if (rest == "hdrs")
        e.ret = ret_type::hdrs;
      else if (rest == "-")
        e.ret = ret_type::unspecified;
      else
        return fail(errc::corrupt);
      have_ret = true;
    } else if (name == "envid") {
      if (!e.envid.empty() || !single(e.envid)) return fail(errc::corrupt);
    } else if (name == "flags") {
      if (have_flags) return fail(errc::corrupt);
      have_flags = true;
      if (rest != "-") {
        while (!rest.empty()) {
          const auto comma = rest.find(',');
          const std::string_view f = rest.substr(0, comma);
          rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
          if (f == "smtputf8")
            e.smtputf8 = true;
          else if (f == "8bitmime")
            e.eightbitmime = true;
          else if (f == "binarymime")
            e.binarymime = true;
          else if (f == "requiretls")
            e.requiretls = true;
          else if (f == "bounce")
            e.bounce = true;
          else
            return fail(errc::corrupt);
        }
      }
    } else if (name == "auth") {
      if (!single(e.auth)) return fail(errc::corrupt);
    } else if (name == "client") {
      if (!single(e.client)) return fail(errc::corrupt);
    } else if (name == "helo") {
      if (!single(e.helo)) return fail(errc::corrupt);
    } else if (name == "mailbox") {
      if (!single(e.mailbox)) return fail(errc::corrupt);
    } else if (name == "rcpt") {
      if (e.recipients.size() >= max_record_recipients) return fail(errc::corrupt);
      recipient r;
      const std::string_view where = token(rest);
      if (where == "local")
        r.where = route::local;
      else if (where == "remote")
        r.where = route::remote;
      else
        return fail(errc::corrupt);
      unsigned n = 0;
      if (!parse_number(token(rest), n) || n > 15) return fail(errc::corrupt);
      r.notify = static_cast<std::uint8_t>(n);
      std::string* parts[] = {&r.address, &r.original, &r.orcpt, &r.tag};
      for (std::size_t i = 0; i < 4; ++i) {
        if (i < 3 && rest.find(' ') == std::string_view::npos) return fail(errc::corrupt);
        const std::string_view t = i < 3 ? token(rest) : rest;
        if (i == 3 && t.find(' ') != std::string_view::npos) return fail(errc::corrupt);
        auto v = unescape_field(t);
        if (!v) return fail(errc::corrupt);
        *parts[i] = std::move(*v);
      }
      if (r.address.empty()) return fail(errc::corrupt);
      e.recipients.push_back(std::move(r));
    } else {
      return fail(errc::corrupt); // an unknown field: written by a newer version or damaged
    }
  }
  if (first || !have_id || !have_received || !have_from || !have_ret || !have_flags ||
      e.recipients.empty())
    return fail(errc::corrupt);
  return e;
}

} // namespace mailkit::queue
