// The VMIs as KubeVirt's virt-controller counts them for Prometheus, read
// from the informer cache at scrape time: kubevirt_vmi_info (one series per
// VMI) and kubevirt_vmi_phase_count (VMIs per node, phase and the VM's os,
// workload and flavor annotations). Pure: the caller hands the VMIs.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "lib/base/json.h"

namespace vireo::controllers {

// Label sets (name="value",... in a stable order) -> value, for
// Metrics::AddGauge with label kLabelSets.
std::map<std::string, double> VmiInfoSeries(const std::vector<const base::Json*>& vmis);
std::map<std::string, double> VmiPhaseCountSeries(const std::vector<const base::Json*>& vmis);

}  // namespace vireo::controllers
