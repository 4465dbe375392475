#include "virtctl/create.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

namespace vireo::virtctl {
namespace {

// Generated names get suffixes s0000, s0001, ...; files and warnings stay here.
struct Fake {
  int drawn = 0;
  std::map<std::string, std::string> files;
  std::vector<std::string> warnings;

  CreateEnv Env() {
    return CreateEnv{.random_suffix = [this] { return "s000" + std::to_string(drawn++); },
                     .read_file = [this](const std::string& path) -> base::Result<std::string> {
                       if (!files.contains(path))
                         return base::Status(base::Code::kNotFound, "no such file");
                       return files[path];
                     },
                     .warn = [this](const std::string& message) { warnings.push_back(message); }};
  }
};

// `virtctl create ARGS...` through the real parser: the manifest, or the
// error (from the parser or the generator).
base::Result<std::string> Create(std::vector<std::string> args, Fake* fake = nullptr) {
  Fake local;
  args.insert(args.begin(), "create");
  auto options = ParseArgs(args);
  if (!options.ok()) return options.status();
  return CreateManifest(*options, (fake != nullptr ? fake : &local)->Env());
}

YAML::Node Load(std::vector<std::string> args, Fake* fake = nullptr) {
  auto yaml = Create(std::move(args), fake);
  EXPECT_TRUE(yaml.ok()) << yaml.status().message();
  return yaml.ok() ? YAML::Load(*yaml) : YAML::Node();
}

// The usage error of `args`; fails the test when there is none.
std::string Refusal(std::vector<std::string> args) {
  auto yaml = Create(args);
  if (yaml.ok()) {
    ADD_FAILURE() << "accepted: " << *yaml;
    return "";
  }
  EXPECT_EQ(yaml.status().code(), base::Code::kBadRequest) << yaml.status().message();
  return yaml.status().message();
}

void ExpectRefused(const std::vector<std::string>& args, const std::string& says) {
  const std::string message = Refusal(args);
  std::string line = "create";
  for (const std::string& arg : args) line += " " + arg;
  EXPECT_NE(message.find(says), std::string::npos) << line << "\n  says: " << message;
}

TEST(CreateVmTest, DefaultsAreKubeVirtsAndNeedNoCluster) {
  Fake fake;
  auto yaml = Create({"vm"}, &fake);
  ASSERT_TRUE(yaml.ok()) << yaml.status().message();
  EXPECT_EQ(*yaml, R"(apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: vm-s0000
spec:
  runStrategy: Always
  template:
    metadata: {}
    spec:
      domain:
        devices: {}
        memory:
          guest: 512Mi
        resources: {}
      terminationGracePeriodSeconds: 180
status: {}
)");
  EXPECT_TRUE(fake.warnings.empty());
}

TEST(CreateVmTest, NamespaceRunStrategyGraceAndMemory) {
  YAML::Node vm = Load({"vm", "--name", "web", "-n", "prod", "--run-strategy=rerunonfailure",
                        "--termination-grace-period", "0", "--memory", "2Gi"});
  EXPECT_EQ(vm["metadata"]["name"].as<std::string>(), "web");
  EXPECT_EQ(vm["metadata"]["namespace"].as<std::string>(), "prod");
  EXPECT_EQ(vm["spec"]["runStrategy"].as<std::string>(), "RerunOnFailure");
  const YAML::Node spec = vm["spec"]["template"]["spec"];
  EXPECT_EQ(spec["terminationGracePeriodSeconds"].as<int>(), 0);
  EXPECT_EQ(spec["domain"]["memory"]["guest"].as<std::string>(), "2Gi");
  for (const char* strategy : {"Always", "halted", "MANUAL", "Once"}) {
    EXPECT_TRUE(Create({"vm", "--run-strategy", strategy}).ok()) << strategy;
  }
  ExpectRefused({"vm", "--run-strategy", "Sometimes"},
                "Sometimes is not Always, Manual, Halted, Once or RerunOnFailure");
  ExpectRefused({"vm", "--termination-grace-period=-1"}, "0 to");
  ExpectRefused({"vm", "--termination-grace-period=soon"}, "seconds");
  ExpectRefused({"vm", "--memory", "1GG"}, "invalid quantity \"1GG\"");
  ExpectRefused({"vm", "--memory", "0"}, "must be positive");
  ExpectRefused({"vm", "--memory", "17Ti"}, "limit of 16Ti");
  ExpectRefused({"vm", "--memory="}, "flag --memory needs a value");
}

TEST(CreateVmTest, InstancetypeAndPreferenceMatchers) {
  YAML::Node vm =
      Load({"vm", "--instancetype", "VirtualMachineInstancetype/small", "--preference", "fedora"});
  EXPECT_EQ(vm["spec"]["instancetype"]["name"].as<std::string>(), "small");
  EXPECT_EQ(vm["spec"]["instancetype"]["kind"].as<std::string>(), "virtualmachineinstancetype");
  EXPECT_EQ(vm["spec"]["preference"]["name"].as<std::string>(), "fedora");
  // No kind: left to the apiserver (the cluster-wide one), as KubeVirt does.
  EXPECT_FALSE(vm["spec"]["preference"]["kind"]);
  // The instance type gives the memory.
  EXPECT_FALSE(vm["spec"]["template"]["spec"]["domain"]["memory"]);
  YAML::Node cluster = Load({"vm", "--instancetype", "virtualmachineclusterinstancetype/big",
                             "--preference", "virtualmachinepreference/p"});
  EXPECT_EQ(cluster["spec"]["instancetype"]["kind"].as<std::string>(),
            "virtualmachineclusterinstancetype");
  EXPECT_EQ(cluster["spec"]["preference"]["kind"].as<std::string>(), "virtualmachinepreference");
  ExpectRefused({"vm", "--instancetype", "x", "--memory", "1Gi"},
                "--memory and --instancetype exclude each other");
  ExpectRefused({"vm", "--instancetype", "pod/x"}, "invalid kind \"pod\"");
  ExpectRefused({"vm", "--preference", "virtualmachineinstancetype/x"},
                "give virtualmachinepreference or virtualmachineclusterpreference");
  ExpectRefused({"vm", "--instancetype", "a/b/c"}, "more than one '/'");
  ExpectRefused({"vm", "--preference", "virtualmachinepreference/"}, "has no name");
}

TEST(CreateVmTest, VolumesInKubeVirtsOrderWithDisksOnlyForBootOrders) {
  Fake fake;
  YAML::Node vm = Load({"vm", "--name", "web", "--volume-import",
                        "type:http,url:https://img/f.qcow2,size:10Gi,name:root,bootorder:1",
                        "--volume-containerdisk", "src:quay.io/c/fedora:40",
                        "--volume-containerdisk", "src:quay.io/c/tools:1,name:tools,bootorder:2",
                        "--volume-pvc", "src:data", "--volume-blank", "size:1Gi", "--volume-import",
                        "type:registry,url:docker://quay.io/c/x:1,size:5Gi,pullmethod:node"},
                       &fake);
  const YAML::Node volumes = vm["spec"]["template"]["spec"]["volumes"];
  ASSERT_EQ(volumes.size(), 6u);
  EXPECT_EQ(volumes[0]["name"].as<std::string>(), "web-containerdisk-0");
  EXPECT_EQ(volumes[0]["containerDisk"]["image"].as<std::string>(), "quay.io/c/fedora:40");
  EXPECT_EQ(volumes[1]["name"].as<std::string>(), "tools");
  EXPECT_EQ(volumes[2]["name"].as<std::string>(), "data");
  EXPECT_EQ(volumes[2]["persistentVolumeClaim"]["claimName"].as<std::string>(), "data");
  // --volume-blank, KubeVirt's older form, goes before the --volume-imports.
  EXPECT_EQ(volumes[3]["name"].as<std::string>(), "imported-volume-s0001");
  EXPECT_EQ(volumes[4]["dataVolume"]["name"].as<std::string>(), "root");
  EXPECT_EQ(volumes[5]["name"].as<std::string>(), "imported-volume-s0002");
  const YAML::Node disks = vm["spec"]["template"]["spec"]["domain"]["devices"]["disks"];
  ASSERT_EQ(disks.size(), 2u);
  EXPECT_EQ(disks[0]["name"].as<std::string>(), "tools");
  EXPECT_EQ(disks[0]["bootOrder"].as<int>(), 2);
  EXPECT_FALSE(disks[0]["disk"]);  // no bus: KubeVirt sets none
  EXPECT_EQ(disks[1]["name"].as<std::string>(), "root");
  const YAML::Node templates = vm["spec"]["dataVolumeTemplates"];
  ASSERT_EQ(templates.size(), 3u);
  EXPECT_TRUE(templates[0]["spec"]["source"]["blank"].IsMap());
  EXPECT_EQ(templates[0]["spec"]["storage"]["resources"]["requests"]["storage"].as<std::string>(),
            "1Gi");
  EXPECT_EQ(templates[1]["metadata"]["name"].as<std::string>(), "root");
  EXPECT_EQ(templates[1]["spec"]["source"]["http"]["url"].as<std::string>(), "https://img/f.qcow2");
  EXPECT_EQ(templates[2]["spec"]["source"]["registry"]["url"].as<std::string>(),
            "docker://quay.io/c/x:1");
  EXPECT_EQ(templates[2]["spec"]["source"]["registry"]["pullMethod"].as<std::string>(), "node");
  ASSERT_EQ(fake.warnings.size(), 1u);
  EXPECT_NE(fake.warnings[0].find("--volume-blank is deprecated"), std::string::npos);
}

TEST(CreateVmTest, ClonedClaims) {
  YAML::Node vm = Load({"vm", "-n", "prod", "--volume-import", "type:pvc,src:prod/golden,name:root",
                        "--volume-clone-pvc", "src:prod/other,size:20Gi,name:copy"});
  const YAML::Node templates = vm["spec"]["dataVolumeTemplates"];
  ASSERT_EQ(templates.size(), 2u);
  EXPECT_EQ(templates[0]["metadata"]["name"].as<std::string>(), "copy");
  EXPECT_EQ(templates[1]["spec"]["source"]["pvc"]["name"].as<std::string>(), "golden");
  EXPECT_EQ(templates[1]["spec"]["source"]["pvc"]["namespace"].as<std::string>(), "prod");
  // No size: the clone takes the source's.
  EXPECT_TRUE(templates[1]["spec"]["storage"]["resources"].IsMap());
  EXPECT_EQ(templates[1]["spec"]["storage"]["resources"].size(), 0u);
  ExpectRefused({"vm", "-n", "a", "--volume-import", "type:pvc,src:b/x"},
                "only within the VM's namespace, a");
  ExpectRefused({"vm", "--volume-import", "type:pvc,src:x"},
                "give the claim's namespace: src:NAMESPACE/x");
}

TEST(CreateVmTest, VolumeRefusals) {
  const std::string cd = "--volume-containerdisk", imp = "--volume-import";
  for (const auto& [args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{cd, ""}, "flag --volume-containerdisk needs a value"},
           {{cd, "image"}, "param \"image\" has no colon"},
           {{cd, "name:x"}, "src must be specified"},
           {{cd, "src:a,tag:b"}, "unknown param(s) tag:b"},
           {{cd, "src:a,name:Bad_Name"}, "invalid volume name \"Bad_Name\""},
           {{cd, "src:a,name:x", cd, "src:b,name:x"}, "there is already a volume named x"},
           {{cd, "src:a,bootorder:0"}, "bootorder must be greater than 0"},
           {{cd, "src:a,bootorder:first"}, "takes a whole number"},
           {{cd, "src:a,bootorder:1025"}, "past Vireo's limit"},
           {{cd, "src:a,bootorder:1", "--volume-pvc", "src:b,bootorder:1"}, "given twice"},
           {{"--volume-pvc", "src:other/b"}, "the claim must be in the VM's namespace"},
           {{imp, "url:https://x,size:1Gi"}, "type must be specified"},
           {{imp, "type:http,size:1Gi"}, "url is required with type http"},
           {{imp, "type:http,url:https://x"}, "size must be specified with type http"},
           {{imp, "type:blank,size:lots"}, "param size: invalid quantity \"lots\""},
           {{imp, "type:blank,size:2Pi"}, "past Vireo's limit of 1Pi"},
           {{imp, "type:http,url:https://x,size:1Gi,secretref:s"},
            "does not support param secretref"},
           {{imp, "type:registry,imagestream:s,size:1Gi"}, "does not support param imagestream"},
           {{imp, "type:registry,url:quay.io/x,size:1Gi"}, "url must be docker://"},
           {{imp, "type:registry,url:docker://x/y,size:1Gi,pullmethod:pull"}, "pod or node"},
           {{imp, "type:gcs,url:gs://x,size:1Gi"}, "Vireo does not support type gcs"},
           {{imp, "type:ds,src:x"}, "Vireo does not support type ds"},
           {{imp, "type:ftp,size:1Gi"}, "invalid volume import type ftp"},
           {{imp, "type:blank,size:1Gi,name:a", imp, "type:blank,size:1Gi,name:a"}, "already"},
           {{"--volume-blank", "size:1Gi,name:x,url:y"}, "flag --volume-blank: unknown param"},
       }) {
    std::vector<std::string> full = {"vm"};
    full.insert(full.end(), args.begin(), args.end());
    ExpectRefused(full, says);
  }
}

TEST(ParamsTest, KubeVirtsSyntax) {
  auto params = ParseParams("--volume-import", "type:registry,url:docker://q.io/a:1,type:blank,x:");
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(*params, (Params{{"type", "blank"}, {"url", "docker://q.io/a:1"}, {"x", ""}}));
  EXPECT_NE(ParseParams("--f", "").status().message().find("params may not be empty"),
            std::string::npos);
  EXPECT_NE(ParseParams("--f", "a:1,,b:2").status().message().find("param \"\" has no colon"),
            std::string::npos);
  EXPECT_EQ(ParseParams("--f", "a").status().code(), base::Code::kBadRequest);
}

TEST(CreateVmTest, CloudInitFromBase64Data) {
  YAML::Node vm = Load({"vm", "--cloud-init-user-data",
                        "I2Nsb3VkLWNvbmZpZwo=", "--cloud-init-network-data", "dmVyc2lvbjogMgo="});
  const YAML::Node volume = vm["spec"]["template"]["spec"]["volumes"][0];
  EXPECT_EQ(volume["name"].as<std::string>(), "cloudinitdisk");
  EXPECT_EQ(volume["cloudInitNoCloud"]["userDataBase64"].as<std::string>(), "I2Nsb3VkLWNvbmZpZwo=");
  EXPECT_EQ(volume["cloudInitNoCloud"]["networkDataBase64"].as<std::string>(), "dmVyc2lvbjogMgo=");
  EXPECT_FALSE(volume["cloudInitNoCloud"]["userData"]);
  // Network data alone: the generated user data is the bare header.
  YAML::Node network = Load({"vm", "--cloud-init-network-data", "dmVyc2lvbjogMgo="});
  EXPECT_EQ(network["spec"]["template"]["spec"]["volumes"][0]["cloudInitNoCloud"]["userData"]
                .as<std::string>(),
            "#cloud-config");
}

TEST(CreateVmTest, CloudInitGeneratedFromUserKeysAndPassword) {
  Fake fake;
  fake.files["/pw"] = "  s3cret pass\n";
  YAML::Node vm = Load({"vm", "--user", "fedora", "--ssh-key", "ssh-ed25519 AAAA a@b,ssh-rsa BBBB",
                        "--ssh-key", "ssh-ed25519 CCCC", "--password-file", "/pw"},
                       &fake);
  EXPECT_EQ(
      vm["spec"]["template"]["spec"]["volumes"][0]["cloudInitNoCloud"]["userData"]
          .as<std::string>(),
      "#cloud-config\nuser: fedora\npassword: s3cret pass\nchpasswd: { expire: False }\n"
      "ssh_authorized_keys:\n  - ssh-ed25519 AAAA a@b\n  - ssh-rsa BBBB\n  - ssh-ed25519 CCCC");
  ASSERT_EQ(fake.warnings.size(), 1u);
  EXPECT_NE(fake.warnings[0].find("cleartext"), std::string::npos);
  // The user data is YAML itself: a value YAML would not read as that
  // string is quoted, so cloud-init gets what was given.
  fake.files["/pw"] = "123456";
  YAML::Node quoted = Load({"vm", "--user", "yes", "--password-file", "/pw"}, &fake);
  YAML::Node config =
      YAML::Load(quoted["spec"]["template"]["spec"]["volumes"][0]["cloudInitNoCloud"]["userData"]
                     .as<std::string>());
  EXPECT_EQ(config["user"].Tag(), "!");
  EXPECT_EQ(config["password"].as<std::string>(), "123456");
  EXPECT_EQ(config["password"].Tag(), "!");
  // An empty password file and no other data: only the header, so no volume.
  fake.files["/pw"] = " \n";
  EXPECT_FALSE(
      Load({"vm", "--password-file", "/pw"}, &fake)["spec"]["template"]["spec"]["volumes"]);
  auto missing = Create({"vm", "--password-file", "/nope"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().code(), base::Code::kBadRequest);  // exit 1, not a usage error
  EXPECT_NE(missing.status().message().find("cannot read /nope"), std::string::npos);
}

TEST(CreateVmTest, CloudInitModesAndRefusals) {
  Fake fake;
  YAML::Node none = Load({"vm", "--cloud-init", "none", "--ssh-key", "k"}, &fake);
  EXPECT_FALSE(none["spec"]["template"]["spec"]["volumes"]);
  ASSERT_EQ(fake.warnings.size(), 1u);
  EXPECT_NE(fake.warnings[0].find("no cloud-init volume"), std::string::npos);
  Fake quiet;
  EXPECT_FALSE(Load({"vm", "--cloud-init=none"}, &quiet)["spec"]["template"]["spec"]["volumes"]);
  EXPECT_TRUE(quiet.warnings.empty());
  YAML::Node nocloud = Load({"vm", "--cloud-init", "NoCloud"});
  EXPECT_EQ(nocloud["spec"]["template"]["spec"]["volumes"][0]["cloudInitNoCloud"]["userData"]
                .as<std::string>(),
            "#cloud-config");
  const std::string ud = "--cloud-init-user-data";
  ExpectRefused({"vm", ud, "e30=", "--user", "u"},
                "flags --cloud-init-user-data and --user cannot be used together");
  ExpectRefused({"vm", ud, "e30=", "--ssh-key", "k"}, "--ssh-key");
  ExpectRefused({"vm", ud, "#cloud-config"}, "not valid base64");
  ExpectRefused({"vm", ud, std::string(65540, 'A')}, "bytes of cloud");
  ExpectRefused({"vm", "--cloud-init", "configdrive", "--user", "u"},
                "Vireo does not support configdrive");
  ExpectRefused({"vm", "--cloud-init", "floppy"}, "invalid data source");
  ExpectRefused({"vm", "--volume-pvc", "src:cloudinitdisk", "--user", "u"},
                "already a volume named cloudinitdisk");
}

TEST(CreateInstancetypeTest, ClusterWideByDefault) {
  auto yaml = Create({"instancetype", "--cpu", "2", "--memory", "4Gi"});
  ASSERT_TRUE(yaml.ok()) << yaml.status().message();
  EXPECT_EQ(*yaml, R"(apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineClusterInstancetype
metadata:
  name: clusterinstancetype-s0000
spec:
  cpu:
    guest: 2
  memory:
    guest: 4Gi
)");
  YAML::Node namespaced = Load({"instancetype", "--cpu=1", "--memory=1Gi", "--namespaced"});
  EXPECT_EQ(namespaced["kind"].as<std::string>(), "VirtualMachineInstancetype");
  EXPECT_EQ(namespaced["metadata"]["name"].as<std::string>(), "instancetype-s0000");
  EXPECT_FALSE(namespaced["metadata"]["namespace"]);
  // -n makes it namespaced, in that namespace, as in KubeVirt.
  YAML::Node in_ns = Load({"instancetype", "--cpu=1", "--memory=1Gi", "-n", "prod", "--name=s"});
  EXPECT_EQ(in_ns["kind"].as<std::string>(), "VirtualMachineInstancetype");
  EXPECT_EQ(in_ns["metadata"]["namespace"].as<std::string>(), "prod");
  EXPECT_EQ(in_ns["metadata"]["name"].as<std::string>(), "s");
  EXPECT_EQ(Load({"instancetype", "--cpu=1", "--memory=1Gi", "--namespaced=false"})["kind"]
                .as<std::string>(),
            "VirtualMachineClusterInstancetype");
}

TEST(CreateInstancetypeTest, Refusals) {
  ExpectRefused({"instancetype", "--memory", "1Gi"}, "--cpu is required");
  ExpectRefused({"instancetype", "--cpu", "1"}, "--memory is required");
  ExpectRefused({"instancetype", "--cpu", "0", "--memory", "1Gi"}, "greater than 0");
  ExpectRefused({"instancetype", "--cpu", "-1", "--memory", "1Gi"}, "whole number");
  ExpectRefused({"instancetype", "--cpu", "2k", "--memory", "1Gi"}, "whole number");
  ExpectRefused({"instancetype", "--cpu", "1025", "--memory", "1Gi"}, "limit of 1024");
  ExpectRefused({"instancetype", "--cpu", "1", "--memory", "1 Gi"}, "invalid quantity");
  ExpectRefused({"instancetype", "--cpu", "1", "--memory", "1Gi", "--run-strategy", "Once"},
                "flag --run-strategy is not one of create instancetype");
}

TEST(CreatePreferenceTest, TopologyAndMachineType) {
  auto yaml = Create({"preference", "--name", "fedora"});
  ASSERT_TRUE(yaml.ok()) << yaml.status().message();
  EXPECT_EQ(*yaml, R"(apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineClusterPreference
metadata:
  name: fedora
spec: {}
)");
  YAML::Node p = Load({"preference", "--cpu-topology", "spread", "--machine-type",
                       "pc-q35-rhel9.4.0", "--namespaced"});
  EXPECT_EQ(p["kind"].as<std::string>(), "VirtualMachinePreference");
  EXPECT_EQ(p["metadata"]["name"].as<std::string>(), "preference-s0000");
  EXPECT_EQ(p["spec"]["cpu"]["preferredCPUTopology"].as<std::string>(), "spread");
  EXPECT_EQ(p["spec"]["machine"]["preferredMachineType"].as<std::string>(), "pc-q35-rhel9.4.0");
  for (const char* topology :
       {"sockets", "cores", "threads", "any", "preferSockets", "preferAny"}) {
    EXPECT_TRUE(Create({"preference", "--cpu-topology", topology}).ok()) << topology;
  }
  EXPECT_EQ(Load({"preference"})["metadata"]["name"].as<std::string>(), "clusterpreference-s0000");
  ExpectRefused({"preference", "--cpu-topology", "Sockets"}, "Sockets is not sockets");
  ExpectRefused({"preference", "--machine-type", "pc-i440fx-8.0"}, "Vireo runs q35 only");
  ExpectRefused({"preference", "--cpu", "2"}, "flag --cpu is not one of create preference");
}

TEST(CreateTest, KubeVirtFlagsVireoLacksAreRefusedByName) {
  for (const auto& [kind, flag] : std::vector<std::pair<std::string, std::string>>{
           {"instancetype", "--gpu=name:g,devicename:nvidia"},
           {"instancetype", "--hostdevice=name:h,devicename:d"},
           {"instancetype", "--iothreadspolicy=auto"},
           {"preference", "--volume-storage-class=fast"},
           {"vm", "--infer-instancetype"},
           {"vm", "--infer-instancetype-from=root"},
           {"vm", "--infer-preference=true"},
           {"vm", "--infer-preference-from=root"},
           {"vm", "--volume-sysprep=src:cm"},
           {"vm", "--ga-manage-ssh"},
           {"vm", "--access-cred=type:ssh,src:keys"},
           {"vm", "--volume-datasource=src:ds"},
       }) {
    const std::string name = flag.substr(0, flag.find('='));
    std::vector<std::string> args = {kind, flag};
    if (kind == "instancetype") args.insert(args.end(), {"--cpu=1", "--memory=1Gi"});
    ExpectRefused(args, "flag " + name + ": Vireo does not support it: ");
  }
}

TEST(CreateTest, SwitchesTurnedOffAskForWhatVireoDoes) {
  // KubeVirt infers by default; =false asks for no inference, which is all
  // Vireo does.
  for (const char* flag :
       {"--infer-instancetype=false", "--infer-preference=false", "--ga-manage-ssh=false"}) {
    SCOPED_TRACE(flag);
    const YAML::Node vm = Load({"vm", flag, "--name=quiet"});
    EXPECT_EQ(vm["metadata"]["name"].as<std::string>(), "quiet");
    EXPECT_FALSE(vm["spec"]["instancetype"]);
  }
}

TEST(ToYamlTest, QuotesWhatYamlWouldReadAsAnotherType) {
  for (const char* text : {"true", "False", "yes", "off", "~", "null", "", "123", "-1.5", "1e3",
                           "0x1F", ".inf", "2024-01-02", "12:30"}) {
    const std::string yaml = ToYaml(base::Json{{"k", text}});
    YAML::Node node = YAML::Load(yaml);
    EXPECT_EQ(node["k"].Tag(), "!") << yaml;  // quoted: a string whatever it reads like
    EXPECT_EQ(node["k"].as<std::string>(), text);
  }
  for (const char* text : {"512Mi", "docker://quay.io/a:1", "web-containerdisk-0",
                           "#cloud-config\n"
                           "user: a"}) {
    YAML::Node node = YAML::Load(ToYaml(base::Json{{"k", text}}));
    EXPECT_EQ(node["k"].as<std::string>(), text);
  }
  EXPECT_EQ(ToYaml(base::Json{{"a", base::Json::object()}, {"b", 1}, {"c", "512Mi"}}),
            "a: {}\nb: 1\nc: 512Mi\n");
}

}  // namespace
}  // namespace vireo::virtctl
