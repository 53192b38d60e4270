// SPDX-License-Identifier: Apache-2.0
// A HestiaCP server's mail in one go (import_hestia.hpp): the Hestia and Exim files are read
// here; accounts and Maildirs go through import_passwd() and import_maildir().
#include "internal.hpp"

#include <mailkit/store/import_hestia.hpp>
#include <mailkit/store/maildir.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

namespace mailkit::store {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

// A name read from the old server's files that becomes one component of a path: it must stay
// in its directory.
bool safe_component(std::string_view s) {
  if (s.empty() || s.size() > 255 || s.front() == '.') return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '/' || c == '\0' || static_cast<unsigned char>(c) < 0x20;
  });
}

// The DKIM selector becomes a file name and a DNS label (RFC 6376 §3.1: sub-domain syntax).
bool valid_selector(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '.' || s.front() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// A whole small file, or nullopt with the reason in `why` ("path: strerror"). Files over
// max_hestia_file are refused: Hestia's own files are small, and this bounds the memory.
std::optional<std::string> read_small(const fs::path& p, std::string& why) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why = p.string() + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string out;
  char buf[65536];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      why = p.string() + ": " + std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_hestia_file) {
      why = p.string() + ": larger than " + std::to_string(max_hestia_file) + " bytes";
      ::close(fd);
      return std::nullopt;
    }
  }
  ::close(fd);
  return out;
}

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

std::vector<std::string> subdirs(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (is_dir(it->path())) out.push_back(it->path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
  return out;
}

// A store failure that stops the whole import: the store cannot take writes now (disk full,
// I/O, lock); what was done is kept and a re-run resumes.
bool stops_import(const error_code& ec) {
  return ec.category() == store_category() && !is_permanent(ec);
}

struct domain_source {
  std::string domain;
  std::string user;
  std::string selector; ///< from mail.conf's DKIM_SELECTOR, "" when not set
};

// The Hestia user of a domain found only under /etc/exim4/domains: Hestia makes
// /etc/exim4/domains/<domain> a link to /home/<user>/conf/mail/<domain>; failing that, the
// home directory that holds mail for it.
std::string owner_of(const fs::path& root, const std::string& domain) {
  std::error_code ec;
  auto target = fs::read_symlink(root / "etc/exim4/domains" / domain, ec);
  if (!ec) {
    std::vector<std::string> parts;
    for (const auto& p : target)
      parts.push_back(p.string());
    for (std::size_t i = 0; i + 2 < parts.size(); ++i)
      if (parts[i] == "home" && safe_component(parts[i + 1])) return parts[i + 1];
  }
  for (const auto& user : subdirs(root / "home"))
    if (is_dir(root / "home" / user / "mail" / domain)) return user;
  return {};
}

// /etc/exim4/domains/<domain>/<file> under the root. An absolute link (Hestia's
// /etc/exim4/domains/<domain> -> /home/<user>/conf/mail/<domain>) is followed inside the root,
// not on the machine running the import.
fs::path exim_file(const fs::path& root, const std::string& domain, const char* file) {
  fs::path dir = root / "etc/exim4/domains" / domain;
  std::error_code ec;
  auto target = fs::read_symlink(dir, ec);
  if (!ec && target.is_absolute()) dir = root / target.relative_path();
  return dir / file;
}

template <class T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Messages a Maildir++ tree holds (a dry run's estimate: files in cur/ and new/ of the root
// and of every ".Folder").
std::size_t count_maildir(const fs::path& dir, std::size_t& mailboxes) {
  std::size_t n = 0;
  auto count_in = [&](const fs::path& d) {
    bool any = false;
    for (const char* sub : {"cur", "new"}) {
      std::error_code ec;
      for (fs::directory_iterator it(d / sub, ec), end; !ec && it != end; it.increment(ec)) {
        any = true;
        if (it->path().filename().string().front() != '.' && it->is_regular_file(ec)) ++n;
      }
      any = any || is_dir(d / sub);
    }
    if (any) ++mailboxes;
  };
  count_in(dir);
  for (const auto& d : subdirs(dir))
    if (d.size() > 1 && d.front() == '.') count_in(dir / d);
  return n;
}

// Copy the DKIM key durably, mode 0600, never over a different file.
void copy_dkim_key(const std::string& pem, const fs::path& dest, hestia_domain_report& rep) {
  std::string why;
  if (path_exists(dest)) {
    auto have = read_small(dest, why);
    if (!have)
      rep.errors.push_back("DKIM key: " + why);
    else if (*have != pem)
      rep.errors.push_back("DKIM key: " + dest.string() +
                           " exists with another key: left as it is (move it away to import)");
    return;
  }
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  if (ec) {
    rep.errors.push_back("DKIM key: " + dest.parent_path().string() + ": " + ec.message());
    return;
  }
  const std::string tmp = dest.string() + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  auto fail_with = [&](const char* what) {
    rep.errors.push_back("DKIM key: " + std::string(what) + " " + tmp + ": " +
                         std::strerror(errno));
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
  };
  if (fd < 0) return fail_with("cannot create");
  std::string_view data = pem;
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_with("cannot write");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0) return fail_with("cannot fsync");
  ::close(fd);
  fd = -1;
  if (::rename(tmp.c_str(), dest.c_str()) != 0) return fail_with("cannot rename");
  if (int d = ::open(dest.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
    (void)::fsync(d);
    ::close(d);
  }
  rep.dkim_copied = true;
}

// One domain; returns an error only when the whole import must stop.
expected<void> import_domain(mail_store& store, const hestia_options& opt, const fs::path& root,
                             const domain_source& src, hestia_domain_report& rep) {
  const std::string& domain = src.domain;
  const bool dry = opt.dry_run;

  // The domain.
  auto hosted = store.domains();
  if (!hosted) return make_unexpected(hosted.error());
  if (!contains(*hosted, domain)) {
    rep.domain_created = true;
    if (!dry) {
      if (auto r = store.add_domain(domain); !r) {
        if (stops_import(r.error())) return make_unexpected(r.error());
        rep.errors.push_back("domain " + domain + ": " + r.error().message());
        return {}; // nothing else can go in without the domain
      }
    }
  }

  // Accounts with their hashes: import_passwd() creates them; the file is read here too for
  // the account names (Maildirs, forwards).
  std::vector<std::string> locals; // local parts of the file's accounts
  const fs::path passwd = exim_file(root, domain, "passwd");
  std::string why;
  if (auto text = read_small(passwd, why)) {
    auto file = parse_dovecot_passwd(*text);
    if (!file) {
      rep.errors.push_back(passwd.string() + ": " + file.error().message());
    } else {
      for (const auto& e : file->entries) {
        std::string user = lower(e.user);
        if (auto at = user.find('@'); at != std::string::npos) {
          if (user.substr(at + 1) != domain) continue; // import_passwd refuses it
          user.resize(at);
        }
        locals.push_back(user);
      }
      if (dry) {
        for (const auto& l : locals) {
          auto a = store.account(std::string(l).append("@").append(domain));
          ++(a ? rep.accounts_existing : rep.accounts_created);
        }
      } else {
        auto r = import_passwd(store, domain, passwd.string());
        if (!r) {
          if (stops_import(r.error())) return make_unexpected(r.error());
          rep.errors.push_back(passwd.string() + ": " + r.error().message());
        } else {
          rep.accounts_created = r->created;
          rep.accounts_existing = r->existing;
          for (const auto& refused : r->refused)
            rep.errors.push_back(passwd.string() + ": refused " + refused);
          if (r->bad_lines)
            rep.errors.push_back(passwd.string() + ": " + std::to_string(r->bad_lines) +
                                 " unreadable line(s) skipped");
        }
      }
    }
  } else {
    rep.errors.push_back("accounts: " + why);
  }

  // Aliases, forwards and the catch-all.
  const fs::path aliases_path = exim_file(root, domain, "aliases");
  if (path_exists(aliases_path)) {
    auto text = read_small(aliases_path, why);
    if (!text) {
      rep.errors.push_back("aliases: " + why);
    } else {
      auto parsed = parse_hestia_aliases(*text, domain);
      for (const auto& b : parsed.bad)
        rep.errors.push_back(aliases_path.string() + ": " + b);
      // Accounts that only forward (Hestia's "do not store forwarded mail").
      std::set<std::string> fwd_only;
      const fs::path fwd_path = exim_file(root, domain, "fwd_only");
      if (path_exists(fwd_path)) {
        if (auto f = read_small(fwd_path, why)) {
          for (auto line : lines_of(*f)) {
            auto name = lower(trim(line.substr(0, line.find(':'))));
            if (name.empty() || name.front() == '#') continue;
            if (name.find('@') == std::string::npos) name += "@" + domain;
            fwd_only.insert(name);
          }
        } else {
          rep.errors.push_back("forwards: " + why);
        }
      }
      std::set<std::pair<std::string, std::string>> have;
      if (auto existing = store.aliases(domain)) have.insert(existing->begin(), existing->end());
      for (const auto& a : parsed.aliases) {
        std::vector<std::string> targets;
        for (const auto& t : a.targets)
          if (!contains(targets, lower(t))) targets.push_back(lower(t));
        const std::string local = a.source.substr(0, a.source.rfind('@'));
        // Exim's `aliases` router is `unseen`: an account's forward also delivers to the
        // account, unless the account is in fwd_only. In the store that is the account itself
        // among the alias's targets.
        bool keep_copy =
            a.source.front() != '*' && contains(locals, local) && !fwd_only.count(a.source);
        if (keep_copy) {
          if (!contains(targets, a.source)) targets.insert(targets.begin(), a.source);
          ++rep.forwards_with_copy;
        }
        if (a.source.front() == '*') rep.catch_all = a.targets;
        std::vector<std::string> fresh;
        for (const auto& t : targets)
          ++(have.count({a.source, t}) ? rep.aliases_existing : rep.aliases_added);
        for (const auto& t : targets)
          if (!have.count({a.source, t})) fresh.push_back(t);
        if (dry || fresh.empty()) continue;
        if (auto r = store.add_alias(a.source, fresh); !r) {
          if (stops_import(r.error())) return make_unexpected(r.error());
          rep.aliases_added -= fresh.size();
          rep.errors.push_back("alias " + a.source + ": " + r.error().message());
          continue;
        }
        if (keep_copy) {
          // A store that expands an alias without delivering to the account it names would
          // lose the copy Hestia kept: check, and undo rather than lose mail.
          auto res = store.resolve_recipient(a.source);
          bool local_copy = false;
          if (res)
            for (const auto& t : res->targets)
              local_copy =
                  local_copy || (t.where == delivery_target::kind::local && t.address == a.source);
          if (!local_copy) {
            for (const auto& t : fresh)
              (void)store.remove_alias(a.source, t);
            rep.aliases_added -= fresh.size();
            rep.errors.push_back(
                "alias " + a.source +
                ": a forward that also keeps a copy in the account, which this store cannot "
                "resolve: not imported (mail to it stays in the account)");
          }
        }
      }
    }
  }

  // The DKIM key.
  const fs::path dkim_pem = exim_file(root, domain, "dkim.pem");
  if (path_exists(dkim_pem)) {
    std::string selector = src.selector.empty() ? "mail" : src.selector;
    const fs::path domain_conf =
        root / "usr/local/hestia/data/users" / src.user / "mail" / (domain + ".conf");
    if (!src.user.empty() && path_exists(domain_conf)) {
      if (auto conf = read_small(domain_conf, why)) {
        for (auto line : lines_of(*conf))
          if (auto s = hestia_conf_value(line, "DKIM_SELECTOR"); !s.empty()) selector = s;
      }
    }
    if (!valid_selector(selector)) {
      rep.errors.push_back("DKIM key: selector '" + selector + "' is not a DNS label");
    } else if (auto pem = read_small(dkim_pem, why)) {
      rep.dkim_selector = selector;
      if (opt.dkim_dir.empty()) {
        rep.dkim_key_file = dkim_pem.string();
      } else {
        const fs::path dest = fs::path(opt.dkim_dir) / (domain + "." + selector + ".pem");
        rep.dkim_key_file = dest.string();
        if (dry)
          rep.dkim_copied = !path_exists(dest);
        else
          copy_dkim_key(*pem, dest, rep);
      }
    } else {
      rep.errors.push_back("DKIM key: " + why);
    }
  }

  // Mail: /home/<user>/mail/<domain>/<account>/ for every account of the passwd-file.
  if (!src.user.empty()) {
    const fs::path mail_dir = root / "home" / src.user / "mail" / domain;
    for (const auto& local : locals) {
      if (!safe_component(local)) {
        rep.errors.push_back(std::string("mail of ").append(local).append("@").append(domain) +
                             ": not a usable directory name");
        continue;
      }
      const fs::path dir = mail_dir / local;
      if (!is_dir(dir)) continue; // never received mail
      ++rep.mail_accounts;
      if (dry) {
        rep.mail.imported += count_maildir(dir, rep.mail.mailboxes);
        continue;
      }
      const std::string address = std::string(local).append("@").append(domain);
      if (!store.account(address)) continue; // refused above: already reported
      auto r = import_maildir(store, address, dir.string());
      if (!r) {
        if (stops_import(r.error()) && r.error() != make_error_code(errc::permission_denied))
          return make_unexpected(r.error());
        rep.errors.push_back("mail of " + address + " (" + dir.string() +
                             "): " + r.error().message());
        continue;
      }
      rep.mail.mailboxes += r->mailboxes;
      rep.mail.imported += r->imported;
      rep.mail.duplicates += r->duplicates;
      rep.mail.failed += r->failed;
      rep.mail.uids_kept += r->uids_kept;
      rep.mail.uidvalidities_kept += r->uidvalidities_kept;
      if (r->failed)
        rep.errors.push_back("mail of " + address + ": " + std::to_string(r->failed) +
                             " unreadable message file(s) skipped");
    }
  }
  return {};
}

} // namespace

std::string hestia_conf_value(std::string_view line, std::string_view key) {
  // Hestia writes KEY='value' pairs separated by spaces; values never hold a quote.
  std::size_t pos = 0;
  while ((pos = line.find(key, pos)) != std::string_view::npos) {
    bool starts = pos == 0 || line[pos - 1] == ' ' || line[pos - 1] == '\t';
    auto rest = line.substr(pos + key.size());
    if (starts && rest.starts_with("='")) {
      rest.remove_prefix(2);
      return std::string(rest.substr(0, rest.find('\'')));
    }
    pos += key.size();
  }
  return {};
}

hestia_aliases parse_hestia_aliases(std::string_view file, std::string_view domain) {
  hestia_aliases out;
  const std::string dom = lower(domain);
  std::vector<std::string> logical;
  for (auto line : lines_of(file)) {
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t') && !logical.empty()) {
      // Exim lsearch: a line starting with white space continues the previous one.
      logical.back() += " " + trim(line);
      continue;
    }
    logical.emplace_back(trim(line));
  }
  for (const auto& line : logical) {
    if (line.empty() || line.front() == '#') continue;
    // The key ends at a colon or white space; the value may start with a colon.
    auto end = line.find_first_of(": \t");
    std::string key = lower(line.substr(0, end));
    std::string value = end == std::string::npos ? "" : trim(std::string_view(line).substr(end));
    if (!value.empty() && value.front() == ':') value = trim(std::string_view(value).substr(1));
    auto at = key.rfind('@');
    if (at == std::string::npos || at == 0 || key.substr(at + 1) != dom) {
      out.bad.push_back(std::string("'").append(key).append("': not an address of ").append(dom));
      continue;
    }
    hestia_alias a;
    a.source = key;
    std::string_view v = value;
    while (!v.empty()) {
      auto comma = v.find(',');
      auto t = trim(v.substr(0, comma));
      v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
      if (t.empty()) continue;
      const bool control = std::any_of(t.begin(), t.end(), [](char ch) {
        return static_cast<unsigned char>(ch) <= 0x20 || static_cast<unsigned char>(ch) == 0x7f;
      });
      if (control || t.find('@') == std::string::npos || t.front() == ':' || t.front() == '|' ||
          t.front() == '/') {
        // :blackhole:, :fail:, pipes and files have no equivalent in store aliases.
        out.bad.push_back(std::string("'")
                              .append(key)
                              .append("': target '")
                              .append(t)
                              .append("' is not an address"));
        continue;
      }
      a.targets.push_back(std::move(t));
    }
    if (a.targets.empty()) {
      if (out.bad.empty() || !out.bad.back().starts_with("'" + key + "'"))
        out.bad.push_back("'" + key + "': no target");
      continue;
    }
    out.aliases.push_back(std::move(a));
  }
  return out;
}

expected<hestia_report> import_hestia(mail_store& store, const hestia_options& opt) {
  hestia_report rep;
  const fs::path root = opt.root.empty() ? fs::path("/") : fs::path(opt.root);
  const fs::path users_dir = root / "usr/local/hestia/data/users";

  // The domains, from Hestia's data (each user's mail.conf), or from Exim's configuration.
  std::vector<domain_source> sources;
  std::vector<std::string> users = opt.users;
  if (users.empty()) users = subdirs(users_dir);
  bool any_conf = false;
  for (const auto& user : users) {
    if (!safe_component(user)) {
      rep.errors.push_back("user '" + user + "': not a user name");
      continue;
    }
    const fs::path conf = users_dir / user / "mail.conf";
    if (!path_exists(conf)) continue;
    any_conf = true;
    std::string why;
    auto text = read_small(conf, why);
    if (!text) {
      rep.errors.push_back(why);
      continue;
    }
    for (auto line : lines_of(*text)) {
      auto d = lower(hestia_conf_value(line, "DOMAIN"));
      if (d.empty()) continue;
      sources.push_back({d, user, hestia_conf_value(line, "DKIM_SELECTOR")});
    }
  }
  if (!any_conf) {
    // Hestia's entries there are links whose absolute targets only exist inside the root.
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(root / "etc/exim4/domains", ec), end; !ec && it != end;
         it.increment(ec))
      if (it->is_symlink(ec) || is_dir(it->path())) names.push_back(it->path().filename());
    std::sort(names.begin(), names.end());
    for (const auto& d : names) {
      domain_source s{lower(d), owner_of(root, d), {}};
      if (!opt.users.empty() && !contains(opt.users, s.user)) continue;
      sources.push_back(std::move(s));
    }
    if (sources.empty() && !is_dir(root / "etc/exim4/domains"))
      rep.errors.push_back("no mail domains: neither " + users_dir.string() + "/*/mail.conf nor " +
                           (root / "etc/exim4/domains").string() + " can be read");
  }
  for (const auto& want : opt.domains)
    if (std::none_of(sources.begin(), sources.end(),
                     [&](const domain_source& s) { return s.domain == lower(want); }))
      rep.errors.push_back("domain " + want + ": not found on the old server");

  for (const auto& src : sources) {
    if (!opt.domains.empty() &&
        std::none_of(opt.domains.begin(), opt.domains.end(),
                     [&](const std::string& d) { return lower(d) == src.domain; }))
      continue;
    hestia_domain_report d;
    d.domain = src.domain;
    d.user = src.user;
    if (!safe_component(src.domain)) {
      d.errors.emplace_back("not a domain name");
      rep.domains.push_back(std::move(d));
      continue;
    }
    if (src.user.empty()) d.errors.emplace_back("no Hestia user owns it: its mail was not found");
    auto r = import_domain(store, opt, root, src, d);
    rep.domains.push_back(std::move(d));
    if (!r) return make_unexpected(r.error());
  }
  return rep;
}

} // namespace mailkit::store
