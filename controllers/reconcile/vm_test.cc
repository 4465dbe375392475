// DecideVm: each run strategy against each VMI phase, deletion, finalizers,
// the VMI it makes, and that a decision's own status is a fixed point.
#include "controllers/reconcile/vm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/reconcile/test_util.h"
#include "lib/api/codec.h"

namespace vireo::controllers {
namespace {

using api::RunStrategy;
using api::VmiPhase;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;
using testing::Now;
using testing::Vm;
using testing::VmiOf;

enum class Action { kNone, kCreate, kDelete };

struct Row {
  RunStrategy strategy;
  std::optional<VmiPhase> phase;  // nullopt: no VMI
  bool acted;                     // status.runStrategy already equals the strategy
  Action action;
  const char* printable;
};

std::string Describe(const Row& r) {
  return std::string(api::RunStrategyName(r.strategy)) + " / " +
         (r.phase ? api::VmiPhaseName(*r.phase) : "no VMI") + (r.acted ? " / acted" : "");
}

Action ActionOf(const VmDecision& d) {
  EXPECT_FALSE(d.create_vmi.has_value() && d.delete_vmi.has_value());
  if (d.create_vmi.has_value()) return Action::kCreate;
  if (d.delete_vmi.has_value()) return Action::kDelete;
  return Action::kNone;
}

VmObservation Observe(const Row& r) {
  VmObservation obs;
  obs.vm = Vm(r.strategy);
  if (r.acted) obs.vm->status.run_strategy = r.strategy;
  // Ended VMIs here had reached Running: no start back-off is involved.
  if (r.phase) obs.vmi = VmiOf(*obs.vm, *r.phase, /*ran=*/api::IsFinal(*r.phase));
  obs.now = Now();
  return obs;
}

constexpr auto kUnsetPhase = std::nullopt;
const Row kRows[] = {
    // Always: keep a VMI; replace one that ended.
    {RunStrategy::kAlways, kUnsetPhase, false, Action::kCreate, "Starting"},
    {RunStrategy::kAlways, kUnsetPhase, true, Action::kCreate, "Starting"},
    {RunStrategy::kAlways, VmiPhase::kPending, true, Action::kNone, "Starting"},
    {RunStrategy::kAlways, VmiPhase::kScheduling, true, Action::kNone, "Starting"},
    {RunStrategy::kAlways, VmiPhase::kScheduled, true, Action::kNone, "Starting"},
    {RunStrategy::kAlways, VmiPhase::kRunning, true, Action::kNone, "Running"},
    {RunStrategy::kAlways, VmiPhase::kSucceeded, true, Action::kDelete, "Starting"},
    {RunStrategy::kAlways, VmiPhase::kFailed, true, Action::kDelete, "Starting"},
    // RerunOnFailure: replace a failed VMI, keep a succeeded one.
    {RunStrategy::kRerunOnFailure, kUnsetPhase, false, Action::kCreate, "Starting"},
    {RunStrategy::kRerunOnFailure, kUnsetPhase, true, Action::kNone, "Stopped"},
    {RunStrategy::kRerunOnFailure, VmiPhase::kPending, true, Action::kNone, "Starting"},
    {RunStrategy::kRerunOnFailure, VmiPhase::kScheduling, true, Action::kNone, "Starting"},
    {RunStrategy::kRerunOnFailure, VmiPhase::kScheduled, true, Action::kNone, "Starting"},
    {RunStrategy::kRerunOnFailure, VmiPhase::kRunning, true, Action::kNone, "Running"},
    {RunStrategy::kRerunOnFailure, VmiPhase::kSucceeded, true, Action::kNone, "Stopped"},
    {RunStrategy::kRerunOnFailure, VmiPhase::kFailed, true, Action::kDelete, "Starting"},
    // Once: one VMI, left as it ended.
    {RunStrategy::kOnce, kUnsetPhase, false, Action::kCreate, "Starting"},
    {RunStrategy::kOnce, kUnsetPhase, true, Action::kNone, "Stopped"},
    {RunStrategy::kOnce, VmiPhase::kPending, true, Action::kNone, "Starting"},
    {RunStrategy::kOnce, VmiPhase::kScheduling, true, Action::kNone, "Starting"},
    {RunStrategy::kOnce, VmiPhase::kScheduled, true, Action::kNone, "Starting"},
    {RunStrategy::kOnce, VmiPhase::kRunning, true, Action::kNone, "Running"},
    {RunStrategy::kOnce, VmiPhase::kSucceeded, true, Action::kNone, "Stopped"},
    {RunStrategy::kOnce, VmiPhase::kFailed, true, Action::kNone, "Stopped"},
    // Manual: nothing happens without a request.
    {RunStrategy::kManual, kUnsetPhase, false, Action::kNone, "Stopped"},
    {RunStrategy::kManual, kUnsetPhase, true, Action::kNone, "Stopped"},
    {RunStrategy::kManual, VmiPhase::kPending, true, Action::kNone, "Starting"},
    {RunStrategy::kManual, VmiPhase::kScheduling, true, Action::kNone, "Starting"},
    {RunStrategy::kManual, VmiPhase::kScheduled, true, Action::kNone, "Starting"},
    {RunStrategy::kManual, VmiPhase::kRunning, true, Action::kNone, "Running"},
    {RunStrategy::kManual, VmiPhase::kSucceeded, true, Action::kNone, "Stopped"},
    {RunStrategy::kManual, VmiPhase::kFailed, true, Action::kNone, "Stopped"},
    // Halted: no VMI, whatever its phase.
    {RunStrategy::kHalted, kUnsetPhase, false, Action::kNone, "Stopped"},
    {RunStrategy::kHalted, VmiPhase::kPending, true, Action::kDelete, "Stopping"},
    {RunStrategy::kHalted, VmiPhase::kScheduling, true, Action::kDelete, "Stopping"},
    {RunStrategy::kHalted, VmiPhase::kScheduled, true, Action::kDelete, "Stopping"},
    {RunStrategy::kHalted, VmiPhase::kRunning, true, Action::kDelete, "Stopping"},
    {RunStrategy::kHalted, VmiPhase::kSucceeded, true, Action::kDelete, "Stopped"},
    {RunStrategy::kHalted, VmiPhase::kFailed, true, Action::kDelete, "Stopped"},
};

TEST(DecideVm, StrategyByPhaseTable) {
  for (const Row& row : kRows) {
    SCOPED_TRACE(Describe(row));
    const VmObservation obs = Observe(row);
    const VmDecision d = DecideVm(obs);
    EXPECT_EQ(ActionOf(d), row.action);
    ASSERT_TRUE(d.status.has_value());
    EXPECT_EQ(d.status->printable_status, row.printable);
    EXPECT_EQ(d.status->created, row.phase.has_value());
    if (d.delete_vmi.has_value()) {
      EXPECT_EQ(d.delete_vmi->name, "vm1");
      EXPECT_EQ(d.delete_vmi->uid, testing::kVmiUid);
    }
    EXPECT_FALSE(d.finalizers.has_value()) << "the VM already has its finalizer";
  }
}

// Feeding a decision's status back in must not produce another write, and
// must not change what is done: the decision does not depend on being new.
TEST(DecideVm, OwnStatusIsAFixedPoint) {
  for (const Row& row : kRows) {
    SCOPED_TRACE(Describe(row));
    VmObservation obs = Observe(row);
    const VmDecision first = DecideVm(obs);
    ASSERT_TRUE(first.status.has_value());
    obs.vm->status = *first.status;
    const VmDecision second = DecideVm(obs);
    EXPECT_FALSE(second.status.has_value()) << api::ToJson(*second.status).dump() << "\nvs\n"
                                            << api::ToJson(*first.status).dump();
    EXPECT_EQ(ActionOf(second), ActionOf(first));
  }
}

TEST(DecideVm, RunningVmiMakesVmReadyAndMirrorsConditions) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning);
  obs.vmi->status.conditions.push_back({"Ready", "True", "", "", "", "", Json()});
  obs.now = Now();
  const VmDecision d = DecideVm(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_TRUE(d.status->ready);
  EXPECT_TRUE(d.status->created);
  EXPECT_EQ(d.status->run_strategy, RunStrategy::kAlways);
  EXPECT_EQ(d.status->desired_generation, 3);
  EXPECT_EQ(d.status->observed_generation, 2) << "from the VMI's vm-generation annotation";
  const api::Condition* ready = api::FindCondition(d.status->conditions, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, "True");
  EXPECT_TRUE(d.events.empty());
}

TEST(DecideVm, UnschedulableAndImagePullShowInPrintableStatus) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kScheduling);
  obs.vmi->status.conditions.push_back(
      {"PodScheduled", "False", "Unschedulable", "0/1 nodes are available", "", "", Json()});
  obs.now = Now();
  VmDecision d = DecideVm(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->printable_status, "ErrorUnschedulable");
  const api::Condition* scheduled = api::FindCondition(d.status->conditions, "PodScheduled");
  ASSERT_NE(scheduled, nullptr);
  EXPECT_EQ(scheduled->message, "0/1 nodes are available");

  obs.vmi->status.conditions = {
      {"Synchronized", "False", "ImagePullBackOff", "Back-off pulling", "", "", Json()}};
  d = DecideVm(obs);
  EXPECT_EQ(d.status->printable_status, "ImagePullBackOff");
  obs.vmi->status.phase = VmiPhase::kUnknown;
  obs.vmi->status.conditions.clear();
  d = DecideVm(obs);
  EXPECT_EQ(d.status->printable_status, "Unknown");
}

TEST(DecideVm, AddsFinalizerToNewVm) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kHalted);
  obs.vm->metadata.finalizers = {"example.org/other"};
  obs.now = Now();
  const VmDecision d = DecideVm(obs);
  ASSERT_TRUE(d.finalizers.has_value());
  EXPECT_THAT(*d.finalizers, ElementsAre("example.org/other", kVmFinalizer));
}

// Vireo runs no hook sidecars: the VM says so when it starts its VMI.
TEST(DecideVm, HookSidecarsAreIgnoredWithAWarning) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.now = Now();
  auto reasons = [](const VmDecision& d) {
    std::vector<std::string> out;
    for (const Event& e : d.events) out.push_back(e.reason);
    return out;
  };
  VmDecision d = DecideVm(obs);
  ASSERT_TRUE(d.create_vmi.has_value());
  EXPECT_THAT(reasons(d), Not(Contains("HookSidecarsIgnored")));

  obs.vm->spec.template_spec.metadata.annotations[kHookSidecarsAnnotation] =
      R"([{"image": "registry.example/hook:v1"}])";
  d = DecideVm(obs);
  ASSERT_TRUE(d.create_vmi.has_value());
  EXPECT_THAT(reasons(d), Contains("HookSidecarsIgnored"));
  for (const Event& e : d.events) {
    if (e.reason == "HookSidecarsIgnored") {
      EXPECT_EQ(e.type, kube::EventType::kWarning);
    }
  }
}

TEST(DecideVm, DeletionRemovesVmiThenFinalizer) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vm->metadata.deletion_timestamp = testing::At(std::chrono::seconds(-5));
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning);
  obs.now = Now();
  VmDecision d = DecideVm(obs);
  ASSERT_TRUE(d.delete_vmi.has_value());
  EXPECT_FALSE(d.create_vmi.has_value());
  EXPECT_FALSE(d.finalizers.has_value()) << "the finalizer stays until the VMI is gone";
  EXPECT_EQ(d.status->printable_status, "Terminating");

  // The VMI is going: wait, without a second delete.
  obs.vmi->metadata.deletion_timestamp = testing::At(std::chrono::seconds(-4));
  d = DecideVm(obs);
  EXPECT_FALSE(d.delete_vmi.has_value());
  EXPECT_FALSE(d.finalizers.has_value());

  // Gone: release the VM at once, never hang.
  obs.vmi.reset();
  d = DecideVm(obs);
  ASSERT_TRUE(d.finalizers.has_value());
  EXPECT_TRUE(d.finalizers->empty());
  EXPECT_FALSE(d.create_vmi.has_value());
}

TEST(DecideVm, DeletedVmWithoutFinalizerIsLeftAlone) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vm->metadata.finalizers.clear();
  obs.vm->metadata.deletion_timestamp = testing::At(std::chrono::seconds(-5));
  obs.now = Now();
  const VmDecision d = DecideVm(obs);
  EXPECT_FALSE(d.finalizers.has_value());
  EXPECT_FALSE(d.create_vmi.has_value());
}

TEST(DecideVm, VmiBeingDeletedIsWaitedFor) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning);
  obs.vmi->metadata.deletion_timestamp = testing::At(std::chrono::seconds(-1));
  obs.now = Now();
  VmDecision d = DecideVm(obs);
  EXPECT_EQ(ActionOf(d), Action::kNone);
  EXPECT_EQ(d.status->printable_status, "Stopping");
  EXPECT_FALSE(d.status->ready);

  obs.vmi->status.phase = VmiPhase::kSucceeded;  // ended, on its way out: a new one follows
  d = DecideVm(obs);
  EXPECT_EQ(ActionOf(d), Action::kNone);
  EXPECT_EQ(d.status->printable_status, "Starting");
}

TEST(DecideVm, GoneVmDecidesNothing) {
  VmObservation obs;
  obs.now = Now();
  const VmDecision d = DecideVm(obs);
  EXPECT_EQ(ActionOf(d), Action::kNone);
  EXPECT_FALSE(d.status.has_value());
  EXPECT_FALSE(d.finalizers.has_value());
}

TEST(DecideVm, ForeignVmiIsNeverTouched) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kFailed);
  obs.vmi->metadata.owner_references.clear();
  obs.now = Now();
  const VmDecision d = DecideVm(obs);
  EXPECT_EQ(ActionOf(d), Action::kNone);
  const api::Condition* failure = api::FindCondition(d.status->conditions, "Failure");
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->status, "True");
  EXPECT_THAT(failure->message, ::testing::HasSubstr("not controlled by this VirtualMachine"));
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "FailedCreate");
}

TEST(DecideVm, RunningFlagMapsToAlwaysAndHalted) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vm->spec.run_strategy.reset();
  obs.vm->spec.running = true;
  obs.now = Now();
  EXPECT_TRUE(DecideVm(obs).create_vmi.has_value());
  obs.vm->spec.running = false;
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning);
  EXPECT_TRUE(DecideVm(obs).delete_vmi.has_value());
}

TEST(DecideVm, NewVmiCarriesTemplateOwnerAndDefaults) {
  api::VirtualMachine vm = Vm(RunStrategy::kAlways);
  vm.spec.template_spec.metadata.annotations = {{"note", "hello"}};
  const Json vmi = NewVmiFor(vm);
  EXPECT_EQ(base::GetString(vmi, "metadata.name"), "vm1");
  EXPECT_EQ(base::GetString(vmi, "metadata.namespace"), "default");
  EXPECT_EQ(base::GetString(vmi, "metadata.labels.app"), "demo");
  EXPECT_EQ(base::GetString(vmi, "metadata.annotations.note"), "hello");
  EXPECT_EQ(vmi.at("metadata").at("annotations").at(kVmGenerationAnnotation).get<std::string>(),
            "3");
  const Json& owner = vmi.at("metadata").at("ownerReferences").at(0);
  EXPECT_EQ(base::GetString(owner, "uid"), testing::kVmUid);
  EXPECT_EQ(base::GetString(owner, "kind"), "VirtualMachine");
  EXPECT_EQ(base::GetBool(owner, "controller"), true);
  EXPECT_EQ(base::GetBool(owner, "blockOwnerDeletion"), true);
  EXPECT_EQ(vmi.at("metadata").at("finalizers").at(0).get<std::string>(), kVmiFinalizer);
  // Defaults are in the spec: what runs is what the VMI shows.
  EXPECT_EQ(base::GetString(vmi, "spec.domain.machine.type"), "q35");
  EXPECT_EQ(base::GetString(vmi, "spec.domain.firmware.uuid"), testing::kVmUid);
  EXPECT_EQ(
      vmi.at("spec").at("domain").at("devices").at("disks").at(0).at("name").get<std::string>(),
      "root");
  EXPECT_FALSE(vmi.contains("status"));
  EXPECT_TRUE(api::FromJson<api::VirtualMachineInstance>(vmi).ok());
}

// An edit of a running VM's template shows as KubeVirt's RestartRequired
// condition until a VMI made from the new template runs.
TEST(DecideVm, ATemplateEditWhileRunningSetsRestartRequiredUntilTheRestart) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning);
  obs.now = Now();
  VmDecision d = DecideVm(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(api::FindCondition(d.status->conditions, kConditionRestartRequired), nullptr);

  obs.vm->status = *d.status;
  obs.vm->spec.template_spec.spec.domain.memory->guest = "256Mi";
  obs.vm->metadata.generation = 4;
  d = DecideVm(obs);
  ASSERT_TRUE(d.status.has_value());
  const api::Condition* restart =
      api::FindCondition(d.status->conditions, kConditionRestartRequired);
  ASSERT_NE(restart, nullptr);
  EXPECT_EQ(restart->status, "True");
  EXPECT_FALSE(d.delete_vmi.has_value()) << "the running guest is left alone";
  EXPECT_EQ(d.status->printable_status, "Running");
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "RestartRequired");
  // Decided again: no new Event, the condition stays.
  obs.vm->status = *d.status;
  d = DecideVm(obs);
  EXPECT_FALSE(d.status.has_value());
  EXPECT_TRUE(d.events.empty());

  // A runStrategy change is no template change.
  VmObservation strategy = obs;
  strategy.vm->spec.template_spec.spec.domain.memory->guest = "128Mi";
  strategy.vm->status.conditions.clear();
  strategy.vm->spec.run_strategy = RunStrategy::kManual;
  d = DecideVm(strategy);
  EXPECT_TRUE(!d.status.has_value() ||
              api::FindCondition(d.status->conditions, kConditionRestartRequired) == nullptr);

  // Restarted: the new VMI runs the new template, the condition goes.
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning, false, "new-uid");
  d = DecideVm(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(api::FindCondition(d.status->conditions, kConditionRestartRequired), nullptr);

  // Stopped: nothing to restart.
  obs.vmi = VmiOf(Vm(RunStrategy::kAlways), VmiPhase::kRunning);
  obs.vm->spec.run_strategy = RunStrategy::kHalted;
  d = DecideVm(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(api::FindCondition(d.status->conditions, kConditionRestartRequired), nullptr);
}

// The reconciler reads the instance type and preference (a GET each) only
// when the decision may use the expanded template: to make a VMI, or to
// compare a VMI made from another generation of the VM.
TEST(NeedsExpandedTemplate, OnlyWhenAVmiMayBeMadeOrComparedAnew) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning);
  obs.vmi->metadata.annotations[kVmGenerationAnnotation] =
      std::to_string(obs.vm->metadata.generation);
  // Its template is what it is: compared with the VMI on every reconcile
  // (RestartRequired), at no cost.
  EXPECT_TRUE(NeedsExpandedTemplate(obs)) << "names neither";
  obs.vm->spec.extra["instancetype"] = Json{{"name", "u1.small"}};
  obs.vmi.reset();
  EXPECT_TRUE(NeedsExpandedTemplate(obs)) << "no VMI yet";

  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning);
  obs.vmi->metadata.annotations[kVmGenerationAnnotation] =
      std::to_string(obs.vm->metadata.generation);
  EXPECT_FALSE(NeedsExpandedTemplate(obs)) << "a VMI of this generation runs";
  obs.vmi->metadata.annotations[kVmGenerationAnnotation] =
      std::to_string(obs.vm->metadata.generation - 1);
  EXPECT_TRUE(NeedsExpandedTemplate(obs)) << "the template may have changed";
  obs.vmi->metadata.annotations.erase(kVmGenerationAnnotation);
  EXPECT_TRUE(NeedsExpandedTemplate(obs)) << "made from an unknown generation";
  obs.vmi->metadata.annotations[kVmGenerationAnnotation] = "3x";
  EXPECT_TRUE(NeedsExpandedTemplate(obs)) << "an unreadable generation";

  obs.vmi->metadata.annotations[kVmGenerationAnnotation] =
      std::to_string(obs.vm->metadata.generation);
  obs.vmi->metadata.deletion_timestamp = "2026-12-07T10:00:00Z";
  EXPECT_TRUE(NeedsExpandedTemplate(obs)) << "the VMI is going";
  obs.vmi->metadata.deletion_timestamp.clear();
  obs.vmi->status.phase = VmiPhase::kFailed;
  EXPECT_TRUE(NeedsExpandedTemplate(obs)) << "the VMI ended: another may be made";

  obs.vm->spec.extra.erase("instancetype");
  obs.vm->spec.extra["preference"] = Json{{"name", "fedora"}};
  EXPECT_TRUE(NeedsExpandedTemplate(obs)) << "a preference alone";
}

// Not expanded, the live VMI was made from the VM's current generation:
// RestartRequired goes, even one set before (an instance type edited under
// an earlier rule, or a restart whose status write waited for the new VMI).
TEST(DecideVm, AnUnexpandedTemplateNeedsNoRestart) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vm->spec.extra["instancetype"] = Json{{"name", "u1.small"}};
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning);
  obs.vm->spec.template_spec.spec.domain.memory->guest = "256Mi";  // differs from the VMI
  obs.now = Now();
  api::Condition stale;
  stale.type = kConditionRestartRequired;
  stale.status = "True";
  obs.vm->status.conditions.push_back(stale);
  obs.template_expanded = false;
  VmDecision d = DecideVm(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(api::FindCondition(d.status->conditions, kConditionRestartRequired), nullptr);
  // Expanded, the same template is compared, and differs.
  obs.template_expanded = true;
  d = DecideVm(obs);
  const auto& conditions = d.status.has_value() ? d.status->conditions : obs.vm->status.conditions;
  EXPECT_NE(api::FindCondition(conditions, kConditionRestartRequired), nullptr);
}

// With its instance type missing the template cannot be compared: a
// RestartRequired of a running VMI stays, and goes once no VMI is left.
TEST(DecideVm, AMissingInstancetypeKeepsRestartRequiredOnlyWhileTheVmiLives) {
  VmObservation obs;
  obs.vm = Vm(RunStrategy::kAlways);
  obs.vm->spec.extra["instancetype"] = Json{{"name", "u1.small"}};
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kRunning);
  obs.now = Now();
  api::Condition set;
  set.type = kConditionRestartRequired;
  set.status = "True";
  obs.vm->status.conditions.push_back(set);
  obs.template_problem = "VirtualMachineClusterInstancetype u1.small not found";
  VmDecision d = DecideVm(obs);
  const auto& kept = d.status.has_value() ? d.status->conditions : obs.vm->status.conditions;
  EXPECT_NE(api::FindCondition(kept, kConditionRestartRequired), nullptr);
  obs.vmi = VmiOf(*obs.vm, VmiPhase::kSucceeded, /*ran=*/true);
  d = DecideVm(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(api::FindCondition(d.status->conditions, kConditionRestartRequired), nullptr);
}
}  // namespace
}  // namespace vireo::controllers
