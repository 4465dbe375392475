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
#include "lib/api/defaults.h"
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

// The preference's preferredCPUTopology; sockets when it gives none.
std::string PreferredTopology(const Json& preference) {
  const Json& topology = Get(Get(preference, "cpu"), "preferredCPUTopology");
  return topology.is_string() ? topology.get<std::string>() : "sockets";
}

// spread's ratio and what it spreads across: spreadOptions, else
// preferSpreadSocketToCoreRatio, else 2; SocketsCores.
std::pair<int64_t, std::string> SpreadOptions(const Json& preference) {
  const Json& options = Get(Get(preference, "cpu"), "spreadOptions");
  int64_t ratio = Get(preference, "preferSpreadSocketToCoreRatio").is_number_integer()
                      ? preference.at("preferSpreadSocketToCoreRatio").get<int64_t>()
                      : 0;
  if (Get(options, "ratio").is_number_integer()) ratio = options.at("ratio").get<int64_t>();
  if (ratio <= 0) ratio = 2;
  const Json& across = Get(options, "across");
  return {ratio, across.is_string() ? across.get<std::string>() : "SocketsCores"};
}

// sockets x cores x threads for `vcpus`, as the preference's
// preferredCPUTopology (and spreadOptions) lay them out. CheckSpread has
// made sure spread divides.
Json Topology(int64_t vcpus, const Json& preference) {
  int64_t sockets = 1, cores = 1, threads = 1;
  const std::string topology = PreferredTopology(preference);
  if (vcpus > 1) {
    if (topology == "cores" || topology == "preferCores") {
      cores = vcpus;
    } else if (topology == "threads" || topology == "preferThreads") {
      threads = vcpus;
    } else if (topology == "spread" || topology == "preferSpread") {
      const auto [ratio, across] = SpreadOptions(preference);
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
  out["sockets"] = Json(sockets);
  out["cores"] = Json(cores);
  out["threads"] = Json(threads);
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
    // As KubeVirt: preferredEfi, once applied, is the whole EFI preference.
    if (chosen.contains("efi") && Has(firmware, "preferredEfi")) return;
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

// A count of the template's domain.cpu; 0 when unset (KubeVirt reads the
// template before its defaults).
int64_t Count(const Json& cpu, const char* field) {
  return Get(cpu, field).is_number_integer() ? cpu.at(field).get<int64_t>() : 0;
}

// The vCPUs a VM without an instance type gives, as KubeVirt counts them for
// requirements: the fields the preferred topology puts vCPUs in.
int64_t TemplateVcpus(const Json& cpu, const Json& preference) {
  const std::string topology = PreferredTopology(preference);
  const int64_t sockets = Count(cpu, "sockets"), cores = Count(cpu, "cores"),
                threads = Count(cpu, "threads");
  if (topology == "cores" || topology == "preferCores") return cores;
  if (topology == "threads" || topology == "preferThreads") return threads;
  if (topology == "any" || topology == "preferAny") return sockets * cores * threads;
  if (topology == "spread" || topology == "preferSpread") {
    const std::string across = SpreadOptions(preference).second;
    if (across == "CoresThreads") return cores * threads;
    if (across == "SocketsCoresThreads") return sockets * cores * threads;
    return sockets * cores;
  }
  return sockets;
}

// The preference's requirements, as KubeVirt checks them: against the
// instance type's cpu.guest and memory.guest when the VM names one, else
// against the template as written (`spec`, before any expansion).
base::Status CheckRequirements(const Json& preference, const InstancetypeRef& preference_ref,
                               const Json& instancetype, const Json& spec) {
  const Json& requirements = Get(preference, "requirements");
  if (!requirements.is_object()) return base::Status::Ok();
  const Json& domain = Get(spec, "domain");
  const std::string by = instancetype.is_null() ? "the VirtualMachine" : "the instance type";
  std::vector<std::string> unmet;
  if (const Json& need = Get(Get(requirements, "cpu"), "guest"); need.is_number_integer()) {
    const Json& cpu = Get(domain, "cpu");
    const Json& guest = Get(Get(instancetype, "cpu"), "guest");
    const int64_t have = !instancetype.is_null()
                             ? (guest.is_number_integer() ? guest.get<int64_t>() : 0)
                             : TemplateVcpus(cpu, preference);
    if (!instancetype.is_null() || cpu.is_object()) {
      if (have < need.get<int64_t>()) {
        unmet.push_back(std::to_string(have) + " vCPUs given by " + by + ", it needs " +
                        std::to_string(need.get<int64_t>()));
      }
    } else {
      unmet.push_back("no vCPUs given by the VirtualMachine (domain.cpu), it needs " +
                      std::to_string(need.get<int64_t>()));
    }
  }
  if (const Json& need = QuantityText(Get(Get(requirements, "memory"), "guest"));
      need.is_string()) {
    Json have = QuantityText(Get(Get(domain, "memory"), "guest"));
    if (have.is_null()) have = QuantityText(Get(Get(instancetype, "memory"), "guest"));
    auto need_bytes = ParseQuantityBytes(need.get<std::string>());
    auto have_bytes = have.is_string() ? ParseQuantityBytes(have.get<std::string>())
                                       : base::Result<int64_t>(int64_t{0});
    if (need_bytes.ok() && have_bytes.ok() && *have_bytes < *need_bytes) {
      unmet.push_back((have.is_string() ? have.get<std::string>() : std::string("no memory")) +
                      " given by " + by + ", it needs " + need.get<std::string>());
    }
  }
  if (unmet.empty()) return base::Status::Ok();
  std::string message = "the VM does not meet the requirements of " + preference_ref.Describe();
  for (const std::string& why : unmet) message += ": " + why;
  return base::Status(base::Code::kInvalid, message, 422);
}

// KubeVirt's check of spread: the instance type's vCPUs must divide as the
// preference spreads them, or the guest would get another count.
base::Status CheckSpread(const Json& instancetype, const Json& preference,
                         const InstancetypeRef& ref) {
  const std::string topology = PreferredTopology(preference);
  if (topology != "spread" && topology != "preferSpread") return base::Status::Ok();
  const Json& guest = Get(Get(instancetype, "cpu"), "guest");
  const int64_t vcpus = guest.is_number_integer() ? guest.get<int64_t>() : 1;
  const auto [ratio, across] = SpreadOptions(preference);
  const bool threads = across == "SocketsCoresThreads";
  const bool divides = threads ? vcpus % 2 == 0 && (vcpus / 2) % ratio == 0 : vcpus % ratio == 0;
  if (divides) return base::Status::Ok();
  return base::Status(base::Code::kInvalid,
                      "the " + std::to_string(vcpus) + " vCPUs of " + ref.Describe() +
                          " cannot be spread " + across + " " +
                          (threads ? "with 2 threads per core and " : "") + "a ratio of " +
                          std::to_string(ratio) + ", as the preference asks",
                      422);
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
  const std::optional<InstancetypeRef> it_ref =
      instancetype.is_null() ? std::nullopt : InstancetypeOf(vm);
  const std::optional<InstancetypeRef> pref_ref =
      preference.is_null() ? std::nullopt : PreferenceOf(vm);
  const Json written = ToJson(vm.spec.template_spec.spec);
  if (pref_ref) {
    if (base::Status status =
            CheckRequirements(preference, *pref_ref, it_ref ? instancetype : Json(), written);
        !status.ok()) {
      return status;
    }
  }
  // The devices defaults add come first, so the preference's bus and model
  // reach them too (KubeVirt adds them before applying it).
  VirtualMachineInstanceSpec base = vm.spec.template_spec.spec;
  if (pref_ref) AddDefaultDevices(&base);
  Json spec = ToJson(base);
  StringMap& annotations = out.spec.template_spec.metadata.annotations;
  if (it_ref) {
    if (base::Status status = CheckSpread(instancetype, preference, *it_ref); !status.ok()) {
      return status;
    }
    annotations[it_ref->cluster ? kClusterInstancetypeNameAnnotation
                                : kInstancetypeNameAnnotation] = it_ref->name;
    Conflicts conflicts;
    ApplyInstancetype(instancetype, preference, spec, annotations, conflicts);
    if (base::Status status = conflicts.ToStatus(*it_ref); !status.ok()) return status;
  }
  if (pref_ref) {
    annotations[pref_ref->cluster ? kClusterPreferenceNameAnnotation : kPreferenceNameAnnotation] =
        pref_ref->name;
    ApplyPreference(preference, spec, annotations);
  }
  auto decoded = FromJson<VirtualMachineInstanceSpec>(spec);
  if (!decoded.ok()) return decoded.status();
  out.spec.template_spec.spec = std::move(decoded).value();
  return out;
}

}  // namespace vireo::api
