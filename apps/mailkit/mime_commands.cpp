// SPDX-License-Identifier: Apache-2.0
#include "commands.hpp"

#include <mailkit/mime/mime.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace mailkit::cli {
namespace {

std::string read_file(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mime::message load(const std::string& path) {
  auto m = mime::parse(read_file(path));
  if (!m) throw std::runtime_error(path + ": " + m.error().message());
  return std::move(*m);
}

std::string_view encoding_name(mime::transfer_encoding e) {
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

// For a person to read: decoded names as they are, not re-encoded for a header.
std::string format_list(const mime::address_list& l) {
  std::string out;
  for (const auto& m : l.flatten()) {
    if (!out.empty()) out += ", ";
    if (m.name && m.addr)
      out += *m.name + " <" + *m.addr + ">";
    else
      out += m.addr.value_or(m.name.value_or(""));
  }
  return out;
}

// IMAP-style section numbers (RFC 3501 §6.4.5): children of a multipart are 1, 2, ...; the
// embedded message of a message/rfc822 part shares its number.
void print_tree(const mime::message& m, std::size_t idx, const std::string& number,
                std::ostream& out) {
  const mime::part& p = m.parts()[idx];
  out << std::string(2 * p.depth, ' ') << (number.empty() ? "(root)" : number) << "  "
      << p.type.mime_type();
  if (auto cs = m.charset(p); cs && p.type.type == "text") out << "; charset=" << *cs;
  if (!p.is_multipart && !p.is_message) {
    out << "  " << encoding_name(p.encoding) << "  " << (p.body_end - p.body_begin) << " bytes";
    std::size_t decoded = 0;
    m.content_to(p, [&](std::string_view c) { decoded += c.size(); });
    out << " (" << decoded << " decoded)";
  }
  if (auto f = m.filename(p)) out << "  filename=\"" << *f << "\"";
  if (p.disposition) out << "  " << p.disposition->type;
  out << "\n";
  for (std::size_t i = 0; i < p.children.size(); ++i) {
    std::string child_number =
        p.is_message ? number : (number.empty() ? "" : number + ".") + std::to_string(i + 1);
    print_tree(m, p.children[i], child_number, out);
  }
}

void show(const std::string& path, bool all_headers) {
  const mime::message m = load(path);
  std::ostream& out = std::cout;
  out << "Message: " << path << " (" << m.raw().size() << " bytes, " << m.parts().size()
      << " parts)\n";
  if (all_headers) {
    for (const auto& f : m.headers())
      out << "  " << f.name << ": " << f.decoded() << "\n";
  } else {
    for (const char* name : {"From", "To", "Cc", "Reply-To"}) {
      if (m.field(name)) out << "  " << name << ": " << format_list(m.addresses(name)) << "\n";
    }
    if (auto s = m.subject()) out << "  Subject: " << *s << "\n";
    if (auto d = m.date()) out << "  Date: " << d->to_rfc5322() << "\n";
    if (auto id = m.message_id()) out << "  Message-ID: <" << *id << ">\n";
  }
  out << "Structure:\n";
  print_tree(m, 0, "", out);
  const auto att = m.attachments();
  if (!att.empty()) {
    out << "Attachments:\n";
    for (const mime::part* a : att)
      out << "  " << m.filename(*a).value_or("(unnamed)") << "  " << a->type.mime_type() << "\n";
  }
  if (!m.problems().empty()) {
    out << "Problems:\n";
    for (const auto& p : m.problems())
      out << "  part " << p.part << " at byte " << p.offset << ": " << mime::to_string(p.what)
          << "\n";
  }
}

void text(const std::string& path) {
  const mime::message m = load(path);
  for (const auto& p : m.parts()) {
    if (p.is_multipart || p.is_message || p.type.type != "text") continue;
    if (p.disposition && p.disposition->type == "attachment") continue;
    const std::string t = m.text(p);
    std::cout << "--- part " << p.index << " " << p.type.mime_type() << "\n" << t;
    if (!t.empty() && t.back() != '\n') std::cout << "\n";
  }
}

} // namespace

void add_mime_commands(CLI::App& app) {
  auto* mime_cmd = app.add_subcommand("mime", "Inspect MIME messages");
  mime_cmd->require_subcommand(1);

  auto* show_cmd = mime_cmd->add_subcommand(
      "show", "Show a message's headers, part tree, attachments and problems");
  static std::string show_path;
  static bool all_headers = false;
  show_cmd->add_option("file", show_path, "message file (- for standard input)")->required();
  show_cmd->add_flag("--headers", all_headers, "print every header field, decoded");
  show_cmd->callback([] { show(show_path, all_headers); });

  auto* text_cmd = mime_cmd->add_subcommand("text", "Print the text parts of a message as UTF-8");
  static std::string text_path;
  text_cmd->add_option("file", text_path, "message file (- for standard input)")->required();
  text_cmd->callback([] { text(text_path); });
}

} // namespace mailkit::cli
