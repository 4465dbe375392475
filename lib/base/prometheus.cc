// The Prometheus text format's small rules; see prometheus.h.
#include "lib/base/prometheus.h"

namespace vireo::base {

std::string PrometheusLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    if (c == '\\' || c == '"') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string PrometheusLabel(std::string_view name, std::string_view value) {
  std::string out(name);
  out.append("=\"").append(PrometheusLabelValue(value)).push_back('"');
  return out;
}

}  // namespace vireo::base
