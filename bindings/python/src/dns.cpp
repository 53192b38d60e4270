// SPDX-License-Identifier: Apache-2.0
// `mailkit.dns` (PYTHON_API.md, section mailkit.dns): StaticResolver built from a dict,
// Resolver on c-ares, query(name, rtype) -> list, and as_resolver() for the other bindings
// (dns_binding.hpp).
//
// Threads: query() copies its arguments, releases the GIL and waits for the C++ resolver; the
// resolvers never call into Python. A StaticResolver must not be changed (add/fail) while
// another thread queries it.
//
// Values: A/AAAA -> "192.0.2.1" / "2001:db8::1"; MX -> (preference, host), lowest preference
// first, host "" for a null MX; TXT -> the record's strings joined; PTR/CNAME/NS -> host;
// SOA -> (mname, rname, serial, refresh, retry, expire, minimum); TLSA -> (usage, selector,
// matching_type, data: bytes). The list is a mailkit.dns.Answer (a list subclass) that also
// carries rcode, ttl, authenticated, canonical_name.
#include "dns_binding.hpp"
#include "errors.hpp"

#include <mailkit/dns/cache.hpp>
#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/dns/static_resolver.hpp>

#include <pybind11/stl.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>

namespace py = pybind11;

namespace mailkit::python {
namespace {

// mailkit.dns.Answer, registered by dns.py at import (set_answer_type). A strong reference that
// is never released: the class lives as long as the interpreter.
PyObject* g_answer_type = nullptr;

std::string text(py::handle h, const char* what) {
  if (PyBytes_Check(h.ptr())) return std::string(py::reinterpret_borrow<py::bytes>(h));
  if (PyUnicode_Check(h.ptr())) return h.cast<std::string>();
  throw py::type_error(std::string(what) + " must be str or bytes");
}

py::str to_str(std::string_view s) {
  PyObject* o =
      PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

dns::rtype rtype_arg(py::handle h) {
  const std::string s = text(h, "rtype");
  auto t = dns::parse_rtype(s);
  if (!t)
    throw py::value_error("unknown record type: " + s +
                          " (A, AAAA, MX, TXT, PTR, CNAME, NS, SOA, TLSA)");
  return *t;
}

std::optional<dns::errc> marker(py::handle h) {
  if (!PyUnicode_Check(h.ptr())) return std::nullopt;
  const auto s = h.cast<std::string>();
  if (s == "TIMEOUT") return dns::errc::timed_out;
  if (s == "SERVFAIL") return dns::errc::servfail;
  if (s == "REFUSED") return dns::errc::refused;
  return std::nullopt;
}

// ---- StaticResolver from Python values -------------------------------------------------------

void add_value(dns::static_resolver& z, const std::string& name, dns::rtype type, py::handle v,
               std::uint32_t ttl) {
  const bool sequence = py::isinstance<py::tuple>(v) || py::isinstance<py::list>(v);
  switch (type) {
  case dns::rtype::mx:
    if (sequence) {
      auto t = py::reinterpret_borrow<py::sequence>(v);
      if (t.size() != 2) throw py::value_error("an MX value is (preference, host)");
      std::string host = text(t[1], "MX host");
      if (!host.empty() && host.back() == '.') host.pop_back();
      z.add(name, type, dns::mx{t[0].cast<std::uint16_t>(), host}, ttl);
      return;
    }
    break;
  case dns::rtype::txt:
    if (sequence) { // explicit character-strings
      dns::txt t;
      for (auto s : py::reinterpret_borrow<py::sequence>(v))
        t.strings.push_back(text(s, "TXT string"));
      z.add(name, type, t, ttl);
      return;
    }
    if (PyBytes_Check(v.ptr()) || PyUnicode_Check(v.ptr())) {
      auto r = z.add(name, type, text(v, "TXT"), ttl);
      (void)r; // a TXT text never fails to parse
      return;
    }
    break;
  case dns::rtype::soa:
    if (sequence) {
      auto t = py::reinterpret_borrow<py::sequence>(v);
      if (t.size() != 7)
        throw py::value_error(
            "an SOA value is (mname, rname, serial, refresh, retry, expire, minimum)");
      dns::soa s{text(t[0], "mname"),        text(t[1], "rname"),        t[2].cast<std::uint32_t>(),
                 t[3].cast<std::uint32_t>(), t[4].cast<std::uint32_t>(), t[5].cast<std::uint32_t>(),
                 t[6].cast<std::uint32_t>()};
      z.add(name, type, s, ttl);
      return;
    }
    break;
  case dns::rtype::tlsa:
    if (sequence) {
      auto t = py::reinterpret_borrow<py::sequence>(v);
      if (t.size() != 4)
        throw py::value_error("a TLSA value is (usage, selector, matching_type, data)");
      dns::tlsa r{t[0].cast<std::uint8_t>(), t[1].cast<std::uint8_t>(), t[2].cast<std::uint8_t>(),
                  std::string(py::bytes(t[3]))};
      z.add(name, type, r, ttl);
      return;
    }
    break;
  default:
    break;
  }
  const std::string s = text(v, "record value");
  if (!z.add(name, type, s, ttl))
    throw py::value_error("not a valid " + std::string(dns::to_string(type)) + " value for " +
                          name + ": " + s);
}

void add_name(dns::static_resolver& z, const std::string& name, py::handle entry,
              std::uint32_t ttl) {
  if (auto m = marker(entry)) {
    z.fail(name, *m);
    return;
  }
  if (!py::isinstance<py::dict>(entry))
    throw py::type_error("zone entry for " + name + " must be a dict of records or \"TIMEOUT\"");
  for (auto [k, v] : py::reinterpret_borrow<py::dict>(entry)) {
    const std::string key = text(k, "record type");
    if (key == "AD") {
      z.set_authenticated(name, v.cast<bool>());
      continue;
    }
    const dns::rtype type = rtype_arg(k);
    if (auto m = marker(v)) {
      z.fail(name, type, *m);
      continue;
    }
    if (py::isinstance<py::list>(v)) {
      for (auto item : py::reinterpret_borrow<py::list>(v))
        add_value(z, name, type, item, ttl);
    } else {
      add_value(z, name, type, v, ttl); // a single value
    }
  }
}

// ---- answers to Python -----------------------------------------------------------------------

py::object record_value(const dns::record& r) {
  struct visitor {
    py::object operator()(const dns::ipv4& a) const { return py::str(dns::to_string(a)); }
    py::object operator()(const dns::ipv6& a) const { return py::str(dns::to_string(a)); }
    py::object operator()(const dns::mx& m) const {
      return py::make_tuple(m.preference, to_str(m.exchange));
    }
    py::object operator()(const dns::txt& t) const { return to_str(t.joined()); }
    py::object operator()(const dns::name_rdata& n) const { return to_str(n.name); }
    py::object operator()(const dns::soa& s) const {
      return py::make_tuple(to_str(s.mname), to_str(s.rname), s.serial, s.refresh, s.retry,
                            s.expire, s.minimum);
    }
    py::object operator()(const dns::tlsa& t) const {
      return py::make_tuple(t.usage, t.selector, t.matching_type, py::bytes(t.data));
    }
    py::object operator()(const dns::srv& s) const {
      return py::make_tuple(s.priority, s.weight, s.port, to_str(s.target));
    }
    py::object operator()(const dns::caa& c) const {
      return py::make_tuple(c.flags, to_str(c.tag), to_str(c.value));
    }
  };
  return std::visit(visitor{}, r.data);
}

py::object to_python(const dns::answer& a) {
  py::list items;
  if (a.type == dns::rtype::mx) {
    for (const auto& m : a.mx_records())
      items.append(py::make_tuple(m.preference, to_str(m.exchange)));
  } else {
    for (const auto& r : a.records)
      items.append(record_value(r));
  }
  if (g_answer_type == nullptr) return items;
  py::object out = py::reinterpret_borrow<py::object>(g_answer_type)(items);
  out.attr("name") = a.name;
  out.attr("rtype") = std::string(dns::to_string(a.type));
  out.attr("rcode") = a.code == dns::rcode::nxdomain ? "NXDOMAIN" : "NOERROR";
  out.attr("ttl") = a.ttl;
  out.attr("authenticated") = a.authenticated;
  out.attr("canonical_name") = a.canonical_name;
  return out;
}

py::object run_query(dns::resolver& r, py::handle name_arg, py::handle rtype) {
  const std::string name = text(name_arg, "name");
  const dns::rtype type = rtype_arg(rtype);
  dns::query_result res;
  {
    py::gil_scoped_release nogil;
    res = dns::query(r, name, type);
  }
  if (!res)
    raise(errors().dns_error,
          name + "/" + std::string(dns::to_string(type)) + ": " + res.error().message());
  return to_python(*res);
}

// ---- the network resolver ---------------------------------------------------------------------

// cares_resolver on its own I/O thread, optionally behind a cache.
class network_resolver final : public dns::resolver {
public:
  network_resolver(dns::cares_options o, bool cache) : cares_(std::move(o)) {
    if (cache) cache_ = std::make_unique<dns::caching_resolver>(cares_);
  }
  void async_query(std::string_view name, dns::rtype type, dns::query_handler h) override {
    if (cache_)
      cache_->async_query(name, type, std::move(h));
    else
      cares_.async_query(name, type, std::move(h));
  }
  const dns::cares_resolver& cares() const { return cares_; }

private:
  dns::cares_resolver cares_;
  std::unique_ptr<dns::caching_resolver> cache_; // destroyed first
};

std::unique_ptr<network_resolver> make_network(py::handle servers, py::handle timeout, int tries,
                                               bool rotate, bool tcp, bool edns, bool dnssec_ok,
                                               py::handle resolv_conf, bool cache) {
  dns::cares_options o;
  if (!servers.is_none()) {
    if (PyUnicode_Check(servers.ptr())) throw py::type_error("servers must be a list of strings");
    for (auto s : py::reinterpret_borrow<py::iterable>(servers)) {
      std::string v = text(s, "server");
      if (!dns::normalize_server(v)) throw py::value_error("not a DNS server address: " + v);
      o.servers.push_back(std::move(v));
    }
  }
  if (!timeout.is_none()) {
    const double t = timeout.cast<double>();
    if (!(t > 0) || !std::isfinite(t))
      throw py::value_error("timeout must be a positive number of seconds");
    o.timeout = std::chrono::milliseconds(std::max<long long>(1, std::llround(t * 1000)));
  }
  if (tries < 1) throw py::value_error("tries must be at least 1");
  o.tries = tries;
  o.rotate = rotate;
  o.use_tcp = tcp;
  o.edns = edns;
  o.dnssec_ok = dnssec_ok;
  if (!resolv_conf.is_none()) o.resolv_conf = text(resolv_conf, "resolv_conf");
  auto r = std::make_unique<network_resolver>(std::move(o), cache);
  if (auto ec = r->cares().init_error())
    raise(errors().dns_error, "cannot set up the resolver: " + ec.message());
  return r;
}

} // namespace

dns::resolver& as_resolver(py::handle resolver) {
  if (resolver.is_none()) {
    // The shared default lives forever (default_resolver()), so the reference stays valid.
    return default_resolver().cast<dns::resolver&>();
  }
  try {
    return resolver.cast<dns::resolver&>();
  } catch (const py::cast_error&) {
    throw py::type_error(
        "resolver must be a mailkit.dns resolver (StaticResolver, Resolver) or None");
  }
}

bool is_native_resolver(py::handle resolver) {
  return !resolver.is_none() && py::isinstance<dns::resolver>(resolver);
}

py::object default_resolver() {
  // Deliberately never destroyed: its I/O thread may still be needed by daemon threads while
  // the interpreter shuts down.
  static py::object* shared = nullptr;
  if (shared == nullptr)
    shared = new py::object(
        py::module_::import("mailkit.dns").attr("Resolver")(py::arg("cache") = true));
  return *shared;
}

void bind_dns(py::module_& parent) {
  py::module_ m = parent.def_submodule(
      "dns", "DNS lookups: a resolver on c-ares, an in-memory zone for tests.");

  py::class_<dns::resolver>(m, "BaseResolver",
                            "Base class of mailkit.dns resolvers; every function with a "
                            "`resolver=` argument accepts any of them.")
      .def(
          "query",
          [](dns::resolver& self, py::handle name, py::handle rtype) {
            return run_query(self, name, rtype);
          },
          py::arg("name"), py::arg("rtype"),
          "Records of type `rtype` (\"A\", \"MX\", ...) at `name` (str, Unicode allowed) as a "
          "list; [] for NXDOMAIN and NODATA (the list's .rcode tells them apart). Raises "
          "mailkit.DnsError on SERVFAIL, REFUSED, timeout or a network error.");

  py::class_<dns::static_resolver, dns::resolver>(
      m, "StaticResolver",
      "An in-memory zone: names match case-insensitively, a CNAME is followed, a name not in the "
      "zone is NXDOMAIN.\n\n"
      "zone maps a name to a dict of {rtype: [values]} (\"AD\": True marks answers as "
      "DNSSEC-authenticated), or to \"TIMEOUT\" / \"SERVFAIL\" (every query for the name fails "
      "so); an rtype may also map to \"TIMEOUT\" or \"SERVFAIL\".")
      .def(py::init([](py::handle zone, std::uint32_t ttl) {
             auto z = std::make_unique<dns::static_resolver>();
             if (!zone.is_none()) {
               if (!py::isinstance<py::dict>(zone)) throw py::type_error("zone must be a dict");
               for (auto [k, v] : py::reinterpret_borrow<py::dict>(zone))
                 add_name(*z, text(k, "name"), v, ttl);
             }
             return z;
           }),
           py::arg("zone") = py::none(), py::arg("ttl") = 300)
      .def(
          "add",
          [](dns::static_resolver& self, py::handle name, py::handle rtype, py::handle value,
             std::uint32_t ttl) {
            const std::string n = text(name, "name");
            const dns::rtype t = rtype_arg(rtype);
            if (py::isinstance<py::list>(value)) {
              for (auto v : py::reinterpret_borrow<py::list>(value))
                add_value(self, n, t, v, ttl);
            } else {
              add_value(self, n, t, value, ttl);
            }
          },
          py::arg("name"), py::arg("rtype"), py::arg("value"), py::arg("ttl") = 300,
          "Add one record (or a list of them) in the same forms as the constructor's dict.")
      .def(
          "fail",
          [](dns::static_resolver& self, py::handle name, py::handle rtype, py::handle error) {
            auto e = marker(error);
            if (!e) throw py::value_error("error must be \"TIMEOUT\", \"SERVFAIL\" or \"REFUSED\"");
            if (rtype.is_none())
              self.fail(text(name, "name"), *e);
            else
              self.fail(text(name, "name"), rtype_arg(rtype), *e);
          },
          py::arg("name"), py::arg("rtype") = py::none(), py::arg("error") = "TIMEOUT",
          "Make queries for `name` (of `rtype`, or of every type) fail.")
      .def_property_readonly("queries", &dns::static_resolver::queries,
                             "How many questions were asked so far.");

  py::class_<network_resolver, dns::resolver>(
      m, "Resolver",
      "A DNS resolver on c-ares with its own I/O thread. servers: [\"127.0.0.1:5353\", "
      "\"[::1]:53\", ...], default: the nameservers of /etc/resolv.conf. timeout: seconds per "
      "try. Answers carry the AD bit of a validating resolver (.authenticated). cache=True "
      "keeps answers for their TTL.")
      .def(py::init(&make_network), py::arg("servers") = py::none(),
           py::arg("timeout") = py::none(), py::kw_only(), py::arg("tries") = 2,
           py::arg("rotate") = false, py::arg("tcp") = false, py::arg("edns") = true,
           py::arg("dnssec_ok") = false, py::arg("resolv_conf") = py::none(),
           py::arg("cache") = false)
      .def_property_readonly(
          "servers", [](const network_resolver& r) { return r.cares().servers(); },
          "The servers in use, as \"host:port\".");

  m.def(
      "to_ascii",
      [](py::handle name) {
        auto a = dns::to_ascii(text(name, "name"));
        if (!a) throw py::value_error("not a valid domain name: " + a.error().message());
        return *a;
      },
      py::arg("name"), "IDNA2008 (UTS #46 non-transitional) A-label form, lower case.");
  m.def(
      "reverse_name",
      [](py::handle ip) {
        const std::string s = text(ip, "ip");
        if (auto v4 = dns::parse_ipv4(s)) return dns::reverse_name(*v4);
        if (auto v6 = dns::parse_ipv6(s)) return dns::reverse_name(*v6);
        throw py::value_error("not an IP address: " + s);
      },
      py::arg("ip"), "The in-addr.arpa / ip6.arpa name of an address, for PTR queries.");
  m.def(
      "_set_answer_type",
      [](py::handle type) {
        Py_XDECREF(g_answer_type);
        g_answer_type = type.inc_ref().ptr();
      },
      "Internal: the list subclass query() returns (mailkit.dns.Answer).");
}

} // namespace mailkit::python
