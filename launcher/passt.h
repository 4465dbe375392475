// The guest's network: passt (Debian's package) as a process of the
// launcher's, serving the pod's address to the guest through a unix socket
// QEMU joins (`-netdev stream`). The guest gets KubeVirt's masquerade
// addresses by DHCP (10.0.2.2/24, gateway 10.0.2.1, the pod's resolvers and
// search domains) and the pod's ports reach it: the interface's `ports`, or
// every TCP and UDP port when it lists none, as KubeVirt's masquerade does.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lib/api/types.h"
#include "lib/base/status.h"

namespace vireo::launcher {

// A closed range of port numbers.
struct PortRange {
  uint32_t first = 0;
  uint32_t last = 0;
};

// What passt forwards: its --tcp-ports and --udp-ports values, and, when the
// pod's descriptor limit made it forward less than every port, why.
struct PortForwards {
  std::string tcp;  // "all", "none" or a list such as "22,80" or "1-9000"
  std::string udp;
  std::string limited;  // empty unless fewer ports than asked are forwarded
};

// The ports to forward for an interface's `ports`. Listed ports: exactly
// those, by protocol. None listed: every port outside the kernel's ephemeral
// range (passt's "all"), for TCP and UDP; passt holds one socket per port
// and protocol, so when `descriptors` (what passt may open) cannot hold them
// all, the lowest ports that fit are forwarded, half the budget each.
PortForwards PasstPortForwards(const std::vector<api::Port>& ports, uint64_t descriptors,
                               PortRange ephemeral);

// How to run passt.
struct PasstConfig {
  std::string binary = "passt";
  std::string socket_path;  // QEMU connects here
  std::string pid_file;     // passt writes it once it serves
  PortForwards forwards;
};

// passt's command line (argv[0] included).
std::vector<std::string> PasstArgv(const PasstConfig& config);

// The kernel's ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range).
base::Result<PortRange> EphemeralPorts(
    const std::string& proc_file = "/proc/sys/net/ipv4/ip_local_port_range");

// Checks that every listed port is free in the pod (nothing else in it
// binds one), so a taken port is named instead of silently not forwarded.
base::Status CheckPortsFree(const std::vector<api::Port>& ports);

// A running passt. Destroying it (or Stop) ends the process.
class PasstProcess {
 public:
  // Starts passt with its socket and pid file in `dir` (created, and given
  // to the user passt drops to when started as root), its output in
  // `log_file`, and waits until it serves or fails (its log's last lines
  // are in the error), at most `timeout_ms`.
  static base::Result<PasstProcess> Start(const std::string& dir, const std::string& log_file,
                                          const std::vector<api::Port>& ports,
                                          std::string binary = "passt", int timeout_ms = 10'000);

  PasstProcess(PasstProcess&& other) noexcept;
  PasstProcess& operator=(PasstProcess&& other) noexcept;
  PasstProcess(const PasstProcess&) = delete;
  ~PasstProcess();

  const std::string& socket_path() const { return socket_path_; }
  const PortForwards& forwards() const { return forwards_; }
  pid_t pid() const { return pid_; }
  // SIGTERM, then waits for it. Idempotent.
  void Stop();

 private:
  PasstProcess() = default;
  pid_t pid_ = -1;
  std::string socket_path_;
  PortForwards forwards_;
};

}  // namespace vireo::launcher
