// The guard between the CRD schema and the codec: the schema (crds/src, the
// one source of the fields Vireo supports) and lib/api's structs and codec
// are written separately, and this test fails when they drift apart.
//
// The field list is made at build time, not checked in: meson runs
// `hack/gen-crds.py --fields` over crds/src into the build directory (with a
// depfile, so a schema edit remakes it), so the list can never be stale and a
// field added to the schema is tested by the next build with no other step.
// It holds every field the CRDs declare as supported for VirtualMachine,
// VirtualMachineInstance and DataVolume (the ones crds/src/unsupported.yaml
// refuses are left out) and, for each field that holds a value, an object
// that sets it to a valid, non-zero value of its schema type.
//
// For each such field:
//  - the object decodes;
//  - the field is modelled: it (or a parent kept whole, such as affinity) is
//    read into a typed member, as codec::FieldLog records, and not left in
//    the `extra` pass-through of unmodelled keys;
//  - encoding gives the object back unchanged, the field with its value.
//    A DataVolume is only decoded (the controller never writes its spec),
//    so for it only status fields are re-encoded.
// And the other way: every key the codec looks up while decoding these
// objects is a field the CRD declares.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lib/api/codec.h"
#include "lib/api/codec_internal.h"
#include "lib/api/datavolume.h"
#include "lib/api/test_util.h"

namespace vireo::api {
namespace {

using codec::FieldLog;
using codec::ScopedFieldLog;
using testing::JsonDiff;

// Fields the CRD declares that the codec leaves in `extra` on purpose, keyed
// by the first path not modelled (a parent covers its fields). Each must
// still be so: the test fails when one gets modelled, so the list cannot rot.
// {kind, path}: why.
const char kKubeVirtStatus[] =
    "declared so KubeVirt's clients may read and write it; Vireo reads none of it and keeps it "
    "as written";
const std::map<std::pair<std::string, std::string>, std::string> kDeclaredNotModelled = {
    {{kVirtualMachineKind, "spec.template.metadata.creationTimestamp"},
     "ignored: declared only to accept the null that tools write there"},
    {{kVirtualMachineKind, "spec.instancetype"},
     "lib/api/instancetype.cc reads it from spec.extra (InstancetypeOf)"},
    {{kVirtualMachineKind, "spec.preference"},
     "lib/api/instancetype.cc reads it from spec.extra (PreferenceOf)"},
    {{kVirtualMachineKind, "status.startFailure"},
     "controllers/reconcile/vm.cc reads and writes it through status.extra"},
    {{kVirtualMachineInstanceKind, "status.activePods"},
     "controllers/reconcile/vmi.cc writes it through status.extra"},
    {{kVirtualMachineInstanceKind, "status.currentCPUTopology"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.guestOSInfo"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.interfaces[].infoSource"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.interfaces[].interfaceName"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.interfaces[].linkState"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.interfaces[].podInterfaceName"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.interfaces[].queueCount"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.machine"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.memory"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.qosClass"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.runtimeUser"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.volumeStatus[].containerDiskVolume"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.volumeStatus[].message"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.volumeStatus[].phase"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.volumeStatus[].reason"}, kKubeVirtStatus},
    {{kVirtualMachineInstanceKind, "status.volumeStatus[].size"}, kKubeVirtStatus},
    {{kDataVolumeKind, "apiVersion"},
     "DataVolumeFromJson decodes what the DataVolume resource "
     "returned and checks neither apiVersion nor kind"},
    {{kDataVolumeKind, "kind"}, "as apiVersion"},
    {{kDataVolumeKind, "spec.contentType"},
     "its one allowed value, kubevirt, is what Vireo always does"},
    {{kDataVolumeKind, "status.conditions[].lastHeartbeatTime"},
     "CDI's; the shared Condition struct models KubeVirt's lastProbeTime instead, and the "
     "controller never sets it, so it stays as written in extra"},
};

// Keys the codec reads that the CRD does not declare as supported: each is
// refused by name (crds/src/unsupported.yaml) or belongs to a struct shared
// with another kind. Each must still be read. {kind, path}: why.
const char kRefusedButRead[] =
    "refused by the CRD (unsupported.yaml), yet read by the codec and honoured by the "
    "launcher; lib/api/README.md says so";
const char kSharedDiskTarget[] =
    "DiskTarget is shared by disk and cdrom; the CRD supports readonly on a cdrom only and "
    "refuses it on a disk (unsupported.yaml)";
const std::map<std::pair<std::string, std::string>, std::string> kModelledNotDeclared = {
    {{kVirtualMachineInstanceKind, "spec.domain.cpu.model"}, kRefusedButRead},
    {{kVirtualMachineInstanceKind, "spec.domain.devices.interfaces[].bootOrder"}, kRefusedButRead},
    {{kVirtualMachineInstanceKind, "spec.domain.devices.disks[].disk.readonly"}, kSharedDiskTarget},
    {{kVirtualMachineKind, "spec.template.spec.domain.cpu.model"}, kRefusedButRead},
    {{kVirtualMachineKind, "spec.template.spec.domain.devices.interfaces[].bootOrder"},
     kRefusedButRead},
    {{kVirtualMachineKind, "spec.template.spec.domain.devices.disks[].disk.readonly"},
     kSharedDiskTarget},
    {{kDataVolumeKind, "status.conditions[].lastProbeTime"},
     "the Condition struct is shared with VMs and VMIs, whose conditions have it"},
};

struct Field {
  std::string path;
  bool leaf = false;
  Json value;
  Json object;
};

struct Kind {
  std::string name;
  std::vector<Field> fields;
};

std::vector<Kind> LoadFields() {
  std::ifstream in(VIREO_API_FIELDS);
  EXPECT_TRUE(in) << "cannot open " << VIREO_API_FIELDS;
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = base::ParseJson(text.str(), VIREO_API_FIELDS);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
  std::vector<Kind> kinds;
  if (!parsed.ok() || !parsed->is_object()) return kinds;
  const Json& json = *parsed;
  for (const auto& [name, kind] : json.items()) {
    Kind k{name, {}};
    for (const Json& f : kind.at("fields")) {
      Field field;
      field.path = f.at("path").get<std::string>();
      field.leaf = f.at("leaf").get<bool>();
      if (field.leaf) {
        field.value = f.at("value");
        field.object = f.at("object");
      }
      k.fields.push_back(std::move(field));
    }
    kinds.push_back(std::move(k));
  }
  return kinds;
}

const std::vector<Kind>& Kinds() {
  static const std::vector<Kind> kinds = LoadFields();
  return kinds;
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> segments;
  std::stringstream in(path);
  for (std::string seg; std::getline(in, seg, '.');) segments.push_back(seg);
  return segments;
}

bool IsList(const std::string& seg) { return seg.size() > 2 && seg.ends_with("[]"); }
std::string Key(const std::string& seg) {
  return IsList(seg) ? seg.substr(0, seg.size() - 2) : seg;
}

// The value at a field path (a list's first item for "[]"); nullptr when absent.
const Json* At(const Json& json, const std::string& path) {
  const Json* node = &json;
  for (const std::string& seg : Split(path)) {
    if (!node->is_object() || !node->contains(Key(seg))) return nullptr;
    node = &node->at(Key(seg));
    if (IsList(seg)) {
      if (!node->is_array() || node->size() == 0) return nullptr;
      node = &node->at(0);
    }
  }
  return node;
}

// "" when `path` is modelled by what `log` saw: each parent read by a nested
// reader, down to the field or to a parent kept whole. Otherwise the first
// path that was not read into a typed member.
std::string NotModelled(const FieldLog& log, const std::string& path) {
  std::string prefix;
  for (const std::string& seg : Split(path)) {
    const std::string at = prefix.empty() ? Key(seg) : prefix + "." + Key(seg);
    auto it = log.modelled.find(at);
    if (it == log.modelled.end()) return at;
    if (it->second) return "";
    prefix = prefix.empty() ? seg : prefix + "." + seg;
  }
  return "";
}

// A DataVolume must have one source and one of storage or pvc (CEL rules the
// sample objects do not follow); give it the smallest where the field's
// object has none, so the decoder reaches the field.
Json WithDataVolumeBase(Json object) {
  Json& spec = object["spec"];
  if (!spec.contains("source")) spec["source"]["blank"] = Json::object();
  if (!spec.contains("storage") && !spec.contains("pvc")) {
    spec["storage"]["resources"]["requests"]["storage"] = Json("1Gi");
  }
  return object;
}

// Decodes `object` as `kind` while `log` records; on success returns the
// object encoded again (null for a DataVolume: only its status is encoded, at
// "status"). Records a failure naming the field otherwise.
std::optional<Json> DecodeEncode(const std::string& kind, const Field& field, const Json& object,
                                 FieldLog* log) {
  ScopedFieldLog scope(log);
  if (kind == kVirtualMachineKind) {
    Result<VirtualMachine> vm = FromJson<VirtualMachine>(object);
    if (vm.ok()) return ToJson(*vm);
    ADD_FAILURE() << kind << " " << field.path << ": does not decode: " << vm.status().ToString();
  } else if (kind == kVirtualMachineInstanceKind) {
    Result<VirtualMachineInstance> vmi = FromJson<VirtualMachineInstance>(object);
    if (vmi.ok()) return ToJson(*vmi);
    ADD_FAILURE() << kind << " " << field.path << ": does not decode: " << vmi.status().ToString();
  } else if (kind == kDataVolumeKind) {
    Result<DataVolume> dv = DataVolumeFromJson(object);
    if (dv.ok()) {
      Json out = Json::object();
      out["status"] = ToJson(dv->status);
      return out;
    }
    ADD_FAILURE() << kind << " " << field.path << ": does not decode: " << dv.status().ToString();
  } else {
    ADD_FAILURE() << "the CRDs declare kind " << kind << ", which this test does not know";
  }
  return std::nullopt;
}

TEST(CodecFieldsTest, ListsEveryKindWithItsFields) {
  std::set<std::string> names;
  for (const Kind& kind : Kinds()) {
    names.insert(kind.name);
    EXPECT_GT(kind.fields.size(), 10u) << kind.name;
  }
  EXPECT_EQ(names, (std::set<std::string>{kVirtualMachineKind, kVirtualMachineInstanceKind,
                                          kDataVolumeKind}));
}

TEST(CodecFieldsTest, EveryDeclaredFieldIsModelledAndRoundTrips) {
  std::set<std::pair<std::string, std::string>> not_modelled;
  int checked = 0;
  for (const Kind& kind : Kinds()) {
    for (const Field& field : kind.fields) {
      if (!field.leaf) continue;  // an object is checked through its fields
      const Json input =
          kind.name == kDataVolumeKind ? WithDataVolumeBase(field.object) : field.object;
      FieldLog log;
      std::optional<Json> output = DecodeEncode(kind.name, field, input, &log);
      if (!output.has_value()) continue;
      ++checked;
      const std::string missing = NotModelled(log, field.path);
      if (!missing.empty()) {
        not_modelled.emplace(kind.name, missing);
        if (!kDeclaredNotModelled.count({kind.name, missing})) {
          ADD_FAILURE() << kind.name << " " << field.path
                        << ": the CRD declares it but the codec does not model it (" << missing
                        << " is left in extra): add it to types.h and the codec";
        }
      }
      if (kind.name == kDataVolumeKind && !field.path.starts_with("status.")) continue;
      const Json* back = At(*output, field.path);
      if (back == nullptr) {
        ADD_FAILURE() << kind.name << " " << field.path << ": lost on encode, set to "
                      << field.value.dump();
        continue;
      }
      EXPECT_EQ(JsonDiff(field.value, *back), "") << kind.name << " " << field.path;
      // The whole object comes back: a writer that adds a key fails here.
      if (kind.name != kDataVolumeKind) {
        EXPECT_EQ(JsonDiff(input, *output), "") << kind.name << " " << field.path;
      } else {
        EXPECT_EQ(JsonDiff(input.at("status"), output->at("status")), "")
            << kind.name << " " << field.path;
      }
    }
  }
  EXPECT_GT(checked, 200);
  for (const auto& [key, why] : kDeclaredNotModelled) {
    EXPECT_TRUE(not_modelled.count(key))
        << key.first << " " << key.second
        << " is modelled now: remove it from kDeclaredNotModelled (" << why << ")";
  }
}

TEST(CodecFieldsTest, EveryKeyTheCodecReadsIsDeclared) {
  for (const Kind& kind : Kinds()) {
    std::set<std::string> declared;
    FieldLog log;
    for (const Field& field : kind.fields) {
      declared.insert(field.path);
      if (!field.leaf) continue;
      const Json input =
          kind.name == kDataVolumeKind ? WithDataVolumeBase(field.object) : field.object;
      DecodeEncode(kind.name, field, input, &log);
    }
    ASSERT_FALSE(log.looked_up.empty()) << kind.name;
    std::set<std::string> undeclared;
    for (const std::string& path : log.looked_up) {
      // The root's metadata is ObjectMeta, which a CRD may not describe.
      if (path == "metadata" || path.starts_with("metadata.")) continue;
      if (!declared.count(path)) undeclared.insert(path);
    }
    for (const std::string& path : undeclared) {
      if (kModelledNotDeclared.count({kind.name, path})) continue;
      ADD_FAILURE() << kind.name << " " << path
                    << ": the codec reads it but the CRD does not declare it: declare it in "
                       "crds/src, or stop reading it";
    }
    for (const auto& [key, why] : kModelledNotDeclared) {
      if (key.first != kind.name) continue;
      EXPECT_TRUE(undeclared.count(key.second))
          << key.first << " " << key.second
          << " is declared or no longer read: remove it from kModelledNotDeclared (" << why << ")";
    }
  }
}

// The checks above can fail: a key the codec does not model is reported.
TEST(CodecFieldsTest, NotModelledNamesTheFirstUnreadPath) {
  FieldLog log;
  {
    ScopedFieldLog scope(&log);
    Result<VirtualMachineInstance> vmi = FromJson<VirtualMachineInstance>(testing::ParseOrDie(R"({
      "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
      "spec": {"domain": {"devices": {}, "madeUpKnob": true, "cpu": {"cores": 2}},
               "affinity": {"nodeAffinity": {}}}})"));
    ASSERT_TRUE(vmi.ok()) << vmi.status().ToString();
  }
  EXPECT_EQ(NotModelled(log, "spec.domain.madeUpKnob"), "spec.domain.madeUpKnob");
  EXPECT_EQ(NotModelled(log, "spec.domain.cpu.cores"), "");
  EXPECT_EQ(NotModelled(log, "spec.domain.cpu.sockets"), "spec.domain.cpu.sockets");
  EXPECT_EQ(NotModelled(log, "spec.affinity.nodeAffinity.required"), "");  // kept whole
  EXPECT_TRUE(log.looked_up.count("spec.domain.cpu.sockets"));  // absent, still looked up
  EXPECT_FALSE(log.looked_up.count("spec.domain.madeUpKnob"));
}

}  // namespace
}  // namespace vireo::api
