// SPDX-License-Identifier: Apache-2.0
#include <mailkit/dmarc/org_domain.hpp>

#include <libpsl.h>

#include <cstdlib>

namespace mailkit::dmarc {

namespace {

constexpr const char* debian_list = "/usr/share/publicsuffix/public_suffix_list.dat";

struct psl_holder {
  psl_ctx_t* ctx = nullptr;
  std::string source;
  psl_holder() {
    // psl_latest picks the newest of the built-in list and the given file (the DAFSA form
    // Debian installs next to the .dat is found by libpsl itself).
    ctx = psl_latest(debian_list);
    if (ctx) {
      source = debian_list;
      return;
    }
    ctx = psl_load_file(debian_list);
    if (ctx) {
      source = debian_list;
      return;
    }
    const psl_ctx_t* builtin = psl_builtin();
    if (builtin) source = "builtin";
  }
  ~psl_holder() {
    if (ctx) psl_free(ctx);
  }
  const psl_ctx_t* get() const { return ctx ? ctx : psl_builtin(); }
};

const psl_holder& holder() {
  static const psl_holder h; // thread-safe initialisation (C++11 magic statics)
  return h;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

} // namespace

std::optional<std::string> registrable_domain(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || domain.front() == '.') return std::nullopt;
  if (domain.find("..") != std::string_view::npos) return std::nullopt;
  std::string lower = ascii_lower(domain);
  // U-labels: libpsl wants lower case UTF-8.
  char* folded = nullptr;
  if (psl_str_to_utf8lower(lower.c_str(), "utf-8", nullptr, &folded) == PSL_SUCCESS && folded) {
    lower = folded;
    psl_free_string(folded);
  }
  const psl_ctx_t* psl = holder().get();
  if (!psl) {
    // No list at all: the last two labels (a documented degradation, never expected on Debian).
    const auto last = lower.rfind('.');
    if (last == std::string::npos) return std::nullopt;
    const auto prev = lower.rfind('.', last - 1);
    return prev == std::string::npos ? lower : lower.substr(prev + 1);
  }
  const char* r = psl_registrable_domain(psl, lower.c_str());
  if (!r) return std::nullopt;
  return std::string(r);
}

std::string organizational_domain(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (auto r = registrable_domain(domain)) return *r;
  // RFC 7489 §3.2: when no registrable domain exists, the domain itself stands.
  return ascii_lower(domain);
}

std::string psl_source() {
  return holder().source;
}

} // namespace mailkit::dmarc
