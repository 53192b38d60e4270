// SPDX-License-Identifier: Apache-2.0
// Shared helpers for the store tests: a temporary directory and a store with cheap hashing.
#pragma once

#include <mailkit/store/store.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace mailkit::store::test {

/// A fresh directory removed at the end of the test.
struct temp_dir {
  std::string path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mailkit-store-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  [[nodiscard]] std::string sub(const std::string& name) const { return path + "/" + name; }
};

/// Argon2id at libsodium's minimum cost: the tests hash many passwords.
inline password_policy cheap_policy() {
  return {1, 8192};
}

inline open_options options_for(const std::string& path) {
  open_options o;
  o.path = path;
  o.passwords = cheap_policy();
  return o;
}

inline std::unique_ptr<mail_store> open_store(const std::string& path) {
  auto s = open(options_for(path));
  EXPECT_TRUE(s) << (s ? "" : s.error().message());
  return s ? std::move(*s) : nullptr;
}

inline std::string sample_message(int n, std::string_view extra = {}) {
  return "From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: message " +
         std::to_string(n) + "\r\nMessage-ID: <m" + std::to_string(n) +
         "@example.org>\r\nDate: Tue, 01 Jul 2003 10:52:37 +0200\r\n\r\nBody " + std::to_string(n) +
         "\r\n" + std::string(extra);
}

/// Whether a body id names an extent of the body arena ("a" and 36 hex digits).
inline bool arena_id(const std::string& id) {
  return id.size() == 37 && id[0] == 'a';
}

/// A message of about `kb` KiB whose every line names `n` (middling sizes go to the arena).
inline std::string message_of(int n, std::size_t kb) {
  std::string body;
  const std::string line =
      "line of message " + std::to_string(n) + " xxxxxxxxxxxxxxxxxxxxxxxxx\r\n";
  while (body.size() < kb * 1024)
    body += line;
  return sample_message(n, body);
}

/// A store that uses its body arena whatever the file system (also where /tmp is tmpfs).
inline open_options arena_options(const std::string& path) {
  auto o = options_for(path);
  o.arena_on_any_file_system = true;
  return o;
}

inline std::unique_ptr<mail_store> open_with(const open_options& o) {
  auto s = open(o);
  EXPECT_TRUE(s) << (s ? "" : s.error().message());
  return s ? std::move(*s) : nullptr;
}

} // namespace mailkit::store::test
