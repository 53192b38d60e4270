// SPDX-License-Identifier: Apache-2.0
// Example 2: compose a message with text, HTML and an attachment, then read it back.
#include <mailkit/mime/mime.hpp>

#include <iostream>

int main() {
  namespace mime = mailkit::mime;
  mime::message_spec spec;
  spec.from = {"Ana Pérez", "ana@example.org"};
  spec.to = {{"Bob", "bob@example.com"}};
  spec.subject = "Quarterly report — draft";
  spec.text = "Hi Bob,\n\nthe draft is attached.\n\nAna\n";
  spec.html = "<p>Hi Bob,</p><p>the draft is attached.</p><p>Ana</p>";
  mime::attachment pdf;
  pdf.filename = "résumé Q3.pdf";
  pdf.content_type = "application/pdf";
  pdf.data = std::string("%PDF-1.4\n\x00\x01\xff", 12);
  spec.attachments.push_back(std::move(pdf));

  auto data = mime::build(spec);
  if (!data) {
    std::cerr << "cannot build: " << data.error().message() << "\n";
    return 1;
  }
  std::cout << *data << "\n";

  // Read it back: the same subject, sender and attachment.
  auto msg = mime::parse(*data);
  if (!msg) return 1;
  const auto att = msg->attachments();
  const bool ok = msg->subject() == spec.subject &&
                  msg->addresses("From").flatten().at(0) == spec.from && att.size() == 1 &&
                  msg->filename(*att[0]) == "résumé Q3.pdf" &&
                  msg->content(*att[0]) == spec.attachments[0].data;
  std::cout << "round trip: " << (ok ? "ok" : "MISMATCH") << "\n";
  return ok ? 0 : 1;
}
