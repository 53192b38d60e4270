// SPDX-License-Identifier: Apache-2.0
// mailkit.Server: the reference server (what mailkitd runs) inside a Python process
// (PYTHON_API.md, issue 10). The configuration is mailkitd's TOML file, read by mailkitd's own
// loader (apps/mailkitd/config.cpp), so a dict, a file and mailkitd mean the same thing; the
// Python side turns a dict into that TOML (mailkit/server.py).
//
// Built only with the apps (MAILKIT_BUILD_APPS): the loader lives there.
#include "../errors.hpp"
#include "../store_binding.hpp"

#include "config.hpp"

#include <mailkit/dns/cares_resolver.hpp>
#include <mailkit/server/mail_server.hpp>

#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace py = pybind11;

namespace mailkit::python {

namespace {

class py_server {
public:
  // `path`: a TOML file; empty: the embedded default under `data_dir`.
  py_server(const std::string& path, const std::string& data_dir) {
    try {
      d_ = path.empty() ? mailkitd::embedded_config(data_dir) : mailkitd::load_config(path);
    } catch (const std::exception& e) {
      raise(errors().error, std::string("configuration: ") + e.what());
    }
    auto& sc = *d_.server;
    dns::cares_options ro;
    ro.servers = sc.dns_servers;
    auto resolver = std::make_shared<dns::cares_resolver>(ro);
    if (auto ec = resolver->init_error()) raise(errors().dns_error, "resolver: " + ec.message());
    sc.resolver = resolver;
    if (!path.empty()) {
      try {
        sc.outbound = mailkitd::load_outbound(path, sc.hostname, sc.data_dir, resolver.get(),
                                              sc.domains.empty() ? std::string() : sc.domains[0]);
      } catch (const std::exception& e) {
        raise(errors().error, std::string("configuration: ") + e.what());
      }
    }
  }

  void start() {
    if (srv_) return;
    expected<std::unique_ptr<server::mail_server>> made;
    {
      py::gil_scoped_release nogil;
      made = server::mail_server::create(*d_.server);
      if (made) {
        if (auto r = (*made)->start(); !r) made = tl::unexpected(r.error());
      }
    }
    if (!made) raise(errors().error, "cannot start: " + made.error().message());
    srv_ = std::move(*made);
    if (d_.embedded) example_password_ = example_account();
  }

  void stop(double grace) {
    if (!srv_) return;
    {
      py::gil_scoped_release nogil;
      srv_->stop(std::chrono::milliseconds(static_cast<long long>(grace * 1000)));
    }
    srv_.reset();
  }

  void reload_tls() {
    if (auto r = running().reload_tls(); !r)
      raise(errors().error, "certificate not reloaded: " + r.error().message());
  }

  // {"smtp": 2525, ...}: the first listener of each service, as bound.
  py::dict ports() const {
    py::dict out;
    for (const auto& l : running().endpoints()) {
      py::str key(l.service);
      if (!out.contains(key)) out[key] = l.endpoint.port();
    }
    return out;
  }

  py::list listeners() const {
    py::list out;
    for (const auto& l : running().endpoints())
      out.append(py::make_tuple(l.service, l.endpoint.address().to_string(), l.endpoint.port()));
    return out;
  }

  py::dict stats() const {
    const auto s = running().stats();
    py::dict d;
    d["smtp_connections"] = s.smtp_accepted;
    d["smtp_active"] = s.smtp_active;
    d["smtp_messages"] = s.smtp_messages;
    d["imap_connections"] = s.imap_accepted;
    d["imap_active"] = s.imap_active;
    d["imap_login_failures"] = s.imap_login_failures;
    d["queue_messages"] = s.queue_messages;
    d["delivered"] = s.delivered;
    d["deferred"] = s.deferred;
    d["bounced"] = s.bounced;
    return d;
  }

  py::object store() const { return wrap_store(running().shared_store()); }

  py::object example() const {
    if (!d_.embedded || !srv_) return py::none();
    return py::make_tuple(d_.example_user, example_password_);
  }

  std::string hostname() const { return d_.server->hostname; }
  std::string data_dir() const { return d_.server->data_dir; }
  bool running_now() const { return srv_ != nullptr; }

private:
  const server::mail_server& running() const {
    if (!srv_) raise(errors().error, "the server is not running (call start())");
    return *srv_;
  }
  server::mail_server& running() {
    if (!srv_) raise(errors().error, "the server is not running (call start())");
    return *srv_;
  }

  // The embedded default's example account, made as mailkitd makes it.
  std::string example_account() {
    try {
      return mailkitd::ensure_example_account(srv_->store(), d_.example_user, d_.server->data_dir)
          .value_or(std::string());
    } catch (const std::exception& e) {
      raise(errors().store_error, e.what());
    }
  }

  mailkitd::daemon_config d_;
  std::unique_ptr<server::mail_server> srv_;
  std::string example_password_;
};

void bind_server(py::module_& parent) {
  auto m = parent.def_submodule("server", "The reference mail server (mailkit.Server).");
  py::class_<py_server>(m, "Server", "The mail server mailkitd runs, in this process.")
      .def(py::init<const std::string&, const std::string&>(), py::arg("config_path"),
           py::arg("data_dir"))
      .def("start", &py_server::start)
      .def("stop", &py_server::stop, py::arg("grace") = 10.0)
      .def("reload_tls", &py_server::reload_tls)
      .def_property_readonly("ports", &py_server::ports)
      .def_property_readonly("listeners", &py_server::listeners)
      .def_property_readonly("stats", &py_server::stats)
      .def_property_readonly("store", &py_server::store)
      .def_property_readonly("example_account", &py_server::example)
      .def_property_readonly("hostname", &py_server::hostname)
      .def_property_readonly("data_dir", &py_server::data_dir)
      .def_property_readonly("running", &py_server::running_now);
}

const binding_registration reg{400, &bind_server};

} // namespace

} // namespace mailkit::python
