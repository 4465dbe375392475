// The controller and the launcher agree on the launcher pod: a pod rendered by
// the controller's code (controllers/reconcile/launcher_pod.h) for a range of
// VMIs is one the launcher's code accepts. Its containers' commands go through
// the launcher's own option parser (launcher/options.h), and every path the
// launcher will open (launcher/paths.h: the VMI file, the state dir, each
// volume's directory or device, the cloud-init Secrets) must be a mount or
// device of the launcher container backed by the right pod volume.
//
// It lives in tests/contract/ because it links both sides: the controller's
// reconcile library and the launcher's, which neither program's folder may
// depend on (the programs share only lib/, where their contract is:
// lib/api/launcher_pod.h).
#include "controllers/reconcile/launcher_pod.h"

#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "launcher/options.h"
#include "launcher/paths.h"
#include "launcher/storage/cloud_init.h"
#include "lib/api/codec.h"
#include "lib/api/defaults.h"
#include "lib/api/launcher_pod.h"
#include "lib/api/validation.h"
#include "lib/base/json.h"

namespace vireo {
namespace {

namespace contract = api::launcher_pod;
using base::Json;
using controllers::ClaimInfo;
using controllers::Claims;
using controllers::EmulationMode;
using controllers::LauncherConfig;
using controllers::VolumeMode;

// ----------------------------------------------------------- the pod's parts

const Json* Named(const Json& pod, const char* list, const std::string& name) {
  const Json* items = base::Find(pod, std::string("spec.") + list);
  if (items == nullptr || !items->is_array()) return nullptr;
  for (const Json& item : *items) {
    if (base::GetString(item, "name") == name) return &item;
  }
  return nullptr;
}

std::vector<std::string> Strings(const Json* array) {
  std::vector<std::string> out;
  if (array == nullptr || !array->is_array()) return out;
  for (const Json& s : *array) out.push_back(s.get<std::string>());
  return out;
}

// command + args, as the kubelet runs them.
std::vector<std::string> CommandLine(const Json& container) {
  std::vector<std::string> line = Strings(base::Find(container, "command"));
  for (std::string& arg : Strings(base::Find(container, "args"))) line.push_back(std::move(arg));
  return line;
}

struct Mount {
  std::string volume;
  bool read_only = false;
};
// mountPath -> mount; devicePath -> volume.
std::map<std::string, Mount> MountsOf(const Json& container) {
  std::map<std::string, Mount> out;
  const Json* mounts = base::Find(container, "volumeMounts");
  if (mounts == nullptr) return out;
  for (const Json& m : *mounts) {
    out[base::GetString(m, "mountPath")] = {base::GetString(m, "name"),
                                            base::GetBool(m, "readOnly").value_or(false)};
  }
  return out;
}
std::map<std::string, std::string> DevicesOf(const Json& container) {
  std::map<std::string, std::string> out;
  const Json* devices = base::Find(container, "volumeDevices");
  if (devices == nullptr) return out;
  for (const Json& d : *devices) {
    out[base::GetString(d, "devicePath")] = base::GetString(d, "name");
  }
  return out;
}

// What the launcher's parser makes of a container's command line: it must
// be `vireo-launcher <subcommand> ...` with nothing the parser refuses. The
// pod's environment gives the launcher no VIREO_ROOT.
launcher::Options Parse(const std::vector<std::string>& line, launcher::Subcommand expected) {
  EXPECT_GE(line.size(), 2u);
  if (line.size() < 2) return {};
  EXPECT_EQ(line[0], contract::kBinary);
  auto options = launcher::ParseOptions({line.begin() + 1, line.end()}, {});
  EXPECT_TRUE(options.ok()) << options.status().ToString();
  if (!options.ok()) return {};
  EXPECT_EQ(options->subcommand, expected);
  EXPECT_FALSE(options->help);
  return *options;
}

// ------------------------------------------------------------- the check

struct Case {
  std::string name;
  std::string vmi_json;  // a VirtualMachineInstance
  LauncherConfig config;
  Claims claims;
};

api::VirtualMachineInstance Vmi(const std::string& text) {
  auto json = base::ParseJson(text, "test VMI");
  EXPECT_TRUE(json.ok()) << json.status().ToString();
  auto vmi = api::FromJson<api::VirtualMachineInstance>(*json);
  EXPECT_TRUE(vmi.ok()) << vmi.status().ToString();
  api::ApplyVmiDefaults(&*vmi);
  return *vmi;
}

// The directory `path` is a mount of the launcher container; returns it.
std::optional<Mount> MountAt(const std::map<std::string, Mount>& mounts, const std::string& path) {
  auto it = mounts.find(path);
  if (it == mounts.end()) {
    ADD_FAILURE() << "the launcher opens " << path << ", which the pod does not mount";
    return std::nullopt;
  }
  return it->second;
}

// `pod` is one the launcher accepts for `vmi`, rendered with `c`'s config
// and claims.
void ExpectPodAccepted(const Json& pod, const api::VirtualMachineInstance& vmi, const Case& c) {
  const Json* launcher = Named(pod, "containers", contract::kLauncherContainer);
  ASSERT_NE(launcher, nullptr);
  const auto mounts = MountsOf(*launcher);
  const auto devices = DevicesOf(*launcher);

  // run: every flag parses, with the values the controller meant.
  const launcher::Options run = Parse(CommandLine(*launcher), launcher::Subcommand::kRun);
  EXPECT_EQ(run.emulation, c.config.emulation);
  const int64_t grace = vmi.spec.termination_grace_period_seconds.value_or(
      api::kDefaultTerminationGracePeriodSeconds);
  EXPECT_EQ(run.grace_period_seconds, grace == 0 ? 0 : launcher::kGraceUnbounded);
  // The launcher's own defaults are the same paths: a pod without the flags
  // would work too.
  const launcher::PodPaths paths(run.root);
  EXPECT_EQ(run.vmi_file, paths.VmiFile());
  EXPECT_EQ(run.state_dir, paths.StateDir());

  // The VMI file: a downwardAPI volume projecting the annotation, and the
  // annotation is a VMI the launcher loads (decode, defaults, validation).
  const std::filesystem::path vmi_file(run.vmi_file);
  if (auto m = MountAt(mounts, vmi_file.parent_path().string())) {
    const Json* volume = Named(pod, "volumes", m->volume);
    ASSERT_NE(volume, nullptr);
    const Json* items = base::Find(*volume, "downwardAPI.items");
    ASSERT_NE(items, nullptr);
    ASSERT_EQ(items->size(), 1u);
    EXPECT_EQ(base::GetString(items->at(0), "path"), vmi_file.filename().string());
    EXPECT_EQ(base::GetString(items->at(0), "fieldRef.fieldPath"),
              std::string("metadata.annotations['") + contract::kVmiAnnotation + "']");
  }
  const Json* annotations = base::Find(pod, "metadata.annotations");
  ASSERT_NE(annotations, nullptr);
  ASSERT_TRUE(annotations->contains(contract::kVmiAnnotation));
  auto vmi_json =
      base::ParseJson(annotations->at(contract::kVmiAnnotation).get<std::string>(), "annotation");
  ASSERT_TRUE(vmi_json.ok()) << vmi_json.status().ToString();
  auto loaded = api::FromJson<api::VirtualMachineInstance>(*vmi_json);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  api::ApplyVmiDefaults(&*loaded);
  EXPECT_TRUE(api::ValidateVirtualMachineInstance(*loaded).ok());

  // The state dir: a writable emptyDir.
  if (auto m = MountAt(mounts, run.state_dir)) {
    EXPECT_FALSE(m->read_only);
    const Json* volume = Named(pod, "volumes", m->volume);
    ASSERT_NE(volume, nullptr);
    EXPECT_NE(base::Find(*volume, "emptyDir"), nullptr);
  }

  // The readiness probe and the accel-probe init container: the same state
  // dir, mounted from the same volume.
  const launcher::Options probe = Parse(
      Strings(base::Find(*launcher, "readinessProbe.exec.command")), launcher::Subcommand::kProbe);
  EXPECT_EQ(probe.state_dir, run.state_dir);
  // The postStart hook waits for the domain in the same state dir, and the
  // launcher knows of it, so it lets a waiting hook return before it exits.
  const launcher::Options hook =
      Parse(Strings(base::Find(*launcher, "lifecycle.postStart.exec.command")),
            launcher::Subcommand::kWaitRunning);
  EXPECT_EQ(hook.state_dir, run.state_dir);
  EXPECT_GT(hook.wait_seconds, 0);
  EXPECT_TRUE(run.post_start_hook);
  if (const Json* accel = Named(pod, "initContainers", contract::kAccelProbeContainer)) {
    const launcher::Options options = Parse(CommandLine(*accel), launcher::Subcommand::kAccelProbe);
    EXPECT_EQ(options.state_dir, run.state_dir);
    const auto accel_mounts = MountsOf(*accel);
    ASSERT_TRUE(accel_mounts.contains(run.state_dir));
    EXPECT_EQ(accel_mounts.at(run.state_dir).volume, mounts.at(run.state_dir).volume);
    EXPECT_FALSE(accel_mounts.at(run.state_dir).read_only);
    // When it brings the containerDisk containers' busybox: a writable
    // mount of the volume every one of them runs that busybox from.
    if (!options.copy_tools_to.empty()) {
      ASSERT_TRUE(accel_mounts.contains(options.copy_tools_to));
      EXPECT_FALSE(accel_mounts.at(options.copy_tools_to).read_only);
      int copies = 0;
      Json users = *base::Find(pod, "spec.initContainers");
      for (const Json& c : *base::Find(pod, "spec.containers")) users.push_back(c);
      for (const Json& init : users) {
        const std::vector<std::string> argv = CommandLine(init);
        if (argv.empty() || argv[0] != options.copy_tools_to + "/" + contract::kToolsBusybox) {
          continue;
        }
        ++copies;
        const auto copy_mounts = MountsOf(init);
        ASSERT_TRUE(copy_mounts.contains(options.copy_tools_to));
        EXPECT_EQ(copy_mounts.at(options.copy_tools_to).volume,
                  accel_mounts.at(options.copy_tools_to).volume);
      }
      EXPECT_GE(copies, 1) << "tools copied for no containerDisk";
    }
  }

  // Each volume, where the launcher's storage code looks for it.
  const launcher::StorageLayout layout = paths.Storage(run.state_dir);
  for (const api::Volume& v : vmi.spec.volumes) {
    SCOPED_TRACE("volume " + v.name);
    if (v.persistent_volume_claim.has_value() || v.data_volume.has_value()) {
      const std::string claim = v.persistent_volume_claim.has_value()
                                    ? v.persistent_volume_claim->claim_name
                                    : v.data_volume->name;
      auto info = c.claims.find(claim);
      if (info != c.claims.end() && info->second.mode == VolumeMode::kBlock) {
        const std::string device = layout.block_dir + "/" + v.name;
        EXPECT_EQ(device, paths.BlockDevice(v.name));
        ASSERT_TRUE(devices.contains(device)) << device;
        EXPECT_EQ(devices.at(device), v.name);
      } else {
        const std::string dir = layout.volumes_dir + "/" + v.name;
        EXPECT_EQ(dir, paths.VolumeDir(v.name));
        if (auto m = MountAt(mounts, dir)) {
          EXPECT_EQ(m->volume, v.name);
          const bool read_only = v.persistent_volume_claim.has_value() &&
                                 v.persistent_volume_claim->read_only.value_or(false);
          // disk.img is created there when missing: writable unless the
          // claim is read-only.
          EXPECT_EQ(m->read_only, read_only);
        }
        const Json* volume = Named(pod, "volumes", v.name);
        ASSERT_NE(volume, nullptr);
        EXPECT_EQ(base::GetString(*volume, "persistentVolumeClaim.claimName"), claim);
      }
    }
    if (v.container_disk.has_value()) {
      const std::string dir = layout.container_disks_dir + "/" + v.name;
      EXPECT_EQ(dir, paths.ContainerDiskDir(v.name));
      if (auto m = MountAt(mounts, dir)) {
        // A container running the volume's image, started before the
        // launcher, writes its answer there, into the same pod volume; the
        // launcher reads its file through /proc/<pid>/root.
        EXPECT_TRUE(base::GetBool(pod, "spec.shareProcessNamespace").value_or(false));
        int served = 0;
        const Json* containers = base::Find(pod, "spec.containers");
        ASSERT_NE(containers, nullptr);
        for (const Json& server : *containers) {
          if (base::GetString(server, "name") == contract::kLauncherContainer) break;
          if (base::GetString(server, "image") != v.container_disk->image) continue;
          const auto server_mounts = MountsOf(server);
          if (!server_mounts.contains(dir)) continue;
          ++served;
          EXPECT_EQ(server_mounts.at(dir).volume, m->volume);
          EXPECT_FALSE(server_mounts.at(dir).read_only);
          EXPECT_EQ(CommandLine(server).back(), dir);
        }
        EXPECT_EQ(served, 1) << "containers before the launcher serving " << dir;
      }
    }
    if (v.cloud_init_no_cloud.has_value()) {
      const launcher::NoCloudSecretDirs dirs =
          launcher::NoCloudSecretDirsUnder(layout.cloud_init_secrets_dir + "/" + v.name);
      EXPECT_EQ(layout.cloud_init_secrets_dir + "/" + v.name, paths.CloudInitSecretsDir(v.name));
      for (const auto& [secret, dir] :
           {std::pair{v.cloud_init_no_cloud->secret_ref, dirs.user_data},
            std::pair{v.cloud_init_no_cloud->network_data_secret_ref, dirs.network_data}}) {
        if (secret.empty()) {
          EXPECT_FALSE(mounts.contains(dir)) << dir;
          continue;
        }
        if (auto m = MountAt(mounts, dir)) {
          const Json* volume = Named(pod, "volumes", m->volume);
          ASSERT_NE(volume, nullptr);
          EXPECT_EQ(base::GetString(*volume, "secret.secretName"), secret);
        }
      }
    }
  }
}

Json Render(const api::VirtualMachineInstance& vmi, const Case& c) {
  auto rendered = controllers::RenderLauncherPod(vmi, c.config, c.claims);
  EXPECT_TRUE(rendered.ok()) << rendered.status().ToString();
  return rendered.ok() ? *rendered : Json::object();
}

void ExpectLauncherAccepts(const Case& c) {
  SCOPED_TRACE(c.name);
  const api::VirtualMachineInstance vmi = Vmi(c.vmi_json);
  ExpectPodAccepted(Render(vmi, c), vmi, c);
}

LauncherConfig Config(EmulationMode mode, bool offered = false) {
  LauncherConfig config;
  config.image = "localhost/vireo-launcher:dev";
  config.emulation = mode;
  config.kvm_resource_offered = offered;
  return config;
}

// A VMI with `volumes` (JSON array items) each on a disk of its name.
std::string VmiWith(const std::vector<std::pair<std::string, std::string>>& volumes,
                    const std::string& extra_spec = "") {
  std::string disks, vols;
  for (const auto& [name, source] : volumes) {
    if (!disks.empty()) {
      disks += ",";
      vols += ",";
    }
    disks += R"({"name":")" + name + R"(","disk":{"bus":"virtio"}})";
    vols += R"({"name":")" + name + R"(",)" + source + "}";
  }
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
    "metadata":{"name":"vm1","namespace":"ns1","uid":"6a1c0d2e-0000-4000-8000-000000000001"},
    "spec":{)" +
         extra_spec + R"("domain":{"memory":{"guest":"128Mi"},"devices":{"disks":[)" + disks +
         R"(]}},"volumes":[)" + vols + "]}}";
}

TEST(LauncherPodContract, ContainerDisks) {
  ExpectLauncherAccepts(
      {"containerDisk, default path and a path",
       VmiWith({{"root", R"("containerDisk":{"image":"reg/disk:1"})"},
                {"extra", R"("containerDisk":{"image":"reg/other:2","path":"/disk/x.qcow2"})"}}),
       Config(EmulationMode::kAuto),
       {}});
}

TEST(LauncherPodContract, ClaimsFilesystemAndBlock) {
  ExpectLauncherAccepts(
      {"PVCs: filesystem, read-only, block; a DataVolume",
       VmiWith({{"fs", R"("persistentVolumeClaim":{"claimName":"fs-claim"})"},
                {"ro", R"("persistentVolumeClaim":{"claimName":"ro-claim","readOnly":true})"},
                {"blk", R"("persistentVolumeClaim":{"claimName":"blk-claim"})"},
                {"dv", R"("dataVolume":{"name":"dv-1"})"}}),
       Config(EmulationMode::kOn),
       {{"fs-claim", ClaimInfo(VolumeMode::kFilesystem)},
        {"ro-claim", ClaimInfo(VolumeMode::kFilesystem)},
        {"blk-claim", ClaimInfo(VolumeMode::kBlock)},
        {"dv-1", ClaimInfo(VolumeMode::kBlock)}}});
}

TEST(LauncherPodContract, CloudInitWithAndWithoutSecrets) {
  ExpectLauncherAccepts({"cloud-init inline",
                         VmiWith({{"root", R"("containerDisk":{"image":"reg/disk:1"})"},
                                  {"ci", R"("cloudInitNoCloud":{"userData":"#cloud-config\n"})"}}),
                         Config(EmulationMode::kOff),
                         {}});
  ExpectLauncherAccepts({"cloud-init from Secrets",
                         VmiWith({{"root", R"("containerDisk":{"image":"reg/disk:1"})"},
                                  {"ci", R"("cloudInitNoCloud":{"secretRef":{"name":"ud"},
                          "networkDataSecretRef":{"name":"nd"}})"}}),
                         Config(EmulationMode::kAuto, /*offered=*/true),
                         {}});
  ExpectLauncherAccepts({"cloud-init user data from a Secret, network data inline",
                         VmiWith({{"root", R"("containerDisk":{"image":"reg/disk:1"})"},
                                  {"ci", R"("cloudInitNoCloud":{"secretRef":{"name":"ud"},
                          "networkData":"version: 2\n"})"}}),
                         Config(EmulationMode::kAuto),
                         {}});
}

TEST(LauncherPodContract, EmulationModesAndGracePeriods) {
  const std::string disk = R"("containerDisk":{"image":"reg/disk:1"})";
  for (auto [mode, offered] :
       {std::pair{EmulationMode::kAuto, false}, std::pair{EmulationMode::kAuto, true},
        std::pair{EmulationMode::kOn, false}, std::pair{EmulationMode::kOff, false}}) {
    for (const std::string grace :
         {"", R"("terminationGracePeriodSeconds":0,)", R"("terminationGracePeriodSeconds":180,)"}) {
      ExpectLauncherAccepts(
          {std::string("emulation ") + contract::EmulationModeName(mode) +
               (offered ? " offered" : "") + ", grace " + grace,
           VmiWith({{"root", disk}, {"scratch", R"("emptyDisk":{"capacity":"1Gi"})"}}, grace),
           Config(mode, offered),
           {}});
    }
  }
}

// The failures `check` reports, instead of failing this test.
std::vector<std::string> FailuresOf(const std::function<void()>& check) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    check();
  }
  std::vector<std::string> out;
  for (int i = 0; i < results.size(); ++i) out.push_back(results.GetTestPartResult(i).message());
  return out;
}

// The check can fail: a pod whose command names a flag the launcher does not
// know, or that mounts a volume where the launcher does not look, is refused.
TEST(LauncherPodContract, AMismatchIsSeen) {
  const Case c{"mismatch",
               VmiWith({{"root", R"("containerDisk":{"image":"reg/disk:1"})"},
                        {"fs", R"("persistentVolumeClaim":{"claimName":"fs-claim"})"}}),
               Config(EmulationMode::kAuto),
               {}};
  const api::VirtualMachineInstance vmi = Vmi(c.vmi_json);
  const Json pod = Render(vmi, c);
  EXPECT_THAT(FailuresOf([&] { ExpectPodAccepted(pod, vmi, c); }), ::testing::IsEmpty());

  Json renamed_flag = pod;
  Json& command = renamed_flag["spec"]["containers"].back()["command"];
  for (size_t i = 0; i < command.size(); ++i) {
    if (command[i].get<std::string>() == "--vmi") command[i] = Json("--vmi-file");
  }
  EXPECT_THAT(FailuresOf([&] { ExpectPodAccepted(renamed_flag, vmi, c); }),
              ::testing::Contains(::testing::HasSubstr("unknown flag --vmi-file")));

  Json moved_mount = pod;
  for (Json& m : moved_mount["spec"]["containers"].back()["volumeMounts"]) {
    if (m["name"].get<std::string>() == "fs") m["mountPath"] = Json("/var/run/vireo/pvc/fs");
  }
  EXPECT_THAT(FailuresOf([&] { ExpectPodAccepted(moved_mount, vmi, c); }),
              ::testing::Contains(::testing::HasSubstr(
                  "opens /var/run/vireo/volumes/fs, which the pod does not mount")));
}

}  // namespace
}  // namespace vireo
