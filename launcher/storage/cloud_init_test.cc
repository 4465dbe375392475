// Tests for the NoCloud seed contents and the ISO xorriso makes of it.
#include "launcher/storage/cloud_init.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "launcher/storage/test_util.h"

namespace vireo::launcher {
namespace {

using storage_testing::ReadFile;
using storage_testing::RunTool;
using storage_testing::TempDir;
using ::testing::HasSubstr;

api::VirtualMachineInstance Vmi() {
  api::VirtualMachineInstance vmi;
  vmi.metadata.name = "web";
  vmi.metadata.namespace_ = "shop";
  vmi.metadata.uid = "0e7f5f3a-6b5e-4c55-a3f7-7f1b9d6c2a10";
  return vmi;
}

TEST(MakeNoCloudSeed, MetaDataCarriesUidAndName) {
  api::CloudInitNoCloudSource source;
  source.user_data = "#cloud-config\nruncmd: [echo hi]\n";
  auto seed = MakeNoCloudSeed(Vmi(), "cloudinit", source);
  ASSERT_TRUE(seed.ok()) << seed.status().ToString();
  EXPECT_EQ(seed->meta_data,
            "instance-id: 0e7f5f3a-6b5e-4c55-a3f7-7f1b9d6c2a10\nlocal-hostname: web\n");
  EXPECT_EQ(seed->user_data, source.user_data);
  EXPECT_EQ(seed->network_config, "");
}

TEST(MakeNoCloudSeed, HostnameAndNamespacedIdWhenNoUid) {
  api::VirtualMachineInstance vmi = Vmi();
  vmi.metadata.uid.clear();
  vmi.spec.hostname = "frontend";
  auto seed = MakeNoCloudSeed(vmi, "cloudinit", {});
  ASSERT_TRUE(seed.ok());
  EXPECT_EQ(seed->meta_data, "instance-id: shop/web\nlocal-hostname: frontend\n");
}

TEST(MakeNoCloudSeed, DecodesBase64) {
  api::CloudInitNoCloudSource source;
  source.user_data_base64 = "I2Nsb3VkLWNvbmZpZwo=";  // "#cloud-config\n"
  source.network_data_base64 = "dmVyc2lvbjogMgo=";   // "version: 2\n"
  auto seed = MakeNoCloudSeed(Vmi(), "cloudinit", source);
  ASSERT_TRUE(seed.ok()) << seed.status().ToString();
  EXPECT_EQ(seed->user_data, "#cloud-config\n");
  EXPECT_EQ(seed->network_config, "version: 2\n");
}

// As the kubelet mounts a Secret: one file a key.
TEST(MakeNoCloudSeed, ReadsTheSecretsKeysInEitherSpelling) {
  TempDir dir;
  const NoCloudSecretDirs secrets = NoCloudSecretDirsUnder(dir.path() + "/seed");
  std::filesystem::create_directories(secrets.user_data);
  std::filesystem::create_directories(secrets.network_data);
  storage_testing::WriteFile(secrets.user_data + "/userdata", "#cloud-config\nfrom: secret\n");
  storage_testing::WriteFile(secrets.network_data + "/networkData", "version: 2\n");
  api::CloudInitNoCloudSource source;
  source.secret_ref = "user";
  source.network_data_secret_ref = "net";
  auto seed = MakeNoCloudSeed(Vmi(), "seed", source, secrets);
  ASSERT_TRUE(seed.ok()) << seed.status().ToString();
  EXPECT_EQ(seed->user_data, "#cloud-config\nfrom: secret\n");
  EXPECT_EQ(seed->network_config, "version: 2\n");
}

TEST(MakeNoCloudSeed, SecretWithoutTheKeyNamesSecretAndKeys) {
  TempDir dir;
  const NoCloudSecretDirs secrets = NoCloudSecretDirsUnder(dir.path() + "/seed");
  std::filesystem::create_directories(secrets.user_data);
  storage_testing::WriteFile(secrets.user_data + "/user-data", "#cloud-config\n");
  api::CloudInitNoCloudSource source;
  source.secret_ref = "my-secret";
  auto seed = MakeNoCloudSeed(Vmi(), "seed", source, secrets);
  ASSERT_FALSE(seed.ok());
  EXPECT_EQ(seed.status().code(), base::Code::kNotFound);
  EXPECT_THAT(seed.status().message(), HasSubstr("Secret 'my-secret' has no key 'userdata' or "
                                                 "'userData'"));
  EXPECT_THAT(seed.status().message(), HasSubstr("volume 'seed'"));
}

TEST(MakeNoCloudSeed, BadBase64NamesVolumeAndField) {
  api::CloudInitNoCloudSource source;
  source.user_data_base64 = "not base64!";
  auto seed = MakeNoCloudSeed(Vmi(), "seed", source);
  ASSERT_FALSE(seed.ok());
  EXPECT_EQ(seed.status().code(), base::Code::kInvalid);
  EXPECT_THAT(seed.status().message(), HasSubstr("volume 'seed'"));
  EXPECT_THAT(seed.status().message(), HasSubstr("userDataBase64"));
}

TEST(WriteNoCloudIso, IsAnIso9660LabelledCidataWithTheFiles) {
  TempDir dir;
  NoCloudSeed seed{.user_data = "#cloud-config\nruncmd: [echo VIREO-MARKER]\n",
                   .meta_data = "instance-id: abc\nlocal-hostname: web\n",
                   .network_config = "version: 2\nethernets: {}\n"};
  const std::string iso = dir / "cidata.iso";
  base::Status status = WriteNoCloudIso(seed, iso);
  ASSERT_TRUE(status.ok()) << status.ToString();

  // The primary volume descriptor (sector 16): "CD001", volume id at 40.
  const std::string bytes = ReadFile(iso);
  ASSERT_GT(bytes.size(), 0x8000u + 72);
  EXPECT_EQ(bytes.substr(0x8001, 5), "CD001");
  EXPECT_EQ(bytes.substr(0x8028, 7), "cidata ");

  RunTool({"xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", dir / "out"});
  EXPECT_EQ(ReadFile(dir / "out/user-data"), seed.user_data);
  EXPECT_EQ(ReadFile(dir / "out/meta-data"), seed.meta_data);
  EXPECT_EQ(ReadFile(dir / "out/network-config"), seed.network_config);
  // Nothing but the ISO is left next to it.
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    entries += entry.path().filename() != "out";
  }
  EXPECT_EQ(entries, 1);
}

TEST(WriteNoCloudIso, NoNetworkConfigFileWhenEmptyAndOldIsoReplaced) {
  TempDir dir;
  const std::string iso = dir / "cidata.iso";
  storage_testing::WriteFile(iso, "stale");
  NoCloudSeed seed{.user_data = "", .meta_data = "instance-id: x\n", .network_config = ""};
  ASSERT_TRUE(WriteNoCloudIso(seed, iso).ok());
  RunTool({"xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", dir / "out"});
  EXPECT_TRUE(std::filesystem::exists(dir / "out/user-data"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out/network-config"));
  EXPECT_EQ(ReadFile(dir / "out/meta-data"), "instance-id: x\n");
}

TEST(WriteNoCloudIso, MissingToolIsNotFound) {
  TempDir dir;
  base::Status status = WriteNoCloudIso({}, dir / "c.iso", "/nonexistent/xorriso");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), base::Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir / "c.iso"));
}

}  // namespace
}  // namespace vireo::launcher
