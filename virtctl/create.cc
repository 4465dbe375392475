// virtctl create: see create.h. The facts (flag names, defaults, the objects'
// shape, generated names) follow KubeVirt v1.8.4's pkg/virtctl/create.
#include "virtctl/create.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <regex>
#include <set>
#include <vector>

#include "lib/api/bounds.h"
#include "lib/api/quantity.h"
#include "lib/base/file_util.h"
#include "lib/base/flags.h"

namespace vireo::virtctl {

using base::Code;
using base::Json;
using base::Result;
using base::Status;

namespace {

// The create flags by name, each with its values in order.
using Given = std::map<std::string, std::vector<std::string>, std::less<>>;

// pflag's rule for a flag given twice: the last value wins.
std::string Last(const Given& given, std::string_view name, std::string fallback = "") {
  auto it = given.find(name);
  return it == given.end() ? fallback : it->second.back();
}

std::vector<std::string> All(const Given& given, std::string_view name) {
  auto it = given.find(name);
  return it == given.end() ? std::vector<std::string>() : it->second;
}

std::string Get(const Params& params, const std::string& key) {
  auto it = params.find(key);
  return it == params.end() ? "" : it->second;
}

Status Usage(const std::string& message) {
  return Status(Code::kBadRequest, message + " (see 'virtctl help create')");
}

Status FlagError(std::string_view flag, const std::string& message) {
  return Usage("flag --" + std::string(flag) + ": " + message);
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// A positive quantity up to Vireo's bound `max` (spelled `max_text`).
Status CheckQuantity(std::string_view flag, const std::string& what, const std::string& text,
                     int64_t max, const std::string& max_text) {
  auto value = api::ParseQuantityBytes(text);
  if (!value.ok()) return FlagError(flag, what + value.status().message());
  if (*value <= 0) return FlagError(flag, what + "must be positive, not \"" + text + "\"");
  if (*value > max) return FlagError(flag, what + text + " is past Vireo's limit of " + max_text);
  return Status::Ok();
}

// "PREFIX/NAME" or "NAME", as KubeVirt splits --instancetype and src params.
Result<std::pair<std::string, std::string>> SplitPrefixed(std::string_view flag,
                                                          const std::string& text) {
  const size_t at = text.find('/');
  if (at != std::string::npos && text.find('/', at + 1) != std::string::npos)
    return FlagError(flag, "\"" + text + "\" has more than one '/'; write NAME or PREFIX/NAME");
  std::string name = at == std::string::npos ? text : text.substr(at + 1);
  if (name.empty()) return FlagError(flag, "\"" + text + "\" has no name");
  return std::pair{at == std::string::npos ? "" : text.substr(0, at), name};
}

// Each param must be in `supported`; KubeVirt's others (`kubevirt_only`) are
// refused as unsupported, the rest as unknown.
Status CheckParams(std::string_view flag, const Params& params,
                   const std::vector<std::string_view>& supported,
                   const std::vector<std::string_view>& kubevirt_only = {}) {
  std::string unknown, takes;
  for (std::string_view key : supported) takes += (takes.empty() ? "" : ",") + std::string(key);
  for (const auto& [key, value] : params) {
    if (std::find(supported.begin(), supported.end(), key) != supported.end()) continue;
    if (std::find(kubevirt_only.begin(), kubevirt_only.end(), key) != kubevirt_only.end())
      return FlagError(flag, "Vireo does not support param " + key);
    unknown += (unknown.empty() ? "" : ",") + key + ":" + value;
  }
  if (unknown.empty()) return Status::Ok();
  return FlagError(flag, "unknown param(s) " + unknown + "; it takes " + takes);
}

// YAML 1.1 and 1.2 plain scalars that are not strings: these get quotes.
bool ReadsAsNonString(const std::string& text) {
  static const std::regex kNonString(
      "|~|null|Null|NULL|[yYnN]|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE"
      "|on|On|ON|off|Off|OFF"
      "|[-+]?(\\.[0-9]+|[0-9][0-9_]*(\\.[0-9_]*)?)([eE][-+]?[0-9]+)?"
      "|[-+]?0[xXoObB][0-9a-fA-F_]+|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)"
      "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*");
  return std::regex_match(text, kNonString);
}

void Emit(YAML::Emitter& out, const Json& value) {
  if (value.is_structured() && value.empty()) out << YAML::Flow;
  if (value.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [key, item] : value.items()) {
      out << YAML::Key << key << YAML::Value;
      Emit(out, item);
    }
    out << YAML::EndMap;
  } else if (value.is_array()) {
    out << YAML::BeginSeq;
    for (const Json& item : value) Emit(out, item);
    out << YAML::EndSeq;
  } else if (value.is_string()) {
    if (ReadsAsNonString(value.get_ref<const std::string&>())) out << YAML::DoubleQuoted;
    out << value.get_ref<const std::string&>();
  } else {
    out << value.dump();  // a number: the manifests hold no booleans or nulls
  }
}

// One scalar of hand-written cloud-config: plain where that reads back as the
// same string, else quoted (KubeVirt writes them plain whatever they hold).
std::string YamlScalar(const std::string& text) {
  std::string yaml = ToYaml(Json(text));
  return yaml.substr(0, yaml.size() - 1);  // ToYaml's final newline
}

// The volumes, disks and dataVolumeTemplates of a VM, as the flags add them.
struct VmParts {
  std::string name, ns;
  Json volumes = Json::array(), disks = Json::array(), templates = Json::array();
  std::set<int64_t> boot_orders = {};

  bool HasVolume(const std::string& volume) const {
    return std::any_of(volumes.begin(), volumes.end(),
                       [&](const Json& v) { return v["name"] == volume; });
  }
  Status CheckNew(std::string_view flag, const std::string& volume) const {
    static const std::regex kDnsLabel("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    if (!std::regex_match(volume, kDnsLabel))
      return FlagError(flag, "invalid volume name \"" + volume +
                                 "\": at most 63 of a-z, 0-9 and "
                                 "'-', a letter or digit at each end");
    if (HasVolume(volume)) return FlagError(flag, "there is already a volume named " + volume);
    return Status::Ok();
  }
  // The volume, and its disk when params give a bootorder: KubeVirt lists
  // no other disks, the controller gives each other volume its own.
  Status Add(std::string_view flag, const std::string& volume, Json source, const Params& params) {
    if (Status s = CheckNew(flag, volume); !s.ok()) return s;
    source["name"] = volume;
    volumes.push_back(std::move(source));
    if (!params.contains("bootorder")) return Status::Ok();
    const std::string text = Get(params, "bootorder");
    std::optional<int64_t> order = base::ParseInt64(text);
    if (!order || *order < 0 || *order > UINT32_MAX)
      return FlagError(flag, "param bootorder takes a whole number, not \"" + text + "\"");
    if (*order == 0) return FlagError(flag, "bootorder must be greater than 0");
    if (*order > 1024) return FlagError(flag, "bootorder " + text + " is past Vireo's limit, 1024");
    if (!boot_orders.insert(*order).second)
      return FlagError(flag, "bootorder " + text + " was given twice");
    disks.push_back({{"name", volume}, {"bootOrder", *order}});
    return Status::Ok();
  }
};

// --volume-containerdisk src:IMAGE or --volume-pvc src:CLAIM, [name:N,bootorder:N].
Status AddSimpleVolume(VmParts& vm, std::string_view flag, const std::string& text, int index) {
  auto params = ParseParams("--" + std::string(flag), text);
  if (!params.ok()) return params.status();
  if (Status s = CheckParams(flag, *params, {"name", "src", "bootorder"}); !s.ok()) return s;
  std::string src = Get(*params, "src"), name = Get(*params, "name");
  if (src.empty()) return FlagError(flag, "src must be specified");
  if (flag == "volume-containerdisk") {
    if (name.empty()) name = vm.name + "-containerdisk-" + std::to_string(index);
    return vm.Add(flag, name, {{"containerDisk", {{"image", src}}}}, *params);
  }
  auto claim = SplitPrefixed(flag, src);
  if (!claim.ok()) return claim.status();
  if (!claim->first.empty())
    return FlagError(flag, "the claim must be in the VM's namespace: give src:" + claim->second);
  if (name.empty()) name = claim->second;
  return vm.Add(flag, name, {{"persistentVolumeClaim", {{"claimName", claim->second}}}}, *params);
}

// The source of one --volume-import of type http, registry, pvc or blank.
Result<Json> ImportSource(const VmParts& vm, std::string_view flag, const Params& params) {
  // Per type: the params Vireo takes beside type, name, size and bootorder,
  // and KubeVirt's others.
  using Keys = std::vector<std::string_view>;
  static const std::map<std::string, std::pair<Keys, Keys>> kTypes = {
      {"http", {{"url"}, {"certconfigmap", "extraheaders", "secretextraheaders", "secretref"}}},
      {"registry", {{"url", "pullmethod"}, {"certconfigmap", "imagestream", "secretref"}}},
      {"pvc", {{"src"}, {}}},
      {"blank", {{}, {}}}};
  static const std::set<std::string> kKubeVirtOnly = {"gcs",  "imageio",  "s3",
                                                      "vddk", "snapshot", "ds"};
  const std::string type = Get(params, "type");
  if (!params.contains("type")) return FlagError(flag, "type must be specified");
  auto it = kTypes.find(type);
  if (it == kTypes.end())
    return FlagError(flag, (kKubeVirtOnly.contains(type) ? "Vireo does not support type "
                                                         : "invalid volume import type ") +
                               type + "; give http, registry, pvc or blank");
  Keys supported = {"type", "name", "size", "bootorder"};
  supported.insert(supported.end(), it->second.first.begin(), it->second.first.end());
  if (Status s = CheckParams(flag, params, supported, it->second.second); !s.ok()) return s;
  if (!params.contains("size") && type != "pvc")
    return FlagError(flag, "size must be specified with type " + type);
  const std::string url = Get(params, "url"), pull = Get(params, "pullmethod");
  if (type == "http") {
    if (url.empty()) return FlagError(flag, "url is required with type http");
    return Json{{"http", {{"url", url}}}};
  }
  if (type == "registry") {
    if (!url.starts_with("docker://") || url.size() <= 9)
      return FlagError(flag, "url must be docker:// and an image, not \"" + url + "\"");
    if (!pull.empty() && pull != "pod" && pull != "node")
      return FlagError(flag, "pullmethod must be pod or node");
    Json source = {{"registry", {{"url", url}}}};
    if (!pull.empty()) source["registry"]["pullMethod"] = pull;
    return source;
  }
  if (type == "blank") return Json{{"blank", Json::object()}};
  if (Get(params, "src").empty()) return FlagError(flag, "src must be specified");
  auto src = SplitPrefixed(flag, Get(params, "src"));
  if (!src.ok()) return src.status();
  const auto& [ns, claim] = *src;
  if (ns.empty()) return FlagError(flag, "give the claim's namespace: src:NAMESPACE/" + claim);
  if (!vm.ns.empty() && ns != vm.ns)
    return FlagError(flag, "Vireo clones a claim only within the VM's namespace, " + vm.ns);
  return Json{{"pvc", {{"name", claim}, {"namespace", ns}}}};
}

// One --volume-import (or an older form of it): a dataVolumeTemplate and the
// dataVolume volume that names it.
Status AddImport(VmParts& vm, std::string_view flag, const std::string& text,
                 const CreateEnv& env) {
  auto params = ParseParams("--" + std::string(flag), text);
  if (!params.ok()) return params.status();
  auto source = ImportSource(vm, flag, *params);
  if (!source.ok()) return source.status();
  Json storage = {{"resources", Json::object()}};
  if (params->contains("size")) {
    const std::string size = Get(*params, "size");
    Status s = CheckQuantity(flag, "param size: ", size, api::kMaxDiskBytes, "1Pi");
    if (!s.ok()) return s;
    storage["resources"]["requests"]["storage"] = size;
  }
  const std::string name =
      params->contains("name") ? Get(*params, "name") : "imported-volume-" + env.random_suffix();
  if (Status s = vm.CheckNew(flag, name); !s.ok()) return s;
  vm.templates.push_back(
      {{"metadata", {{"name", name}}}, {"spec", {{"source", *source}, {"storage", storage}}}});
  return vm.Add(flag, name, {{"dataVolume", {{"name", name}}}}, *params);
}

// The #cloud-config KubeVirt writes from --user, --password-file, --ssh-key.
Result<std::string> CloudConfig(const Given& given, const CreateEnv& env) {
  std::string config = "#cloud-config";
  if (given.contains("user")) config += "\nuser: " + YamlScalar(Last(given, "user"));
  if (given.contains("password-file")) {
    const std::string path = Last(given, "password-file");
    auto data = env.read_file(path);
    if (!data.ok())
      return Status(Code::kNotFound,
                    "flag --password-file: cannot read " + path + ": " + data.status().message());
    const std::string password = base::TrimSpace(*data);
    if (!password.empty())
      config += "\npassword: " + YamlScalar(password) + "\nchpasswd: { expire: False }";
  }
  // --ssh-key takes keys separated by commas, and may be repeated.
  std::string keys;
  for (const std::string& value : All(given, "ssh-key")) {
    for (size_t begin = 0, end = 0; begin < value.size(); begin = end + 1) {
      end = std::min(value.find(',', begin), value.size());
      if (end > begin) keys += "\n  - " + YamlScalar(value.substr(begin, end - begin));
    }
  }
  if (!keys.empty()) config += "\nssh_authorized_keys:" + keys;
  return config;
}

// The cloudInitNoCloud volume "cloudinitdisk", when a cloud-init flag asks.
Status AddCloudInit(VmParts& vm, const Given& given, const CreateEnv& env) {
  const bool user_data = given.contains("cloud-init-user-data");
  const std::string network = Last(given, "cloud-init-network-data");
  bool data = user_data || !network.empty();
  for (const std::string flag : {"user", "password-file", "ssh-key"}) {
    if (user_data && given.contains(flag))
      return Usage("flags --cloud-init-user-data and --" + flag + " cannot be used together: --" +
                   flag + " goes into generated user data");
    data = data || given.contains(flag);
  }
  if (!data && !given.contains("cloud-init")) return Status::Ok();
  if (given.contains("password-file"))
    env.warn("--password-file: the password is stored in cleartext in the VM's manifest");
  if (vm.HasVolume("cloudinitdisk"))
    return Usage("there is already a volume named cloudinitdisk, the cloud-init volume's name");
  const std::string mode = Lower(Last(given, "cloud-init", "nocloud"));
  if (mode == "none") {
    if (data) env.warn("--cloud-init none: no cloud-init volume, though cloud-init data was given");
    return Status::Ok();
  }
  if (mode != "nocloud")
    return FlagError("cloud-init", (mode == "configdrive" ? "Vireo does not support "
                                                          : "invalid data source type ") +
                                       Last(given, "cloud-init") + "; give nocloud or none");
  // Base64 where it should be, and no more inline than the apiserver takes.
  auto check = [](std::string_view flag, const std::string& text, bool base64) {
    if (base64 && !base::DecodeBase64(text)) return FlagError(flag, "not valid base64");
    if (static_cast<int64_t>(text.size()) <= api::kMaxCloudInitInlineBytes) return Status::Ok();
    return FlagError(flag, std::to_string(text.size()) + " bytes of cloud-init data; Vireo takes " +
                               std::to_string(api::kMaxCloudInitInlineBytes) + " at most");
  };
  Json source = Json::object();
  if (!network.empty()) {
    if (Status s = check("cloud-init-network-data", network, true); !s.ok()) return s;
    source["networkDataBase64"] = network;
  }
  if (user_data) {
    const std::string data = Last(given, "cloud-init-user-data");
    if (Status s = check("cloud-init-user-data", data, true); !s.ok()) return s;
    source["userDataBase64"] = data;
  } else {
    auto config = CloudConfig(given, env);
    if (!config.ok()) return config.status();
    if (Status s = check("user", *config, false); !s.ok()) return s;
    // The header alone and no network data: no volume, unless --cloud-init asked.
    if (*config == "#cloud-config" && network.empty() && !given.contains("cloud-init"))
      return Status::Ok();
    source["userData"] = *config;
  }
  vm.volumes.push_back({{"name", "cloudinitdisk"}, {"cloudInitNoCloud", source}});
  return Status::Ok();
}

// --instancetype or --preference [KIND/]NAME: {name, kind}. Without a kind
// the apiserver takes the cluster-wide one, as KubeVirt's does.
Result<Json> Matcher(const Given& given, std::string_view flag) {
  auto split = SplitPrefixed(flag, Last(given, flag));
  if (!split.ok()) return split.status();
  const std::string kind = Lower(split->first),
                    cluster = "virtualmachinecluster" + std::string(flag);
  if (!kind.empty() && kind != "virtualmachine" + std::string(flag) && kind != cluster)
    return FlagError(flag, "invalid kind \"" + kind + "\"; give virtualmachine" +
                               std::string(flag) + " or " + cluster + " (the default)");
  Json matcher = {{"name", split->second}};
  if (!kind.empty()) matcher["kind"] = kind;
  return matcher;
}

Result<Json> BuildVm(const Given& given, const CreateEnv& env, const std::string& ns) {
  VmParts vm{.name = Last(given, "name", "vm-" + env.random_suffix()), .ns = ns};
  std::string run_strategy = "Always";
  if (given.contains("run-strategy")) {
    const std::string asked = Last(given, "run-strategy");
    run_strategy.clear();
    for (const char* known : {"Always", "Manual", "Halted", "Once", "RerunOnFailure"}) {
      if (Lower(known) == Lower(asked)) run_strategy = known;
    }
    if (run_strategy.empty())
      return FlagError("run-strategy",
                       asked + " is not Always, Manual, Halted, Once or RerunOnFailure");
  }
  const std::string grace_text = Last(given, "termination-grace-period", "180");
  std::optional<int64_t> grace = base::ParseInt64(grace_text);
  if (!grace || *grace < 0 || *grace > INT32_MAX)
    return FlagError("termination-grace-period",
                     "takes seconds, 0 to 2147483647, not \"" + grace_text + "\"");
  if (given.contains("memory") && given.contains("instancetype"))
    return Usage("--memory and --instancetype exclude each other: the instance type has memory");
  Json spec = {{"runStrategy", run_strategy}};
  Json domain = {{"devices", Json::object()}, {"resources", Json::object()}};
  for (const char* flag : {"instancetype", "preference"}) {
    if (!given.contains(flag)) continue;
    auto matcher = Matcher(given, flag);
    if (!matcher.ok()) return matcher.status();
    spec[flag] = *matcher;
  }
  if (!given.contains("instancetype")) {
    const std::string memory = Last(given, "memory", "512Mi");
    Status s = CheckQuantity("memory", "", memory, api::kMaxMemoryBytes, "16Ti");
    if (!s.ok()) return s;
    domain["memory"] = {{"guest", memory}};
  }
  // KubeVirt's order, which is also the boot order when no bootorder is
  // given: containerdisks, claims, imported volumes (their older forms first).
  int index = 0;
  for (const std::string& text : All(given, "volume-containerdisk"))
    if (Status s = AddSimpleVolume(vm, "volume-containerdisk", text, index++); !s.ok()) return s;
  for (const std::string& text : All(given, "volume-pvc"))
    if (Status s = AddSimpleVolume(vm, "volume-pvc", text, 0); !s.ok()) return s;
  std::vector<std::pair<std::string, std::string>> imports;
  for (const std::string& text : All(given, "volume-import"))
    imports.emplace_back("volume-import", text);
  for (const std::string type : {"pvc", "blank"}) {
    const std::string flag = type == "pvc" ? "volume-clone-pvc" : "volume-blank";
    if (given.contains(flag))
      env.warn("--" + flag + " is deprecated in KubeVirt; use --volume-import type:" + type +
               ",...");
    for (const std::string& text : All(given, flag)) {
      imports.insert(imports.begin(), {flag, "type:" + type + "," + text});
    }
  }
  for (const auto& [flag, text] : imports)
    if (Status s = AddImport(vm, flag, text, env); !s.ok()) return s;
  if (Status s = AddCloudInit(vm, given, env); !s.ok()) return s;

  if (!vm.disks.empty()) domain["devices"]["disks"] = vm.disks;
  Json template_spec = {{"domain", domain}, {"terminationGracePeriodSeconds", *grace}};
  if (!vm.volumes.empty()) template_spec["volumes"] = vm.volumes;
  spec["template"] = {{"metadata", Json::object()}, {"spec", template_spec}};
  if (!vm.templates.empty()) spec["dataVolumeTemplates"] = vm.templates;
  Json metadata = {{"name", vm.name}};
  if (!ns.empty()) metadata["namespace"] = ns;
  return Json{{"apiVersion", "kubevirt.io/v1"},
              {"kind", "VirtualMachine"},
              {"metadata", metadata},
              {"spec", spec},
              {"status", Json::object()}};
}

Result<Json> InstancetypeSpec(const Given& given) {
  for (const std::string required : {"cpu", "memory"}) {
    if (!given.contains(required)) return Usage("--" + required + " is required");
  }
  const std::string cpu_text = Last(given, "cpu");
  std::optional<int64_t> cpu = base::ParseInt64(cpu_text);
  if (!cpu || *cpu < 0 || *cpu > UINT32_MAX)
    return FlagError("cpu", "takes a whole number of vCPUs, not \"" + cpu_text + "\"");
  if (*cpu == 0) return FlagError("cpu", "must be greater than 0");
  if (*cpu > 1024) return FlagError("cpu", cpu_text + " is past Vireo's limit of 1024 vCPUs");
  const std::string memory = Last(given, "memory");
  Status s = CheckQuantity("memory", "", memory, api::kMaxMemoryBytes, "16Ti");
  if (!s.ok()) return s;
  return Json{{"cpu", {{"guest", *cpu}}}, {"memory", {{"guest", memory}}}};
}

Result<Json> PreferenceSpec(const Given& given) {
  static const std::set<std::string> kTopologies = {
      "sockets",       "cores",       "threads",       "spread",       "any",
      "preferSockets", "preferCores", "preferThreads", "preferSpread", "preferAny"};
  Json spec = Json::object();
  const std::string topology = Last(given, "cpu-topology"), machine = Last(given, "machine-type");
  if (given.contains("cpu-topology") && !kTopologies.contains(topology))
    return FlagError("cpu-topology", topology +
                                         " is not sockets, cores, threads, spread, any, or "
                                         "one of their older forms (preferSockets, ...)");
  if (given.contains("cpu-topology")) spec["cpu"] = {{"preferredCPUTopology", topology}};
  if (given.contains("machine-type") && machine != "q35" && !machine.starts_with("pc-q35-"))
    return FlagError("machine-type", machine + ": Vireo runs q35 only; give q35 or pc-q35-*");
  if (given.contains("machine-type")) spec["machine"] = {{"preferredMachineType", machine}};
  return spec;
}

}  // namespace

std::string ToYaml(const Json& doc) {
  YAML::Emitter out;
  Emit(out, doc);
  return std::string(out.c_str()) + "\n";
}

Result<std::string> CreateManifest(const Options& options, const CreateEnv& env) {
  Given given;
  for (const auto& [name, value] : options.create_flags) given[name].push_back(value);
  const std::string& ns = options.namespace_name;
  if (options.create_kind == "vm") {
    auto vm = BuildVm(given, env, ns);
    if (!vm.ok()) return vm.status();
    return ToYaml(*vm);
  }
  // An instance type or preference: cluster-wide unless --namespaced or -n.
  const bool instancetype = options.create_kind == "instancetype";
  if (!instancetype && options.create_kind != "preference")
    return Usage("unknown kind \"" + options.create_kind + "\"");
  auto spec = instancetype ? InstancetypeSpec(given) : PreferenceSpec(given);
  if (!spec.ok()) return spec.status();
  const bool namespaced = !ns.empty() || Last(given, "namespaced") == "true";
  const std::string what = instancetype ? "Instancetype" : "Preference";
  const std::string prefix = (namespaced ? "" : "cluster") + Lower(what) + "-";
  Json metadata = {{"name", Last(given, "name", prefix + env.random_suffix())}};
  if (!ns.empty()) metadata["namespace"] = ns;
  return ToYaml({{"apiVersion", "instancetype.kubevirt.io/v1beta1"},
                 {"kind", (namespaced ? "VirtualMachine" : "VirtualMachineCluster") + what},
                 {"metadata", metadata},
                 {"spec", *spec}});
}

}  // namespace vireo::virtctl
