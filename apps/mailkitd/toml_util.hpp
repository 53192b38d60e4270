// SPDX-License-Identifier: Apache-2.0
// Reading mailkitd's TOML file (config.cpp, relay_config.cpp): typed lookups whose errors name
// the file, the line and the key, and unknown keys refused. `where` prefixes the key in messages
// ("outbound.", "smtp." ...).
#pragma once

#include <toml++/toml.h>

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mailkitd::toml_util {

[[noreturn]] inline void bad(const toml::node& n, const std::string& key, const std::string& why) {
  const auto& src = n.source();
  throw std::runtime_error((src.path ? *src.path : std::string("config")) + ":" +
                           std::to_string(src.begin.line) + ": " + key + ": " + why);
}

/// A list of strings; `def` when absent.
inline std::vector<std::string> strings(const toml::table& t, const std::string& key,
                                        std::vector<std::string> def = {},
                                        const std::string& where = {}) {
  const toml::node* n = t.get(key);
  if (!n) return def;
  const toml::array* a = n->as_array();
  if (!a) bad(*n, where + key, "expected a list of strings");
  std::vector<std::string> out;
  for (const auto& e : *a) {
    auto s = e.value<std::string>();
    if (!s) bad(e, where + key, "expected a string");
    out.push_back(*s);
  }
  return out;
}

/// A string; `def` when absent.
inline std::string str(const toml::table& t, const std::string& key, std::string def = {},
                       const std::string& where = {}) {
  const toml::node* n = t.get(key);
  if (!n) return def;
  auto v = n->value<std::string>();
  if (!v) bad(*n, where + key, "expected a string");
  return *v;
}

/// A value of type T; `def` when absent.
template <class T>
T value(const toml::table& t, const std::string& key, T def) {
  const toml::node* n = t.get(key);
  if (!n) return def;
  auto v = n->value<T>();
  if (!v) bad(*n, key, "wrong type");
  return *v;
}

/// A sub-table, or nullptr when absent.
inline const toml::table* sub(const toml::table& t, const std::string& key) {
  const toml::node* n = t.get(key);
  if (!n) return nullptr;
  if (!n->is_table()) bad(*n, key, "expected a table");
  return n->as_table();
}

/// Unknown keys are errors, not silently ignored typos.
inline void known(const toml::table& t, std::initializer_list<std::string_view> keys,
                  const std::string& where) {
  for (const auto& [k, v] : t) {
    bool ok = false;
    for (auto x : keys)
      ok = ok || x == k.str();
    if (!ok) bad(v, where + std::string(k.str()), "unknown key");
  }
}

} // namespace mailkitd::toml_util
