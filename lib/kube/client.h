// The Kubernetes REST client: CRUD, patch, the status subresource, list with
// pagination, and watch streams, over cpprestsdk with the TLS and credentials
// of a ClusterConfig. Errors come back as typed Status values carrying the
// server's message and causes.
//
// Thread-safe: one Client serves every thread of a process.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/json.h"
#include "lib/base/status.h"
#include "lib/kube/config.h"
#include "lib/kube/resource.h"
#include "lib/kube/watch.h"

namespace vireo::kube {

namespace internal {
class Transport;
}  // namespace internal

// A moment past which a call gives up with kTimeout, whatever it is doing:
// connecting, waiting out a Retry-After, or reading the reply (its connection
// is then closed). Unset, each try of a call is bounded by
// ClientOptions.request_timeout_seconds and Retry-After waits add up.
using Deadline = std::optional<std::chrono::steady_clock::time_point>;

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;           // page size; 0: the server's default (all)
  std::string continue_token;  // from the previous page
  std::string resource_version;
  // Leaves each item's metadata.managedFields out while the reply is
  // parsed, so that a page of a large list is never held with them.
  bool without_managed_fields = false;
};

struct ObjectList {
  std::vector<base::Json> items;
  std::string resource_version;  // of the list: where a watch starts
  std::string continue_token;    // empty on the last page
};

enum class PatchType { kMerge, kJson, kStrategicMerge };

struct WriteOptions {
  std::string field_manager = "vireo";
  bool dry_run = false;
  // Unknown fields are refused by the server ("Strict"), never dropped.
  std::string field_validation = "Strict";
  Deadline deadline;
};

enum class Propagation { kDefault, kForeground, kBackground, kOrphan };

struct DeleteOptions {
  Propagation propagation = Propagation::kDefault;
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::optional<int64_t> grace_period_seconds;
};

struct WatchOptions {
  std::string resource_version;  // start after this version ("" = now, with synthetic ADDs)
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  int timeout_seconds = 0;  // server closes the watch after this; 0: server default
};

struct ClientOptions {
  std::string user_agent = "vireo";
  int request_timeout_seconds = 30;  // non-watch requests
  bool log_requests = false;         // one line per request on stderr (virtctl -v)
};

class Client {
 public:
  // Sets up TLS (CA, client certificate) and credentials. Fails on unreadable
  // or malformed PEM data, naming which.
  static base::Result<std::unique_ptr<Client>> Create(const ClusterConfig& config,
                                                      const ClientOptions& options = {});
  virtual ~Client();

  const ClusterConfig& config() const;

  // For a connection this client does not make itself (virtctl's WebSocket
  // to pods/exec), authenticated as this client's are: the current bearer
  // token ("" when none; a token file is followed as it rotates), and what
  // to do to each OpenSSL context (trust anchors, client certificate). The
  // function stays valid after the client is gone.
  std::string BearerToken();
  std::function<void(SSL_CTX*)> TlsSetup() const;

  base::Result<base::Json> Get(const Resource& resource, std::string_view ns, std::string_view name,
                               const Deadline& deadline = std::nullopt);
  // One page; follow continue_token for more.
  base::Result<ObjectList> List(const Resource& resource, std::string_view ns,
                                const ListOptions& options = {});
  // Every page, concatenated. The list's resource_version is the first page's.
  base::Result<ObjectList> ListAll(const Resource& resource, std::string_view ns,
                                   ListOptions options = {});
  base::Result<base::Json> Create(const Resource& resource, std::string_view ns,
                                  const base::Json& object, const WriteOptions& options = {});
  // PUT of the whole object; metadata.resourceVersion makes it conditional.
  base::Result<base::Json> Update(const Resource& resource, const base::Json& object,
                                  const WriteOptions& options = {});
  // PUT of the status subresource.
  base::Result<base::Json> UpdateStatus(const Resource& resource, const base::Json& object,
                                        const WriteOptions& options = {});
  base::Result<base::Json> Patch(const Resource& resource, std::string_view ns,
                                 std::string_view name, PatchType type, const base::Json& patch,
                                 std::string_view subresource = {},
                                 const WriteOptions& options = {});
  // NotFound is returned as such; callers that only want the object gone
  // check IsNotFound themselves.
  base::Status Delete(const Resource& resource, std::string_view ns, std::string_view name,
                      const DeleteOptions& options = {});
  base::Result<std::unique_ptr<WatchStream>> Watch(const Resource& resource, std::string_view ns,
                                                   const WatchOptions& options = {});

  // Any other request: method "GET", "POST", ..., path with query string
  // already encoded, body may be null. Used for /version and TokenRequest.
  base::Result<base::Json> Raw(std::string_view method, std::string_view path_and_query,
                               const base::Json& body = base::Json(),
                               std::string_view content_type = "application/json");

 protected:
  Client() = default;

 private:
  // Shared with the watch streams this client opens, which may outlive it.
  std::shared_ptr<internal::Transport> transport_;
};

// Maps an HTTP status and the body the apiserver sent (usually a metav1.Status)
// to a Status. Exposed for unit tests.
base::Status StatusFromResponse(int http_status, std::string_view body);

}  // namespace vireo::kube
