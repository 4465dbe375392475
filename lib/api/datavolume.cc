// Decoding CDI's DataVolume subset and encoding its status.
#include "lib/api/datavolume.h"

#include <algorithm>

#include "lib/api/bounds.h"
#include "lib/api/codec.h"
#include "lib/api/codec_internal.h"
#include "lib/api/quantity.h"

namespace vireo::api {
namespace {

using codec::ObjectReader;
using codec::ObjectWriter;

void DecodeSource(const Json& json, const std::string& path, Problems& problems,
                  DataVolumeSource* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  int found = 0;
  // Each source's fields are read one by one (not kept whole), so the drift
  // test (codec_fields_test.cc) sees which of them are modelled.
  auto read = [&](const char* key, DataVolumeSourceKind kind, auto&& fields) {
    std::optional<bool> seen;
    r.OptObject(key, &seen, [&](const Json& value, const std::string& at, Problems& p, bool*) {
      ++found;
      out->kind = kind;
      ObjectReader inner(value, at, p);
      fields(inner);
    });
  };
  read("http", DataVolumeSourceKind::kHttp, [&](ObjectReader& s) { s.String("url", &out->url); });
  read("registry", DataVolumeSourceKind::kRegistry, [&](ObjectReader& s) {
    s.String("url", &out->url);
    s.String("pullMethod", &out->pull_method);
  });
  read("blank", DataVolumeSourceKind::kBlank, [](ObjectReader&) {});
  read("pvc", DataVolumeSourceKind::kPvc, [&](ObjectReader& s) {
    s.String("namespace", &out->pvc_namespace);
    s.String("name", &out->pvc_name);
  });
  Json extra = r.Extra();
  if (found != 1 || !extra.is_null()) {
    problems.Add(path, kReasonInvalid, "set exactly one source of http, registry, blank or pvc");
  }
}

void DecodeClaim(const Json& json, const std::string& path, Problems& problems,
                 DataVolumeSpec* out) {
  out->claim = json;
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptString("storageClassName", &out->storage_class_name);
  r.String("volumeMode", &out->volume_mode);
  const Json* requests = base::Find(json, "resources.requests");
  if (requests != nullptr && requests->is_object() && requests->contains("storage")) {
    const Json& storage = requests->at("storage");
    if (storage.is_string()) {
      out->storage_request = storage.get<std::string>();
    } else if (storage.is_number()) {
      out->storage_request = base::DumpJson(storage);
    } else {
      problems.Add(FieldPath(path, "resources.requests.storage"), kReasonTypeInvalid,
                   "expected a quantity");
    }
    // The claim sizing (request / 0.945) must stay inside int64.
    Result<int64_t> bytes = ParseQuantityBytes(out->storage_request);
    if (bytes.ok() && *bytes > kMaxDiskBytes) {
      problems.Add(FieldPath(path, "resources.requests.storage"), kReasonInvalid,
                   "\"" + out->storage_request + "\" is larger than Vireo's limit of 1Pi");
    }
  }
}

void DecodeSpec(const Json& json, const std::string& path, Problems& problems,
                DataVolumeSpec* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.Object("source", &out->source, DecodeSource);
  if (out->source.kind == DataVolumeSourceKind::kNone) {
    problems.Add(FieldPath(path, "source"), kReasonRequired,
                 "set exactly one source of http, registry, blank or pvc");
  }
  // The claim is kept whole (DataVolumeSpec::claim): the PVC is made from it.
  Json storage, pvc;
  r.Raw("storage", codec::JsonType::Object, &storage);
  r.Raw("pvc", codec::JsonType::Object, &pvc);
  const bool has_storage = !storage.is_null();
  if (has_storage == !pvc.is_null()) {
    problems.Add(path, kReasonInvalid, "set exactly one of storage or pvc");
    return;
  }
  out->storage_api = has_storage;
  DecodeClaim(has_storage ? storage : pvc, FieldPath(path, has_storage ? "storage" : "pvc"),
              problems, out);
}

void DecodeStatus(const Json& json, const std::string& path, Problems& problems,
                  DataVolumeStatus* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("phase", &out->phase);
  r.String("progress", &out->progress);
  r.Int("restartCount", &out->restart_count);
  r.String("claimName", &out->claim_name);
  r.List("conditions", &out->conditions, codec::DecodeCondition);
  out->extra = r.Extra();
}

}  // namespace

base::Result<DataVolume> DataVolumeFromJson(const Json& json) {
  Problems problems;
  DataVolume dv;
  ObjectReader r(json, "", problems);
  if (r.is_object()) {
    r.Object("metadata", &dv.metadata, codec::DecodeObjectMeta);
    r.Object("spec", &dv.spec, DecodeSpec);
    r.Object("status", &dv.status, DecodeStatus);
  }
  base::Status status = problems.ToStatus("DataVolume");
  if (!status.ok()) return status;
  return dv;
}

Json ToJson(const DataVolumeStatus& status) {
  ObjectWriter w(status.extra);
  w.String("phase", status.phase);
  w.String("progress", status.progress);
  w.Int("restartCount", status.restart_count);
  w.String("claimName", status.claim_name);
  w.List("conditions", status.conditions, codec::EncodeCondition);
  return w.Done();
}

std::vector<std::string> DataVolumeNames(const VirtualMachineInstanceSpec& spec) {
  std::vector<std::string> names;
  for (const Volume& volume : spec.volumes) {
    if (!volume.data_volume.has_value() || volume.data_volume->name.empty()) continue;
    if (std::find(names.begin(), names.end(), volume.data_volume->name) == names.end()) {
      names.push_back(volume.data_volume->name);
    }
  }
  return names;
}

}  // namespace vireo::api
