// Builders and golden-file helpers for the reconcile tests: small VMs, VMIs
// and pods in the states the decisions distinguish, and readable JSON.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "controllers/reconcile/common.h"
#include "lib/api/codec.h"
#include "lib/api/defaults.h"
#include "lib/api/test_util.h"
#include "lib/api/types.h"
#include "lib/base/timestamp.h"

namespace vireo::controllers::testing {

using api::testing::JsonDiff;
using api::testing::ParseOrDie;

// A fixed "now", so timestamps in expectations are literal.
inline WallTime Now() { return WallTime(std::chrono::seconds(1'800'000'000)); }
inline std::string At(std::chrono::seconds offset) { return base::FormatTime(Now() + offset); }

inline constexpr char kVmUid[] = "7c0f5a52-0000-4000-8000-00000000a001";
inline constexpr char kVmiUid[] = "7c0f5a52-0000-4000-8000-00000000b001";

// A VM as a user writes it, with the finalizer the controller adds.
inline api::VirtualMachine Vm(api::RunStrategy strategy) {
  api::VirtualMachine vm;
  vm.metadata.name = "vm1";
  vm.metadata.namespace_ = "default";
  vm.metadata.uid = kVmUid;
  vm.metadata.generation = 3;
  vm.metadata.finalizers = {kVmFinalizer};
  vm.spec.run_strategy = strategy;
  vm.spec.template_spec.metadata.labels = {{"app", "demo"}};
  api::Memory memory;
  memory.guest = "128Mi";
  vm.spec.template_spec.spec.domain.memory = memory;
  api::Volume disk;
  disk.name = "root";
  disk.container_disk.emplace();
  disk.container_disk->image = "example.org/disks/cirros:6.2";
  vm.spec.template_spec.spec.volumes.push_back(disk);
  return vm;
}

inline void AddClaim(api::VirtualMachineInstanceSpec* spec, const std::string& volume,
                     const std::string& claim) {
  api::Volume v;
  v.name = volume;
  v.persistent_volume_claim.emplace();
  v.persistent_volume_claim->claim_name = claim;
  spec->volumes.push_back(v);
}

// The VMI `vm` made, in `phase`; `ran` adds a Running phase transition (a
// VMI that ended after running).
inline api::VirtualMachineInstance VmiOf(const api::VirtualMachine& vm, api::VmiPhase phase,
                                         bool ran = false, const std::string& uid = kVmiUid) {
  api::VirtualMachineInstance vmi;
  vmi.metadata.name = vm.metadata.name;
  vmi.metadata.namespace_ = vm.metadata.namespace_;
  vmi.metadata.uid = uid;
  vmi.metadata.creation_timestamp = At(std::chrono::seconds(-600));
  vmi.metadata.finalizers = {kVmiFinalizer};
  vmi.metadata.annotations[kVmGenerationAnnotation] = "2";
  api::OwnerReference owner;
  owner.api_version = api::kApiVersion;
  owner.kind = api::kVirtualMachineKind;
  owner.name = vm.metadata.name;
  owner.uid = vm.metadata.uid;
  owner.controller = true;
  vmi.metadata.owner_references.push_back(owner);
  // With the defaults, as NewVmiFor makes it (a VMI whose spec is not the
  // template's would make the VM RestartRequired).
  vmi.spec = vm.spec.template_spec.spec;
  api::ApplyVmiDefaults(&vmi);
  vmi.status.phase = phase;
  if (ran || phase == api::VmiPhase::kRunning) {
    vmi.status.phase_transition_timestamps.push_back(
        {api::VmiPhase::kRunning, At(std::chrono::seconds(-300)), Json()});
  }
  return vmi;
}

// `status` as DecideVmi leaves a VMI that failed: phase Failed, `reason`,
// and `message` in the Synchronized condition.
inline void SetFailed(api::VirtualMachineInstanceStatus* status, const std::string& reason,
                      const std::string& message) {
  status->phase = api::VmiPhase::kFailed;
  status->reason = reason;
  api::Condition sync;
  sync.type = kConditionSynchronized;
  sync.status = "False";
  sync.reason = reason;
  sync.message = message;
  status->conditions.push_back(std::move(sync));
}

inline api::StateChangeRequest Request(api::StateChangeAction action, std::string uid = "") {
  api::StateChangeRequest r;
  r.action = action;
  if (!uid.empty()) r.uid = uid;
  return r;
}

// ------------------------------------------------------------ golden files

inline std::string TestdataPath(const std::string& name) {
  return std::string(VIREO_RECONCILE_TESTDATA) + "/" + name;
}

inline Json LoadTestdata(const std::string& name) {
  std::ifstream in(TestdataPath(name));
  if (!in) {
    ADD_FAILURE() << "cannot open " << TestdataPath(name);
    return Json();
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseOrDie(text.str());
}

// JSON for people: two-space indents, keys sorted, short arrays of scalars on
// one line.
inline void Pretty(const Json& v, int indent, std::string* out) {
  const std::string pad(indent, ' ');
  const std::string inner(indent + 2, ' ');
  if (v.is_object()) {
    if (v.size() == 0) {
      *out += "{}";
      return;
    }
    std::vector<std::string> keys;
    for (const auto& [k, unused] : v.items()) keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    *out += "{\n";
    for (size_t i = 0; i < keys.size(); ++i) {
      *out += inner + Json(keys[i]).dump() + ": ";
      Pretty(v.at(keys[i]), indent + 2, out);
      *out += i + 1 < keys.size() ? ",\n" : "\n";
    }
    *out += pad + "}";
  } else if (v.is_array()) {
    if (v.size() == 0) {
      *out += "[]";
      return;
    }
    bool scalars = true;
    for (const Json& item : v) scalars = scalars && !item.is_object() && !item.is_array();
    if (scalars && v.dump().size() < 80) {
      *out += "[";
      for (size_t i = 0; i < v.size(); ++i) {
        *out += (i == 0 ? "" : ", ") + v.at(i).dump();
      }
      *out += "]";
      return;
    }
    *out += "[\n";
    for (size_t i = 0; i < v.size(); ++i) {
      *out += inner;
      Pretty(v.at(i), indent + 2, out);
      *out += i + 1 < v.size() ? ",\n" : "\n";
    }
    *out += pad + "]";
  } else {
    *out += v.dump();
  }
}

inline std::string PrettyJson(const Json& v) {
  std::string out;
  Pretty(v, 0, &out);
  return out + "\n";
}

// Compares `actual` with testdata/<name>. With VIREO_UPDATE_GOLDEN=1 in the
// environment, rewrites the file instead (review the diff before committing).
inline void ExpectGolden(const Json& actual, const std::string& name) {
  const char* update = std::getenv("VIREO_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(TestdataPath(name)) << PrettyJson(actual);
    GTEST_SKIP() << "rewrote " << TestdataPath(name);
  }
  const Json golden = LoadTestdata(name);
  EXPECT_EQ(JsonDiff(golden, actual), "")
      << "golden " << name << " differs; if intended, rerun with VIREO_UPDATE_GOLDEN=1\n"
      << PrettyJson(actual);
}

}  // namespace vireo::controllers::testing
