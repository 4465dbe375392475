// start/stop/restart decisions; see power.h.
#include "virtctl/power.h"

#include <string_view>
#include <utility>

namespace vireo::virtctl {

using base::Code;
using base::Json;
using base::Status;

const char* PowerActionName(PowerAction action) {
  switch (action) {
    case PowerAction::kStart:
      return "start";
    case PowerAction::kStop:
      return "stop";
    case PowerAction::kRestart:
      return "restart";
  }
  return "?";
}

namespace {

Json Op(std::string_view op, std::string_view path, Json value) {
  Json o = Json::object();
  o["op"] = Json(std::string(op));
  o["path"] = Json(std::string(path));
  o["value"] = std::move(value);
  return o;
}

Json Patch(std::initializer_list<Json> ops) {
  Json p = Json::array();
  size_t i = 0;
  for (const auto& op : ops) p[i++] = op;
  return p;
}

Status Refuse(std::string message) { return Status(Code::kConflict, std::move(message)); }

Json Request(std::string_view action, const std::string& uid = {}) {
  Json r = Json::object();
  r["action"] = Json(std::string(action));
  if (!uid.empty()) r["uid"] = Json(uid);
  return r;
}

// The strategy as the VM spells it, and where: spec.runStrategy, the older
// spec.running (true = Always, false = Halted), or neither (Halted).
struct Strategy {
  std::string name;  // Always, Halted, Manual, RerunOnFailure, Once
  enum { kField, kRunning, kAbsent } source = kAbsent;
};

base::Result<Strategy> ReadStrategy(const Json& vm) {
  const Json* spec = base::Find(vm, "spec");
  const Json* strategy = spec != nullptr ? base::Find(*spec, "runStrategy") : nullptr;
  const Json* running = spec != nullptr ? base::Find(*spec, "running") : nullptr;
  if (strategy != nullptr && !strategy->is_null() && running != nullptr && !running->is_null()) {
    return Status(Code::kInvalid, "spec.running and spec.runStrategy are both set");
  }
  if (strategy != nullptr && strategy->is_string()) {
    std::string name = strategy->get<std::string>();
    for (const char* known : {"Always", "Halted", "Manual", "RerunOnFailure", "Once"}) {
      if (name == known) return Strategy{name, Strategy::kField};
    }
    return Status(Code::kInvalid, "unknown spec.runStrategy \"" + name + "\"");
  }
  if (running != nullptr && running->is_boolean()) {
    return Strategy{running->get<bool>() ? "Always" : "Halted", Strategy::kRunning};
  }
  return Strategy{"Halted", Strategy::kAbsent};
}

// Always or Halted, written where the VM keeps its strategy, guarded by a
// test of the old value so a concurrent change makes the patch fail.
Json StrategyPatch(const Strategy& current, const Json& vm, bool run) {
  switch (current.source) {
    case Strategy::kField:
      return Patch({Op("test", "/spec/runStrategy", *base::Find(vm, "spec.runStrategy")),
                    Op("replace", "/spec/runStrategy", Json(run ? "Always" : "Halted"))});
    case Strategy::kRunning:
      return Patch({Op("test", "/spec/running", *base::Find(vm, "spec.running")),
                    Op("replace", "/spec/running", Json(run))});
    case Strategy::kAbsent:
      break;
  }
  return Patch({Op("add", "/spec/runStrategy", Json(run ? "Always" : "Halted"))});
}

// Appends requests to status.stateChangeRequests. Pending requests block a
// new start or restart (KubeVirt: "stop/start already underway"); a lone
// Stop replaces them.
base::Result<Json> RequestsPatch(const Json& vm, std::initializer_list<Json> requests) {
  Json list = Json::array();
  size_t i = 0;
  for (const auto& r : requests) list[i++] = r;
  const Json* status = base::Find(vm, "status");
  if (status == nullptr || status->is_null() || (status->is_object() && status->empty())) {
    Json value = Json::object();
    value["stateChangeRequests"] = list;
    return Patch({Op("add", "/status", value)});
  }
  const Json* pending = base::Find(*status, "stateChangeRequests");
  bool has_pending = pending != nullptr && pending->is_array() && pending->size() > 0;
  bool lone_stop = requests.size() == 1 && base::GetString(*requests.begin(), "action") == "Stop";
  if (has_pending && !lone_stop) {
    return Refuse("a stop/start request is already underway (status.stateChangeRequests: " +
                  base::DumpJson(*pending) + "); try again once the controller has handled it");
  }
  Json old = pending != nullptr ? *pending : Json();
  return Patch({Op("test", "/status/stateChangeRequests", old),
                Op(has_pending ? "replace" : "add", "/status/stateChangeRequests", list)});
}

bool IsFinal(const Json& vmi) {
  std::string phase = base::GetString(vmi, "status.phase");
  return phase == "Succeeded" || phase == "Failed";
}

bool IsDeleting(const Json& vmi) {
  return base::Find(vmi, "metadata.deletionTimestamp") != nullptr;
}

}  // namespace

base::Result<PowerPlan> PlanPower(PowerAction action, const Json& vm, const Json* vmi,
                                  const PowerOptions& options) {
  if (options.grace_period_seconds && *options.grace_period_seconds < 0) {
    return Status(Code::kBadRequest, "--grace-period must be 0 or more");
  }
  if (options.force && options.grace_period_seconds.value_or(-1) != 0) {
    return Status(Code::kBadRequest, "--force needs --grace-period=0");
  }
  if (action == PowerAction::kStart && (options.force || options.grace_period_seconds)) {
    return Status(Code::kBadRequest, "start takes neither --grace-period nor --force");
  }
  if (action == PowerAction::kRestart && options.grace_period_seconds && !options.force) {
    return Status(Code::kBadRequest,
                  "restart takes --grace-period only as --force --grace-period=0");
  }
  auto strategy = ReadStrategy(vm);
  if (!strategy.ok()) return strategy.status();
  const std::string& s = strategy->name;
  bool live = vmi != nullptr && !IsFinal(*vmi);  // has a VMI that has not ended
  std::string uid = vmi != nullptr ? base::UidOf(*vmi) : "";

  PowerPlan plan;
  plan.vmi_uid = uid;
  switch (action) {
    case PowerAction::kStart: {
      if (live && !IsDeleting(*vmi)) return Refuse("VM is already running");
      if (s == "Always" || s == "Once")
        return Refuse(s + " does not support manual start requests");
      if (s == "Halted") {
        plan.vm_patch = StrategyPatch(*strategy, vm, true);
        return plan;
      }
      std::string phase = vmi != nullptr ? base::GetString(*vmi, "status.phase") : "";
      if (s == "RerunOnFailure" && phase == "Failed") {
        return Refuse("RerunOnFailure does not support starting VM from failed state");
      }
      bool ended = vmi != nullptr && (s == "Manual" ? IsFinal(*vmi) : phase == "Succeeded");
      auto patch = ended ? RequestsPatch(vm, {Request("Stop", uid), Request("Start")})
                         : RequestsPatch(vm, {Request("Start")});
      if (!patch.ok()) return patch.status();
      plan.vm_status_patch = std::move(*patch);
      return plan;
    }
    case PowerAction::kStop: {
      if (s == "Always" || s == "Once") {
        plan.vm_patch = StrategyPatch(*strategy, vm, false);
      } else {
        if (!live) return Refuse("VM is not running");
        if (s == "Halted") {
          const Json* old = base::Find(*vmi, "spec.terminationGracePeriodSeconds");
          if (!options.grace_period_seconds ||
              (old != nullptr && old->is_number_integer() &&
               *options.grace_period_seconds >= old->get<int64_t>())) {
            return Refuse("Halted only supports manual stop requests with a shorter grace period");
          }
        }
        auto patch = RequestsPatch(vm, {Request("Stop", uid)});
        if (!patch.ok()) return patch.status();
        plan.vm_status_patch = std::move(*patch);
      }
      if (live && options.grace_period_seconds) {
        const Json* old = base::Find(*vmi, "spec.terminationGracePeriodSeconds");
        Json value = Json(*options.grace_period_seconds);
        plan.vmi_patch = old != nullptr
                             ? Patch({Op("test", "/spec/terminationGracePeriodSeconds", *old),
                                      Op("replace", "/spec/terminationGracePeriodSeconds", value)})
                             : Patch({Op("add", "/spec/terminationGracePeriodSeconds", value)});
      }
      plan.delete_launcher_pods = options.force && vmi != nullptr;
      return plan;
    }
    case PowerAction::kRestart: {
      if (s == "Halted" || s == "Once") {
        return Refuse("RunStrategy " + s + " does not support manual restart requests");
      }
      if (vmi == nullptr) return Refuse("VM is not running");
      auto patch = RequestsPatch(vm, {Request("Stop", uid), Request("Start")});
      if (!patch.ok()) return patch.status();
      plan.vm_status_patch = std::move(*patch);
      plan.delete_launcher_pods = options.force;
      return plan;
    }
  }
  return Status(Code::kInternal, "unknown action");
}

}  // namespace vireo::virtctl
