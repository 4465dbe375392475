// EmbeddedQemuConf: what libvirt's embedded QEMU driver is told in the pod
// (uid 107) and when the launcher runs as root.
#include "launcher/libvirt_session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vireo::launcher {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(EmbeddedQemuConf, NotRootNamesNoUserSoQemuRunsAsTheLauncher) {
  const std::string conf = EmbeddedQemuConf(/*as_root=*/false);
  // libvirt unprivileged runs QEMU as its own user; a user line would make it
  // try to switch to that user, which uid 107 cannot.
  EXPECT_THAT(conf, Not(HasSubstr("user =")));
  EXPECT_THAT(conf, Not(HasSubstr("group =")));
  EXPECT_THAT(conf, Not(HasSubstr("root")));
  for (const char* line :
       {"cgroup_controllers = [ ]\n", "security_driver = \"none\"\n", "dynamic_ownership = 0\n",
        "remember_owner = 0\n", "stdio_handler = \"file\"\n", "namespaces = [ ]\n"}) {
    EXPECT_THAT(conf, HasSubstr(line));
  }
}

TEST(EmbeddedQemuConf, RootKeepsQemuRoot) {
  const std::string conf = EmbeddedQemuConf(/*as_root=*/true);
  EXPECT_THAT(conf, HasSubstr("user = \"root\"\n"));
  EXPECT_THAT(conf, HasSubstr("group = \"root\"\n"));
  EXPECT_THAT(conf, HasSubstr("security_driver = \"none\"\n"));
}

}  // namespace
}  // namespace vireo::launcher
