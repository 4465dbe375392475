// Names of the kubevirt.io/v1 enumerations and small lookups over the types.
#include "lib/api/types.h"

#include <algorithm>
#include <array>
#include <utility>

namespace vireo::api {
namespace {

template <typename E, size_t N>
std::optional<E> Lookup(const std::array<std::pair<E, const char*>, N>& table,
                        std::string_view text) {
  for (const auto& [value, name] : table) {
    if (text == name) return value;
  }
  return std::nullopt;
}

template <typename E, size_t N>
const char* NameOf(const std::array<std::pair<E, const char*>, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "";
}

constexpr std::array<std::pair<VmiPhase, const char*>, 8> kPhases = {{
    {VmiPhase::kUnset, ""},
    {VmiPhase::kPending, "Pending"},
    {VmiPhase::kScheduling, "Scheduling"},
    {VmiPhase::kScheduled, "Scheduled"},
    {VmiPhase::kRunning, "Running"},
    {VmiPhase::kSucceeded, "Succeeded"},
    {VmiPhase::kFailed, "Failed"},
    {VmiPhase::kUnknown, "Unknown"},
}};

constexpr std::array<std::pair<RunStrategy, const char*>, 5> kRunStrategies = {{
    {RunStrategy::kAlways, "Always"},
    {RunStrategy::kRerunOnFailure, "RerunOnFailure"},
    {RunStrategy::kManual, "Manual"},
    {RunStrategy::kHalted, "Halted"},
    {RunStrategy::kOnce, "Once"},
}};

constexpr std::array<std::pair<StateChangeAction, const char*>, 2> kActions = {{
    {StateChangeAction::kStart, "Start"},
    {StateChangeAction::kStop, "Stop"},
}};

template <typename T>
const T* FindByName(const std::vector<T>& items, std::string_view name) {
  auto it = std::find_if(items.begin(), items.end(), [&](const T& t) { return t.name == name; });
  return it == items.end() ? nullptr : &*it;
}

}  // namespace

const char* VmiPhaseName(VmiPhase phase) { return NameOf(kPhases, phase); }
std::optional<VmiPhase> ParseVmiPhase(std::string_view text) { return Lookup(kPhases, text); }

const char* RunStrategyName(RunStrategy strategy) { return NameOf(kRunStrategies, strategy); }
std::optional<RunStrategy> ParseRunStrategy(std::string_view text) {
  return Lookup(kRunStrategies, text);
}

const char* StateChangeActionName(StateChangeAction action) { return NameOf(kActions, action); }
std::optional<StateChangeAction> ParseStateChangeAction(std::string_view text) {
  return Lookup(kActions, text);
}

const Volume* FindVolume(const VirtualMachineInstanceSpec& spec, std::string_view name) {
  return FindByName(spec.volumes, name);
}

const Network* FindNetwork(const VirtualMachineInstanceSpec& spec, std::string_view name) {
  return FindByName(spec.networks, name);
}

const Disk* FindDisk(const VirtualMachineInstanceSpec& spec, std::string_view name) {
  return FindByName(spec.domain.devices.disks, name);
}

const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type) {
  auto it = std::find_if(conditions.begin(), conditions.end(),
                         [&](const Condition& c) { return c.type == type; });
  return it == conditions.end() ? nullptr : &*it;
}

const KernelBootContainer* FindKernelBootContainer(const VirtualMachineInstanceSpec& spec) {
  const auto& firmware = spec.domain.firmware;
  if (!firmware.has_value() || !firmware->kernel_boot.has_value() ||
      !firmware->kernel_boot->container.has_value()) {
    return nullptr;
  }
  return &*firmware->kernel_boot->container;
}

}  // namespace vireo::api
