// Client lists against a scripted local HTTP server: the query a list
// sends, the items' kinds, managedFields left out, and the pages ListAll
// follows.
// gtest before cpprestsdk, whose U() macro breaks gtest's templates.
#include <gtest/gtest.h>
// Then the usual order.
#include <string>
#include <vector>

#include "lib/kube/client.h"
#include "lib/kube/client_test_util.h"
#include "lib/kube/test_http_server.h"

namespace vireo::kube {
namespace {

using base::Find;
using base::GetString;
using base::Json;
using base::NameOf;
using base::Result;
using testing::Always;
using testing::ClientFor;
using testing::HttpConnection;
using testing::HttpRequest;
using testing::kVirtualMachines;
using testing::TestHttpServer;

TEST(ClientListTest, ListEncodesSelectorsAndFillsItemTypes) {
  TestHttpServer server(Always(200, R"({"kind":"PodList","metadata":{"resourceVersion":"42",
      "continue":"tok/en=="},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})"));
  auto client = ClientFor(server);
  ListOptions options;
  options.label_selector = "app=web,tier!=db";
  options.field_selector = "status.phase=Running";
  options.limit = 2;
  options.continue_token = "c+/=";
  Result<ObjectList> list = client->List(resources::kPods, "", options);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(server.last_request().target,
            "/api/v1/pods?labelSelector=app%3Dweb%2Ctier%21%3Ddb"
            "&fieldSelector=status.phase%3DRunning&limit=2&continue=c%2B%2F%3D");
  EXPECT_EQ(list->resource_version, "42");
  EXPECT_EQ(list->continue_token, "tok/en==");
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_EQ(GetString(list->items[1], "kind"), "Pod");
  EXPECT_EQ(GetString(list->items[1], "apiVersion"), "v1");
}

TEST(ClientListTest, ListCanLeaveItemsManagedFieldsOut) {
  const std::string reply = R"({"kind":"VirtualMachineList","metadata":{"resourceVersion":"7",
      "managedFields":"list's own"},"items":[{"kind":"VirtualMachine","metadata":{"name":"a",
      "managedFields":[{"manager":"kubectl"}],"labels":{"managedFields":"a label"}},
      "spec":{"template":{"metadata":{"managedFields":[{"manager":"kept"}]}}}}]})";
  TestHttpServer server(Always(200, reply));
  auto client = ClientFor(server);
  ListOptions options;
  Result<ObjectList> whole = client->List(kVirtualMachines, "ns", options);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_NE(Find(whole->items[0], "metadata.managedFields"), nullptr);

  options.without_managed_fields = true;
  Result<ObjectList> lean = client->List(kVirtualMachines, "ns", options);
  ASSERT_TRUE(lean.ok()) << lean.status().ToString();
  ASSERT_EQ(lean->items.size(), 1u);
  const Json& vm = lean->items[0];
  EXPECT_EQ(Find(vm, "metadata.managedFields"), nullptr);
  // Only the item's own metadata.managedFields: a label and the template's
  // metadata of that name stay.
  EXPECT_EQ(GetString(vm, "metadata.labels.managedFields"), "a label");
  ASSERT_NE(Find(vm, "spec.template.metadata.managedFields"), nullptr);
  EXPECT_EQ(GetString(vm, "metadata.name"), "a");
  EXPECT_EQ(lean->resource_version, "7");

  // A key twice in one item is still refused with the dropping on.
  TestHttpServer twice(Always(200, R"({"items":[{"metadata":{"managedFields":[],"name":"a",
      "name":"b"}}]})"));
  auto client2 = ClientFor(twice);
  EXPECT_FALSE(client2->List(kVirtualMachines, "ns", options).ok());
}

TEST(ClientListTest, ListAllFollowsContinueTokens) {
  TestHttpServer server([](const HttpRequest& r, HttpConnection& c) {
    if (r.target.find("continue=page2") != std::string::npos) {
      c.Reply(200, R"({"metadata":{"resourceVersion":"99","continue":"page3"},
                       "items":[{"metadata":{"name":"b"}}]})");
    } else if (r.target.find("continue=page3") != std::string::npos) {
      c.Reply(200, R"({"metadata":{"resourceVersion":"100"},"items":[{"metadata":{"name":"c"}}]})");
    } else {
      c.Reply(200, R"({"metadata":{"resourceVersion":"7","continue":"page2"},
                       "items":[{"metadata":{"name":"a"}}]})");
    }
  });
  auto client = ClientFor(server);
  ListOptions options;
  options.limit = 1;
  options.resource_version = "0";
  Result<ObjectList> all = client->ListAll(kVirtualMachines, "ns", options);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->items.size(), 3u);
  EXPECT_EQ(NameOf(all->items[2]), "c");
  EXPECT_EQ(all->resource_version, "7");
  EXPECT_TRUE(all->continue_token.empty());
  std::vector<HttpRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_NE(requests[0].target.find("resourceVersion=0"), std::string::npos);
  // A continued list must not repeat resourceVersion: the server refuses both.
  EXPECT_EQ(requests[1].target.find("resourceVersion"), std::string::npos) << requests[1].target;
}

}  // namespace
}  // namespace vireo::kube
