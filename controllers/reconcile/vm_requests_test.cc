// DecideVm: stateChangeRequests (start, stop, restart), the start back-off
// behind CrashLoopBackOff, and missing PVCs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/reconcile/test_util.h"
#include "controllers/reconcile/vm.h"
#include "lib/api/codec.h"

namespace vireo::controllers {
namespace {

using api::RunStrategy;
using api::StateChangeAction;
using api::VmiPhase;
using std::chrono::seconds;
using testing::At;
using testing::kVmiUid;
using testing::Now;
using testing::Request;
using testing::SetFailed;
using testing::Vm;
using testing::VmiOf;

VmObservation Manual() {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kManual);
  obs.vm->status.run_strategy = RunStrategy::kManual;
  obs.now = Now();
  return obs;
}

std::vector<StateChangeAction> Actions(const api::VirtualMachineStatus& status) {
  std::vector<StateChangeAction> out;
  for (const auto& r : status.state_change_requests) out.push_back(r.action);
  return out;
}

TEST(VmRequests, ManualStartMakesVmiAndIsDoneOnceItExists) {
  VmObservation obs = Manual();
  obs.vm->status.state_change_requests = {Request(StateChangeAction::kStart)};
  VmDecision d = DecideVm(obs);
  ASSERT_TRUE(d.create_vmi.has_value());
  EXPECT_EQ(d.status->printable_status, "Starting");
  EXPECT_EQ(d.status->state_change_requests.size(), 1u) << "kept until the VMI is seen";

  obs.vmi = VmiOf(*obs.vm, VmiPhase::kPending);
  d = DecideVm(obs);
  EXPECT_FALSE(d.create_vmi.has_value());
  EXPECT_TRUE(d.status->state_change_requests.empty());
}

TEST(VmRequests, ManualStopDeletesThatVmiAndIsDoneWhenItIsGone) {
  VmObservation obs = Manual();
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning);
  obs.vm->status.state_change_requests = {Request(StateChangeAction::kStop, kVmiUid)};
  VmDecision d = DecideVm(obs);
  ASSERT_TRUE(d.delete_vmi.has_value());
  EXPECT_EQ(d.delete_vmi->uid, kVmiUid);
  EXPECT_EQ(d.status->printable_status, "Stopping");
  EXPECT_EQ(d.status->state_change_requests.size(), 1u);

  obs.vmi.reset();
  d = DecideVm(obs);
  EXPECT_FALSE(d.create_vmi.has_value());
  EXPECT_TRUE(d.status->state_change_requests.empty());
  EXPECT_EQ(d.status->printable_status, "Stopped");
}

TEST(VmRequests, StopForAnotherVmiOrWithoutUidIsDropped) {
  VmObservation obs = Manual();
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning);
  obs.vm->status.state_change_requests = {Request(StateChangeAction::kStop, "old-uid"),
                                          Request(StateChangeAction::kStop)};
  const VmDecision d = DecideVm(obs);
  EXPECT_FALSE(d.delete_vmi.has_value());
  EXPECT_TRUE(d.status->state_change_requests.empty());
  EXPECT_EQ(d.status->printable_status, "Running");
}

// Restart = [Stop{uid}, Start], for every strategy that runs VMs.
TEST(VmRequests, RestartReplacesTheVmiStepByStep) {
  for (RunStrategy strategy : {RunStrategy::kAlways, RunStrategy::kManual,
                               RunStrategy::kRerunOnFailure, RunStrategy::kOnce}) {
    SCOPED_TRACE(api::RunStrategyName(strategy));
    VmObservation obs;
    obs.vm = Vm(strategy);
    obs.vm->status.run_strategy = strategy;
    obs.now = Now();
    obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning);
    obs.vm->status.state_change_requests = {Request(StateChangeAction::kStop, kVmiUid),
                                            Request(StateChangeAction::kStart)};
    // 1. the running VMI is deleted
    VmDecision d = DecideVm(obs);
    ASSERT_TRUE(d.delete_vmi.has_value());
    EXPECT_EQ(d.status->state_change_requests.size(), 2u);
    // 2. it drains: nothing more to do
    obs.vm->status = *d.status;
    obs.vmi->metadata.deletion_timestamp = At(seconds(-1));
    d = DecideVm(obs);
    EXPECT_EQ(d.delete_vmi.has_value() || d.create_vmi.has_value(), false);
    // 3. gone: the Stop is done, the Start makes a new VMI
    if (d.status) obs.vm->status = *d.status;
    obs.vmi.reset();
    d = DecideVm(obs);
    ASSERT_TRUE(d.create_vmi.has_value());
    EXPECT_EQ(Actions(*d.status), std::vector<StateChangeAction>{StateChangeAction::kStart});
    // 4. the new VMI (new uid) exists: the Start is done
    obs.vm->status = *d.status;
    obs.vmi = VmiOf(*obs.vm, VmiPhase::kPending, false, "new-uid");
    d = DecideVm(obs);
    EXPECT_FALSE(d.create_vmi.has_value());
    EXPECT_FALSE(d.delete_vmi.has_value());
    EXPECT_TRUE(d.status->state_change_requests.empty());
  }
}

TEST(VmRequests, StartOnHaltedIsDroppedWithAnEvent) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kHalted);
  obs.vm->status.state_change_requests = {Request(StateChangeAction::kStart)};
  obs.now = Now();
  const VmDecision d = DecideVm(obs);
  EXPECT_FALSE(d.create_vmi.has_value());
  EXPECT_TRUE(d.status->state_change_requests.empty());
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "IgnoredStartRequest");
  EXPECT_EQ(d.events[0].type, kube::EventType::kWarning);
}

TEST(VmRequests, RerunOnFailureQueuesAStartForTheReplacement) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kRerunOnFailure);
  obs.vm->status.run_strategy = RunStrategy::kRerunOnFailure;
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kFailed, /*ran=*/true);
  obs.now = Now();
  VmDecision d = DecideVm(obs);
  ASSERT_TRUE(d.delete_vmi.has_value());
  EXPECT_EQ(Actions(*d.status), std::vector<StateChangeAction>{StateChangeAction::kStart});
  obs.vm->status = *d.status;
  obs.vmi.reset();
  d = DecideVm(obs);
  EXPECT_TRUE(d.create_vmi.has_value()) << "the queued Start brings the new VMI";
}

// A VMI that ends before ever running is a start failure: counted once per
// uid, delaying the next VMI, shown as CrashLoopBackOff.
TEST(VmBackoff, FailedStartsBackOffAndAreCountedOncePerVmi) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vm->status.run_strategy = RunStrategy::kAlways;
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kFailed, /*ran=*/false);
  obs.now = Now();

  VmDecision d = DecideVm(obs);
  ASSERT_TRUE(d.delete_vmi.has_value());
  EXPECT_EQ(d.status->printable_status, "CrashLoopBackOff");
  const Json& failure = d.status->extra.at("startFailure");
  EXPECT_EQ(base::GetInt(failure, "consecutiveFailCount"), 1);
  EXPECT_EQ(base::GetString(failure, "lastFailedVMIUID"), kVmiUid);
  const seconds delay = StartBackoff(1, kVmiUid);
  EXPECT_EQ(base::GetString(failure, "retryAfterTimestamp"), At(delay));
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[1].reason, "CrashLoopBackOff");

  // Same VMI seen again: not counted twice.
  obs.vm->status = *d.status;
  d = DecideVm(obs);
  EXPECT_FALSE(d.status.has_value());

  // Gone; back-off still running: no VMI yet, look again when it ends.
  obs.vmi.reset();
  obs.now = Now() + seconds(3);
  d = DecideVm(obs);
  EXPECT_FALSE(d.create_vmi.has_value());
  EXPECT_EQ(d.requeue_after, delay - seconds(3));
  ASSERT_TRUE(d.status.has_value()) << "created is now false";
  EXPECT_EQ(d.status->printable_status, "CrashLoopBackOff");
  EXPECT_TRUE(d.events.empty()) << "no new event while the state holds";
  obs.vm->status = *d.status;

  // Back-off over: start again.
  obs.now = Now() + delay;
  d = DecideVm(obs);
  ASSERT_TRUE(d.create_vmi.has_value());
  EXPECT_EQ(d.status->printable_status, "Starting");

  // The second VMI fails too: the count goes on, the delay grows.
  obs.vm->status = *d.status;
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kFailed, false, "second-uid");
  d = DecideVm(obs);
  EXPECT_EQ(base::GetInt(d.status->extra.at("startFailure"), "consecutiveFailCount"), 2);

  // A VMI that reaches Running clears the record.
  obs.vm->status = *d.status;
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning, false, "third-uid");
  d = DecideVm(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_FALSE(d.status->extra.is_object() && d.status->extra.contains("startFailure"));
  EXPECT_EQ(d.status->printable_status, "Running");
}

// A succeeded VMI is a VM that stopped, even one that never got to Running.
TEST(VmBackoff, RerunOnFailureSucceededBeforeRunningIsStopped) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kRerunOnFailure);
  obs.vm->status.run_strategy = RunStrategy::kRerunOnFailure;
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kSucceeded, /*ran=*/false);
  obs.now = Now();
  const VmDecision d = DecideVm(obs);
  EXPECT_FALSE(d.delete_vmi.has_value());
  EXPECT_FALSE(d.requeue_after.has_value());
  EXPECT_EQ(d.status->printable_status, "Stopped");
}

TEST(VmRequests, StopOfAnEndedVmiLeavesTheVmStopped) {
  for (RunStrategy strategy : {RunStrategy::kManual, RunStrategy::kRerunOnFailure}) {
    SCOPED_TRACE(api::RunStrategyName(strategy));
    VmObservation obs;
    obs.vm = Vm(strategy);
    obs.vm->status.run_strategy = strategy;
    obs.vmi = VmiOf(*obs.vm, VmiPhase::kSucceeded, /*ran=*/true);
    obs.vm->status.state_change_requests = {Request(StateChangeAction::kStop, kVmiUid)};
    obs.now = Now();
    VmDecision d = DecideVm(obs);
    ASSERT_TRUE(d.delete_vmi.has_value());
    EXPECT_EQ(d.status->printable_status, "Stopped");
    obs.vm->status = *d.status;
    obs.vmi.reset();
    d = DecideVm(obs);
    EXPECT_FALSE(d.create_vmi.has_value());
    EXPECT_EQ(d.status->printable_status, "Stopped");
  }
}

TEST(VmBackoff, ManualNeitherCountsNorWaits) {
  VmObservation obs = Manual();
  obs.vm->status.extra = testing::ParseOrDie(
      R"({"startFailure": {"consecutiveFailCount": 4, "lastFailedVMIUID": "x",
          "retryAfterTimestamp": ")" +
      At(seconds(100)) + R"("}})");
  obs.vm->status.state_change_requests = {Request(StateChangeAction::kStart)};
  const VmDecision d = DecideVm(obs);
  EXPECT_TRUE(d.create_vmi.has_value());
  EXPECT_FALSE(d.status->extra.contains("startFailure"));
}

TEST(VmBackoff, DelayDoublesWithSpreadAndIsCapped) {
  for (const char* uid : {"a", "b", "7c0f5a52-0000-4000-8000-00000000b001"}) {
    SCOPED_TRACE(uid);
    int64_t base = 10;
    for (int64_t n = 1; n <= 12; ++n) {
      const int64_t delay = StartBackoff(n, uid).count();
      const int64_t expected_base = std::min<int64_t>(base, 300);
      EXPECT_GE(delay, expected_base);
      EXPECT_LE(delay, std::min<int64_t>(expected_base + expected_base / 4, 300));
      EXPECT_EQ(StartBackoff(n, uid), StartBackoff(n, uid)) << "pure";
      base *= 2;
    }
  }
  EXPECT_EQ(StartBackoff(40, "a").count(), 300);
}

TEST(VmClaims, MissingClaimHoldsTheStartAndSaysWhich) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  testing::AddClaim(&obs.vm->spec.template_spec.spec, "data", "data-pvc");
  obs.now = Now();
  VmDecision d = DecideVm(obs);
  EXPECT_FALSE(d.create_vmi.has_value());
  EXPECT_EQ(d.status->printable_status, "ErrorPvcNotFound");
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].type, kube::EventType::kWarning);
  EXPECT_THAT(d.events[0].message, ::testing::HasSubstr("data-pvc"));
  EXPECT_TRUE(d.requeue_after.has_value());

  // Unchanged: no new event, no new status.
  obs.vm->status = *d.status;
  d = DecideVm(obs);
  EXPECT_TRUE(d.events.empty());
  EXPECT_FALSE(d.status.has_value());

  obs.claims["data-pvc"] = VolumeMode::kFilesystem;
  d = DecideVm(obs);
  EXPECT_TRUE(d.create_vmi.has_value());
}

TEST(VmDataVolumes, TemplatesBecomeDataVolumesTheVmOwnsAndTheVmShowsProvisioning) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kHalted);
  obs.vm->spec.data_volume_templates = testing::ParseOrDie(R"([
    {"metadata": {"name": "debian-root", "labels": {"os": "debian"}},
     "spec": {"source": {"http": {"url": "http://images/debian.qcow2"}},
              "storage": {"resources": {"requests": {"storage": "3Gi"}}}}}])");
  api::Volume root;
  root.name = "root";
  root.data_volume.emplace().name = "debian-root";
  obs.vm->spec.template_spec.spec.volumes = {root};
  obs.now = Now();
  // Made even while stopped, as KubeVirt does: the import starts at once.
  VmDecision d = DecideVm(obs);
  ASSERT_EQ(d.create_data_volumes.size(), 1u);
  const Json& dv = d.create_data_volumes[0];
  EXPECT_EQ(base::GetString(dv, "apiVersion"), "cdi.kubevirt.io/v1beta1");
  EXPECT_EQ(base::GetString(dv, "metadata.namespace"), "default");
  EXPECT_EQ(base::GetString(dv, "metadata.labels.os"), "debian");
  EXPECT_EQ(dv.at("metadata").at("ownerReferences").at(0).at("uid").get<std::string>(),
            testing::kVmUid);
  EXPECT_EQ(base::GetString(dv, "spec.source.http.url"), "http://images/debian.qcow2");
  EXPECT_EQ(d.status->printable_status, "Stopped");

  obs.vm = *obs.vm;
  obs.vm->spec.run_strategy = RunStrategy::kAlways;
  obs.data_volumes["debian-root"] = {"ImportInProgress", "10.00%", "", true};
  d = DecideVm(obs);
  EXPECT_TRUE(d.create_data_volumes.empty());
  EXPECT_TRUE(d.create_vmi.has_value());  // the VMI waits for it (DataVolumesReady)
  EXPECT_EQ(d.status->printable_status, "Provisioning");

  obs.data_volumes["debian-root"] = {"Failed", "N/A", "HTTP 404 Not Found", true};
  d = DecideVm(obs);
  EXPECT_EQ(d.status->printable_status, "DataVolumeError");
  bool warned = false;
  for (const Event& e : d.events) warned |= e.reason == "DataVolumeError";
  EXPECT_TRUE(warned);
}

TEST(VmClaims, StoppedVmDoesNotComplainAboutClaims) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kHalted);
  testing::AddClaim(&obs.vm->spec.template_spec.spec, "data", "data-pvc");
  obs.now = Now();
  const VmDecision d = DecideVm(obs);
  EXPECT_EQ(d.status->printable_status, "Stopped");
}

TEST(VmValidation, InvalidTemplateIsReportedNotCreated) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vm->spec.template_spec.spec.domain.memory.reset();  // no memory at all
  obs.now = Now();
  const VmDecision d = DecideVm(obs);
  EXPECT_FALSE(d.create_vmi.has_value());
  const api::Condition* failure = api::FindCondition(d.status->conditions, "Failure");
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->reason, "FailedCreate");
  EXPECT_EQ(d.status->printable_status, "Stopped");
}

// A VMI whose launcher pod was refused for good never ran: runStrategy
// Always replaces it only after the start back-off, never in a hot loop,
// and the VM's Event says why.
TEST(VmBackoff, AVmiFailedByARefusedPodBacksOffAndSaysWhy) {
  api::VirtualMachine vm = Vm(api::RunStrategy::kAlways);
  api::VirtualMachineInstance vmi = VmiOf(vm, api::VmiPhase::kFailed);
  SetFailed(&vmi.status, "FailedCreate", "launcher pod p was refused: violates PodSecurity");
  VmObservation obs;
  obs.vm = vm;
  obs.vmi = vmi;
  obs.now = Now();
  VmDecision d = DecideVm(obs);
  ASSERT_TRUE(d.delete_vmi.has_value());
  EXPECT_FALSE(d.create_vmi.has_value());
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->printable_status, "CrashLoopBackOff");
  EXPECT_EQ(base::GetInt(d.status->extra, "startFailure.consecutiveFailCount"),
            std::optional<int64_t>(1));
  bool said = false;
  for (const Event& e : d.events) {
    if (e.reason == "CrashLoopBackOff") {
      said = true;
      EXPECT_THAT(e.message, ::testing::HasSubstr("FailedCreate: launcher pod p was refused"));
    }
  }
  EXPECT_TRUE(said);
  // The VMI gone, no new one before the back-off ends.
  vm.status = *d.status;
  obs.vm = vm;
  obs.vmi.reset();
  obs.now = Now() + std::chrono::seconds(5);
  VmDecision waiting = DecideVm(obs);
  EXPECT_FALSE(waiting.create_vmi.has_value());
  ASSERT_TRUE(waiting.requeue_after.has_value());
  obs.now = Now() + std::chrono::seconds(30);
  EXPECT_TRUE(DecideVm(obs).create_vmi.has_value());
}

}  // namespace
}  // namespace vireo::controllers
