// SPDX-License-Identifier: Apache-2.0
// The `mailkit.dmarc` submodule (PYTHON_API.md): check() for one From domain, check_from() for
// a message's From domains (RFC 7489 §6.6.1), parse_record(), organizational_domain().
#include "errors.hpp"
#include "spf_dmarc_resolver.hpp"

#include <mailkit/dmarc/dmarc.hpp>

#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;

namespace mailkit::python {

namespace {

py::object record_dict(const std::optional<dmarc::record>& rec) {
  if (!rec) return py::none();
  py::dict d;
  for (const auto& [name, value] : rec->tags)
    d[py::str(name)] = value;
  return d;
}

py::object policy_or_none(const std::optional<dmarc::policy>& p) {
  if (!p) return py::none();
  return py::str(std::string(dmarc::to_string(*p)));
}

dmarc::check_params params_from(py::handle spf_result, py::handle spf_domain, py::handle dkim,
                                std::optional<unsigned> sample, std::optional<std::uint32_t> seed) {
  dmarc::check_params p;
  const std::string sr = spf_result.is_none() ? "none" : text_arg(spf_result, "spf_result");
  auto r = spf::parse_result_name(sr);
  if (!r) throw py::value_error("spf_result must be an SPF result name, not " + sr);
  p.spf_result = *r;
  p.spf_domain = text_arg(spf_domain, "spf_domain");
  if (!dkim.is_none()) {
    for (auto item : py::iter(dkim)) {
      py::tuple t = py::reinterpret_borrow<py::object>(item).cast<py::tuple>();
      if (t.size() != 2) throw py::value_error("dkim items are (domain, result) pairs");
      const std::string res = text_arg(t[1], "dkim result");
      auto ar = dmarc::parse_auth_result(res);
      if (!ar) throw py::value_error("unknown DKIM result " + res);
      p.dkim.push_back({text_arg(t[0], "dkim domain"), *ar});
    }
  }
  if (sample && *sample >= 100) throw py::value_error("sample must be in [0, 100)");
  p.sample = sample;
  p.seed = seed;
  return p;
}

} // namespace

void bind_dmarc(py::module_& parent) {
  py::module_ m = parent.def_submodule(
      "dmarc", "DMARC (RFC 7489, RFC 9091): policy discovery, alignment and disposition.");

  py::class_<dmarc::check_result> cls(m, "Result", "The outcome of a DMARC check.");
  cls.def_property_readonly(
         "result",
         [](const dmarc::check_result& r) { return std::string(dmarc::to_string(r.result)); },
         "\"pass\", \"fail\", \"none\", \"temperror\" or \"permerror\"")
      .def_property_readonly(
          "policy", [](const dmarc::check_result& r) { return policy_or_none(r.policy); },
          "the published policy for this From domain (p, or sp for a subdomain, or np for a "
          "non-existent subdomain), also on pass; None without a usable record")
      .def_property_readonly(
          "disposition",
          [](const dmarc::check_result& r) { return std::string(dmarc::to_string(r.disposition)); },
          "\"none\" on pass; on fail the policy applied (pct may lower it)")
      .def_property_readonly(
          "record", [](const dmarc::check_result& r) { return record_dict(r.rec); },
          "dict of the record's tags as written, None without a usable record")
      .def_property_readonly("org_domain",
                             [](const dmarc::check_result& r) { return r.org_domain; })
      .def_property_readonly("from_domain",
                             [](const dmarc::check_result& r) { return r.from_domain; })
      .def_property_readonly("record_domain",
                             [](const dmarc::check_result& r) { return r.record_domain; })
      .def_property_readonly("policy_tag",
                             [](const dmarc::check_result& r) { return r.policy_tag; })
      .def_property_readonly("spf_aligned",
                             [](const dmarc::check_result& r) { return r.spf_aligned; })
      .def_property_readonly("dkim_aligned",
                             [](const dmarc::check_result& r) { return r.dkim_aligned; })
      .def_property_readonly("dkim_domain",
                             [](const dmarc::check_result& r) { return r.dkim_domain; })
      .def_property_readonly("sampled_out",
                             [](const dmarc::check_result& r) { return r.sampled_out; })
      .def_property_readonly("problem", [](const dmarc::check_result& r) { return r.problem; })
      .def_property_readonly(
          "authentication_results",
          [](const dmarc::check_result& r) { return dmarc::authentication_results_part(r); },
          "the resinfo for Authentication-Results, e.g. "
          "\"dmarc=pass (p=reject dis=none) header.from=example.com\"")
      .def("__repr__", [](const dmarc::check_result& r) {
        return "<mailkit.dmarc.Result " + std::string(dmarc::to_string(r.result)) + " " +
               r.from_domain + ">";
      });
  cls.attr("__module__") = "mailkit.dmarc";

  m.def(
      "check",
      [](py::handle from_domain, py::handle spf_result, py::handle spf_domain, py::handle dkim,
         py::object resolver, std::optional<unsigned> sample, std::optional<std::uint32_t> seed) {
        auto p = params_from(spf_result, spf_domain, dkim, sample, seed);
        p.from_domain = text_arg(from_domain, "from_domain");
        const auto r = resolver_from(std::move(resolver));
        dmarc::check_result res;
        if (r.native) {
          py::gil_scoped_release nogil;
          res = dmarc::check(*r.native, p);
        } else {
          res = dmarc::check(r.get(), p);
          r.rethrow();
        }
        return res;
      },
      py::arg("from_domain"), py::kw_only(), py::arg("spf_result") = py::str("none"),
      py::arg("spf_domain") = py::str(""), py::arg("dkim") = py::list(),
      py::arg("resolver") = py::none(), py::arg("sample") = py::none(),
      py::arg("seed") = py::none(),
      "DMARC check of one RFC5322.From domain.\n\n"
      "spf_result/spf_domain: the SPF result and the domain it was for; dkim: [(d=, result)];\n"
      "sample: the pct draw in [0, 100) (tests), or seed: seeds the draw.");

  m.def(
      "check_from",
      [](py::handle from_domains, py::handle spf_result, py::handle spf_domain, py::handle dkim,
         py::object resolver, std::optional<unsigned> sample, std::optional<std::uint32_t> seed) {
        auto p = params_from(spf_result, spf_domain, dkim, sample, seed);
        std::vector<std::string> froms;
        for (auto f : py::iter(from_domains))
          froms.push_back(text_arg(f, "from domain"));
        const auto r = resolver_from(std::move(resolver));
        dmarc::check_result res;
        if (r.native) {
          py::gil_scoped_release nogil;
          res = dmarc::check_from_domains(*r.native, froms, p);
        } else {
          res = dmarc::check_from_domains(r.get(), froms, p);
          r.rethrow();
        }
        return res;
      },
      py::arg("from_domains"), py::kw_only(), py::arg("spf_result") = py::str("none"),
      py::arg("spf_domain") = py::str(""), py::arg("dkim") = py::list(),
      py::arg("resolver") = py::none(), py::arg("sample") = py::none(),
      py::arg("seed") = py::none(),
      "DMARC check of a message's From domains (RFC 7489 §6.6.1): none when there is none;\n"
      "with several, the strictest failing policy wins.");

  m.def(
      "parse_record",
      [](py::handle text) {
        auto rec = dmarc::parse_record(text_arg(text, "record"));
        if (!rec) raise(errors().parse_error, rec.error());
        return record_dict(std::optional<dmarc::record>(std::move(*rec)));
      },
      py::arg("text"),
      "Parse a DMARC record into a dict of its tags; raises mailkit.ParseError when unusable.");

  m.def(
      "organizational_domain",
      [](py::handle domain) { return dmarc::organizational_domain(text_arg(domain, "domain")); },
      py::arg("domain"), "RFC 7489 §3.2 organizational domain from the Public Suffix List.");
}

} // namespace mailkit::python
