#include "virtctl/power.h"

#include <gtest/gtest.h>

namespace vireo::virtctl {
namespace {

using base::Code;
using base::Json;

Json Parse(const std::string& text) { return *base::ParseJson(text); }

Json Vm(const std::string& spec, const std::string& status = R"({"printableStatus":"Stopped"})") {
  return Parse(R"({"metadata":{"name":"vm","namespace":"ns"},"spec":)" + spec + R"(,"status":)" +
               status + "}");
}

Json Vmi(const std::string& phase, bool deleting = false) {
  std::string meta = R"({"name":"vm","namespace":"ns","uid":"uid-1")";
  if (deleting) meta += R"(,"deletionTimestamp":"2026-01-01T00:00:00Z")";
  meta += "}";
  return Parse(R"({"metadata":)" + meta +
               R"(,"spec":{"terminationGracePeriodSeconds":30},"status":{"phase":")" + phase +
               R"("}})");
}

std::string Dump(const std::optional<Json>& j) { return j ? base::DumpJson(*j) : "none"; }

base::Result<PowerPlan> Plan(PowerAction a, const Json& vm, const Json* vmi, PowerOptions o = {}) {
  return PlanPower(a, vm, vmi, o);
}

// ---- start

TEST(StartTest, HaltedBecomesAlwaysGuardedByATest) {
  auto p = Plan(PowerAction::kStart, Vm(R"({"runStrategy":"Halted"})"), nullptr);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(
      Dump(p->vm_patch),
      R"([{"op":"test","path":"/spec/runStrategy","value":"Halted"},{"op":"replace","path":"/spec/runStrategy","value":"Always"}])");
  EXPECT_FALSE(p->vm_status_patch);
  EXPECT_FALSE(p->vmi_patch);
}

TEST(StartTest, RunningFalseBecomesRunningTrue) {
  auto p = Plan(PowerAction::kStart, Vm(R"({"running":false})"), nullptr);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(
      Dump(p->vm_patch),
      R"([{"op":"test","path":"/spec/running","value":false},{"op":"replace","path":"/spec/running","value":true}])");
}

TEST(StartTest, NoStrategyAtAllIsHaltedAndGetsAlways) {
  auto p = Plan(PowerAction::kStart, Vm("{}"), nullptr);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(Dump(p->vm_patch), R"([{"op":"add","path":"/spec/runStrategy","value":"Always"}])");
}

TEST(StartTest, ManualQueuesAStartRequest) {
  auto p = Plan(PowerAction::kStart, Vm(R"({"runStrategy":"Manual"})"), nullptr);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->vm_patch);
  EXPECT_EQ(
      Dump(p->vm_status_patch),
      R"([{"op":"test","path":"/status/stateChangeRequests","value":null},{"op":"add","path":"/status/stateChangeRequests","value":[{"action":"Start"}]}])");
}

TEST(StartTest, ManualWithAnEndedVmiStopsItFirst) {
  for (const char* phase : {"Succeeded", "Failed"}) {
    Json vmi = Vmi(phase);
    auto p = Plan(PowerAction::kStart, Vm(R"({"runStrategy":"Manual"})"), &vmi);
    ASSERT_TRUE(p.ok()) << phase;
    EXPECT_EQ(
        Dump(p->vm_status_patch),
        R"([{"op":"test","path":"/status/stateChangeRequests","value":null},{"op":"add","path":"/status/stateChangeRequests","value":[{"action":"Stop","uid":"uid-1"},{"action":"Start"}]}])")
        << phase;
  }
}

TEST(StartTest, RerunOnFailure) {
  Json vm = Vm(R"({"runStrategy":"RerunOnFailure"})");
  auto none = Plan(PowerAction::kStart, vm, nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_NE(Dump(none->vm_status_patch).find(R"([{"action":"Start"}])"), std::string::npos);
  Json succeeded = Vmi("Succeeded");
  auto again = Plan(PowerAction::kStart, vm, &succeeded);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(
      Dump(again->vm_status_patch).find(R"([{"action":"Stop","uid":"uid-1"},{"action":"Start"}])"),
      std::string::npos);
  Json failed = Vmi("Failed");
  auto refused = Plan(PowerAction::kStart, vm, &failed);
  EXPECT_EQ(refused.status().code(), Code::kConflict);
  EXPECT_EQ(refused.status().message(),
            "RerunOnFailure does not support starting VM from failed state");
}

TEST(StartTest, AlwaysAndOnceAreRefused) {
  for (const char* s : {"Always", "Once"}) {
    auto p =
        Plan(PowerAction::kStart, Vm(std::string(R"({"runStrategy":")") + s + R"("})"), nullptr);
    EXPECT_EQ(p.status().code(), Code::kConflict) << s;
    EXPECT_EQ(p.status().message(), std::string(s) + " does not support manual start requests");
  }
}

TEST(StartTest, ARunningVmiIsAlreadyRunningWhateverTheStrategy) {
  for (const char* s : {"Always", "Halted", "Manual", "RerunOnFailure", "Once"}) {
    for (const char* phase : {"Pending", "Scheduled", "Running"}) {
      Json vmi = Vmi(phase);
      auto p =
          Plan(PowerAction::kStart, Vm(std::string(R"({"runStrategy":")") + s + R"("})"), &vmi);
      EXPECT_EQ(p.status().code(), Code::kConflict) << s << " " << phase;
      EXPECT_EQ(p.status().message(), "VM is already running");
    }
  }
}

TEST(StartTest, AVmiBeingDeletedDoesNotBlockAStart) {
  Json vmi = Vmi("Running", /*deleting=*/true);
  auto p = Plan(PowerAction::kStart, Vm(R"({"runStrategy":"Halted"})"), &vmi);
  EXPECT_TRUE(p.ok());
}

TEST(StartTest, PendingRequestsBlockAStart) {
  Json vm = Vm(R"({"runStrategy":"Manual"})", R"({"stateChangeRequests":[{"action":"Start"}]})");
  auto p = Plan(PowerAction::kStart, vm, nullptr);
  EXPECT_EQ(p.status().code(), Code::kConflict);
  EXPECT_NE(p.status().message().find("already underway"), std::string::npos);
}

TEST(StartTest, AVmWithoutStatusGetsOne) {
  Json vm = Parse(R"({"metadata":{"name":"vm"},"spec":{"runStrategy":"Manual"}})");
  auto p = Plan(PowerAction::kStart, vm, nullptr);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(
      Dump(p->vm_status_patch),
      R"([{"op":"add","path":"/status","value":{"stateChangeRequests":[{"action":"Start"}]}}])");
}

TEST(StartTest, TakesNoStopFlags) {
  auto p = Plan(PowerAction::kStart, Vm(R"({"runStrategy":"Halted"})"), nullptr, {0, true});
  EXPECT_EQ(p.status().code(), Code::kBadRequest);
}

TEST(StartTest, BothRunningAndRunStrategyIsInvalid) {
  auto p = Plan(PowerAction::kStart, Vm(R"({"running":true,"runStrategy":"Halted"})"), nullptr);
  EXPECT_EQ(p.status().code(), Code::kInvalid);
}

// ---- stop

TEST(StopTest, AlwaysAndOnceBecomeHalted) {
  Json vmi = Vmi("Running");
  for (const char* s : {"Always", "Once"}) {
    auto p = Plan(PowerAction::kStop, Vm(std::string(R"({"runStrategy":")") + s + R"("})"), &vmi);
    ASSERT_TRUE(p.ok()) << s;
    EXPECT_EQ(Dump(p->vm_patch),
              std::string(R"([{"op":"test","path":"/spec/runStrategy","value":")") + s +
                  R"("},{"op":"replace","path":"/spec/runStrategy","value":"Halted"}])");
    EXPECT_FALSE(p->vm_status_patch);
  }
  // Also when the VMI is gone (an Always VM in start back-off).
  EXPECT_TRUE(Plan(PowerAction::kStop, Vm(R"({"runStrategy":"Always"})"), nullptr).ok());
  auto running = Plan(PowerAction::kStop, Vm(R"({"running":true})"), &vmi);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(
      Dump(running->vm_patch),
      R"([{"op":"test","path":"/spec/running","value":true},{"op":"replace","path":"/spec/running","value":false}])");
}

TEST(StopTest, ManualAndRerunOnFailureQueueAStopForTheRunningVmi) {
  Json vmi = Vmi("Running");
  for (const char* s : {"Manual", "RerunOnFailure"}) {
    auto p = Plan(PowerAction::kStop, Vm(std::string(R"({"runStrategy":")") + s + R"("})"), &vmi);
    ASSERT_TRUE(p.ok()) << s;
    EXPECT_FALSE(p->vm_patch);
    EXPECT_EQ(
        Dump(p->vm_status_patch),
        R"([{"op":"test","path":"/status/stateChangeRequests","value":null},{"op":"add","path":"/status/stateChangeRequests","value":[{"action":"Stop","uid":"uid-1"}]}])");
  }
}

TEST(StopTest, NotRunningIsRefused) {
  Json ended = Vmi("Succeeded");
  for (const char* s : {"Manual", "RerunOnFailure", "Halted"}) {
    Json vm = Vm(std::string(R"({"runStrategy":")") + s + R"("})");
    EXPECT_EQ(Plan(PowerAction::kStop, vm, nullptr).status().message(), "VM is not running") << s;
    EXPECT_EQ(Plan(PowerAction::kStop, vm, &ended).status().code(), Code::kConflict) << s;
  }
}

TEST(StopTest, HaltedOnlyWithAShorterGracePeriod) {
  Json vmi = Vmi("Running");  // grace 30
  Json vm = Vm(R"({"runStrategy":"Halted"})");
  auto plain = Plan(PowerAction::kStop, vm, &vmi);
  EXPECT_EQ(plain.status().code(), Code::kConflict);
  EXPECT_EQ(plain.status().message(),
            "Halted only supports manual stop requests with a shorter grace period");
  EXPECT_EQ(Plan(PowerAction::kStop, vm, &vmi, {30, false}).status().code(), Code::kConflict);
  auto shorter = Plan(PowerAction::kStop, vm, &vmi, {5, false});
  ASSERT_TRUE(shorter.ok());
  EXPECT_EQ(
      Dump(shorter->vmi_patch),
      R"([{"op":"test","path":"/spec/terminationGracePeriodSeconds","value":30},{"op":"replace","path":"/spec/terminationGracePeriodSeconds","value":5}])");
  EXPECT_NE(Dump(shorter->vm_status_patch).find(R"({"action":"Stop","uid":"uid-1"})"),
            std::string::npos);
}

TEST(StopTest, GracePeriodPatchesTheVmiFirst) {
  Json vmi = Vmi("Running");
  auto p = Plan(PowerAction::kStop, Vm(R"({"runStrategy":"Always"})"), &vmi, {10, false});
  ASSERT_TRUE(p.ok());
  EXPECT_NE(Dump(p->vmi_patch).find(R"("value":10)"), std::string::npos);
  EXPECT_FALSE(p->delete_launcher_pods);
}

TEST(StopTest, ForceNeedsGracePeriodZeroAndDeletesThePods) {
  Json vmi = Vmi("Running");
  Json vm = Vm(R"({"runStrategy":"Always"})");
  EXPECT_EQ(Plan(PowerAction::kStop, vm, &vmi, {std::nullopt, true}).status().code(),
            Code::kBadRequest);
  EXPECT_EQ(Plan(PowerAction::kStop, vm, &vmi, {5, true}).status().message(),
            "--force needs --grace-period=0");
  auto p = Plan(PowerAction::kStop, vm, &vmi, {0, true});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->delete_launcher_pods);
  EXPECT_EQ(p->vmi_uid, "uid-1");
}

TEST(StopTest, ALoneStopReplacesPendingRequests) {
  Json vmi = Vmi("Running");
  Json vm = Vm(R"({"runStrategy":"Manual"})", R"({"stateChangeRequests":[{"action":"Start"}]})");
  auto p = Plan(PowerAction::kStop, vm, &vmi);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(
      Dump(p->vm_status_patch),
      R"([{"op":"test","path":"/status/stateChangeRequests","value":[{"action":"Start"}]},{"op":"replace","path":"/status/stateChangeRequests","value":[{"action":"Stop","uid":"uid-1"}]}])");
}

// ---- restart

TEST(RestartTest, StopsTheVmiAndStartsANewOne) {
  Json vmi = Vmi("Running");
  for (const char* s : {"Always", "Manual", "RerunOnFailure"}) {
    auto p =
        Plan(PowerAction::kRestart, Vm(std::string(R"({"runStrategy":")") + s + R"("})"), &vmi);
    ASSERT_TRUE(p.ok()) << s;
    EXPECT_FALSE(p->vm_patch);
    EXPECT_NE(
        Dump(p->vm_status_patch).find(R"([{"action":"Stop","uid":"uid-1"},{"action":"Start"}])"),
        std::string::npos);
  }
}

TEST(RestartTest, RefusedForHaltedOnceAndWithoutVmi) {
  Json vmi = Vmi("Running");
  EXPECT_EQ(Plan(PowerAction::kRestart, Vm(R"({"runStrategy":"Halted"})"), &vmi).status().message(),
            "RunStrategy Halted does not support manual restart requests");
  EXPECT_EQ(Plan(PowerAction::kRestart, Vm(R"({"runStrategy":"Once"})"), &vmi).status().code(),
            Code::kConflict);
  EXPECT_EQ(
      Plan(PowerAction::kRestart, Vm(R"({"runStrategy":"Always"})"), nullptr).status().message(),
      "VM is not running");
}

TEST(RestartTest, GracePeriodOnlyAsForceZero) {
  Json vmi = Vmi("Running");
  Json vm = Vm(R"({"runStrategy":"Always"})");
  EXPECT_EQ(Plan(PowerAction::kRestart, vm, &vmi, {5, false}).status().code(), Code::kBadRequest);
  auto forced = Plan(PowerAction::kRestart, vm, &vmi, {0, true});
  ASSERT_TRUE(forced.ok());
  EXPECT_TRUE(forced->delete_launcher_pods);
}

}  // namespace
}  // namespace vireo::virtctl
