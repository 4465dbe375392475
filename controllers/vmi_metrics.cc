// kubevirt_vmi_info and kubevirt_vmi_phase_count; see vmi_metrics.h.
#include "controllers/vmi_metrics.h"

#include <cctype>

#include "lib/base/prometheus.h"

namespace vireo::controllers {
namespace {

constexpr char kNone[] = "<none>";

std::string Annotation(const base::Json& vmi, const std::string& key) {
  const base::Json* annotations = base::Find(vmi, "metadata.annotations");
  if (annotations == nullptr || !annotations->is_object() || !annotations->contains(key) ||
      !annotations->at(key).is_string()) {
    return kNone;
  }
  return annotations->at(key).get<std::string>();
}

// KubeVirt's lower-case phase ("running"), "pending" before the first status.
std::string Phase(const base::Json& vmi) {
  std::string phase = base::GetString(vmi, "status.phase", "Pending");
  for (char& c : phase) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return phase;
}

std::string Labels(const std::vector<std::pair<const char*, std::string>>& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty()) out.push_back(',');
    out.append(base::PrometheusLabel(name, value));
  }
  return out;
}

std::string OrNone(const std::string& value) { return value.empty() ? kNone : value; }

}  // namespace

std::map<std::string, double> VmiInfoSeries(const std::vector<const base::Json*>& vmis) {
  std::map<std::string, double> series;
  for (const base::Json* vmi : vmis) {
    series[Labels({{"node", base::GetString(*vmi, "status.nodeName")},
                   {"namespace", base::NamespaceOf(*vmi)},
                   {"name", base::NameOf(*vmi)},
                   {"phase", Phase(*vmi)},
                   {"os", Annotation(*vmi, "vm.kubevirt.io/os")},
                   {"workload", Annotation(*vmi, "vm.kubevirt.io/workload")},
                   {"flavor", Annotation(*vmi, "vm.kubevirt.io/flavor")},
                   {"instance_type", kNone},
                   {"preference", kNone}})] = 1;
  }
  return series;
}

std::map<std::string, double> VmiPhaseCountSeries(const std::vector<const base::Json*>& vmis) {
  std::map<std::string, double> series;
  for (const base::Json* vmi : vmis) {
    series[Labels({{"node", OrNone(base::GetString(*vmi, "status.nodeName"))},
                   {"phase", Phase(*vmi)},
                   {"os", Annotation(*vmi, "vm.kubevirt.io/os")},
                   {"workload", Annotation(*vmi, "vm.kubevirt.io/workload")},
                   {"flavor", Annotation(*vmi, "vm.kubevirt.io/flavor")},
                   {"instance_type", kNone},
                   {"preference", kNone}})] += 1;
  }
  return series;
}

}  // namespace vireo::controllers
