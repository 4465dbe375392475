// REST paths and their query strings.
#include "lib/kube/resource.h"

#include <gtest/gtest.h>

namespace vireo::kube {
namespace {

TEST(Resource, CorePathsAndGroupPaths) {
  EXPECT_EQ(resources::kPods.ApiVersion(), "v1");
  EXPECT_EQ(resources::kPods.Path("ns", "p", "exec"), "/api/v1/namespaces/ns/pods/p/exec");
  EXPECT_EQ(resources::kPods.Path(""), "/api/v1/pods");
  EXPECT_EQ(resources::kLeases.ApiVersion(), "coordination.k8s.io/v1");
  EXPECT_EQ(resources::kLeases.Path("kube-system", "vireo"),
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/vireo");
  // A cluster-scoped resource ignores the namespace.
  EXPECT_EQ(resources::kNamespaces.Path("ignored", "team-a"), "/api/v1/namespaces/team-a");
}

TEST(EncodeQuery, EscapesAllButUnreservedBytes) {
  EXPECT_EQ(EncodeQuery({}), "");
  EXPECT_EQ(EncodeQuery({{"labelSelector", "a=b,c!=d"}, {"limit", "500"}}),
            "labelSelector=a%3Db%2Cc%21%3Dd&limit=500");
  EXPECT_EQ(EncodeQuery({{"command", "echo hi/there"}, {"command", "-._~"}}),
            "command=echo%20hi%2Fthere&command=-._~");
  EXPECT_EQ(EncodeQuery({{"k", "\xc3\xa9"}}), "k=%C3%A9");
}

}  // namespace
}  // namespace vireo::kube
