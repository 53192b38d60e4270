// SPDX-License-Identifier: Apache-2.0
// `mailkit.mime`: parse messages into Message/Part objects, read their headers, addresses and
// bodies, and build new messages (PYTHON_API.md, section mailkit.mime).
//
// Ownership: a parsed mime::message is immutable and shared. Message and every Part, Part
// iterator and list handed out hold the same std::shared_ptr, so a Part stays valid after the
// Message object that produced it is gone, and several threads may read one message at once.
//
// Threads: parse(), build(), Part.content() and Part.text() run without the GIL. Their inputs
// are copied out of Python objects (or are immutable C++ state) before the GIL is released.
//
// Strings: decoded values (header(), subject, addresses, filenames, text()) are UTF-8 from the
// C++ decoders. Raw values (Message.headers, Part.headers) are bytes from the wire and may hold
// anything; they are decoded as UTF-8 with the "surrogateescape" error handler, which is
// lossless: value.encode("utf-8", "surrogateescape") gives back the exact bytes.
#include "errors.hpp"

#include <mailkit/mime/mime.hpp>

#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace mailkit::python {

namespace {

using message_ptr = std::shared_ptr<const mime::message>;

// ---------------------------------------------------------------------------------------------
// Conversions

// A Python str from bytes that are UTF-8 when all is well; never raises (see the file comment).
py::str to_str(std::string_view s) {
  PyObject* o =
      PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

py::object to_str_or_none(const std::optional<std::string>& s) {
  if (!s) return py::none();
  return to_str(*s);
}

py::bytes to_bytes(std::string_view s) {
  return py::bytes(s.data(), s.size());
}

// Copy a bytes-like object (bytes, bytearray, memoryview, any C-contiguous or strided buffer)
// into a std::string while the GIL is held. str is refused: a message is bytes, and guessing an
// encoding for it would hide a bug in the caller.
std::string copy_bytes(py::handle obj, const char* what) {
  if (PyUnicode_Check(obj.ptr()))
    throw py::type_error(std::string(what) + " must be bytes, bytearray or memoryview, not str");
  if (PyObject_CheckBuffer(obj.ptr()) == 0)
    throw py::type_error(std::string(what) + " must be bytes, bytearray or memoryview, not " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  Py_buffer view;
  if (PyObject_GetBuffer(obj.ptr(), &view, PyBUF_FULL_RO) != 0) throw py::error_already_set();
  if (PyBuffer_IsContiguous(&view, 'C') != 0) {
    // The common case (bytes, bytearray): one copy, no zero-filling first.
    std::string out(static_cast<const char*>(view.buf), static_cast<std::size_t>(view.len));
    PyBuffer_Release(&view);
    return out;
  }
  std::string out(static_cast<std::size_t>(view.len), '\0');
  const int rc = PyBuffer_ToContiguous(out.data(), &view, view.len, 'C');
  PyBuffer_Release(&view);
  if (rc != 0) throw py::error_already_set();
  return out;
}

// RFC 5322 dates carry their zone; Python gets an aware datetime in that zone.
py::object to_datetime(const mime::date_time& d) {
  const py::module_ dt = py::module_::import("datetime");
  const py::object utc = dt.attr("timezone").attr("utc");
  py::object tz;
  try {
    tz = dt.attr("timezone")(dt.attr("timedelta")(py::arg("minutes") = d.tz_offset_minutes));
    return dt.attr("datetime")(d.year, d.month, d.day, d.hour, d.minute, d.second, 0, tz);
  } catch (py::error_already_set& e) {
    // datetime refuses a zone of 24 h or more and fields such as a leap second 60: fall back to
    // the instant the C++ side computes, in the zone when it is usable, else in UTC.
    if (!e.matches(PyExc_ValueError)) throw;
  }
  try {
    return dt.attr("datetime").attr("fromtimestamp")(d.to_unix(), tz ? tz : utc);
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_ValueError) && !e.matches(PyExc_OverflowError) &&
        !e.matches(PyExc_OSError))
      throw;
  }
  return py::none();
}

// An aware datetime as an RFC 5322 date in its own zone.
mime::date_time from_datetime(py::handle obj) {
  const py::module_ dt = py::module_::import("datetime");
  if (!py::isinstance(obj, dt.attr("datetime")))
    throw py::type_error("date must be a datetime.datetime");
  const py::object offset = obj.attr("utcoffset")();
  if (offset.is_none()) throw py::value_error("date must be timezone-aware (give it a tzinfo)");
  const double seconds = offset.attr("total_seconds")().cast<double>();
  mime::date_time d;
  d.year = obj.attr("year").cast<int>();
  d.month = obj.attr("month").cast<int>();
  d.day = obj.attr("day").cast<int>();
  d.hour = obj.attr("hour").cast<int>();
  d.minute = obj.attr("minute").cast<int>();
  d.second = obj.attr("second").cast<int>();
  d.tz_offset_minutes = static_cast<int>(seconds / 60);
  return d;
}

py::list to_address_list(const mime::address_list& list) {
  py::list out;
  for (auto& m : list.flatten())
    out.append(py::cast(std::move(m)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Builder arguments

bool is_str_or_none(py::handle h) {
  return h.is_none() || PyUnicode_Check(h.ptr());
}

std::optional<std::string> opt_str(py::handle h) {
  if (h.is_none()) return std::nullopt;
  std::string s = h.cast<std::string>();
  if (s.empty()) return std::nullopt;
  return s;
}

// One argument item as mailboxes: an Address, a (name, addr) pair, or a string in header syntax
// ("Name <addr>", "a@x, b@y") that may hold several.
void append_mailboxes(py::handle item, const char* what, std::vector<mime::mailbox>& out) {
  if (py::isinstance<mime::mailbox>(item)) {
    out.push_back(item.cast<mime::mailbox>());
    return;
  }
  if (PyUnicode_Check(item.ptr())) {
    const std::string s = item.cast<std::string>();
    auto found = mime::parse_address_list(s).flatten();
    if (found.empty()) throw py::value_error(std::string(what) + ": no address in " + s);
    for (auto& m : found)
      out.push_back(std::move(m));
    return;
  }
  if (py::isinstance<py::tuple>(item) && py::len(item) == 2) {
    const py::tuple t = py::reinterpret_borrow<py::tuple>(item);
    if (is_str_or_none(t[0]) && is_str_or_none(t[1])) {
      out.push_back(mime::mailbox{opt_str(t[0]), opt_str(t[1])});
      return;
    }
  }
  throw py::type_error(std::string(what) +
                       ": expected an Address, a (name, addr) tuple or an address string");
}

// A recipient argument: None, one item (see append_mailboxes) or an iterable of items. A
// 2-tuple is always one (name, addr) pair; several recipients go in a list.
std::vector<mime::mailbox> to_mailboxes(py::handle obj, const char* what) {
  std::vector<mime::mailbox> out;
  if (obj.is_none()) return out;
  if (PyUnicode_Check(obj.ptr()) || py::isinstance<mime::mailbox>(obj) ||
      (py::isinstance<py::tuple>(obj) && py::len(obj) == 2 &&
       is_str_or_none(py::reinterpret_borrow<py::tuple>(obj)[0]))) {
    append_mailboxes(obj, what, out);
    return out;
  }
  if (!py::isinstance<py::iterable>(obj))
    throw py::type_error(std::string(what) + ": expected an address or a list of addresses");
  for (py::handle item : obj)
    append_mailboxes(item, what, out);
  return out;
}

std::vector<std::pair<std::string, std::string>> to_header_pairs(py::handle obj) {
  std::vector<std::pair<std::string, std::string>> out;
  if (obj.is_none()) return out;
  py::object items = py::reinterpret_borrow<py::object>(obj);
  if (py::isinstance<py::dict>(obj)) items = obj.attr("items")();
  for (py::handle item : items) {
    if (!py::isinstance<py::tuple>(item) || py::len(item) != 2)
      throw py::type_error("headers: expected a dict or (name, value) pairs");
    const py::tuple t = py::reinterpret_borrow<py::tuple>(item);
    if (!PyUnicode_Check(t[0].ptr()) || !PyUnicode_Check(t[1].ptr()))
      throw py::type_error("headers: names and values must be str");
    out.emplace_back(t[0].cast<std::string>(), t[1].cast<std::string>());
  }
  return out;
}

std::vector<mime::attachment> to_attachments(py::handle obj) {
  std::vector<mime::attachment> out;
  if (obj.is_none()) return out;
  for (py::handle item : obj) {
    if (!py::isinstance<py::tuple>(item) || py::len(item) != 3)
      throw py::type_error("attachments: expected (filename, content_type, data) tuples");
    const py::tuple t = py::reinterpret_borrow<py::tuple>(item);
    if (!PyUnicode_Check(t[0].ptr())) throw py::type_error("attachments: the filename must be str");
    mime::attachment a;
    a.filename = t[0].cast<std::string>();
    if (!t[1].is_none()) {
      if (!PyUnicode_Check(t[1].ptr()))
        throw py::type_error("attachments: the content type must be str or None");
      a.content_type = t[1].cast<std::string>();
    }
    a.data = copy_bytes(t[2], "attachment data");
    out.push_back(std::move(a));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Python-side objects

struct py_message {
  message_ptr msg;
};

struct py_part {
  message_ptr msg;
  std::size_t index = 0;
  [[nodiscard]] const mime::part& get() const { return msg->parts()[index]; }
};

struct py_part_iterator {
  message_ptr msg;
  std::size_t next = 0;
};

py_part part_at(const message_ptr& msg, std::size_t index) {
  return py_part{msg, index};
}

py::list part_list(const message_ptr& msg, const std::vector<const mime::part*>& parts) {
  py::list out;
  for (const auto* p : parts)
    out.append(py::cast(part_at(msg, p->index)));
  return out;
}

py::list header_list(const mime::message& msg, const mime::part& p) {
  py::list out;
  for (const auto& f : msg.headers(p))
    out.append(py::make_tuple(to_str(f.name), to_str(f.unfolded())));
  return out;
}

py::list decoded_list(const std::vector<std::string>& values) {
  py::list out;
  for (const auto& v : values)
    out.append(to_str(v));
  return out;
}

py::dict param_dict(const mime::content_type& ct) {
  py::dict out;
  // Parameters are unique by name already (the first of duplicates wins, content_type.hpp).
  for (const auto& prm : ct.params) {
    const py::str key = to_str(prm.name);
    if (!out.contains(key)) out[key] = to_str(prm.value);
  }
  return out;
}

const char* encoding_name(mime::transfer_encoding e) noexcept {
  switch (e) {
  case mime::transfer_encoding::seven_bit:
    return "7bit";
  case mime::transfer_encoding::eight_bit:
    return "8bit";
  case mime::transfer_encoding::binary:
    return "binary";
  case mime::transfer_encoding::quoted_printable:
    return "quoted-printable";
  case mime::transfer_encoding::base64:
    return "base64";
  case mime::transfer_encoding::uuencode:
    return "x-uuencode";
  case mime::transfer_encoding::unknown:
    return "unknown";
  }
  return "unknown";
}

// The IMAP section number of a part (RFC 3501 §6.4.5): "1.2" for the second child of the first
// child of a multipart root; a multipart root has none (""), a single-part root is "1". The
// multipart root of an embedded message shares its message/rfc822 part's number; a single-part
// embedded message is that number plus ".1". Iterative: the path is bounded by the input depth.
std::string section_of(const mime::message& msg, std::size_t index) {
  const auto& parts = msg.parts();
  std::vector<std::size_t> path{index};
  while (parts[path.back()].parent)
    path.push_back(*parts[path.back()].parent);
  auto join = [](const std::string& a, const std::string& b) {
    return a.empty() ? b : a + "." + b;
  };
  std::string sec = parts[path.back()].is_multipart ? "" : "1";
  for (std::size_t i = path.size() - 1; i > 0; --i) {
    const mime::part& parent = parts[path[i]];
    const mime::part& child = parts[path[i - 1]];
    if (parent.is_message) {
      if (!child.is_multipart) sec = join(sec, "1");
      continue;
    }
    std::size_t pos = 0;
    while (pos < parent.children.size() && parent.children[pos] != child.index)
      ++pos;
    sec = join(sec, std::to_string(pos + 1));
  }
  return sec;
}

mime::limits make_limits(std::size_t max_message_size, std::size_t max_header_fields,
                         std::size_t max_header_bytes, std::size_t max_depth, std::size_t max_parts,
                         const std::string& on_limit) {
  mime::limits lim;
  lim.max_message_size = max_message_size;
  lim.max_header_fields = max_header_fields;
  lim.max_header_bytes = max_header_bytes;
  lim.max_depth = max_depth;
  lim.max_parts = max_parts;
  if (on_limit == "truncate")
    lim.on_limit = mime::limits::action::truncate;
  else if (on_limit == "fail")
    lim.on_limit = mime::limits::action::fail;
  else
    throw py::value_error("on_limit must be \"truncate\" or \"fail\", not \"" + on_limit + "\"");
  return lim;
}

py_message parse_bytes(py::handle data, const mime::limits& lim) {
  std::string bytes = copy_bytes(data, "data");
  std::optional<expected<mime::message>> parsed;
  {
    py::gil_scoped_release nogil;
    parsed.emplace(mime::parse(std::move(bytes), lim));
  }
  if (!*parsed) raise(errors().parse_error, parsed->error().message());
  return py_message{std::make_shared<const mime::message>(std::move(**parsed))};
}

void set_module(py::handle cls) {
  cls.attr("__module__") = "mailkit.mime";
}

// ---------------------------------------------------------------------------------------------
// Bindings

// How a reader shows a mailbox: `Name <addr>`, the name quoted when it holds RFC 5322 specials
// so that the text still parses as one mailbox, never RFC 2047 encoded (build() does that).
std::string display_form(const mime::mailbox& a) {
  if (!a.name) return a.addr.value_or("");
  std::string name = *a.name;
  if (name.find_first_of("()<>[]:;@\\,.\"") != std::string::npos) {
    std::string quoted = "\"";
    for (char c : name) {
      if (c == '"' || c == '\\') quoted.push_back('\\');
      quoted.push_back(c);
    }
    name = quoted + "\"";
  }
  if (!a.addr) return name;
  return name + " <" + *a.addr + ">";
}

void bind_address(py::module_& m) {
  auto cls = py::class_<mime::mailbox>(m, "Address", R"doc(
One mailbox of an address field: a display name and an address, each None when the field gave
none ("Undisclosed recipients" alone has a name and no address). Both are decoded str.
Immutable, hashable and comparable; str() gives the form a reader shows: Name <addr>.)doc");
  cls.def(py::init([](std::optional<std::string> name, std::optional<std::string> addr) {
            if (name && name->empty()) name.reset();
            if (addr && addr->empty()) addr.reset();
            return mime::mailbox{std::move(name), std::move(addr)};
          }),
          py::arg("name") = py::none(), py::arg("addr") = py::none())
      .def_property_readonly(
          "name", [](const mime::mailbox& a) { return to_str_or_none(a.name); },
          "The display name, decoded; None when there is none.")
      .def_property_readonly(
          "addr", [](const mime::mailbox& a) { return to_str_or_none(a.addr); },
          "local-part@domain; None when the field held only a name.")
      .def(py::self == py::self)
      .def(py::self != py::self)
      .def("__hash__",
           [](const mime::mailbox& a) {
             return py::hash(py::make_tuple(to_str_or_none(a.name), to_str_or_none(a.addr)));
           })
      .def("__repr__",
           [](const mime::mailbox& a) {
             return "Address(name=" + std::string(py::repr(to_str_or_none(a.name))) +
                    ", addr=" + std::string(py::repr(to_str_or_none(a.addr))) + ")";
           })
      .def("__str__", [](const mime::mailbox& a) { return to_str(display_form(a)); })
      .def(py::pickle(
          [](const mime::mailbox& a) {
            return py::make_tuple(to_str_or_none(a.name), to_str_or_none(a.addr));
          },
          [](const py::tuple& t) {
            if (py::len(t) != 2) throw py::value_error("Address: bad pickle state");
            return mime::mailbox{t[0].cast<std::optional<std::string>>(),
                                 t[1].cast<std::optional<std::string>>()};
          }));
  set_module(cls);
}

void bind_part(py::module_& m) {
  auto cls = py::class_<py_part>(m, "Part", R"doc(
One node of a message's MIME tree (RFC 2046). A Part keeps its message alive: it stays valid
after the Message it came from is gone.)doc");
  cls.def_property_readonly(
         "content_type", [](const py_part& p) { return to_str(p.get().type.mime_type()); },
         "\"type/subtype\" in lower case; the RFC 2045 §5.2 default when absent.")
      .def_property_readonly(
          "params", [](const py_part& p) { return param_dict(p.get().type); },
          "Content-Type parameters: lower-case names, RFC 2231/2047 decoded values.")
      .def_property_readonly("is_multipart", [](const py_part& p) { return p.get().is_multipart; })
      .def_property_readonly(
          "is_message", [](const py_part& p) { return p.get().is_message; },
          "A message/rfc822 or message/global part; its one child is the embedded message.")
      .def_property_readonly(
          "filename", [](const py_part& p) { return to_str_or_none(p.msg->filename(p.get())); },
          "Content-Disposition filename, else Content-Type name; decoded.")
      .def_property_readonly(
          "disposition",
          [](const py_part& p) -> py::object {
            const auto& d = p.get().disposition;
            if (!d || d->type.empty()) return py::none();
            return to_str(d->type);
          },
          "\"attachment\", \"inline\" (lower case) or None.")
      .def_property_readonly(
          "disposition_params",
          [](const py_part& p) {
            const auto& d = p.get().disposition;
            return d ? param_dict(*d) : py::dict();
          },
          "Content-Disposition parameters, decoded like params.")
      .def_property_readonly(
          "charset", [](const py_part& p) { return to_str_or_none(p.msg->charset(p.get())); },
          "The charset in lower case; \"us-ascii\" for text/* without one; None otherwise.")
      .def_property_readonly(
          "encoding", [](const py_part& p) { return encoding_name(p.get().encoding); },
          "Content-Transfer-Encoding: \"7bit\", \"8bit\", \"binary\", \"quoted-printable\", "
          "\"base64\", \"x-uuencode\" or \"unknown\".")
      .def_property_readonly(
          "content_id",
          [](const py_part& p) -> py::object {
            const auto* f = p.msg->field("Content-ID", &p.get());
            if (f == nullptr) return py::none();
            auto ids = mime::parse_id_list(f->raw);
            if (ids.empty()) return py::none();
            return to_str(ids.front());
          },
          "The Content-ID without angle brackets, or None.")
      .def_property_readonly(
          "index", [](const py_part& p) { return p.index; },
          "Position in Message.parts (depth first, the root is 0).")
      .def_property_readonly(
          "section", [](const py_part& p) { return section_of(*p.msg, p.index); },
          "IMAP section number (RFC 3501 §6.4.5): \"1.2\"; \"\" for a multipart root.")
      .def_property_readonly("depth", [](const py_part& p) { return p.get().depth; })
      .def_property_readonly("parent",
                             [](const py_part& p) -> py::object {
                               const auto& parent = p.get().parent;
                               if (!parent) return py::none();
                               return py::cast(part_at(p.msg, *parent));
                             })
      .def_property_readonly("children",
                             [](const py_part& p) {
                               py::list out;
                               for (auto c : p.get().children)
                                 out.append(py::cast(part_at(p.msg, c)));
                               return out;
                             })
      .def_property_readonly(
          "headers", [](const py_part& p) { return header_list(*p.msg, p.get()); },
          "(name, value) pairs of this part's header: raw, unfolded, in order.")
      .def(
          "header",
          [](const py_part& p, const std::string& name) {
            return to_str_or_none(p.msg->header(name, &p.get()));
          },
          py::arg("name"), "The first value of the field, RFC 2047 decoded; None when absent.")
      .def(
          "get_all",
          [](const py_part& p, const std::string& name) {
            return decoded_list(p.msg->get_all(name, &p.get()));
          },
          py::arg("name"), "Every value of the field, decoded, in order.")
      .def_property_readonly(
          "size", [](const py_part& p) { return p.msg->body(p.get()).size(); },
          "Size of the raw (still transfer-encoded) body in bytes.")
      .def(
          "content",
          [](const py_part& p) {
            // Decoded data is never longer than the encoded body (base64, quoted-printable and
            // uuencode only shrink), so it is written straight into a bytes object of that
            // size, which is then cut to length: no intermediate string, no second copy.
            const std::size_t bound = p.msg->body(p.get()).size();
            PyObject* obj = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(bound));
            if (obj == nullptr) throw py::error_already_set();
            py::object owner = py::reinterpret_steal<py::object>(obj);
            char* dst = PyBytes_AS_STRING(obj);
            std::size_t n = 0;
            bool overflow = false;
            {
              py::gil_scoped_release nogil;
              p.msg->content_to(p.get(), [&](std::string_view chunk) {
                if (chunk.size() > bound - n) {
                  overflow = true;
                  return;
                }
                std::memcpy(dst + n, chunk.data(), chunk.size());
                n += chunk.size();
              });
            }
            if (overflow) return to_bytes(p.msg->content(p.get())); // not expected; stay correct
            // _PyBytes_Resize frees the object itself when it fails.
            owner.release();
            if (_PyBytes_Resize(&obj, static_cast<Py_ssize_t>(n)) != 0)
              throw py::error_already_set();
            return py::reinterpret_steal<py::bytes>(obj);
          },
          "The transfer-decoded body (base64, quoted-printable, uuencode undone). For a "
          "multipart,\n"
          "the body as it stands, delimiters included.")
      .def(
          "text",
          [](const py_part& p) {
            std::string out;
            {
              py::gil_scoped_release nogil;
              out = p.msg->text(p.get());
            }
            return to_str(out);
          },
          "content() converted to str from the part's charset. Lenient as mail readers are:\n"
          "undecodable bytes become U+FFFD; an unknown charset is read as UTF-8 when valid,\n"
          "else as Windows-1252.")
      .def("__eq__",
           [](const py_part& a, py::handle b) -> py::object {
             if (!py::isinstance<py_part>(b))
               return py::reinterpret_borrow<py::object>(Py_NotImplemented);
             const auto& other = b.cast<const py_part&>();
             return py::bool_(a.msg == other.msg && a.index == other.index);
           })
      .def("__hash__",
           [](const py_part& p) {
             return py::hash(
                 py::make_tuple(reinterpret_cast<std::uintptr_t>(p.msg.get()), p.index));
           })
      .def("__repr__", [](const py_part& p) {
        std::string s = "<mailkit.mime.Part #" + std::to_string(p.index);
        if (const std::string sec = section_of(*p.msg, p.index); !sec.empty())
          s += " [" + sec + "]";
        s += " " + p.get().type.mime_type();
        if (auto f = p.msg->filename(p.get())) s += " " + std::string(py::repr(to_str(*f)));
        return s + ">";
      });
  set_module(cls);

  auto it = py::class_<py_part_iterator>(m, "PartIterator",
                                         "Iterator over a message's parts, depth first.");
  it.def("__iter__", [](py_part_iterator& self) -> py_part_iterator& {
      return self;
    }).def("__next__", [](py_part_iterator& self) {
    if (self.next >= self.msg->parts().size()) throw py::stop_iteration();
    return part_at(self.msg, self.next++);
  });
  set_module(it);
}

void bind_message(py::module_& m) {
  auto cls = py::class_<py_message>(m, "Message", R"doc(
A parsed message: the raw bytes and the MIME tree over them. Immutable; safe to read from
several threads. Malformed input is read as mail clients read it, with each deviation listed in
`problems`.)doc");
  cls.def_property_readonly(
         "raw", [](const py_message& s) { return to_bytes(s.msg->raw()); },
         "The bytes as given to parse().")
      .def_property_readonly(
          "headers", [](const py_message& s) { return header_list(*s.msg, s.msg->root()); },
          "(name, value) pairs of the top-level header: raw, unfolded, in order.\n"
          "Bytes that are not UTF-8 are kept with the surrogateescape handler.")
      .def(
          "header",
          [](const py_message& s, const std::string& name) {
            return to_str_or_none(s.msg->header(name));
          },
          py::arg("name"), "The first value of the field, RFC 2047 decoded; None when absent.")
      .def(
          "get_all",
          [](const py_message& s, const std::string& name) {
            return decoded_list(s.msg->get_all(name));
          },
          py::arg("name"), "Every value of the field, decoded, in order.")
      .def_property_readonly("subject",
                             [](const py_message& s) { return to_str_or_none(s.msg->subject()); })
      .def_property_readonly(
          "message_id", [](const py_message& s) { return to_str_or_none(s.msg->message_id()); },
          "The Message-ID without angle brackets.")
      .def_property_readonly(
          "date",
          [](const py_message& s) -> py::object {
            auto d = s.msg->date();
            if (!d) return py::none();
            return to_datetime(*d);
          },
          "The Date field as an aware datetime in the zone it was written in; None when absent\n"
          "or unreadable.")
      .def_property_readonly(
          "from_", [](const py_message& s) { return to_address_list(s.msg->addresses("From")); })
      .def_property_readonly(
          "sender", [](const py_message& s) { return to_address_list(s.msg->addresses("Sender")); })
      .def_property_readonly(
          "to", [](const py_message& s) { return to_address_list(s.msg->addresses("To")); })
      .def_property_readonly(
          "cc", [](const py_message& s) { return to_address_list(s.msg->addresses("Cc")); })
      .def_property_readonly(
          "bcc", [](const py_message& s) { return to_address_list(s.msg->addresses("Bcc")); })
      .def_property_readonly(
          "reply_to",
          [](const py_message& s) { return to_address_list(s.msg->addresses("Reply-To")); })
      .def(
          "addresses",
          [](const py_message& s, const std::string& name) {
            return to_address_list(s.msg->addresses(name));
          },
          py::arg("name"),
          "The mailboxes of any address field (\"Resent-To\"), group members included.")
      .def_property_readonly(
          "root", [](const py_message& s) { return part_at(s.msg, 0); }, "The top-level part.")
      .def_property_readonly(
          "parts",
          [](const py_message& s) {
            py::list out;
            for (std::size_t i = 0; i < s.msg->parts().size(); ++i)
              out.append(py::cast(part_at(s.msg, i)));
            return out;
          },
          "Every part, depth first, the root first (what walk() yields).")
      .def(
          "walk",
          [](const py_message& s) {
            return py_part_iterator{s.msg, 0};
          },
          "Iterate over every part, depth first, the root first.")
      .def_property_readonly(
          "attachments", [](const py_message& s) { return part_list(s.msg, s.msg->attachments()); },
          "The parts a mail client lists as attachments (embedded messages count as one).")
      .def_property_readonly(
          "text_body",
          [](const py_message& s) { return part_list(s.msg, s.msg->body_structure().text_body); },
          "The parts a reader shows as the plain-text body (RFC 8621 §4.1.4 textBody).")
      .def_property_readonly(
          "html_body",
          [](const py_message& s) { return part_list(s.msg, s.msg->body_structure().html_body); },
          "The parts a reader shows as the HTML body (RFC 8621 §4.1.4 htmlBody).")
      .def_property_readonly(
          "problems",
          [](const py_message& s) {
            py::list out;
            for (const auto& pr : s.msg->problems())
              out.append(to_str(std::string(mime::to_string(pr.what)) + " (part " +
                                std::to_string(pr.part) + ", offset " + std::to_string(pr.offset) +
                                ")"));
            return out;
          },
          "What was wrong with the input, as \"<what> (part N, offset M)\" strings; empty for\n"
          "well-formed mail.")
      .def(
          "__len__", [](const py_message& s) { return s.msg->parts().size(); },
          "The number of parts.")
      .def("__repr__", [](const py_message& s) {
        std::string r = "<mailkit.mime.Message";
        if (auto subj = s.msg->subject()) r += " subject=" + std::string(py::repr(to_str(*subj)));
        return r + " parts=" + std::to_string(s.msg->parts().size()) + ">";
      });
  set_module(cls);
}

py::bytes build(py::handle from, py::handle to, const std::string& subject,
                std::optional<std::string> text, std::optional<std::string> html,
                py::handle attachments, py::handle headers, py::handle cc, py::handle bcc,
                py::handle reply_to, std::optional<std::string> message_id, py::handle date,
                bool include_bcc) {
  mime::message_spec spec;
  auto senders = to_mailboxes(from, "from_");
  if (senders.size() != 1) throw py::value_error("from_ must be exactly one address");
  spec.from = std::move(senders.front());
  spec.to = to_mailboxes(to, "to");
  spec.cc = to_mailboxes(cc, "cc");
  spec.bcc = to_mailboxes(bcc, "bcc");
  spec.reply_to = to_mailboxes(reply_to, "reply_to");
  spec.subject = subject;
  spec.text = std::move(text);
  spec.html = std::move(html);
  spec.attachments = to_attachments(attachments);
  spec.headers = to_header_pairs(headers);
  spec.message_id = std::move(message_id);
  if (!date.is_none()) spec.date = from_datetime(date);
  spec.include_bcc = include_bcc;

  std::optional<expected<std::string>> built;
  {
    py::gil_scoped_release nogil;
    built.emplace(mime::build(spec));
  }
  if (!*built) raise(errors().error, "cannot build the message: " + built->error().message());
  return to_bytes(**built);
}

} // namespace

void bind_mime(py::module_& parent) {
  py::module_ m = parent.def_submodule(
      "mime", "RFC 5322/MIME messages: parse, read headers, addresses and bodies, build new ones.");
  bind_address(m);
  bind_part(m);
  bind_message(m);

  const mime::limits defaults;
  m.def(
      "parse",
      [](py::handle data, std::size_t max_message_size, std::size_t max_header_fields,
         std::size_t max_header_bytes, std::size_t max_depth, std::size_t max_parts,
         const std::string& on_limit) {
        return parse_bytes(data, make_limits(max_message_size, max_header_fields, max_header_bytes,
                                             max_depth, max_parts, on_limit));
      },
      py::arg("data"), py::kw_only(), py::arg("max_message_size") = defaults.max_message_size,
      py::arg("max_header_fields") = defaults.max_header_fields,
      py::arg("max_header_bytes") = defaults.max_header_bytes,
      py::arg("max_depth") = defaults.max_depth, py::arg("max_parts") = defaults.max_parts,
      py::arg("on_limit") = "truncate",
      R"doc(Parse a message (bytes, bytearray or memoryview; str raises TypeError).

Malformed mail parses: it is read as mail clients read it and Message.problems says what was
wrong. mailkit.ParseError is raised only when the input exceeds max_message_size (0: no limit)
or, with on_limit="fail", a structural limit. With on_limit="truncate" (the default) a limit
stops indexing at that point and is recorded in problems. Runs without the GIL.)doc");

  m.def("build", &build, py::kw_only(), py::arg("from_"), py::arg("to") = py::list(),
        py::arg("subject") = "", py::arg("text") = py::none(), py::arg("html") = py::none(),
        py::arg("attachments") = py::list(), py::arg("headers") = py::dict(),
        py::arg("cc") = py::none(), py::arg("bcc") = py::none(), py::arg("reply_to") = py::none(),
        py::arg("message_id") = py::none(), py::arg("date") = py::none(),
        py::arg("include_bcc") = false,
        R"doc(Compose a message and return its bytes (CRLF line endings).

Addresses (from_, to, cc, bcc, reply_to) are Address objects, (name, addr) tuples or strings in
header syntax ("Ana <ana@example.org>"); to/cc/bcc/reply_to also take a list of them. text and
html are str; with both the body is multipart/alternative. attachments are (filename,
content_type, data) tuples with bytes data (content_type None: application/octet-stream).
headers are extra fields, a dict or (name, value) pairs. message_id (without brackets) and date
(an aware datetime) default to a fresh id and now. Parsing the result gives the inputs back.
Raises mailkit.Error when an input cannot be written (a CR or LF in a header value). Runs
without the GIL.)doc");

  m.def(
      "parse_address_list",
      [](const std::string& value) { return to_address_list(mime::parse_address_list(value)); },
      py::arg("value"),
      "The mailboxes of an address field value (\"Ana <a@x>, b@y\"), groups flattened.");
  m.def(
      "decode_header",
      [](const std::string& value) { return to_str(mime::decode_unstructured(value)); },
      py::arg("value"),
      "Decode an unstructured header value: unfold, trim, decode RFC 2047 words.");
}

} // namespace mailkit::python
