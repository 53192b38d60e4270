// SPDX-License-Identifier: Apache-2.0
// OpenSSL contexts, host name checks and self-signed certificates (tls.hpp).
#include <mailkit/tls/tls.hpp>

#include <boost/asio/ip/address.hpp>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace mailkit::tls {

namespace {

class category_impl final : public error_category {
public:
  const char* name() const noexcept override { return "mailkit.tls"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
    case errc::ok:
      return "success";
    case errc::certificate_unreadable:
      return "certificate chain file missing or not PEM";
    case errc::private_key_unreadable:
      return "private key file missing, not PEM or encrypted";
    case errc::key_mismatch:
      return "private key does not match the certificate";
    case errc::trust_store_unreadable:
      return "trusted CA file, directory or system store unreadable";
    case errc::generation_failed:
      return "could not generate a key or certificate";
    case errc::write_failed:
      return "could not write the certificate or key durably";
    case errc::invalid_host_name:
      return "empty or invalid host name";
    }
    return "unknown TLS error";
  }
  bool permanent(int value) const noexcept override {
    return static_cast<errc>(value) != errc::write_failed;
  }
};

struct evp_pkey_free_t {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct x509_free_t {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct bio_free_t {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, evp_pkey_free_t>;
using x509_ptr = std::unique_ptr<X509, x509_free_t>;
using bio_ptr = std::unique_ptr<BIO, bio_free_t>;

bool is_ip_literal(std::string_view host) {
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(std::string(host), ec);
  return !ec;
}

// Settings every context shares: RFC 8996 minimum version, no compression (CRIME), no
// renegotiation, no session tickets reuse across keys we do not rotate.
void harden(context& ctx) {
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, min_protocol_version); // RFC 8996: TLS 1.2 minimum
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
}

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

// Write `text` to `path` durably: temporary file in the same directory, fsync, rename, fsync of
// the directory (DESIGN.md §4).
bool write_durably(const std::string& path, const std::string& text, mode_t mode) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code fec;
  fs::create_directories(dir, fec);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return false;
  const bool ok = ::fsync(dfd) == 0;
  ::close(dfd);
  return ok;
}

// Read the key ourselves so that "unreadable" and "belongs to another certificate" are told
// apart (OpenSSL's *_use_PrivateKey_file reports both the same way).
expected<void> use_private_key(SSL_CTX* native, const std::string& file) {
  bio_ptr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) return fail(errc::private_key_unreadable);
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return fail(errc::private_key_unreadable);
  if (SSL_CTX_use_PrivateKey(native, key.get()) != 1 || SSL_CTX_check_private_key(native) != 1)
    return fail(errc::key_mismatch);
  return {};
}

} // namespace

const error_category& tls_category() noexcept {
  static const category_impl instance;
  return instance;
}

std::string last_openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return {};
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

expected<std::shared_ptr<context>> make_server_context(const server_options& opts) {
  auto ctx = std::make_shared<context>(context::tls_server);
  harden(*ctx);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, opts.certificate_chain_file.c_str()) != 1)
    return fail(errc::certificate_unreadable);
  if (auto loaded = use_private_key(native, opts.private_key_file); !loaded)
    return tl::unexpected(loaded.error());
  return ctx;
}

expected<std::shared_ptr<context>> make_client_context(const client_options& opts) {
  auto ctx = std::make_shared<context>(context::tls_client);
  harden(*ctx);
  SSL_CTX* native = ctx->native_handle();
  ERR_clear_error();
  if (opts.ca_file.empty() && opts.ca_path.empty()) {
    if (SSL_CTX_set_default_verify_paths(native) != 1) return fail(errc::trust_store_unreadable);
  } else if (SSL_CTX_load_verify_locations(
                 native, opts.ca_file.empty() ? nullptr : opts.ca_file.c_str(),
                 opts.ca_path.empty() ? nullptr : opts.ca_path.c_str()) != 1) {
    return fail(errc::trust_store_unreadable);
  }
  if (!opts.client_certificate_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(native, opts.client_certificate_file.c_str()) != 1)
      return fail(errc::certificate_unreadable);
    if (auto loaded = use_private_key(native, opts.client_private_key_file); !loaded)
      return tl::unexpected(loaded.error());
  }
  SSL_CTX_set_verify(native, opts.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return ctx;
}

expected<void> prepare_client(SSL* ssl, std::string_view host, bool verify_host) {
  if (host.empty() || host.size() > 253) return fail(errc::invalid_host_name);
  std::string name(host);
  if (name.back() == '.') name.pop_back(); // the root label is not part of a certificate name
  if (name.empty()) return fail(errc::invalid_host_name);
  const bool ip = is_ip_literal(name);
  // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName."
  if (!ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) return fail(errc::invalid_host_name);
  if (verify_host) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    // RFC 6125 §6.4.3: a wildcard only as the complete left-most label.
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                      : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    if (ok != 1) return fail(errc::invalid_host_name);
    SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  }
  return {};
}

expected<pem_pair> make_self_signed(const std::vector<std::string>& names,
                                    std::chrono::hours validity) {
  if (names.empty() || names.front().empty()) return fail(errc::invalid_host_name);
  pkey_ptr key(EVP_EC_gen("P-256"));
  if (!key) return fail(errc::generation_failed);
  x509_ptr cert(X509_new());
  if (!cert) return fail(errc::generation_failed);
  X509_set_version(cert.get(), 2); // v3, for subjectAltName
  // A random 159-bit serial (RFC 5280 §4.1.2.2: positive, at most 20 octets).
  unsigned char serial[20];
  if (RAND_bytes(serial, sizeof serial) != 1) return fail(errc::generation_failed);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(bn);
    return fail(errc::generation_failed);
  }
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(
      X509_getm_notAfter(cert.get()),
      static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(validity).count()));
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(names.front().c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), subject);

  std::string san;
  for (const auto& n : names) {
    if (n.empty()) return fail(errc::invalid_host_name);
    if (!san.empty()) san += ',';
    san += (is_ip_literal(n) ? "IP:" : "DNS:") + n;
  }
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, std::string> extensions[] = {
      {NID_subject_alt_name, san},
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
  };
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (ext == nullptr) return fail(errc::generation_failed);
    const int ok = X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
    if (ok != 1) return fail(errc::generation_failed);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return fail(errc::generation_failed);

  bio_ptr cert_bio(BIO_new(BIO_s_mem()));
  bio_ptr key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1)
    return fail(errc::generation_failed);
  return pem_pair{bio_to_string(cert_bio.get()), bio_to_string(key_bio.get())};
}

expected<bool> ensure_self_signed(const std::string& certificate_file,
                                  const std::string& private_key_file,
                                  const std::vector<std::string>& names) {
  std::error_code ec;
  if (std::filesystem::exists(certificate_file, ec) &&
      std::filesystem::exists(private_key_file, ec))
    return false;
  auto pair = make_self_signed(names);
  if (!pair) return tl::unexpected(pair.error());
  // The key first: a certificate without its key would be taken as complete on the next start.
  if (!write_durably(private_key_file, pair->private_key_pem, 0600) ||
      !write_durably(certificate_file, pair->certificate_pem, 0644))
    return fail(errc::write_failed);
  return true;
}

expected<std::unique_ptr<reloadable_server_context>>
reloadable_server_context::create(server_options opts) {
  auto ctx = make_server_context(opts);
  if (!ctx) return tl::unexpected(ctx.error());
  return std::unique_ptr<reloadable_server_context>(
      new reloadable_server_context(std::move(opts), std::move(*ctx)));
}

std::shared_ptr<context> reloadable_server_context::current() const {
  std::lock_guard lock(mutex_);
  return ctx_;
}

expected<void> reloadable_server_context::reload() {
  auto ctx = make_server_context(opts_);
  if (!ctx) return tl::unexpected(ctx.error());
  std::lock_guard lock(mutex_);
  ctx_ = std::move(*ctx);
  return {};
}

} // namespace mailkit::tls
