// SPDX-License-Identifier: Apache-2.0
/// @file reader.hpp
/// The IMAP command reader, sans-I/O: bytes from the client go in, complete commands (a tag, a
/// name and a tree of tokens), continuation requests and refusals come out. The session owns the
/// socket and writes what the events say; nothing here does I/O or keeps a clock.
///
/// A command is one or more lines joined by literals: a line that ends in "{N}" (synchronizing:
/// the server must answer "+" before the client sends the N octets), "{N+}" (non-synchronizing,
/// RFC 7888 LITERAL+) or "~{N}" (literal8, RFC 3516 BINARY APPEND) is continued by exactly N
/// octets and then by the rest of the command on the next line.
///
/// Tokens are kept generic (atoms, strings, lists) and interpreted by the command parsers
/// (sequence.hpp, search.hpp, fetch.hpp): IMAP's grammar depends on the command, but its lexical
/// layer does not. An atom that contains "[" runs to the matching "]" whatever it holds
/// ("BODY[HEADER.FIELDS (From To)]<0.512>" is one atom), as RFC 9051 §9 section-spec requires.
///
/// Standards: RFC 9051 §2.2 (commands, tags), §4.3 (strings, quoted and literal), §7.5
/// (continuation request), §9 (formal syntax: atom, ATOM-CHAR, quoted, literal, tag); RFC 3501
/// the same sections; RFC 7888 (LITERAL+ and LITERAL-: non-synchronizing literals, at most 4096
/// octets under LITERAL-); RFC 3516 §4.2 (literal8 in APPEND); RFC 9051 §7.1 (TOOBIG).
/// Security: all input is untrusted. Every size is checked against reader_limits before the
/// octets it announces are read or buffered: a literal's length before any "+" is sent, a line
/// before it grows past its limit, list depth and token count while tokenizing.
#pragma once

#include <mailkit/imap/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::imap {

/// Every limit the reader enforces (each crossed by a unit test).
struct reader_limits {
  /// One command line between literals, CRLF excluded. RFC 9051 §4 asks servers to accept at
  /// least 8192 octets; long UID sets from clients that resynchronize need more.
  std::size_t line = 64 * 1024;
  /// A literal in any command but APPEND (a search string, a mailbox name, a password).
  std::size_t literal = 64 * 1024;
  /// A literal in APPEND: the message. Larger ones get NO [TOOBIG] before any octet is read.
  std::size_t append_literal = 64 * 1024 * 1024;
  /// Text and literals of one command together, APPEND message literals excepted.
  std::size_t command = 1024 * 1024;
  /// Tokens (atoms, strings, list openings) in one command.
  std::size_t tokens = 20'000;
  /// Nesting of parenthesized lists (SEARCH keys nest: OR (NOT (...)) ...).
  std::size_t depth = 32;
  /// The server advertises LITERAL+ (any non-synchronizing literal within the limits); when
  /// false it advertises LITERAL- and non-synchronizing literals over 4096 octets are refused.
  bool literal_plus = true;
};

/// One lexical element of a command.
struct token {
  enum class kind : std::uint8_t {
    atom,    ///< ATOM-CHARs, flags (\Seen), "*", sequence sets, "BODY[...]<...>"; also NIL
    quoted,  ///< a quoted string, unescaped
    literal, ///< a literal's octets ({N}, {N+} or, with `literal8`, ~{N})
    list,    ///< a parenthesized list: `items`
  };
  kind k = kind::atom;
  bool literal8 = false;    ///< a ~{N} literal (RFC 3516): may hold NUL octets
  std::string text;         ///< atom text, unescaped quoted string, or literal octets
  std::vector<token> items; ///< for lists

  [[nodiscard]] bool is_atom() const noexcept { return k == kind::atom; }
  [[nodiscard]] bool is_string() const noexcept { return k == kind::quoted || k == kind::literal; }
  /// astring (RFC 9051 §9): an atom (also with "]") or a string.
  [[nodiscard]] bool is_astring() const noexcept { return k != kind::list; }
  /// The atom NIL (case-insensitive).
  [[nodiscard]] bool is_nil() const noexcept;
  /// An atom equal to `upper` ignoring ASCII case.
  [[nodiscard]] bool is(std::string_view upper) const noexcept;
};

/// A complete command.
struct command {
  std::string tag;
  std::string name;        ///< upper case: "FETCH"; for "UID FETCH" name is "FETCH" and uid set
  bool uid = false;        ///< the UID prefix (RFC 9051 §6.4.9)
  std::vector<token> args; ///< the tokens after the name
  std::size_t octets = 0;  ///< text and literal octets the command took on the wire
};

/// What the reader asks the session to do next.
struct event {
  enum class kind : std::uint8_t {
    need_more,    ///< feed more bytes
    command,      ///< `cmd` is complete
    continuation, ///< send "+ " and a text: the client waits for it before a synchronizing literal
    line,         ///< in line mode: `text` is one raw line (IDLE's DONE, AUTHENTICATE responses)
    refused,      ///< send "<tag> BAD|NO ..." for `error` (tag may be empty: use "*")
    fatal,        ///< send "* BYE" and close: the input cannot be resynchronized
  };
  kind k = kind::need_more;
  command cmd;
  std::string text;          ///< for line
  std::string tag;           ///< for refused: the command's tag when it was readable
  mailkit::error_code error; ///< for refused and fatal
  std::size_t announced = 0; ///< for literal_too_large: the literal's announced length
};

/// Incremental command reader. Feed bytes with feed(), then call next() until it returns
/// need_more. Bytes are consumed only as far as complete items allow; the rest stays buffered
/// (at most one line plus the literal being read).
class command_reader {
public:
  explicit command_reader(reader_limits limits = {});

  /// Append bytes from the client.
  void feed(std::string_view bytes);
  /// The next event.
  [[nodiscard]] event next();

  /// Line mode: next() returns each CRLF-terminated line as a `line` event (IDLE waits for
  /// "DONE", AUTHENTICATE for base64 responses) until set back to false.
  void set_line_mode(bool on) noexcept { line_mode_ = on; }
  /// Octets fed but not yet consumed.
  [[nodiscard]] std::size_t buffered() const noexcept { return buf_.size() - pos_; }
  [[nodiscard]] const reader_limits& limits() const noexcept { return limits_; }
  /// Change limits between commands (e.g. LITERAL+ after authentication).
  void set_limits(const reader_limits& l) noexcept { limits_ = l; }

private:
  struct segment {
    std::string text; // the line's text, the literal marker removed
    bool has_literal = false;
    bool literal8 = false;
    std::string literal; // the literal's octets
  };
  enum class state : std::uint8_t { line, literal, discard_literal, discard_line };

  event finish();
  event refuse(errc e, std::size_t announced = 0);
  bool take_line(std::string_view& line, bool& overflow);
  void compact();
  [[nodiscard]] std::size_t literal_limit() const;

  reader_limits limits_;
  std::string buf_;
  std::size_t pos_ = 0;
  state state_ = state::line;
  bool line_mode_ = false;
  std::vector<segment> segments_;
  std::size_t literal_left_ = 0;
  std::size_t octets_ = 0;
  std::string pending_tag_; // the tag of a command being discarded
  std::string head_;        // the start of the last line that was over the limit
};

/// Tokenize text that holds no literals (a section's header list "(From To)", a test's
/// arguments) with the reader's rules.
[[nodiscard]] mailkit::expected<std::vector<token>> tokenize(std::string_view text,
                                                             const reader_limits& limits = {});

/// Parse a whole command given as one string (tests, fuzzing, tools): literals must be
/// non-synchronizing or their octets simply follow the line, as on the wire.
[[nodiscard]] mailkit::expected<command> parse_command(std::string_view wire,
                                                       const reader_limits& limits = {});

} // namespace mailkit::imap
