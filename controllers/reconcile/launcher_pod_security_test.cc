// RenderLauncherPod held to PodSecurity "restricted": every rendering runs as
// uid 107 without capabilities and passes it, but for what passt's seccomp needs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "controllers/reconcile/launcher_pod.h"
#include "controllers/reconcile/launcher_pod_test_util.h"
#include "lib/api/codec.h"
#include "lib/api/defaults.h"
#include "lib/api/test_util.h"

namespace vireo::controllers {
namespace {

using testing::Config;
using testing::KernelBootVmi;
using testing::Render;
using testing::VmiFromVmFixture;

// What PodSecurity "restricted" (Kubernetes 1.36, the policy version the T3
// namespace enforces) asks of a pod, as a list of violations: empty when the
// apiserver would admit it. The apiserver's own verdict is T3's
// (tests/e2e/e2e_test.py); this keeps every rendering of the pod honest.
std::vector<std::string> RestrictedViolations(const Json& pod) {
  std::vector<std::string> out;
  const Json& spec = pod.at("spec");
  const Json none = Json::object();
  const Json& pod_sc = spec.contains("securityContext") ? spec.at("securityContext") : none;
  for (const char* host : {"hostNetwork", "hostPID", "hostIPC"}) {
    if (spec.contains(host) && spec.at(host).get<bool>()) out.push_back(std::string(host));
  }
  static const std::set<std::string> kAllowedVolumes = {
      "configMap", "csi",   "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
      "projected", "secret"};
  for (const Json& v : spec.at("volumes")) {
    for (const auto& [key, value] : v.items()) {
      if (key != "name" && !kAllowedVolumes.contains(key)) {
        out.push_back("volume " + v.at("name").get<std::string>() + ": " + key);
      }
    }
  }
  auto seccomp_ok = [](const Json& sc) {
    if (!sc.contains("seccompProfile")) return false;
    const std::string type = sc.at("seccompProfile").at("type").get<std::string>();
    return type == "RuntimeDefault" || type == "Localhost";
  };
  auto field = [](const Json& sc, const char* name) -> const Json* {
    return sc.contains(name) ? &sc.at(name) : nullptr;
  };
  if (const Json* uid = field(pod_sc, "runAsUser"); uid != nullptr && uid->get<int>() == 0) {
    out.push_back("pod runAsUser 0");
  }
  std::vector<const Json*> containers;
  for (const char* list : {"initContainers", "containers"}) {
    if (!spec.contains(list)) continue;
    for (const Json& c : spec.at(list)) containers.push_back(&c);
  }
  for (const Json* c : containers) {
    const std::string name = c->at("name").get<std::string>();
    const Json& sc = c->contains("securityContext") ? c->at("securityContext") : none;
    if (const Json* p = field(sc, "privileged"); p != nullptr && p->get<bool>()) {
      out.push_back(name + ": privileged");
    }
    const Json* escalation = field(sc, "allowPrivilegeEscalation");
    if (escalation == nullptr || escalation->get<bool>()) {
      out.push_back(name + ": allowPrivilegeEscalation not false");
    }
    const Json* caps = field(sc, "capabilities");
    bool drops_all = false;
    if (caps != nullptr && caps->contains("drop")) {
      for (const Json& d : caps->at("drop")) drops_all |= d.get<std::string>() == "ALL";
    }
    if (!drops_all) out.push_back(name + ": capabilities do not drop ALL");
    if (caps != nullptr && caps->contains("add")) {
      for (const Json& a : caps->at("add")) {
        if (a.get<std::string>() != "NET_BIND_SERVICE")
          out.push_back(name + ": adds " + a.get<std::string>());
      }
    }
    const Json* non_root = field(sc, "runAsNonRoot");
    if (non_root == nullptr) non_root = field(pod_sc, "runAsNonRoot");
    if (non_root == nullptr || !non_root->get<bool>()) out.push_back(name + ": runAsNonRoot unset");
    if (const Json* uid = field(sc, "runAsUser"); uid != nullptr && uid->get<int>() == 0) {
      out.push_back(name + ": runAsUser 0");
    }
    if (!seccomp_ok(sc) && !seccomp_ok(pod_sc)) out.push_back(name + ": no seccompProfile");
    if (c->contains("ports")) {
      for (const Json& port : c->at("ports")) {
        if (port.contains("hostPort")) out.push_back(name + ": hostPort");
      }
    }
  }
  return out;
}

TEST(LauncherPodSecurity, CheckerFlagsAPodWithoutASecurityContext) {
  // The checker below must be able to fail: a pod as Vireo rendered it
  // before it ran as 107 breaks the policy on every count.
  const auto vmi = VmiFromVmFixture("vm_cirros.json", "1d7e9a70-0000-4000-8000-0000000000d0");
  Json pod = Render(vmi, Config(EmulationMode::kAuto));
  pod["spec"].erase("securityContext");
  for (const char* list : {"initContainers", "containers"}) {
    for (auto& c : pod["spec"][list]) c.erase("securityContext");
  }
  const std::vector<std::string> violations = RestrictedViolations(pod);
  EXPECT_THAT(violations, ::testing::Contains("compute: runAsNonRoot unset"));
  EXPECT_THAT(violations, ::testing::Contains("compute: no seccompProfile"));
  EXPECT_THAT(violations, ::testing::Contains("compute: capabilities do not drop ALL"));
  EXPECT_THAT(violations, ::testing::Contains("vireo-tools: allowPrivilegeEscalation not false"));
}

// Every rendering runs as uid 107 with no capabilities. Without an
// interface the pod passes "restricted" whole; with one, the launcher
// container has no seccomp profile (passt needs an unprivileged user
// namespace, which RuntimeDefault refuses), and that is the only rule of
// "restricted" the pod misses.
TEST(LauncherPodSecurity, EveryRenderingRunsAsUid107AndPassesRestrictedButPasstSeccomp) {
  LauncherConfig probing = Config(EmulationMode::kAuto);
  probing.kvm_resource_offered = true;  // the accel-probe init container too
  struct Case {
    std::string what;
    api::VirtualMachineInstance vmi;
    LauncherConfig config;
    Claims claims;
  };
  auto emptydisk =
      api::FromJson<api::VirtualMachineInstance>(api::testing::LoadFixture("vmi_emptydisk.json"));
  ASSERT_TRUE(emptydisk.ok()) << emptydisk.status().ToString();
  api::ApplyVmiDefaults(&*emptydisk);
  std::vector<Case> cases = {
      {"containerDisk, accel probe",
       VmiFromVmFixture("vm_cirros.json", "1d7e9a70-0000-4000-8000-0000000000d1"),
       probing,
       {}},
      {"filesystem and block claims, KVM only",
       VmiFromVmFixture("vm_pvc.json", "1d7e9a70-0000-4000-8000-0000000000d2"),
       Config(EmulationMode::kOff),
       {{"fedora-root", VolumeMode::kFilesystem}, {"fedora-iso", VolumeMode::kBlock}}},
      {"containerDisk and emptyDisk, TCG", *emptydisk, Config(EmulationMode::kOn), {}},
      {"kernelBoot, accel probe", KernelBootVmi(), probing, {}},
  };
  const size_t with_interfaces = cases.size();
  for (size_t i = 0; i < with_interfaces; ++i) {
    Case c = cases[i];
    ASSERT_FALSE(c.vmi.spec.domain.devices.interfaces.empty()) << c.what;
    c.what += ", no interface";
    c.vmi.spec.domain.devices.interfaces.clear();
    c.vmi.spec.networks.clear();
    cases.push_back(std::move(c));
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.what);
    const Json pod = Render(c.vmi, c.config, c.claims);
    if (i < with_interfaces) {
      EXPECT_THAT(RestrictedViolations(pod),
                  ::testing::ElementsAre(std::string(kLauncherContainer) + ": no seccompProfile"));
    } else {
      EXPECT_THAT(RestrictedViolations(pod), ::testing::IsEmpty());
    }
    const Json& sc = pod.at("spec").at("securityContext");
    // passt binds low ports as 107: the pod's network namespace allows it.
    EXPECT_EQ(sc.contains("sysctls") ? sc.at("sysctls").dump() : "",
              i < with_interfaces
                  ? R"([{"name":"net.ipv4.ip_unprivileged_port_start","value":"0"}])"
                  : "");
    // Fixed ids, the ones the launcher image names libvirt-qemu and the
    // importer pod uses: files one writes, the other reads.
    EXPECT_EQ(sc.at("runAsUser").get<int>(), 107);
    EXPECT_EQ(sc.at("runAsGroup").get<int>(), 107);
    EXPECT_EQ(sc.at("fsGroup").get<int>(), 107);
    EXPECT_TRUE(sc.at("runAsNonRoot").get<bool>());
    size_t containers = 0;
    for (const char* list : {"initContainers", "containers"}) {
      if (!pod.at("spec").contains(list)) continue;
      for (const Json& container : pod.at("spec").at(list)) {
        ++containers;
        const Json& csc = container.at("securityContext");
        EXPECT_FALSE(csc.at("allowPrivilegeEscalation").get<bool>()) << container.at("name");
        EXPECT_EQ(csc.at("capabilities").at("drop").dump(), "[\"ALL\"]") << container.at("name");
        EXPECT_FALSE(csc.contains("runAsUser")) << "the pod's uid, not one per container";
      }
    }
    EXPECT_GE(containers, 1u);
  }
  // The containerDisk case has the probe (which brings the tools too) and
  // the disk's server container: both are held to the policy above.
  const Json pod = Render(cases[0].vmi, cases[0].config);
  EXPECT_EQ(pod.at("spec").at("initContainers").size(), 1u);
  EXPECT_EQ(pod.at("spec").at("containers").size(), 2u);
}

// With the cluster's Localhost profile for passt (--launcher-seccomp-profile),
// a networked VMI's launcher pod passes "restricted" whole: the launcher
// container names that profile, every other container RuntimeDefault, and a
// VMI without an interface is rendered as before.
TEST(LauncherPodSecurity, LocalhostProfileForPasstPassesRestricted) {
  LauncherConfig config = Config(EmulationMode::kAuto);
  config.kvm_resource_offered = true;
  config.passt_seccomp_profile = "vireo/launcher.json";
  const auto networked = VmiFromVmFixture("vm_cirros.json", "1d7e9a70-0000-4000-8000-0000000000e1");
  ASSERT_FALSE(networked.spec.domain.devices.interfaces.empty());
  auto quiet = networked;
  quiet.spec.domain.devices.interfaces.clear();
  quiet.spec.networks.clear();

  auto profiles = [](const Json& pod) {
    std::map<std::string, std::string> out;
    for (const char* list : {"initContainers", "containers"}) {
      for (const Json& c : pod.at("spec").at(list)) {
        const Json& sc = c.at("securityContext");
        out[c.at("name").get<std::string>()] =
            sc.contains("seccompProfile") ? sc.at("seccompProfile").dump() : "none";
      }
    }
    return out;
  };
  const std::string runtime_default = R"({"type":"RuntimeDefault"})";
  const Json pod = Render(networked, config);
  EXPECT_THAT(RestrictedViolations(pod), ::testing::IsEmpty());
  const auto with_interface = profiles(pod);
  EXPECT_EQ(with_interface.at(kLauncherContainer),
            R"({"localhostProfile":"vireo/launcher.json","type":"Localhost"})");
  EXPECT_EQ(with_interface.size(), 3u);  // the accel-probe and copy init containers, compute
  for (const auto& [name, profile] : with_interface) {
    if (name != kLauncherContainer) {
      EXPECT_EQ(profile, runtime_default) << name;
    }
  }

  const Json quiet_pod = Render(quiet, config);
  EXPECT_THAT(RestrictedViolations(quiet_pod), ::testing::IsEmpty());
  for (const auto& [name, profile] : profiles(quiet_pod)) {
    EXPECT_EQ(profile, runtime_default) << name;
  }

  // The same pod without the option: the launcher container names none.
  config.passt_seccomp_profile.clear();
  EXPECT_EQ(profiles(Render(networked, config)).at(kLauncherContainer), "none");
}

}  // namespace
}  // namespace vireo::controllers
