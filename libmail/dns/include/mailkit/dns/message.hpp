// SPDX-License-Identifier: Apache-2.0
/// @file message.hpp
/// The DNS wire format, sans I/O: build a query message and parse a response message into
/// values, then turn a response into the `answer` of resolver.hpp (CNAME chain, NXDOMAIN vs
/// NODATA, negative TTL, AD bit). `cares_resolver` uses c-ares only to move these bytes; the
/// fuzz target `dns_message_fuzz` and the unit tests drive this file with plain bytes.
///
/// **Standards**: RFC 1035 §4.1 (message format), §4.1.4 (name compression), §3.3 (RDATA of
/// NS, CNAME, SOA, PTR, MX, TXT); RFC 3596 §2.2 (AAAA); RFC 6698 §2.1 (TLSA); RFC 6891 §6.1
/// (EDNS OPT pseudo-record); RFC 2181 §8 (TTLs with the top bit set mean 0); RFC 2308 §5
/// (negative TTL = min(SOA TTL, SOA MINIMUM)); RFC 6840 §5.7 (AD bit in queries); RFC 6604 (the
/// RCODE of a CNAME chain is the one of its last name).
///
/// **Security**: parses untrusted bytes from the network. Every read is bounds-checked;
/// compression pointers must point strictly backwards (so a name cannot loop) and a name is at
/// most 255 octets (RFC 1035 §3.1); section counts are bounded by the message size. Names in
/// parsed values are owned strings; nothing points into the input.
#pragma once

#include <mailkit/dns/resolver.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::dns::wire {

/// RFC 1035 §4.1.1 header, decoded.
struct header {
  std::uint16_t id = 0;
  bool qr = false; ///< response
  std::uint8_t opcode = 0;
  bool aa = false, tc = false, rd = false, ra = false;
  bool ad = false; ///< authentic data (RFC 4035 §3.2.3, RFC 6840 §5.7)
  bool cd = false; ///< checking disabled (RFC 4035 §3.2.2)
  /// The 4-bit RCODE extended with the OPT record's upper 8 bits (RFC 6891 §6.1.3).
  std::uint16_t rcode = 0;
  std::uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
};

struct question {
  std::string name; ///< presentation form, no trailing dot ("" is the root)
  std::uint16_t type = 0;
  std::uint16_t klass = 1;
};

/// One resource record. `data` is set for the types of `rtype` in class IN; other types (RRSIG,
/// DNAME, OPT ...) keep only their owner, type, class and TTL.
struct resource_record {
  std::string name;
  std::uint16_t type = 0;
  std::uint16_t klass = 1;
  std::uint32_t ttl = 0; ///< already clamped: RFC 2181 §8 values with the top bit set are 0
  std::optional<rdata> data;
};

/// The EDNS pseudo-record, when the message has one (RFC 6891 §6.1.2).
struct edns_info {
  std::uint16_t udp_payload = 512;
  std::uint8_t version = 0;
  bool dnssec_ok = false;
};

struct message {
  header hdr;
  std::vector<question> questions;
  std::vector<resource_record> answers, authority, additional;
  std::optional<edns_info> edns;
};

/// Parse a whole DNS message (as received over UDP, or a TCP message without its length
/// prefix). Fails with errc::bad_response for anything that does not follow RFC 1035 §4.1.
[[nodiscard]] expected<message> parse_message(std::span<const std::uint8_t> bytes);

struct query_options {
  bool recursion_desired = true; ///< RD (RFC 1035 §4.1.1)
  /// AD in the query: asks a validating resolver to report the AD bit (RFC 6840 §5.7).
  bool authentic_data = true;
  bool checking_disabled = false; ///< CD (RFC 4035 §3.2.2)
  /// Add an OPT record (RFC 6891). It is the last 11 octets of the query, with no options.
  bool edns = true;
  std::uint16_t udp_payload = 1232; ///< DNS flag day 2020: fits an IPv6 minimum MTU
  bool dnssec_ok = false;           ///< DO bit (RFC 3225): ask for RRSIGs too
};

/// Build one query for `name` (ASCII, as to_ascii() returns it; a trailing dot is accepted) of
/// type `type` in class IN. Fails with bad_name for an empty label, a label over 63 octets or
/// a name over 255 octets in wire form.
[[nodiscard]] expected<std::vector<std::uint8_t>> build_query(std::uint16_t id,
                                                              std::string_view name,
                                                              std::uint16_t type,
                                                              const query_options& options = {});

/// Interpret a response to the question (`name`, `type`) as resolver.hpp's `answer`:
/// SERVFAIL/REFUSED/FORMERR/NOTIMP become errors, a response that is not a response to this
/// question is bad_response; CNAMEs are followed inside the answer section (at most 16 links,
/// then bad_response); NOERROR with no records is NODATA; negative answers take their TTL from
/// the SOA in the authority section (RFC 2308 §5), 0 when there is none (not cacheable).
/// `answer.ttl` of a positive answer is the lowest TTL of its records and the CNAMEs followed.
[[nodiscard]] expected<answer> to_answer(const message& response, std::string_view name,
                                         rtype type);

/// parse_message() then to_answer().
[[nodiscard]] expected<answer> parse_answer(std::span<const std::uint8_t> bytes,
                                            std::string_view name, rtype type);

/// A response message for tests and for the fuzzer's round trips: each record's rdata is
/// encoded from its `data` (records without data are skipped). No compression.
[[nodiscard]] std::vector<std::uint8_t> build_message(const message& m);

} // namespace mailkit::dns::wire
