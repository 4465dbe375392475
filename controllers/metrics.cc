// Prometheus text rendering of the controller's metrics; see metrics.h.
#include "controllers/metrics.h"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "lib/base/prometheus.h"

namespace vireo::controllers {
namespace {

// The shortest text that reads back as the same double ("0.0025", "20").
std::string Number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

void Header(std::ostringstream& out, const std::string& name, const std::string& help,
            const char* type) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

}  // namespace

Metrics::Metrics() {
  AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.", "", [] {
    return std::map<std::string, double>{{"", ProcessResidentBytes()}};
  });
  AddGauge("process_cpu_seconds_total", "User and system CPU time spent in seconds.", "", [] {
    return std::map<std::string, double>{{"", ProcessCpuSeconds()}};
  });
}

void Metrics::ObserveReconcile(const std::string& controller, double seconds, bool failed) {
  std::lock_guard l(mu_);
  Series& s = reconciles_[controller];
  if (s.buckets.empty()) s.buckets.assign(kDurationBuckets.size(), 0);
  ++s.total;
  if (failed) ++s.errors;
  s.sum += seconds;
  for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
    if (seconds <= kDurationBuckets[i]) {
      ++s.buckets[i];
      break;
    }
  }
}

void Metrics::AddGauge(std::string name, std::string help, std::string label,
                       std::function<std::map<std::string, double>()> read) {
  std::lock_guard l(mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(label), std::move(read)});
}

std::string Metrics::Render() const {
  std::ostringstream out;
  std::map<std::string, Series> reconciles;
  std::vector<Gauge> gauges;
  {
    std::lock_guard l(mu_);
    reconciles = reconciles_;
    gauges = gauges_;
  }
  Header(out, "vireo_reconcile_total", "Reconciles run, by controller.", "counter");
  for (const auto& [c, s] : reconciles) {
    out << "vireo_reconcile_total{controller=\"" << base::PrometheusLabelValue(c) << "\"} "
        << s.total << "\n";
  }
  Header(out, "vireo_reconcile_errors_total",
         "Reconciles that failed and were requeued with backoff (conflicts included), by "
         "controller.",
         "counter");
  for (const auto& [c, s] : reconciles) {
    out << "vireo_reconcile_errors_total{controller=\"" << base::PrometheusLabelValue(c) << "\"} "
        << s.errors << "\n";
  }
  Header(out, "vireo_reconcile_duration_seconds", "Time one reconcile took, by controller.",
         "histogram");
  for (const auto& [c, s] : reconciles) {
    std::string label = "controller=\"" + base::PrometheusLabelValue(c) + "\"";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
      cumulative += s.buckets[i];
      out << "vireo_reconcile_duration_seconds_bucket{" << label << ",le=\""
          << Number(kDurationBuckets[i]) << "\"} " << cumulative << "\n";
    }
    out << "vireo_reconcile_duration_seconds_bucket{" << label << ",le=\"+Inf\"} " << s.total
        << "\n";
    out << "vireo_reconcile_duration_seconds_sum{" << label << "} " << Number(s.sum) << "\n";
    out << "vireo_reconcile_duration_seconds_count{" << label << "} " << s.total << "\n";
  }
  Header(out, "vireo_leader", "1 while this replica holds the Lease (or runs without election).",
         "gauge");
  out << "vireo_leader " << (leader_.load() ? 1 : 0) << "\n";
  for (const Gauge& g : gauges) {
    bool counter = g.name.size() > 6 && g.name.compare(g.name.size() - 6, 6, "_total") == 0;
    Header(out, g.name, g.help, counter ? "counter" : "gauge");
    for (const auto& [value, number] : g.read()) {
      out << g.name;
      if (g.label == kLabelSets) {
        out << "{" << value << "}";
      } else if (!g.label.empty()) {
        out << "{" << g.label << "=\"" << base::PrometheusLabelValue(value) << "\"}";
      }
      out << " " << Number(number) << "\n";
    }
  }
  return out.str();
}

double ProcessResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double ProcessCpuSeconds() {
  // Fields 14 and 15 of /proc/self/stat (utime, stime) in clock ticks; the
  // command name (field 2) may hold spaces, so count from its closing ')'.
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(text.substr(paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace vireo::controllers
