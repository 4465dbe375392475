// The capabilities-cache stamp refresh: only the three unpack-time stamps
// change, everything host-specific stays; the flag the seeded files leave
// out; and the seeded files' fate.
#include "launcher/caps_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

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

TEST(CapsCacheTest, TheCpuUnavailableFeaturesFlagGoesWithItsLine) {
  const std::string xml =
      "<qemuCaps>\n"
      "  <flag name='x86-max-cpu'/>\n"
      "  <flag name='cpu-unavailable-features'/>\n"
      "  <flag name='canonical-cpu-features'/>\n"
      "</qemuCaps>\n";
  EXPECT_EQ(WithoutPerPropertyCpuRead(xml),
            "<qemuCaps>\n"
            "  <flag name='x86-max-cpu'/>\n"
            "  <flag name='canonical-cpu-features'/>\n"
            "</qemuCaps>\n");
  EXPECT_EQ(WithoutPerPropertyCpuRead(kCache), kCache);
}

TEST(CapsCacheTest, QuickCpuReadOnlyWithoutHypervEnlightenments) {
  EXPECT_TRUE(QuickCpuReadFits("<domain><features><acpi/></features></domain>"));
  // A name or a path that says hyperv is not an enlightenment.
  EXPECT_TRUE(QuickCpuReadFits("<domain><name>ns_hyperv-test</name></domain>"));
  EXPECT_FALSE(QuickCpuReadFits("<features><hyperv mode='custom'><relaxed state='on'/>"));
  EXPECT_FALSE(QuickCpuReadFits("<clock offset='utc'><timer name='hypervclock' present='yes'/>"));
}

TEST(CapsCacheTest, CachedEmulator) {
  EXPECT_EQ(CachedEmulator(kCache), "/usr/bin/qemu-system-x86_64");
  EXPECT_EQ(CachedEmulator("<qemuCaps/>"), "");
}

// Seeding into a fresh libvirt root, then what libvirt may do to the files:
// leave them (used), write its own probe over one (probed), remove one.
TEST(CapsCacheTest, SeededOutcomeTellsUsedFromProbed) {
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/vireo-caps-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  // An emulator that exists on any machine: seeding stats it.
  fs::create_directories(dir + "/image/tcg");
  std::ofstream(dir + "/image/tcg/x86_64.xml")
      << "<qemuCaps>\n  <emulator>/bin/sh</emulator>\n  <qemuctime>1</qemuctime>\n"
         "  <selfctime>2</selfctime>\n  <flag name='cpu-unavailable-features'/>\n</qemuCaps>\n";

  auto none = SeedCapabilitiesCache(dir + "/image", dir + "/root-none", CapsVariant::kKvm, true);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->files.empty());
  EXPECT_STREQ(SeededCapsOutcome(*none), "none");

  // A domain with Hyper-V enlightenments keeps the flag.
  auto kept = SeedCapabilitiesCache(dir + "/image", dir + "/root-hv", CapsVariant::kTcg, false);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_EQ(kept->files.size(), 1u);
  {
    std::ifstream in(kept->files[0].path);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("<flag name='cpu-unavailable-features'/>"), std::string::npos) << text;
  }

  auto seeded = SeedCapabilitiesCache(dir + "/image", dir + "/root", CapsVariant::kTcg, true);
  ASSERT_TRUE(seeded.ok()) << seeded.status().ToString();
  ASSERT_EQ(seeded->files.size(), 1u);
  const std::string file = seeded->files[0].path;
  EXPECT_EQ(file, dir + "/root/cache/qemu/capabilities/x86_64.xml");
  EXPECT_STREQ(SeededCapsOutcome(*seeded), "used");
  // Seeded without the flag that makes every start read the guest's CPU
  // property by property.
  std::ifstream in(file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("cpu-unavailable-features"), std::string::npos) << text;
  EXPECT_NE(text.find("<emulator>/bin/sh</emulator>"), std::string::npos) << text;

  // libvirt's own file in its place: another modification time (set
  // explicitly, so a coarse clock cannot hide it).
  std::ofstream(file, std::ios::trunc) << "<qemuCaps/>\n";
  const struct timespec times[2] = {{0, UTIME_OMIT}, {1'000'000'000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  EXPECT_STREQ(SeededCapsOutcome(*seeded), "probed");

  fs::remove(file);
  EXPECT_STREQ(SeededCapsOutcome(*seeded), "probed");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vireo::launcher
