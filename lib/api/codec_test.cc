// Tests of the kubevirt.io/v1 JSON codec: round trips of realistic objects,
// the fields they decode to, and the paths named by type errors.
#include "lib/api/codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "lib/api/problems.h"
#include "lib/api/test_util.h"

namespace vireo::api {
namespace {

using ::testing::HasSubstr;
using testing::JsonDiff;
using testing::LoadFixture;
using testing::ParseOrDie;

// ---------------------------------------------------------------- round trips

class RoundTripTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTripTest, DecodeThenEncodeGivesTheSameJson) {
  const Json input = LoadFixture(GetParam());
  ASSERT_TRUE(input.is_object());
  const std::string kind = input.at("kind").get<std::string>();
  Json output;
  if (kind == kVirtualMachineKind) {
    Result<VirtualMachine> vm = FromJson<VirtualMachine>(input);
    ASSERT_TRUE(vm.ok()) << vm.status().ToString();
    output = ToJson(*vm);
  } else {
    Result<VirtualMachineInstance> vmi = FromJson<VirtualMachineInstance>(input);
    ASSERT_TRUE(vmi.ok()) << vmi.status().ToString();
    output = ToJson(*vmi);
  }
  EXPECT_EQ(JsonDiff(input, output), "");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RoundTripTest,
                         ::testing::Values("vm_cirros.json", "vm_pvc.json", "vmi_emptydisk.json"));

// The comparison itself must be able to fail, or the round trips prove nothing.
TEST(JsonDiffTest, FindsTheFirstDifference) {
  EXPECT_EQ(JsonDiff(ParseOrDie(R"({"a":[1,{"b":"x"}]})"), ParseOrDie(R"({"a":[1,{"b":"x"}]})")),
            "");
  EXPECT_EQ(JsonDiff(ParseOrDie(R"({"a":[1,{"b":"x"}]})"), ParseOrDie(R"({"a":[1,{"b":"y"}]})")),
            "$.a[1].b: \"x\" vs \"y\"");
  EXPECT_EQ(JsonDiff(ParseOrDie(R"({"a":1})"), ParseOrDie(R"({"a":1,"c":null})")),
            "$.c: only on the right: null");
  EXPECT_EQ(JsonDiff(ParseOrDie(R"({"a":"1"})"), ParseOrDie(R"({"a":1})")), "$.a: \"1\" vs 1");
}

// ---------------------------------------------------------------- decoded fields

TEST(CodecTest, DecodesTheCirrosVm) {
  Result<VirtualMachine> vm = FromJson<VirtualMachine>(LoadFixture("vm_cirros.json"));
  ASSERT_TRUE(vm.ok()) << vm.status().ToString();
  EXPECT_EQ(vm->metadata.name, "testvm");
  EXPECT_EQ(vm->metadata.namespace_, "default");
  EXPECT_EQ(vm->metadata.uid, "0f3b3d55-9a5e-4c36-8d0e-3f1c6e2b7a11");
  EXPECT_EQ(vm->metadata.resource_version, "48213");
  EXPECT_EQ(vm->metadata.generation, 2);
  EXPECT_EQ(vm->metadata.finalizers,
            std::vector<std::string>{"kubevirt.io/virtualMachineControllerFinalize"});
  EXPECT_TRUE(vm->metadata.extra.contains("managedFields"));
  EXPECT_FALSE(vm->spec.running.has_value());
  EXPECT_EQ(vm->spec.run_strategy, RunStrategy::kAlways);

  const VirtualMachineInstanceSpec& spec = vm->spec.template_spec.spec;
  EXPECT_EQ(vm->spec.template_spec.metadata.labels.at("kubevirt.io/domain"), "testvm");
  ASSERT_EQ(spec.domain.devices.disks.size(), 2u);
  EXPECT_EQ(spec.domain.devices.disks[1].name, "cloudinitdisk");
  ASSERT_TRUE(spec.domain.devices.disks[1].disk.has_value());
  EXPECT_EQ(spec.domain.devices.disks[1].disk->bus, "virtio");
  EXPECT_EQ(spec.domain.resources.requests.at("memory"), "64M");
  EXPECT_EQ(spec.termination_grace_period_seconds, 0);
  ASSERT_EQ(spec.volumes.size(), 2u);
  ASSERT_TRUE(spec.volumes[0].container_disk.has_value());
  EXPECT_EQ(spec.volumes[0].container_disk->image, "quay.io/kubevirt/cirros-container-disk-demo");
  ASSERT_TRUE(spec.volumes[1].cloud_init_no_cloud.has_value());
  EXPECT_EQ(spec.volumes[1].cloud_init_no_cloud->user_data_base64, "SGkuXG4=");
  ASSERT_EQ(spec.networks.size(), 1u);
  EXPECT_TRUE(spec.networks[0].pod.has_value());
  EXPECT_TRUE(spec.domain.devices.interfaces[0].masquerade.has_value());
  EXPECT_TRUE(spec.domain.devices.rng.has_value());
  EXPECT_FALSE(spec.domain.devices.extra.contains("rng"));

  EXPECT_TRUE(vm->status.created);
  EXPECT_TRUE(vm->status.ready);
  EXPECT_EQ(vm->status.printable_status, printable_status::kRunning);
  EXPECT_EQ(vm->status.run_strategy, RunStrategy::kAlways);
  EXPECT_EQ(vm->status.observed_generation, 2);
  ASSERT_NE(FindCondition(vm->status.conditions, "LiveMigratable"), nullptr);
  EXPECT_EQ(FindCondition(vm->status.conditions, "LiveMigratable")->reason,
            "InterfaceNotLiveMigratable");
}

TEST(CodecTest, DecodesThePvcVm) {
  Result<VirtualMachine> vm = FromJson<VirtualMachine>(LoadFixture("vm_pvc.json"));
  ASSERT_TRUE(vm.ok()) << vm.status().ToString();
  EXPECT_EQ(vm->spec.running, false);
  const VirtualMachineInstanceSpec& spec = vm->spec.template_spec.spec;
  ASSERT_TRUE(spec.domain.cpu.has_value());
  EXPECT_EQ(spec.domain.cpu->cores, 2u);
  EXPECT_EQ(spec.domain.cpu->model, "host-passthrough");
  EXPECT_EQ(spec.domain.resources.limits.at("cpu"), "2");
  ASSERT_TRUE(spec.domain.firmware.has_value());
  ASSERT_TRUE(spec.domain.firmware->bootloader.has_value());
  ASSERT_TRUE(spec.domain.firmware->bootloader->efi.has_value());
  EXPECT_EQ(spec.domain.firmware->bootloader->efi->secure_boot, false);
  EXPECT_EQ(spec.domain.devices.disks[0].boot_order, 1);
  EXPECT_EQ(spec.domain.devices.disks[0].disk->readonly, false);
  ASSERT_TRUE(spec.domain.devices.disks[1].cdrom.has_value());
  EXPECT_EQ(spec.domain.devices.disks[1].cdrom->bus, "sata");
  EXPECT_EQ(spec.domain.devices.autoattach_graphics_device, false);
  const Interface& iface = spec.domain.devices.interfaces[0];
  EXPECT_EQ(iface.mac_address, "02:00:00:1a:2b:3c");
  ASSERT_EQ(iface.ports.size(), 2u);
  EXPECT_EQ(iface.ports[0].port, 22);
  EXPECT_EQ(iface.ports[1].protocol, "");
  EXPECT_EQ(spec.volumes[0].persistent_volume_claim->claim_name, "fedora-root");
  EXPECT_EQ(spec.node_selector.at("kubernetes.io/arch"), "amd64");
  EXPECT_EQ(spec.priority_class_name, "vm-high");
  EXPECT_TRUE(spec.affinity.contains("nodeAffinity"));
  EXPECT_EQ(spec.tolerations.size(), 1u);
  EXPECT_EQ(spec.hostname, "db1");
  EXPECT_EQ(spec.termination_grace_period_seconds, 180);

  ASSERT_EQ(vm->status.state_change_requests.size(), 2u);
  EXPECT_EQ(vm->status.state_change_requests[0].action, StateChangeAction::kStop);
  EXPECT_EQ(vm->status.state_change_requests[0].uid, "8a7b1d2e-0000-4c36-8d0e-3f1c6e2b7a11");
  EXPECT_EQ(vm->status.state_change_requests[1].action, StateChangeAction::kStart);
  EXPECT_FALSE(vm->status.state_change_requests[1].uid.has_value());
}

TEST(CodecTest, DecodesTheRunningVmi) {
  Result<VirtualMachineInstance> vmi =
      FromJson<VirtualMachineInstance>(LoadFixture("vmi_emptydisk.json"));
  ASSERT_TRUE(vmi.ok()) << vmi.status().ToString();
  ASSERT_EQ(vmi->metadata.owner_references.size(), 1u);
  EXPECT_EQ(vmi->metadata.owner_references[0].controller, true);
  EXPECT_EQ(vmi->metadata.owner_references[0].kind, "VirtualMachine");
  // An empty string is not a value here; it stays as written.
  EXPECT_EQ(vmi->spec.domain.machine->type, "");
  EXPECT_EQ(vmi->spec.domain.devices.disks[0].disk->bus, "");
  EXPECT_EQ(vmi->spec.volumes[1].empty_disk->capacity, "2Gi");
  EXPECT_EQ(vmi->spec.volumes[0].container_disk->path, "/disk/alpine.qcow2");

  EXPECT_EQ(vmi->status.phase, VmiPhase::kRunning);
  EXPECT_EQ(vmi->status.node_name, "node-1");
  ASSERT_EQ(vmi->status.interfaces.size(), 1u);
  EXPECT_EQ(vmi->status.interfaces[0].ip_address, "10.244.0.17");
  EXPECT_EQ(vmi->status.interfaces[0].ip_addresses.size(), 2u);
  ASSERT_EQ(vmi->status.phase_transition_timestamps.size(), 4u);
  EXPECT_EQ(vmi->status.phase_transition_timestamps[2].phase, VmiPhase::kScheduled);
  EXPECT_EQ(vmi->status.launcher_container_image_version, "localhost/vireo-launcher:dev");
  EXPECT_TRUE(vmi->status.extra.contains("guestOSInfo"));
}

// ---------------------------------------------------------------- encoding

TEST(CodecTest, EditsKeepTheUnmodelledFields) {
  Result<VirtualMachine> vm = FromJson<VirtualMachine>(LoadFixture("vm_cirros.json"));
  ASSERT_TRUE(vm.ok()) << vm.status().ToString();
  vm->spec.run_strategy = RunStrategy::kHalted;
  vm->status.printable_status = printable_status::kStopping;
  vm->spec.template_spec.spec.domain.devices.disks[1].disk->bus = "sata";

  const Json out = ToJson(*vm);
  EXPECT_EQ(out.at("spec").at("runStrategy").get<std::string>(), "Halted");
  EXPECT_EQ(out.at("status").at("printableStatus").get<std::string>(), "Stopping");
  const Json& disk =
      out.at("spec").at("template").at("spec").at("domain").at("devices").at("disks").at(1);
  EXPECT_EQ(disk.at("disk").at("bus").get<std::string>(), "sata");
  EXPECT_EQ(disk.at("cache").get<std::string>(), "writethrough");
  EXPECT_EQ(out.at("metadata").at("managedFields").size(), 2u);
  EXPECT_EQ(out.at("status").at("volumeSnapshotStatuses").size(), 2u);
  EXPECT_TRUE(out.at("spec").at("template").at("metadata").at("creationTimestamp").is_null());
}

TEST(CodecTest, CloudInitSecretRefsAreTypedAndRoundTrip) {
  const Json in = ParseOrDie(R"({"volumes": [{"name": "ci", "cloudInitNoCloud": {
      "secretRef": {"name": "user"}, "networkDataSecretRef": {"name": "net"}}}]})");
  Result<VirtualMachineInstanceSpec> spec = FromJson<VirtualMachineInstanceSpec>(in);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->volumes.size(), 1u);
  ASSERT_TRUE(spec->volumes[0].cloud_init_no_cloud.has_value());
  EXPECT_EQ(spec->volumes[0].cloud_init_no_cloud->secret_ref, "user");
  EXPECT_EQ(spec->volumes[0].cloud_init_no_cloud->network_data_secret_ref, "net");
  EXPECT_EQ(JsonDiff(in.at("volumes"), ToJson(*spec).at("volumes")), "");
}

TEST(CodecTest, QuantitiesWrittenAsNumbersBecomeStrings) {
  Result<VirtualMachineInstanceSpec> spec = FromJson<VirtualMachineInstanceSpec>(ParseOrDie(R"({
    "domain": {"devices": {}, "memory": {"guest": 1073741824},
               "resources": {"requests": {"cpu": 2, "memory": "1Gi"}, "limits": {"cpu": 2.5}}}})"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->domain.memory->guest, "1073741824");
  EXPECT_EQ(spec->domain.resources.requests.at("cpu"), "2");
  EXPECT_EQ(spec->domain.resources.limits.at("cpu"), "2.5");
  const Json out = ToJson(*spec);
  EXPECT_EQ(out.at("domain").at("resources").at("requests").at("cpu").get<std::string>(), "2");
}

TEST(CodecTest, NewObjectsCarryTypeMetaAndRequiredFields) {
  VirtualMachine vm;
  vm.metadata.name = "fresh";
  const Json out = ToJson(vm);
  EXPECT_EQ(JsonDiff(out, ParseOrDie(R"({
    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "fresh"},
    "spec": {"template": {"spec": {"domain": {"devices": {}}}}}})")),
            "");
  VirtualMachineInstance vmi;
  vmi.status.phase = VmiPhase::kPending;
  EXPECT_EQ(ToJson(vmi).at("status").at("phase").get<std::string>(), "Pending");
  EXPECT_EQ(ToJson(vmi).at("kind").get<std::string>(), "VirtualMachineInstance");
}

TEST(CodecTest, AcceptsTheOlderServedVersion) {
  Result<VirtualMachineInstance> vmi = FromJson<VirtualMachineInstance>(ParseOrDie(
      R"({"apiVersion": "kubevirt.io/v1alpha3", "kind": "VirtualMachineInstance",
          "spec": {"domain": {"devices": {}}}})"));
  ASSERT_TRUE(vmi.ok()) << vmi.status().ToString();
  EXPECT_EQ(ToJson(*vmi).at("apiVersion").get<std::string>(), "kubevirt.io/v1alpha3");
}

// ---------------------------------------------------------------- errors

struct ErrorCase {
  const char* name;
  const char* json;  // a VirtualMachine
  const char* field;
  const char* reason;
  const char* message;
};

class DecodeErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(DecodeErrorTest, NamesThePathAndTheProblem) {
  const ErrorCase& c = GetParam();
  Result<VirtualMachine> vm = FromJson<VirtualMachine>(ParseOrDie(c.json));
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(vm.status().code(), base::Code::kInvalid);
  ASSERT_EQ(vm.status().causes().size(), 1u) << vm.status().ToString();
  const base::Cause& cause = vm.status().causes()[0];
  EXPECT_EQ(cause.field, c.field);
  EXPECT_EQ(cause.reason, c.reason);
  EXPECT_EQ(cause.message, c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DecodeErrorTest,
    ::testing::Values(
        ErrorCase{"BusIsANumber",
                  R"({"spec": {"template": {"spec": {"domain": {"devices": {"disks": [
                      {"name": "a", "disk": {"bus": "virtio"}},
                      {"name": "b", "disk": {"bus": 5}}]}}}}}})",
                  "spec.template.spec.domain.devices.disks[1].disk.bus", kReasonTypeInvalid,
                  "expected a string, got a number"},
        ErrorCase{"CoresIsNegative",
                  R"({"spec": {"template": {"spec": {"domain": {"cpu": {"cores": -1}}}}}})",
                  "spec.template.spec.domain.cpu.cores", kReasonTypeInvalid,
                  "expected an integer between 0 and 4294967295, got -1"},
        ErrorCase{"CoresIsAFraction",
                  R"({"spec": {"template": {"spec": {"domain": {"cpu": {"cores": 1.5}}}}}})",
                  "spec.template.spec.domain.cpu.cores", kReasonTypeInvalid,
                  "expected an integer, got 1.5"},
        ErrorCase{"UnknownRunStrategy", R"({"spec": {"runStrategy": "Sometimes"}})",
                  "spec.runStrategy", kReasonNotSupported,
                  "unsupported value \"Sometimes\": expected one of Always, RerunOnFailure, "
                  "Manual, Halted, Once"},
        ErrorCase{"RunningIsAString", R"({"spec": {"running": "true"}})", "spec.running",
                  kReasonTypeInvalid, "expected a boolean, got a string"},
        ErrorCase{"LabelValueIsANumber", R"({"metadata": {"labels": {"tier": 3}}})",
                  "metadata.labels[tier]", kReasonTypeInvalid, "expected a string, got a number"},
        ErrorCase{
            "VolumesIsAnObject", R"({"spec": {"template": {"spec": {"volumes": {"name": "x"}}}}})",
            "spec.template.spec.volumes", kReasonTypeInvalid, "expected an array, got an object"},
        ErrorCase{"VolumeIsAString", R"({"spec": {"template": {"spec": {"volumes": ["x"]}}}})",
                  "spec.template.spec.volumes[0]", kReasonTypeInvalid,
                  "expected an object, got a string"},
        ErrorCase{"QuantityIsABoolean",
                  R"({"spec": {"template": {"spec": {"domain":
                      {"resources": {"requests": {"memory": true}}}}}}})",
                  "spec.template.spec.domain.resources.requests[memory]", kReasonTypeInvalid,
                  "expected a quantity (a string or a number), got a boolean"},
        ErrorCase{"TolerationsIsAnObject",
                  R"({"spec": {"template": {"spec": {"tolerations": {"key": "a"}}}}})",
                  "spec.template.spec.tolerations", kReasonTypeInvalid,
                  "expected an array, got an object"},
        ErrorCase{"StateChangeWithoutAction", R"({"status": {"stateChangeRequests": [{}]}})",
                  "status.stateChangeRequests[0].action", kReasonRequired,
                  "required: expected Start or Stop"},
        ErrorCase{"WrongKind", R"({"kind": "Pod"})", "kind", kReasonInvalid,
                  "expected VirtualMachine, got \"Pod\""},
        ErrorCase{"NotAnObject", R"([1, 2])", "", kReasonTypeInvalid,
                  "expected an object, got an array"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(CodecTest, ReportsEveryProblemAndNamesTheObject) {
  Result<VirtualMachine> vm = FromJson<VirtualMachine>(ParseOrDie(R"({
    "metadata": {"name": "broken", "namespace": "ns1", "generation": "two"},
    "spec": {"template": {"spec": {"hostname": false}}}})"));
  ASSERT_FALSE(vm.ok());
  ASSERT_EQ(vm.status().causes().size(), 2u);
  EXPECT_EQ(vm.status().causes()[0].field, "metadata.generation");
  EXPECT_EQ(vm.status().causes()[1].field, "spec.template.spec.hostname");
  EXPECT_THAT(vm.status().message(),
              HasSubstr("VirtualMachine ns1/broken is invalid: metadata.generation: expected an "
                        "integer, got a string (and 1 more)"));
}

TEST(CodecTest, VmiErrorsUseVmiPaths) {
  Result<VirtualMachineInstance> vmi = FromJson<VirtualMachineInstance>(ParseOrDie(R"({
    "spec": {"domain": {"devices": {"interfaces": [{"name": "default", "masquerade": []}]}}},
    "status": {"phase": "Sleeping"}})"));
  ASSERT_FALSE(vmi.ok());
  ASSERT_EQ(vmi.status().causes().size(), 2u) << vmi.status().ToString();
  EXPECT_EQ(vmi.status().causes()[0].field, "spec.domain.devices.interfaces[0].masquerade");
  EXPECT_EQ(vmi.status().causes()[1].field, "status.phase");
}

}  // namespace
}  // namespace vireo::api
