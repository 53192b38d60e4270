// SPDX-License-Identifier: Apache-2.0
// Default policy hooks (policy.hpp).
#include <mailkit/smtp/policy.hpp>

namespace mailkit::smtp {

void policy::on_connect(const session_info&, decision_handler done) {
  done(decision::accept());
}

void policy::on_helo(const session_info&, std::string_view, bool, decision_handler done) {
  done(decision::accept());
}

void policy::on_mail(const session_info&, const envelope&, decision_handler done) {
  done(decision::accept());
}

void policy::on_auth(const session_info&, const credentials&, decision_handler done) {
  // RFC 4954 §6: 535 5.7.8 authentication credentials invalid.
  done(decision::respond(make_reply(535, "5.7.8", "authentication credentials invalid")));
}

void policy::on_tls(const session_info&) {}

void policy::on_close(const session_info&, close_reason) {}

} // namespace mailkit::smtp
