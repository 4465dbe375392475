// The codec's reader and writer, and the pieces every object shares:
// ObjectMeta and status conditions.
#include "lib/api/codec.h"

#include <iomanip>
#include <limits>
#include <sstream>
#include <utility>

#include "lib/api/codec_internal.h"

namespace vireo::api {
namespace codec {

JsonType TypeOf(const Json& value) {
  if (value.is_number()) return JsonType::Number;
  if (value.is_boolean()) return JsonType::Boolean;
  if (value.is_string()) return JsonType::String;
  if (value.is_object()) return JsonType::Object;
  if (value.is_array()) return JsonType::Array;
  return JsonType::Null;  // null; a parsed document holds no other kind
}

const char* KindName(const Json& value) {
  switch (TypeOf(value)) {
    case JsonType::Null:
      return "null";
    case JsonType::Number:
      return "a number";
    case JsonType::Boolean:
      return "a boolean";
    case JsonType::String:
      return "a string";
    case JsonType::Object:
      return "an object";
    case JsonType::Array:
      return "an array";
  }
  return "an unknown value";
}

bool IsZeroValue(const Json& value) {
  switch (TypeOf(value)) {
    case JsonType::Null:
      return true;
    case JsonType::Number:
      return (value.is_number_integer() || value.is_number_unsigned()) && value == 0;
    case JsonType::Boolean:
      return !value.get<bool>();
    case JsonType::String:
      return value.get<std::string>().empty();
    case JsonType::Object:
    case JsonType::Array:
      return value.size() == 0;
  }
  return false;
}

namespace {

// A quantity may arrive as a JSON number ("cpu: 2" in YAML); keep its text.
std::string NumberText(const Json& value) {
  if (value.is_number_unsigned()) return std::to_string(value.get<uint64_t>());
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  std::ostringstream out;
  out << std::setprecision(std::numeric_limits<double>::digits10) << value.get<double>();
  return out.str();
}

}  // namespace

// ---------------------------------------------------------------- field log

namespace {

thread_local FieldLog* field_log = nullptr;

// `path`.`key` with each list index [N] written as [].
std::string LogPath(const std::string& path, std::string_view key) {
  std::string full = FieldPath(path, key);
  std::string out;
  out.reserve(full.size());
  for (size_t i = 0; i < full.size(); ++i) {
    if (full[i] != '[') {
      out += full[i];
      continue;
    }
    size_t close = full.find(']', i);
    out += "[]";
    i = close == std::string::npos ? full.size() : close;
  }
  return out;
}

}  // namespace

ScopedFieldLog::ScopedFieldLog(FieldLog* log) { field_log = log; }
ScopedFieldLog::~ScopedFieldLog() { field_log = nullptr; }

// ---------------------------------------------------------------- reader

ObjectReader::ObjectReader(const Json& value, std::string path, Problems& problems)
    : value_(value), path_(std::move(path)), problems_(problems), is_object_(value.is_object()) {
  if (!is_object_) {
    problems_.Add(path_, kReasonTypeInvalid,
                  std::string("expected an object, got ") + KindName(value));
  }
}

const Json* ObjectReader::Find(std::string_view key) const {
  if (field_log != nullptr) field_log->looked_up.insert(LogPath(path_, key));
  if (!is_object_) return nullptr;
  auto it = value_.find(key);
  if (it == value_.end() || it->is_null()) return nullptr;
  return &*it;
}

void ObjectReader::Consume(std::string_view key, bool whole) {
  consumed_.emplace(key);
  if (field_log != nullptr) field_log->modelled[LogPath(path_, key)] = whole;
}

void ObjectReader::Fail(std::string_view key, std::string message) {
  problems_.Add(PathOf(key), kReasonTypeInvalid, std::move(message));
}

bool ObjectReader::Expect(std::string_view key, const Json& v, JsonType type, const char* what) {
  if (TypeOf(v) == type) return true;
  Fail(key, std::string("expected ") + what + ", got " + KindName(v));
  return false;
}

void ObjectReader::String(std::string_view key, std::string* out) {
  const Json* v = Find(key);
  if (v == nullptr || !Expect(key, *v, JsonType::String, "a string")) return;
  if (v->get<std::string>().empty()) return;
  *out = v->get<std::string>();
  Consume(key);
}

void ObjectReader::OptString(std::string_view key, std::optional<std::string>* out) {
  const Json* v = Find(key);
  if (v == nullptr || !Expect(key, *v, JsonType::String, "a string")) return;
  *out = v->get<std::string>();
  Consume(key);
}

void ObjectReader::Bool(std::string_view key, bool* out) {
  const Json* v = Find(key);
  if (v == nullptr || !Expect(key, *v, JsonType::Boolean, "a boolean")) return;
  if (!v->get<bool>()) return;
  *out = true;
  Consume(key);
}

void ObjectReader::OptBool(std::string_view key, std::optional<bool>* out) {
  const Json* v = Find(key);
  if (v == nullptr || !Expect(key, *v, JsonType::Boolean, "a boolean")) return;
  *out = v->get<bool>();
  Consume(key);
}

std::optional<int64_t> ObjectReader::ReadInt(std::string_view key, const Json& v) {
  if (!Expect(key, v, JsonType::Number, "an integer")) return std::nullopt;
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX)) {
    Fail(key, "expected an integer, got " + base::DumpJson(v));
    return std::nullopt;
  }
  return v.get<int64_t>();
}

void ObjectReader::Int(std::string_view key, int64_t* out) {
  const Json* v = Find(key);
  if (v == nullptr) return;
  std::optional<int64_t> n = ReadInt(key, *v);
  if (!n.has_value() || *n == 0) return;
  *out = *n;
  Consume(key);
}

void ObjectReader::OptInt(std::string_view key, std::optional<int64_t>* out) {
  const Json* v = Find(key);
  if (v == nullptr) return;
  std::optional<int64_t> n = ReadInt(key, *v);
  if (!n.has_value()) return;
  *out = *n;
  Consume(key);
}

void ObjectReader::Uint32(std::string_view key, uint32_t* out) {
  const Json* v = Find(key);
  if (v == nullptr) return;
  std::optional<int64_t> n = ReadInt(key, *v);
  if (!n.has_value()) return;
  if (*n < 0 || *n > std::numeric_limits<uint32_t>::max()) {
    Fail(key, "expected an integer between 0 and 4294967295, got " + std::to_string(*n));
    return;
  }
  if (*n == 0) return;
  *out = static_cast<uint32_t>(*n);
  Consume(key);
}

void ObjectReader::StringMap(std::string_view key, std::map<std::string, std::string>* out) {
  const Json* v = Find(key);
  if (v == nullptr || !Expect(key, *v, JsonType::Object, "an object")) return;
  if (v->size() == 0) return;
  const std::string path = PathOf(key);
  for (const auto& [k, item] : v->items()) {
    if (!item.is_string()) {
      problems_.Add(KeyPath(path, k), kReasonTypeInvalid,
                    std::string("expected a string, got ") + KindName(item));
      continue;
    }
    (*out)[k] = item.get<std::string>();
  }
  Consume(key);
}

void ObjectReader::StringList(std::string_view key, std::vector<std::string>* out) {
  const Json* v = Find(key);
  if (v == nullptr || !Expect(key, *v, JsonType::Array, "an array")) return;
  if (v->size() == 0) return;
  const std::string path = PathOf(key);
  out->clear();
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& item = v->at(i);
    if (!item.is_string()) {
      problems_.Add(IndexPath(path, i), kReasonTypeInvalid,
                    std::string("expected a string, got ") + KindName(item));
      continue;
    }
    out->push_back(item.get<std::string>());
  }
  Consume(key);
}

namespace {

// Quantities are strings or numbers; anything else is a type error at `path`.
bool QuantityText(const Json& v, const std::string& path, Problems& problems, Quantity* out) {
  if (v.is_string()) {
    *out = v.get<std::string>();
    return true;
  }
  if (v.is_number()) {
    *out = NumberText(v);
    return true;
  }
  problems.Add(path, kReasonTypeInvalid,
               std::string("expected a quantity (a string or a number), got ") + KindName(v));
  return false;
}

}  // namespace

void ObjectReader::QuantityValue(std::string_view key, Quantity* out) {
  const Json* v = Find(key);
  if (v == nullptr) return;
  Quantity text;
  if (!QuantityText(*v, PathOf(key), problems_, &text) || IsZeroValue(*v)) return;
  *out = std::move(text);
  Consume(key);
}

void ObjectReader::QuantityMap(std::string_view key, std::map<std::string, Quantity>* out) {
  const Json* v = Find(key);
  if (v == nullptr || !Expect(key, *v, JsonType::Object, "an object")) return;
  if (v->size() == 0) return;
  const std::string path = PathOf(key);
  for (const auto& [k, item] : v->items()) {
    Quantity text;
    if (QuantityText(item, KeyPath(path, k), problems_, &text)) (*out)[k] = std::move(text);
  }
  Consume(key);
}

void ObjectReader::Raw(std::string_view key, JsonType type, Json* out) {
  const Json* v = Find(key);
  if (v == nullptr) return;
  if (!Expect(key, *v, type, type == JsonType::Array ? "an array" : "an object")) return;
  *out = *v;
  Consume(key);
}

Json ObjectReader::Extra() const {
  if (!is_object_) return Json();
  Json extra;
  for (const auto& [k, v] : value_.items()) {
    if (consumed_.count(k) > 0) continue;
    if (extra.is_null()) extra = Json::object();
    extra[k] = v;
  }
  return extra;
}

// ---------------------------------------------------------------- writer

ObjectWriter::ObjectWriter(const Json& extra)
    : object_(extra.is_object() ? extra : Json::object()) {}

void ObjectWriter::Set(std::string_view key, Json value) {
  object_[std::string(key)] = std::move(value);
}

void ObjectWriter::String(std::string_view key, const std::string& value) {
  if (!value.empty()) Set(key, Json(value));
}

void ObjectWriter::OptString(std::string_view key, const std::optional<std::string>& value) {
  if (value.has_value()) Set(key, Json(*value));
}

void ObjectWriter::Bool(std::string_view key, bool value) {
  if (value) Set(key, Json(true));
}

void ObjectWriter::OptBool(std::string_view key, const std::optional<bool>& value) {
  if (value.has_value()) Set(key, Json(*value));
}

void ObjectWriter::Int(std::string_view key, int64_t value) {
  if (value != 0) Set(key, Json(value));
}

void ObjectWriter::OptInt(std::string_view key, const std::optional<int64_t>& value) {
  if (value.has_value()) Set(key, Json(*value));
}

void ObjectWriter::StringMap(std::string_view key,
                             const std::map<std::string, std::string>& value) {
  if (value.empty()) return;
  Json object = Json::object();
  for (const auto& [k, v] : value) object[k] = Json(v);
  Set(key, std::move(object));
}

void ObjectWriter::StringList(std::string_view key, const std::vector<std::string>& value) {
  if (value.empty()) return;
  Json array = base::JsonArray(value.size());
  for (size_t i = 0; i < value.size(); ++i) array[i] = Json(value[i]);
  Set(key, std::move(array));
}

void ObjectWriter::Raw(std::string_view key, const Json& value) {
  if (!value.is_null()) Set(key, value);
}

// ---------------------------------------------------------------- shared parts

std::string DescribeObject(const Json& json, std::string_view kind) {
  std::string out(kind);
  if (!json.is_object() || !json.contains("metadata")) return out;
  const Json& meta = json.at("metadata");
  if (!meta.is_object() || !meta.contains("name") || !meta.at("name").is_string()) return out;
  out += ' ';
  if (meta.contains("namespace") && meta.at("namespace").is_string()) {
    out += meta.at("namespace").get<std::string>() + "/";
  }
  return out + meta.at("name").get<std::string>();
}

void CheckTypeMeta(ObjectReader& r, const std::string& api_version, const std::string& kind,
                   std::string_view expected_kind) {
  if (api_version != kApiVersion && api_version != "kubevirt.io/v1alpha3") {
    r.problems().Add(r.PathOf("apiVersion"), kReasonNotSupported,
                     "unsupported value \"" + api_version + "\": expected " + kApiVersion);
  }
  if (kind != expected_kind) {
    r.problems().Add(r.PathOf("kind"), kReasonInvalid,
                     "expected " + std::string(expected_kind) + ", got \"" + kind + "\"");
  }
}

namespace {

void DecodeOwnerReference(const Json& json, const std::string& path, Problems& problems,
                          OwnerReference* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("apiVersion", &out->api_version);
  r.String("kind", &out->kind);
  r.String("name", &out->name);
  r.String("uid", &out->uid);
  r.OptBool("controller", &out->controller);
  r.OptBool("blockOwnerDeletion", &out->block_owner_deletion);
  out->extra = r.Extra();
}

Json EncodeOwnerReference(const OwnerReference& ref) {
  ObjectWriter w(ref.extra);
  w.String("apiVersion", ref.api_version);
  w.String("kind", ref.kind);
  w.String("name", ref.name);
  w.String("uid", ref.uid);
  w.OptBool("controller", ref.controller);
  w.OptBool("blockOwnerDeletion", ref.block_owner_deletion);
  return w.Done();
}

}  // namespace

void DecodeObjectMeta(const Json& json, const std::string& path, Problems& problems,
                      ObjectMeta* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("name", &out->name);
  r.String("namespace", &out->namespace_);
  r.String("uid", &out->uid);
  r.String("resourceVersion", &out->resource_version);
  r.Int("generation", &out->generation);
  r.String("creationTimestamp", &out->creation_timestamp);
  r.String("deletionTimestamp", &out->deletion_timestamp);
  r.StringMap("labels", &out->labels);
  r.StringMap("annotations", &out->annotations);
  r.List("ownerReferences", &out->owner_references, DecodeOwnerReference);
  r.StringList("finalizers", &out->finalizers);
  out->extra = r.Extra();
}

Json EncodeObjectMeta(const ObjectMeta& meta) {
  ObjectWriter w(meta.extra);
  w.String("name", meta.name);
  w.String("namespace", meta.namespace_);
  w.String("uid", meta.uid);
  w.String("resourceVersion", meta.resource_version);
  w.Int("generation", meta.generation);
  w.String("creationTimestamp", meta.creation_timestamp);
  w.String("deletionTimestamp", meta.deletion_timestamp);
  w.StringMap("labels", meta.labels);
  w.StringMap("annotations", meta.annotations);
  w.List("ownerReferences", meta.owner_references, EncodeOwnerReference);
  w.StringList("finalizers", meta.finalizers);
  return w.Done();
}

void DecodeCondition(const Json& json, const std::string& path, Problems& problems,
                     Condition* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("type", &out->type);
  r.String("status", &out->status);
  r.String("reason", &out->reason);
  r.String("message", &out->message);
  r.String("lastProbeTime", &out->last_probe_time);
  r.String("lastTransitionTime", &out->last_transition_time);
  out->extra = r.Extra();
}

Json EncodeCondition(const Condition& condition) {
  ObjectWriter w(condition.extra);
  w.String("type", condition.type);
  w.String("status", condition.status);
  w.String("reason", condition.reason);
  w.String("message", condition.message);
  w.String("lastProbeTime", condition.last_probe_time);
  w.String("lastTransitionTime", condition.last_transition_time);
  return w.Done();
}

}  // namespace codec

template <>
Result<ObjectMeta> FromJson<ObjectMeta>(const Json& json) {
  return codec::DecodeTopLevel<ObjectMeta>(json, "ObjectMeta", codec::DecodeObjectMeta);
}

template <>
Result<VirtualMachineInstanceSpec> FromJson<VirtualMachineInstanceSpec>(const Json& json) {
  return codec::DecodeTopLevel<VirtualMachineInstanceSpec>(json, "VirtualMachineInstanceSpec",
                                                           codec::DecodeVmiSpec);
}

Json ToJson(const ObjectMeta& meta) { return codec::EncodeObjectMeta(meta); }
Json ToJson(const VirtualMachineInstanceSpec& spec) { return codec::EncodeVmiSpec(spec); }

}  // namespace vireo::api
