// SPDX-License-Identifier: Apache-2.0
// c-ares on Asio. Every c-ares call happens on one strand: c-ares reports the sockets it wants
// watched through its socket-state callback, Asio waits for readiness (posix::stream_descriptor
// async_wait, the descriptor released, never closed: c-ares owns it) and one steady_timer
// follows ares_timeout(). Queries are built and answers parsed by message.cpp.
#include <mailkit/core/thread_name.hpp>
#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/dns/message.hpp>

#include <ares.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <thread>

namespace asio = boost::asio;

namespace mailkit::dns {
namespace {

error_code from_ares(int status) {
  switch (status) {
  case ARES_ETIMEOUT:
    return make_error_code(errc::timed_out);
  case ARES_ESERVFAIL:
    return make_error_code(errc::servfail);
  case ARES_EREFUSED:
    return make_error_code(errc::refused);
  case ARES_EFORMERR:
    return make_error_code(errc::formerr);
  case ARES_ENOTIMP:
    return make_error_code(errc::notimp);
  case ARES_EBADNAME:
  case ARES_EBADQUERY:
    return make_error_code(errc::bad_name);
  case ARES_EBADRESP:
    return make_error_code(errc::bad_response);
  case ARES_ECANCELLED:
  case ARES_EDESTRUCTION:
    return make_error_code(errc::cancelled);
  default: // ARES_ECONNREFUSED, ARES_EOF, ARES_ENOMEM, ...: the network path failed
    return make_error_code(errc::network);
  }
}

void library_init() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

struct server_addr {
  int family = AF_INET;
  ipv4 v4;
  ipv6 v6;
  std::uint16_t port = 53;
};

expected<server_addr> parse_server(std::string_view s) {
  server_addr out;
  std::string_view host = s;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos) return fail(mailkit::errc::invalid_argument);
    host = s.substr(1, close - 1);
    const auto rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail(mailkit::errc::invalid_argument);
      port = rest.substr(1);
      if (port.empty()) return fail(mailkit::errc::invalid_argument);
    }
  } else if (std::count(s.begin(), s.end(), ':') == 1) {
    const auto colon = s.find(':');
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (port.empty()) return fail(mailkit::errc::invalid_argument);
  }
  if (!port.empty()) {
    unsigned p = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || end != port.data() + port.size() || p == 0 || p > 65535)
      return fail(mailkit::errc::invalid_argument);
    out.port = static_cast<std::uint16_t>(p);
  }
  if (auto v4 = parse_ipv4(host)) {
    if (!s.empty() && s.front() == '[') return fail(mailkit::errc::invalid_argument);
    out.family = AF_INET;
    out.v4 = *v4;
  } else if (auto v6 = parse_ipv6(host)) {
    out.family = AF_INET6;
    out.v6 = *v6;
  } else {
    return fail(mailkit::errc::invalid_argument);
  }
  return out;
}

std::string format_server(const server_addr& a) {
  if (a.family == AF_INET) return to_string(a.v4) + ":" + std::to_string(a.port);
  return "[" + to_string(a.v6) + "]:" + std::to_string(a.port);
}

} // namespace

expected<std::string> normalize_server(std::string_view server) {
  auto a = parse_server(server);
  if (!a) return unexpected(a.error());
  return format_server(*a);
}

// ---- the channel on its strand --------------------------------------------------------------

struct cares_resolver::impl : std::enable_shared_from_this<impl> {
  using strand_type = asio::strand<asio::any_io_executor>;

  struct watch {
    std::unique_ptr<asio::posix::stream_descriptor> sd;
    std::uint64_t generation = 0;
    bool want_read = false, want_write = false;
    bool reading = false, writing = false;
  };

  struct pending {
    std::shared_ptr<impl> owner;
    std::string name;
    rtype type;
    query_handler handler;
  };

  impl(const asio::any_io_executor& ex, cares_options o)
      : strand(asio::make_strand(ex)), options(std::move(o)) {}

  strand_type strand;
  cares_options options;
  ares_channel channel = nullptr;
  error_code init_error;
  std::vector<std::string> server_list;
  std::unique_ptr<asio::steady_timer> timer;
  std::map<ares_socket_t, watch> sockets;
  std::uint64_t next_generation = 1;

  // Runs in the constructor, before any other thread can see this object.
  // c-ares 1.18 moves on to the next server when one answers SERVFAIL, REFUSED or NOTIMP, but
  // once every server has, it reports ARES_ECONNREFUSED, not what they said. With a single
  // server (the usual local validating resolver) there is nothing to move on to, so the
  // channel is rebuilt with ARES_FLAG_NOCHECKRESP and the rcode reaches to_answer(), which
  // maps it exactly (and checks the question itself).
  void init() {
    init_channel(false);
    if (channel != nullptr && server_list.size() == 1) {
      ares_destroy(channel);
      channel = nullptr;
      server_list.clear();
      init_channel(true);
    }
  }

  void init_channel(bool single_server) {
    library_init();
    ares_options o{};
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
    o.flags = 0;
    // With EDNS set, c-ares resends a query without its (last, 11-octet) OPT record when a
    // server answers FORMERR without one (RFC 6891 §7).
    if (options.edns) {
      o.flags |= ARES_FLAG_EDNS;
      mask |= ARES_OPT_EDNSPSZ;
      o.ednspsz = options.udp_payload;
    }
    if (options.use_tcp) o.flags |= ARES_FLAG_USEVC;
    if (single_server) o.flags |= ARES_FLAG_NOCHECKRESP;
    o.timeout =
        static_cast<int>(std::max<std::chrono::milliseconds::rep>(1, options.timeout.count()));
    o.tries = std::max(1, options.tries);
    mask |= options.rotate ? ARES_OPT_ROTATE : ARES_OPT_NOROTATE;
    o.sock_state_cb = &impl::on_socket_state;
    o.sock_state_cb_data = this;
    if (!options.resolv_conf.empty()) {
      mask |= ARES_OPT_RESOLVCONF;
      o.resolvconf_path = options.resolv_conf.data();
    }
    if (const int rc = ares_init_options(&channel, &o, mask); rc != ARES_SUCCESS) {
      channel = nullptr;
      init_error = rc == ARES_EFILE ? make_error_code(errc::network) : from_ares(rc);
      return;
    }
    if (!timer) timer = std::make_unique<asio::steady_timer>(strand);
    if (!options.servers.empty()) {
      std::vector<server_addr> addrs;
      for (const auto& s : options.servers) {
        auto a = parse_server(s);
        if (!a) {
          init_error = a.error();
          ares_destroy(channel);
          channel = nullptr;
          return;
        }
        addrs.push_back(*a);
      }
      std::vector<ares_addr_port_node> nodes(addrs.size());
      for (std::size_t i = 0; i < addrs.size(); ++i) {
        auto& n = nodes[i];
        n.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
        n.family = addrs[i].family;
        if (n.family == AF_INET)
          std::memcpy(&n.addr.addr4, addrs[i].v4.bytes.data(), 4);
        else
          std::memcpy(&n.addr.addr6, addrs[i].v6.bytes.data(), 16);
        n.udp_port = n.tcp_port = addrs[i].port;
      }
      if (const int rc = ares_set_servers_ports(channel, nodes.data()); rc != ARES_SUCCESS) {
        init_error = from_ares(rc);
        ares_destroy(channel);
        channel = nullptr;
        return;
      }
    }
    ares_addr_port_node* list = nullptr;
    if (ares_get_servers_ports(channel, &list) == ARES_SUCCESS) {
      for (auto* n = list; n != nullptr; n = n->next) {
        server_addr a;
        a.family = n->family;
        a.port = static_cast<std::uint16_t>(n->udp_port != 0 ? n->udp_port : 53);
        if (n->family == AF_INET)
          std::memcpy(a.v4.bytes.data(), &n->addr.addr4, 4);
        else
          std::memcpy(a.v6.bytes.data(), &n->addr.addr6, 16);
        server_list.push_back(format_server(a));
      }
      ares_free_data(list);
    }
  }

  // c-ares: "start/stop watching this socket". Called from inside ares_* calls, so always on
  // the strand.
  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<impl*>(data);
    if (!readable && !writable) {
      // c-ares is about to close the socket: stop watching and give the descriptor back
      // without closing it. Pending waits complete with operation_aborted.
      if (auto it = self->sockets.find(fd); it != self->sockets.end()) {
        boost::system::error_code ignored;
        it->second.sd->cancel(ignored);
        (void)it->second.sd->release();
        self->sockets.erase(it);
      }
      return;
    }
    auto [it, inserted] = self->sockets.try_emplace(fd);
    watch& w = it->second;
    if (inserted) {
      w.sd = std::make_unique<asio::posix::stream_descriptor>(self->strand, fd);
      w.generation = self->next_generation++;
    }
    w.want_read = readable != 0;
    w.want_write = writable != 0;
    self->arm(fd);
  }

  void arm(ares_socket_t fd) {
    auto it = sockets.find(fd);
    if (it == sockets.end()) return;
    watch& w = it->second;
    const std::uint64_t gen = w.generation;
    if (w.want_read && !w.reading) {
      w.reading = true;
      w.sd->async_wait(asio::posix::stream_descriptor::wait_read,
                       [self = shared_from_this(), fd, gen](boost::system::error_code ec) {
                         self->on_ready(fd, gen, false, ec);
                       });
    }
    if (w.want_write && !w.writing) {
      w.writing = true;
      w.sd->async_wait(asio::posix::stream_descriptor::wait_write,
                       [self = shared_from_this(), fd, gen](boost::system::error_code ec) {
                         self->on_ready(fd, gen, true, ec);
                       });
    }
  }

  void on_ready(ares_socket_t fd, std::uint64_t gen, bool write, boost::system::error_code ec) {
    auto it = sockets.find(fd);
    // A wait for a socket c-ares has closed since (its number may be reused): ignore it.
    if (it == sockets.end() || it->second.generation != gen) return;
    (write ? it->second.writing : it->second.reading) = false;
    if (ec == asio::error::operation_aborted || channel == nullptr) return;
    // Readiness errors (ec set otherwise) are left to c-ares: its read or write reports them.
    if (write)
      ares_process_fd(channel, ARES_SOCKET_BAD, fd);
    else
      ares_process_fd(channel, fd, ARES_SOCKET_BAD);
    arm(fd);
    update_timer();
  }

  void update_timer() {
    if (channel == nullptr || !timer) return;
    timeval tv{};
    const timeval* next = ares_timeout(channel, nullptr, &tv);
    if (next == nullptr) {
      timer->cancel();
      return;
    }
    timer->expires_after(std::chrono::seconds(next->tv_sec) +
                         std::chrono::microseconds(next->tv_usec));
    timer->async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec == asio::error::operation_aborted || self->channel == nullptr) return;
      // No socket is ready: let c-ares handle the queries whose time is up (resend to the
      // next server or finish with ARES_ETIMEOUT).
      ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      self->update_timer();
    });
  }

  void complete(query_handler handler, query_result result) {
    // Never call user code from inside c-ares: post it.
    asio::post(strand,
               [h = std::move(handler), r = std::move(result)]() mutable { h(std::move(r)); });
  }

  static void on_response(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<pending> p(static_cast<pending*>(arg));
    query_result result;
    if (status != ARES_SUCCESS) {
      result = unexpected(from_ares(status));
    } else if (abuf == nullptr || alen <= 0) {
      result = unexpected(make_error_code(errc::bad_response));
    } else {
      result = wire::parse_answer(
          std::span<const std::uint8_t>(abuf, static_cast<std::size_t>(alen)), p->name, p->type);
    }
    p->owner->complete(std::move(p->handler), std::move(result));
  }

  void start(std::vector<std::uint8_t> query, std::string name, rtype type, query_handler handler) {
    if (channel == nullptr) {
      complete(std::move(handler),
               unexpected(init_error ? init_error : make_error_code(errc::cancelled)));
      return;
    }
    auto* p = new pending{shared_from_this(), std::move(name), type, std::move(handler)};
    // c-ares assigns its own query id and checks it, and the question, in the response.
    ares_send(channel, query.data(), static_cast<int>(query.size()), &impl::on_response, p);
    update_timer();
  }

  // On the strand: fail every pending query with cancelled and drop every Asio object.
  void shutdown() {
    if (channel != nullptr) {
      ares_channel c = channel;
      ares_destroy(c); // calls on_response with ARES_EDESTRUCTION for each pending query
      channel = nullptr;
    }
    for (auto& [fd, w] : sockets) {
      boost::system::error_code ignored;
      w.sd->cancel(ignored);
      (void)w.sd->release();
    }
    sockets.clear();
    if (timer) timer->cancel();
  }
};

struct cares_resolver::owned_context {
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  std::thread thread;
};

cares_resolver::cares_resolver(const asio::any_io_executor& executor, cares_options options)
    : impl_(std::make_shared<impl>(executor, std::move(options))) {
  impl_->init();
}

cares_resolver::cares_resolver(cares_options options) : owned_(std::make_unique<owned_context>()) {
  impl_ =
      std::make_shared<impl>(asio::any_io_executor(owned_->ioc.get_executor()), std::move(options));
  impl_->init();
  owned_->thread = std::thread([ctx = owned_.get()] {
    name_this_thread("mk-dns");
    ctx->ioc.run();
  });
}

cares_resolver::~cares_resolver() {
  if (owned_) {
    std::promise<void> done;
    auto finished = done.get_future();
    asio::post(impl_->strand, [self = impl_, &done] {
      self->shutdown();
      done.set_value();
    });
    finished.wait();
    // Let the cancelled handlers and aborted waits run, then the thread ends by itself.
    owned_->work.reset();
    owned_->thread.join();
    impl_.reset(); // before the io_context: the strand and timer belong to it
    owned_.reset();
  } else {
    asio::post(impl_->strand, [self = impl_] { self->shutdown(); });
  }
}

void cares_resolver::async_query(std::string_view name, rtype type, query_handler handler) {
  auto ascii = to_ascii(name);
  if (!ascii) {
    impl_->complete(std::move(handler), unexpected(ascii.error()));
    return;
  }
  wire::query_options qo;
  qo.edns = impl_->options.edns;
  qo.udp_payload = impl_->options.udp_payload;
  qo.dnssec_ok = impl_->options.dnssec_ok;
  qo.authentic_data = true; // RFC 6840 §5.7: we want to see the validator's AD bit
  auto q = wire::build_query(0, *ascii, static_cast<std::uint16_t>(type), qo);
  if (!q) {
    impl_->complete(std::move(handler), unexpected(q.error()));
    return;
  }
  asio::post(impl_->strand, [self = impl_, query = std::move(*q), n = std::move(*ascii), type,
                             h = std::move(handler)]() mutable {
    self->start(std::move(query), std::move(n), type, std::move(h));
  });
}

std::vector<std::string> cares_resolver::servers() const {
  return impl_->server_list;
}

error_code cares_resolver::init_error() const noexcept {
  return impl_->init_error;
}

} // namespace mailkit::dns
