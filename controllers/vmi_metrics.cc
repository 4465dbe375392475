// kubevirt_vmi_phase_count; see vmi_metrics.h.
#include "controllers/vmi_metrics.h"

#include <cctype>
#include <utility>
#include <vector>

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

std::string Key(const base::Json& vmi) { return base::NamespaceOf(vmi) + "/" + base::NameOf(vmi); }

}  // namespace

std::string VmiPhaseCountLabels(const base::Json& vmi) {
  const std::string node = base::GetString(vmi, "status.nodeName");
  const std::vector<std::pair<const char*, std::string>> labels = {
      {"node", node.empty() ? kNone : node},
      {"phase", Phase(vmi)},
      {"os", Annotation(vmi, "vm.kubevirt.io/os")},
      {"workload", Annotation(vmi, "vm.kubevirt.io/workload")},
      {"flavor", Annotation(vmi, "vm.kubevirt.io/flavor")},
      {"instance_type", kNone},
      {"preference", kNone}};
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty()) out.push_back(',');
    out.append(base::PrometheusLabel(name, value));
  }
  return out;
}

void VmiPhaseCounter::Observe(const base::Json& vmi) {
  std::string labels = VmiPhaseCountLabels(vmi);
  const std::string key = Key(vmi);
  std::lock_guard lock(mu_);
  auto it = counted_.find(key);
  if (it != counted_.end()) {
    if (*it->second == labels) return;
    auto old = counts_.find(*it->second);
    if (--old->second == 0) counts_.erase(old);  // no other VMI points at it
  }
  auto [count, added] = counts_.try_emplace(std::move(labels), 0);
  ++count->second;
  counted_[key] = &count->first;
}

void VmiPhaseCounter::Forget(const base::Json& vmi) {
  std::lock_guard lock(mu_);
  auto it = counted_.find(Key(vmi));
  if (it == counted_.end()) return;
  auto count = counts_.find(*it->second);
  if (--count->second == 0) counts_.erase(count);
  counted_.erase(it);
}

std::map<std::string, double> VmiPhaseCounter::Series() const {
  std::lock_guard lock(mu_);
  std::map<std::string, double> series;
  for (const auto& [labels, count] : counts_) series[labels] = static_cast<double>(count);
  return series;
}

}  // namespace vireo::controllers
