// SPDX-License-Identifier: Apache-2.0
// Conformance: the 53 whole messages of the stalwart mail-parser corpus
// (tests/data/mime/stalwart/eml/{rfc,malformed,thirdparty}), each parsed as stored (LF) against
// NNN.json and converted to CRLF against NNN.crlf.json, compared field by field: the part tree,
// every part's offsets, every header field's name, offsets and parsed value, and every leaf
// body's decoded content. Where our model differs from theirs, the mapping is explicit below.
#include "stalwart_json.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace fs = std::filesystem;
namespace mime = mailkit::mime;
namespace json = boost::json;
using namespace mailkit::mime::testing;

namespace {

const std::string data_dir = std::string(MAILKIT_TEST_DATA) + "/mime/stalwart/eml";

// Their header names: well-known fields as snake_case enum names, others {"other": "Name"}.
json::value header_name_json(std::string_view name) {
  static const char* const known[] = {"Subject",
                                      "From",
                                      "To",
                                      "Cc",
                                      "Date",
                                      "Bcc",
                                      "Reply-To",
                                      "Sender",
                                      "Comments",
                                      "In-Reply-To",
                                      "Keywords",
                                      "Received",
                                      "Message-ID",
                                      "References",
                                      "Return-Path",
                                      "MIME-Version",
                                      "Content-Description",
                                      "Content-ID",
                                      "Content-Language",
                                      "Content-Location",
                                      "Content-Transfer-Encoding",
                                      "Content-Type",
                                      "Content-Disposition",
                                      "Resent-To",
                                      "Resent-Cc",
                                      "Resent-Bcc",
                                      "Resent-From",
                                      "Resent-Date",
                                      "Resent-Sender",
                                      "Resent-Message-ID",
                                      "List-Archive",
                                      "List-Help",
                                      "List-ID",
                                      "List-Owner",
                                      "List-Post",
                                      "List-Subscribe",
                                      "List-Unsubscribe",
                                      "List-Unsubscribe-Post",
                                      "Message-Context",
                                      "DKIM-Signature",
                                      "ARC-Seal",
                                      "ARC-Message-Signature",
                                      "ARC-Authentication-Results",
                                      "Autocrypt"};
  for (const char* k : known) {
    if (mailkit::iequals(name, k)) {
      std::string s = mailkit::to_lower(k);
      std::replace(s.begin(), s.end(), '-', '_');
      return json::string(s);
    }
  }
  return json::object{{"other", json::string(name)}};
}

bool is_address_field(std::string_view n) {
  for (const char* k : {"from", "to", "cc", "bcc", "reply-to", "sender", "resent-to", "resent-cc",
                        "resent-bcc", "resent-from", "resent-sender", "list-archive", "list-help",
                        "list-id", "list-owner", "list-post", "list-subscribe", "list-unsubscribe"})
    if (mailkit::iequals(n, k)) return true;
  return false;
}

bool is_id_field(std::string_view n) {
  for (const char* k :
       {"message-id", "in-reply-to", "references", "content-id", "resent-message-id"})
    if (mailkit::iequals(n, k)) return true;
  return false;
}

// Our parse of one header field, in their value shape.
// `expected` is their value for the same field: only the sign of a zero zone is taken from it
// (align_zero_zone in stalwart_json.hpp).
json::value header_value_json(const mime::header_field& f, const json::value& expected) {
  auto inner = [&](const char* key) -> json::value {
    if (!expected.is_object()) return nullptr;
    const json::value* v = expected.as_object().if_contains(key);
    return v ? *v : json::value(nullptr);
  };
  const std::string_view n = f.name;
  if (mailkit::iequals(n, "Content-Type") || mailkit::iequals(n, "Content-Disposition")) {
    const mime::content_type ct = mime::parse_content_type(f.raw);
    if (ct.type.empty()) return "Empty";
    return json::object{{"ContentType", content_type_json(ct, false)}};
  }
  if (mailkit::iequals(n, "Date") || mailkit::iequals(n, "Resent-Date")) {
    const auto d = mime::parse_date(f.raw);
    if (!d) return "Empty";
    return json::object{{"DateTime", date_mapped(d, inner("DateTime"))}};
  }
  if (mailkit::iequals(n, "Received")) {
    const auto r = mime::parse_received(f.raw);
    if (!r) return "Empty";
    return json::object{{"Received", received_mapped(*r, inner("Received"))}};
  }
  if (is_address_field(n)) {
    const mime::address_list l = mime::parse_address_list(f.raw);
    if (l.empty()) return "Empty";
    return json::object{{"Address", address_json(l)}};
  }
  if (is_id_field(n)) {
    const auto ids = mime::parse_id_list(f.raw);
    if (ids.empty()) return "Empty";
    if (ids.size() == 1) return json::object{{"Text", ids[0]}};
    json::array a;
    for (const auto& id : ids)
      a.push_back(json::string(id));
    return json::object{{"TextList", a}};
  }
  if (mailkit::iequals(n, "Return-Path")) {
    // Their Return-Path is the address inside the angle brackets.
    const auto ids = mime::parse_id_list(f.raw);
    if (ids.empty()) return "Empty";
    return json::object{{"Text", ids[0]}};
  }
  if (mailkit::iequals(n, "Keywords") || mailkit::iequals(n, "Content-Language")) {
    const auto items = mime::parse_text_list(f.raw);
    if (items.empty()) return "Empty";
    if (items.size() == 1) return json::object{{"Text", items[0]}};
    json::array a;
    for (const auto& i : items)
      a.push_back(json::string(i));
    return json::object{{"TextList", a}};
  }
  const std::string text = f.decoded();
  if (text.empty()) return "Empty";
  return json::object{{"Text", text}};
}

struct comparer {
  const mime::message& m;
  std::string where;
  std::vector<std::string> failures;

  void fail(const std::string& what, const json::value& expected, const json::value& actual) {
    failures.push_back(where + ": " + what + "\n    expected: " + json::serialize(expected) +
                       "\n    actual:   " + json::serialize(actual));
  }

  // The parts of the message rooted at `root`, in their order: depth first, not descending into
  // embedded messages (their model gives each embedded message its own part list).
  std::vector<std::size_t> message_parts(std::size_t root) const {
    std::vector<std::size_t> out;
    std::vector<std::size_t> todo{root};
    while (!todo.empty()) {
      const std::size_t i = todo.back();
      todo.pop_back();
      out.push_back(i);
      const mime::part& p = m.parts()[i];
      if (p.is_multipart)
        for (auto it = p.children.rbegin(); it != p.children.rend(); ++it)
          todo.push_back(*it);
    }
    return out;
  }

  void compare_message(const json::object& exp, std::size_t root, const std::string& path) {
    const auto ours = message_parts(root);
    const json::array& parts = exp.at("parts").as_array();
    where = path;
    if (ours.size() != parts.size()) {
      fail("part count", json::value(parts.size()), json::value(ours.size()));
      return;
    }
    for (std::size_t k = 0; k < parts.size(); ++k) {
      where = path + " part " + std::to_string(k);
      compare_part(parts[k].as_object(), m.parts()[ours[k]], ours, path + "/" + std::to_string(k));
    }
    // RFC 8621 §4.1.4 selection: their html_body, text_body and attachments are part indexes.
    where = path;
    const auto s = m.body_structure(m.parts()[root]);
    auto indexes = [&](const std::vector<const mime::part*>& v) {
      json::array a;
      for (const mime::part* p : v)
        a.push_back(static_cast<std::uint64_t>(std::find(ours.begin(), ours.end(), p->index) -
                                               ours.begin()));
      return json::value(a);
    };
    if (indexes(s.text_body) != exp.at("text_body"))
      fail("text_body", exp.at("text_body"), indexes(s.text_body));
    if (indexes(s.html_body) != exp.at("html_body"))
      fail("html_body", exp.at("html_body"), indexes(s.html_body));
    if (indexes(s.attachments) != exp.at("attachments"))
      fail("attachments", exp.at("attachments"), indexes(s.attachments));
  }

  void compare_part(const json::object& exp, const mime::part& p,
                    const std::vector<std::size_t>& list, const std::string& path) {
    // Header fields: name, offsets and value.
    const json::array& hdrs = exp.at("headers").as_array();
    const auto fields = m.headers(p);
    if (hdrs.size() != fields.size()) {
      json::array names;
      for (const auto& f : fields)
        names.push_back(header_name_json(f.name));
      json::array theirs;
      for (const auto& h : hdrs)
        theirs.push_back(h.as_object().at("name"));
      fail("header fields", theirs, names);
    } else {
      for (std::size_t i = 0; i < hdrs.size(); ++i) {
        const json::object& h = hdrs[i].as_object();
        const mime::header_field& f = fields[i];
        const json::object ours{
            {"name", header_name_json(f.name)},
            {"value", header_value_json(f, h.at("value"))},
            {"offset_field", f.offset},
            {"offset_start", f.offset + static_cast<std::size_t>(f.raw.data() - f.name.data())},
            {"offset_end", f.end}};
        if (without_nulls(h) != without_nulls(ours)) fail("header " + std::string(f.name), h, ours);
      }
    }
    // Part offsets: where the header starts and the body starts.
    const json::object ours_off{{"offset_header", p.header_begin}, {"offset_body", p.body_begin}};
    const json::object their_off{{"offset_header", exp.at("offset_header")},
                                 {"offset_body", exp.at("offset_body")}};
    if (json::value(ours_off) != json::value(their_off)) fail("part offsets", their_off, ours_off);

    // Body.
    const json::value& body = exp.at("body");
    const json::object& b = body.as_object();
    if (const auto* mp = b.if_contains("Multipart")) {
      json::array ours_children;
      for (std::size_t c : p.children) {
        const auto it = std::find(list.begin(), list.end(), c);
        ours_children.push_back(static_cast<std::uint64_t>(it - list.begin()));
      }
      if (!p.is_multipart || json::value(ours_children) != *mp)
        fail("multipart children", *mp, ours_children);
      return;
    }
    if (const auto* em = b.if_contains("Message")) {
      if (!p.is_message || p.children.size() != 1) {
        fail("embedded message", json::string("message"), json::string(p.type.mime_type()));
        return;
      }
      const std::string saved = where;
      compare_message(em->as_object(), p.children[0], path + "/msg");
      where = saved;
      return;
    }
    if (p.is_multipart || p.is_message) {
      fail("leaf expected", body, json::string(p.type.mime_type()));
      return;
    }
    if (const auto* t = b.if_contains("Text")) {
      const std::string text = m.text(p);
      if (json::value(json::string(text)) != *t) fail("text body", *t, json::string(text));
      return;
    }
    if (const auto* h = b.if_contains("Html")) {
      const std::string text = m.text(p);
      if (json::value(json::string(text)) != *h) fail("html body", *h, json::string(text));
      return;
    }
    const json::value* bin = b.if_contains("Binary");
    if (!bin) bin = b.if_contains("InlineBinary");
    if (bin) {
      const std::string content = m.content(p);
      json::array bytes;
      for (unsigned char c : content)
        bytes.push_back(c);
      if (json::value(bytes) != *bin)
        fail("binary body (" + std::to_string(content.size()) + " bytes)", *bin, bytes);
      return;
    }
    fail("unknown body kind", body, nullptr);
  }
};

struct message_case {
  std::string eml;
  bool crlf;
};

std::vector<message_case> cases() {
  std::vector<message_case> out;
  for (const char* dir : {"rfc", "malformed", "thirdparty"}) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(data_dir + "/" + dir))
      if (e.path().extension() == ".eml") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      out.push_back({f, false});
      out.push_back({f, true});
    }
  }
  return out;
}

class stalwart_message : public ::testing::TestWithParam<message_case> {};

TEST_P(stalwart_message, matches_expected_json) {
  const message_case& c = GetParam();
  std::string raw = read_file(c.eml);
  if (c.crlf) raw = to_crlf(raw);
  const std::string stem = c.eml.substr(0, c.eml.size() - 4);
  const json::value expected = load_json(stem + (c.crlf ? ".crlf.json" : ".json"));
  auto parsed = mime::parse(raw);
  ASSERT_TRUE(parsed) << parsed.error().message();
  comparer cmp{*parsed, "", {}};
  cmp.compare_message(expected.as_object(), 0,
                      fs::path(c.eml).parent_path().filename().string() + "/" +
                          fs::path(c.eml).filename().string() + (c.crlf ? " (CRLF)" : " (LF)"));
  std::string report;
  for (const auto& f : cmp.failures)
    report += f + "\n";
  EXPECT_TRUE(cmp.failures.empty()) << report;
}

INSTANTIATE_TEST_SUITE_P(corpus, stalwart_message, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<message_case>& pi) {
                           const fs::path p(pi.param.eml);
                           std::string name = p.parent_path().filename().string() + "_" +
                                              p.stem().string() +
                                              (pi.param.crlf ? "_crlf" : "_lf");
                           return name;
                         });

TEST(stalwart_message_corpus, has_all_cases) {
  // 53 messages (10 rfc, 23 malformed, 20 thirdparty), each as LF and as CRLF.
  EXPECT_EQ(cases().size(), 106u);
}

} // namespace
