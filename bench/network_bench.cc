// bench/network: the guest's network as a client of the pod sees it, passt
// (the launcher's default) against QEMU's slirp (the old backend), and what
// the launcher pod's memory is with each. The launcher runs in a network
// namespace standing in for the pod (t2::PodNetwork) and in a memory cgroup
// of its own standing in for the pod's; this side plays the client pod.
// Figures: HTTP request round trip (connect, GET, reply: the test disk's
// busybox httpd), bulk transfer into the guest's `nc -l`, and the cgroup's
// memory (kernel memory included: passt's sockets are charged there).
// Prints figures; asserts nothing. Run by hand (root, cgroup v1 memory):
//   VIREO_LAUNCHER=... VIREO_TEST_DISK_BUILD=... build/bench/network_bench
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/launcher/harness.h"

namespace vireo::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using t2::PodNetwork;
using t2::Process;
using t2::TestPod;

constexpr int kRequests = 50;
constexpr size_t kBulkBytes = 64u << 20;

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

int Connect(const char* address, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, address, &addr.sin_addr);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// One HTTP/1.0 GET: connect, request, read to EOF. Milliseconds, or -1.
double HttpRoundTrip(const char* address, int port) {
  const auto t0 = Clock::now();
  const int fd = Connect(address, port);
  if (fd < 0) return -1;
  const char request[] = "GET / HTTP/1.0\r\n\r\n";
  if (write(fd, request, sizeof request - 1) != static_cast<ssize_t>(sizeof request - 1)) {
    close(fd);
    return -1;
  }
  char buf[4096];
  size_t total = 0;
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) total += static_cast<size_t>(n);
  close(fd);
  return total > 0 ? Ms(t0) : -1;
}

// A memory cgroup (v1) standing in for the pod's; removed when done.
class MemoryCgroup {
 public:
  explicit MemoryCgroup(const std::string& name) : dir_("/sys/fs/cgroup/memory/" + name) {
    std::error_code ec;
    fs::create_directory(dir_, ec);
    ok_ = fs::exists(dir_ + "/memory.usage_in_bytes");
  }
  ~MemoryCgroup() { rmdir(dir_.c_str()); }
  bool ok() const { return ok_; }
  // sh -c 'echo $$ > cgroup.procs; exec "$@"' -- argv...
  std::vector<std::string> Prefix() const {
    return {"sh", "-c", "echo $$ > " + dir_ + "/cgroup.procs && exec \"$@\"", "--"};
  }
  double MiB(const char* file) const {
    std::ifstream in(dir_ + "/" + file);
    double bytes = 0;
    in >> bytes;
    return bytes / (1 << 20);
  }

 private:
  std::string dir_;
  bool ok_ = false;
};

struct Result {
  std::string name;
  bool ok = false;
  double rtt_median_ms = 0, rtt_p90_ms = 0;
  double bulk_mb_s = 0;
  double pod_mib = 0, pod_peak_mib = 0, pod_kernel_mib = 0;
  double passt_rss_mib = 0;
};

double ProcRssMiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024;
  }
  return 0;
}

Result RunOne(const std::string& name, const std::string& network, const std::string& ports) {
  Result result;
  result.name = name;
  PodNetwork net;
  MemoryCgroup cgroup("vireo-bench-" + std::to_string(getpid()) + "-" + network);
  TestPod pod;
  pod.AddContainerDisk("rootdisk");
  pod.WriteVmi("bench", R"([{"name":"rootdisk","containerDisk":{"image":"t"}}])",
               R"([{"name":"rootdisk","disk":{"bus":"virtio"}}])",
               R"([{"name":"default","masquerade":{})" + ports + "}]");
  TestPod::Launch launch;
  if (cgroup.ok()) launch.prefix = cgroup.Prefix();
  for (const std::string& part : net.Exec()) launch.prefix.push_back(part);
  launch.extra_args = {"--network", network};
  auto launcher = pod.StartLauncher(launch);
  if (!pod.WaitReady(*launcher)) {
    std::fprintf(stderr, "network_bench: %s: the launcher did not start:\n%s\n", name.c_str(),
                 launcher->Stderr().c_str());
    return result;
  }
  auto console = pod.AttachConsole();
  if (!console->WaitForStdout("VIREO-NET: eth0", 180s)) {
    std::fprintf(stderr, "network_bench: %s: the guest got no address\n", name.c_str());
    return result;
  }
  // The guest's web server answers once it runs; then measure.
  for (int i = 0; i < 100 && HttpRoundTrip(PodNetwork::kPodAddress, 80) < 0; ++i) usleep(200'000);
  std::vector<double> rtt;
  for (int i = 0; i < kRequests; ++i) {
    double ms = HttpRoundTrip(PodNetwork::kPodAddress, 80);
    if (ms >= 0) rtt.push_back(ms);
  }
  if (rtt.size() != static_cast<size_t>(kRequests)) {
    std::fprintf(stderr, "network_bench: %s: %zu of %d requests answered\n", name.c_str(),
                 rtt.size(), kRequests);
    return result;
  }
  std::sort(rtt.begin(), rtt.end());
  result.rtt_median_ms = rtt[rtt.size() / 2];
  result.rtt_p90_ms = rtt[rtt.size() * 9 / 10];

  size_t from = console->Stdout().size();
  console->Write("nc -l -p 9000 > /dev/null; echo VIREO-BULK-$((40+2))\n");
  int fd = -1;
  for (int i = 0; i < 50 && fd < 0; ++i) {
    usleep(100'000);
    fd = Connect(PodNetwork::kPodAddress, 9000);
  }
  if (fd < 0) return result;
  std::vector<char> chunk(1 << 16, 'v');
  const auto t0 = Clock::now();
  size_t sent = 0;
  while (sent < kBulkBytes) {
    ssize_t n = write(fd, chunk.data(), chunk.size());
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  close(fd);
  const bool received = console->WaitForStdout("VIREO-BULK-42", 120s, from);
  const double seconds = Ms(t0) / 1000;
  if (sent != kBulkBytes || !received) {
    std::fprintf(stderr, "network_bench: %s: bulk transfer failed (%zu bytes sent)\n", name.c_str(),
                 sent);
    return result;
  }
  result.bulk_mb_s = static_cast<double>(kBulkBytes) / 1e6 / seconds;
  if (cgroup.ok()) {
    result.pod_mib = cgroup.MiB("memory.usage_in_bytes");
    result.pod_peak_mib = cgroup.MiB("memory.max_usage_in_bytes");
    result.pod_kernel_mib = cgroup.MiB("memory.kmem.usage_in_bytes");
  }
  t2::CommandResult passt = t2::RunCommand({"pgrep", "-f", pod.StateDir() + "/passt/"}, 10s);
  if (passt.exit_code == 0) result.passt_rss_mib = ProcRssMiB(std::atoi(passt.output.c_str()));
  launcher->Signal(SIGTERM);
  launcher->Wait(90s);
  result.ok = true;
  return result;
}

}  // namespace
}  // namespace vireo::bench

int main() {
  using vireo::bench::Result;
  std::vector<Result> results;
  try {
    // The old backend needs the ports listed; passt is measured both ways.
    const std::string listed = R"(,"ports":[{"port":80},{"port":9000}])";
    results.push_back(vireo::bench::RunOne("slirp, ports listed", "slirp", listed));
    results.push_back(vireo::bench::RunOne("passt, ports listed", "passt", listed));
    results.push_back(vireo::bench::RunOne("passt, no ports (every port)", "passt", ""));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "network_bench: %s\n", e.what());
    return 1;
  }
  std::printf(
      "network_bench: client -> pod address -> guest, TCG guest (test disk), %d HTTP "
      "requests and %zu MiB bulk\n",
      vireo::bench::kRequests, vireo::bench::kBulkBytes >> 20);
  std::printf("%-30s %10s %10s %10s %12s %12s %12s %10s\n", "backend", "rtt p50", "rtt p90",
              "bulk MB/s", "pod MiB", "pod peak", "pod kernel", "passt RSS");
  bool all = true;
  for (const Result& r : results) {
    all = all && r.ok;
    if (!r.ok) {
      std::printf("%-30s failed (see above)\n", r.name.c_str());
      continue;
    }
    std::printf("%-30s %8.2fms %8.2fms %10.1f %12.1f %12.1f %12.1f %9.1fM\n", r.name.c_str(),
                r.rtt_median_ms, r.rtt_p90_ms, r.bulk_mb_s, r.pod_mib, r.pod_peak_mib,
                r.pod_kernel_mib, r.passt_rss_mib);
  }
  return all ? 0 : 1;
}
