// KubeVirt's kubevirt_vmi_phase_count (VMIs per node, phase and the VM's
// os, workload and flavor annotations, KubeVirt's labels), kept as counts
// that the VMI informer's handlers update, so a scrape reads no cached
// object: the informer holds its objects packed, and unpacking 10,000 of
// them at every scrape cost the controller hundreds of MiB.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "lib/base/json.h"

namespace vireo::controllers {

// The label set (name="value",... in a stable order) a VMI counts under.
std::string VmiPhaseCountLabels(const base::Json& vmi);

// Thread-safe: the informer's thread observes, a scrape reads.
class VmiPhaseCounter {
 public:
  // A VMI added or updated (by "namespace/name").
  void Observe(const base::Json& vmi);
  // A VMI deleted.
  void Forget(const base::Json& vmi);
  // Label set -> VMIs, for Metrics::AddGauge with label kLabelSets.
  std::map<std::string, double> Series() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> counts_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, const std::string*>
      counted_;  // GUARDED_BY(mu_): key -> its label set
};

}  // namespace vireo::controllers
