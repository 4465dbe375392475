// T0 for passt.h: which ports passt forwards, its command line, and (with
// the real passt when installed) that it starts, serves its socket and ends.
#include "launcher/passt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "launcher/storage/test_util.h"

namespace vireo::launcher {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr PortRange kLinuxDefaultEphemeral{32768, 60999};

api::Port Port(int number, std::string protocol = "") {
  api::Port port;
  port.port = number;
  port.protocol = std::move(protocol);
  return port;
}

TEST(PasstPortForwards, ListedPortsOnlyWithAnExplicitNoneForTheOtherProtocol) {
  PortForwards f =
      PasstPortForwards({Port(22), Port(80, "TCP")}, 1'000'000, kLinuxDefaultEphemeral);
  EXPECT_EQ(f.tcp, "22,80");
  EXPECT_EQ(f.udp, "none");
  EXPECT_EQ(f.limited, "");
  f = PasstPortForwards({Port(53, "UDP"), Port(8080)}, 1'000'000, kLinuxDefaultEphemeral);
  EXPECT_EQ(f.tcp, "8080");
  EXPECT_EQ(f.udp, "53");
}

TEST(PasstPortForwards, NoPortsListedForwardsEveryPortWhenDescriptorsAllow) {
  // 65535 - 28232 ephemeral = 37303 ports a protocol, plus passt's reserve.
  PortForwards f = PasstPortForwards({}, 1'048'576, kLinuxDefaultEphemeral);
  EXPECT_EQ(f.tcp, "all");
  EXPECT_EQ(f.udp, "all");
  EXPECT_EQ(f.limited, "");
  f = PasstPortForwards({}, 2 * 37303 + 1024, kLinuxDefaultEphemeral);
  EXPECT_EQ(f.tcp, "all");
}

TEST(PasstPortForwards, TooFewDescriptorsForwardTheLowestPortsThatFitAndSaySo) {
  // This project's machines: RLIMIT_NOFILE is 20000 and cannot be raised.
  PortForwards f = PasstPortForwards({}, 20000, kLinuxDefaultEphemeral);
  EXPECT_EQ(f.tcp, "1-9488");  // (20000 - 1024) / 2
  EXPECT_EQ(f.udp, "1-9488");
  EXPECT_THAT(f.limited, HasSubstr("20000 file descriptors"));
  EXPECT_THAT(f.limited, HasSubstr("only ports 1-9488"));
}

TEST(PasstPortForwards, TheLowestPortsSkipTheEphemeralRange) {
  PortForwards f = PasstPortForwards({}, 1024 + 2 * 120, PortRange{50, 100});
  EXPECT_EQ(f.tcp, "1-49,101-171");
  f = PasstPortForwards({}, 1000, kLinuxDefaultEphemeral);
  EXPECT_EQ(f.tcp, "none");
}

TEST(PasstArgv, ServesKubeVirtsMasqueradeAddressesOnTheSocket) {
  PasstConfig config;
  config.socket_path = "/s/passt.sock";
  config.pid_file = "/s/passt.pid";
  config.forwards = {"all", "none", ""};
  EXPECT_THAT(PasstArgv(config),
              ElementsAre("passt", "--foreground", "--socket", "/s/passt.sock", "--pid",
                          "/s/passt.pid", "--address", "10.0.2.2", "--netmask", "24", "--gateway",
                          "10.0.2.1", "--tcp-ports", "all", "--udp-ports", "none"));
}

TEST(EphemeralPorts, ReadsTheKernelsRangeAndRefusesNonsense) {
  const storage_testing::TempDir scratch;
  const std::string dir = scratch.path();
  const std::string good = dir + "/range-good", bad = dir + "/range-bad";
  std::ofstream(good) << "32768\t60999\n";
  std::ofstream(bad) << "60999 32768\n";
  auto range = EphemeralPorts(good);
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(range->first, 32768u);
  EXPECT_EQ(range->last, 60999u);
  EXPECT_FALSE(EphemeralPorts(bad).ok());
  EXPECT_FALSE(EphemeralPorts(dir + "/missing").ok());
}

TEST(CheckPortsFree, NamesAPortSomethingElseInThePodHolds) {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_any;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  const int taken = ntohs(addr.sin6_port);

  base::Status status = CheckPortsFree({Port(taken)});
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("port " + std::to_string(taken) + "/TCP"));
  EXPECT_THAT(status.message(), HasSubstr("taken"));
  // The same number over UDP is another port.
  EXPECT_TRUE(CheckPortsFree({Port(taken, "UDP")}).ok());
  ::close(fd);
  EXPECT_TRUE(CheckPortsFree({Port(taken)}).ok());
}

TEST(PasstProcess, AMissingBinaryIsAClearError) {
  const storage_testing::TempDir scratch;
  const std::string dir = scratch.path() + "/passt-missing";
  auto passt = PasstProcess::Start(dir, dir + ".log", {Port(1)}, "/nonexistent/passt", 2000);
  ASSERT_FALSE(passt.ok());
  EXPECT_THAT(passt.status().message(), HasSubstr("the guest's network"));
}

TEST(PasstProcess, APasstThatFailsIsReportedWithItsOwnWords) {
  // /bin/false stands in for a passt that exits at once.
  const storage_testing::TempDir scratch;
  const std::string dir = scratch.path() + "/passt-fails";
  auto passt = PasstProcess::Start(dir, dir + ".log", {Port(1)}, "/bin/false", 2000);
  ASSERT_FALSE(passt.ok());
  EXPECT_THAT(passt.status().message(), HasSubstr("exited with 1 before it served"));
}

// With Debian's passt: it starts, serves its socket, and Stop ends it.
TEST(PasstProcess, TheRealPasstServesItsSocketAndStops) {
  if (::access("/usr/bin/passt", X_OK) != 0) GTEST_SKIP() << "passt is not installed";
  const storage_testing::TempDir scratch;
  // passt, started as root, serves its socket as nobody.
  ASSERT_EQ(::chmod(scratch.path().c_str(), 0755), 0);
  const std::string dir = scratch.path() + "/passt-real";
  // A port no test binds: passt needs one it can forward.
  auto passt = PasstProcess::Start(dir, dir + ".log", {Port(47123)}, "passt", 10'000);
  ASSERT_TRUE(passt.ok()) << passt.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(passt->socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  const pid_t pid = passt->pid();
  EXPECT_EQ(::kill(pid, 0), 0);
  passt->Stop();
  EXPECT_EQ(passt->pid(), -1);
  EXPECT_NE(::kill(pid, 0), 0) << "passt still runs after Stop";
}

}  // namespace
}  // namespace vireo::launcher
