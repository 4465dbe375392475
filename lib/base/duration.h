// One parser for the durations people write on command lines: Go's and
// kubectl's spelling ("90s", "5m", "1h30m", "500ms"), and a bare whole number
// in the unit a flag documents.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "lib/base/status.h"

namespace vireo::base {

// One or more <whole number><unit> parts, units h, m, s and ms, summed:
// "1h30m" is 90 minutes. `bare_unit`: what a number without a unit means
// ("30" with seconds: 30 s); nullopt refuses it. Negative, fractional and
// empty values, unknown units and totals beyond 2^40 ms (~34 years) are
// kInvalid with a message quoting the text; the caller prefixes the flag.
Result<std::chrono::milliseconds> ParseDuration(
    std::string_view text, std::optional<std::chrono::milliseconds> bare_unit = std::nullopt);

}  // namespace vireo::base
