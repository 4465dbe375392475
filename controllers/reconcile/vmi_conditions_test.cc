// DecideVmi's conditions (vmi_conditions.h): emulation and the probe's
// verdict, networkData, DataVolumes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/reconcile/conditions.h"
#include "controllers/reconcile/vmi.h"
#include "controllers/reconcile/vmi_test_util.h"

namespace vireo::controllers {
namespace {

using api::VmiPhase;
using std::chrono::seconds;
using testing::At;
using testing::Observe;
using testing::Pod;
using testing::PodState;
using testing::PodWithAccelVerdict;
using testing::Vmi;
using testing::VmiWithDataVolume;

TEST(DecideVmi, EmulationConditionFollowsTheMode) {
  for (auto [mode, want] :
       {std::pair{EmulationMode::kOn, "True"}, std::pair{EmulationMode::kOff, "False"}}) {
    VmiObservation obs = Observe(Vmi());
    obs.config.emulation = mode;
    const VmiDecision d = DecideVmi(obs);
    EXPECT_EQ(api::FindCondition(d.status->conditions, "SoftwareEmulation")->status, want);
  }
}

// networkData naming a NIC the guest will not have: a condition and one
// Warning Event naming it; fixed networkData clears the condition.
TEST(DecideVmi, NetworkDataNamingNoGuestNicIsShown) {
  api::VirtualMachineInstance vmi = Vmi(VmiPhase::kScheduled);
  api::Volume seed;
  seed.name = "cloudinit";
  seed.cloud_init_no_cloud.emplace();
  seed.cloud_init_no_cloud->network_data = "version: 2\nethernets:\n  ens3:\n    dhcp4: true\n";
  vmi.spec.volumes.push_back(seed);
  VmiObservation obs = Observe(vmi);
  obs.pods = {Pod(obs.vmi, PodState::kRunningReady)};
  VmiDecision d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  const api::Condition* c = api::FindCondition(d.status->conditions, "NetworkDataMismatch");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, "True");
  EXPECT_EQ(c->reason, "UnknownInterface");
  EXPECT_THAT(c->message, ::testing::HasSubstr("'ens3'"));
  EXPECT_THAT(c->message, ::testing::HasSubstr("enp1s0"));
  auto warned = [](const VmiDecision& decision) {
    return std::count_if(decision.events.begin(), decision.events.end(),
                         [](const Event& e) { return e.reason == "NetworkDataMismatch"; });
  };
  EXPECT_EQ(warned(d), 1);
  // Decided again with that status stored: no second Event.
  obs.vmi.status = *d.status;
  EXPECT_EQ(warned(DecideVmi(obs)), 0);
  // networkData as a KubeVirt guest gets it: no condition.
  obs.vmi.spec.volumes.back().cloud_init_no_cloud->network_data =
      "version: 2\nethernets:\n  enp1s0:\n    dhcp4: true\n";
  d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(api::FindCondition(d.status->conditions, "NetworkDataMismatch"), nullptr);
}

TEST(DecideVmi, EmulationAutoWithAPluginShowsTheProbesVerdict) {
  const std::string tcg =
      "tcg: /dev/kvm opens, but KVM runs guests far too slowly: the probe guest did 1000000 of "
      "20000000 loop iterations in 1000 ms (working KVM needs ~10 ms)\n";
  VmiObservation obs = Observe(Vmi(VmiPhase::kScheduled));
  obs.config.kvm_resource_offered = true;
  obs.pods = {PodWithAccelVerdict(obs.vmi, tcg)};
  VmiDecision d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  const api::Condition* c = api::FindCondition(d.status->conditions, "SoftwareEmulation");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, "True");
  EXPECT_EQ(c->reason, "NoUsableKvm");
  EXPECT_THAT(c->message, ::testing::HasSubstr("far too slowly"));
  EXPECT_THAT(c->message, ::testing::Not(::testing::HasSubstr("\n")));
  auto event = std::find_if(d.events.begin(), d.events.end(),
                            [](const Event& e) { return e.reason == "SoftwareEmulation"; });
  ASSERT_NE(event, d.events.end());
  EXPECT_EQ(event->type, kube::EventType::kWarning);
  EXPECT_THAT(event->message, ::testing::HasSubstr("far too slowly"));

  // Decided again with that status stored: no second Event.
  obs.vmi.status = *d.status;
  d = DecideVmi(obs);
  EXPECT_TRUE(std::none_of(d.events.begin(), d.events.end(),
                           [](const Event& e) { return e.reason == "SoftwareEmulation"; }));

  obs.pods = {
      PodWithAccelVerdict(obs.vmi, "kvm: /dev/kvm works: the probe guest ran its loop in 9 ms")};
  d = DecideVmi(obs);
  c = api::FindCondition(d.status->conditions, "SoftwareEmulation");
  EXPECT_EQ(c->status, "False");
  EXPECT_EQ(c->reason, "KvmAvailable");

  // Before the probe ended: Unknown.
  Json waiting = Pod(obs.vmi, PodState::kScheduled);
  waiting["spec"]["initContainers"] = testing::ParseOrDie(R"([{"name": "accel-probe"}])");
  obs.pods = {waiting};
  d = DecideVmi(obs);
  c = api::FindCondition(d.status->conditions, "SoftwareEmulation");
  EXPECT_EQ(c->status, "Unknown");
  EXPECT_EQ(c->reason, "LauncherChooses");

  // A pod made before the plugin was turned on has no probe: the condition
  // follows the pod, not today's flags.
  obs.pods = {Pod(obs.vmi, PodState::kRunningReady)};
  d = DecideVmi(obs);
  c = api::FindCondition(d.status->conditions, "SoftwareEmulation");
  EXPECT_EQ(c->reason, "NoKvmResource");
}

TEST(DecideVmi, EmulationAutoWithoutAPluginSaysSo) {
  const VmiDecision d = DecideVmi(Observe(Vmi()));
  const api::Condition* c = api::FindCondition(d.status->conditions, "SoftwareEmulation");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, "Unknown");
  EXPECT_EQ(c->reason, "NoKvmResource");
}

TEST(DecideVmi, ThePodWaitsForItsDataVolumesToSucceed) {
  api::VirtualMachineInstance vmi = VmiWithDataVolume("debian");
  vmi.metadata.creation_timestamp = At(seconds(-60));

  VmiDecision d = DecideVmi(Observe(vmi));  // no DataVolume yet: waits, never fails
  EXPECT_FALSE(d.create_pod.has_value());
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kPending);
  const api::Condition* ready = api::FindCondition(d.status->conditions, "DataVolumesReady");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, "False");
  EXPECT_THAT(ready->message, ::testing::HasSubstr("debian not found"));

  VmiObservation obs = Observe(vmi);
  obs.data_volumes["debian"] = {"ImportInProgress", "45.20%", "", false};
  d = DecideVmi(obs);
  EXPECT_FALSE(d.create_pod.has_value());
  ready = api::FindCondition(d.status->conditions, "DataVolumesReady");
  EXPECT_THAT(ready->message, ::testing::HasSubstr("ImportInProgress (45.20%)"));
  EXPECT_TRUE(d.events.empty());

  obs.data_volumes["debian"] = {"Failed", "N/A", "HTTP 404 Not Found", false};
  d = DecideVmi(obs);
  EXPECT_FALSE(d.create_pod.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kPending);
  ready = api::FindCondition(d.status->conditions, "DataVolumesReady");
  EXPECT_EQ(ready->reason, "DataVolumeFailed");
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_THAT(d.events[0].message, ::testing::HasSubstr("404"));

  obs.data_volumes["debian"] = {"Succeeded", "100.0%", "", false};
  obs.claims["debian"] = VolumeMode::kFilesystem;
  d = DecideVmi(obs);
  ASSERT_TRUE(d.create_pod.has_value());
  EXPECT_EQ(api::FindCondition(d.status->conditions, "DataVolumesReady")->status, "True");
  const Json& volumes = d.create_pod->at("spec").at("volumes");
  bool mounted = false;
  for (const Json& v : volumes) {
    mounted |= base::GetString(v, "persistentVolumeClaim.claimName") == "debian";
  }
  EXPECT_TRUE(mounted);
}

TEST(DecideVmi, AClaimADataVolumeFillsIsNotBootedBlank) {
  api::VirtualMachineInstance vmi = Vmi();
  testing::AddClaim(&vmi.spec, "data", "debian");
  api::ApplyVmiDefaults(&vmi);
  vmi.metadata.creation_timestamp = At(seconds(-60));
  VmiObservation obs = Observe(vmi);
  ClaimInfo claim(VolumeMode::kFilesystem);
  claim.data_volume = "debian";
  obs.claims["debian"] = claim;
  obs.data_volumes["debian"] = {"ImportInProgress", "3.00%", "", false};
  VmiDecision d = DecideVmi(obs);
  EXPECT_FALSE(d.create_pod.has_value());
  const api::Condition* ready = api::FindCondition(d.status->conditions, "DataVolumesReady");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, "False");
  obs.data_volumes["debian"].phase = "Succeeded";
  EXPECT_TRUE(DecideVmi(obs).create_pod.has_value());
}

}  // namespace
}  // namespace vireo::controllers
