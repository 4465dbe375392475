// Client against a scripted local HTTP server: the exact requests it sends
// (paths, query encoding, headers, bodies, content types), how replies and
// transport failures become Status values, and the request log. Lists and
// their pages: client_list_test.cc.
// gtest before cpprestsdk, whose U() macro breaks gtest's templates.
#include <gtest/gtest.h>
// Then the usual order.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "lib/kube/client.h"
#include "lib/kube/client_test_util.h"
#include "lib/kube/test_http_server.h"

namespace vireo::kube {

using base::Code;
using base::GetString;
using base::Json;
using base::NameOf;
using base::Result;
using base::Status;

namespace {

using testing::Always;
using testing::ClientFor;
using testing::HttpConnection;
using testing::HttpRequest;
using testing::JsonOf;
using testing::kVirtualMachines;
using testing::TestHttpServer;

TEST(StatusFromResponseTest, MapsCodesAndReasons) {
  struct Case {
    int http;
    const char* body;
    Code want;
  } cases[] = {
      {200, "{}", Code::kOk},
      {404, R"({"kind":"Status","reason":"NotFound","message":"pods \"p\" not found"})",
       Code::kNotFound},
      {409, R"({"kind":"Status","reason":"AlreadyExists","message":"exists"})",
       Code::kAlreadyExists},
      {409, R"({"kind":"Status","reason":"Conflict","message":"modified"})", Code::kConflict},
      {410, R"({"kind":"Status","reason":"Expired","message":"too old"})", Code::kGone},
      {403, R"({"kind":"Status","reason":"Forbidden","message":"no"})", Code::kForbidden},
      {401, R"({"kind":"Status","reason":"Unauthorized","message":"Unauthorized"})",
       Code::kUnauthorized},
      {422, R"({"kind":"Status","reason":"Invalid","message":"bad"})", Code::kInvalid},
      {400, R"({"kind":"Status","reason":"BadRequest","message":"strict decoding error"})",
       Code::kBadRequest},
      {429, R"({"kind":"Status","reason":"TooManyRequests","message":"slow down"})",
       Code::kTooManyRequests},
      {504, R"({"kind":"Status","reason":"Timeout","message":"timed out"})", Code::kTimeout},
      {500, R"({"kind":"Status","reason":"ServerTimeout","message":"later"})", Code::kTimeout},
      {500, R"({"kind":"Status","reason":"InternalError","message":"etcd down"})",
       Code::kUnavailable},
      {503, "", Code::kUnavailable},
      {415, "", Code::kBadRequest},
  };
  for (const Case& c : cases) {
    Status status = StatusFromResponse(c.http, c.body);
    EXPECT_EQ(status.code(), c.want) << c.http << " " << c.body << " -> " << status.ToString();
    if (c.want != Code::kOk) {
      EXPECT_EQ(status.http_status(), c.http);
    }
  }
}

TEST(StatusFromResponseTest, KeepsTheServersMessageAndCauses) {
  Status status = StatusFromResponse(422, R"({"kind":"Status","apiVersion":"v1",
      "status":"Failure","reason":"Invalid","code":422,
      "message":"VirtualMachine.kubevirt.io \"vm\" is invalid: spec.runStrategy: Unsupported value",
      "details":{"name":"vm","kind":"VirtualMachine","causes":[
        {"reason":"FieldValueNotSupported","message":"Unsupported value: \"Sometimes\"",
         "field":"spec.runStrategy"},
        {"reason":"FieldValueRequired","message":"Required value","field":"spec.template"}]}})");
  EXPECT_EQ(status.code(), Code::kInvalid);
  EXPECT_EQ(status.message(),
            "VirtualMachine.kubevirt.io \"vm\" is invalid: spec.runStrategy: Unsupported value");
  ASSERT_EQ(status.causes().size(), 2u);
  EXPECT_EQ(status.causes()[0].field, "spec.runStrategy");
  EXPECT_EQ(status.causes()[0].reason, "FieldValueNotSupported");
  EXPECT_EQ(status.causes()[1].message, "Required value");
}

TEST(StatusFromResponseTest, UnparseableBodyIsQuotedButBounded) {
  std::string html = "<html><body>502 Bad Gateway</body></html>" + std::string(5000, ' ');
  Status status = StatusFromResponse(502, html);
  EXPECT_EQ(status.code(), Code::kUnavailable);
  EXPECT_NE(status.message().find("502 Bad Gateway"), std::string::npos) << status.message();
  EXPECT_LT(status.message().size(), 400u);
  // No body at all still says what happened.
  EXPECT_EQ(StatusFromResponse(404, "").message(), "HTTP 404");
  // 401 says what to check.
  EXPECT_NE(StatusFromResponse(401, "").message().find("credentials"), std::string::npos);
}

TEST(ClientTest, GetSendsPathAndCredentials) {
  TestHttpServer server(Always(200, R"({"kind":"Pod","metadata":{"name":"p"}})"));
  ClientOptions options;
  options.user_agent = "vireo-test/1";
  auto client = ClientFor(server, options);
  Result<Json> pod = client->Get(resources::kPods, "ns", "p");
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_EQ(NameOf(*pod), "p");
  HttpRequest request = server.last_request();
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.target, "/api/v1/namespaces/ns/pods/p");
  EXPECT_EQ(request.Header("authorization"), "Bearer tok-123");
  EXPECT_EQ(request.Header("accept"), "application/json");
  EXPECT_EQ(request.Header("user-agent"), "vireo-test/1");
}

TEST(ClientTest, ServerErrorsBecomeTypedStatus) {
  TestHttpServer server(Always(
      404,
      R"({"kind":"Status","reason":"NotFound","code":404,"message":"virtualmachines.kubevirt.io \"x\" not found"})"));
  auto client = ClientFor(server);
  Result<Json> vm = client->Get(kVirtualMachines, "ns", "x");
  ASSERT_FALSE(vm.ok());
  EXPECT_TRUE(vm.status().IsNotFound());
  EXPECT_EQ(vm.status().message(), "virtualmachines.kubevirt.io \"x\" not found");
  EXPECT_EQ(server.last_request().target, "/apis/kubevirt.io/v1/namespaces/ns/virtualmachines/x");
}

TEST(ClientTest, WritesCarryFieldManagerValidationAndDryRun) {
  TestHttpServer server(Always(201, R"({"metadata":{"name":"vm"}})"));
  auto client = ClientFor(server);
  Json vm = JsonOf(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine",
                       "metadata":{"name":"vm","namespace":"from-object"}})");
  ASSERT_TRUE(client->Create(kVirtualMachines, "", vm).ok());
  HttpRequest create = server.last_request();
  EXPECT_EQ(create.method, "POST");
  EXPECT_EQ(create.target,
            "/apis/kubevirt.io/v1/namespaces/from-object/virtualmachines"
            "?fieldManager=vireo&fieldValidation=Strict");
  EXPECT_EQ(create.Header("content-type"), "application/json");
  EXPECT_EQ(JsonOf(create.body), vm);

  WriteOptions dry;
  dry.dry_run = true;
  dry.field_manager = "virtctl";
  ASSERT_TRUE(client->Update(kVirtualMachines, vm, dry).ok());
  EXPECT_EQ(server.last_request().method, "PUT");
  EXPECT_EQ(server.last_request().target,
            "/apis/kubevirt.io/v1/namespaces/from-object/virtualmachines/vm"
            "?fieldManager=virtctl&fieldValidation=Strict&dryRun=All");

  ASSERT_TRUE(client->UpdateStatus(kVirtualMachines, vm).ok());
  EXPECT_EQ(server.last_request().target,
            "/apis/kubevirt.io/v1/namespaces/from-object/virtualmachines/vm/status"
            "?fieldManager=vireo&fieldValidation=Strict");

  Json nameless = JsonOf(R"({"metadata":{}})");
  Result<Json> refused = client->Update(kVirtualMachines, nameless);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("metadata.name"), std::string::npos);
  Result<Json> no_ns = client->Create(resources::kPods, "", nameless);
  ASSERT_FALSE(no_ns.ok());
  EXPECT_NE(no_ns.status().message().find("no namespace"), std::string::npos);
}

TEST(ClientTest, PatchTypesAndSubresources) {
  TestHttpServer server(Always(200, "{}"));
  auto client = ClientFor(server);
  const std::pair<PatchType, const char*> kinds[] = {
      {PatchType::kMerge, "application/merge-patch+json"},
      {PatchType::kJson, "application/json-patch+json"},
      {PatchType::kStrategicMerge, "application/strategic-merge-patch+json"},
  };
  for (const auto& [type, content_type] : kinds) {
    ASSERT_TRUE(
        client->Patch(resources::kPods, "ns", "p", type, JsonOf(R"({"a":1})"), "status").ok());
    HttpRequest request = server.last_request();
    EXPECT_EQ(request.method, "PATCH");
    EXPECT_EQ(request.Header("content-type"), content_type);
    EXPECT_EQ(request.target,
              "/api/v1/namespaces/ns/pods/p/status?fieldManager=vireo&fieldValidation=Strict");
    EXPECT_EQ(request.body, R"({"a":1})");
  }
}

TEST(ClientTest, DeleteSendsDeleteOptions) {
  TestHttpServer server(Always(200, R"({"kind":"Status","status":"Success"})"));
  auto client = ClientFor(server);
  DeleteOptions options;
  options.propagation = Propagation::kForeground;
  options.precondition_uid = "u-1";
  options.precondition_resource_version = "17";
  options.grace_period_seconds = 0;
  ASSERT_TRUE(client->Delete(resources::kNamespaces, "", "team-a", options).ok());
  HttpRequest request = server.last_request();
  EXPECT_EQ(request.method, "DELETE");
  EXPECT_EQ(request.target, "/api/v1/namespaces/team-a");
  EXPECT_EQ(JsonOf(request.body), JsonOf(R"({"apiVersion":"v1","kind":"DeleteOptions",
      "propagationPolicy":"Foreground","gracePeriodSeconds":0,
      "preconditions":{"uid":"u-1","resourceVersion":"17"}})"));

  ASSERT_TRUE(client->Delete(resources::kLeases, "kube-system", "vireo").ok());
  EXPECT_EQ(server.last_request().target,
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/vireo");
  EXPECT_EQ(JsonOf(server.last_request().body),
            JsonOf(R"({"apiVersion":"v1","kind":"DeleteOptions"})"));
}

TEST(ClientTest, RawPassesPathAndBody) {
  TestHttpServer server(Always(200, R"({"gitVersion":"v1.36.3"})"));
  auto client = ClientFor(server);
  Result<Json> version = client->Raw("GET", "/version");
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(GetString(*version, "gitVersion"), "v1.36.3");
  EXPECT_TRUE(server.last_request().body.empty());
  ASSERT_TRUE(client
                  ->Raw("POST", "/api/v1/namespaces/ns/serviceaccounts/sa/token?x=1",
                        JsonOf(R"({"spec":{}})"))
                  .ok());
  EXPECT_EQ(server.last_request().target, "/api/v1/namespaces/ns/serviceaccounts/sa/token?x=1");
  EXPECT_EQ(server.last_request().body, R"({"spec":{}})");
}

TEST(ClientTest, ConnectionRefusedIsUnavailable) {
  int port;
  {
    TestHttpServer gone(Always(200, "{}"));
    port = gone.port();
  }
  ClusterConfig config;
  config.server = "http://127.0.0.1:" + std::to_string(port);
  auto client = Client::Create(config);
  ASSERT_TRUE(client.ok());
  Result<Json> result = (*client)->Get(resources::kPods, "ns", "p");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kUnavailable) << result.status().ToString();
  EXPECT_NE(result.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST(ClientTest, SilentServerTimesOut) {
  TestHttpServer* self = nullptr;
  TestHttpServer server([&self](const HttpRequest&, HttpConnection&) { self->Hold(); });
  self = &server;
  ClientOptions options;
  options.request_timeout_seconds = 1;
  auto client = ClientFor(server, options);
  auto start = std::chrono::steady_clock::now();
  Result<Json> result = client->Get(resources::kPods, "ns", "p");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kTimeout) << result.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ClientTest, RetriesWhenTheServerSaysRetryAfter) {
  std::atomic<int> calls{0};
  TestHttpServer server([&calls](const HttpRequest&, HttpConnection& c) {
    if (++calls == 1) {
      std::string body = R"({"kind":"Status","code":429,"message":"storage is (re)initializing"})";
      c.Write("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body);
    } else {
      c.Reply(200, R"({"metadata":{"name":"p"}})");
    }
  });
  auto client = ClientFor(server);
  Result<Json> pod = client->Get(resources::kPods, "ns", "p");
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_EQ(calls.load(), 2);

  // Without Retry-After a 429 is the caller's to handle.
  TestHttpServer plain(Always(429, R"({"kind":"Status","code":429,"message":"slow down"})"));
  Result<Json> refused = ClientFor(plain)->Get(resources::kPods, "ns", "p");
  EXPECT_EQ(refused.status().code(), Code::kTooManyRequests);
  EXPECT_EQ(plain.requests().size(), 1u);
}

TEST(ClientTest, LogsOneLinePerRequest) {
  TestHttpServer server(Always(404, R"({"kind":"Status","code":404,"message":"gone"})"));
  ClientOptions options;
  options.log_requests = true;
  auto client = ClientFor(server, options);
  ::testing::internal::CaptureStderr();
  (void)client->Get(resources::kPods, "ns", "p");
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(log.rfind("GET " + server.url() + "/api/v1/namespaces/ns/pods/p 404 in ", 0), 0u)
      << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;

  auto quiet = ClientFor(server);
  ::testing::internal::CaptureStderr();
  (void)quiet->Get(resources::kPods, "ns", "p");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(ClientTest, ConcurrentRequestsFromManyThreads) {
  TestHttpServer server([](const HttpRequest& r, HttpConnection& c) {
    c.Reply(200, R"({"metadata":{"name":")" + r.target.substr(r.target.rfind('/') + 1) + R"("}})");
  });
  auto client = ClientFor(server);
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string name = "p" + std::to_string(t) + "-" + std::to_string(i);
        Result<Json> pod = client->Get(resources::kPods, "ns", name);
        if (pod.ok() && NameOf(*pod) == name) ++right;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(right.load(), 80);
}

TEST(ClientTest, TokenFileIsReadWhenNoTokenIsGiven) {
  char path[] = "/tmp/vireo-token.XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "from-file\n", 10), 10);
  ::close(fd);
  TestHttpServer server(Always(200, "{}"));
  ClusterConfig config;
  config.server = server.url();
  config.token_file = path;
  auto client = Client::Create(config);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ASSERT_TRUE((*client)->Get(resources::kPods, "ns", "p").ok());
  EXPECT_EQ(server.last_request().Header("authorization"), "Bearer from-file");
  // A token file that holds something else (here: a binary) is refused.
  fd = open(path, O_WRONLY | O_TRUNC);
  ASSERT_EQ(write(fd,
                  "\x7f"
                  "ELF\x02\x01\n",
                  7),
            7);
  ::close(fd);
  auto garbage = Client::Create(config);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("does not hold a bearer token"), std::string::npos);
  unlink(path);
  config.token_file = path;  // now missing
  auto missing = Client::Create(config);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(path), std::string::npos);
}

// Throwaway self-signed P-256 pairs made for these tests only.
constexpr char kCertA[] = R"(-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIUBgVT4Bm1XXH6TGRIv++m7d13A48wCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMdmlyZW8tdW5pdC1hMCAXDTI2MTEyMzE5NTgxOVoYDzIxMjYx
MDMwMTk1ODE5WjAXMRUwEwYDVQQDDAx2aXJlby11bml0LWEwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAAR4AFGGlS5XnsMjfNUyWoCRPQDOdognOMFyXXVBKY2BXRpK
oBZKE9JTduAk6XIsWEYAmMAd6txs8a/dSvDtWfpuo1MwUTAdBgNVHQ4EFgQU7CEQ
Z3xfFI2dSvNRNYTRGUcRvWgwHwYDVR0jBBgwFoAU7CEQZ3xfFI2dSvNRNYTRGUcR
vWgwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAkNN2VkqlO7tf
urtNprukxof/iRHwd5I/Lmvz+0lDsD0CIEkNerQOkL00GiEKlRFott36y41g0bki
APkcU7He3FV/
-----END CERTIFICATE-----
)";
constexpr char kKeyA[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg2ZqnbxNPBcWIvxQw
KRZ9cvfNCF63CYwger4WAOHjDe6hRANCAAR4AFGGlS5XnsMjfNUyWoCRPQDOdogn
OMFyXXVBKY2BXRpKoBZKE9JTduAk6XIsWEYAmMAd6txs8a/dSvDtWfpu
-----END PRIVATE KEY-----
)";
constexpr char kKeyB[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUKNsRaSr9GaVMBI3
vZ7ybgskXewm2EnqWaO6vLwffxOhRANCAAQBLgUKLkDlXlDL7m0h+lWhJdbs9uS8
cnUaTJkaDlxhkM0ubLhM++/QRVuH7X8lgoJYhFBlc+uTeQkiQJz1rQoe
-----END PRIVATE KEY-----
)";

TEST(ClientCreateTest, ChecksTlsMaterial) {
  auto create = [](const std::string& ca, const std::string& cert, const std::string& key) {
    ClusterConfig config;
    config.server = "https://127.0.0.1:6443";
    config.context_name = "ctx";
    config.ca_pem = ca;
    config.client_cert_pem = cert;
    config.client_key_pem = key;
    auto client = Client::Create(config);
    return client.ok() ? std::string() : client.status().message();
  };
  EXPECT_EQ(create(kCertA, kCertA, kKeyA), "");
  EXPECT_EQ(create("", "", ""), "");
  EXPECT_NE(create("not a pem", "", "")
                .find("certificate authority of context \"ctx\" holds no "
                      "PEM certificate"),
            std::string::npos);
  EXPECT_NE(create("", kCertA, kKeyB).find("client key of context \"ctx\" does not belong"),
            std::string::npos);
  EXPECT_NE(create("", kCertA, "garbage").find("not an unencrypted PEM private key"),
            std::string::npos);
  EXPECT_NE(create("", kKeyA, kKeyA).find("client certificate of context \"ctx\" holds no"),
            std::string::npos);
  EXPECT_NE(create("", kCertA, "").find("needs both"), std::string::npos);

  ClusterConfig bad_server;
  bad_server.server = "ftp://x";
  EXPECT_FALSE(Client::Create(bad_server).ok());
}

}  // namespace
}  // namespace vireo::kube
