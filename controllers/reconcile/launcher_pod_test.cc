// RenderLauncherPod: golden pods for three VMIs (testdata/pod_*.json, with
// the VMI annotation shown parsed), and the rules behind them one by one
// (PodSecurity's in launcher_pod_security_test.cc).
#include "controllers/reconcile/launcher_pod.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "controllers/reconcile/launcher_pod_test_util.h"
#include "controllers/reconcile/test_util.h"
#include "lib/api/codec.h"
#include "lib/api/defaults.h"

namespace vireo::controllers {
namespace {

using testing::Config;
using ::testing::HasSubstr;
using testing::KernelBootVmi;
using testing::kLauncherImage;
using testing::Render;
using testing::VmiFromVmFixture;

// The annotation is JSON inside a string; golden files show it parsed so a
// reviewer can read it.
Json Normalized(Json pod) {
  Json& annotations = pod["metadata"]["annotations"];
  annotations[kVmiAnnotation] = testing::ParseOrDie(annotations[kVmiAnnotation].get<std::string>());
  return pod;
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
