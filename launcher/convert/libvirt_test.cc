// T2-style check that libvirt accepts what the converter writes: every
// golden domain is defined in an embedded libvirt (qemu:///embed), and
// domains over disks that storage/ really prepared are started under TCG.
// Skips only when libvirt's QEMU driver is not installed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "launcher/convert/converter.h"
#include "launcher/convert/test_util.h"
#include "launcher/storage/test_util.h"
#include "launcher/storage/volumes.h"

namespace vireo::launcher {
namespace {

using storage_testing::TempDir;
using ::testing::HasSubstr;

// What FACTS.md found the embedded driver needs in an unprivileged pod.
constexpr char kQemuConf[] =
    "cgroup_controllers = [ ]\n"
    "user = \"root\"\n"
    "group = \"root\"\n"
    "security_driver = \"none\"\n"
    "dynamic_ownership = 0\n"
    "remember_owner = 0\n"
    "stdio_handler = \"file\"\n";

std::string LastLibvirtError() {
  const char* message = virGetLastErrorMessage();
  return message == nullptr ? "(no libvirt error)" : message;
}

// One embedded libvirt for the whole suite: its first connection probes
// QEMU's capabilities (seconds under TCG), and a process may embed one root.
class LibvirtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new TempDir();
    std::filesystem::create_directories(*root_ / "etc");
    storage_testing::WriteFile(*root_ / "etc/qemu.conf", kQemuConf);
    // Errors are read through virGetLastErrorMessage; not printed as well.
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
    virEventRegisterDefaultImpl();
    // Keeps the loop turning so the stop flag is seen.
    virEventAddTimeout(
        100, [](int, void*) {}, nullptr, nullptr);
    loop_ = new std::thread([] {
      while (!stop_) virEventRunDefaultImpl();
    });
    const std::string uri = "qemu:///embed?root=" + root_->path();
    conn_ = virConnectOpen(uri.c_str());
    if (conn_ == nullptr) open_error_ = LastLibvirtError();
  }

  static void TearDownTestSuite() {
    if (conn_ != nullptr) virConnectClose(conn_);
    stop_ = true;
    loop_->join();
    delete loop_;
    delete root_;
  }

  void SetUp() override {
    if (conn_ != nullptr) return;
    if (open_error_.find("no connection driver available") != std::string::npos) {
      GTEST_SKIP()
          << "libvirt's QEMU driver is not installed (Debian: libvirt-daemon-driver-qemu): "
          << open_error_;
    }
    std::string hint;
    if (getpwnam("libvirt-qemu") == nullptr) {
      hint =
          "; the embedded driver needs the user and group libvirt-qemu: groupadd -r "
          "libvirt-qemu; useradd -r -g libvirt-qemu libvirt-qemu";
    }
    FAIL() << "cannot open the embedded libvirt: " << open_error_ << hint;
  }

  void TearDown() override {
    for (virDomainPtr domain : started_) {
      virDomainDestroy(domain);
      virDomainUndefineFlags(domain, VIR_DOMAIN_UNDEFINE_KEEP_NVRAM);
      virDomainFree(domain);
    }
  }

  // Defines and starts `xml`; the domain is destroyed after the test.
  virDomainPtr Start(const std::string& xml) {
    virDomainPtr domain = virDomainDefineXML(conn_, xml.c_str());
    if (domain == nullptr) {
      ADD_FAILURE() << "define: " << LastLibvirtError() << "\n" << xml;
      return nullptr;
    }
    started_.push_back(domain);
    if (virDomainCreate(domain) != 0) {
      ADD_FAILURE() << "start: " << LastLibvirtError() << "\n" << xml;
      return nullptr;
    }
    return domain;
  }

  static inline TempDir* root_ = nullptr;
  static inline std::thread* loop_ = nullptr;
  static inline std::atomic<bool> stop_ = false;
  static inline virConnectPtr conn_ = nullptr;
  static inline std::string open_error_;
  std::vector<virDomainPtr> started_;
};

TEST_F(LibvirtTest, DefinesEveryGoldenDomain) {
  int defined = 0;
  for (const convert_testing::GoldenCase& golden : convert_testing::GoldenCases()) {
    if (!golden.libvirt_9_0_accepts) continue;
    const std::string xml =
        convert_testing::ReadText(convert_testing::TestdataPath(golden.name + ".xml"));
    virDomainPtr domain = virDomainDefineXML(conn_, xml.c_str());
    EXPECT_NE(domain, nullptr) << golden.name << ": " << LastLibvirtError();
    if (domain == nullptr) continue;
    ++defined;
    EXPECT_EQ(virDomainUndefineFlags(domain, VIR_DOMAIN_UNDEFINE_KEEP_NVRAM), 0)
        << LastLibvirtError();
    virDomainFree(domain);
  }
  EXPECT_EQ(defined, 5);
}

// Documents why the launcher runs passt itself (UserNetBackend::kPasstProcess)
// rather than through libvirt: if this starts to fail, the installed libvirt
// takes passt and can run it for the launcher.
TEST_F(LibvirtTest, ThisLibvirtRefusesThePasstBackend) {
  const std::string xml =
      convert_testing::ReadText(convert_testing::TestdataPath("passt_newer_libvirt.xml"));
  virDomainPtr domain = virDomainDefineXML(conn_, xml.c_str());
  if (domain != nullptr) {
    virDomainUndefine(domain);
    virDomainFree(domain);
    FAIL() << "this libvirt accepts <backend type='passt'/>: passt can become the default";
  }
  EXPECT_THAT(LastLibvirtError(), HasSubstr("backend"));
}

// A TCP port nothing listens on now, for the guest's forwarded port.
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool Listening(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// The pod layout under a short temp dir (unix socket paths stay short).
struct Pod {
  TempDir dir;
  StorageLayout layout;
  Pod() {
    layout.volumes_dir = dir / "volumes";
    layout.block_dir = dir / "dev";
    layout.container_disks_dir = dir / "container-disks";
    layout.state_dir = dir / "state";
    std::filesystem::create_directories(layout.state_dir);
    // The containerDisk, served as its container would serve it: this
    // process stands in, so QEMU reads it through /proc/<our pid>/root.
    storage_testing::WriteFile(dir / "image/disk.img", std::string(1 << 20, '\0'));
    storage_testing::WriteFile(layout.container_disks_dir + "/root/source",
                               std::to_string(getpid()) + " " +
                                   std::filesystem::canonical(dir / "image/disk.img").string());
  }
};

api::VirtualMachineInstance VmiFromJson(const std::string& text) {
  auto vmi = api::FromJson<api::VirtualMachineInstance>(*base::ParseJson(text));
  EXPECT_TRUE(vmi.ok()) << vmi.status().ToString();
  api::ApplyVmiDefaults(&*vmi);
  return *vmi;
}

TEST_F(LibvirtTest, StartsABiosDomainOnPreparedDisksUnderTcg) {
  Pod pod;
  const int port = FreePort();
  const auto vmi = VmiFromJson(R"({"metadata": {"name": "boot", "namespace": "t",
      "uid": "6a0e4c1b-2d3f-4a5b-8c6d-7e8f90a1b2c3"},
    "spec": {"domain": {"memory": {"guest": "64Mi"}, "devices": {
      "disks": [{"name": "root", "disk": {"bus": "virtio"}},
                {"name": "scratch", "disk": {"bus": "scsi"}},
                {"name": "data", "disk": {"bus": "sata"}},
                {"name": "seed", "cdrom": {"bus": "sata"}}],
      "interfaces": [{"name": "default", "masquerade": {},
                      "ports": [{"port": )" +
                               std::to_string(port) + R"(}]}]}},
     "networks": [{"name": "default", "pod": {}}],
     "volumes": [{"name": "root", "containerDisk": {"image": "x"}},
                 {"name": "scratch", "emptyDisk": {"capacity": "8Mi"}},
                 {"name": "data", "emptyDisk": {"capacity": "8Mi"}},
                 {"name": "seed", "cloudInitNoCloud": {"userData": "#cloud-config\n"}}]}})");
  auto disks = PrepareVolumes(vmi, pod.layout);
  ASSERT_TRUE(disks.ok()) << disks.status().ToString();
  ConvertContext ctx = ContextForStateDir(pod.layout.state_dir, Emulation::kTcg);
  ctx.disks = *disks;
  // passt is a process the launcher runs (T2 covers it); slirp lives in QEMU.
  ctx.network_backend = UserNetBackend::kSlirp;
  auto xml = ConvertToDomainXml(vmi, ctx);
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();

  virDomainPtr domain = Start(*xml);
  ASSERT_NE(domain, nullptr);
  EXPECT_EQ(virDomainIsActive(domain), 1);
  struct stat st {};
  EXPECT_EQ(::stat(ctx.console_socket_path.c_str(), &st), 0) << "no console socket";
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_TRUE(std::filesystem::exists(ctx.console_log_path)) << "no console log";
  EXPECT_TRUE(Listening(port)) << "the interface's port " << port << " is not forwarded";
}

TEST_F(LibvirtTest, StartsASecureBootDomainAndCopiesItsVariables) {
  Pod pod;
  const auto vmi = VmiFromJson(R"({"metadata": {"name": "efi", "namespace": "t",
      "uid": "7b1f5d2c-3e4a-4b6c-9d7e-8f90a1b2c3d4"},
    "spec": {"domain": {"memory": {"guest": "128Mi"},
      "firmware": {"bootloader": {"efi": {}}},
      "devices": {"autoattachPodInterface": false, "disks": [{"name": "root"}]}},
     "volumes": [{"name": "root", "containerDisk": {"image": "x"}}]}})");
  auto disks = PrepareVolumes(vmi, pod.layout);
  ASSERT_TRUE(disks.ok()) << disks.status().ToString();
  ConvertContext ctx = ContextForStateDir(pod.layout.state_dir, Emulation::kTcg);
  ctx.disks = *disks;
  auto xml = ConvertToDomainXml(vmi, ctx);
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();

  virDomainPtr domain = Start(*xml);
  ASSERT_NE(domain, nullptr);
  EXPECT_EQ(virDomainIsActive(domain), 1);
  ASSERT_TRUE(std::filesystem::exists(ctx.nvram_path)) << "libvirt did not copy OVMF_VARS";
  EXPECT_EQ(std::filesystem::file_size(ctx.nvram_path),
            std::filesystem::file_size(ctx.firmware.ovmf_vars_secure_boot));
}

}  // namespace
}  // namespace vireo::launcher
