// SPDX-License-Identifier: Apache-2.0
// Maildir / mbox import and Maildir export: the file-system side of maildir.hpp's readers.
#include "internal.hpp"

#include <mailkit/mime/date.hpp>
#include <mailkit/mime/message.hpp>
#include <mailkit/store/mailbox_name.hpp>
#include <mailkit/store/maildir.hpp>
#include <mailkit/store/store.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>

namespace mailkit::store {
namespace {

tl::unexpected<error_code> errno_fail() {
  return tl::unexpected<error_code>(detail::from_errno(errno));
}

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> list(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(std::move(n));
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> slurp(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return std::nullopt;
  std::string out;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    out.append(buf, n);
  bool ok = !std::ferror(f);
  std::fclose(f);
  if (!ok) return std::nullopt;
  return out;
}

// Maildir++ folder ".Sub.Folder" (modified UTF-7, "." separated) to "Sub/Folder".
std::optional<std::string> folder_to_mailbox(std::string_view dir) {
  if (dir.size() < 2 || dir.front() != '.') return std::nullopt;
  auto decoded = decode_mutf7(dir.substr(1));
  if (!decoded) return std::nullopt;
  std::string name = *decoded;
  std::replace(name.begin(), name.end(), '.', '/');
  auto n = normalize_mailbox_name(name);
  if (!n) return std::nullopt;
  return *n;
}

struct maildir_entry {
  std::string path;
  std::string name;
  bool is_new = false;
  std::uint32_t uid = UINT32_MAX; // from dovecot-uidlist, else last
  bool listed = false;            // the UID is Dovecot's
  std::int64_t mtime = 0;
};

expected<void> import_folder(mail_store& store, std::string_view account, const std::string& dir,
                             const std::string& mailbox, import_report& rep) {
  if (auto r = store.create_mailbox(account, mailbox);
      !r && r.error() != make_error_code(errc::already_exists))
    return make_unexpected(r.error());
  ++rep.mailboxes;
  std::array<std::string, 26> keywords;
  if (auto kw = slurp(dir + "/dovecot-keywords")) keywords = parse_dovecot_keywords(*kw);
  dovecot_uidlist uidlist;
  if (auto ul = slurp(dir + "/dovecot-uidlist")) {
    if (auto parsed = parse_dovecot_uidlist(*ul)) uidlist = std::move(*parsed);
  }
  std::vector<maildir_entry> entries;
  for (const char* sub : {"cur", "new"}) {
    std::string subdir = dir + "/" + sub;
    for (auto& f : list(subdir)) {
      if (f.front() == '.') continue;
      maildir_entry e;
      e.path = subdir + "/" + f;
      e.is_new = std::string_view(sub) == "new";
      struct stat st {};
      if (::stat(e.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        ++rep.failed;
        continue;
      }
      e.mtime = static_cast<std::int64_t>(st.st_mtime);
      auto parsed = parse_maildir_name(f);
      if (auto it = uidlist.uids.find(parsed.base); it != uidlist.uids.end()) {
        e.uid = it->second;
        e.listed = true;
      }
      e.name = std::move(f);
      entries.push_back(std::move(e));
    }
  }
  // The uidlist order first (so UIDs keep their relative order), then by name: Maildir names
  // begin with the delivery time.
  std::sort(entries.begin(), entries.end(), [](const maildir_entry& a, const maildir_entry& b) {
    return std::tie(a.uid, a.name) < std::tie(b.uid, b.name);
  });
  // Keep Dovecot's UIDs and UIDVALIDITY, so that IMAP clients keep their caches across the
  // migration, when this mailbox is new here (or took them over in an earlier run of the same
  // import). Messages Dovecot has not listed yet get UIDs from its "N" (next UID) on, as
  // Dovecot would have: a UID it handed out for a message since expunged is never reused.
  bool keep_uids = false;
  // A uidlist whose UIDs reach into the top half of the range would leave the mailbox almost
  // no UIDs to give (RFC 3501 UIDs are 32-bit and never reused): such a folder gets new ones.
  constexpr uid_type max_kept_uid = 0x7fffffff;
  bool sane = uidlist.next_uid <= max_kept_uid;
  for (const auto& e : entries)
    if (e.listed && e.uid > max_kept_uid) sane = false;
  if (uidlist.uidvalidity != 0 && sane) {
    auto adopted = store.adopt_uidvalidity(account, mailbox, uidlist.uidvalidity);
    if (!adopted) return make_unexpected(adopted.error());
    keep_uids = *adopted;
    if (keep_uids) ++rep.uidvalidities_kept;
  }
  if (keep_uids) {
    uid_type next = uidlist.next_uid;
    for (const auto& e : entries)
      if (e.uid != UINT32_MAX) next = std::max<uid_type>(next, e.uid + 1);
    for (auto& e : entries)
      if (e.uid == UINT32_MAX && next < UINT32_MAX) e.uid = next++;
  }
  // Batches: one transaction and one directory fsync per batch, bounded in count and bytes.
  constexpr std::size_t batch_count = 1000;
  constexpr std::size_t batch_bytes = 64u << 20;
  std::vector<std::string> datas;
  std::vector<mail_store::batch_item> batch;
  std::vector<bool> listed; // per batch item: its UID is Dovecot's
  std::size_t bytes = 0;
  auto flush = [&]() -> expected<void> {
    if (batch.empty()) return {};
    auto r = store.append_batch(account, mailbox, batch, true);
    if (r && keep_uids) {
      for (std::size_t i = 0; i < batch.size(); ++i)
        if (listed[i] && (*r)[i] && (*r)[i]->uid == batch[i].uid) ++rep.uids_kept;
    }
    if (!r) {
      if (!is_permanent(r.error()))
        return make_unexpected(r.error()); // disk full and the like: stop, re-run later
      // A permanent failure (one unreadable message): retry one by one to isolate it.
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto& it = batch[i];
        auto one = store.append_batch(account, mailbox, std::span(&it, 1), true);
        if (!one) {
          if (!is_permanent(one.error())) return make_unexpected(one.error());
          ++rep.failed;
        } else if ((*one)[0]) {
          ++rep.imported;
          if (keep_uids && listed[i] && (*one)[0]->uid == it.uid) ++rep.uids_kept;
        } else {
          ++rep.duplicates;
        }
      }
    } else {
      for (const auto& res : *r)
        ++(res ? rep.imported : rep.duplicates);
    }
    batch.clear();
    listed.clear();
    datas.clear();
    bytes = 0;
    return {};
  };
  datas.reserve(batch_count);
  for (const auto& e : entries) {
    auto data = slurp(e.path);
    if (!data || data->empty()) {
      ++rep.failed;
      continue;
    }
    auto parsed = parse_maildir_name(e.name);
    flag_set flags;
    // Flags come from the name wherever the file is: Dovecot also sets them on files it has
    // not yet moved out of new/.
    flags.system = parsed.system;
    if (parsed.passed) flags.keywords.emplace_back("$Forwarded");
    for (int i = 0; i < 26; ++i)
      if ((parsed.keyword_letters & (1u << i)) && !keywords[i].empty())
        flags.keywords.push_back(keywords[i]);
    flags.normalize();
    bytes += data->size();
    datas.push_back(std::move(*data));
    // Dovecot keeps the received date as the file's mtime.
    batch.push_back(
        {datas.back(), std::move(flags), e.mtime, keep_uids && e.uid != UINT32_MAX ? e.uid : 0});
    listed.push_back(keep_uids && e.listed);
    if (batch.size() >= batch_count || bytes >= batch_bytes) {
      if (auto r = flush(); !r) return r;
    }
  }
  if (auto r = flush(); !r) return r;
  if (keep_uids && uidlist.next_uid > 1)
    if (auto r = store.raise_uidnext(account, mailbox, uidlist.next_uid); !r) return r;
  return {};
}

} // namespace

expected<import_report> import_maildir(mail_store& store, std::string_view account,
                                       const std::string& path) {
  if (!is_dir(path)) return fail(errc::invalid_argument);
  import_report rep;
  if (is_dir(path + "/cur") || is_dir(path + "/new")) {
    if (auto r = import_folder(store, account, path, "INBOX", rep); !r)
      return make_unexpected(r.error());
  }
  for (const auto& d : list(path)) {
    auto mailbox = folder_to_mailbox(d);
    if (!mailbox || !is_dir(path + "/" + d)) continue;
    if (auto r = import_folder(store, account, path + "/" + d, *mailbox, rep); !r)
      return make_unexpected(r.error());
  }
  // Dovecot's subscriptions file: "V\t2\n\n" then names with TAB as the separator (version 2),
  // or one Maildir++ name per line ("." separated) in the old form.
  if (auto subs = slurp(path + "/subscriptions")) {
    std::string_view text = *subs;
    char sep = '.';
    if (text.starts_with("V\t2\n")) {
      sep = '\t';
      text.remove_prefix(4);
    }
    while (!text.empty()) {
      auto nl = text.find('\n');
      std::string name(text.substr(0, nl));
      text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
      if (name.empty()) continue;
      std::replace(name.begin(), name.end(), sep, '/');
      if (auto decoded = decode_mutf7(name)) (void)store.set_subscribed(account, *decoded, true);
    }
  }
  return rep;
}

expected<import_report> import_mbox(mail_store& store, std::string_view account,
                                    const std::string& path, std::string_view mailbox) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return errno_fail();
  import_report rep;
  if (auto r = store.create_mailbox(account, mailbox);
      !r && r.error() != make_error_code(errc::already_exists)) {
    std::fclose(f);
    return make_unexpected(r.error());
  }
  rep.mailboxes = 1;
  mbox_reader reader;
  auto drain = [&]() -> expected<void> {
    for (auto& m : reader.take()) {
      std::int64_t date = 0;
      if (m.date) {
        date = *m.date;
      } else if (auto parsed = mime::parse(std::string_view(m.data)); parsed) {
        if (auto d = parsed->date()) date = d->to_unix();
      }
      auto r = store.append_unique(account, mailbox, m.data, m.flags, date);
      if (!r) {
        if (is_permanent(r.error())) {
          ++rep.failed;
          continue;
        }
        return make_unexpected(r.error());
      }
      if (*r)
        ++rep.imported;
      else
        ++rep.duplicates;
    }
    return {};
  };
  char buf[1 << 16];
  std::size_t n;
  expected<void> status;
  while (status && (n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    status = reader.feed(std::string_view(buf, n));
    if (status) status = drain();
  }
  bool read_error = std::ferror(f);
  std::fclose(f);
  if (read_error) return fail(errc::io_error);
  if (!status) return make_unexpected(status.error());
  if (auto r = reader.finish(); !r) return make_unexpected(r.error());
  if (auto r = drain(); !r) return make_unexpected(r.error());
  return rep;
}

expected<passwd_import_report> import_passwd(mail_store& store, std::string_view domain,
                                             const std::string& path) {
  auto domains = store.domains();
  if (!domains) return make_unexpected(domains.error());
  std::string dom(domain);
  std::transform(dom.begin(), dom.end(), dom.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (std::find(domains->begin(), domains->end(), dom) == domains->end())
    return fail(errc::no_such_domain);
  auto text = slurp(path);
  if (!text) return errno_fail();
  auto file = parse_dovecot_passwd(*text);
  if (!file) return make_unexpected(file.error());
  passwd_import_report rep;
  rep.bad_lines = file->bad_lines;
  for (const auto& e : file->entries) {
    std::string user(e.user);
    std::string address = user.find('@') == std::string::npos ? user + "@" + dom : user;
    std::string lowered = address;
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!lowered.ends_with("@" + dom)) {
      rep.refused.push_back(user + ": not in " + dom);
      continue;
    }
    quota q;
    q.bytes = e.quota_bytes.value_or(0);
    auto r = store.add_account_with_hash(address, e.hash, q);
    if (r) {
      ++rep.created;
    } else if (r.error() == make_error_code(errc::already_exists)) {
      ++rep.existing;
    } else if (is_permanent(r.error())) {
      rep.refused.push_back(user + ": " + r.error().message());
    } else {
      return make_unexpected(r.error()); // disk full and the like: stop, re-run later
    }
  }
  return rep;
}

namespace {

expected<void> write_durable(const std::string& dir, const std::string& name, std::string_view data,
                             std::int64_t mtime) {
  auto slash = name.rfind('/');
  std::string tmp = dir + "/tmp/" + name.substr(slash + 1);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno_fail();
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      auto e = errno_fail();
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0) {
    auto e = errno_fail();
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  ::close(fd);
  // Dovecot reads the received date from the mtime.
  if (mtime > 0) {
    struct timeval tv[2] = {{static_cast<time_t>(mtime), 0}, {static_cast<time_t>(mtime), 0}};
    ::utimes(tmp.c_str(), tv);
  }
  if (::rename(tmp.c_str(), name.c_str()) != 0) {
    auto e = errno_fail();
    ::unlink(tmp.c_str());
    return e;
  }
  return {};
}

expected<void> fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_fail();
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return errno_fail();
  return {};
}

} // namespace

expected<import_report> export_maildir(mail_store& store, std::string_view account,
                                       const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0) {
    if (errno != EEXIST || !list(path).empty()) return fail(errc::already_exists);
  }
  auto boxes = store.mailboxes(account);
  if (!boxes) return make_unexpected(boxes.error());
  import_report rep;
  std::string subscriptions;
  for (const auto& mb : *boxes) {
    std::string dir = path;
    std::string folder;
    if (mb.name != "INBOX") {
      // Maildir++ uses "." as the separator, so a "." inside a name cannot be written:
      // it becomes "_" (reported in docs/store.md).
      std::string dotted = mb.name;
      std::replace(dotted.begin(), dotted.end(), '.', '_');
      std::replace(dotted.begin(), dotted.end(), '/', '.');
      folder = encode_mutf7(dotted);
      dir = path + "/." + folder;
    }
    for (const auto& d : {dir, dir + "/cur", dir + "/new", dir + "/tmp"})
      if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) return errno_fail();
    if (mb.subscribed && !folder.empty()) subscriptions += folder + "\n";
    ++rep.mailboxes;
    auto msgs = store.messages(account, mb.name);
    if (!msgs) return make_unexpected(msgs.error());
    // Keyword letters a..z in order of first use (Maildir has room for 26).
    std::vector<std::string> letters;
    for (const auto& m : *msgs)
      for (const auto& k : m.flags.keywords)
        if (std::find(letters.begin(), letters.end(), k) == letters.end() && letters.size() < 26)
          letters.push_back(k);
    if (!letters.empty()) {
      std::string kw;
      for (std::size_t i = 0; i < letters.size(); ++i)
        kw += std::to_string(i) + " " + letters[i] + "\n";
      std::string tmp_name = dir + "/dovecot-keywords";
      if (auto r = write_durable(dir, tmp_name, kw, 0); !r) return make_unexpected(r.error());
    }
    for (const auto& m : *msgs) {
      auto data = store.fetch(account, mb.name, m.uid);
      if (!data) {
        ++rep.failed;
        continue;
      }
      std::string kl;
      for (const auto& k : m.flags.keywords) {
        auto it = std::find(letters.begin(), letters.end(), k);
        if (it != letters.end()) kl += char('a' + (it - letters.begin()));
      }
      auto base = std::to_string(m.internal_date) + ".M" + std::to_string(m.uid) + "P" +
                  std::to_string(::getpid()) + ".mailkit,S=" + std::to_string(data->size());
      auto name = base + maildir_info(m.flags.system, kl);
      if (auto r = write_durable(dir, dir + "/cur/" + name, *data, m.internal_date); !r)
        return make_unexpected(r.error());
      ++rep.imported;
    }
    if (auto r = fsync_dir(dir + "/cur"); !r) return make_unexpected(r.error());
  }
  if (!subscriptions.empty()) {
    if (auto r = write_durable(path, path + "/subscriptions", subscriptions, 0); !r)
      return make_unexpected(r.error());
  }
  if (auto r = fsync_dir(path); !r) return make_unexpected(r.error());
  return rep;
}

} // namespace mailkit::store
