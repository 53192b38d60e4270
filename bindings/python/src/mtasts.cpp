// SPDX-License-Identifier: Apache-2.0
// The `mailkit.mtasts` submodule (PYTHON_API.md): MTA-STS policy parsing and fetch (RFC 8461),
// MX matching, and the parsing of TLS-RPT records and reports (RFC 8460) for operators' scripts.
#include "dns_binding.hpp"
#include "errors.hpp"
#include "spf_dmarc_resolver.hpp"

#include <mailkit/mtasts/mtasts.hpp>
#include <mailkit/tlsrpt/tlsrpt.hpp>

#include <pybind11/stl.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;

namespace mailkit::python {

namespace {

// A policy as Python sees it: the parsed fields plus the TXT id it was fetched under.
struct py_policy {
  mtasts::policy value;
  std::optional<std::string> id;
};

std::string bytes_or_text(py::handle h, const char* what) {
  if (py::isinstance<py::bytes>(h)) return h.cast<std::string>();
  return text_arg(h, what);
}

py::list pairs(const std::vector<std::pair<std::string, std::string>>& v) {
  py::list out;
  for (const auto& [k, val] : v)
    out.append(py::make_tuple(k, val));
  return out;
}

py::dict failure_dict(const tlsrpt::failure_detail& f) {
  py::dict d;
  d["result_type"] = f.result == tlsrpt::result_type::other
                         ? f.result_name
                         : std::string(tlsrpt::to_string(f.result));
  d["sending_mta_ip"] = f.sending_mta_ip;
  d["receiving_mx_hostname"] = f.receiving_mx_hostname;
  d["receiving_mx_helo"] = f.receiving_mx_helo;
  d["receiving_ip"] = f.receiving_ip;
  d["failed_session_count"] = f.failed_session_count;
  d["additional_information"] = f.additional_information;
  d["failure_reason_code"] = f.failure_reason_code;
  return d;
}

py::dict report_dict(const tlsrpt::report& r) {
  py::dict d;
  d["organization_name"] = r.organization_name;
  d["start_datetime"] = r.start_datetime;
  d["end_datetime"] = r.end_datetime;
  d["contact_info"] = r.contact_info;
  d["report_id"] = r.report_id;
  py::list policies;
  for (const auto& p : r.policies) {
    py::dict pd;
    pd["policy_type"] = p.policy.type == tlsrpt::policy_type::other
                            ? p.policy.type_name
                            : std::string(tlsrpt::to_string(p.policy.type));
    pd["policy_string"] = p.policy.policy_string;
    pd["policy_domain"] = p.policy.domain;
    pd["mx_host"] = p.policy.mx_host;
    pd["total_successful_session_count"] = p.total_successful_session_count;
    pd["total_failure_session_count"] = p.total_failure_session_count;
    py::list failures;
    for (const auto& f : p.failure_details)
      failures.append(failure_dict(f));
    pd["failure_details"] = failures;
    policies.append(pd);
  }
  d["policies"] = policies;
  return d;
}

void bind_mtasts(py::module_& m) {
  py::module_ s = m.def_submodule(
      "mtasts", "MTA-STS (RFC 8461) policies and TLS-RPT (RFC 8460) records and reports.");

  py::class_<py_policy> cls(s, "Policy", "An MTA-STS policy (RFC 8461 §3.2).");
  cls.def_property_readonly(
         "mode",
         [](const py_policy& p) { return std::string(mtasts::to_string(p.value.policy_mode)); },
         "\"enforce\", \"testing\" or \"none\"")
      .def_property_readonly(
          "mx", [](const py_policy& p) { return p.value.mx; },
          "the mx patterns, lower case (\"mail.example.com\", \"*.example.net\")")
      .def_property_readonly(
          "max_age", [](const py_policy& p) { return p.value.max_age; }, "seconds")
      .def_property_readonly(
          "extensions", [](const py_policy& p) { return pairs(p.value.extensions); },
          "list of (name, value) of fields this version does not know")
      .def_property_readonly(
          "id", [](const py_policy& p) { return p.id; },
          "the _mta-sts TXT id the policy was fetched under (fetch()); None from parse_policy()")
      .def(
          "matches",
          [](const py_policy& p, py::handle host) {
            return p.value.matches(text_arg(host, "host"));
          },
          py::arg("host"), "Does this MX host match one of the patterns (RFC 8461 §4.1)?")
      .def(
          "to_text", [](const py_policy& p) { return p.value.to_text(); },
          "The policy as text, one field per line")
      .def("__repr__", [](const py_policy& p) {
        std::string mx;
        for (const auto& x : p.value.mx)
          mx += (mx.empty() ? "" : ",") + x;
        return "<mailkit.mtasts.Policy " + std::string(mtasts::to_string(p.value.policy_mode)) +
               " mx=" + mx + " max_age=" + std::to_string(p.value.max_age) + ">";
      });
  cls.attr("__module__") = "mailkit.mtasts";

  s.def(
      "parse_policy",
      [](py::handle text) {
        auto p = mtasts::parse_policy(bytes_or_text(text, "text"));
        if (!p) raise(errors().parse_error, "MTA-STS policy: " + p.error().message());
        return py_policy{std::move(*p), std::nullopt};
      },
      py::arg("text"),
      "Parse a policy body (RFC 8461 §3.2); raises mailkit.ParseError when it is invalid.");

  s.def(
      "parse_txt_record",
      [](py::handle text) {
        auto r = mtasts::parse_txt_record(text_arg(text, "text"));
        if (!r) raise(errors().parse_error, "_mta-sts record: " + r.error().message());
        py::dict d;
        d["id"] = r->id;
        d["extensions"] = pairs(r->extensions);
        return d;
      },
      py::arg("text"),
      "Parse an _mta-sts TXT record (RFC 8461 §3.1) into {\"id\": ..., \"extensions\": [...]}; "
      "raises mailkit.ParseError.");

  s.def(
      "mx_matches",
      [](py::handle pattern, py::handle host) {
        return mtasts::mx_matches(text_arg(pattern, "pattern"), text_arg(host, "host"));
      },
      py::arg("pattern"), py::arg("host"),
      "RFC 8461 §4.1 matching: case-insensitive, \"*.\" stands for exactly one label.");

  s.def(
      "fetch",
      [](py::handle domain, py::object resolver, py::object cafile, std::uint16_t port,
         double timeout) -> py::object {
        const std::string d = text_arg(domain, "domain");
        mtasts::fetch_options o;
        if (!cafile.is_none()) o.ca_file = text_arg(cafile, "cafile");
        o.port = port;
        if (timeout <= 0) throw py::value_error("timeout must be positive");
        o.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000));
        py::object owner = resolver.is_none() ? default_resolver() : resolver;
        dns::resolver& r = as_resolver(owner);
        expected<std::optional<mtasts::fetched_policy>> res = fail(errc::io_error);
        {
          py::gil_scoped_release nogil;
          res = mtasts::fetch(r, d, o);
        }
        if (!res) {
          const auto& ec = res.error();
          if (ec.category() == dns::category()) raise(errors().dns_error, ec.message());
          raise(errors().error, "MTA-STS fetch for " + d + ": " + ec.message());
        }
        if (!*res) return py::none();
        return py::cast(py_policy{std::move((*res)->value), std::move((*res)->id)});
      },
      py::arg("domain"), py::kw_only(), py::arg("resolver") = py::none(),
      py::arg("cafile") = py::none(), py::arg("port") = 443, py::arg("timeout") = 60.0,
      "Discover (_mta-sts TXT) and fetch https://mta-sts.<domain>/.well-known/mta-sts.txt "
      "(RFC 8461 §3.3: valid certificate, no redirects, 64 KiB). Returns a Policy, or None when "
      "the domain publishes none. Raises mailkit.DnsError when DNS fails and mailkit.Error when "
      "the fetch fails (certificate, status, media type, size, timeout, invalid policy).");

  s.def(
      "parse_tlsrpt_record",
      [](py::handle text) {
        auto r = tlsrpt::parse_txt_record(text_arg(text, "text"));
        if (!r) raise(errors().parse_error, "_smtp._tls record: " + r.error().message());
        py::dict d;
        d["rua"] = r->rua;
        d["extensions"] = pairs(r->extensions);
        return d;
      },
      py::arg("text"),
      "Parse an _smtp._tls TXT record (RFC 8460 §3) into {\"rua\": [...], \"extensions\": "
      "[...]}; raises mailkit.ParseError.");

  s.def(
      "parse_tlsrpt",
      [](py::bytes data, std::size_t max_size) {
        std::string in = data;
        // RFC 8460 §5.1: reports travel gzipped; the gzip magic tells which form this is.
        if (in.size() >= 2 && static_cast<unsigned char>(in[0]) == 0x1f &&
            static_cast<unsigned char>(in[1]) == 0x8b) {
          expected<std::string> plain = fail(errc::io_error);
          {
            py::gil_scoped_release nogil;
            plain = tlsrpt::gunzip(in, max_size);
          }
          if (!plain) raise(errors().parse_error, "TLS-RPT report: " + plain.error().message());
          in = std::move(*plain);
        }
        auto r = tlsrpt::parse_report(in);
        if (!r) raise(errors().parse_error, "TLS-RPT report: " + r.error().message());
        return report_dict(*r);
      },
      py::arg("data"), py::kw_only(), py::arg("max_size") = 16 * 1024 * 1024,
      "Parse a TLS-RPT report (RFC 8460 §4.4), JSON or gzipped JSON (at most max_size octets "
      "once decompressed), into a dict with snake_case keys (organization_name, report_id, "
      "policies[...].failure_details[...] ...). Raises mailkit.ParseError.");
}

const binding_registration reg{150, &bind_mtasts};

} // namespace
} // namespace mailkit::python
