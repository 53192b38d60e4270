// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: a whole IMAP session, imap::server and server::imap_executor over a real
// store, driven by bytes. The store lives in a temporary directory made once per process; each
// input starts from the same account state (the account is removed and made again, with two
// messages in INBOX and a Work mailbox), so a crash reproduces from its file alone.
//
// Input: the first octet picks the configuration (LITERAL+ or LITERAL-, an automatic LOGIN
// first, UTF8=ACCEPT enabled first, FETCH tried without store access first as the I/O thread
// does); the rest is the client's byte stream, fed in pieces whose
// sizes come from the input's hash. Between pieces the harness may act as another session or
// as delivery (a new message, a flag change, an expunge of UID 1), so the executor's update
// path (EXISTS, EXPUNGE held back during FETCH/STORE/SEARCH, FETCH FLAGS, IDLE pushes) runs
// too. Invariants: output is whole lines; commands only run in the states that allow them; the
// session never runs a command while a chunked FETCH is pending.
#include "fuzz_support.hpp"

#include <mailkit/server/imap_executor.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <unistd.h>

namespace {

namespace imap = mailkit::imap;
namespace srv = mailkit::server;
namespace fs = std::filesystem;

constexpr const char* account = "bob@fuzz.test";
constexpr const char* password = "pw";

const char* const seed_messages[] = {
    "From: Alice <alice@fuzz.test>\r\nTo: bob@fuzz.test\r\nSubject: Hello\r\n"
    "Date: Tue, 01 Jul 2025 10:52:37 +0200\r\nMessage-ID: <m1@fuzz.test>\r\n\r\n"
    "First line with a needle\r\n",
    "From: Carol <carol@fuzz.test>\r\nTo: bob@fuzz.test\r\nSubject: "
    "=?utf-8?q?R=C3=A9sum=C3=A9?=\r\n"
    "Date: Wed, 02 Jul 2025 08:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nThe text part\r\n--b1\r\n"
    "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b1\r\n"
    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "aGVsbG8gd29ybGQ=\r\n--b1--\r\n",
};

struct fixture {
  fs::path dir;
  std::shared_ptr<mailkit::store::mail_store> store;

  fixture() {
    // /dev/shm when there is one: every append syncs its file.
    const fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    dir = base / ("mailkit_imap_executor_fuzz_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    mailkit::store::open_options o;
    o.path = (dir / "store").string();
    o.passwords.opslimit = 1;        // libsodium's minimum Argon2id cost: the fuzzer logs in
    o.passwords.memlimit = 8u << 10; // on most inputs
    auto st = mailkit::store::open(std::move(o));
    if (!st) std::abort();
    store = std::move(*st);
    if (!store->add_domain("fuzz.test")) std::abort();
  }
  ~fixture() {
    store.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  /// The same account state for every input. Making the account again costs much more than
  /// running most inputs, so it is done only when the last input changed anything a session
  /// can see: every change moves a mailbox's UIDNEXT, HIGHESTMODSEQ or message count, or its
  /// existence, name, special use or subscription.
  void reset() {
    if (!pristine.empty() && fingerprint() == pristine) return;
    (void)store->remove_account(account);
    if (!store->add_account(account, password)) std::abort();
    for (const char* m : seed_messages)
      if (!store->deliver(account, m)) std::abort();
    if (!store->create_mailbox(account, "Work")) std::abort();
    pristine = fingerprint();
  }
  std::string fingerprint() {
    auto all = store->mailboxes(account);
    if (!all) return "?";
    std::string f;
    for (const auto& mb : *all)
      f += mb.name + '\0' + mb.special_use + '\0' + std::to_string(mb.subscribed) + ' ' +
           std::to_string(mb.uidvalidity) + ' ' + std::to_string(mb.uidnext) + ' ' +
           std::to_string(mb.highestmodseq) + ' ' + std::to_string(mb.messages) + ' ' +
           std::to_string(mb.unseen) + '\n';
    return f;
  }
  std::string pristine;
};

fixture& shared() {
  static fixture f; // once per process; removed at exit
  return f;
}

/// Another session or delivery acting on the account between two pieces of input.
void outside_change(mailkit::store::mail_store& st, std::uint64_t pick) {
  switch (pick % 4) {
  case 0:
    (void)st.deliver(account, seed_messages[0]);
    break;
  case 1: {
    mailkit::store::flag_set f;
    f.add("\\Flagged");
    f.add("$Fuzz");
    const mailkit::store::uid_type uids[] = {1, 2, 3};
    (void)st.store_flags(account, "INBOX", uids, mailkit::store::flag_mode::add, f);
    break;
  }
  case 2: {
    mailkit::store::flag_set f;
    f.add("\\Deleted");
    const mailkit::store::uid_type uids[] = {1};
    (void)st.store_flags(account, "INBOX", uids, mailkit::store::flag_mode::add, f);
    (void)st.expunge(account, "INBOX", std::span<const mailkit::store::uid_type>(uids));
    break;
  }
  default:
    break; // most pieces: nothing
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  fixture& fx = shared();
  fx.reset();

  imap::server_config cfg;
  cfg.hostname = "imap.fuzz.test";
  cfg.allow_plaintext_auth = true;
  cfg.tls_active = data[0] & 1;
  cfg.limits.literal_plus = data[0] & 2;
  cfg.limits.line = 4096;
  cfg.limits.literal = 4096;
  cfg.limits.append_literal = 16 * 1024;
  cfg.limits.command = 64 * 1024;
  cfg.capabilities = srv::imap_executor_capabilities();
  imap::server core(cfg);
  srv::imap_executor exec(fx.store);
  core.greet();

  std::string prefix;
  if (data[0] & 4) prefix += std::string("0 LOGIN ") + account + " " + password + "\r\n";
  if (data[0] & 8) prefix += "1 ENABLE UTF8=ACCEPT QRESYNC\r\n";
  const std::string_view body = mailkit::fuzz::as_view(data + 1, size - 1);
  const std::uint64_t seed = mailkit::fuzz::input_hash(body);
  mailkit::fuzz::rng r(seed ^ data[0]);
  bool idling = false;
  const bool no_io_first = data[0] & 16;

  auto run = [&](std::string_view piece) {
    core.feed(piece);
    for (int guard = 0; guard < 10'000 && !core.closed(); ++guard) {
      const imap::server_event ev = core.next_event();
      using k = imap::server_event::kind;
      if (ev.k == k::need_input || ev.k == k::close) break;
      if (ev.k == k::authenticate) {
        core.auth_result(exec.authenticate(core.user(), core.password()));
      } else if (ev.k == k::starttls) {
        MAILKIT_FUZZ_CHECK(cfg.tls_available);
      } else if (ev.k == k::execute) {
        MAILKIT_FUZZ_CHECK(core.state() != imap::session_state::not_authenticated);
        MAILKIT_FUZZ_CHECK(imap::allowed_in(ev.cmd, core.state()));
        MAILKIT_FUZZ_CHECK(!exec.pending());
        // As imap_service does (bit 4 of the first octet): the part of a FETCH that needs no
        // store read on the I/O thread, the rest on a worker; or every command on a worker.
        if (!no_io_first || !exec.execute_without_io(core, ev)) exec.execute(core, ev);
        // A chunked FETCH: the session writes each chunk, then resumes.
        for (int chunks = 0; exec.pending(); ++chunks) {
          MAILKIT_FUZZ_CHECK(chunks < 100'000);
          MAILKIT_FUZZ_CHECK(core.output().empty() || core.output().back() == '\n');
          core.consume_output(core.output().size());
          if (no_io_first && exec.resumable_without_io())
            exec.resume_without_io(core);
          else
            exec.resume(core);
        }
        idling = std::holds_alternative<imap::cmd_idle>(ev.cmd);
      } else if (ev.k == k::idle_done) {
        MAILKIT_FUZZ_CHECK(idling);
        idling = false;
        exec.finish_idle(core);
      }
      MAILKIT_FUZZ_CHECK(core.output().empty() || core.output().back() == '\n');
      core.consume_output(core.output().size());
    }
  };

  run(prefix);
  for (const std::string_view piece : mailkit::fuzz::split(body, seed)) {
    if (core.closed()) break;
    run(piece);
    const std::uint64_t pick = r.next();
    if (pick % 8 == 0) outside_change(*fx.store, pick >> 8);
    if (idling) exec.push_updates(core); // what the session does when changes() signals
    MAILKIT_FUZZ_CHECK(core.output().empty() || core.output().back() == '\n');
    core.consume_output(core.output().size());
  }
  return 0;
}
