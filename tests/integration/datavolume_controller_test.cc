// T1: vireo-controller's DataVolumes against the real apiserver, the
// controller running as its ServiceAccount. The test plays the kubelet and
// the volume binder: it binds claims and writes the importer pod's status
// (running, then its exit code and termination message as
// lib/api/importer_pod.h defines them), and checks the claim, the importer
// pod, the DataVolume's status and Events after each step; then the VM side
// (dataVolumeTemplates, a VMI waiting for its DataVolume) and clones.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "lib/api/importer_pod.h"
#include "lib/api/resources.h"
#include "tests/integration/controller_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::testing {
namespace {

using base::Json;
using ::testing::HasSubstr;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

constexpr char kImageUrl[] = "http://images.example/disk.qcow2";

// The claim a DataVolume asking for 1Gi in spec.storage gets: room for the
// filesystem's overhead on top.
std::string ClaimRequestFor1Gi() {
  return std::to_string(api::importer::ClaimBytesForDisk(int64_t{1} << 30));
}

std::string Uid(const Json& o) { return base::UidOf(o); }

// The condition of `type`, or null.
Json Condition(const Json& object, const std::string& type) {
  const Json* conditions = base::Find(object, "status.conditions");
  if (conditions == nullptr || !conditions->is_array()) return Json();
  for (const Json& c : *conditions) {
    if (base::GetString(c, "type") == type) return c;
  }
  return Json();
}

std::string ConditionReason(const Json& object, const std::string& type) {
  Json c = Condition(object, type);
  return c.is_null() ? "" : base::GetString(c, "reason");
}

std::string DvPhase(const Json& dv) { return base::GetString(dv, "status.phase"); }

std::vector<std::string> Strings(const Json* array) {
  std::vector<std::string> out;
  if (array == nullptr || !array->is_array()) return out;
  for (const Json& s : *array) out.push_back(s.is_string() ? s.get<std::string>() : "");
  return out;
}

class DataVolumeControllerTest : public ControllerTest {
 protected:
  // Every test gets a default StorageClass of its own (cluster-scoped, so
  // named after the test's namespace), made before the controller starts
  // so its cache holds it from the first reconcile.
  void SetUp() override {
    auto admin = ClusterEnv::Get().AdminClient();
    default_class_ =
        "t1-default-" + std::to_string(getpid()) + "-" + std::to_string(++classes_made_);
    ASSERT_TRUE(admin->Create(res::kStorageClasses, "", StorageClass(default_class_, true)).ok());
    ControllerTest::SetUp();
  }
  void TearDown() override {
    ControllerTest::TearDown();
    auto admin = ClusterEnv::Get().AdminClient();
    for (const std::string& name : classes_) (void)admin->Delete(res::kStorageClasses, "", name);
    (void)admin->Delete(res::kStorageClasses, "", default_class_);
  }
  // Retries follow each other in 1 s, 2 s instead of 10 s, 20 s.
  std::vector<std::string> ExtraControllerFlags() const override {
    return {"--import-retry-delay=1s"};
  }

  static Json StorageClass(const std::string& name, bool is_default) {
    Json sc = JsonOf(R"({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
      "provisioner": "example.com/none", "volumeBindingMode": "WaitForFirstConsumer"})");
    sc["metadata"]["name"] = Json(name);
    if (is_default) {
      sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] = Json("true");
    }
    return sc;
  }
  void CreateStorageClass(const std::string& name) {
    classes_.push_back(name);
    auto created = admin_->Create(res::kStorageClasses, "", StorageClass(name, false));
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  static Json HttpDataVolume(const std::string& name, const std::string& storage_extra = "") {
    return JsonOf(R"({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
      "metadata": {"name": ")" +
                  name + R"("},
      "spec": {"source": {"http": {"url": ")" +
                  kImageUrl + R"("}},
               "storage": {)" +
                  storage_extra + R"("resources": {"requests": {"storage": "1Gi"}}}}})");
  }
  Json CreateDataVolume(const Json& dv) {
    auto created = admin_->Create(kv::kDataVolumes, ns_, dv);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : Json();
  }
  Json WaitDv(const std::string& name, const std::string& phase) {
    return WaitFor(
        kv::kDataVolumes, name, [&](const Json& o) { return DvPhase(o) == phase; },
        "DataVolume " + name + " " + phase);
  }

  // The importer pod of DataVolume `dv`, not `old_uid`.
  Json WaitImporter(const std::string& dv, const std::string& old_uid = "") {
    return WaitFor(
        res::kPods, "importer-" + dv,
        [&](const Json& o) {
          return Uid(o) != old_uid && base::Find(o, "metadata.deletionTimestamp") == nullptr;
        },
        "a new importer pod for " + dv);
  }
  // The volume binder's part: the claim is Bound with its request as capacity.
  void BindClaim(const std::string& name) {
    auto claim = Get(res::kPersistentVolumeClaims, name);
    ASSERT_TRUE(claim.has_value()) << "no claim " << name;
    const std::string size = base::GetString(*claim, "spec.resources.requests.storage");
    ASSERT_TRUE(PatchStatus(res::kPersistentVolumeClaims, name,
                            R"({"status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                                "capacity": {"storage": ")" +
                                size + R"("}}})")
                    .ok());
  }
  void ImporterRunning(const std::string& pod) {
    ASSERT_TRUE(kubelet_->Bind(pod).ok());
    ASSERT_TRUE(PatchStatus(res::kPods, pod, R"({"status": {"phase": "Running",
      "conditions": [{"type": "PodScheduled", "status": "True"}],
      "containerStatuses": [{"name": "importer", "image": "vireo-launcher:t1", "imageID": "",
        "ready": true, "restartCount": 0, "started": true,
        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}})")
                    .ok());
  }
  // The importer ended with `code` and wrote `message` to its termination log.
  void ImporterExited(const std::string& pod, int code, const std::string& message) {
    Json status = JsonOf(R"({"status": {
      "conditions": [{"type": "PodScheduled", "status": "True"}],
      "containerStatuses": [{"name": "importer", "image": "vireo-launcher:t1", "imageID": "",
        "ready": false, "restartCount": 0, "started": false,
        "state": {"terminated": {"startedAt": "2026-01-01T00:00:00Z",
                                 "finishedAt": "2026-01-01T00:01:00Z"}}}]}})");
    status["status"]["phase"] = Json(code == 0 ? "Succeeded" : "Failed");
    Json& terminated = status["status"]["containerStatuses"][0]["state"]["terminated"];
    terminated["exitCode"] = Json(code);
    terminated["reason"] = Json(code == 0 ? "Completed" : "Error");
    terminated["message"] = Json(message + "\n");
    ASSERT_TRUE(
        admin_->Patch(res::kPods, ns_, pod, kube::PatchType::kMerge, status, "status").ok());
  }
  // Claim, importer pod, Bound, running, exit 0: the DataVolume Succeeded.
  Json ImportToSucceeded(const std::string& name) {
    WaitFor(
        res::kPersistentVolumeClaims, name, [](const Json&) { return true; }, "claim " + name);
    Json pod = WaitImporter(name);
    BindClaim(name);
    ImporterRunning(base::NameOf(pod));
    WaitDv(name, "ImportInProgress");
    ImporterExited(base::NameOf(pod), 0, "imported 1 bytes from " + std::string(kImageUrl));
    return WaitDv(name, "Succeeded");
  }

  // The Events about DataVolume `name` with `reason`.
  std::vector<Json> DvEvents(const std::string& name, const std::string& reason) const {
    kube::ListOptions options;
    options.field_selector = "involvedObject.kind=DataVolume,involvedObject.name=" + name;
    auto list = admin_->List(res::kEvents, ns_, options);
    std::vector<Json> events;
    if (!list.ok()) return events;
    for (const Json& e : list->items) {
      if (base::GetString(e, "reason") == reason) events.push_back(e);
    }
    return events;
  }
  Json WaitDvEvent(const std::string& name, const std::string& reason) {
    if (!WaitForEvent("DataVolume", name, reason)) return Json();
    auto events = DvEvents(name, reason);
    return events.empty() ? Json() : events.back();
  }

  static inline int classes_made_ = 0;
  std::string default_class_;
  std::vector<std::string> classes_;
};

TEST_F(DataVolumeControllerTest, HttpImportMakesItsClaimAndImporterPod) {
  Json dv = CreateDataVolume(HttpDataVolume("disk"));
  Json claim = WaitFor(
      res::kPersistentVolumeClaims, "disk", [](const Json&) { return true; }, "the claim");
  const Json& owner = claim.at("metadata").at("ownerReferences").at(0);
  EXPECT_EQ(base::GetString(owner, "kind"), "DataVolume");
  EXPECT_EQ(base::GetString(owner, "uid"), Uid(dv));
  EXPECT_EQ(base::GetBool(owner, "controller"), std::optional<bool>(true));
  EXPECT_EQ(base::GetString(claim, "spec.resources.requests.storage"), ClaimRequestFor1Gi());
  EXPECT_THAT(Strings(base::Find(claim, "spec.accessModes")),
              ::testing::ElementsAre("ReadWriteOnce"));
  // The cluster's default class, filled in by the apiserver.
  EXPECT_FALSE(base::GetString(claim, "spec.storageClassName").empty());

  Json pod = WaitImporter("disk");
  EXPECT_EQ(pod.at("metadata").at("ownerReferences").at(0).at("uid").get<std::string>(), Uid(dv));
  EXPECT_EQ(base::GetBool(pod, "spec.automountServiceAccountToken"), std::optional<bool>(false));
  EXPECT_EQ(base::GetInt(pod, "spec.securityContext.runAsUser"), std::optional<int64_t>(107));
  EXPECT_EQ(base::GetString(pod, "spec.restartPolicy"), "Never");
  const Json& container = pod.at("spec").at("containers").at(0);
  EXPECT_EQ(base::GetString(container, "image"), "vireo-launcher:t1");
  EXPECT_THAT(Strings(base::Find(container, "command")),
              ::testing::ElementsAre("vireo-launcher", "import", "--source=http",
                                     "--claim-bytes=" + ClaimRequestFor1Gi(),
                                     "--url=" + std::string(kImageUrl)));
  // The claim is the pod's, mounted where the importer writes disk.img.
  EXPECT_THAT(base::DumpJson(pod.at("spec").at("volumes")), HasSubstr(R"("claimName":"disk")"));
  EXPECT_THAT(base::DumpJson(container), HasSubstr(api::importer::kTargetDir));

  Json scheduled = WaitDv("disk", "ImportScheduled");
  EXPECT_EQ(base::GetString(scheduled, "status.claimName"), "disk");
  EXPECT_EQ(base::GetString(scheduled, "status.progress"), "N/A");
  EXPECT_EQ(ConditionReason(scheduled, "Bound"), "Pending");
  WaitDvEvent("disk", "ImportScheduled");
  std::string out;
  ASSERT_EQ(env_->Kubectl("get dv disk -n " + ns_, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("ImportScheduled"));
  EXPECT_THAT(out, HasSubstr("PROGRESS"));
}

TEST_F(DataVolumeControllerTest, TheImporterRunsAndSucceeds) {
  CreateDataVolume(HttpDataVolume("disk"));
  Json pod = WaitImporter("disk");
  BindClaim("disk");
  WaitFor(
      kv::kDataVolumes, "disk", [](const Json& o) { return ConditionOf(o, "Bound") == "True"; },
      "Bound True once the claim is");
  ImporterRunning(base::NameOf(pod));
  Json running = WaitDv("disk", "ImportInProgress");
  EXPECT_EQ(ConditionOf(running, "Running"), "True");
  EXPECT_EQ(ConditionOf(running, "Ready"), "False");

  ImporterExited(base::NameOf(pod), 0, "imported 1073741824 bytes from http://images.example");
  Json done = WaitDv("disk", "Succeeded");
  EXPECT_EQ(base::GetString(done, "status.progress"), "100.0%");
  EXPECT_EQ(ConditionOf(done, "Ready"), "True");
  EXPECT_EQ(ConditionOf(done, "Bound"), "True");
  EXPECT_EQ(ConditionOf(done, "Running"), "False");
  EXPECT_THAT(base::GetString(Condition(done, "Running"), "message"),
              HasSubstr("imported 1073741824 bytes"));
  Json event = WaitDvEvent("disk", "ImportSucceeded");
  EXPECT_EQ(base::GetString(event, "type"), "Normal");
  EXPECT_TRUE(WaitGone(res::kPods, "importer-disk")) << "the importer pod goes once it is done";
  EXPECT_TRUE(Get(res::kPersistentVolumeClaims, "disk").has_value());
}

TEST_F(DataVolumeControllerTest, ASourceNotFoundFailsAtOnceAndKeepsTheClaim) {
  CreateDataVolume(HttpDataVolume("gone"));
  Json pod = WaitImporter("gone");
  ImporterRunning(base::NameOf(pod));
  WaitDv("gone", "ImportInProgress");
  ImporterExited(base::NameOf(pod), api::importer::kSourceNotFound,
                 "HTTP 404 Not Found: " + std::string(kImageUrl));
  Json failed = WaitDv("gone", "Failed");
  EXPECT_EQ(ConditionReason(failed, "Running"), "ImportSourceNotFound");
  EXPECT_THAT(base::GetString(Condition(failed, "Running"), "message"), HasSubstr("HTTP 404"));
  EXPECT_EQ(ConditionOf(failed, "Ready"), "False");
  Json event = WaitDvEvent("gone", "ImportSourceNotFound");
  EXPECT_EQ(base::GetString(event, "type"), "Warning");
  EXPECT_THAT(base::GetString(event, "message"), HasSubstr("HTTP 404"));
  EXPECT_TRUE(WaitGone(res::kPods, "importer-gone"));
  // Final: no second pod, and the claim stays.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_FALSE(Get(res::kPods, "importer-gone").has_value());
  auto claim = Get(res::kPersistentVolumeClaims, "gone");
  ASSERT_TRUE(claim.has_value());
  EXPECT_EQ(base::Find(*claim, "metadata.deletionTimestamp"), nullptr);
  EXPECT_EQ(DvPhase(*Get(kv::kDataVolumes, "gone")), "Failed");
}

TEST_F(DataVolumeControllerTest, AnUnreachableSourceIsRetriedThreeTimes) {
  CreateDataVolume(HttpDataVolume("flaky"));
  Json pod = WaitImporter("flaky");
  std::vector<std::string> uids;
  for (int attempt = 0; attempt < 3; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt + 1));
    uids.push_back(Uid(pod));
    EXPECT_EQ(pod.at("metadata").at("labels").at("vireo.io/attempt").get<std::string>(),
              std::to_string(attempt));
    ImporterExited(base::NameOf(pod), api::importer::kSourceUnreachable,
                   "connect to images.example:80: connection refused");
    if (attempt == 2) break;
    Json pending = WaitFor(
        kv::kDataVolumes, "flaky",
        [&](const Json& o) { return base::GetInt(o, "status.restartCount") == attempt + 1; },
        "restartCount " + std::to_string(attempt + 1));
    EXPECT_NE(DvPhase(pending), "Failed");
    EXPECT_EQ(ConditionReason(pending, "Running"), "ImportSourceUnreachable");
    // After the back-off (1 s, then 2 s) a new pod of the same name.
    pod = WaitImporter("flaky", Uid(pod));
  }
  Json failed = WaitDv("flaky", "Failed");
  EXPECT_EQ(base::GetInt(failed, "status.restartCount"), std::optional<int64_t>(3));
  EXPECT_EQ(ConditionReason(failed, "Running"), "ImportSourceUnreachable");
  EXPECT_THAT(base::GetString(Condition(failed, "Running"), "message"),
              HasSubstr("connection refused"));
  Json event = WaitDvEvent("flaky", "ImportSourceUnreachable");
  EXPECT_EQ(base::GetString(event, "type"), "Warning");
  EXPECT_TRUE(WaitGone(res::kPods, "importer-flaky"));
  // Bounded: no fourth attempt, even after longer than its back-off would be.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  EXPECT_FALSE(Get(res::kPods, "importer-flaky").has_value());
  EXPECT_EQ(DvPhase(*Get(kv::kDataVolumes, "flaky")), "Failed");
  std::sort(uids.begin(), uids.end());
  EXPECT_EQ(std::unique(uids.begin(), uids.end()), uids.end()) << "three distinct pods";
}

TEST_F(DataVolumeControllerTest, AMissingStorageClassHoldsTheClaimUntilItExists) {
  const std::string missing = "missing-" + ns_;
  CreateDataVolume(HttpDataVolume("later", R"("storageClassName": ")" + missing + R"(", )"));
  Json waiting = WaitFor(
      kv::kDataVolumes, "later",
      [](const Json& o) { return ConditionReason(o, "Bound") == "StorageClassNotFound"; },
      "Bound False StorageClassNotFound");
  EXPECT_EQ(ConditionOf(waiting, "Bound"), "False");
  EXPECT_EQ(DvPhase(waiting), "Pending");
  EXPECT_THAT(base::GetString(Condition(waiting, "Bound"), "message"), HasSubstr(missing));
  Json event = WaitDvEvent("later", "StorageClassNotFound");
  EXPECT_EQ(base::GetString(event, "type"), "Warning");
  // Said once, however often the DataVolume is looked at.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto events = DvEvents("later", "StorageClassNotFound");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(base::GetInt(events[0], "count").value_or(1), 1);
  EXPECT_FALSE(Get(res::kPersistentVolumeClaims, "later").has_value());

  CreateStorageClass(missing);
  Json claim = WaitFor(
      res::kPersistentVolumeClaims, "later", [](const Json&) { return true; },
      "the claim once its StorageClass exists");
  EXPECT_EQ(base::GetString(claim, "spec.storageClassName"), missing);
  WaitImporter("later");
}

TEST_F(DataVolumeControllerTest, AClaimItDidNotMakeIsLeftAlone) {
  auto created = admin_->Create(res::kPersistentVolumeClaims, ns_, JsonOf(R"({
    "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "taken"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}})"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string version = base::ResourceVersionOf(*created);
  CreateDataVolume(HttpDataVolume("taken"));
  Json waiting = WaitFor(
      kv::kDataVolumes, "taken",
      [](const Json& o) { return ConditionReason(o, "Bound") == "ClaimNotOwned"; },
      "Bound False ClaimNotOwned");
  EXPECT_EQ(DvPhase(waiting), "Pending");
  Json event = WaitDvEvent("taken", "ClaimNotOwned");
  EXPECT_EQ(base::GetString(event, "type"), "Warning");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto claim = Get(res::kPersistentVolumeClaims, "taken");
  ASSERT_TRUE(claim.has_value());
  EXPECT_EQ(base::ResourceVersionOf(*claim), version) << "the claim was written to";
  EXPECT_FALSE(Get(res::kPods, "importer-taken").has_value());
}

TEST_F(DataVolumeControllerTest, AVmWaitsForItsDataVolumeTemplate) {
  Json vm = NewVm("vm-dv", "Always");
  vm["spec"]["dataVolumeTemplates"] = JsonOf(R"([{"metadata": {"name": "vm-dv-root"},
    "spec": {"source": {"http": {"url": "http://images.example/disk.qcow2"}},
             "storage": {"resources": {"requests": {"storage": "1Gi"}}}}}])");
  vm["spec"]["template"]["spec"]["volumes"][0] =
      JsonOf(R"({"name": "root", "dataVolume": {"name": "vm-dv-root"}})");
  auto created = admin_->Create(kv::kVirtualMachines, ns_, vm);
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  Json dv = WaitFor(
      kv::kDataVolumes, "vm-dv-root", [](const Json&) { return true; }, "the DataVolume");
  const Json& owner = dv.at("metadata").at("ownerReferences").at(0);
  EXPECT_EQ(base::GetString(owner, "kind"), "VirtualMachine");
  EXPECT_EQ(base::GetString(owner, "uid"), Uid(*created));
  EXPECT_EQ(base::GetBool(owner, "controller"), std::optional<bool>(true));

  Json vmi = WaitFor(
      kv::kVirtualMachineInstances, "vm-dv",
      [](const Json& o) { return ConditionOf(o, "DataVolumesReady") == "False"; },
      "VMI with DataVolumesReady False");
  WaitFor(
      kv::kVirtualMachines, "vm-dv",
      [](const Json& o) { return PrintableStatusOf(o) == "Provisioning"; }, "VM Provisioning");
  WaitImporter("vm-dv-root");
  EXPECT_TRUE(PodsOf(Uid(vmi)).empty()) << "no launcher pod before the DataVolume Succeeded";

  ImportToSucceeded("vm-dv-root");
  Json pod = WaitForPod(Uid(vmi));
  WaitFor(
      kv::kVirtualMachineInstances, "vm-dv",
      [](const Json& o) { return ConditionOf(o, "DataVolumesReady") == "True"; },
      "DataVolumesReady True");
  auto annotation = base::ParseJson(
      pod.at("metadata").at("annotations").at("vireo.io/vmi").get<std::string>(), "vireo.io/vmi");
  ASSERT_TRUE(annotation.ok()) << annotation.status().ToString();
  const Json* statuses = base::Find(*annotation, "status.volumeStatus");
  ASSERT_NE(statuses, nullptr) << base::DumpJson(*annotation);
  ASSERT_EQ(statuses->size(), 1u) << base::DumpJson(*statuses);
  const Json& info = statuses->at(0).at("persistentVolumeClaimInfo");
  EXPECT_EQ(base::GetString(statuses->at(0), "name"), "root");
  EXPECT_EQ(base::GetString(info, "claimName"), "vm-dv-root");
  EXPECT_EQ(base::GetString(info, "requests.storage"), ClaimRequestFor1Gi());
  EXPECT_EQ(base::GetString(info, "capacity.storage"), ClaimRequestFor1Gi());
  EXPECT_EQ(base::GetString(info, "filesystemOverhead"), "0.055");
  // The claim reaches the launcher as its volume.
  EXPECT_THAT(base::DumpJson(pod.at("spec").at("volumes")),
              HasSubstr(R"("claimName":"vm-dv-root")"));

  // The DataVolume belongs to the VM: the garbage collector removes it.
  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachines, ns_, "vm-dv").ok());
  EXPECT_TRUE(WaitGone(kv::kVirtualMachines, "vm-dv"));
  EXPECT_TRUE(WaitGone(kv::kDataVolumes, "vm-dv-root")) << "the DataVolume outlived its VM";
}

TEST_F(DataVolumeControllerTest, ACloneWaitsWhileItsSourceIsInUse) {
  ImportToSucceeded(base::NameOf(CreateDataVolume(HttpDataVolume("golden"))));
  const std::string source_request = base::GetString(*Get(res::kPersistentVolumeClaims, "golden"),
                                                     "spec.resources.requests.storage");
  ASSERT_EQ(source_request, ClaimRequestFor1Gi());

  Json vmi = MakeVm("user")["spec"]["template"];
  vmi["apiVersion"] = Json("kubevirt.io/v1");
  vmi["kind"] = Json("VirtualMachineInstance");
  vmi["metadata"] = JsonOf(R"({"name": "user"})");
  vmi["spec"]["volumes"][0] =
      JsonOf(R"({"name": "root", "persistentVolumeClaim": {"claimName": "golden"}})");
  ASSERT_TRUE(admin_->Create(kv::kVirtualMachineInstances, ns_, vmi).ok());
  WaitFor(
      kv::kVirtualMachineInstances, "user", [](const Json& o) { return !PhaseOf(o).empty(); },
      "VMI user seen by the controller");

  CreateDataVolume(JsonOf(R"({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
    "metadata": {"name": "copy"},
    "spec": {"source": {"pvc": {"name": "golden"}}, "storage": {}}})"));
  Json claim = WaitFor(
      res::kPersistentVolumeClaims, "copy", [](const Json&) { return true; }, "the clone's claim");
  EXPECT_EQ(base::GetString(claim, "spec.resources.requests.storage"), source_request)
      << "a clone without a size takes its source's";
  Json waiting = WaitFor(
      kv::kDataVolumes, "copy",
      [](const Json& o) { return ConditionReason(o, "Running") == "CloneSourceInUse"; },
      "Running False CloneSourceInUse");
  EXPECT_THAT(base::GetString(Condition(waiting, "Running"), "message"), HasSubstr("user"));
  EXPECT_EQ(DvPhase(waiting), "Pending");
  WaitDvEvent("copy", "CloneSourceInUse");
  EXPECT_FALSE(Get(res::kPods, "importer-copy").has_value());

  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachineInstances, ns_, "user").ok());
  ASSERT_TRUE(WaitGone(kv::kVirtualMachineInstances, "user"));
  Json pod = WaitImporter("copy");
  const Json& container = pod.at("spec").at("containers").at(0);
  EXPECT_THAT(Strings(base::Find(container, "command")), ::testing::Contains("--source=pvc"));
  bool source_read_only = false;
  std::string source_volume;
  for (const Json& v : pod.at("spec").at("volumes")) {
    if (base::GetString(v, "persistentVolumeClaim.claimName") == "golden") {
      source_volume = base::GetString(v, "name");
      source_read_only = base::GetBool(v, "persistentVolumeClaim.readOnly").value_or(false);
    }
  }
  ASSERT_FALSE(source_volume.empty()) << "the source claim is not a volume of the pod";
  EXPECT_TRUE(source_read_only);
  bool mounted_read_only = false;
  for (const Json& m : container.at("volumeMounts")) {
    if (base::GetString(m, "name") == source_volume) {
      EXPECT_EQ(base::GetString(m, "mountPath"), api::importer::kSourceDir);
      mounted_read_only = base::GetBool(m, "readOnly").value_or(false);
    }
  }
  EXPECT_TRUE(mounted_read_only);
  WaitDv("copy", "CloneScheduled");
}

}  // namespace
}  // namespace vireo::testing
