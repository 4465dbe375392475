// Which VM status writes wait for the VMI's first report
// (VmReconciler::CanDeferStatus, reconcile/vm.h "Status writes that wait").
#include "controllers/vm_reconciler.h"

#include <gtest/gtest.h>

namespace vireo::controllers {
namespace {

constexpr char kVmUid[] = "0b7d6c2e-0000-4000-8000-000000000001";

VmObservation Observation() {
  VmObservation obs;
  obs.vm.emplace();
  obs.vm->metadata.name = "vm";
  obs.vm->metadata.namespace_ = "ns";
  obs.vm->metadata.uid = kVmUid;
  obs.vm->status.printable_status = "Stopped";
  return obs;
}

// A VMI this VM controls, as its reconciler has or has not reported on it.
api::VirtualMachineInstance Vmi(api::VmiPhase phase, const std::string& owner = kVmUid) {
  api::VirtualMachineInstance vmi;
  vmi.metadata.name = "vm";
  vmi.metadata.namespace_ = "ns";
  vmi.metadata.uid = "0b7d6c2e-0000-4000-8000-000000000002";
  api::OwnerReference ref;
  ref.kind = "VirtualMachine";
  ref.name = "vm";
  ref.uid = owner;
  ref.controller = true;
  vmi.metadata.owner_references.push_back(ref);
  vmi.status.phase = phase;
  return vmi;
}

// A decision whose status changes only what follows from the VMI.
VmDecision Starting(const VmObservation& obs) {
  VmDecision d;
  d.status = obs.vm->status;
  d.status->printable_status = "Starting";
  d.status->created = true;
  return d;
}

TEST(VmStatusDeferral, AStatusWrittenWithAVmiCreateWaits) {
  VmObservation obs = Observation();
  VmDecision d = Starting(obs);
  d.create_vmi = base::Json::object();
  EXPECT_TRUE(VmReconciler::CanDeferStatus(obs, d));
}

TEST(VmStatusDeferral, BookkeepingIsWrittenBeforeTheCreate) {
  VmObservation obs = Observation();
  VmDecision d = Starting(obs);
  d.create_vmi = base::Json::object();
  // A Start request consumed.
  obs.vm->status.state_change_requests.push_back(api::StateChangeRequest{});
  EXPECT_FALSE(VmReconciler::CanDeferStatus(obs, d));
  // A start failure recorded.
  VmObservation failed = Observation();
  VmDecision recorded = Starting(failed);
  recorded.create_vmi = base::Json::object();
  recorded.status->extra = base::Json::object();
  recorded.status->extra["startFailure"]["consecutiveFailCount"] = 1;
  EXPECT_FALSE(VmReconciler::CanDeferStatus(failed, recorded));
}

TEST(VmStatusDeferral, WaitsOnlyForItsOwnUnreportedVmi) {
  VmObservation obs = Observation();
  const VmDecision d = Starting(obs);
  obs.vmi = Vmi(api::VmiPhase::kUnset);
  EXPECT_TRUE(VmReconciler::CanDeferStatus(obs, d));

  obs.vmi = Vmi(api::VmiPhase::kScheduling);  // it reported: write
  EXPECT_FALSE(VmReconciler::CanDeferStatus(obs, d));

  obs.vmi = Vmi(api::VmiPhase::kUnset, "someone-else");  // a foreign VMI reports to nobody
  EXPECT_FALSE(VmReconciler::CanDeferStatus(obs, d));

  obs.vmi = Vmi(api::VmiPhase::kUnset);
  obs.vmi->metadata.deletion_timestamp = "2026-12-06T00:00:00Z";
  EXPECT_FALSE(VmReconciler::CanDeferStatus(obs, d));

  obs.vmi.reset();  // no VMI and none made: nothing will report
  EXPECT_FALSE(VmReconciler::CanDeferStatus(obs, d));
}

TEST(VmStatusDeferral, DeletionsAndNoStatusNeverWait) {
  VmObservation obs = Observation();
  obs.vmi = Vmi(api::VmiPhase::kUnset);
  VmDecision d = Starting(obs);
  d.delete_vmi = Deletion{"vm", "0b7d6c2e-0000-4000-8000-000000000002"};
  EXPECT_FALSE(VmReconciler::CanDeferStatus(obs, d));
  VmDecision none;
  none.create_vmi = base::Json::object();
  EXPECT_FALSE(VmReconciler::CanDeferStatus(obs, none));
}

}  // namespace
}  // namespace vireo::controllers
