// SPDX-License-Identifier: Apache-2.0
/// @file queue.hpp
/// The durable mail queue: what the SMTP server hands an accepted message to, and what
/// delivers it (through a local delivery target and a remote transport, both interfaces), with
/// per-recipient state, a retry schedule, DSN bounces and delay warnings, deduplication by
/// queue id, crash recovery, and explicit limits.
///
/// Acceptance (DESIGN.md §4): the message bytes go to a file in <dir>/tmp (kept in memory up to
/// options.memory_buffer), which is written and fsynced on a pool of sync threads, renamed into
/// <dir>/msg/<queue id>; a committer thread then fsyncs the msg directory once for every file
/// that became ready meanwhile, commits their records in one SQLite transaction (WAL,
/// synchronous=FULL: the commit fsyncs the WAL) and only then calls each completion handler with
/// its queue id (group commit: concurrent sessions share the directory fsync and the database
/// commit; each handler still waits for its own file and record). A crash before the commit
/// leaves at most a file in tmp/ or msg/ without a record, which the recovery scan removes (no
/// 250 was sent for it); a crash after it loses nothing.
///
/// Delivery is at least once: a recipient's state changes to delivered only after the target
/// said its copy is durable. A crash between the two makes the next attempt a redelivery; the
/// target is told the queue id and recipient, recognizes the copy it already has, and answers
/// `duplicate`, which the queue logs and counts instead of delivering twice.
///
/// Queue ids are 22 lower-case hex digits: 14 of the acceptance time in microseconds, 4 of a
/// per-process counter, 4 random. They sort in acceptance order and do not repeat.
///
/// Standards: RFC 5321 §4.5.4.1 (retry strategy: at least 30 minutes between attempts by
/// default is what the RFC suggests; ours starts at 5 minutes and doubles, configurable; give up
/// after 4-5 days), RFC 5321 §4.5.5 and §6.1 (the server takes responsibility at the 250; DSNs
/// from the null path, never to it), RFC 3461 and RFC 3464 (see dsn.hpp), RFC 3463 (status codes;
/// 4.4.7 when the message expires in the queue).
/// Security: touches disk (its own directory only; file names are queue ids it generates,
/// never peer input). Envelope contents come from peers and are stored escaped (envelope.hpp).
/// Bounded by limits (message size, recipients per message, messages and bytes in the queue).
#pragma once

#include <mailkit/core/clock.hpp>
#include <mailkit/core/expected.hpp>
#include <mailkit/queue/dsn.hpp>
#include <mailkit/queue/envelope.hpp>
#include <mailkit/queue/error.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::queue {

struct limits {
  std::uint64_t max_message_size = 35ull << 20; ///< octets (also advertised by SMTP SIZE)
  std::size_t max_recipients = 1000;            ///< recipients of one message after expansion
  std::size_t max_messages = 100000;            ///< messages in the queue: then queue_full
  std::uint64_t max_bytes = 0; ///< octets in the queue: then queue_full; 0 = no limit
};

/// When to try again after a transient failure, and when to give up.
struct retry_schedule {
  std::chrono::seconds first{5 * 60};          ///< after the first failed attempt
  double factor = 2.0;                         ///< each further interval multiplied by this
  std::chrono::seconds max_interval{4 * 3600}; ///< intervals stop growing here
  std::chrono::seconds give_up{5 * 24 * 3600}; ///< RFC 5321 §4.5.4.1: 4-5 days; then 4.4.7 bounce
  /// Send one delay warning (RFC 3464 Action: delayed) once a message has waited this long;
  /// zero disables warnings.
  std::chrono::seconds delay_warning{4 * 3600};

  /// The wait after the `attempt`-th failed attempt (1-based).
  [[nodiscard]] std::chrono::seconds interval(unsigned attempt) const noexcept;
};

/// The file and database operations, for fault injection in tests.
enum class io_op { create, write, fsync, rename, fsync_dir, commit };

struct options {
  std::string path;                   ///< the queue directory; created when missing
  std::string hostname = "localhost"; ///< Reporting-MTA and From of DSNs
  struct limits limits;
  retry_schedule retry;
  const clock* clk = nullptr;      ///< default_clock() when null
  unsigned sync_threads = 8;       ///< parallel file writes and fsyncs (group commit feeders)
  unsigned delivery_threads = 2;   ///< delivery workers started by start()
  std::size_t delivery_batch = 64; ///< messages one worker takes at a time
  /// How long a worker lets new messages gather before it takes a batch smaller than
  /// delivery_batch: one store transaction and one queue commit then cover several messages
  /// (delivery latency traded for fewer fsyncs). Zero: deliver each message at once.
  std::chrono::milliseconds delivery_wait{20};
  std::size_t memory_buffer = 1u << 20; ///< a message is kept in memory up to this, then spilled
  /// Tests: called before each operation; a nonzero errno value makes it fail with that error.
  std::function<int(io_op)> fault;
  /// Where a DSN to `address` goes (local account or remote), with alias expansion. Without
  /// it, DSNs go to the remote transport.
  std::function<std::vector<recipient>(std::string_view address)> route_dsn;
};

/// What a delivery target says about one recipient.
struct delivery_result {
  enum class status {
    delivered, ///< durably stored (locally or by the next hop's 250)
    duplicate, ///< this queue id and recipient were already delivered (a redelivery after a
               ///< crash): nothing was stored again
    transient, ///< try again later (4xx, timeouts, disk full, over quota)
    permanent, ///< give up and bounce (5xx, no such user)
    held,      ///< not attempted for a known reason with a known end (a relay's daily quota is
               ///< used up): retried at `hold_until`; not counted as an attempt, never expired
               ///< or warned about because of it (a hold is not a delivery failure)
  } outcome = status::transient;
  std::string enhanced = "4.0.0"; ///< RFC 3463 status
  std::string reply;              ///< the reply or reason, for logs and the DSN Diagnostic-Code
  std::string remote_mta;         ///< the next hop, for the DSN Remote-MTA ("" for local)
  std::int64_t hold_until = 0;    ///< for held: when to try again (seconds since the epoch)
};

/// One recipient of one message, as handed to a target.
struct delivery_item {
  std::string_view queue_id;
  const envelope* env = nullptr;
  std::size_t index = 0; ///< recipient index in env->recipients
  const recipient* rcpt = nullptr;
  std::string_view message; ///< the message as queued: our trace fields, then the data
  /// Our trace fields when they are not at the top of `message` but go before it: direct
  /// acceptance (server::inbound_direct) hands them apart, which spares a copy of the data.
  /// Empty for the queue's items. A target delivers `trace` then `message`.
  std::string_view trace;
  /// Never handed to a target before, by anyone (direct acceptance, before any queue file):
  /// no earlier copy can exist, so a target need not look for one.
  bool first_attempt = false;
  delivery_result result; ///< filled by the target
};

/// Something that delivers: local delivery into the store, or the outbound SMTP client. Called
/// on a queue worker thread (blocking is fine); several workers may call it concurrently.
class delivery_target {
public:
  virtual ~delivery_target() = default;
  /// Deliver every item and set its result. Items of one call may belong to several messages.
  virtual void deliver(std::span<delivery_item> items) = 0;
};

/// The outbound side (the relay module): recipients whose route is remote.
class remote_transport : public delivery_target {};

/// The bytes of one message being received. Created by queue::create_message(); written by the
/// session as data arrives; handed back to queue::async_enqueue() or dropped (abort).
class message_writer {
public:
  virtual ~message_writer() = default;
  /// Append data. errc::message_too_large past limits.max_message_size; disk_full/io_error
  /// when spilling to disk fails.
  virtual expected<void> write(std::string_view chunk) = 0;
  /// Octets written so far.
  [[nodiscard]] virtual std::uint64_t size() const noexcept = 0;
  /// The whole message when it is still in memory (not spilled), else nullopt.
  [[nodiscard]] virtual std::optional<std::string_view> in_memory() const noexcept = 0;
  /// The whole message (read back from the spill file when needed). Blocking.
  [[nodiscard]] virtual expected<std::string> contents() const = 0;
  /// Trace fields (Received, Authentication-Results) stored before the data.
  virtual void set_trace(std::string fields) = 0;
  /// Drop the message and its spill file.
  virtual void abort() noexcept = 0;
};

enum class recipient_state : std::uint8_t { pending, deferred, delivered, bounced };
[[nodiscard]] std::string_view to_string(recipient_state s) noexcept;

struct recipient_status {
  recipient_state state = recipient_state::pending;
  unsigned attempts = 0;
  std::int64_t next_attempt = 0; ///< Unix seconds (deferred)
  std::string status;            ///< last RFC 3463 status
  std::string last_reply;
};

struct message_status {
  envelope env; ///< env.id is the queue id, env.received the acceptance time
  std::vector<recipient_status> recipients;
  std::uint64_t size = 0;  ///< octets of the message file (trace fields not counted)
  bool warned = false;     ///< a delay warning was sent
  bool held = false;       ///< put on hold by an operator (queue::hold): never attempted
  bool delivering = false; ///< a worker is attempting it at this moment
};

struct recovery_report {
  std::size_t temp_files_removed = 0;   ///< partial writes that never got a 250
  std::size_t orphan_files_removed = 0; ///< msg files without a record (no 250 was sent)
  std::size_t missing_files = 0;        ///< records whose file is gone: bounced and removed
  std::size_t corrupt_records = 0;      ///< records that do not parse: left for an operator
  std::size_t messages = 0;             ///< messages loaded
};

/// A latency histogram with fixed bucket bounds in seconds (the admin port renders it as a
/// Prometheus histogram).
struct latency_histogram {
  static constexpr std::array<double, 16> bounds{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                 1,     2.5,   5,    10,    60,   300, 3600, 86400};
  /// Observations per bucket (not cumulative): counts[i] <= bounds[i]; the last one is above
  /// every bound.
  std::array<std::uint64_t, bounds.size() + 1> counts{};
  double sum = 0; ///< seconds
  std::uint64_t count = 0;
  void observe(double seconds) noexcept;
};

struct queue_stats {
  std::uint64_t accepted = 0;      ///< messages committed
  std::uint64_t group_commits = 0; ///< database commits of the acceptance path
  std::uint64_t delivered = 0;     ///< recipients delivered
  std::uint64_t duplicates = 0;    ///< redeliveries recognized by a target (not stored again)
  std::uint64_t deferred = 0;      ///< transient failures
  std::uint64_t bounced = 0;       ///< recipients failed permanently
  std::uint64_t dsns = 0;          ///< DSN messages generated
  std::uint64_t removed = 0;       ///< messages deleted by an operator (queue::remove)
  std::size_t messages = 0;        ///< messages in the queue now
  std::size_t held = 0;            ///< of which on hold (queue::hold)
  std::uint64_t bytes = 0;         ///< octets in the queue now
  /// async_enqueue() to its handler: the message file's fsync, the directory fsync and the
  /// group commit (the part of an SMTP acceptance the queue adds before the 250).
  latency_histogram acceptance;
  /// Acceptance to delivery, per recipient delivered by the queue (retries included).
  latency_histogram delivery;
};

/// The queue. Thread-safe. One process owns a queue directory (a lock file).
class queue : public std::enable_shared_from_this<queue> {
public:
  using enqueue_handler = std::function<void(expected<std::string>)>;

  /// Open (create) the queue directory and run the recovery scan.
  [[nodiscard]] static expected<std::shared_ptr<queue>> open(options opts);
  virtual ~queue() = default;

  /// A writer for a new message. Cheap; nothing touches disk until it grows past
  /// options.memory_buffer.
  [[nodiscard]] virtual std::unique_ptr<message_writer> create_message() = 0;

  /// Make the message durable and commit its record; `done` gets the queue id only then, or a
  /// queue error (nothing kept). Called on a queue thread. `e.id` and `e.received` are set here.
  virtual void async_enqueue(std::unique_ptr<message_writer> message, envelope e,
                             enqueue_handler done) = 0;

  /// Blocking form (DSNs, tools, tests).
  [[nodiscard]] virtual expected<std::string> enqueue(envelope e, std::string_view message,
                                                      std::string trace = {}) = 0;

  virtual void set_local(std::shared_ptr<delivery_target> local) = 0;
  virtual void set_remote(std::shared_ptr<remote_transport> remote) = 0;

  /// Start the delivery workers (options.delivery_threads).
  virtual void start() = 0;
  /// Stop the workers after their current batch and wait for pending acceptances.
  virtual void stop() = 0;
  /// One delivery pass on the calling thread over everything due now (tests, tools): returns
  /// the number of recipients attempted. Do not mix with start().
  virtual std::size_t deliver_due() = 0;
  /// Wake the workers (e.g. after a transport became available): deferred recipients are
  /// retried now.
  virtual void flush() = 0;

  [[nodiscard]] virtual expected<message_status> status(std::string_view id) = 0;
  /// Queue ids in the queue, in order.
  [[nodiscard]] virtual std::vector<std::string> ids() = 0;
  /// Every message in the queue, in queue id (acceptance) order, at most `max` of them.
  [[nodiscard]] virtual std::vector<message_status> list(std::size_t max = SIZE_MAX) = 0;

  /// Operator actions (Postfix's postsuper -h/-H/-d, mailkit queue hold/release/delete). Each is
  /// committed to the database before it returns, so it survives a restart, and is logged.
  /// errc::not_found for an unknown id; errc::io_error when the database step fails (nothing
  /// changed).

  /// Put a message on hold: it is not attempted (nor expired, nor warned about) until
  /// release(); the flag is a column of the message's database row. A delivery attempt already
  /// under way finishes. Holding a held message is not an error.
  virtual expected<void> hold(std::string_view id) = 0;
  /// Take a message off hold; its deferred recipients are attempted now (as flush()).
  virtual expected<void> release(std::string_view id) = 0;
  /// Delete a message: its record and its file. No DSN is sent unless `notify_sender`: then the
  /// recipients not yet delivered are reported failed (5.0.0, "deleted by the postmaster") to
  /// the sender as RFC 3464 asks for failures (never to the null path). errc::busy while a
  /// worker is attempting it.
  virtual expected<void> remove(std::string_view id, bool notify_sender = false) = 0;

  [[nodiscard]] virtual queue_stats stats() const = 0;
  [[nodiscard]] virtual const recovery_report& recovery() const noexcept = 0;
  [[nodiscard]] virtual const options& config() const noexcept = 0;
};

/// A fresh queue id (see above).
[[nodiscard]] std::string make_queue_id(const clock& clk);

} // namespace mailkit::queue
