// SPDX-License-Identifier: Apache-2.0
// Incremental SMTP reply parser and the client error category (reply_parser.hpp).
#include <mailkit/smtp/reply_parser.hpp>

#include <string>

namespace mailkit::smtp {

namespace {

class client_category_impl final : public error_category {
public:
  const char* name() const noexcept override { return "mailkit.smtp.client"; }
  std::string message(int value) const override {
    switch (static_cast<client_errc>(value)) {
    case client_errc::ok:
      return "success";
    case client_errc::malformed_reply:
      return "the server sent something that is not an SMTP reply";
    case client_errc::reply_line_too_long:
      return "a reply line from the server is too long";
    case client_errc::reply_too_long:
      return "a reply from the server has too many lines or bytes";
    case client_errc::connection_failed:
      return "no address of the server accepted a connection";
    case client_errc::connection_closed:
      return "the server closed the connection";
    case client_errc::timed_out:
      return "the server did not answer in time";
    case client_errc::tls_failed:
      return "TLS handshake or certificate verification failed";
    case client_errc::starttls_unavailable:
      return "STARTTLS is required but not offered";
    case client_errc::starttls_rejected:
      return "the server refused STARTTLS";
    case client_errc::starttls_injection:
      return "the server sent plaintext after its STARTTLS reply (response injection)";
    case client_errc::greeting_rejected:
      return "the server's greeting was a temporary failure";
    case client_errc::greeting_rejected_permanent:
      return "the server refused the connection";
    case client_errc::hello_rejected:
      return "EHLO/HELO got a temporary failure";
    case client_errc::hello_rejected_permanent:
      return "EHLO/HELO was refused";
    case client_errc::auth_unavailable:
      return "no usable AUTH mechanism offered by the server";
    case client_errc::auth_failed:
      return "authentication failed";
    case client_errc::auth_failed_transient:
      return "authentication failed temporarily";
    case client_errc::invalid_argument:
      return "an address or parameter cannot be sent in an SMTP command";
    case client_errc::protocol_violation:
      return "the server answered out of sequence";
    }
    return "unknown SMTP client error";
  }
  bool permanent(int value) const noexcept override {
    switch (static_cast<client_errc>(value)) {
    case client_errc::greeting_rejected_permanent:
    case client_errc::hello_rejected_permanent:
    case client_errc::auth_unavailable:
    case client_errc::auth_failed:
    case client_errc::invalid_argument:
      return true;
    default:
      return false;
    }
  }
};

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

} // namespace

const error_category& client_category() noexcept {
  static const client_category_impl instance;
  return instance;
}

void reply_parser::feed(std::string_view bytes) {
  if (error_) return;
  // Compact before growing, so a long dialogue does not keep every reply it ever read.
  if (pos_ > 0 && pos_ >= buffer_.size() / 2) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(bytes);
}

void reply_parser::clear() noexcept {
  buffer_.clear();
  pos_ = 0;
  current_ = reply{};
  current_bytes_ = 0;
}

expected<std::optional<reply>> reply_parser::next() {
  if (error_) return tl::unexpected(error_);
  auto failed = [this](client_errc e) -> expected<std::optional<reply>> {
    error_ = make_error_code(e);
    buffer_.clear();
    pos_ = 0;
    return tl::unexpected(error_);
  };
  while (true) {
    const std::string_view rest = std::string_view(buffer_).substr(pos_);
    const std::size_t lf = rest.find('\n');
    if (lf == std::string_view::npos) {
      // RFC 5321 §4.5.3.1.5 bounds a reply line; a server that streams one endless line is cut
      // off here, before the line ends, so its length never reaches memory.
      if (rest.size() >= limits_.max_line) return failed(client_errc::reply_line_too_long);
      return std::optional<reply>();
    }
    if (lf + 1 > limits_.max_line) return failed(client_errc::reply_line_too_long);
    std::string_view line = rest.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ += lf + 1;
    current_bytes_ += lf + 1;
    if (current_bytes_ > limits_.max_reply) return failed(client_errc::reply_too_long);

    // RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
    //                              Reply-code [ SP textstring ] CRLF
    // Reply-code = %x32-35 %x30-35 %x30-39
    if (line.size() < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
        !is_digit(line[2]))
      return failed(client_errc::malformed_reply);
    bool last = true;
    if (line.size() > 3) {
      if (line[3] == '-')
        last = false;
      else if (line[3] != ' ')
        return failed(client_errc::malformed_reply);
    }
    if (line.find('\0') != std::string_view::npos) return failed(client_errc::malformed_reply);
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    // RFC 5321 §4.2.1: every line of a multi-line reply has the same code.
    if (!current_.lines.empty() && code != current_.code)
      return failed(client_errc::malformed_reply);
    current_.code = code;
    std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
    // RFC 2034 §3: the enhanced code leads the text of every line when the server offers
    // ENHANCEDSTATUSCODES; it must agree with the reply code's class (RFC 3463 §2).
    if (auto st = enhanced_status::parse(text); st && st->klass == code / 100) {
      if (current_.lines.empty()) current_.enhanced = st;
      const std::size_t sp = text.find_first_of(" \t");
      text = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
    }
    if (current_.lines.size() >= limits_.max_lines) return failed(client_errc::reply_too_long);
    current_.lines.emplace_back(text);
    if (last) {
      reply done = std::move(current_);
      current_ = reply{};
      current_bytes_ = 0;
      return std::optional<reply>(std::move(done));
    }
  }
}

expected<reply> parse_reply(std::string_view text, reply_limits limits) {
  reply_parser p(limits);
  p.feed(text);
  auto r = p.next();
  if (!r) return tl::unexpected(r.error());
  if (!*r) return fail(client_errc::malformed_reply);
  if (p.buffered() != 0) return fail(client_errc::malformed_reply);
  return std::move(**r);
}

} // namespace mailkit::smtp
