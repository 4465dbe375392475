// The guest's Prometheus metrics; see metrics.h.
#include "launcher/metrics.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <vector>

#include "launcher/libvirt_session.h"
#include "lib/base/log.h"
#include "lib/base/prometheus.h"

namespace vireo::launcher {

using base::Code;
using base::Status;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string Number(double value) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.17g", value);
  return text;
}

// Collects series by family and writes each family as one group, its HELP
// and TYPE first, in the order families first appear (the text format
// wants a family's series together).
class Writer {
 public:
  explicit Writer(const MetricsLabels& labels)
      : base_(base::PrometheusLabel("name", labels.name) + "," +
              base::PrometheusLabel("namespace", labels.namespace_name) + "," +
              base::PrometheusLabel("node", labels.node)) {}

  void Add(const std::string& name, const char* type, const std::string& help, double value,
           const std::string& extra_labels = "") {
    auto [it, added] = families_.try_emplace(name);
    if (added) {
      order_.push_back(name);
      it->second.header = "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    }
    std::string& series = it->second.series;
    series.append(name).append("{").append(base_);
    if (!extra_labels.empty()) series.append(",").append(extra_labels);
    series.append("} ").append(Number(value)).append("\n");
  }
  std::string Text() const {
    std::string out;
    for (const std::string& name : order_) {
      const Family& family = families_.at(name);
      out.append(family.header).append(family.series);
    }
    return out;
  }

 private:
  struct Family {
    std::string header, series;
  };
  std::string base_;
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

const char* VcpuState(uint64_t state) {
  switch (state) {
    case VIR_VCPU_OFFLINE:
      return "offline";
    case VIR_VCPU_RUNNING:
      return "running";
    case VIR_VCPU_BLOCKED:
      return "blocked";
    default:
      return "unknown";
  }
}

}  // namespace

std::string PodInterface(const std::string& proc_net_route, const std::string& proc_net_ipv6_route,
                         const std::string& proc_net_dev) {
  std::istringstream routes(proc_net_route);
  std::string line;
  std::getline(routes, line);  // the header
  while (std::getline(routes, line)) {
    std::istringstream fields(line);
    std::string iface, destination, gateway, flags, refcnt, use, metric, mask;
    if (fields >> iface >> destination >> gateway >> flags >> refcnt >> use >> metric >> mask &&
        destination == "00000000" && mask == "00000000") {
      return iface;
    }
  }
  // IPv6 only: the default route ("::/0") in /proc/net/ipv6_route.
  std::istringstream routes6(proc_net_ipv6_route);
  while (std::getline(routes6, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    if (f.size() == 10 && f[0] == std::string(32, '0') && f[1] == "00" && f[9] != "lo") {
      return f[9];
    }
  }
  std::istringstream devices(proc_net_dev);
  while (std::getline(devices, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    if (!name.empty() && name != "lo") return name;
  }
  return "";
}

std::optional<NetCounters> ParseNetDev(const std::string& proc_net_dev, const std::string& ifname) {
  std::istringstream in(proc_net_dev);
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    if (name != ifname) continue;
    // Receive: bytes packets errs drop fifo frame compressed multicast;
    // transmit: bytes packets errs drop ...
    std::istringstream fields(line.substr(colon + 1));
    std::vector<uint64_t> v;
    uint64_t n = 0;
    while (fields >> n) v.push_back(n);
    if (v.size() < 12) return std::nullopt;
    NetCounters c;
    c.rx_bytes = v[0];
    c.rx_packets = v[1];
    c.rx_errors = v[2];
    c.rx_dropped = v[3];
    c.tx_bytes = v[8];
    c.tx_packets = v[9];
    c.tx_errors = v[10];
    c.tx_dropped = v[11];
    return c;
  }
  return std::nullopt;
}

std::string FormatMetrics(const MetricsLabels& labels, const DomainStats& stats,
                          const std::map<std::string, std::string>& drives,
                          const std::optional<std::pair<std::string, NetCounters>>& network) {
  Writer w(labels);
  auto number = [&stats](const std::string& key) -> std::optional<uint64_t> {
    auto it = stats.numbers.find(key);
    if (it == stats.numbers.end()) return std::nullopt;
    return it->second;
  };
  constexpr double kNs = 1e-9;
  if (auto v = number("cpu.time")) {
    w.Add("kubevirt_vmi_cpu_usage_seconds_total", "counter",
          "Total CPU time spent in all modes (sum of both kernel and user modes).", *v * kNs);
  }
  if (auto v = number("cpu.user")) {
    w.Add("kubevirt_vmi_cpu_user_usage_seconds_total", "counter",
          "Total CPU time spent in user mode.", *v * kNs);
  }
  if (auto v = number("cpu.system")) {
    w.Add("kubevirt_vmi_cpu_system_usage_seconds_total", "counter",
          "Total CPU time spent in system mode.", *v * kNs);
  }
  const uint64_t vcpus = number("vcpu.current").value_or(0);
  for (uint64_t i = 0; i < vcpus; ++i) {
    const std::string prefix = "vcpu." + std::to_string(i) + ".";
    const std::string id = "id=\"" + std::to_string(i) + "\"";
    if (auto t = number(prefix + "time")) {
      w.Add(
          "kubevirt_vmi_vcpu_seconds_total", "counter",
          "Total amount of time spent in each state by each vcpu (cpu_time excluding "
          "hypervisor time). Where `id` is the vcpu identifier and `state` can be one of the "
          "following: [`OFFLINE`, `RUNNING`, `BLOCKED`].",
          *t * kNs,
          id + ",state=\"" + VcpuState(number(prefix + "state").value_or(VIR_VCPU_RUNNING)) + "\"");
    }
    if (auto t = number(prefix + "wait")) {
      w.Add("kubevirt_vmi_vcpu_wait_seconds_total", "counter",
            "Amount of time spent by each vcpu while waiting on I/O.", *t * kNs, id);
    }
  }
  struct Balloon {
    const char* key;
    const char* name;
    const char* type;
    const char* help;
  };
  static const Balloon kBalloon[] = {
      {"balloon.rss", "kubevirt_vmi_memory_resident_bytes", "gauge",
       "Resident set size of the process running the domain."},
      {"balloon.maximum", "kubevirt_vmi_memory_domain_bytes", "gauge",
       "The amount of memory in bytes allocated to the domain."},
      {"balloon.current", "kubevirt_vmi_memory_actual_balloon_bytes", "gauge",
       "Current balloon size in bytes."},
      {"balloon.available", "kubevirt_vmi_memory_available_bytes", "gauge",
       "Amount of usable memory as seen by the domain."},
      {"balloon.unused", "kubevirt_vmi_memory_unused_bytes", "gauge",
       "The amount of memory left completely unused by the system."},
      {"balloon.usable", "kubevirt_vmi_memory_usable_bytes", "gauge",
       "The amount of memory which can be reclaimed by balloon without pushing the guest "
       "system to swap."},
      {"balloon.disk_caches", "kubevirt_vmi_memory_cached_bytes", "gauge",
       "The amount of memory that is being used to cache I/O and is available to be reclaimed."},
  };
  for (const Balloon& b : kBalloon) {
    if (auto kib = number(b.key)) w.Add(b.name, b.type, b.help, static_cast<double>(*kib) * 1024);
  }
  if (auto v = number("balloon.major_fault")) {
    w.Add("kubevirt_vmi_memory_pgmajfault_total", "counter",
          "The number of page faults when disk IO was required.", *v);
  }
  if (auto v = number("balloon.minor_fault")) {
    w.Add("kubevirt_vmi_memory_pgminfault_total", "counter",
          "The number of other page faults, when disk IO was not required.", *v);
  }

  const uint64_t blocks = number("block.count").value_or(0);
  for (uint64_t i = 0; i < blocks; ++i) {
    const std::string prefix = "block." + std::to_string(i) + ".";
    auto name_it = stats.strings.find(prefix + "name");
    if (name_it == stats.strings.end()) continue;
    std::string drive = name_it->second;
    if (auto path = stats.strings.find(prefix + "path"); path != stats.strings.end()) {
      if (auto d = drives.find(path->second); d != drives.end()) drive = d->second;
    }
    const std::string label = base::PrometheusLabel("drive", drive);
    struct Block {
      const char* key;
      const char* name;
      const char* help;
      double scale;
    };
    static const Block kBlock[] = {
        {"rd.reqs", "kubevirt_vmi_storage_iops_read_total", "Total number of I/O read operations.",
         1},
        {"wr.reqs", "kubevirt_vmi_storage_iops_write_total",
         "Total number of I/O write operations.", 1},
        {"rd.bytes", "kubevirt_vmi_storage_read_traffic_bytes_total",
         "Total number of bytes read from storage.", 1},
        {"wr.bytes", "kubevirt_vmi_storage_write_traffic_bytes_total",
         "Total number of written bytes.", 1},
        {"rd.times", "kubevirt_vmi_storage_read_times_seconds_total",
         "Total time spent on read operations.", kNs},
        {"wr.times", "kubevirt_vmi_storage_write_times_seconds_total",
         "Total time spent on write operations.", kNs},
        {"fl.reqs", "kubevirt_vmi_storage_flush_requests_total", "Total storage flush requests.",
         1},
        {"fl.times", "kubevirt_vmi_storage_flush_times_seconds_total",
         "Total time spent on cache flushing.", kNs},
    };
    for (const Block& b : kBlock) {
      if (auto v = number(prefix + b.key)) {
        w.Add(b.name, "counter", b.help, static_cast<double>(*v) * b.scale, label);
      }
    }
  }

  if (network.has_value()) {
    const std::string label = base::PrometheusLabel("interface", network->first);
    const NetCounters& c = network->second;
    w.Add("kubevirt_vmi_network_receive_bytes_total", "counter",
          "Total network traffic received in bytes.", static_cast<double>(c.rx_bytes), label);
    w.Add("kubevirt_vmi_network_transmit_bytes_total", "counter",
          "Total network traffic transmitted in bytes.", static_cast<double>(c.tx_bytes), label);
    w.Add("kubevirt_vmi_network_receive_packets_total", "counter",
          "Total network traffic received packets.", static_cast<double>(c.rx_packets), label);
    w.Add("kubevirt_vmi_network_transmit_packets_total", "counter",
          "Total network traffic transmitted packets.", static_cast<double>(c.tx_packets), label);
    w.Add("kubevirt_vmi_network_receive_errors_total", "counter",
          "Total network received error packets.", static_cast<double>(c.rx_errors), label);
    w.Add("kubevirt_vmi_network_transmit_errors_total", "counter",
          "Total network transmitted error packets.", static_cast<double>(c.tx_errors), label);
    w.Add("kubevirt_vmi_network_receive_packets_dropped_total", "counter",
          "The total number of rx packets dropped on vNIC interfaces.",
          static_cast<double>(c.rx_dropped), label);
    w.Add("kubevirt_vmi_network_transmit_packets_dropped_total", "counter",
          "The total number of tx packets dropped on vNIC interfaces.",
          static_cast<double>(c.tx_dropped), label);
  }
  return w.Text();
}

base::Result<DomainStats> CollectDomainStats(virConnectPtr conn, const std::string& domain) {
  virDomainPtr dom = virDomainLookupByName(conn, domain.c_str());
  if (dom == nullptr) return Status(Code::kUnavailable, "the guest is not running");
  virDomainPtr doms[] = {dom, nullptr};
  virDomainStatsRecordPtr* records = nullptr;
  const unsigned int which = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                             VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU |
                             VIR_DOMAIN_STATS_BLOCK;
  // NOWAIT: a domain busy with a job (its start, a stuck monitor) gives what
  // it can at once rather than holding the scrape.
  const int count =
      virDomainListGetStats(doms, which, &records, VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
  virDomainFree(dom);
  if (count < 0) return Status(Code::kUnavailable, LibvirtError("read the domain's statistics"));
  DomainStats stats;
  for (int i = 0; i < count; ++i) {
    for (int p = 0; p < records[i]->nparams; ++p) {
      const virTypedParameter& param = records[i]->params[p];
      switch (param.type) {
        case VIR_TYPED_PARAM_INT:
          stats.numbers[param.field] = static_cast<uint64_t>(std::max(param.value.i, 0));
          break;
        case VIR_TYPED_PARAM_UINT:
          stats.numbers[param.field] = param.value.ui;
          break;
        case VIR_TYPED_PARAM_LLONG:
          stats.numbers[param.field] = static_cast<uint64_t>(std::max<long long>(param.value.l, 0));
          break;
        case VIR_TYPED_PARAM_ULLONG:
          stats.numbers[param.field] = param.value.ul;
          break;
        case VIR_TYPED_PARAM_STRING:
          if (param.value.s != nullptr) stats.strings[param.field] = param.value.s;
          break;
        default:
          break;
      }
    }
  }
  virDomainStatsRecordListFree(records);
  if (count == 0) return Status(Code::kUnavailable, "the guest is not running");
  return stats;
}

// ------------------------------------------------------------------ server

base::Result<std::unique_ptr<MetricsServer>> MetricsServer::Listen(int port) {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool v6 = fd >= 0;
  if (!v6) fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status(Code::kInternal, std::string("socket: ") + std::strerror(errno));
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc;
  if (v6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));  // IPv4 too
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_any;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  if (rc != 0 || listen(fd, 16) != 0) {
    Status s(Code::kUnavailable,
             "listen on port " + std::to_string(port) + ": " + std::strerror(errno));
    close(fd);
    return s;
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(fd, port));
}

MetricsServer::MetricsServer(int fd, int port) : listen_fd_(fd), port_(port) {
  if (pipe2(wake_, O_CLOEXEC) != 0) wake_[0] = wake_[1] = -1;
}

MetricsServer::~MetricsServer() {
  if (thread_.joinable()) {
    if (wake_[1] >= 0) (void)!write(wake_[1], "x", 1);
    thread_.join();
  }
  for (int fd : {listen_fd_, wake_[0], wake_[1]}) {
    if (fd >= 0) close(fd);
  }
}

void MetricsServer::Serve(std::function<base::Result<std::string>()> render) {
  if (thread_.joinable() || wake_[0] < 0) return;
  render_ = std::move(render);
  thread_ = std::thread([this] { Loop(); });
}

namespace {

constexpr auto kExchangeDeadline = std::chrono::seconds(5);
constexpr size_t kMaxRequestBytes = 8192;

// Waits until `fd` is ready for `events`, the wake pipe is, or `deadline`
// passes; true only for `fd`.
bool WaitFor(int fd, short events, int wake, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fds[2] = {{fd, events, 0}, {wake, POLLIN, 0}};
    const int ready = poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || fds[1].revents != 0) return false;
    return true;
  }
}

// The answer to one request, as HTTP/1.1 text (Beast serializes it).
std::string Answer(const http::request<http::empty_body>& request,
                   const std::function<base::Result<std::string>()>& render) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(false);
  const std::string target(request.target());
  if (request.method() != http::verb::get || (target != "/metrics" && target != "/")) {
    response.result(http::status::not_found);
    response.set(http::field::content_type, "text/plain");
    response.body() = "only GET /metrics here\n";
  } else if (auto text = render(); text.ok()) {
    response.result(http::status::ok);
    response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.body() = std::move(*text);
  } else {
    response.result(http::status::service_unavailable);
    response.set(http::field::content_type, "text/plain");
    response.body() = text.status().message() + "\n";
  }
  response.prepare_payload();
  std::ostringstream out;
  out << response;
  return out.str();
}

}  // namespace

// One request per connection, read and answered within kExchangeDeadline on
// a non-blocking socket polled together with the wake pipe: a client that
// sends nothing, or never reads, delays the next scrape by at most that and
// never holds up the launcher's exit.
void MetricsServer::Loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) continue;
    const auto deadline = std::chrono::steady_clock::now() + kExchangeDeadline;
    http::request_parser<http::empty_body> parser;
    parser.eager(true);
    std::string pending;
    char chunk[2048];
    bool complete = false;
    while (!complete && pending.size() < kMaxRequestBytes &&
           WaitFor(conn, POLLIN, wake_[0], deadline)) {
      const ssize_t n = read(conn, chunk, sizeof(chunk));
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) break;
      pending.append(chunk, static_cast<size_t>(n));
      beast::error_code ec;
      const size_t used = parser.put(asio::buffer(pending), ec);
      pending.erase(0, used);
      if (ec && ec != http::error::need_more) break;
      complete = parser.is_done();
    }
    if (complete) {
      const std::string answer = Answer(parser.get(), render_);
      size_t sent = 0;
      while (sent < answer.size() && WaitFor(conn, POLLOUT, wake_[0], deadline)) {
        const ssize_t n = send(conn, answer.data() + sent, answer.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
    }
    close(conn);
  }
}

}  // namespace vireo::launcher
