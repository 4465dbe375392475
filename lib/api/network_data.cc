// The guest's NIC names and the networkData check; see network_data.h.
#include "lib/api/network_data.h"

#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "lib/base/file_util.h"

namespace vireo::api {
namespace {

bool IsQ35(const VirtualMachineInstanceSpec& spec) {
  const std::string type = spec.domain.machine.has_value() ? spec.domain.machine->type : "";
  return type.empty() || type == "q35" || type.starts_with("pc-q35");
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string List(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// The VMI's fixed MACs (interfaces without macAddress get a generated one).
std::vector<std::string> FixedMacs(const VirtualMachineInstanceSpec& spec) {
  std::vector<std::string> macs;
  for (const Interface& iface : spec.domain.devices.interfaces) {
    if (!iface.mac_address.empty()) macs.push_back(Lower(iface.mac_address));
  }
  return macs;
}

std::string NetworkDataText(const CloudInitNoCloudSource& source) {
  if (!source.network_data.empty()) return source.network_data;
  if (source.network_data_base64.empty()) return "";
  std::optional<std::string> decoded = base::DecodeBase64(source.network_data_base64);
  return decoded.value_or("");
}

class Checker {
 public:
  explicit Checker(const VirtualMachineInstanceSpec& spec)
      : names_(GuestNicNames(spec)), macs_(FixedMacs(spec)) {}

  bool NameKnown(const std::string& name) const {
    return std::find(names_.begin(), names_.end(), name) != names_.end();
  }
  bool GlobMatches(const std::string& glob) const {
    return std::any_of(names_.begin(), names_.end(), [&](const std::string& name) {
      return fnmatch(glob.c_str(), name.c_str(), 0) == 0;
    });
  }
  bool MacKnown(const std::string& mac) const {
    return std::find(macs_.begin(), macs_.end(), Lower(mac)) != macs_.end();
  }
  std::string NoSuchName(const std::string& what) const {
    return what + ", which the guest will not have: its NICs are " + List(names_) +
           " (systemd's names for the PCI slots Vireo gives them, as KubeVirt does; the kernel's "
           "eth names with net.ifnames=0)";
  }
  std::string NoSuchMac(const std::string& what) const {
    return what + ", which no interface of the VMI has" +
           (macs_.empty() ? std::string(": their MACs are generated; set the interface's "
                                        "macAddress to match it")
                          : ": they have " + List(macs_));
  }

  // version 2: ethernets.<id> with match (name, macaddress) or the id as name.
  void Version2(const YAML::Node& ethernets, std::vector<std::string>* problems) const {
    if (!ethernets.IsMap()) return;
    for (const auto& entry : ethernets) {
      const std::string id = entry.first.as<std::string>("");
      const YAML::Node match = entry.second.IsMap() ? entry.second["match"] : YAML::Node();
      const std::string where = "networkData ethernets." + id;
      if (!match || !match.IsMap()) {
        if (!NameKnown(id))
          problems->push_back(NoSuchName(where + " names interface '" + id + "'"));
        continue;
      }
      if (match["name"] && !GlobMatches(match["name"].as<std::string>(""))) {
        problems->push_back(
            NoSuchName(where + " matches name '" + match["name"].as<std::string>("") + "'"));
      }
      if (match["macaddress"] && !MacKnown(match["macaddress"].as<std::string>(""))) {
        problems->push_back(
            NoSuchMac(where + " matches MAC " + match["macaddress"].as<std::string>("")));
      }
    }
  }

  // version 1: config[] of type physical, matched by mac_address, else name.
  void Version1(const YAML::Node& config, std::vector<std::string>* problems) const {
    if (!config.IsSequence()) return;
    for (const YAML::Node& item : config) {
      if (!item.IsMap() || item["type"].as<std::string>("") != "physical") continue;
      const std::string name = item["name"].as<std::string>("");
      const std::string where = "networkData config (physical '" + name + "')";
      if (item["mac_address"]) {
        const std::string mac = item["mac_address"].as<std::string>("");
        if (!MacKnown(mac)) problems->push_back(NoSuchMac(where + " matches MAC " + mac));
      } else if (!NameKnown(name)) {
        problems->push_back(NoSuchName(where + " names interface '" + name + "'"));
      }
    }
  }

  bool Knows() const { return !names_.empty(); }

 private:
  std::vector<std::string> names_;
  std::vector<std::string> macs_;
};

}  // namespace

std::vector<std::string> GuestNicNames(const VirtualMachineInstanceSpec& spec) {
  std::vector<std::string> names;
  if (!IsQ35(spec)) return names;
  const size_t count = spec.domain.devices.interfaces.size();
  for (size_t i = 0; i < count; ++i) names.push_back("enp" + std::to_string(i + 1) + "s0");
  for (size_t i = 0; i < count; ++i) names.push_back("eth" + std::to_string(i));
  return names;
}

std::vector<std::string> NetworkDataProblems(const VirtualMachineInstanceSpec& spec) {
  std::vector<std::string> problems;
  const Checker checker(spec);
  if (!checker.Knows()) return problems;
  for (const Volume& volume : spec.volumes) {
    if (!volume.cloud_init_no_cloud.has_value()) continue;
    const std::string text = NetworkDataText(*volume.cloud_init_no_cloud);
    if (text.empty()) continue;
    YAML::Node doc;
    try {
      doc = YAML::Load(text);
    } catch (const YAML::Exception&) {
      continue;
    }
    if (!doc.IsMap()) continue;
    if (doc["network"] && doc["network"].IsMap()) doc = doc["network"];
    const std::string version = doc["version"] ? doc["version"].as<std::string>("") : "";
    if (version == "2") {
      checker.Version2(doc["ethernets"], &problems);
    } else if (version == "1") {
      checker.Version1(doc["config"], &problems);
    }
  }
  return problems;
}

}  // namespace vireo::api
