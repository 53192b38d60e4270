// SPDX-License-Identifier: Apache-2.0
// mailkit.store: open a mail store, manage domains, accounts and aliases, append, list and
// fetch messages, import and export Maildir/mbox (PYTHON_API.md; issue 4).
//
// Every call that touches the database or the disk runs without the GIL. Failures raise
// mailkit.StoreError with three attributes: `code` (the store's errc name), `permanent` (bool:
// retrying cannot help) and `status` (the RFC 3463 enhanced status a delivery agent reports).
#include "errors.hpp"
#include "store_binding.hpp"

#include <mailkit/store/store.hpp>

#include <pybind11/stl.h>

#include <memory>

namespace py = pybind11;

namespace mailkit::python {

namespace {

using namespace mailkit::store;
using errc = mailkit::store::errc;

std::string_view errc_name(const mailkit::error_code& ec) {
  if (ec.category() != store_category()) return "system";
  switch (static_cast<errc>(ec.value())) {
  case errc::ok:
    return "ok";
  case errc::no_such_domain:
    return "no_such_domain";
  case errc::no_such_account:
    return "no_such_account";
  case errc::no_such_mailbox:
    return "no_such_mailbox";
  case errc::no_such_message:
    return "no_such_message";
  case errc::already_exists:
    return "already_exists";
  case errc::invalid_name:
    return "invalid_name";
  case errc::invalid_address:
    return "invalid_address";
  case errc::invalid_argument:
    return "invalid_argument";
  case errc::over_quota:
    return "over_quota";
  case errc::exceeds_quota:
    return "exceeds_quota";
  case errc::disk_full:
    return "disk_full";
  case errc::io_error:
    return "io_error";
  case errc::permission_denied:
    return "permission_denied";
  case errc::busy:
    return "busy";
  case errc::corrupt:
    return "corrupt";
  case errc::schema_too_new:
    return "schema_too_new";
  case errc::unsupported_scheme:
    return "unsupported_scheme";
  case errc::cannot_delete:
    return "cannot_delete";
  case errc::limit_exceeded:
    return "limit_exceeded";
  case errc::store_locked:
    return "store_locked";
  }
  return "unknown";
}

// Callable with or without the GIL: the store calls run released and report through here.
[[noreturn]] void raise_store(const mailkit::error_code& ec, const std::string& context) {
  py::gil_scoped_acquire gil;
  auto type = py::reinterpret_borrow<py::object>(errors().store_error);
  py::object exc = type(context + ": " + ec.message());
  exc.attr("code") = std::string(errc_name(ec));
  exc.attr("permanent") = mailkit::is_permanent(ec);
  exc.attr("status") = std::string(enhanced_status(ec));
  PyErr_SetObject(errors().store_error, exc.ptr());
  throw py::error_already_set();
}

template <class T>
T check(expected<T> r, const std::string& context) {
  if (!r) raise_store(r.error(), context);
  return std::move(*r);
}

inline void check(expected<void> r, const std::string& context) {
  if (!r) raise_store(r.error(), context);
}

std::string bytes_arg(py::handle h, const char* what) {
  if (py::isinstance<py::bytes>(h)) return h.cast<std::string>();
  if (py::isinstance<py::bytearray>(h) || py::isinstance<py::memoryview>(h)) {
    PyObject* b = PyBytes_FromObject(h.ptr());
    if (!b) throw py::error_already_set();
    return py::reinterpret_steal<py::bytes>(b).cast<std::string>();
  }
  throw py::type_error(std::string(what) + " must be bytes");
}

std::string text_arg(py::handle h, const char* what) {
  if (py::isinstance<py::str>(h)) return h.cast<std::string>();
  if (py::isinstance<py::bytes>(h)) return h.cast<std::string>();
  throw py::type_error(std::string(what) + " must be str or bytes");
}

flag_set flags_arg(py::handle h) {
  flag_set f;
  if (h.is_none()) return f;
  if (py::isinstance<py::str>(h) || py::isinstance<py::bytes>(h))
    throw py::type_error("flags must be an iterable of flag names, not one string");
  for (auto item : py::iter(h)) {
    auto name = text_arg(item, "flag");
    if (!f.add(name)) throw py::value_error("invalid flag or keyword: " + name);
  }
  return f;
}

std::optional<std::int64_t> date_arg(py::handle h) {
  if (h.is_none()) return std::nullopt;
  if (py::hasattr(h, "timestamp"))
    return static_cast<std::int64_t>(h.attr("timestamp")().cast<double>());
  if (py::isinstance<py::int_>(h) || py::isinstance<py::float_>(h))
    return static_cast<std::int64_t>(h.cast<double>());
  throw py::type_error("internal_date must be a datetime or Unix seconds");
}

std::vector<uid_type> uids_arg(py::handle h) {
  std::vector<uid_type> out;
  if (py::isinstance<py::int_>(h)) {
    out.push_back(h.cast<uid_type>());
    return out;
  }
  for (auto item : py::iter(h))
    out.push_back(item.cast<uid_type>());
  return out;
}

py::dict report_dict(const import_report& r) {
  py::dict d;
  d["mailboxes"] = r.mailboxes;
  d["imported"] = r.imported;
  d["duplicates"] = r.duplicates;
  d["failed"] = r.failed;
  d["uids_kept"] = r.uids_kept;
  d["uidvalidities_kept"] = r.uidvalidities_kept;
  return d;
}

// The Python object: a shared handle so that close() can drop the store while calls that
// already hold it finish.
class py_store {
public:
  explicit py_store(std::shared_ptr<mail_store> s) : s_(std::move(s)) {}
  std::shared_ptr<mail_store> get() const {
    if (!s_) raise(errors().store_error, "the store is closed");
    return s_;
  }
  void close() { s_.reset(); }

private:
  std::shared_ptr<mail_store> s_;
};

} // namespace

void bind_store(py::module_& parent) {
  auto m = parent.def_submodule("store", "The mail store: accounts, aliases, mailboxes, messages.");

  py::class_<message_info>(m, "Message", "One message in a mailbox (metadata only).")
      .def_readonly("uid", &message_info::uid)
      .def_readonly("modseq", &message_info::modseq)
      .def_readonly("size", &message_info::size)
      .def_readonly("internal_date", &message_info::internal_date, "Unix seconds")
      .def_property_readonly("flags", [](const message_info& mi) { return mi.flags.names(); })
      .def("__repr__", [](const message_info& mi) {
        return "<mailkit.store.Message uid=" + std::to_string(mi.uid) +
               " size=" + std::to_string(mi.size) + ">";
      });

  py::class_<mailbox_info>(m, "Mailbox", "A mailbox with its IMAP counters.")
      .def_readonly("name", &mailbox_info::name)
      .def_readonly("special_use", &mailbox_info::special_use)
      .def_readonly("subscribed", &mailbox_info::subscribed)
      .def_readonly("uidvalidity", &mailbox_info::uidvalidity)
      .def_readonly("uidnext", &mailbox_info::uidnext)
      .def_readonly("highestmodseq", &mailbox_info::highestmodseq)
      .def_readonly("messages", &mailbox_info::messages)
      .def_readonly("unseen", &mailbox_info::unseen)
      .def("__repr__",
           [](const mailbox_info& mi) { return "<mailkit.store.Mailbox " + mi.name + ">"; });

  py::class_<account_info>(m, "Account", "An account with its quota and usage.")
      .def_readonly("address", &account_info::address)
      .def_property_readonly("quota_bytes",
                             [](const account_info& a) -> std::optional<std::uint64_t> {
                               if (!a.limit.bytes) return std::nullopt;
                               return a.limit.bytes;
                             })
      .def_property_readonly("quota_messages",
                             [](const account_info& a) -> std::optional<std::uint64_t> {
                               if (!a.limit.messages) return std::nullopt;
                               return a.limit.messages;
                             })
      .def_readonly("used_bytes", &account_info::used_bytes)
      .def_readonly("used_messages", &account_info::used_messages);

  py::class_<resolution>(m, "Resolution", "Where mail for an address goes.")
      .def_property_readonly("outcome",
                             [](const resolution& r) {
                               switch (r.outcome) {
                               case resolution::status::local:
                                 return "local";
                               case resolution::status::not_local:
                                 return "not_local";
                               case resolution::status::no_such_user:
                                 return "no_such_user";
                               }
                               return "?";
                             })
      .def_property_readonly("targets", [](const resolution& r) {
        py::list out;
        for (const auto& t : r.targets)
          out.append(py::make_tuple(t.where == delivery_target::kind::local ? "local" : "external",
                                    t.address, t.tag));
        return out;
      });

  py::class_<py_store>(m, "Store", "An open mail store (mailkit.store.open).")
      .def("close", &py_store::close, "Release the store (and its lock) now.")
      .def("__enter__", [](py_store& s) -> py_store& { return s; })
      .def("__exit__", [](py_store& s, py::args) { s.close(); })
      .def("add_domain",
           [](py_store& self, py::handle domain) {
             auto s = self.get();
             auto d = text_arg(domain, "domain");
             py::gil_scoped_release nogil;
             check(s->add_domain(d), "add_domain " + d);
           })
      .def(
          "remove_domain",
          [](py_store& self, py::handle domain, bool cascade) {
            auto s = self.get();
            auto d = text_arg(domain, "domain");
            py::gil_scoped_release nogil;
            check(s->remove_domain(d, cascade), "remove_domain " + d);
          },
          py::arg("domain"), py::kw_only(), py::arg("cascade") = false)
      .def("domains",
           [](py_store& self) {
             auto s = self.get();
             py::gil_scoped_release nogil;
             return check(s->domains(), "domains");
           })
      .def(
          "add_user",
          [](py_store& self, py::handle addr, py::handle password, std::optional<std::uint64_t> qb,
             std::optional<std::uint64_t> qm) {
            auto s = self.get();
            auto a = text_arg(addr, "address");
            auto p = text_arg(password, "password");
            py::gil_scoped_release nogil;
            check(s->add_account(a, p, {qb.value_or(0), qm.value_or(0)}), "add_user " + a);
          },
          py::arg("address"), py::arg("password"), py::arg("quota_bytes") = py::none(),
          py::arg("quota_messages") = py::none())
      .def(
          "add_user_hash",
          [](py_store& self, py::handle addr, py::handle hash, std::optional<std::uint64_t> qb,
             std::optional<std::uint64_t> qm) {
            auto s = self.get();
            auto a = text_arg(addr, "address");
            auto h = text_arg(hash, "hash");
            py::gil_scoped_release nogil;
            check(s->add_account_with_hash(a, h, {qb.value_or(0), qm.value_or(0)}),
                  "add_user_hash " + a);
          },
          py::arg("address"), py::arg("hash"), py::arg("quota_bytes") = py::none(),
          py::arg("quota_messages") = py::none(),
          "Create an account keeping an imported Dovecot hash ({SHA512-CRYPT}$6$...).")
      .def("remove_user",
           [](py_store& self, py::handle addr) {
             auto s = self.get();
             auto a = text_arg(addr, "address");
             py::gil_scoped_release nogil;
             check(s->remove_account(a), "remove_user " + a);
           })
      .def(
          "users",
          [](py_store& self, std::optional<std::string> domain) {
            auto s = self.get();
            py::gil_scoped_release nogil;
            return check(s->accounts(domain.value_or("")), "users");
          },
          py::arg("domain") = py::none())
      .def("user",
           [](py_store& self, py::handle addr) {
             auto s = self.get();
             auto a = text_arg(addr, "address");
             py::gil_scoped_release nogil;
             return check(s->account(a), "user " + a);
           })
      .def("set_password",
           [](py_store& self, py::handle addr, py::handle password) {
             auto s = self.get();
             auto a = text_arg(addr, "address");
             auto p = text_arg(password, "password");
             py::gil_scoped_release nogil;
             check(s->set_password(a, p), "set_password " + a);
           })
      .def(
          "set_quota",
          [](py_store& self, py::handle addr, std::optional<std::uint64_t> qb,
             std::optional<std::uint64_t> qm) {
            auto s = self.get();
            auto a = text_arg(addr, "address");
            py::gil_scoped_release nogil;
            check(s->set_quota(a, {qb.value_or(0), qm.value_or(0)}), "set_quota " + a);
          },
          py::arg("address"), py::arg("quota_bytes") = py::none(),
          py::arg("quota_messages") = py::none())
      .def("authenticate",
           [](py_store& self, py::handle addr, py::handle password) {
             auto s = self.get();
             auto a = text_arg(addr, "address");
             auto p = text_arg(password, "password");
             py::gil_scoped_release nogil;
             return check(s->authenticate(a, p), "authenticate").ok;
           })
      .def("add_alias",
           [](py_store& self, py::handle source, py::handle targets) {
             auto s = self.get();
             auto src = text_arg(source, "source");
             std::vector<std::string> t;
             if (py::isinstance<py::str>(targets) || py::isinstance<py::bytes>(targets))
               t.push_back(text_arg(targets, "target"));
             else
               for (auto item : py::iter(targets))
                 t.push_back(text_arg(item, "target"));
             py::gil_scoped_release nogil;
             check(s->add_alias(src, t), "add_alias " + src);
           })
      .def(
          "remove_alias",
          [](py_store& self, py::handle source, std::optional<std::string> target) {
            auto s = self.get();
            auto src = text_arg(source, "source");
            py::gil_scoped_release nogil;
            check(s->remove_alias(src, target.value_or("")), "remove_alias " + src);
          },
          py::arg("source"), py::arg("target") = py::none())
      .def(
          "aliases",
          [](py_store& self, std::optional<std::string> domain) {
            auto s = self.get();
            py::gil_scoped_release nogil;
            return check(s->aliases(domain.value_or("")), "aliases");
          },
          py::arg("domain") = py::none())
      .def("resolve",
           [](py_store& self, py::handle addr) {
             auto s = self.get();
             auto a = text_arg(addr, "address");
             py::gil_scoped_release nogil;
             return check(s->resolve_recipient(a), "resolve " + a);
           })
      .def("mailboxes",
           [](py_store& self, py::handle user) {
             auto s = self.get();
             auto u = text_arg(user, "user");
             py::gil_scoped_release nogil;
             return check(s->mailboxes(u), "mailboxes " + u);
           })
      .def("mailbox",
           [](py_store& self, py::handle user, std::string name) {
             auto s = self.get();
             auto u = text_arg(user, "user");
             py::gil_scoped_release nogil;
             return check(s->mailbox(u, name), "mailbox " + name);
           })
      .def("create_mailbox",
           [](py_store& self, py::handle user, std::string name) {
             auto s = self.get();
             auto u = text_arg(user, "user");
             py::gil_scoped_release nogil;
             check(s->create_mailbox(u, name), "create_mailbox " + name);
           })
      .def("delete_mailbox",
           [](py_store& self, py::handle user, std::string name) {
             auto s = self.get();
             auto u = text_arg(user, "user");
             py::gil_scoped_release nogil;
             check(s->delete_mailbox(u, name), "delete_mailbox " + name);
           })
      .def("rename_mailbox",
           [](py_store& self, py::handle user, std::string from, std::string to) {
             auto s = self.get();
             auto u = text_arg(user, "user");
             py::gil_scoped_release nogil;
             check(s->rename_mailbox(u, from, to), "rename_mailbox " + from);
           })
      .def(
          "append",
          [](py_store& self, py::handle user, std::string mailbox, py::handle data,
             py::handle flags, py::handle internal_date) {
            auto s = self.get();
            auto u = text_arg(user, "user");
            auto d = bytes_arg(data, "data");
            auto f = flags_arg(flags);
            auto when = date_arg(internal_date);
            py::gil_scoped_release nogil;
            return check(s->append(u, mailbox, d, f, when), "append to " + mailbox).uid;
          },
          py::arg("user"), py::arg("mailbox"), py::arg("data"), py::arg("flags") = py::tuple(),
          py::arg("internal_date") = py::none())
      .def(
          "deliver",
          [](py_store& self, py::handle user, py::handle data, std::string mailbox) {
            auto s = self.get();
            auto u = text_arg(user, "user");
            auto d = bytes_arg(data, "data");
            py::gil_scoped_release nogil;
            return check(s->deliver(u, d, mailbox), "deliver to " + u).uid;
          },
          py::arg("user"), py::arg("data"), py::arg("mailbox") = "INBOX")
      .def("messages",
           [](py_store& self, py::handle user, std::string mailbox) {
             auto s = self.get();
             auto u = text_arg(user, "user");
             py::gil_scoped_release nogil;
             return check(s->messages(u, mailbox), "messages of " + mailbox);
           })
      .def("fetch",
           [](py_store& self, py::handle user, std::string mailbox, uid_type uid) {
             auto s = self.get();
             auto u = text_arg(user, "user");
             std::string data;
             {
               py::gil_scoped_release nogil;
               auto r = s->fetch(u, mailbox, uid);
               if (r)
                 data = std::move(*r);
               else {
                 py::gil_scoped_acquire gil;
                 raise_store(r.error(), "fetch " + std::to_string(uid));
               }
             }
             return py::bytes(data);
           })
      .def(
          "store_flags",
          [](py_store& self, py::handle user, std::string mailbox, py::handle uids,
             py::handle flags, const std::string& mode) {
            auto s = self.get();
            auto u = text_arg(user, "user");
            auto list = uids_arg(uids);
            auto f = flags_arg(flags);
            flag_mode fm = mode == "add"      ? flag_mode::add
                           : mode == "remove" ? flag_mode::remove
                           : mode == "replace"
                               ? flag_mode::replace
                               : throw py::value_error("mode must be add, remove or replace");
            py::gil_scoped_release nogil;
            auto r = check(s->store_flags(u, mailbox, list, fm, f), "store_flags");
            std::vector<uid_type> changed;
            for (const auto& mi : r.changed)
              changed.push_back(mi.uid);
            return changed;
          },
          py::arg("user"), py::arg("mailbox"), py::arg("uids"), py::arg("flags"),
          py::arg("mode") = "add")
      .def(
          "expunge",
          [](py_store& self, py::handle user, std::string mailbox, py::handle uids) {
            auto s = self.get();
            auto u = text_arg(user, "user");
            std::optional<std::vector<uid_type>> list;
            if (!uids.is_none()) list = uids_arg(uids);
            py::gil_scoped_release nogil;
            std::optional<std::span<const uid_type>> span;
            if (list) span = std::span<const uid_type>(*list);
            return check(s->expunge(u, mailbox, span), "expunge");
          },
          py::arg("user"), py::arg("mailbox"), py::arg("uids") = py::none())
      .def("copy",
           [](py_store& self, py::handle user, std::string from, py::handle uids, std::string to) {
             auto s = self.get();
             auto u = text_arg(user, "user");
             auto list = uids_arg(uids);
             py::gil_scoped_release nogil;
             return check(s->copy(u, from, list, to), "copy");
           })
      .def("move",
           [](py_store& self, py::handle user, std::string from, py::handle uids, std::string to) {
             auto s = self.get();
             auto u = text_arg(user, "user");
             auto list = uids_arg(uids);
             py::gil_scoped_release nogil;
             return check(s->move(u, from, list, to), "move");
           })
      .def("import_maildir",
           [](py_store& self, py::handle user, std::string path) {
             auto s = self.get();
             auto u = text_arg(user, "user");
             import_report r;
             {
               py::gil_scoped_release nogil;
               auto res = import_maildir(*s, u, path);
               if (!res) {
                 py::gil_scoped_acquire gil;
                 raise_store(res.error(), "import_maildir " + path);
               }
               r = *res;
             }
             return report_dict(r);
           })
      .def(
          "import_mbox",
          [](py_store& self, py::handle user, std::string path, std::string mailbox) {
            auto s = self.get();
            auto u = text_arg(user, "user");
            import_report r;
            {
              py::gil_scoped_release nogil;
              auto res = import_mbox(*s, u, path, mailbox);
              if (!res) {
                py::gil_scoped_acquire gil;
                raise_store(res.error(), "import_mbox " + path);
              }
              r = *res;
            }
            return report_dict(r);
          },
          py::arg("user"), py::arg("path"), py::arg("mailbox") = "INBOX")
      .def("export_maildir",
           [](py_store& self, py::handle user, std::string path) {
             auto s = self.get();
             auto u = text_arg(user, "user");
             import_report r;
             {
               py::gil_scoped_release nogil;
               auto res = export_maildir(*s, u, path);
               if (!res) {
                 py::gil_scoped_acquire gil;
                 raise_store(res.error(), "export_maildir " + path);
               }
               r = *res;
             }
             return report_dict(r);
           })
      .def("check", [](py_store& self) {
        auto s = self.get();
        py::gil_scoped_release nogil;
        return check(s->check(), "check");
      });

  m.def(
      "open",
      [](std::string path, std::optional<std::uint64_t> opslimit,
         std::optional<std::size_t> memlimit) {
        open_options o;
        o.path = std::move(path);
        if (opslimit) o.passwords.opslimit = *opslimit;
        if (memlimit) o.passwords.memlimit = *memlimit;
        std::shared_ptr<mail_store> s;
        {
          py::gil_scoped_release nogil;
          auto r = mailkit::store::open(std::move(o));
          if (!r) {
            py::gil_scoped_acquire gil;
            raise_store(r.error(), "open");
          }
          s = std::move(*r);
        }
        return py_store(std::move(s));
      },
      py::arg("path"), py::kw_only(), py::arg("argon2_opslimit") = py::none(),
      py::arg("argon2_memlimit") = py::none(),
      "Open (creating when missing) the store in directory `path`.");
}

py::object wrap_store(std::shared_ptr<mail_store> s) {
  return py::cast(py_store(std::move(s)));
}

static const binding_registration reg{100, &bind_store};

} // namespace mailkit::python
