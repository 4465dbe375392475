// T0: decoding the DataVolume subset as CDI's manifests write it.
#include "lib/api/datavolume.h"

#include <gtest/gtest.h>

#include "lib/base/json.h"

namespace vireo::api {
namespace {

Json Parse(const char* text) { return base::ParseJson(text).value(); }

TEST(DataVolumeTest, DecodesAnHttpImportWithTheStorageApi) {
  auto dv = DataVolumeFromJson(Parse(R"({
    "apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
    "metadata": {"name": "fedora", "namespace": "vms", "uid": "u1"},
    "spec": {"source": {"http": {"url": "http://images/disk.qcow2.xz"}},
             "storage": {"resources": {"requests": {"storage": "5Gi"}}}},
    "status": {"phase": "ImportInProgress", "progress": "12.50%", "restartCount": 1,
               "conditions": [{"type": "Running", "status": "True",
                               "lastHeartbeatTime": "2026-12-05T10:00:00Z"}]}})"));
  ASSERT_TRUE(dv.ok()) << dv.status().ToString();
  EXPECT_EQ(dv->metadata.name, "fedora");
  EXPECT_EQ(dv->spec.source.kind, DataVolumeSourceKind::kHttp);
  EXPECT_EQ(dv->spec.source.url, "http://images/disk.qcow2.xz");
  EXPECT_TRUE(dv->spec.storage_api);
  EXPECT_EQ(dv->spec.storage_request, "5Gi");
  EXPECT_FALSE(dv->spec.storage_class_name.has_value());
  EXPECT_EQ(dv->status.phase, "ImportInProgress");
  EXPECT_EQ(dv->status.restart_count, 1);
  // CDI's lastHeartbeatTime is kept on the way back.
  Json status = ToJson(dv->status);
  EXPECT_EQ(base::GetString(status.at("conditions").at(0), "lastHeartbeatTime"),
            "2026-12-05T10:00:00Z");
}

TEST(DataVolumeTest, DecodesTheOlderPvcFormAndEachSource) {
  auto dv = DataVolumeFromJson(Parse(R"({
    "metadata": {"name": "copy"},
    "spec": {"source": {"pvc": {"namespace": "golden", "name": "debian"}},
             "pvc": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                     "volumeMode": "Block", "resources": {"requests": {"storage": 3221225472}}}}})"));
  ASSERT_TRUE(dv.ok()) << dv.status().ToString();
  EXPECT_EQ(dv->spec.source.kind, DataVolumeSourceKind::kPvc);
  EXPECT_EQ(dv->spec.source.pvc_namespace, "golden");
  EXPECT_EQ(dv->spec.source.pvc_name, "debian");
  EXPECT_FALSE(dv->spec.storage_api);
  EXPECT_EQ(dv->spec.storage_class_name.value_or(""), "local-path");
  EXPECT_EQ(dv->spec.volume_mode, "Block");
  EXPECT_EQ(dv->spec.storage_request, "3221225472");

  auto blank = DataVolumeFromJson(Parse(R"({"metadata": {"name": "b"},
    "spec": {"source": {"blank": {}}, "storage": {}}})"));
  ASSERT_TRUE(blank.ok()) << blank.status().ToString();
  EXPECT_EQ(blank->spec.source.kind, DataVolumeSourceKind::kBlank);

  auto registry = DataVolumeFromJson(Parse(R"({"metadata": {"name": "r"},
    "spec": {"source": {"registry": {"url": "docker://vireo.local/debian-cloud:12",
                                     "pullMethod": "node"}}, "storage": {}}})"));
  ASSERT_TRUE(registry.ok()) << registry.status().ToString();
  EXPECT_EQ(registry->spec.source.kind, DataVolumeSourceKind::kRegistry);
  EXPECT_EQ(registry->spec.source.pull_method, "node");
}

TEST(DataVolumeTest, RefusesNoSourceTwoSourcesAndBothClaimForms) {
  EXPECT_FALSE(DataVolumeFromJson(Parse(R"({"spec": {"source": {}, "storage": {}}})")).ok());
  EXPECT_FALSE(
      DataVolumeFromJson(
          Parse(R"({"spec": {"source": {"blank": {}, "http": {"url": "x"}}, "storage": {}}})"))
          .ok());
  auto both =
      DataVolumeFromJson(Parse(R"({"spec": {"source": {"blank": {}}, "storage": {}, "pvc": {}}})"));
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("storage or pvc"), std::string::npos);
}

TEST(DataVolumeTest, RefusesAClaimBeyondVireosLimit) {
  auto huge = DataVolumeFromJson(Parse(
      R"({"spec": {"source": {"blank": {}}, "storage": {"resources": {"requests": {"storage": "8000Pi"}}}}})"));
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("spec.storage.resources.requests.storage"),
            std::string::npos)
      << huge.status().message();
  EXPECT_TRUE(DataVolumeFromJson(Parse(
      R"({"spec": {"source": {"blank": {}}, "storage": {"resources": {"requests": {"storage": "1Pi"}}}}})"))
                  .ok());
}

TEST(DataVolumeTest, NamesTheDataVolumesOfASpecOnce) {
  VirtualMachineInstanceSpec spec;
  spec.volumes.resize(3);
  spec.volumes[0].data_volume.emplace().name = "root";
  spec.volumes[1].persistent_volume_claim.emplace().claim_name = "data";
  spec.volumes[2].data_volume.emplace().name = "root";
  EXPECT_EQ(DataVolumeNames(spec), std::vector<std::string>{"root"});
}

}  // namespace
}  // namespace vireo::api
