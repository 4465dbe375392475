// Instance types and preferences applied to a VM's template; see
// instancetype.h. Works on the template's JSON, so a preferred value lands
// exactly where a user would have written it, and then decodes the result
// back into the typed spec.
#include "lib/api/instancetype.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "lib/api/codec.h"
#include "lib/api/quantity.h"

namespace vireo::api {
namespace {

std::string Lower(std::string text) {
  std::ranges::transform(text, text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::optional<InstancetypeRef> RefOf(const Json& extra, const char* field, const char* cluster_kind,
                                     const char* kind) {
  if (!extra.is_object() || !extra.contains(field) || !extra.at(field).is_object()) {
    return std::nullopt;
  }
  const Json& ref = extra.at(field);
  InstancetypeRef out;
  out.name = ref.value("name", "");
  const std::string given = Lower(ref.value("kind", ""));
  const std::string namespaced = Lower(kind);
  out.cluster = given != namespaced && given != namespaced + "s";
  out.kind = out.cluster ? cluster_kind : kind;
  return out;
}

// A quantity as the codec keeps it: a JSON number becomes its text.
Json QuantityText(const Json& value) {
  if (value.is_number_integer()) return Json(std::to_string(value.get<int64_t>()));
  return value;
}

// `object[key]`, made an object when absent.
Json& Child(Json& object, const char* key) {
  if (!object.contains(key) || !object.at(key).is_object()) object[key] = Json::object();
  return object[key];
}

bool Has(const Json& object, const char* key) {
  return object.is_object() && object.contains(key) && !object.at(key).is_null();
}

const Json& Get(const Json& object, const char* key) {
  static const Json kNull;
  return Has(object, key) ? object.at(key) : kNull;
}

// Sets object[key] = value unless the template already has it.
void Fill(Json& object, const char* key, const Json& preferred) {
  if (!preferred.is_null() && !Has(object, key)) object[key] = preferred;
}

class Conflicts {
 public:
  void Add(std::string path) { paths_.push_back("spec.template.spec." + std::move(path)); }
  void AddAnnotation(const std::string& key) {
    paths_.push_back("spec.template.metadata.annotations[" + key + "]");
  }
  base::Status ToStatus(const InstancetypeRef& ref) const {
    if (paths_.empty()) return base::Status::Ok();
    std::string message;
    std::vector<base::Cause> causes;
    for (const std::string& path : paths_) {
      message += (message.empty() ? "" : ", ") + path;
      causes.push_back({"FieldValueInvalid", "conflicts with " + ref.Describe(), path});
    }
    return base::Status(base::Code::kInvalid,
                        message + (paths_.size() == 1 ? " conflicts" : " conflict") + " with " +
                            ref.Describe() + ", which sets " +
                            (paths_.size() == 1 ? "it" : "them") + "; remove " +
                            (paths_.size() == 1 ? "it" : "them") + " from the template",
                        422, std::move(causes));
  }

 private:
  std::vector<std::string> paths_;
};

// sockets x cores x threads for `vcpus`, as the preference's
// preferredCPUTopology (and spreadOptions) lay them out.
Json Topology(int64_t vcpus, const Json& preference) {
  int64_t sockets = 1, cores = 1, threads = 1;
  const Json& cpu = Get(preference, "cpu");
  const std::string topology = Get(cpu, "preferredCPUTopology").is_string()
                                   ? cpu.at("preferredCPUTopology").get<std::string>()
                                   : "sockets";
  if (vcpus > 1) {
    if (topology == "cores" || topology == "preferCores") {
      cores = vcpus;
    } else if (topology == "threads" || topology == "preferThreads") {
      threads = vcpus;
    } else if (topology == "spread" || topology == "preferSpread") {
      const Json& options = Get(cpu, "spreadOptions");
      int64_t ratio = Get(preference, "preferSpreadSocketToCoreRatio").is_number_integer()
                          ? preference.at("preferSpreadSocketToCoreRatio").get<int64_t>()
                          : 0;
      if (Get(options, "ratio").is_number_integer()) ratio = options.at("ratio").get<int64_t>();
      if (ratio <= 0) ratio = 2;
      const std::string across = Get(options, "across").is_string()
                                     ? options.at("across").get<std::string>()
                                     : "SocketsCores";
      if (across == "CoresThreads") {
        threads = ratio;
        cores = vcpus / ratio;
      } else if (across == "SocketsCoresThreads") {
        threads = 2;
        cores = ratio;
        sockets = vcpus / 2 / ratio;
      } else {
        cores = ratio;
        sockets = vcpus / ratio;
      }
    } else {
      sockets = vcpus;
    }
  }
  Json out = Json::object();
  out["sockets"] = Json(std::max<int64_t>(sockets, 1));
  out["cores"] = Json(std::max<int64_t>(cores, 1));
  out["threads"] = Json(std::max<int64_t>(threads, 1));
  return out;
}

void ApplyInstancetype(const Json& it, const Json& preference, Json& spec, StringMap& annotations,
                       Conflicts& conflicts) {
  Json& domain = Child(spec, "domain");
  const Json& cpu = Get(domain, "cpu");
  for (const char* field : {"sockets", "cores", "threads"}) {
    if (Has(cpu, field)) conflicts.Add(std::string("domain.cpu.") + field);
  }
  if (Has(Get(domain, "memory"), "guest")) conflicts.Add("domain.memory.guest");
  const Json& resources = Get(domain, "resources");
  for (const char* list : {"requests", "limits"}) {
    for (const char* name : {"cpu", "memory"}) {
      if (Has(Get(resources, list), name)) {
        conflicts.Add(std::string("domain.resources.") + list + "." + name);
      }
    }
  }
  const Json& node_selector = Get(it, "nodeSelector");
  if (!node_selector.is_null() && Has(spec, "nodeSelector") && !spec.at("nodeSelector").empty()) {
    conflicts.Add("nodeSelector");
  }
  for (const auto& [key, value] : Get(it, "annotations").items()) {
    auto found = annotations.find(key);
    if (found != annotations.end() && value.is_string() && found->second != value) {
      conflicts.AddAnnotation(key);
    }
  }

  const int64_t vcpus = Get(Get(it, "cpu"), "guest").is_number_integer()
                            ? it.at("cpu").at("guest").get<int64_t>()
                            : 1;
  Json& cpu_out = Child(domain, "cpu");
  const Json topology = Topology(vcpus, preference);
  for (const auto& [key, value] : topology.items()) cpu_out[key] = value;
  const Json& memory = Get(it, "memory");
  const Json guest = QuantityText(Get(memory, "guest"));
  if (!guest.is_null()) Child(domain, "memory")["guest"] = guest;
  const int64_t overcommit = Get(memory, "overcommitPercent").is_number_integer()
                                 ? memory.at("overcommitPercent").get<int64_t>()
                                 : 0;
  if (overcommit > 0 && guest.is_string()) {
    if (auto bytes = ParseQuantityBytes(guest.get<std::string>()); bytes.ok()) {
      // As KubeVirt: the request is the guest memory less the percentage.
      const int64_t request = static_cast<int64_t>(static_cast<double>(*bytes) *
                                                   (1.0 - static_cast<double>(overcommit) / 100));
      Child(Child(domain, "resources"), "requests")["memory"] = Json(std::to_string(request));
    }
  }
  if (!node_selector.is_null()) spec["nodeSelector"] = node_selector;
  for (const auto& [key, value] : Get(it, "annotations").items()) {
    if (value.is_string()) annotations.emplace(key, value.get<std::string>());
  }
}

void ApplyDevicePreferences(const Json& devices, Json& domain) {
  if (!devices.is_object()) return;
  Json& out = Child(domain, "devices");
  if (Has(out, "disks") && out.at("disks").is_array()) {
    for (Json& disk : out["disks"]) {
      if (Has(disk, "cdrom")) {
        Fill(disk["cdrom"], "bus", Get(devices, "preferredCdromBus"));
      } else if (!Get(devices, "preferredDiskBus").is_null() && !Has(disk, "lun")) {
        Fill(Child(disk, "disk"), "bus", devices.at("preferredDiskBus"));
      }
    }
  }
  if (Has(out, "interfaces") && out.at("interfaces").is_array()) {
    for (Json& iface : out["interfaces"]) {
      Fill(iface, "model", Get(devices, "preferredInterfaceModel"));
    }
  }
  Fill(out, "rng", Get(devices, "preferredRng"));
  for (const auto& [pref, field] :
       {std::pair{"preferredAutoattachSerialConsole", "autoattachSerialConsole"},
        std::pair{"preferredAutoattachGraphicsDevice", "autoattachGraphicsDevice"},
        std::pair{"preferredAutoattachPodInterface", "autoattachPodInterface"}}) {
    Fill(out, field, Get(devices, pref));
  }
}

void ApplyFirmwarePreferences(const Json& firmware, Json& domain) {
  if (!firmware.is_object()) return;
  const Json& bootloader = Get(Get(domain, "firmware"), "bootloader");
  Json chosen;
  if (!Has(bootloader, "bios") && !Has(bootloader, "efi")) {
    if (Get(firmware, "preferredUseBios") == Json(true)) {
      chosen["bios"] = Json::object();
    } else if (Has(firmware, "preferredEfi")) {
      chosen["efi"] = firmware.at("preferredEfi");
    } else if (Get(firmware, "preferredUseEfi") == Json(true)) {
      chosen["efi"] = Json::object();
    }
  }
  if (!chosen.is_null()) {
    Json& out = Child(Child(domain, "firmware"), "bootloader");
    for (const auto& [key, value] : chosen.items()) out[key] = value;
  }
  const Json& secure_boot = Get(firmware, "preferredUseSecureBoot");
  if (!secure_boot.is_null() && Has(Get(Get(domain, "firmware"), "bootloader"), "efi")) {
    Fill(domain["firmware"]["bootloader"]["efi"], "secureBoot", secure_boot);
  }
}

void ApplyPreference(const Json& p, Json& spec, StringMap& annotations) {
  Json& domain = Child(spec, "domain");
  ApplyDevicePreferences(Get(p, "devices"), domain);
  if (const Json& features = Get(p, "features"); features.is_object()) {
    for (const auto& [pref, field] :
         {std::pair{"preferredAcpi", "acpi"}, std::pair{"preferredApic", "apic"},
          std::pair{"preferredSmm", "smm"}}) {
      if (Has(features, pref)) Fill(Child(domain, "features"), field, features.at(pref));
    }
  }
  ApplyFirmwarePreferences(Get(p, "firmware"), domain);
  if (const Json& type = Get(Get(p, "machine"), "preferredMachineType"); !type.is_null()) {
    Fill(Child(domain, "machine"), "type", type);
  }
  if (const Json& clock = Get(p, "clock"); clock.is_object()) {
    const Json& offset = Get(clock, "preferredClockOffset");
    if (Has(offset, "utc") && !Has(Get(domain, "clock"), "utc")) {
      Child(domain, "clock")["utc"] = offset.at("utc");
    }
    if (Has(clock, "preferredTimer"))
      Fill(Child(domain, "clock"), "timer", clock.at("preferredTimer"));
  }
  Fill(spec, "terminationGracePeriodSeconds", Get(p, "preferredTerminationGracePeriodSeconds"));
  Fill(spec, "subdomain", Get(p, "preferredSubdomain"));
  for (const auto& [key, value] : Get(p, "annotations").items()) {
    if (value.is_string()) annotations.emplace(key, value.get<std::string>());
  }
}

int64_t Count(const Json& cpu, const char* field) {
  return Get(cpu, field).is_number_integer() ? cpu.at(field).get<int64_t>() : 1;
}

// The preference's requirements against the expanded spec: vCPUs and guest
// memory (memory.guest, else the memory request).
base::Status CheckRequirements(const Json& preference, const InstancetypeRef& preference_ref,
                               const Json& spec) {
  const Json& requirements = Get(preference, "requirements");
  if (!requirements.is_object()) return base::Status::Ok();
  const Json& domain = Get(spec, "domain");
  std::vector<std::string> unmet;
  if (const Json& need = Get(Get(requirements, "cpu"), "guest"); need.is_number_integer()) {
    const Json& cpu = Get(domain, "cpu");
    const int64_t have = Count(cpu, "sockets") * Count(cpu, "cores") * Count(cpu, "threads");
    if (have < need.get<int64_t>()) {
      unmet.push_back("it needs " + std::to_string(need.get<int64_t>()) + " vCPUs, the VM has " +
                      std::to_string(have));
    }
  }
  if (const Json& need = QuantityText(Get(Get(requirements, "memory"), "guest"));
      need.is_string()) {
    Json have = QuantityText(Get(Get(domain, "memory"), "guest"));
    if (have.is_null())
      have = QuantityText(Get(Get(Get(domain, "resources"), "requests"), "memory"));
    auto need_bytes = ParseQuantityBytes(need.get<std::string>());
    auto have_bytes = have.is_string() ? ParseQuantityBytes(have.get<std::string>())
                                       : base::Result<int64_t>(int64_t{0});
    if (need_bytes.ok() && have_bytes.ok() && *have_bytes < *need_bytes) {
      unmet.push_back("it needs " + need.get<std::string>() + " of memory, the VM has " +
                      (have.is_string() ? have.get<std::string>() : std::string("none")));
    }
  }
  if (unmet.empty()) return base::Status::Ok();
  std::string message = "the VM does not meet the requirements of " + preference_ref.Describe();
  for (const std::string& why : unmet) message += ": " + why;
  return base::Status(base::Code::kInvalid, message, 422);
}

}  // namespace

std::optional<InstancetypeRef> InstancetypeOf(const VirtualMachine& vm) {
  return RefOf(vm.spec.extra, "instancetype", kClusterInstancetypeKind, kInstancetypeKind);
}

std::optional<InstancetypeRef> PreferenceOf(const VirtualMachine& vm) {
  return RefOf(vm.spec.extra, "preference", kClusterPreferenceKind, kPreferenceKind);
}

base::Result<VirtualMachine> ExpandVm(const VirtualMachine& vm, const Json& instancetype,
                                      const Json& preference) {
  VirtualMachine out = vm;
  Json spec = ToJson(vm.spec.template_spec.spec);
  StringMap& annotations = out.spec.template_spec.metadata.annotations;
  if (std::optional<InstancetypeRef> ref = InstancetypeOf(vm); ref && !instancetype.is_null()) {
    annotations[ref->cluster ? kClusterInstancetypeNameAnnotation : kInstancetypeNameAnnotation] =
        ref->name;
    Conflicts conflicts;
    ApplyInstancetype(instancetype, preference, spec, annotations, conflicts);
    if (base::Status status = conflicts.ToStatus(*ref); !status.ok()) return status;
  }
  if (std::optional<InstancetypeRef> ref = PreferenceOf(vm); ref && !preference.is_null()) {
    annotations[ref->cluster ? kClusterPreferenceNameAnnotation : kPreferenceNameAnnotation] =
        ref->name;
    ApplyPreference(preference, spec, annotations);
    if (base::Status status = CheckRequirements(preference, *ref, spec); !status.ok()) {
      return status;
    }
  }
  auto decoded = FromJson<VirtualMachineInstanceSpec>(spec);
  if (!decoded.ok()) return decoded.status();
  out.spec.template_spec.spec = std::move(decoded).value();
  return out;
}

}  // namespace vireo::api
