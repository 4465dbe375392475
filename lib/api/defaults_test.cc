// Tests of the KubeVirt defaults Vireo applies to VMs and VMIs.
#include "lib/api/defaults.h"

#include <gtest/gtest.h>

#include <string>

#include "lib/api/codec.h"
#include "lib/api/test_util.h"
#include "lib/api/validation.h"

namespace vireo::api {
namespace {

using testing::JsonDiff;
using testing::LoadFixture;
using testing::ParseOrDie;

VirtualMachineInstanceSpec SpecFrom(const std::string& json) {
  Result<VirtualMachineInstanceSpec> spec = FromJson<VirtualMachineInstanceSpec>(ParseOrDie(json));
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return spec.ok() ? *spec : VirtualMachineInstanceSpec{};
}

VirtualMachineInstanceSpec Defaulted(const std::string& json) {
  VirtualMachineInstanceSpec spec = SpecFrom(json);
  ApplyVmiSpecDefaults(&spec);
  return spec;
}

TEST(DefaultsTest, MinimalSpecGetsEverything) {
  const VirtualMachineInstanceSpec spec =
      Defaulted(R"({"domain": {"devices": {}, "resources": {"requests": {"memory": "128Mi"}}}})");
  EXPECT_EQ(JsonDiff(ToJson(spec), ParseOrDie(R"({
    "domain": {
      "machine": {"type": "q35"},
      "memory": {"guest": "128Mi"},
      "resources": {"requests": {"memory": "128Mi"}},
      "cpu": {"cores": 1, "sockets": 1, "threads": 1},
      "firmware": {"bootloader": {"bios": {}}},
      "devices": {
        "autoattachSerialConsole": true,
        "autoattachGraphicsDevice": true,
        "interfaces": [{"name": "default", "masquerade": {}, "model": "virtio"}]
      }
    },
    "networks": [{"name": "default", "pod": {}}],
    "terminationGracePeriodSeconds": 30
  })")),
            "");
}

TEST(DefaultsTest, AppliedTwiceChangesNothing) {
  Result<VirtualMachine> vm = FromJson<VirtualMachine>(LoadFixture("vm_cirros.json"));
  ASSERT_TRUE(vm.ok()) << vm.status().ToString();
  VirtualMachineInstanceSpec spec = vm->spec.template_spec.spec;
  ApplyVmiSpecDefaults(&spec);
  const Json once = ToJson(spec);
  ApplyVmiSpecDefaults(&spec);
  EXPECT_EQ(JsonDiff(once, ToJson(spec)), "");
  EXPECT_NE(JsonDiff(once, ToJson(vm->spec.template_spec.spec)), "");  // it did change
}

TEST(DefaultsTest, NeverOverwritesSetValues) {
  const VirtualMachineInstanceSpec spec = Defaulted(R"({
    "terminationGracePeriodSeconds": 0,
    "domain": {
      "machine": {"type": "pc-q35-rhel9.2.0"},
      "memory": {"guest": "1Gi"},
      "resources": {"requests": {"memory": "2Gi", "cpu": "3"}},
      "cpu": {"cores": 2, "sockets": 2, "threads": 2},
      "firmware": {"bootloader": {"efi": {"secureBoot": false}}},
      "devices": {"autoattachSerialConsole": false, "disks": [{"name": "d", "cdrom": {"bus": "scsi", "readonly": false}}]}
    },
    "volumes": [{"name": "d", "containerDisk": {"image": "x/y", "imagePullPolicy": "Never"}}]})");
  EXPECT_EQ(spec.termination_grace_period_seconds, 0);
  EXPECT_EQ(spec.domain.machine->type, "pc-q35-rhel9.2.0");
  EXPECT_EQ(spec.domain.memory->guest, "1Gi");
  EXPECT_EQ(spec.domain.resources.requests.at("memory"), "2Gi");
  EXPECT_EQ(spec.domain.cpu->sockets, 2u);
  EXPECT_EQ(spec.domain.firmware->bootloader->efi->secure_boot, false);
  EXPECT_FALSE(spec.domain.firmware->bootloader->bios.has_value());
  EXPECT_EQ(spec.domain.devices.autoattach_serial_console, false);
  EXPECT_EQ(spec.domain.devices.disks[0].cdrom->bus, "scsi");
  EXPECT_EQ(spec.domain.devices.disks[0].cdrom->readonly, false);
  EXPECT_EQ(spec.volumes[0].container_disk->image_pull_policy, "Never");
}

// ---------------------------------------------------------------- memory, cpu

TEST(DefaultsTest, RequestFollowsGuest) {
  const VirtualMachineInstanceSpec spec =
      Defaulted(R"({"domain": {"devices": {}, "memory": {"guest": "512Mi"}}})");
  EXPECT_EQ(spec.domain.resources.requests.at("memory"), "512Mi");
  EXPECT_EQ(spec.domain.memory->guest, "512Mi");
}

TEST(DefaultsTest, RequestAndGuestFollowTheLimit) {
  const VirtualMachineInstanceSpec spec = Defaulted(
      R"({"domain": {"devices": {}, "resources": {"limits": {"memory": "1Gi", "cpu": "2"}}}})");
  EXPECT_EQ(spec.domain.resources.requests.at("memory"), "1Gi");
  EXPECT_EQ(spec.domain.resources.requests.at("cpu"), "2");
  EXPECT_EQ(spec.domain.memory->guest, "1Gi");
}

TEST(DefaultsTest, NoMemoryAnywhereStaysUnsetForValidationToReport) {
  const VirtualMachineInstanceSpec spec = Defaulted(R"({"domain": {"devices": {}}})");
  EXPECT_FALSE(spec.domain.memory.has_value());
  EXPECT_FALSE(spec.domain.resources.requests.contains("memory"));
}

struct CpuCase {
  const char* name;
  const char* domain;  // merged into {"devices": {}, ...}
  uint32_t sockets, cores, threads;
};

class CpuTopologyTest : public ::testing::TestWithParam<CpuCase> {};

TEST_P(CpuTopologyTest, Topology) {
  const CpuCase& c = GetParam();
  const VirtualMachineInstanceSpec spec =
      Defaulted(std::string(R"({"domain": {"devices": {})") + c.domain + "}}");
  ASSERT_TRUE(spec.domain.cpu.has_value());
  EXPECT_EQ(spec.domain.cpu->sockets, c.sockets);
  EXPECT_EQ(spec.domain.cpu->cores, c.cores);
  EXPECT_EQ(spec.domain.cpu->threads, c.threads);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CpuTopologyTest,
    ::testing::Values(
        CpuCase{"Nothing", "", 1, 1, 1},
        CpuCase{"LimitGivesSockets",
                R"(, "resources": {"limits": {"cpu": "4"}, "requests": {"cpu": "1"}})", 4, 1, 1},
        CpuCase{"RequestGivesSockets", R"(, "resources": {"requests": {"cpu": 2}})", 2, 1, 1},
        CpuCase{"FractionRoundsUp", R"(, "resources": {"requests": {"cpu": "1500m"}})", 2, 1, 1},
        CpuCase{"CoresOnly", R"(, "cpu": {"cores": 4})", 1, 4, 1},
        CpuCase{"AllSet", R"(, "cpu": {"cores": 2, "sockets": 3, "threads": 2},
                                           "resources": {"limits": {"cpu": "8"}})",
                3, 2, 2}),
    [](const ::testing::TestParamInfo<CpuCase>& info) { return info.param.name; });

// ---------------------------------------------------------------- devices

TEST(DefaultsTest, DisksGetBusAndVolumesGetDisks) {
  const VirtualMachineInstanceSpec spec = Defaulted(R"({
    "domain": {"devices": {"disks": [
      {"name": "root", "disk": {}},
      {"name": "iso", "cdrom": {}},
      {"name": "bare"},
      {"name": "legacy", "disk": {"bus": "sata"}},
      {"name": "shared", "lun": {}}]}},
    "volumes": [
      {"name": "root", "containerDisk": {"image": "a/b:v1"}},
      {"name": "iso", "persistentVolumeClaim": {"claimName": "iso"}},
      {"name": "bare", "emptyDisk": {"capacity": "1Gi"}},
      {"name": "legacy", "emptyDisk": {"capacity": "1Gi"}},
      {"name": "shared", "persistentVolumeClaim": {"claimName": "s"}},
      {"name": "cloudinit", "cloudInitNoCloud": {"userData": "#cloud-config"}}]})");
  const std::vector<Disk>& disks = spec.domain.devices.disks;
  ASSERT_EQ(disks.size(), 6u);
  EXPECT_EQ(disks[0].disk->bus, "virtio");
  EXPECT_EQ(disks[1].cdrom->bus, "sata");
  EXPECT_EQ(disks[1].cdrom->readonly, true);
  EXPECT_FALSE(disks[1].disk.has_value());
  ASSERT_TRUE(disks[2].disk.has_value());
  EXPECT_EQ(disks[2].disk->bus, "virtio");
  EXPECT_EQ(disks[3].disk->bus, "sata");
  EXPECT_FALSE(disks[4].disk.has_value());  // a lun is left for validation to refuse
  EXPECT_EQ(disks[5].name, "cloudinit");
  ASSERT_TRUE(disks[5].disk.has_value());
  EXPECT_EQ(disks[5].disk->bus, "virtio");
}

TEST(DefaultsTest, EfiGetsSecureBootAsInKubeVirt) {
  const VirtualMachineInstanceSpec spec =
      Defaulted(R"({"domain": {"devices": {}, "firmware": {"bootloader": {"efi": {}}}}})");
  EXPECT_EQ(spec.domain.firmware->bootloader->efi->secure_boot, true);
  EXPECT_FALSE(spec.domain.firmware->bootloader->bios.has_value());
}

struct PullCase {
  const char* image;
  const char* policy;
};

class PullPolicyTest : public ::testing::TestWithParam<PullCase> {};

TEST_P(PullPolicyTest, FollowsTheTag) {
  const VirtualMachineInstanceSpec spec = Defaulted(
      std::string(
          R"({"domain": {"devices": {}}, "volumes": [{"name": "d", "containerDisk": {"image": ")") +
      GetParam().image + R"("}}]})");
  EXPECT_EQ(spec.volumes[0].container_disk->image_pull_policy, GetParam().policy);
}

INSTANTIATE_TEST_SUITE_P(
    Images, PullPolicyTest,
    ::testing::Values(PullCase{"quay.io/kubevirt/cirros-container-disk-demo", "Always"},
                      PullCase{"quay.io/kubevirt/cirros-container-disk-demo:latest", "Always"},
                      PullCase{"quay.io/kubevirt/cirros-container-disk-demo:v1.2", "IfNotPresent"},
                      PullCase{"registry.local:5000/vireo/alpine", "Always"},
                      PullCase{"registry.local:5000/vireo/alpine:3.19", "IfNotPresent"},
                      PullCase{"alpine@sha256:0123abcd", "IfNotPresent"}));

TEST(DefaultsTest, GivenNetworkingIsKept) {
  const VirtualMachineInstanceSpec spec = Defaulted(R"({
    "domain": {"devices": {"interfaces": [{"name": "net1", "masquerade": {}, "model": "e1000"}]}},
    "networks": [{"name": "net1", "pod": {}}]})");
  ASSERT_EQ(spec.domain.devices.interfaces.size(), 1u);
  EXPECT_EQ(spec.domain.devices.interfaces[0].name, "net1");
  EXPECT_EQ(spec.domain.devices.interfaces[0].model, "e1000");
  ASSERT_EQ(spec.networks.size(), 1u);
}

// KubeVirt's default, which the CRD's description states: a graphics device
// unless autoattachGraphicsDevice is false.
TEST(DefaultsTest, GraphicsDeviceUnlessTurnedOffAsInKubeVirt) {
  const std::string memory = R"("resources": {"requests": {"memory": "128Mi"}})";
  EXPECT_EQ(Defaulted(R"({"domain": {"devices": {}, )" + memory + "}}")
                .domain.devices.autoattach_graphics_device,
            true);
  EXPECT_EQ(Defaulted(R"({"domain": {"devices": {"autoattachGraphicsDevice": false}, )" + memory + "}}")
                .domain.devices.autoattach_graphics_device,
            false);
  EXPECT_EQ(Defaulted(R"({"domain": {"devices": {"autoattachGraphicsDevice": true}, )" + memory + "}}")
                .domain.devices.autoattach_graphics_device,
            true);
}

TEST(DefaultsTest, NoPodInterfaceWhenAutoattachIsOff) {
  const VirtualMachineInstanceSpec spec =
      Defaulted(R"({"domain": {"devices": {"autoattachPodInterface": false}}})");
  EXPECT_TRUE(spec.domain.devices.interfaces.empty());
  EXPECT_TRUE(spec.networks.empty());
}

// ---------------------------------------------------------------- VMI, VM

TEST(DefaultsTest, FirmwareUuidComesFromTheOwningVm) {
  Result<VirtualMachineInstance> vmi =
      FromJson<VirtualMachineInstance>(LoadFixture("vmi_emptydisk.json"));
  ASSERT_TRUE(vmi.ok()) << vmi.status().ToString();
  vmi->spec.domain.firmware->uuid.clear();
  ApplyVmiDefaults(&*vmi);
  EXPECT_EQ(vmi->spec.domain.firmware->uuid, "aa2e67b4-4d1e-43f5-9a2c-e9d8b9f0c111");

  VirtualMachineInstance standalone;
  standalone.metadata.uid = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
  ApplyVmiDefaults(&standalone);
  EXPECT_EQ(standalone.spec.domain.firmware->uuid, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");

  standalone.metadata.uid = "changed";
  ApplyVmiDefaults(&standalone);
  EXPECT_EQ(standalone.spec.domain.firmware->uuid, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
}

TEST(DefaultsTest, VmTemplateGetsTheMachineType) {
  VirtualMachine vm;
  ApplyVmDefaults(&vm);
  ASSERT_TRUE(vm.spec.template_spec.spec.domain.machine.has_value());
  EXPECT_EQ(vm.spec.template_spec.spec.domain.machine->type, "q35");
}

TEST(DefaultsTest, DefaultedFixturesValidate) {
  for (const char* name : {"vm_cirros.json", "vm_pvc.json"}) {
    Result<VirtualMachine> vm = FromJson<VirtualMachine>(LoadFixture(name));
    ASSERT_TRUE(vm.ok()) << vm.status().ToString();
    ApplyVmiSpecDefaults(&vm->spec.template_spec.spec);
    EXPECT_TRUE(ValidateVirtualMachine(*vm).ok()) << ValidateVirtualMachine(*vm).ToString();
  }
}

struct RunStrategyCase {
  const char* name;
  std::optional<bool> running;
  std::optional<RunStrategy> run_strategy;
  RunStrategy want;
};

class RunStrategyTest : public ::testing::TestWithParam<RunStrategyCase> {};

TEST_P(RunStrategyTest, Effective) {
  VirtualMachineSpec spec;
  spec.running = GetParam().running;
  spec.run_strategy = GetParam().run_strategy;
  Result<RunStrategy> got = EffectiveRunStrategy(spec);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RunStrategyTest,
    ::testing::Values(
        RunStrategyCase{"RunningTrue", true, std::nullopt, RunStrategy::kAlways},
        RunStrategyCase{"RunningFalse", false, std::nullopt, RunStrategy::kHalted},
        RunStrategyCase{"Neither", std::nullopt, std::nullopt, RunStrategy::kHalted},
        RunStrategyCase{"Manual", std::nullopt, RunStrategy::kManual, RunStrategy::kManual},
        RunStrategyCase{"Once", std::nullopt, RunStrategy::kOnce, RunStrategy::kOnce}),
    [](const ::testing::TestParamInfo<RunStrategyCase>& info) { return info.param.name; });

TEST(RunStrategyTest, BothSetIsRefused) {
  VirtualMachineSpec spec;
  spec.running = true;
  spec.run_strategy = RunStrategy::kAlways;
  Result<RunStrategy> got = EffectiveRunStrategy(spec);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), base::Code::kInvalid);
}

// One decision for the validation and the converter (KubeVirt's defaults).
TEST(FirmwareDefaultsTest, SecureBootAndSmm) {
  VirtualMachineInstanceSpec spec;
  EXPECT_FALSE(SecureBootOn(spec));
  EXPECT_FALSE(SmmOn(spec));

  spec.domain.firmware.emplace().bootloader.emplace().efi.emplace();
  EXPECT_TRUE(SecureBootOn(spec)) << "efi without secureBoot: on, as KubeVirt";
  EXPECT_TRUE(SmmOn(spec)) << "SMM follows secure boot when not given";

  spec.domain.firmware->bootloader->efi->secure_boot = false;
  EXPECT_FALSE(SecureBootOn(spec));
  EXPECT_FALSE(SmmOn(spec));

  spec.domain.features.emplace().smm.emplace();
  EXPECT_TRUE(SmmOn(spec)) << "smm: {} is enabled";
  spec.domain.features->smm->enabled = false;
  EXPECT_FALSE(SmmOn(spec));
  spec.domain.firmware->bootloader->efi->secure_boot = true;
  EXPECT_TRUE(SecureBootOn(spec));
  EXPECT_FALSE(SmmOn(spec)) << "an explicit smm.enabled: false stays off; validation refuses it";
  VirtualMachineInstance vmi;
  vmi.spec = spec;
  ApplyVmiDefaults(&vmi);
  const base::Status refused = ValidateVirtualMachineInstance(vmi);
  EXPECT_NE(refused.ToString().find("smm.enabled: EFI secure boot needs SMM"), std::string::npos)
      << refused.ToString();
}

}  // namespace
}  // namespace vireo::api
