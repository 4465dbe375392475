// Kubernetes timestamps: metav1.Time and metav1.MicroTime text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lib/base/clock.h"

namespace vireo::base {

// metav1.Time: RFC 3339 in UTC, whole seconds: "2026-11-23T19:33:00Z".
std::string FormatTime(Clock::WallTime time);
// metav1.MicroTime: RFC 3339 in UTC with microseconds,
// "2026-11-23T19:33:00.123456Z".
std::string FormatMicroTime(Clock::WallTime time);
// Either form; any fraction and offset are accepted. nullopt when malformed.
std::optional<Clock::WallTime> ParseMicroTime(std::string_view text);

}  // namespace vireo::base
