// SPDX-License-Identifier: Apache-2.0
// A throwaway Dovecot for the store interop tests: a configuration under a temporary directory
// whose mail_location is a Maildir++ tree, and doveadm run against it as the mail user "nobody"
// (Dovecot refuses root). No daemon is started.
#pragma once

#include "../../unit/store/store_support.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace mailkit::store::test {

/// Run a shell command, feeding `input`; returns stdout. The test fails when it exits non-zero.
inline std::string run_command(const std::string& cmd, const std::string& input,
                               const std::string& scratch) {
  std::string in_file = scratch + "/stdin";
  std::ofstream(in_file, std::ios::binary) << input;
  std::FILE* p = ::popen((cmd + " < '" + in_file + "'").c_str(), "r");
  EXPECT_NE(p, nullptr);
  if (!p) return {};
  std::string out;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
    out.append(buf.data(), n);
  int status = ::pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd << "\n" << out;
  return out;
}

struct dovecot {
  std::string dir, conf, maildir, user = "testuser";

  /// `mail_location` may use Dovecot's variables (%n: the user part of USER).
  dovecot(const std::string& base, const std::string& mail_location) : dir(base) {
    namespace fs = std::filesystem;
    conf = dir + "/dovecot.conf";
    maildir = mail_location;
    fs::create_directories(dir + "/run");
    fs::create_directories(dir + "/state");
    fs::create_directories(dir + "/home");
    std::ofstream(conf) << "base_dir = " << dir << "/run\n"
                        << "state_dir = " << dir << "/state\n"
                        << "log_path = /dev/stderr\nssl = no\n"
                        << "mail_location = maildir:" << maildir << "\n"
                        << "mail_fsync = always\nmail_uid = nobody\nmail_gid = nogroup\n"
                        << "first_valid_uid = 1\nfirst_valid_gid = 1\n"
                        << "namespace inbox {\n  inbox = yes\n  separator = /\n}\n";
    chown_tree(dir);
    // mkdtemp made the parent 0700: the mail user must be able to pass through it.
    fs::permissions(fs::path(dir).parent_path(),
                    fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  }

  static void chown_tree(const std::string& path) {
    std::string cmd = "chown -R nobody:nogroup '" + path + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }

  // Run doveadm with `args` (already quoted), feeding `input`; returns stdout.
  std::string run(const std::string& args, const std::string& input = {}) const {
    return run_command("cd '" + dir + "' && USER='" + user + "' HOME='" + dir + "/home' " +
                           MAILKIT_DOVEADM + " -c '" + conf + "' " + args,
                       input, dir);
  }

  // uid -> flags (as doveadm prints them, \Recent dropped) for a mailbox.
  std::map<std::string, std::vector<std::string>> flags(const std::string& mailbox) const {
    auto out = run("fetch 'guid flags size.physical' mailbox '" + mailbox + "' all");
    std::map<std::string, std::vector<std::string>> r;
    std::istringstream in(out);
    std::string line, size;
    std::vector<std::string> fl;
    while (std::getline(in, line)) {
      if (line.starts_with("flags: ")) {
        fl.clear();
        std::istringstream words(line.substr(7));
        std::string w;
        while (words >> w)
          if (w != "\\Recent") fl.push_back(w);
      } else if (line.starts_with("size.physical: ")) {
        size = line.substr(15);
        std::sort(fl.begin(), fl.end());
        r[size + "#" + std::to_string(r.size())] = fl;
      }
    }
    return r;
  }

  /// One message as doveadm sees it.
  struct seen_message {
    uid_type uid = 0;
    std::vector<std::string> flags; ///< sorted, \Recent dropped
    friend bool operator==(const seen_message&, const seen_message&) = default;
  };
  /// Subject -> (uid, flags) of every message of a mailbox (subjects are unique in the tests).
  std::map<std::string, seen_message> by_subject(const std::string& mailbox) const {
    auto out = run("-f tab fetch 'uid flags hdr.subject' mailbox '" + mailbox + "' all");
    std::map<std::string, seen_message> r;
    std::istringstream in(out);
    std::string line;
    std::getline(in, line); // the header row
    while (std::getline(in, line)) {
      std::istringstream cols(line);
      std::string uid, flags, subject;
      std::getline(cols, uid, '\t');
      std::getline(cols, flags, '\t');
      std::getline(cols, subject);
      seen_message m;
      m.uid = static_cast<uid_type>(std::stoul(uid));
      std::istringstream words(flags);
      std::string w;
      while (words >> w)
        if (w != "\\Recent") m.flags.push_back(w);
      std::sort(m.flags.begin(), m.flags.end());
      r[subject] = m;
    }
    return r;
  }

  /// "uidvalidity", "uidnext" and "messages" of a mailbox.
  std::map<std::string, std::uint64_t> status(const std::string& mailbox) const {
    auto out = run("-f tab mailbox status 'uidvalidity uidnext messages' '" + mailbox + "'");
    std::istringstream in(out);
    std::string head, values;
    std::getline(in, head);
    std::getline(in, values);
    std::istringstream h(head), v(values);
    std::map<std::string, std::uint64_t> r;
    std::string name, value;
    while (std::getline(h, name, '\t') && std::getline(v, value, '\t'))
      if (name != "mailbox") r[name] = std::stoull(value);
    return r;
  }
};

inline std::vector<std::string> sorted_names(const flag_set& f) {
  auto v = f.names();
  std::sort(v.begin(), v.end());
  return v;
}

} // namespace mailkit::store::test
