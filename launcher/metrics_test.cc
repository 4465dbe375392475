// The metrics text from libvirt's statistics and /proc/net/dev (pure parts
// of metrics.h); the server and libvirt's figures are tried in T2
// (tests/launcher/network_test.cc) and T3.
#include "launcher/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace vireo::launcher {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kNetDev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo:     100       2    0    0    0     0          0         0      100       2    0 "
    "   0    0     0       0          0\n"
    "  eth0: 5000000    4000    1    2    0     0          0         0  7000000    3000    3 "
    "   4    0     0       0          0\n";

TEST(ParseNetDevTest, ReadsTheNamedInterface) {
  auto eth0 = ParseNetDev(kNetDev, "eth0");
  ASSERT_TRUE(eth0.has_value());
  EXPECT_EQ(eth0->rx_bytes, 5000000u);
  EXPECT_EQ(eth0->rx_packets, 4000u);
  EXPECT_EQ(eth0->rx_errors, 1u);
  EXPECT_EQ(eth0->rx_dropped, 2u);
  EXPECT_EQ(eth0->tx_bytes, 7000000u);
  EXPECT_EQ(eth0->tx_packets, 3000u);
  EXPECT_EQ(eth0->tx_errors, 3u);
  EXPECT_EQ(eth0->tx_dropped, 4u);
  EXPECT_FALSE(ParseNetDev(kNetDev, "eth1").has_value());
  EXPECT_FALSE(ParseNetDev("eth0: 1 2 3\n", "eth0").has_value());
}

TEST(PodInterfaceTest, TheDefaultRoutesElseTheFirstNotLoopback) {
  const std::string routes =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "net1\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "eth0\t00000000\t0100F40A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
  EXPECT_EQ(PodInterface(routes, "", kNetDev), "eth0");
  EXPECT_EQ(PodInterface("Iface\n", "", kNetDev), "eth0");
  EXPECT_EQ(PodInterface("", "", "    lo: 1 2 3\n"), "");
  const std::string routes6 =
      "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001     net1\n"
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n";
  EXPECT_EQ(PodInterface("Iface\n", routes6, "  net1: 1\n  eth0: 1\n"), "eth0");
}

DomainStats Stats() {
  DomainStats s;
  s.numbers = {
      {"cpu.time", 2500000000},   {"cpu.user", 1000000000},     {"vcpu.current", 2},
      {"vcpu.0.state", 1},        {"vcpu.0.time", 1500000000},  {"vcpu.0.wait", 100000000},
      {"vcpu.1.wait", 200000000}, {"vcpu.1.state", 2},          {"vcpu.1.time", 500000000},
      {"balloon.rss", 204800},    {"balloon.maximum", 1048576}, {"block.count", 2},
      {"block.0.wr.bytes", 4096}, {"block.0.wr.reqs", 1},       {"block.0.rd.times", 2000000000},
      {"block.1.rd.bytes", 512},  {"block.1.wr.bytes", 0}};
  s.strings = {{"block.0.name", "vda"},
               {"block.0.path", "/var/run/vireo/state/disks/rootdisk.qcow2"},
               {"block.1.name", "vdb"},
               {"block.1.path", "/var/run/vireo/state/cloudinit.iso"}};
  return s;
}

TEST(FormatMetricsTest, KubeVirtsNamesAndLabels) {
  const std::string text =
      FormatMetrics({"web", "prod", "node-1"}, Stats(),
                    {{"/var/run/vireo/state/disks/rootdisk.qcow2", "rootdisk"}},
                    std::make_pair(std::string("default"), *ParseNetDev(kNetDev, "eth0")));
  const std::string who = R"(name="web",namespace="prod",node="node-1")";
  EXPECT_THAT(text, HasSubstr("# TYPE kubevirt_vmi_vcpu_seconds_total counter\n"));
  EXPECT_THAT(text, HasSubstr("kubevirt_vmi_vcpu_seconds_total{" + who +
                              R"(,id="0",state="running"} 1.5)" + "\n"));
  EXPECT_THAT(text, HasSubstr("kubevirt_vmi_vcpu_seconds_total{" + who +
                              R"(,id="1",state="blocked"} 0.5)" + "\n"));
  EXPECT_THAT(text, HasSubstr("kubevirt_vmi_cpu_usage_seconds_total{" + who + "} 2.5\n"));
  EXPECT_THAT(text, HasSubstr("kubevirt_vmi_memory_resident_bytes{" + who + "} 209715200\n"));
  EXPECT_THAT(text, HasSubstr("kubevirt_vmi_memory_domain_bytes{" + who + "} 1073741824\n"));
  // A disk is named as the VMI names it; one the map lacks, by its target.
  EXPECT_THAT(text, HasSubstr("kubevirt_vmi_storage_write_traffic_bytes_total{" + who +
                              R"(,drive="rootdisk"} 4096)" + "\n"));
  EXPECT_THAT(text, HasSubstr("kubevirt_vmi_storage_iops_write_total{" + who +
                              R"(,drive="rootdisk"} 1)" + "\n"));
  EXPECT_THAT(text, HasSubstr("kubevirt_vmi_storage_read_times_seconds_total{" + who +
                              R"(,drive="rootdisk"} 2)" + "\n"));
  EXPECT_THAT(text, HasSubstr("kubevirt_vmi_storage_read_traffic_bytes_total{" + who +
                              R"(,drive="vdb"} 512)" + "\n"));
  EXPECT_THAT(text, HasSubstr("kubevirt_vmi_network_receive_bytes_total{" + who +
                              R"(,interface="default"} 5000000)" + "\n"));
  EXPECT_THAT(text, HasSubstr("kubevirt_vmi_network_transmit_bytes_total{" + who +
                              R"(,interface="default"} 7000000)" + "\n"));
  // One HELP and TYPE per family, however many series.
  size_t at = 0, types = 0;
  while ((at = text.find("# TYPE kubevirt_vmi_vcpu_seconds_total ", at)) != std::string::npos) {
    ++types;
    ++at;
  }
  EXPECT_EQ(types, 1u);
  // Each family's series together: every series of a family comes before
  // the next family's header, however the disks and vCPUs interleave them.
  std::string family;
  std::set<std::string> done;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      if (!family.empty()) done.insert(family);
      family = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_FALSE(done.contains(family)) << family << " appears twice";
    } else if (line[0] != '#') {
      EXPECT_EQ(line.substr(0, line.find('{')), family) << line;
    }
  }
  // What libvirt did not report is left out, not written as 0.
  EXPECT_THAT(text, Not(HasSubstr("kubevirt_vmi_memory_available_bytes")));
  EXPECT_THAT(text, Not(HasSubstr("cpu_system_usage")));
}

TEST(FormatMetricsTest, NoInterfaceNoNetworkAndLabelsEscaped) {
  const std::string text = FormatMetrics({"a\"b", "ns", ""}, Stats(), {}, std::nullopt);
  EXPECT_THAT(text, Not(HasSubstr("kubevirt_vmi_network")));
  EXPECT_THAT(text, HasSubstr(R"(name="a\"b",namespace="ns",node="")"));
  EXPECT_THAT(text, HasSubstr(R"(drive="vda")"));
}

}  // namespace
}  // namespace vireo::launcher
