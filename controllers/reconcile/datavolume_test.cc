// T0: DecideDataVolume from a new DataVolume to Succeeded or Failed, the
// claim and importer pod it renders, and the bad inputs of issue 12 (no
// StorageClass, a claim it does not own, a failing import retried a bounded
// number of times).
#include "controllers/reconcile/datavolume.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/reconcile/test_util.h"
#include "lib/api/importer_pod.h"

namespace vireo::controllers {
namespace {

using ::testing::HasSubstr;
using testing::Now;
using testing::ParseOrDie;

constexpr char kDvUid[] = "d0000000-0000-4000-8000-000000000001";

api::DataVolume HttpDv() {
  auto dv = api::DataVolumeFromJson(ParseOrDie(R"({
    "metadata": {"name": "debian", "namespace": "vms", "uid": "d0000000-0000-4000-8000-000000000001"},
    "spec": {"source": {"http": {"url": "http://images.vms/debian.qcow2.xz"}},
             "storage": {"resources": {"requests": {"storage": "2Gi"}}}}})"));
  EXPECT_TRUE(dv.ok()) << dv.status().ToString();
  return *dv;
}

DataVolumeObservation Observe(api::DataVolume dv) {
  DataVolumeObservation obs;
  obs.dv = std::move(dv);
  obs.storage_class = "local-path";
  obs.storage_class_exists = true;
  obs.config.image = "vireo.local/launcher:dev";
  obs.now = Now();
  return obs;
}

// The claim as the controller made it, bound.
Json OwnClaim(const DataVolumeObservation& obs, const char* phase = "Bound") {
  Json claim = *RenderClaim(obs.dv, std::nullopt);
  claim["metadata"]["uid"] = Json("c1");
  claim["status"]["phase"] = Json(phase);
  return claim;
}

Json PodIn(const DataVolumeObservation& obs, const char* status_json) {
  Json pod = *RenderImporterPod(obs.dv, *obs.claim, std::nullopt, obs.config);
  pod["metadata"]["uid"] = Json("p1");
  pod["status"] = ParseOrDie(status_json);
  return pod;
}

Json Terminated(int code, const char* message) {
  Json status = ParseOrDie(R"({"phase": "Failed", "containerStatuses": [{"name": "importer",
      "state": {"terminated": {"exitCode": 0, "message": ""}}}]})");
  if (code == 0) status["phase"] = Json("Succeeded");
  status["containerStatuses"][0]["state"]["terminated"]["exitCode"] = Json(code);
  status["containerStatuses"][0]["state"]["terminated"]["message"] = Json(message);
  return status;
}

const api::Condition& ConditionOf(const api::DataVolumeStatus& status, const char* type) {
  const api::Condition* c = api::FindCondition(status.conditions, type);
  EXPECT_NE(c, nullptr) << type;
  static api::Condition none;
  return c != nullptr ? *c : none;
}

TEST(DataVolumeDecision, MakesTheClaimWithRoomForTheFilesystem) {
  DataVolumeObservation obs = Observe(HttpDv());
  DataVolumeDecision d = DecideDataVolume(obs);
  ASSERT_TRUE(d.create_claim.has_value());
  const Json& claim = *d.create_claim;
  EXPECT_EQ(base::NameOf(claim), "debian");
  // 2 GiB of disk needs 2168 MiB of claim at 5.5% overhead.
  const std::string request = base::GetString(claim, "spec.resources.requests.storage");
  EXPECT_EQ(request, std::to_string(api::importer::ClaimBytesForDisk(2LL << 30)));
  EXPECT_EQ(base::Find(claim, "spec.accessModes")->at(0).get<std::string>(), "ReadWriteOnce");
  EXPECT_EQ(base::GetString(claim, "metadata.ownerReferences.0.uid", "?"), "?");  // path syntax
  EXPECT_EQ(claim.at("metadata").at("ownerReferences").at(0).at("uid").get<std::string>(), kDvUid);
  EXPECT_FALSE(d.create_pod.has_value());
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, "Pending");
  EXPECT_EQ(d.status->progress, "N/A");
}

TEST(DataVolumeDecision, ThePvcFormIsTakenAsWritten) {
  auto dv = api::DataVolumeFromJson(ParseOrDie(R"({
    "metadata": {"name": "blank", "namespace": "vms", "uid": "u"},
    "spec": {"source": {"blank": {}},
             "pvc": {"accessModes": ["ReadWriteMany"], "storageClassName": "fast",
                     "resources": {"requests": {"storage": "1Gi"}}}}})"));
  ASSERT_TRUE(dv.ok());
  Json claim = *RenderClaim(*dv, std::nullopt);
  EXPECT_EQ(base::GetString(claim, "spec.resources.requests.storage"), "1Gi");
  EXPECT_EQ(base::GetString(claim, "spec.storageClassName"), "fast");
  EXPECT_EQ(base::Find(claim, "spec.accessModes")->at(0).get<std::string>(), "ReadWriteMany");
  EXPECT_EQ(base::Find(claim, "spec.volumeMode"), nullptr);
}

TEST(DataVolumeDecision, AMissingStorageClassWaitsWithAConditionAndOneEvent) {
  DataVolumeObservation obs = Observe(HttpDv());
  obs.storage_class = "gold";
  obs.storage_class_exists = false;
  DataVolumeDecision d = DecideDataVolume(obs);
  EXPECT_FALSE(d.create_claim.has_value());
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, "Pending");
  const api::Condition& bound = ConditionOf(*d.status, "Bound");
  EXPECT_EQ(bound.reason, "StorageClassNotFound");
  EXPECT_THAT(bound.message, HasSubstr("StorageClass gold not found"));
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].type, kube::EventType::kWarning);
  // Seen again: nothing new to write or say, and no polling.
  obs.dv.status = *d.status;
  DataVolumeDecision again = DecideDataVolume(obs);
  EXPECT_FALSE(again.status.has_value());
  EXPECT_TRUE(again.events.empty());
  EXPECT_FALSE(again.requeue_after.has_value());
}

TEST(DataVolumeDecision, NeverTouchesAClaimItDidNotMake) {
  DataVolumeObservation obs = Observe(HttpDv());
  Json claim = OwnClaim(obs);
  claim["metadata"].erase("ownerReferences");
  obs.claim = claim;
  DataVolumeDecision d = DecideDataVolume(obs);
  EXPECT_FALSE(d.create_pod.has_value());
  EXPECT_FALSE(d.create_claim.has_value());
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(ConditionOf(*d.status, "Bound").reason, "ClaimNotOwned");
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_THAT(d.events[0].message, HasSubstr("its data is left alone"));
}

TEST(DataVolumeDecision, RendersTheImporterPodOfTheContract) {
  DataVolumeObservation obs = Observe(HttpDv());
  obs.claim = OwnClaim(obs, "Pending");  // WaitForFirstConsumer: the importer binds it
  DataVolumeDecision d = DecideDataVolume(obs);
  ASSERT_TRUE(d.create_pod.has_value());
  const Json& pod = *d.create_pod;
  EXPECT_EQ(base::NameOf(pod), "importer-debian");
  const Json& c = pod.at("spec").at("containers").at(0);
  EXPECT_EQ(c.at("command").at(1).get<std::string>(), "import");
  EXPECT_EQ(c.at("command").at(2).get<std::string>(), "--source=http");
  const int64_t claim_bytes = api::importer::ClaimBytesForDisk(2LL << 30);
  EXPECT_EQ(c.at("command").at(3).get<std::string>(),
            "--claim-bytes=" + std::to_string(claim_bytes));
  EXPECT_EQ(c.at("command").at(4).get<std::string>(), "--url=http://images.vms/debian.qcow2.xz");
  EXPECT_EQ(c.at("volumeMounts").at(0).at("mountPath").get<std::string>(),
            api::importer::kTargetDir);
  EXPECT_FALSE(pod.at("spec").at("automountServiceAccountToken").get<bool>());
  EXPECT_EQ(pod.at("spec").at("securityContext").at("runAsUser").get<int>(), 107);
  EXPECT_EQ(c.at("securityContext").at("capabilities").at("drop").at(0).get<std::string>(), "ALL");
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, "ImportScheduled");
  EXPECT_EQ(ConditionOf(*d.status, "Bound").status, "False");
}

TEST(DataVolumeDecision, ARegistryImportCopiesTheImagesFileFirst) {
  auto dv = api::DataVolumeFromJson(ParseOrDie(R"({
    "metadata": {"name": "cd", "namespace": "vms", "uid": "u"},
    "spec": {"source": {"registry": {"url": "docker://vireo.local/debian-cloud:12"}},
             "storage": {"resources": {"requests": {"storage": "3Gi"}}}}})"));
  ASSERT_TRUE(dv.ok());
  DataVolumeObservation obs = Observe(*dv);
  obs.claim = OwnClaim(obs);
  Json pod = *RenderImporterPod(obs.dv, *obs.claim, std::nullopt, obs.config);
  const Json& init = pod.at("spec").at("initContainers");
  ASSERT_EQ(init.size(), 2u);
  EXPECT_EQ(init.at(1).at("name").get<std::string>(), kImageCopyContainer);
  EXPECT_EQ(init.at(1).at("image").get<std::string>(), "vireo.local/debian-cloud:12");
  EXPECT_EQ(init.at(1).at("volumeMounts").at(1).at("mountPath").get<std::string>(),
            api::importer::kImageDir);
}

TEST(DataVolumeDecision, ACloneWaitsWhileAVmRunsOnItsSource) {
  auto dv = api::DataVolumeFromJson(ParseOrDie(R"({
    "metadata": {"name": "copy", "namespace": "vms", "uid": "u"},
    "spec": {"source": {"pvc": {"name": "debian"}}, "storage": {}}})"));
  ASSERT_TRUE(dv.ok());
  DataVolumeObservation obs = Observe(*dv);
  Json source = ParseOrDie(R"({"metadata": {"name": "debian"},
      "spec": {"resources": {"requests": {"storage": "2168Mi"}}}})");
  obs.source_claim = source;
  // No size: the source's.
  DataVolumeDecision first = DecideDataVolume(obs);
  ASSERT_TRUE(first.create_claim.has_value());
  EXPECT_EQ(base::GetString(*first.create_claim, "spec.resources.requests.storage"), "2168Mi");
  obs.claim = *first.create_claim;
  (*obs.claim)["status"]["phase"] = Json("Bound");
  obs.source_in_use_by = "debian-vm";
  DataVolumeDecision d = DecideDataVolume(obs);
  EXPECT_FALSE(d.create_pod.has_value());
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(ConditionOf(*d.status, "Running").reason, "CloneSourceInUse");
  obs.source_in_use_by = "";
  DataVolumeDecision go = DecideDataVolume(obs);
  ASSERT_TRUE(go.create_pod.has_value());
  EXPECT_EQ(go.status->phase, "CloneScheduled");
  const Json& mounts = go.create_pod->at("spec").at("containers").at(0).at("volumeMounts");
  bool source_read_only = false;
  for (const Json& m : mounts) {
    if (m.at("mountPath").get<std::string>() == api::importer::kSourceDir) {
      source_read_only = base::GetBool(m, "readOnly").value_or(false);
    }
  }
  EXPECT_TRUE(source_read_only);
}

TEST(DataVolumeDecision, ACloneFromAnotherNamespaceIsRefused) {
  auto dv = api::DataVolumeFromJson(ParseOrDie(R"({
    "metadata": {"name": "copy", "namespace": "vms", "uid": "u"},
    "spec": {"source": {"pvc": {"namespace": "golden", "name": "debian"}}, "storage": {}}})"));
  ASSERT_TRUE(dv.ok());
  DataVolumeDecision d = DecideDataVolume(Observe(*dv));
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, "Failed");
  EXPECT_THAT(ConditionOf(*d.status, "Running").message, HasSubstr("another namespace"));
  EXPECT_FALSE(d.create_claim.has_value());
}

TEST(DataVolumeDecision, RunningShowsTheImportersProgress) {
  DataVolumeObservation obs = Observe(HttpDv());
  obs.claim = OwnClaim(obs);
  obs.pods = {PodIn(obs, R"({"phase": "Running", "containerStatuses": [{"name": "importer",
                            "state": {"running": {}}}]})")};
  obs.progress = "45.20%";
  DataVolumeDecision d = DecideDataVolume(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, "ImportInProgress");
  EXPECT_EQ(d.status->progress, "45.20%");
  EXPECT_EQ(ConditionOf(*d.status, "Running").status, "True");
  EXPECT_TRUE(d.requeue_after.has_value());
}

TEST(DataVolumeDecision, SucceedsDeletesThePodAndKeepsTheClaim) {
  DataVolumeObservation obs = Observe(HttpDv());
  obs.claim = OwnClaim(obs);
  obs.pods = {PodIn(obs, "{}")};
  obs.pods[0]["status"] = Terminated(0, "imported 2147483648 bytes");
  DataVolumeDecision d = DecideDataVolume(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, "Succeeded");
  EXPECT_EQ(d.status->progress, "100.0%");
  EXPECT_EQ(ConditionOf(*d.status, "Ready").status, "True");
  ASSERT_EQ(d.delete_pods.size(), 1u);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "ImportSucceeded");
  EXPECT_THAT(d.events[0].message, HasSubstr("2147483648"));
}

TEST(DataVolumeDecision, AFailureThatWillNotPassFailsAtOnce) {
  DataVolumeObservation obs = Observe(HttpDv());
  obs.claim = OwnClaim(obs);
  obs.pods = {PodIn(obs, "{}")};
  obs.pods[0]["status"] = Terminated(api::importer::kSourceNotFound,
                                     "http://images.vms/debian.qcow2.xz: HTTP 404 Not Found");
  DataVolumeDecision d = DecideDataVolume(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, "Failed");
  EXPECT_EQ(d.status->restart_count, 1);
  const api::Condition& running = ConditionOf(*d.status, "Running");
  EXPECT_EQ(running.reason, "ImportSourceNotFound");
  EXPECT_THAT(running.message, HasSubstr("404"));
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "ImportSourceNotFound");
  EXPECT_FALSE(d.create_pod.has_value());
}

TEST(DataVolumeDecision, AnUnreachableSourceIsTriedABoundedNumberOfTimes) {
  DataVolumeObservation obs = Observe(HttpDv());
  obs.claim = OwnClaim(obs);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    obs.pods = {PodIn(obs, "{}")};
    obs.pods[0]["status"] =
        Terminated(api::importer::kSourceUnreachable, "connect to images.vms:80: refused");
    DataVolumeDecision failed = DecideDataVolume(obs);
    ASSERT_TRUE(failed.status.has_value());
    EXPECT_EQ(failed.status->restart_count, attempt);
    ASSERT_EQ(failed.delete_pods.size(), 1u);
    obs.dv.status = *failed.status;
    // Seen again before its deletion reached the cache: counted once.
    DataVolumeDecision twice = DecideDataVolume(obs);
    EXPECT_FALSE(twice.status.has_value());
    if (attempt == 3) {
      EXPECT_EQ(failed.status->phase, "Failed");
      EXPECT_THAT(failed.events[0].message, HasSubstr("no more"));
      break;
    }
    EXPECT_EQ(failed.status->phase, "Pending");
    ASSERT_TRUE(failed.requeue_after.has_value());
    const auto delay = *failed.requeue_after;
    EXPECT_EQ(delay, std::chrono::seconds(10 << (attempt - 1)));
    // Gone, too early: wait; on time: the next pod.
    obs.pods.clear();
    DataVolumeDecision early = DecideDataVolume(obs);
    EXPECT_FALSE(early.create_pod.has_value());
    EXPECT_TRUE(early.requeue_after.has_value());
    obs.now += delay;
    DataVolumeDecision next = DecideDataVolume(obs);
    ASSERT_TRUE(next.create_pod.has_value());
    obs.dv.status = *next.status;
  }
}

TEST(DataVolumeDecision, AnImageThatCannotBePulledEndsTheAttempt) {
  auto dv = api::DataVolumeFromJson(ParseOrDie(R"({
    "metadata": {"name": "cd", "namespace": "vms", "uid": "u"},
    "spec": {"source": {"registry": {"url": "docker://vireo.local/nothing:1"}},
             "storage": {"resources": {"requests": {"storage": "1Gi"}}}}})"));
  ASSERT_TRUE(dv.ok());
  DataVolumeObservation obs = Observe(*dv);
  obs.claim = OwnClaim(obs);
  obs.pods = {PodIn(obs, R"({"phase": "Pending", "initContainerStatuses": [
      {"name": "vireo-tools", "state": {"terminated": {"exitCode": 0}}},
      {"name": "copy-image", "image": "vireo.local/nothing:1",
       "state": {"waiting": {"reason": "ErrImageNeverPull", "message": "not present"}}}]})")};
  DataVolumeDecision d = DecideDataVolume(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, "Failed");
  EXPECT_THAT(ConditionOf(*d.status, "Running").message, HasSubstr("vireo.local/nothing:1"));
}

TEST(DataVolumeDecision, AnEndedDataVolumeOnlyCleansUp) {
  DataVolumeObservation obs = Observe(HttpDv());
  obs.claim = OwnClaim(obs);
  obs.dv.status.phase = "Succeeded";
  obs.dv.status.progress = "100.0%";
  obs.pods = {PodIn(obs, "{}")};
  DataVolumeDecision d = DecideDataVolume(obs);
  EXPECT_EQ(d.delete_pods.size(), 1u);
  EXPECT_FALSE(d.create_pod.has_value());
  EXPECT_FALSE(d.create_claim.has_value());
  EXPECT_FALSE(d.status.has_value());
}

TEST(DataVolumeDecision, LongNamesGiveValidPodNames) {
  const std::string name(60, 'a');
  EXPECT_EQ(ImporterPodName("x"), "importer-x");
  EXPECT_LE(ImporterPodName(name).size(), 63u);
  EXPECT_NE(ImporterPodName(name), ImporterPodName(name + "b"));
}

}  // namespace
}  // namespace vireo::controllers
