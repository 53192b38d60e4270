// SPDX-License-Identifier: Apache-2.0
// mailkit.dkim: sign / verify / verify_all / keygen (PYTHON_API.md), shaped like dkimpy.
//
// Verification with a mailkit.dns resolver (or None: the shared default) runs dkim::verify()
// without the GIL. Other resolver objects drive the sans-I/O verifier: the header is parsed, the
// key queries are answered from Python (any object with .query(name, "TXT") -> list, raising
// mailkit.DnsError on failure, or a dict {name: [txt, ...] | "TIMEOUT"}), then the GIL is
// released while the body is hashed and the signatures are checked.
#include "dns_binding.hpp"
#include "errors.hpp"

#include <mailkit/core/bytes.hpp>
#include <mailkit/dkim/dkim.hpp>

#include <pybind11/stl.h>

#include <list>
#include <mutex>

namespace py = pybind11;

namespace mailkit::python {

namespace {

std::string_view bytes_view(const py::bytes& b) {
  char* data = nullptr;
  Py_ssize_t len = 0;
  PyBytes_AsStringAndSize(b.ptr(), &data, &len);
  return {data, static_cast<std::size_t>(len)};
}

// str or bytes -> std::string
std::string text_arg(py::handle h, const char* what) {
  if (py::isinstance<py::bytes>(h))
    return std::string(bytes_view(py::reinterpret_borrow<py::bytes>(h)));
  if (py::isinstance<py::str>(h)) return h.cast<std::string>();
  throw py::type_error(std::string(what) + " must be str or bytes");
}

dkim::canonicalization canon_arg(py::handle h) {
  const std::string s = text_arg(h, "canonicalize");
  if (s == "simple") return dkim::canonicalization::simple;
  if (s == "relaxed") return dkim::canonicalization::relaxed;
  throw py::value_error("canonicalization must be 'simple' or 'relaxed'");
}

// Parsed private keys, by PEM text: parsing an RSA PEM costs more than a quarter of a signature.
std::shared_ptr<const dkim::private_key> cached_key(const std::string& pem) {
  static std::mutex m;
  static std::list<std::pair<std::string, std::shared_ptr<const dkim::private_key>>> cache;
  {
    std::lock_guard lk(m);
    for (auto it = cache.begin(); it != cache.end(); ++it)
      if (it->first == pem) {
        cache.splice(cache.begin(), cache, it);
        return cache.front().second;
      }
  }
  auto k = dkim::private_key::from_pem(pem);
  if (!k) raise(errors().error, "cannot read the private key: " + k.error().message());
  auto p = std::make_shared<const dkim::private_key>(std::move(*k));
  std::lock_guard lk(m);
  cache.emplace_front(pem, p);
  if (cache.size() > 16) cache.pop_back();
  return p;
}

std::optional<std::chrono::system_clock::time_point> time_arg(py::handle h) {
  if (h.is_none()) return std::nullopt;
  double secs = 0;
  if (py::hasattr(h, "timestamp"))
    secs = h.attr("timestamp")().cast<double>();
  else
    secs = h.cast<double>();
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(secs)));
}

py::bytes sign(const py::bytes& message, py::handle selector, py::handle domain,
               const py::bytes& privkey, const std::string& algorithm, py::handle canonicalize,
               py::handle include_headers, bool length, py::handle timestamp, py::handle expiration,
               py::handle identity) {
  dkim::sign_options o;
  o.selector = text_arg(selector, "selector");
  o.domain = text_arg(domain, "domain");
  const auto a = dkim::parse_algorithm(algorithm);
  // RFC 8301 §3.1: rsa-sha1 is never used for signing.
  if (!a || *a == dkim::algorithm::rsa_sha1)
    throw py::value_error("algorithm must be 'rsa-sha256' or 'ed25519-sha256'");
  o.algo = *a;
  if (!canonicalize.is_none()) {
    auto seq = py::reinterpret_borrow<py::sequence>(canonicalize);
    if (seq.size() != 2) throw py::value_error("canonicalize must be (header, body)");
    o.header_c = canon_arg(seq[0]);
    o.body_c = canon_arg(seq[1]);
  }
  if (!include_headers.is_none())
    for (auto h : include_headers)
      o.headers.push_back(text_arg(h, "include_headers item"));
  o.body_length = length;
  if (!identity.is_none()) o.identity = text_arg(identity, "identity");
  const auto t = time_arg(timestamp);
  if (t) o.signing_time = t;
  if (auto x = time_arg(expiration)) {
    const auto base = t.value_or(std::chrono::system_clock::now());
    o.expire_after = std::chrono::duration_cast<std::chrono::seconds>(*x - base);
    if (o.expire_after->count() <= 0) throw py::value_error("expiration must be after timestamp");
  }
  const auto key = cached_key(std::string(bytes_view(privkey)));
  const std::string_view msg = bytes_view(message);
  expected<std::string> r;
  {
    py::gil_scoped_release nogil;
    r = dkim::sign(msg, *key, o);
  }
  if (!r) raise(errors().error, "cannot sign: " + r.error().message());
  return py::bytes(r->data(), r->size());
}

// Answer one key query from the Python resolver object.
void answer_query(dkim::verifier& v, const std::string& name, py::handle resolver) {
  try {
    std::vector<std::string> records;
    if (py::isinstance<py::dict>(resolver)) {
      auto d = py::reinterpret_borrow<py::dict>(resolver);
      py::object val = py::none();
      for (auto item : d)
        if (mailkit::iequals(std::string_view(text_arg(item.first, "name")).substr(0, name.size()),
                             name) &&
            text_arg(item.first, "name").size() <= name.size() + 1)
          val = py::reinterpret_borrow<py::object>(item.second);
      if (py::isinstance<py::str>(val) && val.cast<std::string>() == "TIMEOUT") {
        v.provide_key(name, tl::unexpected(make_error_code(mailkit::errc::timed_out)));
        return;
      }
      if (!val.is_none()) {
        if (py::isinstance<py::str>(val) || py::isinstance<py::bytes>(val))
          records.push_back(text_arg(val, "record"));
        else
          for (auto r : val)
            records.push_back(text_arg(r, "record"));
      }
    } else {
      py::object res = resolver.attr("query")(name, "TXT");
      for (auto r : res)
        records.push_back(text_arg(r, "record"));
    }
    v.provide_key_txt(name, records);
  } catch (py::error_already_set& e) {
    if (e.matches(errors().dns_error)) {
      v.provide_key(name, tl::unexpected(make_error_code(mailkit::errc::timed_out)));
      return;
    }
    throw;
  }
}

std::vector<dkim::signature_result> run_verify(const py::bytes& message, py::handle resolver,
                                               py::handle now, bool allow_rsa_sha1,
                                               double clock_skew) {
  const std::string_view msg = bytes_view(message);
  std::optional<manual_clock> clk;
  dkim::verify_options vo;
  if (auto t = time_arg(now)) {
    clk.emplace(*t);
    vo.clk = &*clk;
  }
  vo.allow_rsa_sha1 = allow_rsa_sha1;
  vo.clock_skew = std::chrono::seconds(static_cast<long long>(clock_skew));
  if (resolver.is_none() || is_native_resolver(resolver)) {
    // A mailkit.dns resolver: the C++ driver asks every key question at once, without the GIL.
    dns::resolver& r = as_resolver(resolver);
    py::gil_scoped_release nogil;
    return dkim::verify(msg, r, vo);
  }
  dkim::verifier v(vo);
  const auto split = dkim::split_header(msg);
  {
    py::gil_scoped_release nogil;
    v.set_header(msg.substr(0, split.body_offset));
  }
  // A dict or any object with query(name, "TXT"): asked from Python, with the GIL.
  for (const auto& q : v.key_queries())
    answer_query(v, q.name, resolver);
  py::gil_scoped_release nogil;
  v.update_body(msg.substr(split.body_offset));
  return v.finish();
}

} // namespace

void bind_dkim(py::module_& parent) {
  py::module_ m = parent.def_submodule(
      "dkim", "DKIM signing and verification (RFC 6376, RFC 8463, RFC 8301, RFC 8601).");

  py::class_<dkim::signature_result>(m, "Result", "The outcome of one DKIM-Signature.")
      .def_property_readonly(
          "result",
          [](const dkim::signature_result& r) { return std::string(dkim::to_string(r.result)); })
      .def_readonly("reason", &dkim::signature_result::reason)
      .def_readonly("domain", &dkim::signature_result::domain)
      .def_readonly("selector", &dkim::signature_result::selector)
      .def_readonly("identity", &dkim::signature_result::identity)
      .def_readonly("algorithm", &dkim::signature_result::algorithm)
      .def_readonly("key_bits", &dkim::signature_result::key_bits)
      .def_readonly("weak", &dkim::signature_result::weak)
      .def_readonly("testing", &dkim::signature_result::testing)
      .def_readonly("body_length", &dkim::signature_result::body_length)
      .def_readonly("unsigned_body_octets", &dkim::signature_result::unsigned_body_octets)
      .def_property_readonly(
          "resinfo", [](const dkim::signature_result& r) { return dkim::format_resinfo(r); })
      .def("__bool__",
           [](const dkim::signature_result& r) { return r.result == dkim::result::pass; })
      .def("__repr__", [](const dkim::signature_result& r) {
        return "<mailkit.dkim.Result " + std::string(dkim::to_string(r.result)) + " d=" + r.domain +
               " s=" + r.selector + (r.reason.empty() ? "" : " (" + r.reason + ")") + ">";
      });

  m.def("sign", &sign, py::arg("message"), py::arg("selector"), py::arg("domain"),
        py::arg("privkey"), py::kw_only(), py::arg("algorithm") = "rsa-sha256",
        py::arg("canonicalize") = py::make_tuple("relaxed", "relaxed"),
        py::arg("include_headers") = py::none(), py::arg("length") = false,
        py::arg("timestamp") = py::none(), py::arg("expiration") = py::none(),
        py::arg("identity") = py::none(),
        "Sign a message; returns the complete b\"DKIM-Signature: ...\\r\\n\" field to prepend.");
  m.def(
      "verify_all",
      [](const py::bytes& message, py::handle resolver, py::handle now, bool allow_rsa_sha1,
         double clock_skew) {
        return run_verify(message, resolver, now, allow_rsa_sha1, clock_skew);
      },
      py::arg("message"), py::kw_only(), py::arg("resolver") = py::none(),
      py::arg("now") = py::none(), py::arg("allow_rsa_sha1") = false, py::arg("clock_skew") = 300.0,
      "Verify every DKIM-Signature; one Result each, topmost first.");
  m.def(
      "verify",
      [](const py::bytes& message, py::handle resolver, py::handle now, bool allow_rsa_sha1,
         double clock_skew) {
        for (const auto& r : run_verify(message, resolver, now, allow_rsa_sha1, clock_skew))
          if (r.result == dkim::result::pass) return true;
        return false;
      },
      py::arg("message"), py::kw_only(), py::arg("resolver") = py::none(),
      py::arg("now") = py::none(), py::arg("allow_rsa_sha1") = false, py::arg("clock_skew") = 300.0,
      "True when at least one signature passes.");
  m.def(
      "keygen",
      [](const std::string& kind) {
        dkim::key_type t = dkim::key_type::rsa;
        unsigned bits = 2048;
        if (kind == "ed25519")
          t = dkim::key_type::ed25519;
        else if (kind.rfind("rsa-", 0) == 0)
          bits = static_cast<unsigned>(std::stoul(kind.substr(4)));
        else if (kind != "rsa")
          throw py::value_error("kind must be 'rsa-2048', 'rsa-<bits>' or 'ed25519'");
        expected<dkim::private_key> k;
        {
          py::gil_scoped_release nogil;
          k = dkim::private_key::generate(t, bits);
        }
        if (!k) raise(errors().error, "key generation failed: " + k.error().message());
        const std::string pem = k->to_pem();
        return py::make_tuple(py::bytes(pem), k->dns_txt());
      },
      py::arg("kind") = "rsa-2048", "Generate a key: (private PEM bytes, DNS TXT value).");
  m.def(
      "split_txt", [](const std::string& v) { return dkim::split_txt(v); }, py::arg("value"),
      "Split a TXT value into 255-octet strings.");
  m.def(
      "authentication_results",
      [](const std::string& authserv_id, const std::vector<dkim::signature_result>& results) {
        return dkim::format_authentication_results(authserv_id, {dkim::format_resinfos(results)});
      },
      py::arg("authserv_id"), py::arg("results"),
      "An Authentication-Results field (with CRLF) carrying the dkim results.");
  m.def(
      "parse_authentication_results",
      [](const std::string& value) -> py::object {
        auto ar = dkim::parse_authentication_results(value);
        if (!ar) return py::none();
        py::list methods;
        for (const auto& me : ar->methods) {
          py::dict d;
          d["method"] = me.method;
          d["version"] = me.version;
          d["result"] = me.result;
          d["reason"] = me.reason;
          py::dict props;
          for (const auto& p : me.properties)
            props[py::str(p.ptype + "." + p.property)] = p.value;
          d["properties"] = props;
          d["comments"] = me.comments;
          methods.append(d);
        }
        py::dict out;
        out["authserv_id"] = ar->authserv_id;
        out["version"] = ar->version;
        out["none"] = ar->none;
        out["methods"] = methods;
        return out;
      },
      py::arg("value"), "Parse an Authentication-Results value into a dict (or None).");
}

} // namespace mailkit::python
