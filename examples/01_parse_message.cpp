// SPDX-License-Identifier: Apache-2.0
// Example 1: parse a message file and walk its parts.
//
//   example_01_parse_message message.eml
//
// Prints the sender, the subject, every part with its type, and the text of the first text part.
#include <mailkit/mime/mime.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " FILE\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();

  // parse() takes the bytes by value: moving the string in costs no copy.
  auto parsed = mailkit::mime::parse(std::move(ss).str());
  if (!parsed) {
    std::cerr << "cannot parse: " << parsed.error().message() << "\n";
    return 1;
  }
  const mailkit::mime::message& msg = *parsed;

  for (const auto& from : msg.addresses("From").flatten())
    std::cout << "From:    " << from.name.value_or("") << " <" << from.addr.value_or("") << ">\n";
  std::cout << "Subject: " << msg.subject().value_or("(none)") << "\n";

  for (const auto& part : msg.parts()) {
    std::cout << std::string(2 * part.depth, ' ') << part.type.mime_type();
    if (auto name = msg.filename(part)) std::cout << "  \"" << *name << "\"";
    std::cout << "\n";
  }
  for (const auto& part : msg.parts()) {
    if (part.type.is("text", "plain")) {
      std::cout << "---\n" << msg.text(part) << "\n";
      break;
    }
  }
  for (const auto* att : msg.attachments())
    std::cout << "attachment: " << msg.filename(*att).value_or("(unnamed)") << ", "
              << msg.content(*att).size() << " bytes\n";
  return 0;
}
