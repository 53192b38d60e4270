// SPDX-License-Identifier: Apache-2.0
/// @file search.hpp
/// SEARCH arguments: result options, charset and the tree of search keys, parsed from the
/// reader's tokens. Evaluation belongs to the session, which has the messages.
///
/// Standards: RFC 9051 §6.4.4 (SEARCH and every search key, CHARSET, RETURN), RFC 3501
/// §6.4.4 (the same keys plus NEW, OLD, RECENT, UNKEYWORD...), RFC 4731 (ESEARCH: RETURN
/// (MIN MAX ALL COUNT)), RFC 5182 (SAVE and "$"), RFC 7162 §3.1.5 (MODSEQ search key), RFC 5032
/// (OLDER, YOUNGER), RFC 6855 §3 (UTF-8 strings under UTF8=ACCEPT).
/// Security: parses client input; the key tree is bounded by the reader's token and depth
/// limits and by max_search_depth here (OR and NOT nest without parentheses).
#pragma once

#include <mailkit/imap/reader.hpp>
#include <mailkit/imap/sequence.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mailkit::imap {

/// NOT and OR chains nest keys without lists: "NOT NOT NOT ..." is bounded here.
inline constexpr std::size_t max_search_depth = 64;

struct search_key {
  enum class op : std::uint8_t {
    all,
    and_,        ///< children (a parenthesized list, or the top level)
    or_,         ///< children[0] OR children[1]
    not_,        ///< NOT children[0]
    flag,        ///< has flag `text` (\Answered, \Deleted, \Draft, \Flagged, \Seen, or a keyword)
    no_flag,     ///< lacks flag `text`
    recent,      ///< \Recent (IMAP4rev1 only; nothing is recent in IMAP4rev2)
    new_,        ///< RECENT UNSEEN
    old,         ///< NOT RECENT
    before,      ///< internal date before day `number` (days since 1970-01-01)
    on,          ///< internal date on day `number`
    since,       ///< internal date on or after day `number`
    sent_before, ///< Date: header, same comparisons
    sent_on,
    sent_since,
    larger,   ///< RFC822.SIZE > number
    smaller,  ///< RFC822.SIZE < number
    header,   ///< header field `text` contains `value` (empty value: the field exists)
    body,     ///< body contains `text`
    text,     ///< header or body contains `text`
    uid,      ///< UID in `set`
    sequence, ///< message sequence number in `set`
    modseq,   ///< MODSEQ >= number (RFC 7162)
    older,    ///< internal date at least `number` seconds ago (RFC 5032)
    younger,  ///< internal date at most `number` seconds ago
  };
  op o = op::all;
  std::string text;  ///< flag name, header field name, or the string to look for
  std::string value; ///< HEADER's string
  std::uint64_t number = 0;
  std::int64_t day = 0; ///< for the date keys
  sequence_set set;
  std::vector<search_key> children;
};

/// RFC 4731 / RFC 5182 result options of SEARCH RETURN (...).
struct search_return {
  bool min = false, max = false, all = false, count = false, save = false;
  bool esearch = false; ///< RETURN was given (the answer is ESEARCH), even RETURN ()
};

struct search_command {
  search_return ret;
  std::string charset; ///< upper case; empty when none was given (US-ASCII)
  search_key key;      ///< op::and_ of the top-level keys
};

/// Parse the arguments of SEARCH / UID SEARCH. errc::syntax, errc::bad_sequence, errc::bad_date,
/// errc::bad_charset (only US-ASCII and UTF-8 are known, RFC 9051 §6.4.4), errc::too_deep.
[[nodiscard]] mailkit::expected<search_command> parse_search(std::span<const token> args);

} // namespace mailkit::imap
