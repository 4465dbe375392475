// The two waits of a VMI's status; see vmi_waits.h.
#include "controllers/reconcile/vmi_waits.h"

#include <algorithm>

#include "controllers/reconcile/vmi_conditions.h"
#include "lib/api/codec.h"
#include "lib/base/timestamp.h"

namespace vireo::controllers::internal {
namespace {

using api::VmiPhase;

// A start that goes well has its pod bound within milliseconds and ready
// a second or two later; the phases between (Scheduling, Scheduled) would
// each be overwritten a moment after they were written. The VMI's first
// status waits this long after its pod's creation (creationTimestamp has
// whole seconds, so 2 to 3 s) for the Running it leads to, and one write
// carries it; a start that takes longer shows where it is when the wait ends.
constexpr std::chrono::seconds kStartWait{3};

// The accel-probe's verdict (the SoftwareEmulation condition) comes a second
// or two before the launcher's readiness makes the VMI Running: the verdict
// waits this long after the probe ended (finishedAt has whole seconds, so 3
// to 4 s) for the Running it leads to, and one write carries both.
constexpr std::chrono::seconds kVerdictWait{4};

// How long a VMI's first status waits for its start to reach Running;
// nullopt: write it now. Only while nothing is shown yet (no phase, or
// Pending), the start is on its way (Scheduling or Scheduled) with one pod,
// not refused by the scheduler, not failing to pull an image, not being
// deleted, and the wait has not ended. A failure turns the phase, so it is
// written at once.
std::optional<std::chrono::seconds> StartWait(VmiPhase shown, VmiPhase phase,
                                              const std::vector<PodSummary>& pods, WallTime now) {
  if (shown != VmiPhase::kUnset && shown != VmiPhase::kPending) return std::nullopt;
  if (phase != VmiPhase::kScheduling && phase != VmiPhase::kScheduled) return std::nullopt;
  if (pods.size() != 1) return std::nullopt;
  const PodSummary& pod = pods.front();
  if (pod.unschedulable || pod.deleting || !pod.image_pull_reason.empty()) return std::nullopt;
  const std::optional<WallTime> created = base::ParseMicroTime(pod.creation_timestamp);
  // creationTimestamp is the apiserver's clock: one ahead of ours by more
  // than a second would hold the status back for as long, so it is written.
  if (!created.has_value() || *created > now + std::chrono::seconds(1) ||
      *created + kStartWait <= now) {
    return std::nullopt;
  }
  return std::chrono::ceil<std::chrono::seconds>(*created + kStartWait - now);
}

// How long a status that would only bring the accel-probe's verdict waits
// for the Running it leads to; nullopt: write it now. Only while the VMI is
// shown Scheduled and nothing but the SoftwareEmulation condition changed,
// and not once the launcher ended.
std::optional<std::chrono::seconds> VerdictWait(const api::VirtualMachineInstanceStatus& shown,
                                                const api::VirtualMachineInstanceStatus& status,
                                                const PodSummary* pod, WallTime now) {
  if (pod == nullptr || !pod->accel_verdict.has_value() || pod->deleting ||
      pod->launcher_exit_code.has_value()) {
    return std::nullopt;
  }
  if (shown.phase != VmiPhase::kScheduled || status.phase != VmiPhase::kScheduled) {
    return std::nullopt;
  }
  auto without_verdict = [](api::VirtualMachineInstanceStatus s) {
    std::erase_if(s.conditions,
                  [](const api::Condition& c) { return c.type == kConditionSoftwareEmulation; });
    return api::ToJson(s);
  };
  if (without_verdict(status) != without_verdict(shown)) return std::nullopt;
  // finishedAt is the node's clock: one ahead of ours by more than a second
  // would hold the verdict back for as long, so it is written at once.
  const std::optional<WallTime> ended = base::ParseMicroTime(pod->accel_verdict_at);
  if (!ended.has_value() || *ended > now + std::chrono::seconds(1) ||
      *ended + kVerdictWait <= now) {
    return std::nullopt;
  }
  return std::chrono::ceil<std::chrono::seconds>(*ended + kVerdictWait - now);
}

}  // namespace

std::optional<StatusWait> StatusWaitFor(const api::VirtualMachineInstanceStatus& shown,
                                        const api::VirtualMachineInstanceStatus& status,
                                        const std::vector<PodSummary>& pods, size_t primary,
                                        const std::vector<Event>& events, WallTime now) {
  // A status with an Event of its own is written with it, at once; the
  // verdict's Event goes with the write that shows it (the decision that
  // writes it derives it again).
  const bool only_verdict_events = std::all_of(events.begin(), events.end(), [](const Event& e) {
    return e.reason == kEventSoftwareEmulation;
  });
  if (only_verdict_events) {
    if (auto wait = StartWait(shown.phase, status.phase, pods, now)) {
      return StatusWait{*wait, !events.empty()};
    }
    const PodSummary* pod = pods.empty() ? nullptr : &pods[primary];
    if (auto wait = VerdictWait(shown, status, pod, now)) return StatusWait{*wait, true};
  }
  return std::nullopt;
}

}  // namespace vireo::controllers::internal
