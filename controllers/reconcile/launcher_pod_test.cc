// RenderLauncherPod: golden pods for three VMIs (testdata/pod_*.json, with
// the VMI annotation shown parsed), and the rules behind them one by one.
#include "controllers/reconcile/launcher_pod.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "controllers/reconcile/test_util.h"
#include "controllers/reconcile/vm.h"
#include "lib/api/codec.h"
#include "lib/api/defaults.h"

namespace vireo::controllers {
namespace {

using ::testing::HasSubstr;

constexpr char kLauncherImage[] = "localhost/vireo-launcher:dev";

LauncherConfig Config(EmulationMode mode) {
  LauncherConfig config;
  config.image = kLauncherImage;
  config.emulation = mode;
  return config;
}

// The VMI a VM from lib/api's fixtures makes, as the apiserver returns it.
api::VirtualMachineInstance VmiFromVmFixture(const std::string& fixture, const std::string& uid) {
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

// The annotation is JSON inside a string; golden files show it parsed so a
// reviewer can read it.
Json Normalized(Json pod) {
  Json& annotations = pod["metadata"]["annotations"];
  annotations[kVmiAnnotation] = testing::ParseOrDie(annotations[kVmiAnnotation].get<std::string>());
  return pod;
}

Json Render(const api::VirtualMachineInstance& vmi, const LauncherConfig& config,
            const Claims& claims = {}) {
  base::Result<Json> pod = RenderLauncherPod(vmi, config, claims);
  EXPECT_TRUE(pod.ok()) << pod.status().ToString();
  return pod.ok() ? *pod : Json();
}

// The launcher container: the last, after the containerDisk servers.
const Json& Launcher(const Json& pod) {
  const Json& containers = pod.at("spec").at("containers");
  EXPECT_EQ(containers.back().at("name"), kLauncherContainer);
  return containers.back();
}

TEST(LauncherPodGolden, CirrosContainerDiskAuto) {
  const auto vmi = VmiFromVmFixture("vm_cirros.json", "1d7e9a70-0000-4000-8000-0000000000c1");
  testing::ExpectGolden(Normalized(Render(vmi, Config(EmulationMode::kAuto))), "pod_cirros.json");
}

TEST(LauncherPodGolden, PvcFilesystemAndBlockKvm) {
  const auto vmi = VmiFromVmFixture("vm_pvc.json", "1d7e9a70-0000-4000-8000-0000000000c2");
  const Claims claims = {{"fedora-root", VolumeMode::kFilesystem},
                         {"fedora-iso", VolumeMode::kBlock}};
  testing::ExpectGolden(Normalized(Render(vmi, Config(EmulationMode::kOff), claims)),
                        "pod_pvc.json");
}

TEST(LauncherPodGolden, StandaloneVmiEmulated) {
  auto vmi =
      api::FromJson<api::VirtualMachineInstance>(api::testing::LoadFixture("vmi_emptydisk.json"));
  ASSERT_TRUE(vmi.ok()) << vmi.status().ToString();
  api::ApplyVmiDefaults(&*vmi);
  testing::ExpectGolden(Normalized(Render(*vmi, Config(EmulationMode::kOn))), "pod_emptydisk.json");
}

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

// The cirros VM with firmware.kernelBoot from an image of its own.
api::VirtualMachineInstance KernelBootVmi() {
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

TEST(LauncherPod, CommandFollowsTheContract) {
  const auto vmi = VmiFromVmFixture("vm_cirros.json", "u1");
  for (EmulationMode mode : {EmulationMode::kAuto, EmulationMode::kOn, EmulationMode::kOff}) {
    const Json pod = Render(vmi, Config(mode));
    const Json& command = Launcher(pod).at("command");
    ASSERT_EQ(command.size(), 10u);
    const std::vector<std::string> want = {"vireo-launcher",
                                           "run",
                                           "--vmi",
                                           "/var/run/vireo/vmi/vmi.json",
                                           "--state-dir",
                                           "/var/run/vireo/state",
                                           std::string("--emulation=") + EmulationModeName(mode),
                                           "--grace-period-seconds",
                                           "0",
                                           "--post-start-hook"};
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(command.at(i).get<std::string>(), want[i]);
    // cirros asks for 0 s: the pod still gets the margin to destroy and exit.
    EXPECT_EQ(base::GetInt(pod, "spec.terminationGracePeriodSeconds"), 15);
    const bool asks_kvm =
        Launcher(pod).at("resources").contains("limits") &&
        Launcher(pod).at("resources").at("limits").contains("devices.kubevirt.io/kvm");
    EXPECT_EQ(asks_kvm, mode == EmulationMode::kOff);
  }
}

const Json* InitContainer(const Json& pod, const std::string& name) {
  const Json* list = base::Find(pod, "spec.initContainers");
  if (list == nullptr) return nullptr;
  for (const Json& c : *list) {
    if (base::GetString(c, "name") == name) return &c;
  }
  return nullptr;
}

bool AsksForKvm(const Json& container) {
  const Json* limits = base::Find(container, "resources.limits");
  return limits != nullptr && limits->contains("devices.kubevirt.io/kvm") &&
         limits->at("devices.kubevirt.io/kvm").get<std::string>() == "1";
}

// off: always the KVM resource; on: never; auto: when a device plugin
// offers it, with the accel-probe init container first.
TEST(LauncherPod, KvmResourceByModeAndWhetherAPluginOffersIt) {
  const auto vmi = VmiFromVmFixture("vm_cirros.json", "u1");
  struct Case {
    EmulationMode mode;
    bool offered;
    bool asks;
  };
  for (const Case& c :
       {Case{EmulationMode::kAuto, false, false}, Case{EmulationMode::kAuto, true, true},
        Case{EmulationMode::kOn, false, false}, Case{EmulationMode::kOn, true, false},
        Case{EmulationMode::kOff, false, true}, Case{EmulationMode::kOff, true, true}}) {
    SCOPED_TRACE(std::string(EmulationModeName(c.mode)) + (c.offered ? " offered" : ""));
    LauncherConfig config = Config(c.mode);
    config.kvm_resource_offered = c.offered;
    const Json pod = Render(vmi, config);
    EXPECT_EQ(AsksForKvm(Launcher(pod)), c.asks);
    const Json* probe = InitContainer(pod, kAccelProbeContainer);
    const bool probes = c.mode == EmulationMode::kAuto && c.offered;
    ASSERT_EQ(probe != nullptr, probes);
    // The containerDisk's copy tool: brought by the probe when there is one,
    // else by an init container of its own.
    EXPECT_EQ(InitContainer(pod, "vireo-tools") != nullptr, !probes);
    if (!probes) continue;
    // The one init container: the containerDisk is served by a container
    // beside the launcher.
    EXPECT_EQ(pod.at("spec").at("initContainers").size(), 1u);
    EXPECT_EQ(base::GetString(pod.at("spec").at("initContainers").at(0), "name"), "accel-probe");
    EXPECT_EQ(probe->at("command").dump(),
              R"(["vireo-launcher","accel-probe","--state-dir","/var/run/vireo/state",)"
              R"("--copy-tools-to","/var/run/vireo/tools"])");
    EXPECT_EQ(base::GetString(*probe, "image"), kLauncherImage);
    EXPECT_TRUE(AsksForKvm(*probe));
    EXPECT_EQ(base::GetString(*probe, "resources.requests.memory"), "128Mi");
    // The KVM device in the launcher's limits does not make the pod
    // Guaranteed: no CPU or memory limit elsewhere (a 10m CPU limit held the
    // containerDisk container's start for 1.5 s).
    EXPECT_EQ(probe->at("resources").at("limits").dump(), R"({"devices.kubevirt.io/kvm":"1"})");
    const Json& server = pod.at("spec").at("containers").at(0);
    EXPECT_EQ(base::GetString(server, "name"), "cd-containerdisk");
    EXPECT_FALSE(server.at("resources").contains("limits")) << server.at("resources").dump();
    EXPECT_EQ(probe->at("volumeMounts").dump(),
              R"([{"mountPath":"/var/run/vireo/state","name":"vireo-state"},)"
              R"({"mountPath":"/var/run/vireo/tools","name":"vireo-tools"}])");
    // The launcher still runs with auto: it follows the probe's verdict.
    EXPECT_EQ(Launcher(pod).at("command").at(6).get<std::string>(), "--emulation=auto");
  }
}

TEST(LauncherPod, KernelBootCopiesTheKernelAndInitrdWhereTheLauncherReadsThem) {
  auto vmi = KernelBootVmi();
  for (bool probes : {false, true}) {
    SCOPED_TRACE(probes ? "accel probe" : "no probe");
    LauncherConfig config = Config(EmulationMode::kAuto);
    config.kvm_resource_offered = probes;
    const Json pod = Render(vmi, config);
    const Json* copy = InitContainer(pod, "vireo-kernel-boot");
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(base::GetString(*copy, "image"), "kernels:1");
    EXPECT_EQ(base::GetString(*copy, "imagePullPolicy"), "IfNotPresent");
    const Json& command = copy->at("command");
    ASSERT_EQ(command.size(), 8u);
    EXPECT_EQ(command.at(0), "/var/run/vireo/tools/busybox");
    EXPECT_EQ(command.at(5), "/boot/vmlinuz");
    EXPECT_EQ(command.at(6), "/boot/initrd.img");
    EXPECT_EQ(command.at(7), api::launcher_pod::kKernelBootDir);
    EXPECT_EQ(copy->at("volumeMounts").dump(),
              R"([{"mountPath":"/var/run/vireo/tools","name":"vireo-tools","readOnly":true},)"
              R"({"mountPath":"/var/run/vireo/kernel-boot","name":"vireo-kernel-boot"}])");
    // Its busybox comes from the probe or from vireo-tools, before it.
    EXPECT_EQ(InitContainer(pod, "vireo-tools") != nullptr, !probes);
    const Json& launcher = Launcher(pod);
    EXPECT_THAT(launcher.at("volumeMounts").dump(),
                ::testing::HasSubstr(R"({"mountPath":"/var/run/vireo/kernel-boot",)"
                                     R"("name":"vireo-kernel-boot","readOnly":true})"));
  }
  // Without kernelBoot there is no such container.
  EXPECT_EQ(
      InitContainer(Render(VmiFromVmFixture("vm_cirros.json", "u1"), Config(EmulationMode::kOn)),
                    "vireo-kernel-boot"),
      nullptr);
}

TEST(LauncherPod, AccelProbeKeepsAGuaranteedPodGuaranteed) {
  auto vmi = VmiFromVmFixture("vm_cirros.json", "u1");
  vmi.spec.domain.resources.requests["cpu"] = "1";
  vmi.spec.domain.resources.limits["cpu"] = "1";
  vmi.spec.domain.resources.limits["memory"] = "64M";
  LauncherConfig config = Config(EmulationMode::kAuto);
  config.kvm_resource_offered = true;
  const Json pod = Render(vmi, config);
  const Json* probe = InitContainer(pod, kAccelProbeContainer);
  ASSERT_NE(probe, nullptr);
  EXPECT_EQ(base::GetString(*probe, "resources.limits.cpu"),
            base::GetString(*probe, "resources.requests.cpu"));
  EXPECT_EQ(base::GetString(*probe, "resources.limits.memory"),
            base::GetString(*probe, "resources.requests.memory"));
  EXPECT_TRUE(AsksForKvm(*probe));
  EXPECT_TRUE(AsksForKvm(Launcher(pod)));
  // The containerDisk's container too, with room for its start.
  const Json& server = pod.at("spec").at("containers").at(0);
  ASSERT_EQ(base::GetString(server, "name"), "cd-containerdisk");
  EXPECT_EQ(server.at("resources").at("limits"), server.at("resources").at("requests"));
  EXPECT_EQ(base::GetString(server, "resources.limits.cpu"), "100m");
}

TEST(LauncherPod, AnnotationIsTheVmiWithoutVolatileParts) {
  auto vmi =
      api::FromJson<api::VirtualMachineInstance>(api::testing::LoadFixture("vmi_emptydisk.json"));
  ASSERT_TRUE(vmi.ok());
  vmi->metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"] = "{}";
  const Json pod = Render(*vmi, Config(EmulationMode::kAuto));
  const std::string text =
      pod.at("metadata").at("annotations").at(kVmiAnnotation).get<std::string>();
  auto decoded = api::FromJson<api::VirtualMachineInstance>(testing::ParseOrDie(text));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->metadata.uid, vmi->metadata.uid);
  EXPECT_TRUE(decoded->metadata.resource_version.empty());
  EXPECT_FALSE(
      decoded->metadata.annotations.contains("kubectl.kubernetes.io/last-applied-configuration"));
  EXPECT_EQ(decoded->status.phase, api::VmiPhase::kUnset);
  EXPECT_EQ(api::ToJson(decoded->spec), api::ToJson(vmi->spec));
  EXPECT_EQ(pod.at("spec")
                .at("volumes")
                .at(0)
                .at("downwardAPI")
                .at("items")
                .at(0)
                .at("fieldRef")
                .at("fieldPath")
                .get<std::string>(),
            "metadata.annotations['vireo.io/vmi']");
}

TEST(LauncherPod, TheVmisAnnotationsReachThePodAndOursWin) {
  auto vmi = VmiFromVmFixture("vm_cirros.json", "u1");
  vmi.metadata.annotations["example.com/owner"] = "team-a";
  vmi.metadata.annotations[kVmiAnnotation] = "from the user";
  vmi.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"] = "{}";
  const Json pod = Render(vmi, Config(EmulationMode::kAuto));
  const Json& annotations = pod.at("metadata").at("annotations");
  ASSERT_TRUE(annotations.contains("example.com/owner"));
  EXPECT_EQ(annotations.at("example.com/owner").get<std::string>(), "team-a");
  EXPECT_NE(annotations.at(kVmiAnnotation).get<std::string>(), "from the user");
  EXPECT_FALSE(annotations.contains("kubectl.kubernetes.io/last-applied-configuration"));
  EXPECT_FALSE(annotations.contains(kVmGenerationAnnotation));
}

// The kubelet's deletion grace period bounds the shutdown, so it can follow
// a grace period changed after the pod was made; 0 stays an immediate stop.
TEST(LauncherPod, GracePeriodIsTheKubeletsUnlessZero) {
  auto vmi = VmiFromVmFixture("vm_cirros.json", "u1");
  vmi.spec.termination_grace_period_seconds = 60;
  const Json pod = Render(vmi, Config(EmulationMode::kOn));
  const Json& command = Launcher(pod).at("command");
  EXPECT_EQ(command.at(command.size() - 2).get<std::string>(), "unbounded");
  EXPECT_EQ(base::GetInt(pod, "spec.terminationGracePeriodSeconds"), 75);
}

TEST(LauncherPod, CloudInitSecretsAreMountedWhereTheLauncherReadsThem) {
  auto vmi = VmiFromVmFixture("vm_cirros.json", "u1");
  api::Volume ci;
  ci.name = "cloudinit";
  ci.cloud_init_no_cloud.emplace();
  ci.cloud_init_no_cloud->secret_ref = "my-user";
  ci.cloud_init_no_cloud->network_data_secret_ref = "my-net";
  vmi.spec.volumes.push_back(ci);
  const size_t index = vmi.spec.volumes.size() - 1;
  const Json pod = Render(vmi, Config(EmulationMode::kOn));
  std::map<std::string, std::string> secret_of;  // pod volume -> secret
  for (const Json& v : pod.at("spec").at("volumes")) {
    if (v.contains("secret"))
      secret_of[v.at("name").get<std::string>()] = base::GetString(v, "secret.secretName");
  }
  std::map<std::string, std::string> path_of;  // pod volume -> mount path
  for (const Json& m : Launcher(pod).at("volumeMounts")) {
    path_of[m.at("name").get<std::string>()] = m.at("mountPath").get<std::string>();
    if (secret_of.contains(m.at("name").get<std::string>())) {
      EXPECT_TRUE(m.at("readOnly").get<bool>());
    }
  }
  const std::string u = "vireo-cis-" + std::to_string(index) + "-u";
  const std::string n = "vireo-cis-" + std::to_string(index) + "-n";
  EXPECT_EQ(secret_of[u], "my-user");
  EXPECT_EQ(secret_of[n], "my-net");
  EXPECT_EQ(path_of[u], "/var/run/vireo/cloud-init-secrets/cloudinit/userdata");
  EXPECT_EQ(path_of[n], "/var/run/vireo/cloud-init-secrets/cloudinit/networkdata");
}

TEST(LauncherPod, NameIsStablePerUidAndDiffersAcrossUids) {
  api::VirtualMachineInstance vmi;
  vmi.metadata.name = "web";
  vmi.metadata.uid = "uid-1";
  const std::string first = LauncherPodName(vmi);
  EXPECT_EQ(first, LauncherPodName(vmi));
  EXPECT_THAT(first, ::testing::MatchesRegex("virt-launcher-web-[bcdfghjklmnpqrstvwxz2456789]{5}"));
  vmi.metadata.uid = "uid-2";
  EXPECT_NE(LauncherPodName(vmi), first);
}

TEST(LauncherPod, MemoryIsGuestPlusOverhead) {
  // 64M, 1 vCPU, 2 disks, one interface listing no ports.
  const auto vmi = VmiFromVmFixture("vm_cirros.json", "u1");
  const MemoryOverhead o;
  const int64_t guest = 64'000'000;
  const int64_t every_port = o.passt_bytes + o.per_forwarded_port_bytes * o.all_ports_forwarded;
  const int64_t overhead_kvm = o.fixed_bytes + o.margin_bytes + o.per_vcpu_bytes +
                               guest / o.guest_memory_divisor + 2 * o.per_disk_bytes + every_port;
  const auto mib_up = [](int64_t b) { return (b + (1 << 20) - 1) / (1 << 20) * (1 << 20); };
  const int64_t kvm = mib_up(guest + mib_up(overhead_kvm));
  EXPECT_EQ(*LauncherMemoryRequestBytes(vmi.spec, Config(EmulationMode::kOff)), kvm);
  EXPECT_EQ(*LauncherMemoryRequestBytes(vmi.spec, Config(EmulationMode::kOn)),
            mib_up(guest + mib_up(overhead_kvm + o.tcg_translation_cache_bytes)));
  const Json pod = Render(vmi, Config(EmulationMode::kOff));
  EXPECT_EQ(base::GetString(Launcher(pod), "resources.requests.memory"),
            std::to_string(kvm >> 20) + "Mi");
}

TEST(LauncherPod, MemoryMarginComesOnTop) {
  const auto vmi = VmiFromVmFixture("vm_cirros.json", "u1");
  LauncherConfig config = Config(EmulationMode::kOn);
  config.overhead.margin_bytes = 0;
  const int64_t bare = *LauncherMemoryRequestBytes(vmi.spec, config);
  config.overhead.margin_bytes = 100LL << 20;
  EXPECT_EQ(*LauncherMemoryRequestBytes(vmi.spec, config), bare + (100LL << 20));
}

// passt's share follows what it forwards: every port (one socket each)
// when the interface lists none, else the listed ones; nothing without a NIC.
TEST(LauncherPod, NetworkOverheadFollowsTheForwardedPorts) {
  auto vmi = VmiFromVmFixture("vm_cirros.json", "u1");
  const MemoryOverhead o;
  const LauncherConfig config = Config(EmulationMode::kOff);
  const int64_t every_port = *LauncherMemoryRequestBytes(vmi.spec, config);
  ASSERT_EQ(vmi.spec.domain.devices.interfaces.size(), 1u);
  vmi.spec.domain.devices.interfaces[0].ports.resize(2);
  const int64_t two_ports = *LauncherMemoryRequestBytes(vmi.spec, config);
  vmi.spec.domain.devices.interfaces.clear();
  const int64_t no_nic = *LauncherMemoryRequestBytes(vmi.spec, config);
  // Each figure is rounded up to whole MiB on its own: within 1 MiB.
  EXPECT_NEAR(two_ports - no_nic, o.passt_bytes + 2 * o.per_forwarded_port_bytes, 1 << 20);
  EXPECT_NEAR(every_port - no_nic,
              o.passt_bytes + o.all_ports_forwarded * o.per_forwarded_port_bytes, 1 << 20);
}

TEST(LauncherPod, CpuRequestFromVcpusAndRatioUnlessAsked) {
  auto vmi = VmiFromVmFixture("vm_cirros.json", "u1");
  vmi.spec.domain.cpu->cores = 2;
  vmi.spec.domain.cpu->sockets = 2;
  EXPECT_EQ(base::GetString(Launcher(Render(vmi, Config(EmulationMode::kAuto))),
                            "resources.requests.cpu"),
            "400m");
  vmi.spec.domain.resources.requests["cpu"] = "1500m";
  EXPECT_EQ(base::GetString(Launcher(Render(vmi, Config(EmulationMode::kAuto))),
                            "resources.requests.cpu"),
            "1500m");
  vmi.spec.domain.resources.limits["cpu"] = "two";
  base::Result<Json> bad = RenderLauncherPod(vmi, Config(EmulationMode::kAuto), {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), base::Code::kInvalid);
}

TEST(LauncherPod, ReservedVolumeNamesAreRefused) {
  auto vmi = VmiFromVmFixture("vm_cirros.json", "u1");
  vmi.spec.volumes[0].name = "vireo-state";
  base::Result<Json> pod = RenderLauncherPod(vmi, Config(EmulationMode::kAuto), {});
  ASSERT_FALSE(pod.ok());
  EXPECT_THAT(pod.status().message(), HasSubstr("spec.volumes[0].name"));
}

TEST(LauncherPod, NoMemoryIsInvalid) {
  api::VirtualMachineInstance vmi;
  vmi.metadata.name = "x";
  vmi.metadata.uid = "u";
  base::Result<Json> pod = RenderLauncherPod(vmi, Config(EmulationMode::kAuto), {});
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.status().code(), base::Code::kInvalid);
}

}  // namespace
}  // namespace vireo::controllers
