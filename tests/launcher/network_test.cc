// T2: the guest's network through passt, with the launcher in a network
// namespace of its own standing in for the pod's: a veth pair, the pod's
// address 198.18.23.10 and the "node" 198.18.23.1 on this side (the
// benchmarking range, which no real network here uses). A port the VMI
// never lists reaches the guest; the guest gets KubeVirt's masquerade
// addresses and the pod's resolver by DHCP and reaches the node; a listed
// port something else in the pod holds fails the launcher with its name.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/launcher/harness.h"

namespace vireo::t2 {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kPodAddress = PodNetwork::kPodAddress;
constexpr const char* kNodeAddress = PodNetwork::kNodeAddress;
constexpr const char* kPodResolver = PodNetwork::kPodResolver;

// One HTTP GET to address:port from here; the reply, or "" when none.
std::string HttpGet(const std::string& address, int port) {
  CommandResult r = RunCommand(
      {"curl", "-s", "-m", "5", "http://" + address + ":" + std::to_string(port) + "/"}, 15s);
  return r.exit_code == 0 ? r.output : "";
}

std::string Diagnostics(Process& launcher, TestPod& pod) {
  return "\n--- launcher stderr ---\n" + launcher.Stderr() + "\n--- passt ---\n" +
         ReadFileOrEmpty(pod.StateDir() + "/passt.log") + "\n--- guest console log ---\n" +
         ReadFileOrEmpty(pod.ConsoleLog());
}

constexpr char kRoot[] = R"([{"name":"rootdisk","containerDisk":{"image":"vireo/test-disk:t2"}}])";
constexpr char kRootDisk[] = R"([{"name":"rootdisk","disk":{"bus":"virtio"}}])";

TEST(LauncherNetworkTest, EveryPortReachesTheGuestAndTheGuestReachesTheNode) {
  PodNetwork net;
  TestPod pod;
  pod.AddContainerDisk("rootdisk");
  // No `ports`: every port of the pod is the guest's, as with KubeVirt.
  pod.WriteVmi("net", kRoot, kRootDisk, R"([{"name":"default","masquerade":{}}])");
  TestPod::Launch launch;
  launch.prefix = net.Exec();
  auto launcher = pod.StartLauncher(launch);
  ASSERT_TRUE(pod.WaitReady(*launcher)) << Diagnostics(*launcher, pod);
  auto console = pod.AttachConsole();
  ASSERT_TRUE(console->WaitForStdout("VIREO-TEST-DISK READY", 120s)) << Diagnostics(*launcher, pod);
  // DHCP from passt: KubeVirt's masquerade address and gateway.
  ASSERT_TRUE(console->WaitForStdout("VIREO-NET: eth0 10.0.2.2/24 gateway 10.0.2.1", 60s))
      << Diagnostics(*launcher, pod);
  EXPECT_TRUE(Converse(*console, "cat /etc/resolv.conf; echo dns-$((2*2))", "dns-4"));
  EXPECT_THAT(console->Stdout(), HasSubstr(std::string("nameserver ") + kPodResolver));
  // The guest's web server on port 80, which the VMI never lists, answers
  // on the pod's address.
  EXPECT_THAT(HttpGet(kPodAddress, 80), HasSubstr("VIREO-TEST-DISK HTTP OK"))
      << Diagnostics(*launcher, pod);
  // The guest reaches the node, as it reaches Services and the kubelet's node.
  auto server = std::make_unique<Process>(
      std::vector<std::string>{"python3", "-m", "http.server", "--bind", kNodeAddress, "18093",
                               "--directory", pod.root() + "/var/run/vireo/vmi"});
  bool serving = false;
  for (int i = 0; i < 50 && !serving; ++i) {
    serving = !HttpGet(kNodeAddress, 18093).empty();
    if (!serving) usleep(200'000);
  }
  ASSERT_TRUE(serving) << "the node's test server did not start: " << server->Stderr();
  EXPECT_TRUE(Converse(*console,
                       std::string("wget -q -O- http://") + kNodeAddress +
                           ":18093/vmi.json | grep -o '\"name\":\"net\"' | head -1",
                       "\"name\":\"net\""))
      << Diagnostics(*launcher, pod);
  EXPECT_THAT(launcher->Stderr(), HasSubstr("\"backend\":\"passt\""));

  launcher->Signal(SIGTERM);
  EXPECT_EQ(launcher->Wait(90s), 0) << Diagnostics(*launcher, pod);
  EXPECT_THAT(WaitForNoQemu(pod.root(), 10s), IsEmpty());
  // passt ended with the launcher: nothing holds the guest's ports.
  EXPECT_EQ(HttpGet(kPodAddress, 80), "");
  CommandResult passts = RunCommand({"pgrep", "-f", pod.StateDir() + "/passt/"}, 10s);
  EXPECT_NE(passts.exit_code, 0) << "passt outlived the launcher: " << passts.output;
}

TEST(LauncherNetworkTest, AListedPortTakenInThePodFailsTheStartNamingIt) {
  PodNetwork net;
  TestPod pod;
  pod.AddContainerDisk("rootdisk");
  pod.WriteVmi("taken", kRoot, kRootDisk,
               R"([{"name":"default","masquerade":{},"ports":[{"port":8080}]}])");
  // Another "container" of the pod listens on 8080.
  std::vector<std::string> holder = net.Exec();
  for (const char* arg : {"python3", "-c",
                          "import socket,time\n"
                          "s=socket.socket(socket.AF_INET6)\ns.bind(('::',8080))\ns.listen()\n"
                          "print('holding',flush=True)\ntime.sleep(60)"}) {
    holder.push_back(arg);
  }
  Process holding(holder);
  ASSERT_TRUE(holding.WaitForStdout("holding", 10s)) << holding.Stderr();
  TestPod::Launch launch;
  launch.prefix = net.Exec();
  auto launcher = pod.StartLauncher(launch);
  EXPECT_EQ(launcher->Wait(60s), 5) << launcher->Stderr();
  EXPECT_THAT(launcher->Stderr(), HasSubstr("port 8080/TCP of the interface is taken in the pod"));
  EXPECT_THAT(WaitForNoQemu(pod.root(), 10s), IsEmpty());
}

}  // namespace
}  // namespace vireo::t2
