// SPDX-License-Identifier: Apache-2.0
// The `mailkit.spf` submodule (PYTHON_API.md): check2() in pyspf's shape, check() and
// check_helo() with the full result, parse_record(). Also the resolver bridge that spf and
// dmarc share (spf_dmarc_resolver.hpp).
#include "dns_binding.hpp"
#include "errors.hpp"
#include "spf_dmarc_resolver.hpp"

#include <mailkit/spf/spf.hpp>

#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>

namespace py = pybind11;

namespace mailkit::python {

std::string text_arg(py::handle h, const char* what) {
  if (PyBytes_Check(h.ptr())) return std::string(py::reinterpret_borrow<py::bytes>(h));
  if (PyUnicode_Check(h.ptr())) return h.cast<std::string>();
  if (h.is_none()) return {};
  throw py::type_error(std::string(what) + " must be str or bytes");
}

namespace {

// Calls obj.query(name, "TXT") etc. and turns the list into a dns::answer. An empty list is
// NXDOMAIN unless the list has a false `nxdomain` attribute (then NODATA); mailkit.DnsError
// (or any mailkit.Error) is a timeout; another exception is kept and re-raised after the call.
class python_bridge final : public dns::resolver {
public:
  explicit python_bridge(py::object obj) : obj_(std::move(obj)) {}
  std::optional<py::error_already_set> error;

  void async_query(std::string_view name, dns::rtype type, dns::query_handler handler) override {
    py::gil_scoped_acquire gil;
    dns::answer a;
    a.name = std::string(name);
    a.type = type;
    a.canonical_name = a.name;
    try {
      py::object res =
          obj_.attr("query")(py::str(name.data(), name.size()), std::string(dns::to_string(type)));
      py::list items(res);
      for (auto item : items) {
        dns::record rec;
        switch (type) {
        case dns::rtype::a:
        case dns::rtype::aaaa: {
          auto ip = spf::parse_ip(text_arg(item, "address"));
          if (!ip) continue;
          if (const auto* v4 = std::get_if<dns::ipv4>(&*ip)) {
            if (type != dns::rtype::a) continue;
            rec.data = *v4;
          } else {
            if (type != dns::rtype::aaaa) continue;
            rec.data = std::get<dns::ipv6>(*ip);
          }
          break;
        }
        case dns::rtype::mx: {
          auto t = item.cast<py::tuple>();
          dns::mx m;
          m.preference = t[0].cast<std::uint16_t>();
          m.exchange = text_arg(t[1], "MX host");
          if (!m.exchange.empty() && m.exchange.back() == '.') m.exchange.pop_back();
          rec.data = m;
          break;
        }
        case dns::rtype::txt: {
          dns::txt t;
          t.strings.push_back(text_arg(item, "TXT"));
          rec.data = t;
          break;
        }
        default: {
          std::string n = text_arg(item, "name");
          if (!n.empty() && n.back() == '.') n.pop_back();
          rec.data = dns::name_rdata{n};
          break;
        }
        }
        a.records.push_back(std::move(rec));
      }
      if (a.records.empty()) {
        bool nx = true;
        if (py::hasattr(res, "nxdomain")) nx = py::bool_(res.attr("nxdomain"));
        a.code = nx ? dns::rcode::nxdomain : dns::rcode::noerror;
      }
    } catch (py::error_already_set& e) {
      if (e.matches(errors().error)) {
        handler(tl::make_unexpected(dns::make_error_code(dns::errc::timed_out)));
      } else {
        if (!error) error.emplace(std::move(e));
        handler(tl::make_unexpected(dns::make_error_code(dns::errc::servfail)));
      }
      return;
    }
    handler(std::move(a));
  }

private:
  py::object obj_;
};

} // namespace

void resolver_ref::rethrow() const {
  if (native) return;
  auto* b = static_cast<python_bridge*>(bridge.get());
  if (b->error) {
    py::error_already_set e = std::move(*b->error);
    b->error.reset();
    throw e;
  }
}

resolver_ref resolver_from(py::object obj) {
  resolver_ref r;
  r.owner = obj;
  // A mailkit.dns resolver (or None: the shared default) is used natively (dns_binding.hpp).
  if (obj.is_none() || is_native_resolver(obj)) {
    r.native = &as_resolver(obj);
    return r;
  }
  if (!py::hasattr(obj, "query"))
    throw py::type_error("resolver must be a mailkit.dns resolver or have query(name, rtype)");
  r.bridge = std::make_unique<python_bridge>(obj);
  return r;
}

namespace {

spf::ip_address ip_arg(py::handle h) {
  const std::string s = text_arg(h, "i (the client IP)");
  auto ip = spf::parse_ip(s);
  if (!ip) throw py::value_error("not an IP address: " + s);
  return *ip;
}

spf::check_result run(const resolver_ref& r, const spf::check_params& p) {
  spf::check_result res;
  if (r.native) {
    py::gil_scoped_release nogil;
    res = spf::check_host(*r.native, p);
  } else {
    res = spf::check_host(r.get(), p);
    r.rethrow();
  }
  return res;
}

} // namespace

void bind_spf(py::module_& parent) {
  py::module_ m = parent.def_submodule(
      "spf", "Sender Policy Framework (RFC 7208): is this client allowed to send for a domain?");

  py::class_<spf_py_result> cls(m, "Result", "The outcome of check_host() (RFC 7208 §2.6).");
  cls.def_property_readonly(
         "result", [](const spf_py_result& r) { return std::string(spf::to_string(r.res.result)); },
         "\"pass\", \"fail\", \"softfail\", \"neutral\", \"none\", "
         "\"permerror\" or \"temperror\"")
      .def_property_readonly(
          "mechanism", [](const spf_py_result& r) { return r.res.mechanism; },
          "the term that matched (\"-all\", \"include:x\"), \"default\" "
          "when none did, \"\" when evaluation stopped early")
      .def_property_readonly(
          "explanation", [](const spf_py_result& r) { return r.res.explanation; },
          "the expanded exp= text on fail (RFC 7208 §6.2), else \"\"")
      .def_property_readonly("problem", [](const spf_py_result& r) { return r.res.problem; })
      .def_property_readonly("domain", [](const spf_py_result& r) { return r.res.domain; })
      .def_property_readonly("dns_lookups",
                             [](const spf_py_result& r) { return r.res.dns_lookups; })
      .def_property_readonly("void_lookups",
                             [](const spf_py_result& r) { return r.res.void_lookups; })
      .def_property_readonly("queries", [](const spf_py_result& r) { return r.res.queries; })
      .def_property_readonly(
          "received_spf", [](const spf_py_result& r) { return spf::received_spf(r.res, r.params); },
          "the Received-SPF header field (RFC 7208 §9.1), without CRLF")
      .def_property_readonly(
          "authentication_results",
          [](const spf_py_result& r) { return spf::authentication_results_part(r.res, r.params); },
          "the resinfo for Authentication-Results (RFC 8601), e.g. "
          "\"spf=pass smtp.mailfrom=example.com\"")
      .def("__repr__", [](const spf_py_result& r) {
        return "<mailkit.spf.Result " + std::string(spf::to_string(r.res.result)) +
               (r.res.mechanism.empty() ? "" : " " + r.res.mechanism) + ">";
      });
  cls.attr("__module__") = "mailkit.spf";

  m.def(
      "check2",
      [](py::handle i, py::handle s, py::handle h, py::object resolver,
         std::optional<std::string> receiver) {
        auto p = spf::check_params::mail_from(ip_arg(i), text_arg(s, "s"), text_arg(h, "h"));
        if (receiver) p.receiver = *receiver;
        const auto r = resolver_from(std::move(resolver));
        const auto res = run(r, p);
        return py::make_tuple(std::string(spf::to_string(res.result)), res.explanation);
      },
      py::arg("i"), py::arg("s"), py::arg("h"), py::kw_only(), py::arg("resolver") = py::none(),
      py::arg("receiver") = py::none(),
      "SPF check of the MAIL FROM identity in pyspf's shape: (result, explanation).\n\n"
      "i: client IP; s: MAIL FROM address ('' for the null reverse-path, then postmaster@h is\n"
      "checked, RFC 7208 §2.4); h: HELO/EHLO name.");

  m.def(
      "check",
      [](py::handle i, py::handle s, py::handle h, py::object resolver,
         std::optional<std::string> receiver, std::optional<std::int64_t> timestamp) {
        spf_py_result out;
        out.params = spf::check_params::mail_from(ip_arg(i), text_arg(s, "s"), text_arg(h, "h"));
        if (receiver) out.params.receiver = *receiver;
        if (timestamp) out.params.timestamp = *timestamp;
        const auto r = resolver_from(std::move(resolver));
        out.res = run(r, out.params);
        return out;
      },
      py::arg("i"), py::arg("s"), py::arg("h"), py::kw_only(), py::arg("resolver") = py::none(),
      py::arg("receiver") = py::none(), py::arg("timestamp") = py::none(),
      "SPF check of the MAIL FROM identity (RFC 7208 §2.4) with the full Result.");

  m.def(
      "check_helo",
      [](py::handle i, py::handle h, py::object resolver, std::optional<std::string> receiver) {
        spf_py_result out;
        out.params = spf::check_params::helo_identity(ip_arg(i), text_arg(h, "h"));
        if (receiver) out.params.receiver = *receiver;
        const auto r = resolver_from(std::move(resolver));
        out.res = run(r, out.params);
        return out;
      },
      py::arg("i"), py::arg("h"), py::kw_only(), py::arg("resolver") = py::none(),
      py::arg("receiver") = py::none(),
      "SPF check of the HELO identity (RFC 7208 §2.3) with the full Result.");

  m.def(
      "parse_record",
      [](py::handle text) {
        const std::string t = text_arg(text, "record");
        auto rec = spf::parse_record(t);
        if (!rec)
          raise(errors().parse_error,
                rec.error().message + (rec.error().term.empty()
                                           ? std::string()
                                           : ": " + std::string(rec.error().term)));
        py::list terms;
        for (const auto& mech : rec->mechanisms)
          terms.append(std::string(mech.text));
        py::dict out;
        out["mechanisms"] = terms;
        out["redirect"] =
            rec->redirect ? py::object(py::str(std::string(*rec->redirect))) : py::none();
        out["exp"] = rec->exp ? py::object(py::str(std::string(*rec->exp))) : py::none();
        return out;
      },
      py::arg("text"),
      "Check an SPF record's syntax (RFC 7208 §4.5, §12): {'mechanisms': [...], 'redirect':\n"
      "..., 'exp': ...}; raises mailkit.ParseError on a syntax error (a permerror).");
}

} // namespace mailkit::python
