// The steps of DecideVm one at a time (vm_steps.h), where vm_test.cc and
// vm_requests_test.cc see only their sum: which VMI a VM may call its own,
// the finalizer, the start-failure record, what a run strategy wants of a
// VMI, the gate before a new VMI, printableStatus precedence, and the
// generation read back from the VMI.
#include "controllers/reconcile/vm_steps.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/reconcile/test_util.h"
#include "lib/api/codec.h"

namespace vireo::controllers::vm_steps {
namespace {

using api::RunStrategy;
using api::StateChangeAction;
using api::VmiPhase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Now;
using testing::Vm;
using testing::VmiOf;
namespace ps = api::printable_status;
using std::chrono::seconds;

VmObservation With(const api::VirtualMachine& vm, std::optional<api::VirtualMachineInstance> vmi) {
  VmObservation obs;
  obs.vm = vm;
  obs.vmi = std::move(vmi);
  obs.now = Now();
  return obs;
}

TEST(ViewVmiTest, AVmiOwnedBySomeoneElseIsForeignAndNotTheVms) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  api::VirtualMachineInstance vmi = VmiOf(vm, VmiPhase::kRunning);
  vmi.metadata.owner_references[0].uid = "someone-else";
  VmObservation obs = With(vm, vmi);
  const VmiView view = ViewVmi(obs);
  EXPECT_EQ(view.vmi, nullptr);
  EXPECT_TRUE(view.foreign);
  EXPECT_FALSE(view.live);
  EXPECT_EQ(view.phase, VmiPhase::kUnset);
}

TEST(ViewVmiTest, PhasesSortIntoLiveAndFinal) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  for (VmiPhase phase : {VmiPhase::kPending, VmiPhase::kRunning, VmiPhase::kUnknown}) {
    VmObservation obs = With(vm, VmiOf(vm, phase));
    const VmiView view = ViewVmi(obs);
    EXPECT_TRUE(view.live) << api::VmiPhaseName(phase);
    EXPECT_FALSE(view.final) << api::VmiPhaseName(phase);
  }
  for (VmiPhase phase : {VmiPhase::kSucceeded, VmiPhase::kFailed}) {
    VmObservation obs = With(vm, VmiOf(vm, phase));
    obs.vmi->metadata.deletion_timestamp = testing::At(seconds(-1));
    const VmiView view = ViewVmi(obs);
    EXPECT_TRUE(view.final) << api::VmiPhaseName(phase);
    EXPECT_FALSE(view.live) << api::VmiPhaseName(phase);
    EXPECT_TRUE(view.deleting);
    EXPECT_EQ(view.vmi, &*obs.vmi);
  }
}

TEST(DecideFinalizersTest, AddedWhileTheVmLivesWithAValidStrategyOnly) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  vm.metadata.finalizers = {"example.org/keep"};
  EXPECT_THAT(DecideFinalizers(vm, {}, true),
              ::testing::Optional(ElementsAre("example.org/keep", kVmFinalizer)));
  EXPECT_EQ(DecideFinalizers(vm, {}, false), std::nullopt) << "an invalid VM is not adopted";
  vm.metadata.finalizers.push_back(kVmFinalizer);
  EXPECT_EQ(DecideFinalizers(vm, {}, true), std::nullopt) << "already there";
}

TEST(DecideFinalizersTest, RemovedOnDeletionOnceNoVmiOfTheVmIsLeft) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  vm.metadata.finalizers = {kVmFinalizer, "example.org/keep"};
  vm.metadata.deletion_timestamp = testing::At(seconds(-5));
  api::VirtualMachineInstance vmi = VmiOf(vm, VmiPhase::kRunning);
  VmObservation obs = With(vm, vmi);
  EXPECT_EQ(DecideFinalizers(vm, ViewVmi(obs), true), std::nullopt) << "its VMI still exists";
  obs.vmi->metadata.owner_references[0].uid = "someone-else";
  EXPECT_THAT(DecideFinalizers(vm, ViewVmi(obs), false),
              ::testing::Optional(ElementsAre("example.org/keep")))
      << "another's VMI does not hold the VM, whatever its strategy";
}

TEST(UpdateStartFailureTest, CountsAVmiThatEndedBeforeRunningOncePerUid) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  VmObservation obs = With(vm, VmiOf(vm, VmiPhase::kFailed, /*ran=*/false));
  const VmiView view = ViewVmi(obs);
  Json extra = Json::object();
  const seconds first = UpdateStartFailure(RunStrategy::kAlways, view, Now(), &extra);
  EXPECT_EQ(first, StartBackoff(1, testing::kVmiUid));
  EXPECT_EQ(base::GetInt(extra, "startFailure.consecutiveFailCount"), 1);
  EXPECT_EQ(base::GetString(extra, "startFailure.lastFailedVMIUID"), testing::kVmiUid);
  // The same VMI seen again is not a second failure.
  EXPECT_EQ(UpdateStartFailure(RunStrategy::kAlways, view, Now(), &extra), first);
  EXPECT_EQ(base::GetInt(extra, "startFailure.consecutiveFailCount"), 1);
  // Once the wait is over, a start may be made now.
  EXPECT_EQ(UpdateStartFailure(RunStrategy::kAlways, view, Now() + first, &extra), seconds(0));
}

TEST(UpdateStartFailureTest, ARunOrAStrategyThatKeepsNoRecordClearsIt) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  VmObservation failed = With(vm, VmiOf(vm, VmiPhase::kFailed, /*ran=*/false));
  Json extra = Json::object();
  UpdateStartFailure(RunStrategy::kAlways, ViewVmi(failed), Now(), &extra);
  ASSERT_TRUE(extra.contains("startFailure"));
  Json manual = extra;
  EXPECT_EQ(UpdateStartFailure(RunStrategy::kManual, ViewVmi(failed), Now(), &manual), seconds(0));
  EXPECT_FALSE(manual.contains("startFailure"));
  VmObservation ran = With(vm, VmiOf(vm, VmiPhase::kFailed, /*ran=*/true));
  EXPECT_EQ(UpdateStartFailure(RunStrategy::kAlways, ViewVmi(ran), Now(), &extra), seconds(0));
  EXPECT_FALSE(extra.contains("startFailure"));
}

TEST(DecideVmiActionTest, RerunOnFailureQueuesOneStartWithTheDeleteOfAFailedVmi) {
  api::VirtualMachine vm = Vm(RunStrategy::kRerunOnFailure);
  VmObservation obs = With(vm, VmiOf(vm, VmiPhase::kFailed, /*ran=*/true));
  api::VirtualMachineStatus status;
  VmPlan plan = DecideVmiAction(vm, ViewVmi(obs), RunStrategy::kRerunOnFailure, &status);
  EXPECT_TRUE(plan.will_run);
  EXPECT_THAT(plan.why_delete, HasSubstr("RerunOnFailure"));
  ASSERT_EQ(status.state_change_requests.size(), 1u);
  EXPECT_EQ(status.state_change_requests[0].action, StateChangeAction::kStart);
  // Decided again before the delete lands: still one Start.
  plan = DecideVmiAction(vm, ViewVmi(obs), RunStrategy::kRerunOnFailure, &status);
  EXPECT_EQ(status.state_change_requests.size(), 1u);
}

TEST(DecideVmiActionTest, AVmiBeingDeletedIsNotDeletedAgain) {
  api::VirtualMachine vm = Vm(RunStrategy::kHalted);
  VmObservation obs = With(vm, VmiOf(vm, VmiPhase::kRunning));
  obs.vmi->metadata.deletion_timestamp = testing::At(seconds(-1));
  api::VirtualMachineStatus status;
  EXPECT_EQ(DecideVmiAction(vm, ViewVmi(obs), RunStrategy::kHalted, &status).why_delete, "");
  obs.vmi->metadata.deletion_timestamp.clear();
  EXPECT_EQ(DecideVmiAction(vm, ViewVmi(obs), RunStrategy::kHalted, &status).why_delete,
            "runStrategy is Halted");
}

TEST(DecideVmiActionTest, WithoutAVmiOnceWantsOneOnlyUntilItActed) {
  api::VirtualMachine vm = Vm(RunStrategy::kOnce);
  VmObservation obs = With(vm, std::nullopt);
  api::VirtualMachineStatus status;
  EXPECT_TRUE(DecideVmiAction(vm, ViewVmi(obs), RunStrategy::kOnce, &status).wants_new);
  status.run_strategy = RunStrategy::kOnce;
  EXPECT_FALSE(DecideVmiAction(vm, ViewVmi(obs), RunStrategy::kOnce, &status).wants_new);
  status.state_change_requests.push_back(testing::Request(StateChangeAction::kStart));
  const VmPlan plan = DecideVmiAction(vm, ViewVmi(obs), RunStrategy::kOnce, &status);
  EXPECT_TRUE(plan.wants_new) << "a Start request asks again";
  EXPECT_TRUE(plan.will_run);
}

TEST(GateNewVmiTest, AMissingClaimWinsOverAnInvalidTemplateAndTheBackoff) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  VmPlan plan;
  plan.wants_new = plan.will_run = true;
  GateNewVmi(vm, {"data"}, "", seconds(40), &plan);
  EXPECT_FALSE(plan.create);
  EXPECT_EQ(plan.requeue_after, seconds(15));
  EXPECT_EQ(plan.failure, "");
  EXPECT_TRUE(plan.backoff);

  VmPlan waiting;
  waiting.wants_new = waiting.will_run = true;
  GateNewVmi(vm, {}, "", seconds(40), &waiting);
  EXPECT_FALSE(waiting.create);
  EXPECT_EQ(waiting.requeue_after, seconds(40));

  VmPlan now;
  now.wants_new = now.will_run = true;
  GateNewVmi(vm, {}, "", seconds(0), &now);
  EXPECT_TRUE(now.create);
  EXPECT_EQ(now.requeue_after, std::nullopt);
}

TEST(GateNewVmiTest, AnInvalidTemplateFailsInsteadOfCreating) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  vm.spec.template_spec.spec.domain.memory->guest = "0";
  VmPlan plan;
  plan.wants_new = plan.will_run = true;
  GateNewVmi(vm, {}, "", seconds(0), &plan);
  EXPECT_FALSE(plan.create);
  EXPECT_THAT(plan.failure, HasSubstr("must be greater than zero"));
}

TEST(PrintableStatusOfTest, TheFirstRowThatHoldsWins) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  VmObservation running = With(vm, VmiOf(vm, VmiPhase::kRunning));
  const VmiView live = ViewVmi(running);
  VmPlan plan;
  plan.will_run = true;
  EXPECT_EQ(PrintableStatusOf(true, live, plan, true, true, {}), ps::kTerminating);
  EXPECT_EQ(PrintableStatusOf(false, live, plan, true, true, {}), ps::kStopping);
  EXPECT_EQ(PrintableStatusOf(false, live, plan, false, true, {}), ps::kRunning);
  VmObservation none = With(vm, std::nullopt);
  EXPECT_EQ(PrintableStatusOf(false, ViewVmi(none), plan, false, true, {"x failed", "y"}),
            ps::kErrorPvcNotFound);
  EXPECT_EQ(PrintableStatusOf(false, ViewVmi(none), plan, false, false, {"x failed", "y"}),
            ps::kDataVolumeError);
  EXPECT_EQ(PrintableStatusOf(false, ViewVmi(none), plan, false, false, {"", "y"}),
            ps::kProvisioning);
  plan.backoff = true;
  EXPECT_EQ(PrintableStatusOf(false, ViewVmi(none), plan, false, false, {}), ps::kCrashLoopBackOff);
  plan.will_run = false;
  EXPECT_EQ(PrintableStatusOf(false, ViewVmi(none), plan, false, true, {}), ps::kStopped)
      << "a missing claim matters only to a VM that wants to run";
}

TEST(PrintableStatusOfTest, AnEndedVmiBeingReplacedIsStartingUnlessTheVmFailed) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  VmObservation ended = With(vm, VmiOf(vm, VmiPhase::kSucceeded, true));
  VmPlan plan;
  plan.will_run = true;
  EXPECT_EQ(PrintableStatusOf(false, ViewVmi(ended), plan, true, false, {}), ps::kStarting);
  plan.failure = "invalid";
  EXPECT_EQ(PrintableStatusOf(false, ViewVmi(ended), plan, true, false, {}), ps::kStopped);
}

TEST(PrintableStatusEventTest, CrashLoopBackOffQuotesWhyTheLastVmiFailed) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  VmObservation obs = With(vm, VmiOf(vm, VmiPhase::kFailed, false));
  obs.vmi->status.reason = "FailedCreate";
  api::VirtualMachineStatus status;
  UpdateStartFailure(RunStrategy::kAlways, ViewVmi(obs), Now(), &status.extra);
  status.printable_status = ps::kCrashLoopBackOff;
  std::optional<Event> e = PrintableStatusEvent(status, ViewVmi(obs), {}, {});
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->reason, "CrashLoopBackOff");
  EXPECT_THAT(e->message, HasSubstr("1 time(s) in a row (FailedCreate)"));
  status.printable_status = ps::kRunning;
  EXPECT_FALSE(PrintableStatusEvent(status, ViewVmi(obs), {}, {}).has_value());
}

TEST(DecideFailureConditionTest, TheEventOnlyWhenTheMessageIsNew) {
  api::VirtualMachineStatus before, status;
  std::vector<Event> events;
  DecideFailureCondition("bad template", false, before, Now(), &status, &events);
  ASSERT_EQ(events.size(), 1u);
  ASSERT_NE(api::FindCondition(status.conditions, kConditionFailure), nullptr);
  events.clear();
  DecideFailureCondition("bad template", false, status, Now(), &status, &events);
  EXPECT_TRUE(events.empty());
  DecideFailureCondition("", false, status, Now(), &status, &events);
  EXPECT_EQ(api::FindCondition(status.conditions, kConditionFailure), nullptr);
}

// A create the apiserver refused is told until one passes: the decision
// that tries again keeps the condition, and the one after the VMI exists
// drops it.
TEST(DecideFailureConditionTest, ARefusedCreateStaysToldWhileTheNextCreateIsTried) {
  api::VirtualMachineStatus refused, status;
  std::vector<Event> events;
  DecideFailureCondition("create VirtualMachineInstance vm: denied", false, refused, Now(),
                         &refused, &events);
  status = refused;
  DecideFailureCondition("", true, refused, Now(), &status, &events);
  const api::Condition* kept = api::FindCondition(status.conditions, kConditionFailure);
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->message, "create VirtualMachineInstance vm: denied");
  DecideFailureCondition("", false, status, Now(), &status, &events);
  EXPECT_EQ(api::FindCondition(status.conditions, kConditionFailure), nullptr);
}

TEST(ObservedGenerationTest, TheVmisAnnotationElseTheVmsOwn) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  api::VirtualMachineInstance vmi = VmiOf(vm, VmiPhase::kRunning);
  EXPECT_EQ(ObservedGeneration(vm, nullptr), 3);
  EXPECT_EQ(ObservedGeneration(vm, &vmi), 2);
  vmi.metadata.annotations[kVmGenerationAnnotation] = "2x";
  EXPECT_EQ(ObservedGeneration(vm, &vmi), 3) << "an unreadable annotation is ignored";
}

}  // namespace
}  // namespace vireo::controllers::vm_steps
