// Shared by the convert tests: the golden cases, loading their VMIs, and
// the disk sources storage/ would prepare for them under the pod contract.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "launcher/convert/context.h"
#include "lib/api/codec.h"
#include "lib/api/defaults.h"

namespace vireo::launcher::convert_testing {

inline constexpr char kStateDir[] = "/var/run/vireo/state";

// One golden case: testdata/<name>.vmi.json converts to testdata/<name>.xml.
struct GoldenCase {
  std::string name;
  Emulation emulation = Emulation::kTcg;
  ConsoleChardev console = ConsoleChardev::kUnixSocket;
  UserNetBackend network = UserNetBackend::kPasstProcess;
  std::set<std::string> block_volumes;  // PVCs that come as block devices
  bool libvirt_9_0_accepts = true;      // false: needs a newer libvirt
};

inline std::vector<GoldenCase> GoldenCases() {
  std::vector<GoldenCase> cases(6);
  cases[0].name = "bios_containerdisk_cloudinit";
  cases[1].name = "efi_secureboot_pvc";
  cases[1].network = UserNetBackend::kSlirp;
  cases[2].name = "efi_block_pvc_kvm";
  cases[2].emulation = Emulation::kKvm;
  cases[2].console = ConsoleChardev::kPty;
  cases[2].block_volumes = {"root"};
  cases[3].name = "emptydisk_cdrom_sata";
  cases[4].name = "scsi_graphics_kvm";
  cases[4].emulation = Emulation::kKvm;
  cases[5].name = "passt_newer_libvirt";
  cases[5].network = UserNetBackend::kPasstLibvirt;
  cases[5].libvirt_9_0_accepts = false;
  return cases;
}

inline std::string TestdataPath(const std::string& file) {
  return std::string(VIREO_CONVERT_TESTDATA) + "/" + file;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The VMI of testdata/<name>.vmi.json with defaults applied, as the
// controller hands it to the launcher. Fails the test when it cannot.
inline api::VirtualMachineInstance LoadVmi(const std::string& name) {
  const std::string path = TestdataPath(name + ".vmi.json");
  auto json = base::ParseJson(ReadText(path), path);
  if (!json.ok()) ADD_FAILURE() << json.status().message();
  auto vmi = api::FromJson<api::VirtualMachineInstance>(json.ok() ? *json : base::Json());
  if (!vmi.ok()) {
    ADD_FAILURE() << path << ": " << vmi.status().ToString();
    return {};
  }
  api::ApplyVmiDefaults(&*vmi);
  return *vmi;
}

// What PrepareVolumes returns for `vmi` in a pod laid out per
// docs/launcher-pod.md, without touching a file.
inline DiskSources ContractDisks(const api::VirtualMachineInstance& vmi,
                                 const std::string& state_dir,
                                 const std::set<std::string>& block_volumes = {}) {
  DiskSources disks;
  for (const api::Volume& volume : vmi.spec.volumes) {
    DiskSource source;
    source.volume = volume.name;
    if (volume.persistent_volume_claim.has_value()) {
      source.block = block_volumes.contains(volume.name);
      source.path = source.block ? "/dev/vireo/" + volume.name
                                 : "/var/run/vireo/volumes/" + volume.name + "/disk.img";
      source.readonly = volume.persistent_volume_claim->read_only.value_or(false);
    } else if (volume.container_disk.has_value()) {
      source.path = state_dir + "/container-disks/" + volume.name + ".qcow2";
      source.format = DiskFormat::kQcow2;
      source.backing_path = "/var/run/vireo/container-disks/" + volume.name + "/disk.img";
    } else if (volume.empty_disk.has_value()) {
      source.path = state_dir + "/empty-disks/" + volume.name + ".qcow2";
      source.format = DiskFormat::kQcow2;
    } else if (volume.cloud_init_no_cloud.has_value()) {
      source.path = state_dir + "/cloud-init/" + volume.name + ".iso";
      source.readonly = true;
    }
    disks.emplace(volume.name, source);
  }
  return disks;
}

inline ConvertContext ContextFor(const GoldenCase& golden, const api::VirtualMachineInstance& vmi,
                                 const std::string& state_dir = kStateDir) {
  ConvertContext ctx = ContextForStateDir(state_dir, golden.emulation);
  ctx.console = golden.console;
  ctx.network_backend = golden.network;
  ctx.disks = ContractDisks(vmi, state_dir, golden.block_volumes);
  return ctx;
}

}  // namespace vireo::launcher::convert_testing
