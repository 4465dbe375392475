// PEM parsing with OpenSSL's memory BIOs, so that credentials inlined in a
// kubeconfig never touch the disk.
#include "lib/kube/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <string>

namespace vireo::kube::internal {

using base::Code;
using base::Result;
using base::Status;

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

// Never prompt on a terminal for the passphrase of an encrypted key.
int NoPassphrase(char*, int, int, void*) { return -1; }

std::string OpenSslError() {
  unsigned long code = ERR_peek_last_error();
  std::string text;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    text = std::string(" (") + buf + ")";
  }
  ERR_clear_error();
  return text;
}

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

}  // namespace

Result<std::shared_ptr<const TlsMaterial>> TlsMaterial::Parse(const ClusterConfig& config) {
  auto material = std::make_shared<TlsMaterial>();
  auto read_certs = [](const std::string& pem, std::vector<X509Ptr>* out) {
    auto bio = MemoryBio(pem);
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
      out->emplace_back(cert);
    }
    ERR_clear_error();  // the read past the last certificate always fails
  };
  std::string context =
      config.context_name.empty() ? "" : " of context \"" + config.context_name + "\"";
  if (!config.ca_pem.empty() && !config.insecure_skip_tls_verify) {
    read_certs(config.ca_pem, &material->cas_);
    if (material->cas_.empty()) {
      return Status(Code::kInvalid, "the certificate authority" + context +
                                        " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }
  }
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    return Status(Code::kInvalid, "the client certificate" + context +
                                      " needs both a certificate and a key; one is missing");
  }
  if (config.client_cert_pem.empty()) return std::shared_ptr<const TlsMaterial>(material);

  read_certs(config.client_cert_pem, &material->client_chain_);
  if (material->client_chain_.empty()) {
    return Status(Code::kInvalid, "the client certificate" + context +
                                      " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  }
  auto key_bio = MemoryBio(config.client_key_pem);
  material->client_key_.reset(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr));
  if (!material->client_key_) {
    return Status(Code::kInvalid, "the client key" + context +
                                      " is not an unencrypted PEM private key" + OpenSslError());
  }
  std::unique_ptr<SSL_CTX, CtxFree> probe(SSL_CTX_new(TLS_client_method()));
  if (!probe || SSL_CTX_use_certificate(probe.get(), material->client_chain_[0].get()) != 1 ||
      SSL_CTX_use_PrivateKey(probe.get(), material->client_key_.get()) != 1 ||
      SSL_CTX_check_private_key(probe.get()) != 1) {
    return Status(
        Code::kInvalid,
        "the client key" + context + " does not belong to the client certificate" + OpenSslError());
  }
  return std::shared_ptr<const TlsMaterial>(material);
}

void TlsMaterial::ApplyTo(SSL_CTX* ctx) const {
  if (!cas_.empty()) {
    X509_STORE* store = X509_STORE_new();
    for (const X509Ptr& ca : cas_) X509_STORE_add_cert(store, ca.get());
    SSL_CTX_set_cert_store(ctx, store);  // takes the store, drops the system one
  }
  if (!client_chain_.empty()) {
    SSL_CTX_use_certificate(ctx, client_chain_[0].get());
    for (size_t i = 1; i < client_chain_.size(); ++i) {
      X509_up_ref(client_chain_[i].get());  // the context takes this reference
      SSL_CTX_add_extra_chain_cert(ctx, client_chain_[i].get());
    }
    SSL_CTX_use_PrivateKey(ctx, client_key_.get());
  }
  ERR_clear_error();
}

}  // namespace vireo::kube::internal
