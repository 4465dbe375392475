// The Prometheus text format's small rules, shared by the two programs that
// serve metrics (vireo-controller's /metrics, the launcher's guest metrics).
#pragma once

#include <string>
#include <string_view>

namespace vireo::base {

// A label value as the text format wants it between quotes: backslash,
// double quote and newline escaped.
std::string PrometheusLabelValue(std::string_view value);

// name="value", the value escaped.
std::string PrometheusLabel(std::string_view name, std::string_view value);

}  // namespace vireo::base
