// PodPaths and StateFiles: the pod layout, relocated under a root.
#include "launcher/paths.h"

#include <gtest/gtest.h>

#include "launcher/convert/context.h"

namespace vireo::launcher {
namespace {

TEST(PodPathsTest, NoRootGivesThePodContract) {
  PodPaths paths;
  EXPECT_EQ(paths.VmiFile(), "/var/run/vireo/vmi/vmi.json");
  EXPECT_EQ(paths.StateDir(), "/var/run/vireo/state");
  EXPECT_EQ(paths.VolumeDir("data"), "/var/run/vireo/volumes/data");
  EXPECT_EQ(paths.BlockDevice("data"), "/dev/vireo/data");
  EXPECT_EQ(paths.ContainerDiskDir("root"), "/var/run/vireo/container-disks/root");
  EXPECT_EQ(paths.CloudInitSecretsDir("ci"), "/var/run/vireo/cloud-init-secrets/ci");
  EXPECT_EQ(paths.CapabilitiesCacheDir(), "/usr/lib/vireo/qemu-capabilities");
}

TEST(PodPathsTest, StorageLayoutIsUnderTheRoot) {
  StorageLayout layout = PodPaths("/tmp/t").Storage("/elsewhere/state");
  EXPECT_EQ(layout.volumes_dir, "/tmp/t/var/run/vireo/volumes");
  EXPECT_EQ(layout.block_dir, "/tmp/t/dev/vireo");
  EXPECT_EQ(layout.container_disks_dir, "/tmp/t/var/run/vireo/container-disks");
  EXPECT_EQ(layout.cloud_init_secrets_dir, "/tmp/t/var/run/vireo/cloud-init-secrets");
  EXPECT_EQ(layout.state_dir, "/elsewhere/state");
}

TEST(PodPathsTest, RootPrefixesEveryPath) {
  PodPaths paths("/tmp/t/");
  EXPECT_EQ(paths.root(), "/tmp/t");
  EXPECT_EQ(paths.VmiFile(), "/tmp/t/var/run/vireo/vmi/vmi.json");
  EXPECT_EQ(paths.BlockDevice("d"), "/tmp/t/dev/vireo/d");
  EXPECT_EQ(paths.Under("/x"), "/tmp/t/x");
}

TEST(PodPathsTest, SlashRootIsNoRoot) { EXPECT_EQ(PodPaths("/").VmiFile(), PodPaths().VmiFile()); }

TEST(StateFilesTest, NamesFilesInTheStateDir) {
  StateFiles state("/s");
  EXPECT_EQ(state.ConsoleSocket(), "/s/console.sock");
  EXPECT_EQ(state.SerialSocket(), "/s/serial.sock");
  EXPECT_EQ(state.SerialLog(), "/s/console.log");
  EXPECT_EQ(state.ReadyFile(), "/s/ready");
  EXPECT_EQ(state.LibvirtRoot(), "/s/libvirt");
  EXPECT_EQ(state.VncSocket(), "/s/vnc.sock");
}

// `vireo-launcher vnc` joins the socket the domain XML gives QEMU's VNC server.
TEST(StateFilesTest, VncSocketIsTheDomainsDisplay) {
  EXPECT_EQ(StateFiles("/s").VncSocket(),
            ContextForStateDir("/s", Emulation::kTcg).vnc_socket_path);
}

}  // namespace
}  // namespace vireo::launcher
