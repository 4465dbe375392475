// Tests of validation: a valid spec passes, and each rule, broken alone,
// yields exactly one problem at the expected field.
#include "lib/api/validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "lib/api/bounds.h"
#include "lib/api/codec.h"
#include "lib/api/defaults.h"
#include "lib/api/test_util.h"

namespace vireo::api {
namespace {

using ::testing::HasSubstr;
using testing::ParseOrDie;

// Valid before defaults; the cases below each break one rule.
VirtualMachineInstanceSpec ValidSpec() {
  Result<VirtualMachineInstanceSpec> spec = FromJson<VirtualMachineInstanceSpec>(ParseOrDie(R"({
    "domain": {
      "memory": {"guest": "128Mi"},
      "resources": {"requests": {"memory": "128Mi", "cpu": "500m"}, "limits": {"memory": "256Mi"}},
      "devices": {
        "disks": [{"name": "root", "disk": {"bus": "virtio"}, "bootOrder": 1},
                  {"name": "cloudinit", "disk": {"bus": "virtio"}}],
        "interfaces": [{"name": "default", "masquerade": {}, "ports": [{"port": 22}]}]
      }
    },
    "networks": [{"name": "default", "pod": {}}],
    "volumes": [
      {"name": "root", "containerDisk": {"image": "quay.io/kubevirt/cirros-container-disk-demo"}},
      {"name": "cloudinit", "cloudInitNoCloud": {"userData": "#cloud-config\n"}},
      {"name": "scratch", "emptyDisk": {"capacity": "1Gi"}},
      {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}
    ]})"));
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return spec.ok() ? *spec : VirtualMachineInstanceSpec{};
}

std::vector<base::Cause> Validate(const VirtualMachineInstanceSpec& spec) {
  Problems problems;
  ValidateVmiSpec(spec, "spec", problems);
  return problems.causes();
}

TEST(ValidationTest, ValidSpecPasses) { EXPECT_THAT(Validate(ValidSpec()), ::testing::IsEmpty()); }

TEST(ValidationTest, CloudInitFromSecretsPasses) {
  VirtualMachineInstanceSpec spec = ValidSpec();
  spec.volumes[1].cloud_init_no_cloud->user_data = "";
  spec.volumes[1].cloud_init_no_cloud->secret_ref = "my-userdata";
  spec.volumes[1].cloud_init_no_cloud->network_data_secret_ref = "my-networkdata";
  EXPECT_THAT(Validate(spec), ::testing::IsEmpty());
}

TEST(ValidationTest, EvictionStrategiesVireoHonoursPass) {
  for (const char* strategy : {"", "None", "LiveMigrateIfPossible", "External"}) {
    VirtualMachineInstanceSpec spec = ValidSpec();
    spec.eviction_strategy = strategy;
    EXPECT_THAT(Validate(spec), ::testing::IsEmpty()) << strategy;
  }
}

TEST(ValidationTest, LimitsAreInclusive) {
  VirtualMachineInstanceSpec spec = ValidSpec();
  spec.domain.memory->guest = "16Ti";
  spec.domain.resources.limits.erase("memory");
  spec.volumes[2].empty_disk->capacity = "1Pi";
  spec.volumes[1].cloud_init_no_cloud->user_data = std::string(kMaxCloudInitInlineBytes, '#');
  EXPECT_THAT(Validate(spec), ::testing::IsEmpty());
}

TEST(ValidationTest, ContainerDiskPathsWithDotsInNamesPass) {
  VirtualMachineInstanceSpec spec = ValidSpec();
  spec.volumes[0].container_disk->path = "/disk/..hidden/a..b.img";
  EXPECT_THAT(Validate(spec), ::testing::IsEmpty());
}

struct Case {
  const char* name;
  std::function<void(VirtualMachineInstanceSpec&)> breaks;
  const char* field;
  const char* reason;
};

class RuleTest : public ::testing::TestWithParam<Case> {};

TEST_P(RuleTest, BrokenRuleIsReportedAtItsField) {
  VirtualMachineInstanceSpec spec = ValidSpec();
  GetParam().breaks(spec);
  const std::vector<base::Cause> causes = Validate(spec);
  ASSERT_EQ(causes.size(), 1u) << base::Status(base::Code::kInvalid, "", 0, causes).ToString();
  EXPECT_EQ(causes[0].field, GetParam().field);
  EXPECT_EQ(causes[0].reason, GetParam().reason);
  EXPECT_FALSE(causes[0].message.empty());
}

using Spec = VirtualMachineInstanceSpec;

Disk& DiskAt(Spec& s, size_t i) { return s.domain.devices.disks[i]; }
Interface& Iface(Spec& s) { return s.domain.devices.interfaces[0]; }
Network NamedNetwork(const char* name, bool pod) {
  Network n;
  n.name = name;
  if (pod) n.pod.emplace();
  return n;
}

INSTANTIATE_TEST_SUITE_P(
    Rules, RuleTest,
    ::testing::Values(
        // memory
        Case{"NoMemory",
             [](Spec& s) {
               s.domain.memory.reset();
               s.domain.resources.requests.erase("memory");
               s.domain.resources.limits.erase("memory");
             },
             "spec.domain.memory.guest", kReasonRequired},
        Case{"GuestZero", [](Spec& s) { s.domain.memory->guest = "0"; }, "spec.domain.memory.guest",
             kReasonInvalid},
        Case{"GuestJunk", [](Spec& s) { s.domain.memory->guest = "lots"; },
             "spec.domain.memory.guest", kReasonInvalid},
        Case{"EvictionLiveMigrate", [](Spec& s) { s.eviction_strategy = "LiveMigrate"; },
             "spec.evictionStrategy", kReasonNotSupported},
        Case{"GuestNearInt64", [](Spec& s) { s.domain.memory->guest = "8Ei"; },
             "spec.domain.memory.guest", kReasonInvalid},
        Case{"GuestOverVireosLimit",
             [](Spec& s) {
               s.domain.memory->guest = "17Ti";
               s.domain.resources.limits.erase("memory");
             },
             "spec.domain.memory.guest", kReasonInvalid},
        Case{"RequestOverVireosLimit",
             [](Spec& s) {
               s.domain.resources.requests["memory"] = "9223372036854775807";
               s.domain.resources.limits.erase("memory");
             },
             "spec.domain.resources.requests[memory]", kReasonInvalid},
        Case{"EmptyDiskOverVireosLimit",
             [](Spec& s) { s.volumes[2].empty_disk->capacity = "2Pi"; },
             "spec.volumes[2].emptyDisk.capacity", kReasonInvalid},
        Case{"GuestOverLimit", [](Spec& s) { s.domain.memory->guest = "512Mi"; },
             "spec.domain.memory.guest", kReasonInvalid},
        Case{"RequestNegative", [](Spec& s) { s.domain.resources.requests["memory"] = "-1Gi"; },
             "spec.domain.resources.requests[memory]", kReasonInvalid},
        Case{"RequestOverLimit", [](Spec& s) { s.domain.resources.requests["memory"] = "1Gi"; },
             "spec.domain.resources.requests[memory]", kReasonInvalid},
        Case{"CpuJunk", [](Spec& s) { s.domain.resources.requests["cpu"] = "two"; },
             "spec.domain.resources.requests[cpu]", kReasonInvalid},
        // disks
        Case{"DiskWithoutVolume", [](Spec& s) { DiskAt(s, 1).name = "nope"; },
             "spec.domain.devices.disks[1].name", kReasonNotFound},
        Case{"DuplicateDisk", [](Spec& s) { DiskAt(s, 1).name = "root"; },
             "spec.domain.devices.disks[1].name", kReasonDuplicate},
        Case{"BootOrderZero", [](Spec& s) { DiskAt(s, 0).boot_order = 0; },
             "spec.domain.devices.disks[0].bootOrder", kReasonInvalid},
        Case{"BootOrderShared", [](Spec& s) { Iface(s).boot_order = 1; },
             "spec.domain.devices.interfaces[0].bootOrder", kReasonDuplicate},
        Case{"UnknownBus", [](Spec& s) { DiskAt(s, 0).disk->bus = "ide"; },
             "spec.domain.devices.disks[0].disk.bus", kReasonNotSupported},
        Case{"VirtioCdrom",
             [](Spec& s) {
               DiskAt(s, 1).disk.reset();
               DiskAt(s, 1).cdrom.emplace();
               DiskAt(s, 1).cdrom->bus = "virtio";
             },
             "spec.domain.devices.disks[1].cdrom.bus", kReasonNotSupported},
        Case{"TwoTargets", [](Spec& s) { DiskAt(s, 1).cdrom.emplace(); },
             "spec.domain.devices.disks[1]", kReasonInvalid},
        Case{"Lun",
             [](Spec& s) {
               DiskAt(s, 1).disk.reset();
               DiskAt(s, 1).extra = ParseOrDie(R"({"lun": {}})");
             },
             "spec.domain.devices.disks[1].lun", kReasonNotSupported},
        // volumes
        Case{"DuplicateVolume", [](Spec& s) { s.volumes[3].name = "root"; }, "spec.volumes[3].name",
             kReasonDuplicate},
        Case{"VolumeWithoutName", [](Spec& s) { s.volumes[2].name = ""; }, "spec.volumes[2].name",
             kReasonRequired},
        Case{"NoSource", [](Spec& s) { s.volumes[2].empty_disk.reset(); }, "spec.volumes[2]",
             kReasonRequired},
        Case{"TwoSources",
             [](Spec& s) {
               s.volumes[2].container_disk.emplace();
               s.volumes[2].container_disk->image = "a/b";
             },
             "spec.volumes[2]", kReasonInvalid},
        Case{"UnsupportedSource",
             [](Spec& s) {
               s.volumes[3].persistent_volume_claim.reset();
               s.volumes[3].extra = ParseOrDie(R"({"hostDisk": {"path": "/x"}})");
             },
             "spec.volumes[3].hostDisk", kReasonNotSupported},
        Case{"EmptyDataVolumeName",
             [](Spec& s) {
               s.volumes[3].persistent_volume_claim.reset();
               s.volumes[3].data_volume.emplace();
             },
             "spec.volumes[3].dataVolume.name", kReasonRequired},
        Case{"EmptyImage", [](Spec& s) { s.volumes[0].container_disk->image = ""; },
             "spec.volumes[0].containerDisk.image", kReasonRequired},
        Case{"ContainerDiskPathLeavesTheImage",
             [](Spec& s) { s.volumes[0].container_disk->path = "/disk/../../etc/shadow"; },
             "spec.volumes[0].containerDisk.path", kReasonInvalid},
        Case{"ContainerDiskPathIsDotDot",
             [](Spec& s) { s.volumes[0].container_disk->path = "/.."; },
             "spec.volumes[0].containerDisk.path", kReasonInvalid},
        Case{"EmptyClaimName",
             [](Spec& s) { s.volumes[3].persistent_volume_claim->claim_name = ""; },
             "spec.volumes[3].persistentVolumeClaim.claimName", kReasonRequired},
        Case{"CapacityJunk", [](Spec& s) { s.volumes[2].empty_disk->capacity = "1 GB"; },
             "spec.volumes[2].emptyDisk.capacity", kReasonInvalid},
        Case{"CapacityMissing", [](Spec& s) { s.volumes[2].empty_disk->capacity = ""; },
             "spec.volumes[2].emptyDisk.capacity", kReasonRequired},
        Case{"UserDataTwice",
             [](Spec& s) { s.volumes[1].cloud_init_no_cloud->user_data_base64 = "I2Nsb3Vk"; },
             "spec.volumes[1].cloudInitNoCloud.userDataBase64", kReasonInvalid},
        Case{"BadBase64",
             [](Spec& s) {
               s.volumes[1].cloud_init_no_cloud->user_data = "";
               s.volumes[1].cloud_init_no_cloud->user_data_base64 = "#cloud-config";
             },
             "spec.volumes[1].cloudInitNoCloud.userDataBase64", kReasonInvalid},
        Case{"NoCloudData", [](Spec& s) { s.volumes[1].cloud_init_no_cloud->user_data = ""; },
             "spec.volumes[1].cloudInitNoCloud.userData", kReasonRequired},
        Case{"UserDataAndSecret",
             [](Spec& s) { s.volumes[1].cloud_init_no_cloud->secret_ref = "userdata"; },
             "spec.volumes[1].cloudInitNoCloud.secretRef", kReasonInvalid},
        Case{"NetworkDataAndSecret",
             [](Spec& s) {
               s.volumes[1].cloud_init_no_cloud->network_data = "version: 2";
               s.volumes[1].cloud_init_no_cloud->network_data_secret_ref = "net";
             },
             "spec.volumes[1].cloudInitNoCloud.networkDataSecretRef", kReasonInvalid},
        Case{"UserDataTooLarge",
             [](Spec& s) {
               s.volumes[1].cloud_init_no_cloud->user_data =
                   "#cloud-config\n" + std::string(kMaxCloudInitInlineBytes, '#');
             },
             "spec.volumes[1].cloudInitNoCloud.userData", kReasonInvalid},
        Case{"NetworkDataBase64TooLarge",
             [](Spec& s) {
               s.volumes[1].cloud_init_no_cloud->network_data_base64 =
                   std::string(kMaxCloudInitInlineBytes + 4, 'A');
             },
             "spec.volumes[1].cloudInitNoCloud.networkDataBase64", kReasonInvalid},
        // interfaces and networks
        Case{"InterfaceWithoutNetwork", [](Spec& s) { Iface(s).name = "other"; },
             "spec.domain.devices.interfaces[0].name", kReasonNotFound},
        Case{"DuplicateInterface", [](Spec& s) { s.domain.devices.interfaces.push_back(Iface(s)); },
             "spec.domain.devices.interfaces[1].name", kReasonDuplicate},
        Case{"BridgeBinding",
             [](Spec& s) {
               Iface(s).masquerade.reset();
               Iface(s).extra = ParseOrDie(R"({"bridge": {}})");
             },
             "spec.domain.devices.interfaces[0].bridge", kReasonNotSupported},
        Case{"NoBinding", [](Spec& s) { Iface(s).masquerade.reset(); },
             "spec.domain.devices.interfaces[0].masquerade", kReasonRequired},
        Case{"BadMac", [](Spec& s) { Iface(s).mac_address = "02:00:00:00:00"; },
             "spec.domain.devices.interfaces[0].macAddress", kReasonInvalid},
        Case{"PortOutOfRange", [](Spec& s) { Iface(s).ports[0].port = 70000; },
             "spec.domain.devices.interfaces[0].ports[0].port", kReasonInvalid},
        Case{"PortProtocol", [](Spec& s) { Iface(s).ports[0].protocol = "SCTP"; },
             "spec.domain.devices.interfaces[0].ports[0].protocol", kReasonNotSupported},
        Case{"TwoPodNetworks", [](Spec& s) { s.networks.push_back(NamedNetwork("second", true)); },
             "spec.networks[1].pod", kReasonDuplicate},
        Case{"Multus",
             [](Spec& s) {
               s.networks.push_back(NamedNetwork("m", false));
               s.networks.back().extra = ParseOrDie(R"({"multus": {"networkName": "x"}})");
             },
             "spec.networks[1].multus", kReasonNotSupported},
        Case{"NetworkWithoutSource",
             [](Spec& s) { s.networks.push_back(NamedNetwork("n", false)); },
             "spec.networks[1].pod", kReasonRequired},
        // the rest
        Case{"BiosAndEfi",
             [](Spec& s) {
               s.domain.firmware.emplace();
               s.domain.firmware->bootloader.emplace();
               s.domain.firmware->bootloader->bios.emplace();
               s.domain.firmware->bootloader->efi.emplace();
             },
             "spec.domain.firmware.bootloader", kReasonInvalid},
        Case{"SecureBootWithSmmOff",
             [](Spec& s) {
               s.domain.firmware.emplace();
               s.domain.firmware->bootloader.emplace();
               s.domain.firmware->bootloader->efi.emplace();  // secureBoot unset: true
               s.domain.features.emplace().smm.emplace().enabled = false;
             },
             "spec.domain.features.smm.enabled", kReasonInvalid},
        Case{"NegativeGracePeriod", [](Spec& s) { s.termination_grace_period_seconds = -1; },
             "spec.terminationGracePeriodSeconds", kReasonInvalid}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(ValidationTest, DuplicateNetworkName) {
  VirtualMachineInstanceSpec spec = ValidSpec();
  spec.networks.push_back(NamedNetwork("default", true));
  const std::vector<base::Cause> causes = Validate(spec);
  ASSERT_EQ(causes.size(), 2u);
  EXPECT_EQ(causes[0].field, "spec.networks[1].name");
  EXPECT_EQ(causes[0].reason, kReasonDuplicate);
  EXPECT_EQ(causes[1].field, "spec.networks[1].pod");  // and a second pod network
}

TEST(ValidationTest, ReportsEveryProblem) {
  VirtualMachineInstanceSpec spec = ValidSpec();
  spec.domain.devices.disks[1].name = "nope";
  spec.volumes[0].container_disk->image = "";
  spec.domain.devices.interfaces[0].name = "other";
  const std::vector<base::Cause> causes = Validate(spec);
  std::vector<std::string> fields;
  for (const base::Cause& c : causes) fields.push_back(c.field);
  EXPECT_THAT(fields, ::testing::UnorderedElementsAre("spec.volumes[0].containerDisk.image",
                                                      "spec.domain.devices.disks[1].name",
                                                      "spec.domain.devices.interfaces[0].name"));
}

TEST(ValidationTest, DefaultedSpecStillValidates) {
  // Defaults add a disk per volume, bus names, cdrom readonly, bios, the pod
  // network; none of it may trip a rule.
  Result<VirtualMachineInstance> vmi = FromJson<VirtualMachineInstance>(ParseOrDie(R"({
    "metadata": {"name": "v", "namespace": "ns", "uid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"},
    "spec": {"domain": {"devices": {"disks": [{"name": "iso", "cdrom": {}}]},
                        "resources": {"limits": {"memory": "64Mi"}}},
             "volumes": [{"name": "iso", "containerDisk": {"image": "a/iso:1"}},
                         {"name": "scratch", "emptyDisk": {"capacity": "1Gi"}}]}})"));
  ASSERT_TRUE(vmi.ok()) << vmi.status().ToString();
  ApplyVmiDefaults(&*vmi);
  ASSERT_EQ(vmi->spec.domain.devices.disks.size(), 2u);
  EXPECT_TRUE(ValidateVirtualMachineInstance(*vmi).ok())
      << ValidateVirtualMachineInstance(*vmi).ToString();
}

TEST(ValidationTest, VmPathsAndMessage) {
  VirtualMachine vm;
  vm.metadata.name = "vm1";
  vm.metadata.namespace_ = "ns1";
  vm.spec.running = true;
  vm.spec.run_strategy = RunStrategy::kAlways;
  vm.spec.template_spec.spec = ValidSpec();
  vm.spec.template_spec.spec.domain.memory->guest = "0";

  const base::Status status = ValidateVirtualMachine(vm);
  ASSERT_EQ(status.code(), base::Code::kInvalid);
  ASSERT_EQ(status.causes().size(), 2u) << status.ToString();
  EXPECT_EQ(status.causes()[0].field, "spec.running");
  EXPECT_EQ(status.causes()[1].field, "spec.template.spec.domain.memory.guest");
  EXPECT_THAT(status.message(),
              HasSubstr("VirtualMachine ns1/vm1 is invalid: spec.running: spec.running and "
                        "spec.runStrategy are mutually exclusive"));
  EXPECT_THAT(status.message(), HasSubstr("(and 1 more)"));

  vm.spec.running.reset();
  vm.spec.template_spec.spec.domain.memory->guest = "128Mi";
  EXPECT_TRUE(ValidateVirtualMachine(vm).ok()) << ValidateVirtualMachine(vm).ToString();
}

}  // namespace
}  // namespace vireo::api
