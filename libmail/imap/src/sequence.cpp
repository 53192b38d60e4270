// SPDX-License-Identifier: Apache-2.0
#include <mailkit/imap/error.hpp>
#include <mailkit/imap/sequence.hpp>

#include <algorithm>

namespace mailkit::imap {
namespace {

// RFC 9051 §9: seq-number = nz-number / "*"; nz-number = digit-nz *DIGIT within 32 bits.
bool parse_number(std::string_view s, std::uint32_t& out, bool& star) {
  star = false;
  if (s == "*") {
    star = true;
    out = 0;
    return true;
  }
  if (s.empty() || s.size() > 10 || s[0] < '1' || s[0] > '9') return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > 0xFFFFFFFFULL) return false;
  out = static_cast<std::uint32_t>(v);
  return true;
}

std::vector<std::pair<std::uint32_t, std::uint32_t>>
merge(std::vector<std::pair<std::uint32_t, std::uint32_t>> v) {
  std::sort(v.begin(), v.end());
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  for (const auto& r : v) {
    if (!out.empty() && static_cast<std::uint64_t>(out.back().second) + 1 >= r.first)
      out.back().second = std::max(out.back().second, r.second);
    else
      out.push_back(r);
  }
  return out;
}

} // namespace

mailkit::expected<sequence_set> sequence_set::parse(std::string_view text) {
  sequence_set set;
  if (text == "$") { // RFC 5182 §2.1
    set.saved_ = true;
    return set;
  }
  if (text.empty()) return mailkit::fail(errc::bad_sequence);
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    std::string_view item =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (set.ranges_.size() >= max_sequence_ranges) return mailkit::fail(errc::bad_sequence);
    range r;
    std::size_t colon = item.find(':');
    if (colon == std::string_view::npos) {
      if (!parse_number(item, r.low, r.low_star)) return mailkit::fail(errc::bad_sequence);
      r.high = r.low;
      r.high_star = r.low_star;
    } else {
      if (!parse_number(item.substr(0, colon), r.low, r.low_star) ||
          !parse_number(item.substr(colon + 1), r.high, r.high_star))
        return mailkit::fail(errc::bad_sequence);
    }
    set.ranges_.push_back(r);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return set;
}

std::vector<std::pair<std::uint32_t, std::uint32_t>>
sequence_set::resolve(std::uint32_t largest) const {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> v;
  v.reserve(ranges_.size());
  for (const auto& r : ranges_) {
    std::uint32_t a = r.low_star ? largest : r.low;
    std::uint32_t b = r.high_star ? largest : r.high;
    if (a > b) std::swap(a, b); // RFC 9051 §9: "2:4" and "4:2" are the same
    if (a == 0) {
      // Only "*" in an empty mailbox gives 0: it matches nothing.
      if (b == 0) continue;
      a = 1;
    }
    v.emplace_back(a, b);
  }
  return merge(std::move(v));
}

bool sequence_set::contains(std::uint32_t n, std::uint32_t largest) const {
  for (const auto& r : ranges_) {
    std::uint32_t a = r.low_star ? largest : r.low;
    std::uint32_t b = r.high_star ? largest : r.high;
    if (a > b) std::swap(a, b);
    if (n != 0 && n >= a && n <= b) return true;
  }
  return false;
}

std::string
sequence_set::format(const std::vector<std::pair<std::uint32_t, std::uint32_t>>& merged) {
  std::string out;
  for (const auto& [a, b] : merged) {
    if (!out.empty()) out.push_back(',');
    out += std::to_string(a);
    if (b != a) {
      out.push_back(':');
      out += std::to_string(b);
    }
  }
  return out;
}

std::vector<std::pair<std::uint32_t, std::uint32_t>>
sequence_set::compress(std::vector<std::uint32_t> numbers) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> v;
  v.reserve(numbers.size());
  for (auto n : numbers)
    v.emplace_back(n, n);
  return merge(std::move(v));
}

} // namespace mailkit::imap
