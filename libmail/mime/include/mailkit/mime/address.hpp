// SPDX-License-Identifier: Apache-2.0
/// @file address.hpp
/// Address lists of RFC 5322 §3.4 (From, To, Cc, Bcc, Reply-To, Sender, Resent-*), with groups,
/// the obsolete syntax of §4.4 (routes, missing commas, comments as names), RFC 2047 display
/// names and RFC 6532 UTF-8 addresses. Parsing is lenient as mail clients are: an address without
/// angle brackets, a bare name, stray quotes, and unbalanced brackets all give the best reading
/// rather than an error.
///
/// **Standards**: RFC 5322 §3.4, §4.4; RFC 6532 §3.2; RFC 2047 §5 (3).
/// **Security**: parses untrusted header bytes; the number of addresses is bounded by the input.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::mime {

/// One mailbox: a display name and an address, each absent when the field gave none
/// ("Undisclosed" alone has a name and no address). Both decoded, UTF-8.
struct mailbox {
  std::optional<std::string> name;
  std::optional<std::string> addr; ///< local-part "@" domain, quotes removed where not needed
  friend bool operator==(const mailbox&, const mailbox&) = default;
};

/// A group (RFC 5322 §3.4 "display-name : [group-list] ;"). Mailboxes outside any group in a
/// field that also has groups are collected in groups with no name, in order.
struct group {
  std::optional<std::string> name;
  std::vector<mailbox> members;
  friend bool operator==(const group&, const group&) = default;
};

/// A parsed address field: either a plain list of mailboxes, or (when the field used group
/// syntax) a list of groups.
struct address_list {
  std::vector<mailbox> mailboxes; ///< used when !has_groups
  std::vector<group> groups;      ///< used when has_groups
  bool has_groups = false;
  /// Every mailbox in order, group members included.
  [[nodiscard]] std::vector<mailbox> flatten() const;
  [[nodiscard]] bool empty() const noexcept { return mailboxes.empty() && groups.empty(); }
  friend bool operator==(const address_list&, const address_list&) = default;
};

/// Parse an address field value (raw, possibly folded).
[[nodiscard]] address_list parse_address_list(std::string_view raw);

/// Format one mailbox for a header: `"Name" <addr>` with the name quoted or RFC 2047 encoded as
/// needed, or the bare address when there is no name.
[[nodiscard]] std::string format_mailbox(const mailbox& m);

} // namespace mailkit::mime
