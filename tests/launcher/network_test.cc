// T2: the guest's network through passt, with the launcher in a network
// namespace of its own standing in for the pod's: a veth pair, the pod's
// address 198.18.23.10 and the "node" 198.18.23.1 on this side (the
// benchmarking range, which no real network here uses). A port the VMI
// never lists reaches the guest; the guest gets KubeVirt's masquerade
// addresses and the pod's resolver by DHCP and reaches the node; a listed
// port something else in the pod holds fails the launcher with its name.
// `vireo-launcher forward` (a guest port from the pod's loopback) and
// `vireo-launcher vnc` (the display) are tried here too, as virtctl execs
// them.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "lib/api/launcher_pod.h"
#include "tests/launcher/harness.h"

namespace vireo::t2 {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kPodAddress = PodNetwork::kPodAddress;
constexpr const char* kNodeAddress = PodNetwork::kNodeAddress;
constexpr const char* kPodResolver = PodNetwork::kPodResolver;

// One HTTP GET to address:port from here; the reply, or "" when none.
std::string HttpGet(const std::string& address, int port, const std::string& path = "/") {
  CommandResult r = RunCommand(
      {"curl", "-s", "-m", "5", "http://" + address + ":" + std::to_string(port) + path}, 15s);
  return r.exit_code == 0 ? r.output : "";
}

std::string Diagnostics(Process& launcher, TestPod& pod) {
  return "\n--- launcher stderr ---\n" + launcher.Stderr() + "\n--- passt ---\n" +
         ReadFileOrEmpty(pod.StateDir() + "/passt.log") + "\n--- guest console log ---\n" +
         ReadFileOrEmpty(pod.ConsoleLog());
}

// Waits until `process` has written at least `size` bytes to stdout.
bool WaitForBytes(Process& process, size_t size, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (process.Stdout().size() < size) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    usleep(20'000);
  }
  return true;
}

uint16_t U16(const std::string& data, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(data[at]) << 8) |
                               static_cast<uint8_t>(data[at + 1]));
}

// `vireo-launcher vnc`, as `virtctl vnc` execs it: an RFB 3.8 handshake
// with QEMU's display (no authentication in the pod: the exec is the
// authentication), then a whole-screen framebuffer update.
void ExpectVncFramebuffer(TestPod& pod) {
  Process vnc({LauncherBinary(), "vnc", "--state-dir", pod.StateDir()});
  ASSERT_TRUE(vnc.WaitForStdout("RFB 003.008\n", 15s)) << vnc.Stderr();
  vnc.Write("RFB 003.008\n");
  // Security types: a count, then the types; QEMU offers None (1).
  ASSERT_TRUE(WaitForBytes(vnc, 12 + 2, 10s)) << vnc.Stderr();
  std::string out = vnc.Stdout();
  ASSERT_EQ(out[12], 1) << "security types offered: " << static_cast<int>(out[12]);
  ASSERT_EQ(out[13], 1) << "security type: " << static_cast<int>(out[13]);
  vnc.Write(std::string(1, '\x01'));
  // SecurityResult 0 (4 bytes), then ClientInit (shared) and ServerInit:
  // width, height, pixel format (16), name length (4), name.
  ASSERT_TRUE(WaitForBytes(vnc, 14 + 4, 10s));
  EXPECT_EQ(vnc.Stdout().substr(14, 4), std::string(4, '\0'));
  vnc.Write(std::string(1, '\x01'));
  ASSERT_TRUE(WaitForBytes(vnc, 18 + 24, 10s));
  out = vnc.Stdout();
  const uint16_t width = U16(out, 18), height = U16(out, 20);
  EXPECT_GT(width, 0);
  EXPECT_GT(height, 0);
  const size_t name_length = (static_cast<uint8_t>(out[38]) << 24) |
                             (static_cast<uint8_t>(out[39]) << 16) |
                             (static_cast<uint8_t>(out[40]) << 8) | static_cast<uint8_t>(out[41]);
  const size_t init_end = 42 + name_length;
  ASSERT_TRUE(WaitForBytes(vnc, init_end, 10s));
  // FramebufferUpdateRequest (3), not incremental, the whole screen.
  std::string request = {'\x03', '\x00', '\x00', '\x00', '\x00', '\x00'};
  request += static_cast<char>(width >> 8);
  request += static_cast<char>(width & 0xff);
  request += static_cast<char>(height >> 8);
  request += static_cast<char>(height & 0xff);
  vnc.Write(request);
  // FramebufferUpdate: message type 0, padding, a rectangle count of 1 or more.
  ASSERT_TRUE(WaitForBytes(vnc, init_end + 4, 15s)) << vnc.Stderr();
  out = vnc.Stdout();
  EXPECT_EQ(out[init_end], 0) << "message type " << static_cast<int>(out[init_end]);
  EXPECT_GT(U16(out, init_end + 2), 0) << "rectangles";
  vnc.CloseStdin();
  EXPECT_EQ(vnc.Wait(15s), 0) << vnc.Stderr();
}

// The value of the first series of `family` whose labels hold `label`, or -1.
double SeriesValue(const std::string& text, const std::string& family, const std::string& label) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(family + "{", 0) != 0 || line.find(label) == std::string::npos) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

// The guest's metrics on the pod's address, as Prometheus scrapes them:
// KubeVirt's series, which move when the guest computes and writes.
void ExpectMetricsMove(Process& console, TestPod& pod, Process& launcher) {
  const std::string port = std::to_string(api::launcher_pod::kMetricsPort);
  const std::string before = HttpGet(kPodAddress, std::stoi(port), "/metrics");
  ASSERT_THAT(before, HasSubstr(R"(kubevirt_vmi_vcpu_seconds_total{name="net",namespace="t2")"))
      << before << ReadFileOrEmpty(pod.StateDir() + "/passt.log");
  const double cpu = SeriesValue(before, "kubevirt_vmi_vcpu_seconds_total", R"(id="0")");
  const double written =
      SeriesValue(before, "kubevirt_vmi_storage_write_traffic_bytes_total", R"(drive="rootdisk")");
  const double received =
      SeriesValue(before, "kubevirt_vmi_network_receive_bytes_total", R"(interface="default")");
  EXPECT_GT(cpu, 0) << before;
  EXPECT_GE(written, 0) << before;
  EXPECT_GT(received, 0) << before;
  EXPECT_THAT(before, HasSubstr("kubevirt_vmi_memory_resident_bytes{"));
  // 1 MiB written to the guest's root disk (its boot partition), synced.
  EXPECT_TRUE(Converse(console,
                       std::string(kMountTestDiskBoot) +
                           " && dd if=/dev/urandom of=/mnt/boot/metrics.bin bs=65536 count=16 "
                           "2>/dev/null && sync && echo m-$((40+2))",
                       "m-42"));
  const std::string after = HttpGet(kPodAddress, std::stoi(port), "/metrics");
  EXPECT_GT(SeriesValue(after, "kubevirt_vmi_vcpu_seconds_total", R"(id="0")"), cpu) << after;
  EXPECT_GE(
      SeriesValue(after, "kubevirt_vmi_storage_write_traffic_bytes_total", R"(drive="rootdisk")"),
      written + (1 << 20))
      << after;
  EXPECT_GT(
      SeriesValue(after, "kubevirt_vmi_network_receive_bytes_total", R"(interface="default")"),
      received)
      << after;
  EXPECT_THAT(HttpGet(kPodAddress, std::stoi(port), "/other"), HasSubstr("only GET /metrics"));

  // What a scrape costs the launcher (every process of its stack but QEMU).
  auto cpu_ticks = [&launcher] {
    long long ticks = 0;
    for (pid_t pid : LauncherStack(launcher.pid())) {
      std::string stat = ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
      std::istringstream rest(stat.substr(stat.rfind(')') + 2));
      std::string field;
      long long utime = 0, stime = 0;
      for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoll(field);
        if (i == 15) stime = std::stoll(field);
      }
      ticks += utime + stime;
    }
    return ticks;
  };
  constexpr int kScrapes = 50;
  const long long ticks_before = cpu_ticks();
  size_t bytes = 0;
  for (int i = 0; i < kScrapes; ++i)
    bytes = HttpGet(kPodAddress, std::stoi(port), "/metrics").size();
  const double ms = static_cast<double>(cpu_ticks() - ticks_before) * 1000.0 /
                    static_cast<double>(sysconf(_SC_CLK_TCK)) / kScrapes;
  std::printf(
      "measure metrics: %zu bytes per scrape, %.2f CPU-ms of the launcher per scrape "
      "(mean of %d; 1 vCPU, 1 disk, 1 NIC)\n",
      bytes, ms, kScrapes);
  EXPECT_GT(bytes, 0u);
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
  // `vireo-launcher forward`, as `virtctl port-forward` execs it in the pod:
  // the pod's loopback port 80 is the guest's, and after stdin ends the
  // whole reply still comes.
  std::vector<std::string> forward = net.Exec();
  forward.insert(forward.end(), {LauncherBinary(), "forward", "--port", "80"});
  {
    Process relay(forward);
    relay.Write("GET / HTTP/1.0\r\n\r\n");
    relay.CloseStdin();
    EXPECT_EQ(relay.Wait(30s), 0) << relay.Stderr();
    relay.JoinOutput();
    EXPECT_THAT(relay.Stdout(), HasSubstr("VIREO-TEST-DISK HTTP OK")) << relay.Stderr();
  }
  // A port nothing in the guest listens on: passt accepts, the guest
  // refuses; the relay says so and fails.
  forward.back() = "81";
  {
    Process refused(forward);
    EXPECT_EQ(refused.Wait(30s), 1) << refused.Stderr();
    EXPECT_THAT(refused.Stderr(), HasSubstr("does anything listen on port 81 in the guest?"));
  }
  ExpectVncFramebuffer(pod);
  ExpectMetricsMove(*console, pod, *launcher);
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

  // A client on the metrics port that never sends its request holds
  // neither the next scrape nor the launcher's exit.
  const int idle = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in metrics_addr{};
  metrics_addr.sin_family = AF_INET;
  metrics_addr.sin_port = htons(static_cast<uint16_t>(api::launcher_pod::kMetricsPort));
  inet_pton(AF_INET, kPodAddress, &metrics_addr.sin_addr);
  ASSERT_EQ(connect(idle, reinterpret_cast<sockaddr*>(&metrics_addr), sizeof(metrics_addr)), 0);
  usleep(200'000);
  launcher->Signal(SIGTERM);
  EXPECT_EQ(launcher->Wait(90s), 0) << Diagnostics(*launcher, pod);
  close(idle);
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
