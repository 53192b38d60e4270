// SPDX-License-Identifier: Apache-2.0
/// @file structure.hpp
/// The parsed structure cached with every message, so that IMAP FETCH ENVELOPE and
/// BODYSTRUCTURE (RFC 3501 §7.4.2) never reparse the message file: the envelope fields and the
/// MIME tree with content types, parameters, encodings, sizes, line counts and byte offsets.
/// Computed once at append with libmail/mime and stored as a compact versioned binary record.
///
/// **Standards**: RFC 3501 §7.4.2 (ENVELOPE, BODYSTRUCTURE fields), RFC 2045 §5-§6, RFC 2183.
/// **Security**: deserialize() reads records from the database, which a damaged disk or a
/// hostile file can alter: it checks every length against the input and the limits below and
/// fails with store::errc::corrupt rather than trusting it (fuzzed: store_structure_fuzz).
#pragma once

#include <mailkit/core/expected.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailkit::mime {
class message;
}

namespace mailkit::store {

/// An address as IMAP's ENVELOPE lists it (RFC 3501 §7.4.2: name, adl, mailbox, host).
struct envelope_address {
  std::string name;    ///< display name, decoded to UTF-8 (empty when none)
  std::string mailbox; ///< local part
  std::string host;    ///< domain (empty for a group marker, as in RFC 3501)
  friend bool operator==(const envelope_address&, const envelope_address&) = default;
};

/// RFC 3501 §7.4.2 ENVELOPE. Text fields are the unfolded raw header values (still RFC 2047
/// encoded, as IMAP returns them); absent fields are nullopt (IMAP NIL).
struct envelope {
  std::optional<std::string> date, subject, in_reply_to, message_id;
  std::vector<envelope_address> from, sender, reply_to, to, cc, bcc;
  friend bool operator==(const envelope&, const envelope&) = default;
};

/// One MIME part, depth first (the root first). Offsets are byte offsets in the message file.
struct body_part {
  std::uint32_t parent = 0;      ///< index of the parent part (the root is its own parent)
  std::uint32_t depth = 0;       ///< 0 for the root
  std::uint32_t child_count = 0; ///< direct children
  std::string type, subtype;     ///< lower case ("text", "plain")
  std::vector<std::pair<std::string, std::string>> params;             ///< Content-Type parameters
  std::optional<std::string> id, description, md5, language, location; ///< raw header values
  std::string encoding;                   ///< Content-Transfer-Encoding upper case, "7BIT" default
  std::optional<std::string> disposition; ///< lower case disposition type
  std::vector<std::pair<std::string, std::string>> disposition_params;
  std::uint64_t header_offset = 0, body_offset = 0, body_size = 0;
  std::uint64_t lines = 0; ///< body line count (text/* and message/rfc822 in BODYSTRUCTURE)
  bool is_multipart = false;
  bool is_message = false;                  ///< message/rfc822 or message/global
  std::optional<envelope> message_envelope; ///< for is_message: the embedded envelope
  friend bool operator==(const body_part&, const body_part&) = default;
};

struct message_structure {
  envelope env;
  std::vector<body_part> parts; ///< depth first, never empty for a computed structure
  std::uint64_t size = 0;       ///< RFC822.SIZE
  friend bool operator==(const message_structure&, const message_structure&) = default;
};

/// Limits on a deserialized record (a computed structure is bounded by mime::limits already).
struct structure_limits {
  std::size_t max_parts = 10000;
  std::size_t max_depth = 64;
  std::size_t max_string = 1 << 20;  ///< one string field
  std::size_t max_addresses = 10000; ///< per address field
};

/// Compute the structure of a parsed message.
[[nodiscard]] message_structure compute_structure(const mime::message& msg);
/// Serialize to the versioned binary record stored in the database.
[[nodiscard]] std::string serialize(const message_structure& s);
/// Read a record back; errc::corrupt for anything that is not a record serialize() wrote.
[[nodiscard]] expected<message_structure> deserialize(std::string_view data,
                                                      const structure_limits& lim = {});

} // namespace mailkit::store
