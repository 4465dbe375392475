// virtctl's access targets and port specs (target.h).
#include "virtctl/target.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vireo::virtctl {
namespace {

using ::testing::HasSubstr;

TEST(TargetTest, TypeNameAndNamespace) {
  auto vm = ParseTarget("vm/web");
  ASSERT_TRUE(vm.ok()) << vm.status().ToString();
  EXPECT_EQ(vm->kind, "vm");
  EXPECT_EQ(vm->name, "web");
  EXPECT_EQ(vm->namespace_name, "");

  auto vmi = ParseTarget("VirtualMachineInstance/db/prod");
  ASSERT_TRUE(vmi.ok());
  EXPECT_EQ(vmi->kind, "vmi");
  EXPECT_EQ(vmi->name, "db");
  EXPECT_EQ(vmi->namespace_name, "prod");
  EXPECT_EQ(ParseTarget("vms/a")->kind, "vm");
}

TEST(TargetTest, BadTargetsSayWhy) {
  EXPECT_THAT(ParseTarget("web").status().message(), HasSubstr("needs a type: vm/NAME"));
  EXPECT_THAT(ParseTarget("pod/web").status().message(), HasSubstr("unsupported type \"pod\""));
  EXPECT_THAT(ParseTarget("vm/").status().message(), HasSubstr("the name is empty"));
  EXPECT_THAT(ParseTarget("vm/a/").status().message(), HasSubstr("the namespace is empty"));
  EXPECT_THAT(ParseTarget("vm/a/b/c").status().message(), HasSubstr("more than two '/'"));
  EXPECT_THAT(ParseTarget("").status().message(), HasSubstr("empty"));
  EXPECT_EQ(ParseTarget("web").status().code(), base::Code::kBadRequest);
}

TEST(TargetTest, SshTargetTakesAUser) {
  auto t = ParseSshTarget("alice@vm/web/prod");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->user, "alice");
  EXPECT_EQ(t->name, "web");
  EXPECT_EQ(t->namespace_name, "prod");
  EXPECT_EQ(ParseSshTarget("vmi/web")->user, "");
  EXPECT_THAT(ParseSshTarget("@vm/web").status().message(), HasSubstr("user name before '@'"));
  EXPECT_THAT(ParseSshTarget("alice@").status().message(), HasSubstr("target after '@'"));
}

TEST(TargetTest, PortSpecs) {
  auto same = ParsePortSpec("8080");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->local, 8080);
  EXPECT_EQ(same->remote, 8080);
  auto mapped = ParsePortSpec("tcp/2222:22");
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(mapped->local, 2222);
  EXPECT_EQ(mapped->remote, 22);
  auto any = ParsePortSpec(":80");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->local, 0);
  EXPECT_EQ(any->remote, 80);
  EXPECT_THAT(ParsePortSpec("udp/53").status().message(), HasSubstr("UDP is not supported"));
  EXPECT_THAT(ParsePortSpec("sctp/1").status().message(), HasSubstr("unknown protocol \"sctp\""));
  EXPECT_THAT(ParsePortSpec("70000").status().message(), HasSubstr("ports 1-65535"));
  EXPECT_THAT(ParsePortSpec("80:0").status().message(), HasSubstr("ports 1-65535"));
  EXPECT_THAT(ParsePortSpec("http").status().message(), HasSubstr("ports 1-65535"));
}

TEST(TargetTest, ScpArgumentsRemoteOnlyWithAKnownType) {
  auto remote = ParseScpArgument("alice@vm/web/prod:/tmp/x");
  ASSERT_TRUE(remote.ok());
  ASSERT_TRUE(remote->remote.has_value());
  EXPECT_EQ(remote->remote->user, "alice");
  EXPECT_EQ(remote->remote->namespace_name, "prod");
  EXPECT_EQ(remote->path, "/tmp/x");
  auto no_path = ParseScpArgument("vmi/db:");
  ASSERT_TRUE(no_path.ok());
  EXPECT_TRUE(no_path->remote.has_value());
  EXPECT_EQ(no_path->path, "");

  for (const char* local : {"/tmp/a:b", "dir/x:y", "./vm/x:y", "plain", "vm/file"}) {
    auto arg = ParseScpArgument(local);
    ASSERT_TRUE(arg.ok()) << local;
    EXPECT_FALSE(arg->remote.has_value()) << local;
    EXPECT_EQ(arg->path, local);
  }
  EXPECT_THAT(ParseScpArgument("vm/:x").status().message(), HasSubstr("the name is empty"));
}

TEST(TargetTest, SshHostAndQuoting) {
  EXPECT_EQ(SshHost({"vm", "web", "prod", ""}), "vm.web.prod");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
}

}  // namespace
}  // namespace vireo::virtctl
