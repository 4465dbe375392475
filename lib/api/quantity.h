// Kubernetes resource.Quantity ("128Mi", "1.5G", "500m", "1e3") parsed
// exactly into the integers Vireo computes with.
#pragma once

#include <cstdint>
#include <string_view>

#include "lib/base/status.h"

namespace vireo::api {

// The quantity as an integer, rounded up away from zero like the apiserver's
// Quantity.Value(): "1Gi" -> 1073741824, "1.5k" -> 1500, "500m" -> 1.
// kInvalid for text that is not a quantity, or a value outside int64.
base::Result<int64_t> ParseQuantityValue(std::string_view text);

// The same, named for memory and disk sizes.
inline base::Result<int64_t> ParseQuantityBytes(std::string_view text) {
  return ParseQuantityValue(text);
}

// Thousandths of the quantity, rounded up like Quantity.MilliValue(): the
// unit of CPU ("500m" -> 500, "2" -> 2000).
base::Result<int64_t> ParseQuantityMilli(std::string_view text);

}  // namespace vireo::api
