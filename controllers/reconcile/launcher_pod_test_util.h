// Launcher pods for the RenderLauncherPod tests (launcher_pod_test.cc,
// launcher_pod_security_test.cc): VMIs from lib/api's fixtures and a config.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "controllers/reconcile/common.h"
#include "controllers/reconcile/launcher_pod.h"
#include "controllers/reconcile/vm.h"
#include "lib/api/codec.h"
#include "lib/api/test_util.h"
#include "lib/api/types.h"

namespace vireo::controllers::testing {

inline constexpr char kLauncherImage[] = "localhost/vireo-launcher:dev";

inline LauncherConfig Config(EmulationMode mode) {
  LauncherConfig config;
  config.image = kLauncherImage;
  config.emulation = mode;
  return config;
}

// The VMI a VM from lib/api's fixtures makes, as the apiserver returns it.
inline api::VirtualMachineInstance VmiFromVmFixture(const std::string& fixture,
                                                    const std::string& uid) {
  auto vm = api::FromJson<api::VirtualMachine>(api::testing::LoadFixture(fixture));
  EXPECT_TRUE(vm.ok()) << vm.status().ToString();
  auto vmi = api::FromJson<api::VirtualMachineInstance>(NewVmiFor(*vm));
  EXPECT_TRUE(vmi.ok()) << vmi.status().ToString();
  // Fixtures written by hand may lack what the apiserver would have set.
  if (vm->metadata.uid.empty()) {
    vm->metadata.uid = "0f3b3d55-0000-4000-8000-000000000a01";
    vm->metadata.generation = 1;
    vmi = api::FromJson<api::VirtualMachineInstance>(NewVmiFor(*vm));
  }
  vmi->metadata.uid = uid;
  vmi->metadata.namespace_ = vm->metadata.namespace_.empty() ? "default" : vm->metadata.namespace_;
  return *vmi;
}

inline Json Render(const api::VirtualMachineInstance& vmi, const LauncherConfig& config,
                   const Claims& claims = {}) {
  base::Result<Json> pod = RenderLauncherPod(vmi, config, claims);
  EXPECT_TRUE(pod.ok()) << pod.status().ToString();
  return pod.ok() ? *pod : Json();
}

// The cirros VM with firmware.kernelBoot from an image of its own.
inline api::VirtualMachineInstance KernelBootVmi() {
  auto vmi = VmiFromVmFixture("vm_cirros.json", "1d7e9a70-0000-4000-8000-0000000000d4");
  api::KernelBoot& kernel_boot = vmi.spec.domain.firmware.emplace().kernel_boot.emplace();
  kernel_boot.kernel_args = "console=ttyS0";
  api::KernelBootContainer& container = kernel_boot.container.emplace();
  container.image = "kernels:1";
  container.image_pull_policy = "IfNotPresent";
  container.kernel_path = "/boot/vmlinuz";
  container.initrd_path = "/boot/initrd.img";
  return vmi;
}

}  // namespace vireo::controllers::testing
