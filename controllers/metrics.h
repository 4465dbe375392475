// The controller's Prometheus metrics: reconcile counts, errors and
// durations per controller, plus gauges read when scraped (queue depth,
// cached objects, leadership, process memory and CPU), rendered in the
// Prometheus text format (version 0.0.4).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace vireo::controllers {

// Upper bounds (seconds) of the reconcile duration histogram's buckets.
inline const std::vector<double> kDurationBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1,     2.5,  5,     10};

// AddGauge's label for series whose keys are whole label sets.
inline constexpr char kLabelSets[] = "*";

// Thread-safe. Gauges are registered before the first Render.
class Metrics {
 public:
  Metrics();

  // One reconcile of `controller` ("vm", "vmi") that took `seconds`.
  void ObserveReconcile(const std::string& controller, double seconds, bool failed);
  void SetLeader(bool leader) { leader_.store(leader); }
  bool leader() const { return leader_.load(); }

  // A gauge whose value is read at scrape time, one series per label value:
  // name{label="value"}. An empty label gives a series without labels;
  // kLabelSets: each key is a whole label set (a="x",b="y"), written as is.
  void AddGauge(std::string name, std::string help, std::string label,
                std::function<std::map<std::string, double>()> read);

  std::string Render() const;

 private:
  struct Series {
    uint64_t total = 0;
    uint64_t errors = 0;
    std::vector<uint64_t> buckets;  // cumulative counts are computed on render
    double sum = 0;
  };
  struct Gauge {
    std::string name, help, label;
    std::function<std::map<std::string, double>()> read;
  };

  mutable std::mutex mu_;
  std::map<std::string, Series> reconciles_;  // GUARDED_BY(mu_)
  std::vector<Gauge> gauges_;                 // GUARDED_BY(mu_)
  std::atomic<bool> leader_{false};
};

// Resident memory and CPU time of this process, from /proc/self.
double ProcessResidentBytes();
double ProcessCpuSeconds();

}  // namespace vireo::controllers
