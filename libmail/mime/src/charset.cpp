// SPDX-License-Identifier: Apache-2.0
// Charset conversion to UTF-8. Labels are mapped to a canonical name through an alias table
// (RFC 2978 registry names plus the labels mail software writes in practice); each canonical
// name has an iconv(3) name for decoding and one for encoding, where decoding deliberately uses
// the superset Windows codepage senders actually produce (GBK text read as GB18030, EUC-KR as
// CP949, Shift_JIS as CP932), as the WHATWG encoding standard does. UTF-8 and Windows-1252 never
// go through iconv: the first is validated in place, the second is a table lookup.
#include <mailkit/core/bytes.hpp>
#include <mailkit/mime/charset.hpp>
#include <mailkit/mime/error.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <iconv.h>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailkit::mime {
namespace {

struct alias_entry {
  std::string_view label;     // lower case
  std::string_view canonical; // a key of the converter table
};

// Sorted by label for binary search. US-ASCII and ISO-8859-1 labels map to windows-1252: the
// WHATWG encoding standard does the same, because senders that declare either routinely send
// Windows-1252 punctuation (0x80-0x9F) and no reader shows those bytes as C1 controls.
constexpr alias_entry aliases[] = {
    {"646", "windows-1252"},
    {"866", "ibm866"},
    {"ansi_x3.4-1968", "windows-1252"},
    {"ascii", "windows-1252"},
    {"big5", "big5"},
    {"big5-hkscs", "big5"},
    {"chinese", "gbk"},
    {"cn-big5", "big5"},
    {"cp1250", "windows-1250"},
    {"cp1251", "windows-1251"},
    {"cp1252", "windows-1252"},
    {"cp1253", "windows-1253"},
    {"cp1254", "windows-1254"},
    {"cp1255", "windows-1255"},
    {"cp1256", "windows-1256"},
    {"cp1257", "windows-1257"},
    {"cp1258", "windows-1258"},
    {"cp367", "windows-1252"},
    {"cp819", "windows-1252"},
    {"cp866", "ibm866"},
    {"cp874", "windows-874"},
    {"cp932", "shift_jis"},
    {"cp936", "gbk"},
    {"cp949", "euc-kr"},
    {"cp950", "big5"},
    {"csbig5", "big5"},
    {"cseuckr", "euc-kr"},
    {"cseucpkdfmtjapanese", "euc-jp"},
    {"csgb2312", "gbk"},
    {"csibm866", "ibm866"},
    {"csiso2022jp", "iso-2022-jp"},
    {"csiso2022kr", "iso-2022-kr"},
    {"csiso58gb231280", "gbk"},
    {"csisolatin1", "windows-1252"},
    {"csisolatin2", "iso-8859-2"},
    {"csisolatin3", "iso-8859-3"},
    {"csisolatin4", "iso-8859-4"},
    {"csisolatin5", "iso-8859-9"},
    {"csisolatin6", "iso-8859-10"},
    {"csisolatin9", "iso-8859-15"},
    {"csisolatinarabic", "iso-8859-6"},
    {"csisolatincyrillic", "iso-8859-5"},
    {"csisolatingreek", "iso-8859-7"},
    {"csisolatinhebrew", "iso-8859-8"},
    {"cskoi8r", "koi8-r"},
    {"csksc56011987", "euc-kr"},
    {"csmacintosh", "macintosh"},
    {"csshiftjis", "shift_jis"},
    {"csunicode", "utf-16"},
    {"csutf7", "utf-7"},
    {"csutf8", "utf-8"},
    {"cyrillic", "iso-8859-5"},
    {"euc-cn", "gbk"},
    {"euc-jp", "euc-jp"},
    {"euc-kr", "euc-kr"},
    {"euccn", "gbk"},
    {"eucjp", "euc-jp"},
    {"euckr", "euc-kr"},
    {"gb18030", "gb18030"},
    {"gb2312", "gbk"},
    {"gb_2312", "gbk"},
    {"gb_2312-80", "gbk"},
    {"gbk", "gbk"},
    {"greek", "iso-8859-7"},
    {"hebrew", "iso-8859-8"},
    {"ibm366", "ibm866"},
    {"ibm367", "windows-1252"},
    {"ibm819", "windows-1252"},
    {"ibm866", "ibm866"},
    {"iso-2022-jp", "iso-2022-jp"},
    {"iso-2022-kr", "iso-2022-kr"},
    {"iso-8859-1", "windows-1252"},
    {"iso-8859-10", "iso-8859-10"},
    {"iso-8859-11", "windows-874"},
    {"iso-8859-13", "iso-8859-13"},
    {"iso-8859-14", "iso-8859-14"},
    {"iso-8859-15", "iso-8859-15"},
    {"iso-8859-16", "iso-8859-16"},
    {"iso-8859-2", "iso-8859-2"},
    {"iso-8859-3", "iso-8859-3"},
    {"iso-8859-4", "iso-8859-4"},
    {"iso-8859-5", "iso-8859-5"},
    {"iso-8859-6", "iso-8859-6"},
    {"iso-8859-7", "iso-8859-7"},
    {"iso-8859-8", "iso-8859-8"},
    {"iso-8859-8-i", "iso-8859-8"},
    {"iso-8859-9", "iso-8859-9"},
    {"iso-ir-100", "windows-1252"},
    {"iso-ir-101", "iso-8859-2"},
    {"iso-ir-109", "iso-8859-3"},
    {"iso-ir-110", "iso-8859-4"},
    {"iso-ir-126", "iso-8859-7"},
    {"iso-ir-127", "iso-8859-6"},
    {"iso-ir-138", "iso-8859-8"},
    {"iso-ir-144", "iso-8859-5"},
    {"iso-ir-148", "iso-8859-9"},
    {"iso-ir-149", "euc-kr"},
    {"iso-ir-157", "iso-8859-10"},
    {"iso-ir-58", "gbk"},
    {"iso-ir-6", "windows-1252"},
    {"iso646-us", "windows-1252"},
    {"iso8859-1", "windows-1252"},
    {"iso8859-15", "iso-8859-15"},
    {"iso8859-2", "iso-8859-2"},
    {"iso88591", "windows-1252"},
    {"iso885915", "iso-8859-15"},
    {"iso88592", "iso-8859-2"},
    {"iso_8859-1", "windows-1252"},
    {"iso_8859-15", "iso-8859-15"},
    {"iso_8859-2", "iso-8859-2"},
    {"koi", "koi8-r"},
    {"koi8", "koi8-r"},
    {"koi8-r", "koi8-r"},
    {"koi8-ru", "koi8-u"},
    {"koi8-u", "koi8-u"},
    {"koi8_r", "koi8-r"},
    {"korean", "euc-kr"},
    {"ks_c_5601-1987", "euc-kr"},
    {"ks_c_5601-1989", "euc-kr"},
    {"ksc5601", "euc-kr"},
    {"l1", "windows-1252"},
    {"l2", "iso-8859-2"},
    {"latin1", "windows-1252"},
    {"latin2", "iso-8859-2"},
    {"mac", "macintosh"},
    {"macintosh", "macintosh"},
    {"ms932", "shift_jis"},
    {"ms_kanji", "shift_jis"},
    {"shift-jis", "shift_jis"},
    {"shift_jis", "shift_jis"},
    {"sjis", "shift_jis"},
    {"tis-620", "windows-874"},
    {"ucs-2", "utf-16"},
    {"unicode", "utf-16"},
    {"unicode-1-1-utf-8", "utf-8"},
    {"us", "windows-1252"},
    {"us-ascii", "windows-1252"},
    {"utf-16", "utf-16"},
    {"utf-16be", "utf-16be"},
    {"utf-16le", "utf-16le"},
    {"utf-32", "utf-32"},
    {"utf-7", "utf-7"},
    {"utf-8", "utf-8"},
    {"utf16", "utf-16"},
    {"utf32", "utf-32"},
    {"utf7", "utf-7"},
    {"utf8", "utf-8"},
    {"windows-31j", "shift_jis"},
    {"windows-874", "windows-874"},
    {"windows-936", "gbk"},
    {"windows-949", "euc-kr"},
    {"x-mac-cyrillic", "x-mac-cyrillic"},
    {"x-sjis", "shift_jis"},
};
static_assert(std::is_sorted(std::begin(aliases), std::end(aliases),
                             [](const alias_entry& a, const alias_entry& b) {
                               return a.label < b.label;
                             }));

struct converter_entry {
  std::string_view canonical;
  const char* decode_name; // iconv name used to read the charset
  const char* encode_name; // iconv name used to write it
};

// Sorted by canonical name. A label is looked up in the alias table first, then here directly,
// so canonical names need no alias row of their own.
constexpr converter_entry converters[] = {
    {"big5", "BIG5-HKSCS", "BIG5"},
    {"euc-jp", "EUC-JP", "EUC-JP"},
    {"euc-kr", "CP949", "EUC-KR"},
    {"gb18030", "GB18030", "GB18030"},
    {"gbk", "GB18030", "GBK"},
    {"ibm866", "IBM866", "IBM866"},
    {"iso-2022-jp", "ISO-2022-JP-2", "ISO-2022-JP"},
    {"iso-2022-kr", "ISO-2022-KR", "ISO-2022-KR"},
    {"iso-8859-10", "ISO-8859-10", "ISO-8859-10"},
    {"iso-8859-13", "ISO-8859-13", "ISO-8859-13"},
    {"iso-8859-14", "ISO-8859-14", "ISO-8859-14"},
    {"iso-8859-15", "ISO-8859-15", "ISO-8859-15"},
    {"iso-8859-16", "ISO-8859-16", "ISO-8859-16"},
    {"iso-8859-2", "ISO-8859-2", "ISO-8859-2"},
    {"iso-8859-3", "ISO-8859-3", "ISO-8859-3"},
    {"iso-8859-4", "ISO-8859-4", "ISO-8859-4"},
    {"iso-8859-5", "ISO-8859-5", "ISO-8859-5"},
    {"iso-8859-6", "ISO-8859-6", "ISO-8859-6"},
    {"iso-8859-7", "ISO-8859-7", "ISO-8859-7"},
    {"iso-8859-8", "ISO-8859-8", "ISO-8859-8"},
    {"iso-8859-9", "ISO-8859-9", "ISO-8859-9"},
    {"koi8-r", "KOI8-R", "KOI8-R"},
    {"koi8-u", "KOI8-U", "KOI8-U"},
    {"macintosh", "MACINTOSH", "MACINTOSH"},
    {"shift_jis", "CP932", "CP932"},
    {"utf-16", "UTF-16BE", "UTF-16BE"}, // byte order mark handled here, see unmarked_utf
    {"utf-16be", "UTF-16BE", "UTF-16BE"},
    {"utf-16le", "UTF-16LE", "UTF-16LE"},
    {"utf-32", "UTF-32BE", "UTF-32BE"}, // likewise
    {"utf-32be", "UTF-32BE", "UTF-32BE"},
    {"utf-32le", "UTF-32LE", "UTF-32LE"},
    {"utf-7", "UTF-7", "UTF-7"},
    {"utf-8", "UTF-8", "UTF-8"},
    {"windows-1250", "CP1250", "CP1250"},
    {"windows-1251", "CP1251", "CP1251"},
    {"windows-1252", "CP1252", "CP1252"},
    {"windows-1253", "CP1253", "CP1253"},
    {"windows-1254", "CP1254", "CP1254"},
    {"windows-1255", "CP1255", "CP1255"},
    {"windows-1256", "CP1256", "CP1256"},
    {"windows-1257", "CP1257", "CP1257"},
    {"windows-1258", "CP1258", "CP1258"},
    {"windows-874", "CP874", "CP874"},
    {"x-mac-cyrillic", "MAC-CYRILLIC", "MAC-CYRILLIC"},
};
static_assert(std::is_sorted(std::begin(converters), std::end(converters),
                             [](const converter_entry& a, const converter_entry& b) {
                               return a.canonical < b.canonical;
                             }));

// Windows-1252 bytes 0x80-0x9F. The five bytes the codepage leaves undefined decode to the C1
// control of the same value, as the WHATWG index does, so every byte has a reading.
constexpr std::array<char16_t, 32> cp1252_high{{
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}};

constexpr std::size_t max_label_length = 40;

// The label as the tables spell it: lower case, without surrounding whitespace or quotes (some
// senders write charset="'utf-8'"), or empty when it holds characters no charset name has.
std::string normalize_label(std::string_view label) {
  label = trim(label);
  while (!label.empty() && (label.front() == '"' || label.front() == '\''))
    label.remove_prefix(1);
  while (!label.empty() && (label.back() == '"' || label.back() == '\''))
    label.remove_suffix(1);
  label = trim(label);
  if (label.empty() || label.size() > max_label_length) return {};
  std::string out;
  out.reserve(label.size());
  for (char c : label) {
    // RFC 2978 §2.3: names are US-ASCII letters, digits and a few punctuation characters. A
    // '/' would let a label add iconv suffixes such as "//IGNORE", so it is refused outright;
    // so are '(', ')' and '+', which glibc's iconv_open silently drops, turning
    // "(shift_jis)" into its own asymmetric SHIFT_JIS instead of the table's CP932.
    const bool ok = is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return {};
    out.push_back(ascii_lower(c));
  }
  return out;
}

const converter_entry* find_converter(std::string_view canonical) noexcept {
  const auto* it = std::lower_bound(
      std::begin(converters), std::end(converters), canonical,
      [](const converter_entry& e, std::string_view key) { return e.canonical < key; });
  if (it != std::end(converters) && it->canonical == canonical) return it;
  return nullptr;
}

std::string_view find_alias(std::string_view label) noexcept {
  const auto* it =
      std::lower_bound(std::begin(aliases), std::end(aliases), label,
                       [](const alias_entry& e, std::string_view key) { return e.label < key; });
  if (it != std::end(aliases) && it->label == label) return it->canonical;
  return {};
}

const iconv_t invalid_cd = reinterpret_cast<iconv_t>(static_cast<std::intptr_t>(-1));

// One iconv descriptor per (direction, iconv name) and thread: iconv_t carries shift state and
// must not be shared between threads, and opening one costs a gconv module lookup.
class converter_cache {
public:
  converter_cache() = default;
  converter_cache(const converter_cache&) = delete;
  converter_cache& operator=(const converter_cache&) = delete;
  ~converter_cache() {
    for (auto& e : entries_)
      if (e.cd != invalid_cd) iconv_close(e.cd);
  }

  /// A descriptor converting `from` to `to`, or invalid_cd when iconv has no such converter.
  iconv_t get(const char* to, const char* from) {
    std::string key = std::string(to) + '\0' + from;
    for (auto& e : entries_)
      if (e.key == key) return e.cd;
    iconv_t cd = iconv_open(to, from);
    // Failed opens are remembered too (a label is probed, then used), but the list stays
    // bounded: labels come from the peer, and a stream of made-up names must not grow memory.
    // The oldest entry makes room; descriptors are only used until the next call.
    if (entries_.size() >= max_entries) {
      if (entries_.front().cd != invalid_cd) iconv_close(entries_.front().cd);
      entries_.erase(entries_.begin());
    }
    entries_.push_back({std::move(key), cd});
    return cd;
  }

private:
  static constexpr std::size_t max_entries = 64;
  struct entry {
    std::string key;
    iconv_t cd;
  };
  std::vector<entry> entries_;
};

converter_cache& cache() {
  thread_local converter_cache c;
  return c;
}

/// What a label resolves to: a canonical name and the iconv names behind it.
struct resolved {
  std::string canonical;
  std::string decode_name;
  std::string encode_name;
  // Whether a cached descriptor may be reused: true for the converters of the table above,
  // false for names iconv resolved on its own, whose modules may keep state across calls.
  bool reusable = true;
};

// A descriptor for one conversion: the thread's cached one, or, for a name outside the tables,
// a fresh one closed afterwards. iconv(cd, NULL, ...) resets a descriptor's shift state but not
// everything a glibc module keeps: the UTF-16, UTF-32 and UNICODE modules record the byte order
// of the first byte order mark they read in descriptor flags that survive the reset, so a reused
// descriptor reads every later text in that byte order (and a later opposite mark as garbage).
// The table's converters are free of such state (UTF-16 and UTF-32 go through their explicit
// byte-order forms, see unmarked_utf); a module iconv resolved on its own may not be.
class descriptor {
public:
  descriptor(const resolved& r, const char* to, const char* from) {
    if (r.reusable) {
      cd_ = cache().get(to, from);
    } else {
      cd_ = iconv_open(to, from);
      owned_ = cd_ != invalid_cd;
    }
  }
  descriptor(const descriptor&) = delete;
  descriptor& operator=(const descriptor&) = delete;
  ~descriptor() {
    if (owned_) iconv_close(cd_);
  }
  [[nodiscard]] iconv_t get() const noexcept { return cd_; }

private:
  iconv_t cd_ = invalid_cd;
  bool owned_ = false;
};

// UTF-16 and UTF-32 labelled without a byte order: a leading byte order mark says which, and
// text without one is big-endian (RFC 2781 §4.3; Unicode §3.10 D98, D101). The mark is read and
// written here and iconv only ever sees the explicit forms, whose converters keep no state.
struct unmarked_utf {
  std::string_view canonical;
  std::string_view mark_be;
  std::string_view mark_le;
  const char* name_le; // the big-endian name is the converter table's
};
constexpr unmarked_utf unmarked[] = {
    {"utf-16", std::string_view("\xFE\xFF", 2), std::string_view("\xFF\xFE", 2), "UTF-16LE"},
    {"utf-32", std::string_view("\0\0\xFE\xFF", 4), std::string_view("\xFF\xFE\0\0", 4),
     "UTF-32LE"},
};

const unmarked_utf* find_unmarked(std::string_view canonical) noexcept {
  for (const auto& u : unmarked)
    if (u.canonical == canonical) return &u;
  return nullptr;
}

bool ascii_alias(std::string_view norm) {
  return norm == "us-ascii" || norm == "ascii" || norm == "us" || norm == "ansi_x3.4-1968" ||
         norm == "iso646-us" || norm == "cp367" || norm == "ibm367" || norm == "646" ||
         norm == "iso-ir-6";
}

resolved resolve(std::string_view label) {
  const std::string norm = normalize_label(label);
  if (norm.empty()) return {};
  std::string_view canonical = find_alias(norm);
  if (canonical.empty() && find_converter(norm) != nullptr) canonical = norm;
  if (canonical.empty()) {
    // Spellings the table leaves out: "windows1252", "win-1251", "x-cp1250", "iso8859_5".
    std::string squeezed;
    for (char c : norm)
      if (c != '-' && c != '_') squeezed.push_back(c);
    if (squeezed.starts_with("x")) squeezed.erase(0, 1);
    for (std::string_view prefix : {"windows", "win", "cp"}) {
      if (squeezed.starts_with(prefix) && squeezed.size() == prefix.size() + 4) {
        const std::string name = "windows-" + squeezed.substr(prefix.size());
        if (const auto* c = find_converter(name)) canonical = c->canonical;
      }
    }
    if (canonical.empty() && squeezed.starts_with("iso8859") && squeezed.size() > 7) {
      const std::string name = "iso-8859-" + squeezed.substr(7);
      canonical = find_alias(name);
      if (canonical.empty())
        if (const auto* c = find_converter(name)) canonical = c->canonical;
    }
  }
  if (!canonical.empty()) {
    if (const converter_entry* c = find_converter(canonical))
      return {std::string(canonical), c->decode_name, c->encode_name};
    return {};
  }
  // Not in the tables: accept whatever iconv itself knows (IBM437, CP850, ...), under the
  // label it was given. normalize_label() has already refused '/' and other syntax.
  // glibc's "CHAR", "WCHAR_T" and "INTERNAL" mean the process locale or its own internal form,
  // never a charset a sender could have used.
  if (norm == "char" || norm == "wchar_t" || norm == "internal") return {};
  std::string upper;
  for (char c : norm)
    upper.push_back(ascii_upper(c));
  if (cache().get("UTF-8", upper.c_str()) == invalid_cd) return {};
  return {norm, upper, upper, false};
}

void append_cp1252(std::string& out, std::string_view bytes) {
  out.reserve(out.size() + bytes.size() + bytes.size() / 2);
  for (char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x80)
      out.push_back(ch);
    else if (b < 0xA0)
      append_utf8(out, cp1252_high[b - 0x80]);
    else
      append_utf8(out, b); // 0xA0-0xFF are the Latin-1 code points
  }
}

// Decode with iconv, replacing what it rejects. RFC 2045 §5.1 lets a reader refuse text in an
// unknown or broken charset, but a mail client shows it anyway, so every byte that does not
// convert becomes U+FFFD and conversion resumes at the next byte.
std::string iconv_to_utf8(iconv_t cd, std::string_view bytes) {
  iconv(cd, nullptr, nullptr, nullptr, nullptr); // reset shift state left by an earlier call
  std::string out;
  out.resize(bytes.size() * 2 + 16);
  std::size_t used = 0;
  char* in = const_cast<char*>(bytes.data()); // iconv's prototype is not const-correct
  std::size_t in_left = bytes.size();
  const auto make_room = [&](std::size_t need) {
    if (out.size() - used < need) out.resize(std::max(out.size() * 2, used + need));
  };
  while (in_left > 0) {
    make_room(16);
    char* dst = out.data() + used;
    std::size_t dst_left = out.size() - used;
    const std::size_t r = iconv(cd, &in, &in_left, &dst, &dst_left);
    used = out.size() - dst_left;
    if (r != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) {
      out.resize(out.size() * 2);
      continue;
    }
    const int err = errno;
    make_room(3);
    out.replace(used, 3, "\xEF\xBF\xBD", 3);
    used += 3;
    if (err == EILSEQ) {
      // iconv(3) leaves `in` at the start of the invalid sequence, and one byte is skipped.
      // glibc's EUC-KR converter (and maybe others) steps over an unassigned two-byte code
      // before it answers EILSEQ: at the end of the text nothing is left to skip (a skip then
      // made in_left SIZE_MAX and iconv read past the text; found by mime_charset_fuzz), and in
      // the middle the skip drops the byte after the code, which is the most that can be lost.
      if (in_left == 0) break;
      ++in;
      --in_left;
      continue;
    }
    // EINVAL: the input ends inside a multi-byte sequence; it was replaced as a whole.
    break;
  }
  // Flush: a stateful encoding (ISO-2022-JP) may owe a final shift back to its initial state.
  for (;;) {
    make_room(16);
    char* dst = out.data() + used;
    std::size_t dst_left = out.size() - used;
    const std::size_t r = iconv(cd, nullptr, nullptr, &dst, &dst_left);
    used = out.size() - dst_left;
    if (r != static_cast<std::size_t>(-1) || errno != E2BIG) break;
    out.resize(out.size() * 2);
  }
  out.resize(used);
  // The output is iconv's UTF-8, which is well-formed; the check keeps the promise of the
  // header independent of the converter module's quality.
  if (!is_valid_utf8(out)) return sanitize_utf8(out);
  return out;
}

// Convert from UTF-8 strictly: any character the charset cannot represent fails.
expected<std::string> iconv_from_utf8(iconv_t cd, std::string_view utf8) {
  iconv(cd, nullptr, nullptr, nullptr, nullptr);
  std::string out;
  out.resize(utf8.size() * 2 + 16);
  std::size_t used = 0;
  char* in = const_cast<char*>(utf8.data());
  std::size_t in_left = utf8.size();
  bool flushing = false;
  for (;;) {
    char* dst = out.data() + used;
    std::size_t dst_left = out.size() - used;
    const std::size_t r = flushing ? iconv(cd, nullptr, nullptr, &dst, &dst_left)
                                   : iconv(cd, &in, &in_left, &dst, &dst_left);
    used = out.size() - dst_left;
    if (r == static_cast<std::size_t>(-1)) {
      if (errno != E2BIG) return fail(errc::conversion_failed);
      out.resize(out.size() * 2);
      continue;
    }
    // glibc counts irreversible conversions in r; a transliteration would lose the text.
    if (r > 0) return fail(errc::conversion_failed);
    if (flushing) break;
    flushing = true;
  }
  out.resize(used);
  return out;
}

} // namespace

std::string canonical_charset(std::string_view label) {
  return resolve(label).canonical;
}

bool is_known_charset(std::string_view label) {
  return !resolve(label).canonical.empty();
}

expected<std::string> to_utf8(std::string_view bytes, std::string_view charset) {
  const resolved r = resolve(charset);
  if (r.canonical.empty()) return fail(errc::unknown_charset);
  if (r.canonical == "utf-8") {
    if (is_valid_utf8(bytes)) return std::string(bytes);
    return sanitize_utf8(bytes);
  }
  if (r.canonical == "windows-1252") {
    if (!has_8bit(bytes)) return std::string(bytes);
    std::string out;
    append_cp1252(out, bytes);
    return out;
  }
  const char* decode_name = r.decode_name.c_str();
  if (const unmarked_utf* u = find_unmarked(r.canonical)) {
    if (bytes.starts_with(u->mark_le)) {
      decode_name = u->name_le;
      bytes.remove_prefix(u->mark_le.size());
    } else if (bytes.starts_with(u->mark_be)) {
      bytes.remove_prefix(u->mark_be.size());
    }
  }
  const descriptor cd(r, "UTF-8", decode_name);
  if (cd.get() == invalid_cd) return fail(errc::unknown_charset);
  return iconv_to_utf8(cd.get(), bytes);
}

std::string to_utf8_lenient(std::string_view bytes, std::string_view charset) {
  if (auto r = to_utf8(bytes, charset)) return std::move(*r);
  if (is_valid_utf8(bytes)) return std::string(bytes);
  std::string out;
  append_cp1252(out, bytes);
  return out;
}

expected<std::string> from_utf8(std::string_view utf8, std::string_view charset) {
  const resolved r = resolve(charset);
  if (r.canonical.empty()) return fail(errc::unknown_charset);
  if (!is_valid_utf8(utf8)) return fail(errc::conversion_failed);
  if (r.canonical == "utf-8") return std::string(utf8);
  // Decoding reads US-ASCII and ISO-8859-1 as Windows-1252, but writing must honour the label
  // exactly: text declared US-ASCII may not carry 8-bit bytes (RFC 2046 §4.1.2).
  const std::string norm = normalize_label(charset);
  std::string encode_name = r.encode_name;
  if (ascii_alias(norm)) {
    if (has_8bit(utf8)) return fail(errc::conversion_failed);
    return std::string(utf8);
  }
  if (r.canonical == "windows-1252" && norm != "windows-1252" && norm != "cp1252" &&
      !norm.ends_with("1252")) {
    encode_name = "ISO-8859-1";
    // ISO-8859-1 has the C1 controls U+0080-U+009F at bytes 0x80-0x9F, but readers (to_utf8
    // here, and every reader following the WHATWG encoding standard) take those bytes as the
    // Windows-1252 characters: U+008A written as 0x8A would read back as U+0160. Text with C1
    // controls cannot be carried under this label; in UTF-8 they are C2 80 to C2 9F.
    for (std::size_t i = 0; i + 1 < utf8.size(); ++i)
      if (utf8[i] == '\xC2' && static_cast<unsigned char>(utf8[i + 1]) < 0xA0)
        return fail(errc::conversion_failed);
  }
  const descriptor cd(r, encode_name.c_str(), "UTF-8");
  if (cd.get() == invalid_cd) return fail(errc::unknown_charset);
  auto out = iconv_from_utf8(cd.get(), utf8);
  // UTF-16 and UTF-32 are written big-endian behind a byte order mark, so that readers which
  // assume the other order without one (as Windows software does) still read them right.
  if (const unmarked_utf* u = find_unmarked(r.canonical); u != nullptr && out && !out->empty())
    out->insert(0, u->mark_be);
  // What is written must read back as the same text: converters are not always symmetric
  // (C1 controls in legacy CJK codepages that readers map elsewhere, JIS X 0201's yen and
  // overline), and text that a reader would see differently is refused rather than altered.
  if (out && r.canonical != "utf-16" && r.canonical != "utf-32") {
    const auto back = to_utf8(*out, charset);
    if (!back || *back != utf8) return fail(errc::conversion_failed);
  }
  return out;
}

} // namespace mailkit::mime
