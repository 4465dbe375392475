// Status bookkeeping shared by the decisions: conditions that keep their
// lastTransitionTime while unchanged, and timestamps.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controllers/reconcile/common.h"
#include "lib/api/types.h"

namespace vireo::controllers::internal {

inline constexpr char kTrue[] = "True";
inline constexpr char kFalse[] = "False";
inline constexpr char kUnknown[] = "Unknown";

// Sets (or adds) condition `type`. lastTransitionTime becomes `now` only when
// the status changes, so re-deciding an unchanged state writes nothing.
void SetCondition(std::vector<api::Condition>* conditions, std::string_view type,
                  std::string_view status, std::string_view reason, std::string_view message,
                  WallTime now);
void RemoveCondition(std::vector<api::Condition>* conditions, std::string_view type);
bool HasCondition(const std::vector<api::Condition>& conditions, std::string_view type,
                  std::string_view status, std::string_view reason = "");

// metav1.Time text of `now`.
std::string Timestamp(WallTime now);

}  // namespace vireo::controllers::internal
