// The capabilities-cache stamp refresh: only the three unpack-time stamps
// change, everything host-specific stays.
#include "launcher/caps_cache.h"

#include <gtest/gtest.h>

namespace vireo::launcher {
namespace {

constexpr char kCache[] =
    "<qemuCaps>\n"
    "  <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    "  <qemuctime>1795465639</qemuctime>\n"
    "  <qemumoddirmtime>1795465638</qemumoddirmtime>\n"
    "  <selfctime>1795465637</selfctime>\n"
    "  <selfvers>9000000</selfvers>\n"
    "  <microcodeVersion>16777317</microcodeVersion>\n"
    "</qemuCaps>\n";

TEST(CapsCacheTest, RefreshReplacesTheUnpackStamps) {
  std::string out = RefreshCapsStamps(kCache, CapsStamps{11, 22, 33});
  EXPECT_NE(out.find("<qemuctime>11</qemuctime>"), std::string::npos);
  EXPECT_NE(out.find("<qemumoddirmtime>22</qemumoddirmtime>"), std::string::npos);
  EXPECT_NE(out.find("<selfctime>33</selfctime>"), std::string::npos);
  // Host-specific facts are libvirt's to judge.
  EXPECT_NE(out.find("<selfvers>9000000</selfvers>"), std::string::npos);
  EXPECT_NE(out.find("<microcodeVersion>16777317</microcodeVersion>"), std::string::npos);
}

TEST(CapsCacheTest, ZeroModuleDirMtimeKeepsTheRecordedOne) {
  std::string out = RefreshCapsStamps(kCache, CapsStamps{11, 0, 33});
  EXPECT_NE(out.find("<qemumoddirmtime>1795465638</qemumoddirmtime>"), std::string::npos);
}

TEST(CapsCacheTest, MissingElementsLeaveTheTextAlone) {
  EXPECT_EQ(RefreshCapsStamps("<qemuCaps/>", CapsStamps{1, 2, 3}), "<qemuCaps/>");
}

TEST(CapsCacheTest, CachedEmulator) {
  EXPECT_EQ(CachedEmulator(kCache), "/usr/bin/qemu-system-x86_64");
  EXPECT_EQ(CachedEmulator("<qemuCaps/>"), "");
}

}  // namespace
}  // namespace vireo::launcher
