// The ssh and scp command lines virtctl hands to OpenSSH (access.h). The
// streams themselves are tried against a real cluster in T3
// (tests/e2e/guest_test.py).
#include "virtctl/access.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vireo::virtctl {
namespace {

using ::testing::ElementsAre;

Options Parsed(const std::vector<std::string>& args) {
  auto options = ParseArgs(args);
  EXPECT_TRUE(options.ok()) << options.status().ToString();
  return options.ok() ? *options : Options{};
}

TEST(OpenSshArgvTest, SshThroughPortForwardStdio) {
  Options o =
      Parsed({"ssh", "alice@vm/web", "-i", "/k/id", "-p", "2222", "-t",
              "-o StrictHostKeyChecking=no", "--kubeconfig", "/c/kube config", "-c", "uname -a"});
  EXPECT_THAT(OpenSshArgv(o, "prod", "/usr/bin/virtctl"),
              ElementsAre("ssh", "-o",
                          "ProxyCommand='/usr/bin/virtctl' port-forward --stdio=true "
                          "'vm/web/prod' 2222 --kubeconfig '/c/kube config'",
                          "-i", "/k/id", "-o StrictHostKeyChecking=no", "--", "alice@vm.web.prod",
                          "uname -a"));
}

TEST(OpenSshArgvTest, UsernameFlagAndKnownHosts) {
  Options o =
      Parsed({"ssh", "-l", "bob", "--known-hosts", "/k/hosts", "vmi/db/ns1", "--context", "c1"});
  EXPECT_THAT(OpenSshArgv(o, "ns1", "/v"),
              ElementsAre("ssh", "-o",
                          "ProxyCommand='/v' port-forward --stdio=true 'vmi/db/ns1' 22 "
                          "--context 'c1'",
                          "-o", "UserKnownHostsFile=\"/k/hosts\"", "--", "bob@vmi.db.ns1"));
}

TEST(OpenSshArgvTest, ScpEitherWay) {
  Options up = Parsed({"scp", "-r", "--preserve", "./data", "vm/web:/srv/"});
  EXPECT_THAT(
      OpenSshArgv(up, "default", "/v"),
      ElementsAre("scp", "-o", "ProxyCommand='/v' port-forward --stdio=true 'vm/web/default' 22",
                  "-r", "-p", "--", "./data", "vm.web.default:/srv/"));
  // A local "notes:v2.txt" would be host "notes" to scp: it gets "./".
  Options down = Parsed({"scp", "alice@vm/web:/var/log/syslog", "notes:v2.txt"});
  EXPECT_THAT(
      OpenSshArgv(down, "default", "/v"),
      ElementsAre("scp", "-o", "ProxyCommand='/v' port-forward --stdio=true 'vm/web/default' 22",
                  "--", "alice@vm.web.default:/var/log/syslog", "./notes:v2.txt"));
}

// ssh expands %-tokens: a literal % in a path is doubled, or ssh refuses it.
TEST(OpenSshArgvTest, PercentSignsAreEscapedForSsh) {
  Options o = Parsed({"ssh", "vm/web", "--kubeconfig", "/c/100%", "--known-hosts", "/k/my hosts"});
  EXPECT_THAT(OpenSshArgv(o, "ns", "/v"),
              ElementsAre("ssh", "-o",
                          "ProxyCommand='/v' port-forward --stdio=true 'vm/web/ns' 22 "
                          "--kubeconfig '/c/100%%'",
                          "-o", "UserKnownHostsFile=\"/k/my hosts\"", "--", "vm.web.ns"));
}

}  // namespace
}  // namespace vireo::virtctl
