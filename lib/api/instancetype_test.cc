// Instance types and preferences applied to a VM's template (instancetype.h).
#include "lib/api/instancetype.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lib/api/codec.h"
#include "lib/api/test_util.h"

namespace vireo::api {
namespace {

using ::testing::HasSubstr;
using testing::ParseOrDie;

// A VM with one containerDisk disk, one cdrom, one interface and `extra`
// merged into its spec and template spec (domain first).
VirtualMachine Vm(const std::string& spec_extra, const std::string& domain_extra = "{}") {
  Json vm = ParseOrDie(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine",
    "metadata":{"name":"vm","namespace":"ns","uid":"u1"},
    "spec":{"runStrategy":"Always","template":{"metadata":{"annotations":{"mine":"1"}},"spec":{
      "domain":{"devices":{
        "disks":[{"name":"root"},{"name":"iso","cdrom":{}},{"name":"fast","disk":{"bus":"virtio"}}],
        "interfaces":[{"name":"default","masquerade":{}}]}},
      "networks":[{"name":"default","pod":{}}],
      "volumes":[{"name":"root","containerDisk":{"image":"img"}},
                 {"name":"iso","containerDisk":{"image":"iso"}},
                 {"name":"fast","containerDisk":{"image":"f"}}]}}}})");
  vm["spec"].update(ParseOrDie(spec_extra));
  vm["spec"]["template"]["spec"]["domain"].update(ParseOrDie(domain_extra));
  auto decoded = FromJson<VirtualMachine>(vm);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  return decoded.ok() ? *decoded : VirtualMachine{};
}

constexpr char kNamesBoth[] =
    R"({"instancetype":{"name":"u1.medium"},"preference":{"name":"linux"}})";

Json Domain(const VirtualMachine& vm) { return ToJson(vm.spec.template_spec.spec).at("domain"); }

TEST(InstancetypeTest, ReadsTheKindAsKubeVirtDoes) {
  VirtualMachine vm = Vm(R"({"instancetype":{"name":"a"},
      "preference":{"name":"p","kind":"virtualmachinepreferences"}})");
  auto it = InstancetypeOf(vm);
  ASSERT_TRUE(it.has_value());
  EXPECT_EQ(it->name, "a");
  EXPECT_TRUE(it->cluster);
  EXPECT_EQ(it->Describe(), "VirtualMachineClusterInstancetype a");
  auto pref = PreferenceOf(vm);
  ASSERT_TRUE(pref.has_value());
  EXPECT_FALSE(pref->cluster);
  EXPECT_EQ(pref->kind, kPreferenceKind);
  EXPECT_FALSE(InstancetypeOf(Vm("{}")).has_value());
}

TEST(InstancetypeTest, SetsVcpusAsSocketsAndTheGuestMemory) {
  auto out = ExpandVm(Vm(kNamesBoth), ParseOrDie(R"({"cpu":{"guest":4},"memory":{"guest":"2Gi"},
      "nodeSelector":{"disk":"ssd"},"annotations":{"theirs":"2"}})"),
                      Json());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  Json domain = Domain(*out);
  EXPECT_EQ(domain["cpu"], ParseOrDie(R"({"sockets":4,"cores":1,"threads":1})"));
  EXPECT_EQ(domain["memory"]["guest"], "2Gi");
  EXPECT_EQ(out->spec.template_spec.spec.node_selector.at("disk"), "ssd");
  EXPECT_EQ(out->spec.template_spec.metadata.annotations.at("theirs"), "2");
  EXPECT_EQ(out->spec.template_spec.metadata.annotations.at("mine"), "1");
  EXPECT_EQ(out->spec.template_spec.metadata.annotations.at(kClusterInstancetypeNameAnnotation),
            "u1.medium");
  // No preference: no disk gets a bus it did not have.
  EXPECT_FALSE(domain["devices"]["disks"][0].contains("disk"));
}

TEST(InstancetypeTest, LaysVcpusOutAsThePreferenceSays) {
  const Json it = ParseOrDie(R"({"cpu":{"guest":8},"memory":{"guest":"1Gi"}})");
  auto topology = [&](const std::string& pref) {
    auto out = ExpandVm(Vm(kNamesBoth), it, ParseOrDie(pref));
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? Domain(*out)["cpu"] : Json();
  };
  EXPECT_EQ(topology(R"({"cpu":{"preferredCPUTopology":"cores"}})")["cores"], 8);
  EXPECT_EQ(topology(R"({"cpu":{"preferredCPUTopology":"preferThreads"}})")["threads"], 8);
  EXPECT_EQ(topology(R"({"cpu":{"preferredCPUTopology":"any"}})")["sockets"], 8);
  EXPECT_EQ(topology(R"({"cpu":{"preferredCPUTopology":"spread"}})"),
            ParseOrDie(R"({"sockets":4,"cores":2,"threads":1})"));
  EXPECT_EQ(topology(R"({"cpu":{"preferredCPUTopology":"spread",
      "spreadOptions":{"across":"SocketsCoresThreads","ratio":2}}})"),
            ParseOrDie(R"({"sockets":2,"cores":2,"threads":2})"));
  EXPECT_EQ(topology(R"({"preferSpreadSocketToCoreRatio":4,"cpu":{"preferredCPUTopology":"spread",
      "spreadOptions":{"across":"CoresThreads"}}})"),
            ParseOrDie(R"({"sockets":1,"cores":2,"threads":4})"));
}

TEST(InstancetypeTest, SpreadThatDoesNotDivideIsRefused) {
  auto spread = [](int vcpus, const std::string& pref) {
    return ExpandVm(Vm(kNamesBoth),
                    ParseOrDie(R"({"cpu":{"guest":)" + std::to_string(vcpus) +
                               R"(},"memory":{"guest":"1Gi"}})"),
                    ParseOrDie(pref));
  };
  auto three = spread(3, R"({"cpu":{"preferredCPUTopology":"spread"}})");
  ASSERT_FALSE(three.ok());
  EXPECT_EQ(three.status().message(),
            "the 3 vCPUs of VirtualMachineClusterInstancetype u1.medium cannot be spread "
            "SocketsCores a ratio of 2, as the preference asks");
  EXPECT_FALSE(
      spread(2, R"({"cpu":{"preferredCPUTopology":"spread","spreadOptions":{"ratio":4}}})").ok());
  EXPECT_FALSE(spread(2, R"({"cpu":{"preferredCPUTopology":"spread",
      "spreadOptions":{"across":"SocketsCoresThreads"}}})")
                   .ok());
  EXPECT_TRUE(spread(4, R"({"cpu":{"preferredCPUTopology":"spread",
      "spreadOptions":{"across":"SocketsCoresThreads"}}})")
                  .ok());
  // Not spread: any count.
  EXPECT_TRUE(spread(3, R"({"cpu":{"preferredCPUTopology":"cores"}})").ok());
}

TEST(InstancetypeTest, PreferenceReachesTheDevicesDefaultsAdd) {
  // Volumes without disks, no interface: the disks and the pod interface
  // that defaults add get the preference's bus and model (KubeVirt adds them
  // first too).
  Json vm = ToJson(Vm(R"({"preference":{"name":"windows"}})", R"({"memory":{"guest":"1Gi"}})"));
  Json& template_spec = vm["spec"]["template"]["spec"];
  template_spec["domain"]["devices"] = Json::object();
  template_spec.erase("networks");
  auto decoded = FromJson<VirtualMachine>(vm);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  auto out = ExpandVm(*decoded, Json(), ParseOrDie(R"({"devices":{"preferredDiskBus":"sata",
                          "preferredInterfaceModel":"e1000e"}})"));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const Json domain = Domain(*out);
  ASSERT_EQ(domain["devices"]["disks"].size(), 3u);
  for (const Json& disk : domain["devices"]["disks"]) EXPECT_EQ(disk["disk"]["bus"], "sata");
  ASSERT_EQ(domain["devices"]["interfaces"].size(), 1u);
  EXPECT_EQ(domain["devices"]["interfaces"][0]["model"], "e1000e");
  EXPECT_TRUE(domain["devices"]["interfaces"][0].contains("masquerade"));
}

TEST(InstancetypeTest, OvercommitLowersTheMemoryRequest) {
  auto out = ExpandVm(Vm(kNamesBoth), ParseOrDie(R"({"cpu":{"guest":1},"memory":{"guest":"2Gi",
                          "overcommitPercent":25}})"),
                      Json());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Domain(*out)["resources"]["requests"]["memory"], "1610612736");
  EXPECT_EQ(Domain(*out)["memory"]["guest"], "2Gi");
}

TEST(InstancetypeTest, RefusesATemplateThatSetsWhatTheInstancetypeSets) {
  auto out = ExpandVm(Vm(kNamesBoth, R"({"cpu":{"cores":2},"memory":{"guest":"1Gi"},
                         "resources":{"limits":{"cpu":"2"}}})"),
                      ParseOrDie(R"({"cpu":{"guest":1},"memory":{"guest":"1Gi"},
                          "annotations":{"mine":"other"}})"),
                      Json());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), base::Code::kInvalid);
  EXPECT_THAT(out.status().message(),
              HasSubstr("spec.template.spec.domain.cpu.cores, spec.template.spec.domain.memory."
                        "guest, spec.template.spec.domain.resources.limits.cpu, "
                        "spec.template.metadata.annotations[mine] conflict with "
                        "VirtualMachineClusterInstancetype u1.medium"));
  EXPECT_EQ(out.status().causes().size(), 4u);
}

TEST(InstancetypeTest, PreferenceFillsOnlyWhatTheTemplateLeavesUnset) {
  auto out =
      ExpandVm(Vm(kNamesBoth, R"({"machine":{"type":"pc-q35-8.2"}})"),
               ParseOrDie(R"({"cpu":{"guest":2},"memory":{"guest":"1Gi"}})"),
               ParseOrDie(R"({"devices":{"preferredDiskBus":"sata","preferredCdromBus":"scsi",
                          "preferredInterfaceModel":"e1000e","preferredRng":{},
                          "preferredAutoattachGraphicsDevice":false},
                        "features":{"preferredSmm":{}},
                        "firmware":{"preferredEfi":{"secureBoot":false}},
                        "machine":{"preferredMachineType":"q35"},
                        "clock":{"preferredClockOffset":{"utc":{"offsetSeconds":60}},
                                 "preferredTimer":{"rtc":{"tickPolicy":"catchup"}}},
                        "preferredTerminationGracePeriodSeconds":30,
                        "annotations":{"mine":"pref","added":"yes"}})"));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  Json domain = Domain(*out);
  const Json& disks = domain["devices"]["disks"];
  EXPECT_EQ(disks[0]["disk"]["bus"], "sata");
  EXPECT_EQ(disks[1]["cdrom"]["bus"], "scsi");
  EXPECT_EQ(disks[2]["disk"]["bus"], "virtio");  // the template's own
  EXPECT_EQ(domain["devices"]["interfaces"][0]["model"], "e1000e");
  EXPECT_EQ(domain["devices"]["rng"], Json::object());
  EXPECT_EQ(domain["devices"]["autoattachGraphicsDevice"], false);
  EXPECT_EQ(domain["features"]["smm"], Json::object());
  EXPECT_EQ(domain["firmware"]["bootloader"]["efi"]["secureBoot"], false);
  EXPECT_EQ(domain["machine"]["type"], "pc-q35-8.2");
  EXPECT_EQ(domain["clock"]["utc"]["offsetSeconds"], 60);
  EXPECT_EQ(domain["clock"]["timer"]["rtc"]["tickPolicy"], "catchup");
  EXPECT_EQ(out->spec.template_spec.spec.termination_grace_period_seconds, 30);
  EXPECT_EQ(out->spec.template_spec.metadata.annotations.at("mine"), "1");
  EXPECT_EQ(out->spec.template_spec.metadata.annotations.at("added"), "yes");
}

TEST(InstancetypeTest, BiosPreferredOverEfiAndSecureBootOnTheTemplatesEfi) {
  auto bios =
      ExpandVm(Vm(R"({"preference":{"name":"p"}})", R"({"memory":{"guest":"1Gi"}})"), Json(),
               ParseOrDie(R"({"firmware":{"preferredUseBios":true,"preferredUseEfi":true}})"));
  ASSERT_TRUE(bios.ok()) << bios.status().ToString();
  EXPECT_EQ(Domain(*bios)["firmware"]["bootloader"], ParseOrDie(R"({"bios":{}})"));
  auto efi = ExpandVm(
      Vm(R"({"preference":{"name":"p"}})",
         R"({"memory":{"guest":"1Gi"},"firmware":{"bootloader":{"efi":{}}}})"),
      Json(),
      ParseOrDie(R"({"firmware":{"preferredUseBios":true,"preferredUseSecureBoot":false}})"));
  ASSERT_TRUE(efi.ok()) << efi.status().ToString();
  EXPECT_EQ(Domain(*efi)["firmware"]["bootloader"], ParseOrDie(R"({"efi":{"secureBoot":false}})"));
  // preferredEfi, once applied, is the whole EFI preference (KubeVirt).
  auto preferred =
      ExpandVm(Vm(R"({"preference":{"name":"p"}})", R"({"memory":{"guest":"1Gi"}})"), Json(),
               ParseOrDie(R"({"firmware":{"preferredEfi":{},"preferredUseSecureBoot":false}})"));
  ASSERT_TRUE(preferred.ok()) << preferred.status().ToString();
  EXPECT_EQ(Domain(*preferred)["firmware"]["bootloader"], ParseOrDie(R"({"efi":{}})"));
}

TEST(InstancetypeTest, RequirementsNameThePreferenceAndWhatIsMissing) {
  const Json pref = ParseOrDie(R"({"requirements":{"cpu":{"guest":2},"memory":{"guest":"2Gi"}}})");
  auto small =
      ExpandVm(Vm(kNamesBoth), ParseOrDie(R"({"cpu":{"guest":1},"memory":{"guest":"1Gi"}})"), pref);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().message(),
            "the VM does not meet the requirements of VirtualMachineClusterPreference linux: 1 "
            "vCPUs given by the instance type, it needs 2: 1Gi given by the instance type, it "
            "needs 2Gi");
  auto enough =
      ExpandVm(Vm(kNamesBoth), ParseOrDie(R"({"cpu":{"guest":2},"memory":{"guest":"2Gi"}})"), pref);
  EXPECT_TRUE(enough.ok()) << enough.status().ToString();
  // Without an instance type the template as written is measured, as
  // KubeVirt does: the fields the preferred topology (sockets) uses, and
  // memory.guest.
  auto own = ExpandVm(
      Vm(R"({"preference":{"name":"linux"}})", R"({"cpu":{"sockets":2},"memory":{"guest":"4Gi"}})"),
      Json(), pref);
  EXPECT_TRUE(own.ok()) << own.status().ToString();
  auto cores = ExpandVm(
      Vm(R"({"preference":{"name":"linux"}})", R"({"cpu":{"cores":2},"memory":{"guest":"4Gi"}})"),
      Json(), pref);
  ASSERT_FALSE(cores.ok());
  EXPECT_THAT(cores.status().message(),
              HasSubstr("0 vCPUs given by the VirtualMachine, it needs 2"));
  auto none = ExpandVm(
      Vm(R"({"preference":{"name":"linux"}})", R"({"resources":{"requests":{"memory":"4Gi"}}})"),
      Json(), pref);
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(),
              HasSubstr("no vCPUs given by the VirtualMachine (domain.cpu), it needs 2: no memory "
                        "given by the VirtualMachine, it needs 2Gi"));
}

TEST(InstancetypeTest, NothingNamedLeavesTheVmAsItIs) {
  VirtualMachine vm = Vm("{}", R"({"memory":{"guest":"1Gi"}})");
  auto out = ExpandVm(vm, Json(), Json());
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(ToJson(*out), ToJson(vm));
}

}  // namespace
}  // namespace vireo::api
