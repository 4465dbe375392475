// T0 for network_data.h: the guest's NIC names, and networkData that names
// NICs the guest has or does not have, in the forms KubeVirt users write.
#include "lib/api/network_data.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vireo::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

VirtualMachineInstanceSpec WithNetworkData(const std::string& network_data, int nics = 1) {
  VirtualMachineInstanceSpec spec;
  for (int i = 0; i < nics; ++i) {
    Interface iface;
    iface.name = "nic" + std::to_string(i);
    spec.domain.devices.interfaces.push_back(iface);
  }
  Volume volume;
  volume.name = "cloudinit";
  volume.cloud_init_no_cloud.emplace();
  volume.cloud_init_no_cloud->network_data = network_data;
  spec.volumes.push_back(volume);
  return spec;
}

TEST(GuestNicNames, OnQ35TheNthNicIsOnBusN) {
  VirtualMachineInstanceSpec spec = WithNetworkData("", 2);
  EXPECT_THAT(GuestNicNames(spec), ElementsAre("enp1s0", "enp2s0", "eth0", "eth1"));
  spec.domain.machine.emplace();
  spec.domain.machine->type = "pc-q35-rhel9.2.0";
  EXPECT_THAT(GuestNicNames(spec), SizeIs(4));
  spec.domain.machine->type = "pc";
  EXPECT_THAT(GuestNicNames(spec), IsEmpty());
}

TEST(NetworkDataProblems, KubeVirtStyleVersion2IsFine) {
  EXPECT_THAT(
      NetworkDataProblems(WithNetworkData("version: 2\nethernets:\n  enp1s0:\n    dhcp4: true\n")),
      IsEmpty());
  EXPECT_THAT(NetworkDataProblems(WithNetworkData(
                  "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n")),
              IsEmpty());
  EXPECT_THAT(
      NetworkDataProblems(WithNetworkData(
          "version: 2\nethernets:\n  id0:\n    match:\n      name: \"e*\"\n    dhcp4: true\n")),
      IsEmpty());
}

TEST(NetworkDataProblems, ANameTheGuestWillNotHaveIsNamed) {
  auto problems = NetworkDataProblems(
      WithNetworkData("version: 2\nethernets:\n  ens3:\n    dhcp4: true\n  enp1s0: {}\n"));
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_THAT(problems[0], HasSubstr("ethernets.ens3 names interface 'ens3'"));
  EXPECT_THAT(problems[0], HasSubstr("its NICs are enp1s0, eth0"));
  problems = NetworkDataProblems(
      WithNetworkData("version: 2\nethernets:\n  x:\n    match:\n      name: \"wl*\"\n"));
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_THAT(problems[0], HasSubstr("matches name 'wl*'"));
}

TEST(NetworkDataProblems, AMacNoInterfaceHasIsNamed) {
  auto spec = WithNetworkData(
      "version: 2\nethernets:\n  x:\n    match:\n      macaddress: \"52:54:00:AA:BB:CC\"\n");
  auto problems = NetworkDataProblems(spec);
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_THAT(problems[0], HasSubstr("set the interface's macAddress"));
  spec.domain.devices.interfaces[0].mac_address = "52:54:00:aa:bb:cc";
  EXPECT_THAT(NetworkDataProblems(spec), IsEmpty());
}

TEST(NetworkDataProblems, Version1PhysicalEntries) {
  EXPECT_THAT(NetworkDataProblems(WithNetworkData(
                  "version: 1\nconfig:\n  - type: physical\n    name: eth0\n    subnets:\n"
                  "      - type: dhcp\n")),
              IsEmpty());
  auto problems = NetworkDataProblems(
      WithNetworkData("version: 1\nconfig:\n  - type: physical\n    name: ens3\n"));
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_THAT(problems[0], HasSubstr("physical 'ens3'"));
}

TEST(NetworkDataProblems, Base64AndNonsense) {
  VirtualMachineInstanceSpec spec = WithNetworkData("");
  // "version: 2\nethernets:\n  ens4: {}\n"
  spec.volumes[0].cloud_init_no_cloud->network_data_base64 =
      "dmVyc2lvbjogMgpldGhlcm5ldHM6CiAgZW5zNDoge30K";
  EXPECT_THAT(NetworkDataProblems(spec), SizeIs(1));
  EXPECT_THAT(NetworkDataProblems(WithNetworkData(": not yaml [")), IsEmpty());
  EXPECT_THAT(NetworkDataProblems(WithNetworkData("just text")), IsEmpty());
}

}  // namespace
}  // namespace vireo::api
