// SPDX-License-Identifier: Apache-2.0
/// @file maildir.hpp
/// Sans-I/O readers for the files Dovecot (and so HestiaCP) keeps in a Maildir / Maildir++
/// tree, and for mbox files:
///  - Maildir file names "1700000000.M1P2.host,S=1234,W=1260:2,FRSa" (flags after ":2,");
///  - dovecot-keywords ("0 $Junk": the keyword for letter a, b, ...);
///  - dovecot-uidlist (version 3 header "3 V<uidvalidity> N<uidnext> ...", then
///    "<uid> [fields] :<file base name>");
///  - mbox: "From " separator lines, mboxrd/mboxo ">From " unescaping, Status/X-Status flags;
///  - Dovecot passwd-files ("user:{SCHEME}hash:uid:gid:gecos:home:shell:extra fields"), as
///    HestiaCP keeps them per domain (/etc/exim4/domains/<domain>/passwd).
///
/// **Standards**: the Maildir conventions (cr.yp.to/proto/maildir.html, "2," info), Dovecot's
/// Maildir++ and uidlist formats; RFC 4155 (mbox).
/// **Security**: every input here is untrusted file content from another system; each reader
/// is bounded and fuzzed (store_maildir_name_fuzz, store_keywords_fuzz, store_mbox_fuzz,
/// store_passwd_fuzz).
#pragma once

#include <mailkit/core/expected.hpp>
#include <mailkit/store/flags.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::store {

/// A Maildir file name, read.
struct maildir_name {
  std::string_view base;             ///< the name up to ":" (Dovecot's uidlist key); into the input
  std::optional<std::uint64_t> size; ///< ",S=" physical size
  std::optional<std::uint64_t> virtual_size; ///< ",W=" size with CRLF line endings
  std::uint8_t system = 0; ///< from the "2," info: D F R S T (P passed is not an IMAP flag)
  bool passed = false;     ///< "P": forwarded; imported as the $Forwarded keyword
  std::uint32_t keyword_letters = 0; ///< bit i set for letter 'a'+i
};
/// Read a Maildir file name. Never fails: a name without ":2," has no flags; unknown flag
/// letters are ignored (the Maildir spec reserves them).
[[nodiscard]] maildir_name parse_maildir_name(std::string_view name) noexcept;
/// The info suffix for flags: ":2," plus letters in ASCII order (Maildir requires the order).
[[nodiscard]] std::string maildir_info(std::uint8_t system, std::string_view keyword_letters);

/// dovecot-keywords: letter index (0 = 'a' ... 25 = 'z') to keyword. Lines that are not
/// "<index> <keyword>" with 0 <= index < 26 and a valid keyword are skipped (Dovecot also
/// tolerates them); at most 26 entries, lines at most 1024 bytes.
[[nodiscard]] std::array<std::string, 26> parse_dovecot_keywords(std::string_view file);

/// dovecot-uidlist, read.
struct dovecot_uidlist {
  std::uint32_t uidvalidity = 0;
  std::uint32_t next_uid = 0;
  std::map<std::string, std::uint32_t, std::less<>> uids; ///< file base name -> UID
};
/// Read a dovecot-uidlist (versions 1 and 3). errc::invalid_argument when the header is not a
/// uidlist header; bad record lines are skipped. At most 10,000,000 records.
[[nodiscard]] expected<dovecot_uidlist> parse_dovecot_uidlist(std::string_view file);

/// One message split out of an mbox.
struct mbox_message {
  std::string data;                 ///< the message, ">From " unescaped, without the separator
  std::optional<std::int64_t> date; ///< the separator's date (asctime form), Unix seconds
  flag_set flags;                   ///< from Status: (R, O) and X-Status: (A F T D) headers
};

/// Limits of mbox_reader.
struct mbox_limits {
  std::size_t max_message = 256u << 20; ///< bytes; a larger message fails the reader
  std::size_t max_line = 1u << 20;      ///< bytes of one line
};

/// Incremental mbox splitter: feed the file in chunks, take messages as they complete.
class mbox_reader {
public:
  enum class variant {
    mboxrd, ///< ">From " with any number of ">" loses one (reversible; what we write)
    mboxo   ///< only ">From " becomes "From " (the ambiguous historic form)
  };
  explicit mbox_reader(variant v = variant::mboxrd, mbox_limits lim = {});
  /// Append bytes; errc::limit_exceeded (store) past a limit, errc::invalid_argument when the
  /// file does not begin with a "From " line. The reader is spent after an error.
  expected<void> feed(std::string_view chunk);
  /// End of input: flushes the last message.
  expected<void> finish();
  /// Messages completed so far (moved out).
  std::vector<mbox_message> take();

private:
  void line(std::string_view l);
  void flush();
  variant variant_;
  mbox_limits lim_;
  std::string partial_;
  std::optional<mbox_message> current_;
  std::vector<mbox_message> done_;
  bool in_header_ = true;
  bool started_ = false;
  bool failed_ = false;
};

/// One account of a Dovecot passwd-file.
struct passwd_entry {
  std::string_view user; ///< "bob" or "bob@example.com"; into the input
  std::string_view hash; ///< "{SHA512-CRYPT}$6$..." (checked by parse_password_hash)
  std::optional<std::uint64_t> quota_bytes; ///< from "userdb_quota_rule=*:storage=<n>[bkMGT]"
};
struct passwd_file {
  std::vector<passwd_entry> entries;
  std::size_t bad_lines = 0; ///< lines without a user and a password field, skipped
};
/// Limits of parse_dovecot_passwd.
inline constexpr std::size_t max_passwd_entries = 1'000'000;
inline constexpr std::size_t max_passwd_line = 8192;
/// Read a Dovecot passwd-file: one "user:password[:uid:gid:gecos:home:shell[:extra fields]]"
/// line per account, '#' comments and blank lines skipped. The password field is returned as
/// is; a quota comes from the extra field "userdb_quota_rule=*:storage=<n>" (units b k M G T,
/// 1024-based, a bare number in kilobytes, as Dovecot reads them; 0 = unlimited). Lines longer than
/// max_passwd_line or without the two first fields count as bad. errc::limit_exceeded past
/// max_passwd_entries.
[[nodiscard]] expected<passwd_file> parse_dovecot_passwd(std::string_view file);

/// Parse the date of an mbox "From " line ("From user@host Thu Nov 24 18:22:48 1986").
[[nodiscard]] std::optional<std::int64_t> parse_mbox_from_date(std::string_view from_line);

} // namespace mailkit::store
