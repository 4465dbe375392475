// The REST verbs of Client and the mapping of apiserver replies (HTTP status
// plus metav1.Status) to Status codes.
#include "lib/kube/client.h"

#include <utility>

#include "lib/kube/transport.h"

namespace vireo::kube {

using base::Cause;
using base::Code;
using base::DumpJson;
using base::Find;
using base::GetInt;
using base::GetString;
using base::Json;
using base::NameOf;
using base::NamespaceOf;
using base::ParseJson;
using base::Result;
using base::Status;

namespace {

using internal::HttpReply;
using Params = std::vector<std::pair<std::string, std::string>>;

// How much of a reply that is not a Status goes into an error message.
constexpr size_t kBodyPrefix = 256;

Status NoTransport() {
  return Status(Code::kInternal, "this Client was not made by Client::Create");
}

std::string WithQuery(std::string path, const Params& params) {
  std::string query = EncodeQuery(params);
  return query.empty() ? path : path + "?" + query;
}

Params WriteParams(const WriteOptions& options) {
  Params params;
  if (!options.field_manager.empty()) params.emplace_back("fieldManager", options.field_manager);
  if (!options.field_validation.empty()) {
    params.emplace_back("fieldValidation", options.field_validation);
  }
  if (options.dry_run) params.emplace_back("dryRun", "All");
  return params;
}

// A 2xx reply parsed as JSON (null when empty), without what `drop` names;
// any other through StatusFromResponse.
Result<Json> JsonReply(const Result<HttpReply>& reply, const base::DropKey& drop = nullptr) {
  if (!reply.ok()) return reply.status();
  if (reply->status < 200 || reply->status > 299) {
    return StatusFromResponse(reply->status, reply->body);
  }
  if (reply->body.empty()) return Json();
  return ParseJson(reply->body, "the apiserver's reply", drop);
}

// A list's items[].metadata.managedFields.
bool IsItemManagedFields(int depth, const std::vector<std::string>& keys) {
  return depth == 4 && keys[4] == "managedFields" && keys[3] == "metadata" && keys[1] == "items";
}

const char* PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

const char* PropagationName(Propagation propagation) {
  switch (propagation) {
    case Propagation::kForeground:
      return "Foreground";
    case Propagation::kBackground:
      return "Background";
    case Propagation::kOrphan:
      return "Orphan";
    case Propagation::kDefault:
      break;
  }
  return nullptr;
}

Code CodeFor(int http_status, const std::string& reason) {
  if (reason == "Timeout" || reason == "ServerTimeout") return Code::kTimeout;
  if (http_status == 0) {
    // A Status without a code (some watch ERROR events): go by its reason.
    static const std::pair<const char*, Code> kReasons[] = {
        {"NotFound", Code::kNotFound},
        {"AlreadyExists", Code::kAlreadyExists},
        {"Conflict", Code::kConflict},
        {"Gone", Code::kGone},
        {"Expired", Code::kGone},
        {"Forbidden", Code::kForbidden},
        {"Unauthorized", Code::kUnauthorized},
        {"Invalid", Code::kInvalid},
        {"BadRequest", Code::kBadRequest},
        {"TooManyRequests", Code::kTooManyRequests},
        {"ServiceUnavailable", Code::kUnavailable},
        {"InternalError", Code::kUnavailable},
    };
    for (const auto& [name, code] : kReasons) {
      if (reason == name) return code;
    }
    return Code::kInternal;
  }
  switch (http_status) {
    case 400:
      return Code::kBadRequest;
    case 401:
      return Code::kUnauthorized;
    case 403:
      return Code::kForbidden;
    case 404:
      return Code::kNotFound;
    case 409:
      return reason == "AlreadyExists" ? Code::kAlreadyExists : Code::kConflict;
    case 410:
      return Code::kGone;
    case 422:
      return Code::kInvalid;
    case 429:
      return Code::kTooManyRequests;
    case 504:
      return Code::kTimeout;
    default:
      break;
  }
  if (http_status >= 500) return Code::kUnavailable;
  if (http_status >= 400) return Code::kBadRequest;
  return Code::kInternal;  // 1xx or 3xx: nothing this client asked for
}

}  // namespace

Status StatusFromResponse(int http_status, std::string_view body) {
  if (http_status >= 200 && http_status <= 299) return Status::Ok();
  std::string message;
  std::string reason;
  std::vector<Cause> causes;
  Result<Json> parsed = ParseJson(body, "reply");
  bool is_status = parsed.ok() && parsed->is_object() &&
                   (GetString(*parsed, "kind") == "Status" || Find(*parsed, "message") != nullptr);
  if (is_status) {
    message = GetString(*parsed, "message");
    reason = GetString(*parsed, "reason");
    if (http_status == 0) http_status = static_cast<int>(GetInt(*parsed, "code").value_or(0));
    const Json* list = Find(*parsed, "details.causes");
    if (list != nullptr && list->is_array()) {
      for (const Json& c : *list) {
        causes.push_back({GetString(c, "reason"), GetString(c, "message"), GetString(c, "field")});
      }
    }
  } else if (!body.empty()) {
    message = "HTTP " + std::to_string(http_status) + " with a reply that is not a Kubernetes " +
              "Status: " + std::string(body.substr(0, kBodyPrefix)) +
              (body.size() > kBodyPrefix ? "..." : "");
  }
  if (message.empty()) {
    message = "HTTP " + std::to_string(http_status) + (reason.empty() ? "" : " " + reason);
  }
  Code code = CodeFor(http_status, reason);
  if (code == Code::kUnauthorized) {
    message +=
        " (the apiserver did not accept the credentials: check the token or client "
        "certificate, which may have expired)";
  }
  return Status(code, std::move(message), http_status, std::move(causes));
}

Result<std::unique_ptr<Client>> Client::Create(const ClusterConfig& config,
                                               const ClientOptions& options) {
  Result<std::shared_ptr<internal::Transport>> transport =
      internal::Transport::Create(config, options);
  if (!transport.ok()) return transport.status();
  std::unique_ptr<Client> client(new Client());
  client->transport_ = std::move(transport).value();
  return client;
}

Client::~Client() = default;

const ClusterConfig& Client::config() const {
  static const ClusterConfig kNone;
  return transport_ ? transport_->config() : kNone;
}

std::string Client::BearerToken() { return transport_ ? transport_->Token() : std::string(); }

std::function<void(SSL_CTX*)> Client::TlsSetup() const {
  std::shared_ptr<const internal::TlsMaterial> tls = transport_ ? transport_->tls() : nullptr;
  return [tls](SSL_CTX* context) {
    if (tls) tls->ApplyTo(context);
  };
}

Result<Json> Client::Get(const Resource& resource, std::string_view ns, std::string_view name,
                         const Deadline& deadline) {
  if (!transport_) return NoTransport();
  return JsonReply(
      transport_->Send("GET", resource.Path(ns, name), nullptr, "application/json", deadline));
}

Result<ObjectList> Client::List(const Resource& resource, std::string_view ns,
                                const ListOptions& options) {
  if (!transport_) return NoTransport();
  Params params;
  if (!options.label_selector.empty()) params.emplace_back("labelSelector", options.label_selector);
  if (!options.field_selector.empty()) params.emplace_back("fieldSelector", options.field_selector);
  if (options.limit > 0) params.emplace_back("limit", std::to_string(options.limit));
  if (!options.continue_token.empty()) params.emplace_back("continue", options.continue_token);
  if (!options.resource_version.empty()) {
    params.emplace_back("resourceVersion", options.resource_version);
  }
  Result<Json> reply =
      JsonReply(transport_->Send("GET", WithQuery(resource.Path(ns), params)),
                options.without_managed_fields ? IsItemManagedFields : base::DropKey(nullptr));
  if (!reply.ok()) return reply.status();
  Json* items = reply->is_object() && reply->contains("items") ? &reply->at("items") : nullptr;
  if (items == nullptr || !(items->is_array() || items->is_null())) {
    return Status(Code::kInternal, "list " + resource.plural + ": the reply has no items list");
  }
  ObjectList list;
  list.resource_version = GetString(*reply, "metadata.resourceVersion");
  list.continue_token = GetString(*reply, "metadata.continue");
  if (items->is_array()) {
    list.items.reserve(items->size());
    // Moved, not copied: a page of a large list is held once.
    for (Json& item : *items) {
      // Built-in types come without their type in a list; a cached object
      // must still say what it is when written back.
      if (item.is_object() && !item.contains("kind")) {
        item["kind"] = Json(resource.kind);
        item["apiVersion"] = Json(resource.ApiVersion());
      }
      list.items.push_back(std::move(item));
    }
  }
  return list;
}

Result<ObjectList> Client::ListAll(const Resource& resource, std::string_view ns,
                                   ListOptions options) {
  ObjectList all;
  bool first = true;
  do {
    Result<ObjectList> page = List(resource, ns, options);
    if (!page.ok()) return page.status();
    if (first) all.resource_version = page->resource_version;
    first = false;
    for (Json& item : page->items) all.items.push_back(std::move(item));
    options.continue_token = page->continue_token;
    // A continued list is served from the first page's snapshot.
    options.resource_version.clear();
  } while (!options.continue_token.empty());
  return all;
}

Result<Json> Client::Create(const Resource& resource, std::string_view ns, const Json& object,
                            const WriteOptions& options) {
  if (!transport_) return NoTransport();
  std::string target(ns.empty() ? NamespaceOf(object) : std::string(ns));
  if (resource.namespaced && target.empty()) {
    return Status(Code::kBadRequest, "create " + resource.plural + " \"" + NameOf(object) +
                                         "\": no namespace given and none in metadata.namespace");
  }
  std::string body = DumpJson(object);
  return JsonReply(transport_->Send("POST", WithQuery(resource.Path(target), WriteParams(options)),
                                    &body, "application/json", options.deadline));
}

Result<Json> Client::Update(const Resource& resource, const Json& object,
                            const WriteOptions& options) {
  if (!transport_) return NoTransport();
  if (NameOf(object).empty()) {
    return Status(Code::kBadRequest, "update " + resource.plural +
                                         ": the object has no "
                                         "metadata.name");
  }
  std::string body = DumpJson(object);
  std::string path = resource.Path(NamespaceOf(object), NameOf(object));
  return JsonReply(transport_->Send("PUT", WithQuery(path, WriteParams(options)), &body,
                                    "application/json", options.deadline));
}

Result<Json> Client::UpdateStatus(const Resource& resource, const Json& object,
                                  const WriteOptions& options) {
  if (!transport_) return NoTransport();
  if (NameOf(object).empty()) {
    return Status(Code::kBadRequest,
                  "update status of " + resource.plural + ": the object has no metadata.name");
  }
  std::string body = DumpJson(object);
  std::string path = resource.Path(NamespaceOf(object), NameOf(object), "status");
  return JsonReply(transport_->Send("PUT", WithQuery(path, WriteParams(options)), &body,
                                    "application/json", options.deadline));
}

Result<Json> Client::Patch(const Resource& resource, std::string_view ns, std::string_view name,
                           PatchType type, const Json& patch, std::string_view subresource,
                           const WriteOptions& options) {
  if (!transport_) return NoTransport();
  std::string body = DumpJson(patch);
  std::string path = resource.Path(ns, name, subresource);
  return JsonReply(transport_->Send("PATCH", WithQuery(path, WriteParams(options)), &body,
                                    PatchContentType(type), options.deadline));
}

Status Client::Delete(const Resource& resource, std::string_view ns, std::string_view name,
                      const DeleteOptions& options) {
  if (!transport_) return NoTransport();
  Json body = Json::object();
  body["apiVersion"] = Json("v1");
  body["kind"] = Json("DeleteOptions");
  if (const char* policy = PropagationName(options.propagation)) {
    body["propagationPolicy"] = Json(policy);
  }
  if (options.precondition_uid) {
    body["preconditions"]["uid"] = Json(*options.precondition_uid);
  }
  if (options.precondition_resource_version) {
    body["preconditions"]["resourceVersion"] = Json(*options.precondition_resource_version);
  }
  if (options.grace_period_seconds) {
    body["gracePeriodSeconds"] = Json(*options.grace_period_seconds);
  }
  std::string text = DumpJson(body);
  Result<Json> reply = JsonReply(transport_->Send("DELETE", resource.Path(ns, name), &text));
  return reply.status();
}

Result<Json> Client::Raw(std::string_view method, std::string_view path_and_query, const Json& body,
                         std::string_view content_type) {
  if (!transport_) return NoTransport();
  std::string text = body.is_null() ? "" : DumpJson(body);
  return JsonReply(transport_->Send(method, std::string(path_and_query),
                                    body.is_null() ? nullptr : &text, content_type));
}

}  // namespace vireo::kube
