// SPDX-License-Identifier: Apache-2.0
#include <mailkit/dns/message.hpp>

#include <algorithm>
#include <cctype>
#include <limits>

namespace mailkit::dns::wire {
namespace {

constexpr std::uint16_t class_in = 1;
constexpr std::uint16_t type_opt = 41;
constexpr std::size_t header_size = 12;
// RFC 1035 §3.1: a name is at most 255 octets in wire form; §2.3.4: a label at most 63.
constexpr std::size_t max_name_wire = 255;
constexpr std::size_t max_label = 63;
// CNAME links followed inside one response before it is treated as broken.
constexpr int max_cname_links = 16;

using bytes = std::span<const std::uint8_t>;

// A bounds-checked reader over the whole message (names need the whole message to follow
// compression pointers).
class reader {
public:
  explicit reader(bytes msg) : msg_(msg) {}
  [[nodiscard]] std::size_t pos() const noexcept { return pos_; }
  [[nodiscard]] std::size_t remaining() const noexcept { return msg_.size() - pos_; }
  bool u8(std::uint8_t& v) {
    if (remaining() < 1) return false;
    v = msg_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (remaining() < 2) return false;
    v = static_cast<std::uint16_t>((msg_[pos_] << 8) | msg_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (remaining() < 4) return false;
    v = (std::uint32_t{msg_[pos_]} << 24) | (std::uint32_t{msg_[pos_ + 1]} << 16) |
        (std::uint32_t{msg_[pos_ + 2]} << 8) | std::uint32_t{msg_[pos_ + 3]};
    pos_ += 4;
    return true;
  }
  bool skip(std::size_t n) {
    if (remaining() < n) return false;
    pos_ += n;
    return true;
  }
  bool raw(std::size_t n, std::string& out) {
    if (remaining() < n) return false;
    out.assign(reinterpret_cast<const char*>(msg_.data() + pos_), n);
    pos_ += n;
    return true;
  }

  // RFC 1035 §4.1.4: a name is a sequence of labels ending in a zero octet or a pointer.
  // Pointers must point before the start of the label sequence that holds them, which makes
  // every chain of pointers strictly decreasing and so finite.
  bool name(std::string& out) {
    out.clear();
    std::size_t at = pos_;
    std::size_t wire_len = 0;
    bool jumped = false;
    std::size_t limit = pos_; // a pointer must target an offset below this
    for (;;) {
      if (at >= msg_.size()) return false;
      const std::uint8_t len = msg_[at];
      if ((len & 0xC0) == 0xC0) {
        if (at + 1 >= msg_.size()) return false;
        const std::size_t target = (std::size_t{len & 0x3Fu} << 8) | msg_[at + 1];
        if (target >= limit) return false; // forward or self pointer: a possible loop
        if (!jumped) pos_ = at + 2;
        jumped = true;
        limit = target;
        at = target;
        continue;
      }
      // RFC 6891 §5 retired the 0x40 extended label type; 0x80 is reserved.
      if ((len & 0xC0) != 0) return false;
      wire_len += std::size_t{len} + 1;
      if (wire_len > max_name_wire) return false;
      if (len == 0) {
        if (!jumped) pos_ = at + 1;
        return true;
      }
      if (at + 1 + len > msg_.size()) return false;
      if (!out.empty()) out.push_back('.');
      append_label(out, msg_.subspan(at + 1, len));
      at += 1 + std::size_t{len};
    }
  }

private:
  // Presentation form (RFC 1035 §5.1): "." and "\" escaped, other octets outside the printable
  // ASCII range as \DDD, so that a name survives a round trip through text.
  static void append_label(std::string& out, bytes label) {
    for (const std::uint8_t c : label) {
      if (c == '.' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c <= 0x20 || c >= 0x7F) {
        out.push_back('\\');
        out.push_back(static_cast<char>('0' + c / 100));
        out.push_back(static_cast<char>('0' + (c / 10) % 10));
        out.push_back(static_cast<char>('0' + c % 10));
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
  }

  bytes msg_;
  std::size_t pos_ = 0;
};

error_code bad() {
  return make_error_code(errc::bad_response);
}

bool known_type(std::uint16_t t) {
  switch (static_cast<rtype>(t)) {
  case rtype::a:
  case rtype::ns:
  case rtype::cname:
  case rtype::soa:
  case rtype::ptr:
  case rtype::mx:
  case rtype::txt:
  case rtype::aaaa:
  case rtype::tlsa:
  case rtype::srv:
  case rtype::caa:
    return true;
  }
  return false;
}

// RDATA of the types we know (RFC 1035 §3.3, RFC 3596 §2.2, RFC 6698 §2.1). `rd` reads the
// whole message (names inside RDATA may be compressed) but must end exactly at `end`.
bool parse_rdata(reader& rd, std::uint16_t type, std::size_t end, rdata& out) {
  switch (static_cast<rtype>(type)) {
  case rtype::a: {
    ipv4 a;
    if (end - rd.pos() != 4) return false;
    for (auto& b : a.bytes)
      if (!rd.u8(b)) return false;
    out = a;
    return true;
  }
  case rtype::aaaa: {
    ipv6 a;
    if (end - rd.pos() != 16) return false;
    for (auto& b : a.bytes)
      if (!rd.u8(b)) return false;
    out = a;
    return true;
  }
  case rtype::ns:
  case rtype::cname:
  case rtype::ptr: {
    name_rdata n;
    if (!rd.name(n.name)) return false;
    out = std::move(n);
    return true;
  }
  case rtype::mx: {
    mx m;
    if (!rd.u16(m.preference) || !rd.name(m.exchange)) return false;
    // RFC 7505 §3: the null MX has the root "." as exchange, which reads as "".
    out = std::move(m);
    return true;
  }
  case rtype::txt: {
    // RFC 1035 §3.3.14: one or more <character-string>s, each a length octet and that many
    // octets (§3.3).
    txt t;
    if (rd.pos() == end) return false;
    while (rd.pos() < end) {
      std::uint8_t len = 0;
      std::string s;
      if (!rd.u8(len) || rd.pos() + len > end || !rd.raw(len, s)) return false;
      t.strings.push_back(std::move(s));
    }
    out = std::move(t);
    return true;
  }
  case rtype::soa: {
    soa s;
    if (!rd.name(s.mname) || !rd.name(s.rname) || !rd.u32(s.serial) || !rd.u32(s.refresh) ||
        !rd.u32(s.retry) || !rd.u32(s.expire) || !rd.u32(s.minimum))
      return false;
    out = std::move(s);
    return true;
  }
  case rtype::tlsa: {
    tlsa t;
    if (!rd.u8(t.usage) || !rd.u8(t.selector) || !rd.u8(t.matching_type)) return false;
    if (rd.pos() > end || !rd.raw(end - rd.pos(), t.data)) return false;
    out = std::move(t);
    return true;
  }
  case rtype::srv: {
    // RFC 2782: priority, weight, port, target (not compressed, but a reader accepts it).
    srv s;
    if (!rd.u16(s.priority) || !rd.u16(s.weight) || !rd.u16(s.port) || !rd.name(s.target))
      return false;
    out = std::move(s);
    return true;
  }
  case rtype::caa: {
    // RFC 8659 §4.1: flags, tag length (1-15 octets of tag), tag, value to the end.
    caa c;
    std::uint8_t tag_len = 0;
    if (!rd.u8(c.flags) || !rd.u8(tag_len) || tag_len == 0 || tag_len > 15) return false;
    if (rd.pos() + tag_len > end || !rd.raw(tag_len, c.tag)) return false;
    if (rd.pos() > end || !rd.raw(end - rd.pos(), c.value)) return false;
    out = std::move(c);
    return true;
  }
  }
  return false;
}

bool parse_record(reader& rd, resource_record& rr, message& m, bool additional) {
  std::uint16_t rdlength = 0;
  std::uint32_t ttl = 0;
  if (!rd.name(rr.name) || !rd.u16(rr.type) || !rd.u16(rr.klass) || !rd.u32(ttl) ||
      !rd.u16(rdlength))
    return false;
  if (rd.remaining() < rdlength) return false;
  const std::size_t end = rd.pos() + rdlength;
  if (rr.type == type_opt) {
    // RFC 6891 §6.1.1: at most one OPT, in the additional section, owned by the root.
    if (!additional || m.edns || !rr.name.empty()) return false;
    edns_info e;
    e.udp_payload = rr.klass;
    // RFC 6891 §6.1.3: TTL = EXTENDED-RCODE(8) VERSION(8) DO(1) Z(15).
    m.hdr.rcode = static_cast<std::uint16_t>(((ttl >> 24) << 4) | (m.hdr.rcode & 0x0F));
    e.version = static_cast<std::uint8_t>((ttl >> 16) & 0xFF);
    e.dnssec_ok = (ttl & 0x8000) != 0;
    m.edns = e;
    rr.ttl = 0;
    return rd.skip(rdlength);
  }
  // RFC 2181 §8: a TTL with the most significant bit set is treated as zero.
  rr.ttl = (ttl & 0x80000000u) != 0 ? 0 : ttl;
  if (rr.klass == class_in && known_type(rr.type)) {
    rdata d;
    if (!parse_rdata(rd, rr.type, end, d) || rd.pos() != end) return false;
    rr.data = std::move(d);
    return true;
  }
  return rd.skip(rdlength);
}

// ---- encoding -------------------------------------------------------------------------------

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v & 0xFFFF));
}

// Presentation form to wire form: labels split at unescaped dots, "\X" and "\DDD" escapes
// decoded (RFC 1035 §5.1). A trailing dot is accepted; "" and "." are the root.
bool encode_name(std::vector<std::uint8_t>& out, std::string_view name) {
  if (name == ".") name = {};
  if (!name.empty() && name.back() == '.' && (name.size() < 2 || name[name.size() - 2] != '\\'))
    name.remove_suffix(1);
  const std::size_t start = out.size();
  std::string label;
  auto flush = [&]() {
    if (label.empty() || label.size() > max_label) return false; // RFC 1035 §2.3.4
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    label.clear();
    return true;
  };
  if (!name.empty()) {
    for (std::size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      if (c == '.') {
        if (!flush()) return false;
      } else if (c == '\\') {
        if (i + 3 < name.size() && std::isdigit(static_cast<unsigned char>(name[i + 1])) &&
            std::isdigit(static_cast<unsigned char>(name[i + 2])) &&
            std::isdigit(static_cast<unsigned char>(name[i + 3]))) {
          const int v = (name[i + 1] - '0') * 100 + (name[i + 2] - '0') * 10 + (name[i + 3] - '0');
          if (v > 255) return false;
          label.push_back(static_cast<char>(v));
          i += 3;
        } else if (i + 1 < name.size()) {
          label.push_back(name[++i]);
        } else {
          return false;
        }
      } else {
        label.push_back(c);
      }
    }
    if (!flush()) return false;
  }
  out.push_back(0);
  return out.size() - start <= max_name_wire; // RFC 1035 §3.1
}

void encode_rdata(std::vector<std::uint8_t>& out, const rdata& d) {
  const std::size_t len_at = out.size();
  put16(out, 0);
  struct visitor {
    std::vector<std::uint8_t>& out;
    void operator()(const ipv4& a) const { out.insert(out.end(), a.bytes.begin(), a.bytes.end()); }
    void operator()(const ipv6& a) const { out.insert(out.end(), a.bytes.begin(), a.bytes.end()); }
    void operator()(const mx& m) const {
      put16(out, m.preference);
      (void)encode_name(out, m.exchange);
    }
    void operator()(const txt& t) const {
      for (const auto& s : t.strings) {
        const std::size_t n = std::min<std::size_t>(s.size(), 255);
        out.push_back(static_cast<std::uint8_t>(n));
        out.insert(out.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
      }
    }
    void operator()(const name_rdata& n) const { (void)encode_name(out, n.name); }
    void operator()(const soa& s) const {
      (void)encode_name(out, s.mname);
      (void)encode_name(out, s.rname);
      put32(out, s.serial);
      put32(out, s.refresh);
      put32(out, s.retry);
      put32(out, s.expire);
      put32(out, s.minimum);
    }
    void operator()(const tlsa& t) const {
      out.push_back(t.usage);
      out.push_back(t.selector);
      out.push_back(t.matching_type);
      out.insert(out.end(), t.data.begin(), t.data.end());
    }
    void operator()(const srv& s) const {
      put16(out, s.priority);
      put16(out, s.weight);
      put16(out, s.port);
      (void)encode_name(out, s.target);
    }
    void operator()(const caa& c) const {
      out.push_back(c.flags);
      const std::size_t n = std::min<std::size_t>(c.tag.size(), 15);
      out.push_back(static_cast<std::uint8_t>(n));
      out.insert(out.end(), c.tag.begin(), c.tag.begin() + static_cast<std::ptrdiff_t>(n));
      out.insert(out.end(), c.value.begin(), c.value.end());
    }
  };
  std::visit(visitor{out}, d);
  const std::size_t len = out.size() - len_at - 2;
  out[len_at] = static_cast<std::uint8_t>(len >> 8);
  out[len_at + 1] = static_cast<std::uint8_t>(len & 0xFF);
}

void encode_header(std::vector<std::uint8_t>& out, const header& h) {
  put16(out, h.id);
  std::uint8_t b2 =
      static_cast<std::uint8_t>((h.qr ? 0x80 : 0) | ((h.opcode & 0x0F) << 3) | (h.aa ? 0x04 : 0) |
                                (h.tc ? 0x02 : 0) | (h.rd ? 0x01 : 0));
  std::uint8_t b3 = static_cast<std::uint8_t>((h.ra ? 0x80 : 0) | (h.ad ? 0x20 : 0) |
                                              (h.cd ? 0x10 : 0) | (h.rcode & 0x0F));
  out.push_back(b2);
  out.push_back(b3);
  put16(out, h.qdcount);
  put16(out, h.ancount);
  put16(out, h.nscount);
  put16(out, h.arcount);
}

// The OPT pseudo-record (RFC 6891 §6.1.2): root owner, TYPE 41, CLASS = payload size,
// TTL = extended rcode, version, DO; no options: exactly 11 octets.
void encode_opt(std::vector<std::uint8_t>& out, std::uint16_t payload, std::uint8_t ext_rcode,
                bool dnssec_ok) {
  out.push_back(0);
  put16(out, type_opt);
  put16(out, payload);
  put32(out, (std::uint32_t{ext_rcode} << 24) | (dnssec_ok ? 0x8000u : 0u));
  put16(out, 0);
}

// ---- interpretation -------------------------------------------------------------------------

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view strip_dot(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

} // namespace

expected<message> parse_message(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < header_size || bytes.size() > 65535) return unexpected(bad());
  reader rd(bytes);
  message m;
  std::uint8_t b2 = 0, b3 = 0;
  (void)rd.u16(m.hdr.id);
  (void)rd.u8(b2);
  (void)rd.u8(b3);
  m.hdr.qr = (b2 & 0x80) != 0;
  m.hdr.opcode = static_cast<std::uint8_t>((b2 >> 3) & 0x0F);
  m.hdr.aa = (b2 & 0x04) != 0;
  m.hdr.tc = (b2 & 0x02) != 0;
  m.hdr.rd = (b2 & 0x01) != 0;
  m.hdr.ra = (b3 & 0x80) != 0;
  m.hdr.ad = (b3 & 0x20) != 0;
  m.hdr.cd = (b3 & 0x10) != 0;
  m.hdr.rcode = b3 & 0x0F;
  (void)rd.u16(m.hdr.qdcount);
  (void)rd.u16(m.hdr.ancount);
  (void)rd.u16(m.hdr.nscount);
  (void)rd.u16(m.hdr.arcount);
  // Every question takes at least 5 octets and every record at least 11, so counts larger
  // than the message can hold are rejected before anything is allocated for them.
  const std::size_t body = bytes.size() - header_size;
  if (std::size_t{m.hdr.qdcount} * 5 > body ||
      (std::size_t{m.hdr.ancount} + m.hdr.nscount + m.hdr.arcount) * 11 > body)
    return unexpected(bad());

  m.questions.reserve(m.hdr.qdcount);
  for (unsigned i = 0; i < m.hdr.qdcount; ++i) {
    question q;
    if (!rd.name(q.name) || !rd.u16(q.type) || !rd.u16(q.klass)) return unexpected(bad());
    m.questions.push_back(std::move(q));
  }
  auto section = [&](std::uint16_t count, std::vector<resource_record>& out, bool additional) {
    out.reserve(count);
    for (unsigned i = 0; i < count; ++i) {
      resource_record rr;
      if (!parse_record(rd, rr, m, additional)) return false;
      if (rr.type == type_opt) continue; // folded into m.edns
      out.push_back(std::move(rr));
    }
    return true;
  };
  if (!section(m.hdr.ancount, m.answers, false) || !section(m.hdr.nscount, m.authority, false) ||
      !section(m.hdr.arcount, m.additional, true))
    return unexpected(bad());
  // Trailing octets after the counted sections are ignored, as most resolvers do.
  return m;
}

expected<std::vector<std::uint8_t>> build_query(std::uint16_t id, std::string_view name,
                                                std::uint16_t type, const query_options& o) {
  std::vector<std::uint8_t> out;
  out.reserve(header_size + name.size() + 2 + 4 + 11);
  header h;
  h.id = id;
  h.rd = o.recursion_desired;
  // RFC 6840 §5.7: a stub that wants the AD bit of a validating resolver sets AD in its query.
  h.ad = o.authentic_data;
  h.cd = o.checking_disabled;
  h.qdcount = 1;
  h.arcount = o.edns ? 1 : 0;
  encode_header(out, h);
  if (!encode_name(out, name)) return fail(errc::bad_name);
  put16(out, type);
  put16(out, class_in);
  if (o.edns) encode_opt(out, o.udp_payload, 0, o.dnssec_ok);
  return out;
}

std::vector<std::uint8_t> build_message(const message& m) {
  std::vector<std::uint8_t> out;
  header h = m.hdr;
  h.qdcount = static_cast<std::uint16_t>(m.questions.size());
  auto count = [](const std::vector<resource_record>& s) {
    return static_cast<std::uint16_t>(
        std::count_if(s.begin(), s.end(), [](const auto& r) { return r.data.has_value(); }));
  };
  h.ancount = count(m.answers);
  h.nscount = count(m.authority);
  h.arcount = static_cast<std::uint16_t>(count(m.additional) + (m.edns ? 1 : 0));
  encode_header(out, h);
  for (const auto& q : m.questions) {
    if (!encode_name(out, q.name)) out.push_back(0);
    put16(out, q.type);
    put16(out, q.klass);
  }
  auto records = [&](const std::vector<resource_record>& s) {
    for (const auto& r : s) {
      if (!r.data) continue;
      if (!encode_name(out, r.name)) out.push_back(0);
      put16(out, r.type);
      put16(out, r.klass);
      put32(out, r.ttl);
      encode_rdata(out, *r.data);
    }
  };
  records(m.answers);
  records(m.authority);
  records(m.additional);
  if (m.edns)
    encode_opt(out, m.edns->udp_payload, static_cast<std::uint8_t>(m.hdr.rcode >> 4),
               m.edns->dnssec_ok);
  return out;
}

expected<answer> to_answer(const message& r, std::string_view name, rtype type) {
  const auto qtype = static_cast<std::uint16_t>(type);
  name = strip_dot(name);
  // RFC 1035 §7.3: a response must be a response (QR) to a standard query and carry the
  // question that was asked (RFC 5452 §9.1 for the same reason: a spoofed answer must match).
  if (!r.hdr.qr || r.hdr.opcode != 0 || r.questions.size() != 1 ||
      !same_name(r.questions[0].name, name) || r.questions[0].type != qtype ||
      r.questions[0].klass != class_in)
    return unexpected(bad());
  switch (r.hdr.rcode) {
  case 0: // NOERROR
  case 3: // NXDOMAIN
    break;
  case 1:
    return fail(errc::formerr);
  case 2:
    return fail(errc::servfail);
  case 4:
    return fail(errc::notimp);
  case 5:
    return fail(errc::refused);
  default:
    return unexpected(bad());
  }
  // A truncated answer is incomplete; the transport retries over TCP (RFC 7766 §5) and hands
  // us the full one, so one still truncated here cannot be trusted to list every record.
  if (r.hdr.tc) return unexpected(bad());

  answer a;
  a.name = lower(name);
  a.type = type;
  a.authenticated = r.hdr.ad; // RFC 4035 §3.2.3
  std::uint32_t min_ttl = std::numeric_limits<std::uint32_t>::max();

  // Follow the CNAME chain within the answer section (RFC 1034 §3.6.2, §4.3.2 step 3a).
  std::string current(name);
  for (int links = 0;; ++links) {
    bool found = false;
    for (const auto& rr : r.answers) {
      if (rr.klass != class_in || rr.type != qtype || !rr.data || !same_name(rr.name, current))
        continue;
      a.records.push_back(record{*rr.data, rr.ttl});
      min_ttl = std::min(min_ttl, rr.ttl);
      found = true;
    }
    if (found || type == rtype::cname) break;
    const resource_record* cname = nullptr;
    for (const auto& rr : r.answers)
      if (rr.klass == class_in && rr.type == static_cast<std::uint16_t>(rtype::cname) && rr.data &&
          same_name(rr.name, current)) {
        cname = &rr;
        break;
      }
    if (cname == nullptr) break;
    if (links >= max_cname_links) return unexpected(bad());
    min_ttl = std::min(min_ttl, cname->ttl);
    current = std::get<name_rdata>(*cname->data).name;
  }
  a.canonical_name = lower(current);
  // RFC 6604 §3: with a CNAME chain the RCODE is the one of the last name.
  a.code = r.hdr.rcode == 3 ? rcode::nxdomain : rcode::noerror;
  if (a.code == rcode::nxdomain && !a.records.empty()) return unexpected(bad());

  if (a.records.empty()) {
    // RFC 2308 §5: the negative TTL is the lower of the SOA record's TTL and its MINIMUM; a
    // negative answer without SOA "SHOULD NOT be cached": TTL 0.
    std::uint32_t neg = 0;
    for (const auto& rr : r.authority)
      if (rr.type == static_cast<std::uint16_t>(rtype::soa) && rr.data) {
        neg = std::min(rr.ttl, std::get<soa>(*rr.data).minimum);
        break;
      }
    a.ttl = std::min(neg, min_ttl);
  } else {
    a.ttl = min_ttl;
  }
  return a;
}

expected<answer> parse_answer(std::span<const std::uint8_t> bytes, std::string_view name,
                              rtype type) {
  auto m = parse_message(bytes);
  if (!m) return unexpected(m.error());
  return to_answer(*m, name, type);
}

} // namespace mailkit::dns::wire
