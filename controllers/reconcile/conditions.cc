// Condition bookkeeping shared by the VM and VMI decisions.
#include "controllers/reconcile/conditions.h"

#include <algorithm>

#include "lib/base/timestamp.h"

namespace vireo::controllers::internal {

void SetCondition(std::vector<api::Condition>* conditions, std::string_view type,
                  std::string_view status, std::string_view reason, std::string_view message,
                  WallTime now) {
  auto it = std::find_if(conditions->begin(), conditions->end(),
                         [&](const api::Condition& c) { return c.type == type; });
  if (it == conditions->end()) {
    api::Condition condition;
    condition.type = type;
    conditions->push_back(std::move(condition));
    it = conditions->end() - 1;
  }
  if (it->status != status || it->last_transition_time.empty()) {
    it->last_transition_time = Timestamp(now);
  }
  it->status = status;
  it->reason = reason;
  it->message = message;
}

void RemoveCondition(std::vector<api::Condition>* conditions, std::string_view type) {
  std::erase_if(*conditions, [&](const api::Condition& c) { return c.type == type; });
}

bool HasCondition(const std::vector<api::Condition>& conditions, std::string_view type,
                  std::string_view status, std::string_view reason) {
  const api::Condition* c = api::FindCondition(conditions, type);
  return c != nullptr && c->status == status && (reason.empty() || c->reason == reason);
}

std::string Timestamp(WallTime now) { return base::FormatTime(now); }

}  // namespace vireo::controllers::internal
