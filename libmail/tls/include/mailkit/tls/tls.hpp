// SPDX-License-Identifier: Apache-2.0
/// @file tls.hpp
/// TLS contexts for every mailkit listener and client, built on OpenSSL 3 through Asio's
/// `ssl::context`.
///
/// Standards: RFC 8996 (no TLS 1.0/1.1: the minimum is TLS 1.2), RFC 6125 / RFC 9525 (server
/// identity: the client checks the DNS names of the certificate against the name it connected
/// to), RFC 6066 §3 (SNI). Trust role: a server context carries our private key; a client context
/// decides whether a peer is who it claims, so `verify_peer = false` exists only for opportunistic
/// SMTP (RFC 7435), where the alternative is plaintext, and for tests.
///
/// The SSL half of Asio is compiled once in this module (src/asio_ssl_impl.cpp).
#pragma once

#include <mailkit/core/error.hpp>
#include <mailkit/core/expected.hpp>

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mailkit::tls {

/// Failures to build a context. All are permanent for the configuration that produced them:
/// retrying with the same files cannot succeed.
enum class errc {
  ok = 0,
  certificate_unreadable = 1, ///< the certificate chain file is missing or not PEM
  private_key_unreadable,     ///< the private key file is missing, not PEM, or encrypted
  key_mismatch,               ///< the private key does not belong to the leaf certificate
  trust_store_unreadable,     ///< the CA file or directory (or the system store) cannot be loaded
  generation_failed,          ///< OpenSSL could not make a key or certificate
  write_failed,               ///< a generated certificate or key could not be written durably
  invalid_host_name,          ///< a name for SNI or verification is empty or not a host name
};

/// The category of tls::errc; `message()` includes no OpenSSL detail (see last_openssl_error()).
const error_category& tls_category() noexcept;

inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), tls_category()};
}

using context = boost::asio::ssl::context;

/// The oldest protocol version any context accepts (RFC 8996).
inline constexpr int min_protocol_version = 0x0303; // TLS1_2_VERSION

/// A server's identity: PEM files on disk.
struct server_options {
  std::string certificate_chain_file; ///< leaf certificate first, then intermediates
  std::string private_key_file;       ///< unencrypted PEM (PKCS#8, RSA or EC)
};

/// A server context: TLS 1.2+, the chain and key loaded and checked against each other, no
/// compression, no renegotiation, server cipher preference.
[[nodiscard]] expected<std::shared_ptr<context>> make_server_context(const server_options& opts);

/// How a client treats its peer.
struct client_options {
  bool verify_peer = true; ///< false: encrypt without authenticating (opportunistic SMTP, tests)
  std::string ca_file;     ///< PEM bundle of trusted roots; empty with empty ca_path: system store
  std::string ca_path;     ///< hashed directory of trusted roots (c_rehash layout)
  std::string client_certificate_file; ///< optional client certificate (PEM chain)
  std::string client_private_key_file; ///< its key
};

/// A client context: TLS 1.2+, trust anchors loaded, peer verification as asked.
[[nodiscard]] expected<std::shared_ptr<context>> make_client_context(const client_options& opts);

/// Prepare one client connection before its handshake: SNI (RFC 6066 §3; omitted for IP
/// literals) and, when `verify_host`, the RFC 6125 host name check done by OpenSSL during the
/// handshake (wildcards only as the whole left-most label, no partial wildcards). `ssl` is the
/// native handle of an `asio::ssl::stream`.
[[nodiscard]] expected<void> prepare_client(SSL* ssl, std::string_view host, bool verify_host);

/// The text of the oldest OpenSSL error on this thread's queue, or "" when it is empty; clears
/// the queue. For logs and error messages next to a tls::errc.
[[nodiscard]] std::string last_openssl_error();

/// A certificate and its private key as PEM text.
struct pem_pair {
  std::string certificate_pem;
  std::string private_key_pem;
};

/// A self-signed certificate for `names` (the first is the subject CN; every name becomes a
/// subjectAltName: DNS names, or IP addresses for IPv4/IPv6 literals), ECDSA P-256 with SHA-256,
/// valid from one hour ago for `validity`. For the embedded default and for tests; an operator
/// replaces it with a CA-issued certificate.
[[nodiscard]] expected<pem_pair>
make_self_signed(const std::vector<std::string>& names,
                 std::chrono::hours validity = std::chrono::hours(24 * 365));

/// Create `certificate_file` and `private_key_file` with a self-signed pair unless both already
/// exist (then nothing is touched). The key is written mode 0600; both files are written to a
/// temporary name, fsynced and renamed, then the directory is fsynced. @return true when created.
[[nodiscard]] expected<bool> ensure_self_signed(const std::string& certificate_file,
                                                const std::string& private_key_file,
                                                const std::vector<std::string>& names);

/// A server context that can be replaced while connections use the old one (SIGHUP reload,
/// DESIGN.md §5: certificates reload without restart). Thread-safe.
class reloadable_server_context {
public:
  /// Load `opts` now; fails as make_server_context() does.
  [[nodiscard]] static expected<std::unique_ptr<reloadable_server_context>>
  create(server_options opts);

  /// The context new connections should use. Connections keep theirs alive by the shared_ptr.
  [[nodiscard]] std::shared_ptr<context> current() const;

  /// Reload the files. On failure the old context stays in use and the error is returned.
  [[nodiscard]] expected<void> reload();

private:
  reloadable_server_context(server_options opts, std::shared_ptr<context> ctx)
      : opts_(std::move(opts)), ctx_(std::move(ctx)) {}

  server_options opts_;
  mutable std::mutex mutex_;
  std::shared_ptr<context> ctx_;
};

} // namespace mailkit::tls

template <>
struct boost::system::is_error_code_enum<mailkit::tls::errc> : std::true_type {};
