// The TLS material of a ClusterConfig, parsed and checked once, then installed
// into every OpenSSL context cpprestsdk creates (one per connection).
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <vector>

#include "lib/base/status.h"
#include "lib/kube/config.h"

namespace vireo::kube::internal {

class TlsMaterial {
 public:
  // Fails, naming the field, on PEM data that holds no certificate or key, or
  // on a client key that does not belong to the client certificate.
  static base::Result<std::shared_ptr<const TlsMaterial>> Parse(const ClusterConfig& config);

  // Makes the configured CA the only trust anchor (as kubectl does; the
  // system's store stays in use when no CA is configured) and presents the
  // client certificate. Thread-safe.
  void ApplyTo(SSL_CTX* ctx) const;

 private:
  struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
  };
  struct KeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  using X509Ptr = std::unique_ptr<X509, X509Free>;

  std::vector<X509Ptr> cas_;
  std::vector<X509Ptr> client_chain_;  // leaf first
  std::unique_ptr<EVP_PKEY, KeyFree> client_key_;
};

}  // namespace vireo::kube::internal
