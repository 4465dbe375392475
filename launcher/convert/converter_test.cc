// Golden tests for the VMI -> domain XML conversion, and its refusals.
// VIREO_UPDATE_GOLDEN=1 rewrites testdata/*.xml from the current output;
// review the diff by eye before committing it.
#include "launcher/convert/converter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "launcher/convert/test_util.h"

namespace vireo::launcher {
namespace {

using convert_testing::ContextFor;
using convert_testing::GoldenCase;
using convert_testing::LoadVmi;
using ::testing::HasSubstr;
using ::testing::Not;

class GoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTest, MatchesTestdata) {
  const GoldenCase& golden = GetParam();
  const api::VirtualMachineInstance vmi = LoadVmi(golden.name);
  auto xml = ConvertToDomainXml(vmi, ContextFor(golden, vmi));
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  const std::string path = convert_testing::TestdataPath(golden.name + ".xml");
  const char* update = std::getenv("VIREO_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << *xml;
    GTEST_SKIP() << "rewrote " << path;
  }
  EXPECT_EQ(*xml, convert_testing::ReadText(path))
      << "regenerate with VIREO_UPDATE_GOLDEN=1 if the change is intended";
}

INSTANTIATE_TEST_SUITE_P(Vmis, GoldenTest, ::testing::ValuesIn(convert_testing::GoldenCases()),
                         [](const auto& info) { return info.param.name; });

// A VMI for the refusal tests: one emptyDisk, the default pod interface.
api::VirtualMachineInstance SmallVmi() {
  api::VirtualMachineInstance vmi;
  vmi.metadata.name = "small";
  vmi.metadata.namespace_ = "t";
  vmi.metadata.uid = "12345678-1234-4234-8234-123456789abc";
  vmi.spec.domain.memory.emplace().guest = "64Mi";
  api::Volume volume;
  volume.name = "scratch";
  volume.empty_disk.emplace().capacity = "1Mi";
  vmi.spec.volumes.push_back(volume);
  api::ApplyVmiDefaults(&vmi);
  return vmi;
}

ConvertContext SmallContext(const api::VirtualMachineInstance& vmi) {
  ConvertContext ctx = ContextForStateDir("/s", Emulation::kTcg);
  ctx.disks = convert_testing::ContractDisks(vmi, "/s");
  return ctx;
}

base::Status ConvertError(const api::VirtualMachineInstance& vmi, const ConvertContext& ctx) {
  auto xml = ConvertToDomainXml(vmi, ctx);
  EXPECT_FALSE(xml.ok()) << "converted unexpectedly:\n" << (xml.ok() ? *xml : "");
  return xml.status();
}

TEST(Convert, SmallVmiConverts) {
  const auto vmi = SmallVmi();
  auto xml = ConvertToDomainXml(vmi, SmallContext(vmi));
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_THAT(*xml, HasSubstr("<name>t_small</name>"));
  EXPECT_THAT(*xml, HasSubstr("<acpi/>"));
  EXPECT_THAT(*xml, HasSubstr("<memory unit='KiB'>65536</memory>"));
}

TEST(Convert, KernelBootLoadsTheCopiedKernelInitrdAndCommandLine) {
  auto vmi = SmallVmi();
  api::KernelBoot& kernel_boot = vmi.spec.domain.firmware.emplace().kernel_boot.emplace();
  kernel_boot.kernel_args = "console=ttyS0 quiet";
  api::KernelBootContainer& container = kernel_boot.container.emplace();
  container.image = "kernels:1";
  container.kernel_path = "/boot/vmlinuz";
  container.initrd_path = "/boot/initrd.img";
  ConvertContext ctx = SmallContext(vmi);
  // The launcher says where the copies are; without them it is a bug.
  EXPECT_THAT(ConvertError(vmi, ctx).message(), HasSubstr("kernel_path/initrd_path"));
  ctx.kernel_path = "/k/kernel";
  ctx.initrd_path = "/k/initrd";
  auto xml = ConvertToDomainXml(vmi, ctx);
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_THAT(*xml, HasSubstr("<kernel>/k/kernel</kernel>"));
  EXPECT_THAT(*xml, HasSubstr("<initrd>/k/initrd</initrd>"));
  EXPECT_THAT(*xml, HasSubstr("<cmdline>console=ttyS0 quiet</cmdline>"));
  // A kernel alone: no initrd element.
  container.initrd_path.clear();
  ctx.initrd_path.clear();
  xml = ConvertToDomainXml(vmi, ctx);
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_THAT(*xml, Not(HasSubstr("<initrd>")));
}

TEST(Convert, HypervEnlightenmentsAndClock) {
  auto vmi = SmallVmi();
  api::Hyperv& hyperv = vmi.spec.domain.features.emplace().hyperv.emplace();
  hyperv.relaxed.emplace();
  hyperv.vapic.emplace().enabled = false;
  hyperv.spinlocks.emplace().spinlocks = 8191;
  hyperv.vendorid.emplace().vendorid = "KVMKVMKVM";
  vmi.spec.domain.clock.emplace().timer.emplace().hyperv.emplace();
  auto xml = ConvertToDomainXml(vmi, SmallContext(vmi));
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_THAT(*xml, HasSubstr("<hyperv mode='custom'>"));
  EXPECT_THAT(*xml, HasSubstr("<relaxed state='on'/>"));
  EXPECT_THAT(*xml, HasSubstr("<vapic state='off'/>"));
  EXPECT_THAT(*xml, HasSubstr("<spinlocks state='on' retries='8191'/>"));
  EXPECT_THAT(*xml, HasSubstr("<vendor_id state='on' value='KVMKVMKVM'/>"));
  EXPECT_THAT(*xml, Not(HasSubstr("<runtime")));
  EXPECT_THAT(*xml, HasSubstr("<timer name='hypervclock' present='yes'/>"));
  // KubeVirt's default retry count when spinlocks gives none.
  hyperv.spinlocks->spinlocks.reset();
  xml = ConvertToDomainXml(vmi, SmallContext(vmi));
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_THAT(*xml, HasSubstr("<spinlocks state='on' retries='4096'/>"));
}

TEST(Convert, DomainNameDefaultsTheNamespace) {
  api::VirtualMachineInstance vmi;
  vmi.metadata.name = "a";
  EXPECT_EQ(DomainName(vmi), "default_a");
  vmi.metadata.namespace_ = "ns";
  EXPECT_EQ(DomainName(vmi), "ns_a");
}

TEST(Convert, UnpreparedVolumeIsNamed) {
  const auto vmi = SmallVmi();
  ConvertContext ctx = SmallContext(vmi);
  ctx.disks.clear();
  base::Status status = ConvertError(vmi, ctx);
  EXPECT_EQ(status.code(), base::Code::kInvalid);
  EXPECT_THAT(status.message(), HasSubstr("spec.domain.devices.disks[0]"));
  EXPECT_THAT(status.message(), HasSubstr("'scratch'"));
  EXPECT_THAT(status.message(), HasSubstr("convert VMI t_small"));
}

TEST(Convert, RefusesVirtioCdromAndUnknownBus) {
  auto vmi = SmallVmi();
  vmi.spec.domain.devices.disks[0].disk.reset();
  vmi.spec.domain.devices.disks[0].cdrom.emplace().bus = "virtio";
  EXPECT_THAT(ConvertError(vmi, SmallContext(vmi)).message(), HasSubstr("cdrom.bus: 'virtio'"));
  vmi = SmallVmi();
  vmi.spec.domain.devices.disks[0].disk->bus = "ide";
  EXPECT_THAT(ConvertError(vmi, SmallContext(vmi)).message(), HasSubstr("disk.bus: 'ide'"));
}

TEST(Convert, RefusesSecureBootWithoutQ35) {
  auto vmi = SmallVmi();
  vmi.spec.domain.machine->type = "pc-i440fx-7.2";
  vmi.spec.domain.firmware->bootloader->bios.reset();
  vmi.spec.domain.firmware->bootloader->efi.emplace();  // secureBoot: unset means true
  EXPECT_THAT(ConvertError(vmi, SmallContext(vmi)).message(), HasSubstr("needs a q35 machine"));
  vmi.spec.domain.firmware->bootloader->efi->secure_boot = false;
  EXPECT_TRUE(ConvertToDomainXml(vmi, SmallContext(vmi)).ok());
}

// features.smm: on when given; secure boot needs it, so smm off with secure
// boot is refused.
TEST(Convert, SmmFollowsTheFeatureAndSecureBootNeedsIt) {
  auto vmi = SmallVmi();
  auto xml = ConvertToDomainXml(vmi, SmallContext(vmi));
  ASSERT_TRUE(xml.ok());
  EXPECT_THAT(*xml, Not(HasSubstr("<smm")));
  vmi.spec.domain.features.emplace().smm.emplace();
  xml = ConvertToDomainXml(vmi, SmallContext(vmi));
  ASSERT_TRUE(xml.ok());
  EXPECT_THAT(*xml, HasSubstr("<smm state='on'/>"));

  vmi.spec.domain.features->smm->enabled = false;
  vmi.spec.domain.firmware->bootloader->bios.reset();
  vmi.spec.domain.firmware->bootloader->efi.emplace();  // secureBoot: unset means true
  EXPECT_THAT(ConvertError(vmi, SmallContext(vmi)).message(), HasSubstr("secure boot needs SMM"));
  vmi.spec.domain.firmware->bootloader->efi->secure_boot = false;
  xml = ConvertToDomainXml(vmi, SmallContext(vmi));
  ASSERT_TRUE(xml.ok());
  EXPECT_THAT(*xml, Not(HasSubstr("<smm")));
}

TEST(Convert, RefusesABadUuidAndMissingMemory) {
  auto vmi = SmallVmi();
  vmi.spec.domain.firmware->uuid = "not-a-uuid";
  EXPECT_THAT(ConvertError(vmi, SmallContext(vmi)).message(), HasSubstr("firmware.uuid"));
  vmi = SmallVmi();
  vmi.spec.domain.memory.reset();
  EXPECT_THAT(ConvertError(vmi, SmallContext(vmi)).message(), HasSubstr("memory.guest"));
}

TEST(Convert, RefusesAConsoleSocketPathTooLongForUnixSockets) {
  const auto vmi = SmallVmi();
  ConvertContext ctx = SmallContext(vmi);
  ctx.console_socket_path = "/" + std::string(120, 'x') + "/console.sock";
  EXPECT_THAT(ConvertError(vmi, ctx).message(), HasSubstr("too long for a unix socket"));
}

TEST(Convert, RefusesNonMasqueradeInterfacesAndUnknownModels) {
  auto vmi = SmallVmi();
  vmi.spec.domain.devices.interfaces[0].masquerade.reset();  // e.g. bridge, kept in extra
  EXPECT_THAT(ConvertError(vmi, SmallContext(vmi)).message(),
              HasSubstr("interfaces[0]: only the masquerade binding"));
  vmi = SmallVmi();
  vmi.spec.domain.devices.interfaces[0].model = "vmxnet3";
  EXPECT_THAT(ConvertError(vmi, SmallContext(vmi)).message(), HasSubstr("'vmxnet3'"));
}

TEST(Convert, DisksBootInListOrderUnlessABootOrderIsGiven) {
  auto vmi = SmallVmi();
  api::Volume second;
  second.name = "second";
  second.empty_disk.emplace().capacity = "1Mi";
  vmi.spec.volumes.push_back(second);
  api::ApplyVmiDefaults(&vmi);
  auto xml = ConvertToDomainXml(vmi, SmallContext(vmi));
  ASSERT_TRUE(xml.ok());
  EXPECT_THAT(*xml, HasSubstr("<boot order='1'/>\n      <alias name='ua-disk-scratch'/>"));
  EXPECT_THAT(*xml, HasSubstr("<boot order='2'/>\n      <alias name='ua-disk-second'/>"));

  vmi.spec.domain.devices.disks[1].boot_order = 1;
  xml = ConvertToDomainXml(vmi, SmallContext(vmi));
  ASSERT_TRUE(xml.ok());
  EXPECT_THAT(*xml, Not(HasSubstr("<boot order='2'/>")));
  EXPECT_THAT(*xml, HasSubstr("<boot order='1'/>\n      <alias name='ua-disk-second'/>"));
}

TEST(Convert, DriveNamesGoPastZ) {
  auto vmi = SmallVmi();
  for (int i = 0; i < 27; ++i) {
    api::Volume volume;
    volume.name = "d" + std::to_string(i);
    volume.empty_disk.emplace().capacity = "1Mi";
    vmi.spec.volumes.push_back(volume);
  }
  api::ApplyVmiDefaults(&vmi);
  auto xml = ConvertToDomainXml(vmi, SmallContext(vmi));
  ASSERT_TRUE(xml.ok());
  EXPECT_THAT(*xml, HasSubstr("dev='vdz'"));
  EXPECT_THAT(*xml, HasSubstr("dev='vdaa'"));
  EXPECT_THAT(*xml, HasSubstr("dev='vdab'"));  // the 28th disk
}

TEST(Convert, MacIsStablePerVmiAndDiffersBetweenVmis) {
  const auto vmi = SmallVmi();
  auto first = ConvertToDomainXml(vmi, SmallContext(vmi));
  auto again = ConvertToDomainXml(vmi, SmallContext(vmi));
  auto other_vmi = vmi;
  other_vmi.metadata.uid = "22345678-1234-4234-8234-123456789abc";
  auto other = ConvertToDomainXml(other_vmi, SmallContext(other_vmi));
  ASSERT_TRUE(first.ok() && again.ok() && other.ok());
  EXPECT_EQ(*first, *again);
  EXPECT_THAT(*first, HasSubstr("\"mac\":\"52:54:00:"));
  EXPECT_NE(*first, *other);
}

TEST(Convert, NoTbCacheUnderKvmOrWhenZero) {
  const auto vmi = SmallVmi();
  ConvertContext ctx = SmallContext(vmi);
  ctx.tb_cache_mib = 0;
  auto xml = ConvertToDomainXml(vmi, ctx);
  ASSERT_TRUE(xml.ok());
  EXPECT_THAT(*xml, Not(HasSubstr("tb-cache")));
  ctx.tb_cache_mib = 64;
  xml = ConvertToDomainXml(vmi, ctx);
  ASSERT_TRUE(xml.ok());
  EXPECT_THAT(*xml, HasSubstr("<tb-cache unit='MiB'>64</tb-cache>"));
  ctx.emulation = Emulation::kKvm;
  xml = ConvertToDomainXml(vmi, ctx);
  ASSERT_TRUE(xml.ok());
  EXPECT_THAT(*xml, Not(HasSubstr("tb-cache")));
  EXPECT_THAT(*xml, HasSubstr("<domain type='kvm'"));
}

}  // namespace
}  // namespace vireo::launcher
