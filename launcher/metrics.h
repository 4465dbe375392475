// The guest's Prometheus metrics, served by the launcher on the pod's address
// (lib/api/launcher_pod.h kMetricsPort, path /metrics) so that Prometheus
// scrapes each launcher pod by its annotations or a PodMonitor, and the pod
// needs no API token. The series carry KubeVirt's names and labels
// (kubevirt_vmi_vcpu_seconds_total{id,state}, kubevirt_vmi_memory_*,
// kubevirt_vmi_storage_*{drive}, kubevirt_vmi_network_*{interface}, each
// with name, namespace and node), so KubeVirt's dashboards and alerts read
// them. Figures come from libvirt's domain statistics at scrape time, and
// the network's from the pod's interface, which carries all of the guest's
// traffic through passt (docs/launcher.md).
#pragma once

#include <libvirt/libvirt.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "lib/base/status.h"

namespace vireo::launcher {

struct MetricsLabels {
  std::string name, namespace_name, node;
};

// libvirt's domain statistics as flat "key" -> value ("vcpu.0.time",
// "block.1.wr.bytes"; strings such as "block.0.path" apart).
struct DomainStats {
  std::map<std::string, uint64_t> numbers;
  std::map<std::string, std::string> strings;
};

struct NetCounters {
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0;
};

// The pod's interface: the one the default route leaves by (/proc/net/route,
// else /proc/net/ipv6_route), else the first in /proc/net/dev that is not
// the loopback ("" if none).
std::string PodInterface(const std::string& proc_net_route, const std::string& proc_net_ipv6_route,
                         const std::string& proc_net_dev);

// `ifname`'s counters from the text of /proc/net/dev; nullopt when absent.
std::optional<NetCounters> ParseNetDev(const std::string& proc_net_dev, const std::string& ifname);

// The Prometheus text (format 0.0.4). `drives` names each disk by its image
// path (a block device's `path`), as the VMI names it; a disk not there is
// named by its target (vda). `network`: the VMI interface's name and the
// pod interface's counters.
std::string FormatMetrics(const MetricsLabels& labels, const DomainStats& stats,
                          const std::map<std::string, std::string>& drives,
                          const std::optional<std::pair<std::string, NetCounters>>& network);

// virConnectGetAllDomainStats for `domain` (state, cpu, balloon, vcpu, block).
base::Result<DomainStats> CollectDomainStats(virConnectPtr conn, const std::string& domain);

// A listening socket on every address of the pod, bound early (before passt
// takes the pod's unbound ports for the guest), then served from a thread of
// its own: GET /metrics answers with what `render` returns, anything else
// 404. One request per connection, read and answered within 5 s. Stops (and
// joins) on destruction, at once whatever a client does.
class MetricsServer {
 public:
  static base::Result<std::unique_ptr<MetricsServer>> Listen(int port);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }
  // `render` runs on the server's thread; an error becomes a 503.
  void Serve(std::function<base::Result<std::string>()> render);

 private:
  MetricsServer(int fd, int port);
  void Loop();

  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::function<base::Result<std::string>()> render_;
  std::thread thread_;
};

}  // namespace vireo::launcher
