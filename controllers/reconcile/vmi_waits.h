// When the VMI status a decision would write waits for the next one, so
// that one write carries both (vmi.cc): a first status (Scheduling,
// Scheduled) about to become Running, an accel-probe verdict about to come
// with Running.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "controllers/reconcile/common.h"
#include "controllers/reconcile/pod_summary.h"
#include "lib/api/types.h"

namespace vireo::controllers::internal {

struct StatusWait {
  std::chrono::seconds after{0};  // decide again then
  bool events_wait = false;       // the decision's Events go with the later write
};

// How long `status`, changed from `shown`, waits before it is written;
// nullopt: write it now. `pods` with `primary` as in DecideVmi; `events`
// are the decision's. The status of a VMI being deleted is not asked about:
// it is written at once.
std::optional<StatusWait> StatusWaitFor(const api::VirtualMachineInstanceStatus& shown,
                                        const api::VirtualMachineInstanceStatus& status,
                                        const std::vector<PodSummary>& pods, size_t primary,
                                        const std::vector<Event>& events, WallTime now);

}  // namespace vireo::controllers::internal
