// Building blocks of the codec (not part of the API): a reader that decodes
// one JSON object field by field, keeping what it does not consume, and the
// matching writer. codec*.cc compose them per type.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/api/problems.h"
#include "lib/api/types.h"

namespace vireo::api::codec {

// "a string", "a number", ... for "expected X, got Y" messages.
// The JSON kinds the schema speaks of (the library's integer, unsigned and
// float kinds are one number here).
enum class JsonType { Null, Number, Boolean, String, Object, Array };
JsonType TypeOf(const Json& value);
const char* KindName(const Json& value);

// The values a non-optional field cannot tell apart from "absent": null, "",
// 0, false, {} and []. The reader leaves them in `extra` untouched.
bool IsZeroValue(const Json& value);

// What the readers of one thread look up and model, recorded for lib/api's
// drift test (codec_fields_test.cc), which compares it with the fields the
// CRD schema declares. Paths are dotted from the decoded object, with list
// indices written as [] (spec.domain.devices.disks[].name).
struct FieldLog {
  // Every key a reader asked for, whether the object held it or not.
  std::set<std::string> looked_up;
  // Every key read into a typed member; true when its value is modelled whole
  // (a string, number, map or list of strings, or an object kept as Json such
  // as affinity), false when a nested reader models its fields one by one.
  std::map<std::string, bool> modelled;
};

// Records into `log` what the readers of this thread do while it is alive.
// Not nestable; without one, readers record nothing (the normal case).
class ScopedFieldLog {
 public:
  explicit ScopedFieldLog(FieldLog* log);
  ~ScopedFieldLog();
  ScopedFieldLog(const ScopedFieldLog&) = delete;
  ScopedFieldLog& operator=(const ScopedFieldLog&) = delete;
};

// Reads the keys of one JSON object into a struct. Each typed read records a
// problem (at path.key) when the value has the wrong type and leaves the
// output as it was. Keys never read end up in Extra().
class ObjectReader {
 public:
  // Records a problem at `path` when `value` is not an object. `value` must
  // outlive the reader.
  ObjectReader(const Json& value, std::string path, Problems& problems);

  bool is_object() const { return is_object_; }
  const std::string& path() const { return path_; }
  Problems& problems() { return problems_; }
  std::string PathOf(std::string_view key) const { return FieldPath(path_, key); }

  void String(std::string_view key, std::string* out);
  void OptString(std::string_view key, std::optional<std::string>* out);
  void Bool(std::string_view key, bool* out);
  void OptBool(std::string_view key, std::optional<bool>* out);
  void Int(std::string_view key, int64_t* out);
  void OptInt(std::string_view key, std::optional<int64_t>* out);
  void Uint32(std::string_view key, uint32_t* out);
  void StringMap(std::string_view key, std::map<std::string, std::string>* out);
  void StringList(std::string_view key, std::vector<std::string>* out);
  void QuantityValue(std::string_view key, Quantity* out);
  void QuantityMap(std::string_view key, std::map<std::string, Quantity>* out);
  // Keeps a value of the given type as is (affinity, tolerations).
  void Raw(std::string_view key, JsonType type, Json* out);

  // For modelled nested values. `decode` is called as decode(json, path, problems, out).
  template <typename T, typename F>
  void Object(std::string_view key, T* out, F decode) {
    const Json* v = Find(key);
    if (v == nullptr || (v->is_object() && v->size() == 0)) return;
    Consume(key, /*whole=*/false);
    decode(*v, PathOf(key), problems_, out);
  }
  template <typename T, typename F>
  void OptObject(std::string_view key, std::optional<T>* out, F decode) {
    const Json* v = Find(key);
    if (v == nullptr) return;
    Consume(key, /*whole=*/false);
    out->emplace();
    decode(*v, PathOf(key), problems_, &**out);
  }
  template <typename T, typename F>
  void List(std::string_view key, std::vector<T>* out, F decode) {
    const Json* v = Find(key);
    if (v == nullptr || !Expect(key, *v, JsonType::Array, "an array")) return;
    if (v->size() == 0) return;
    Consume(key, /*whole=*/false);
    const std::string path = PathOf(key);
    out->clear();
    for (size_t i = 0; i < v->size(); ++i) {
      out->emplace_back();
      decode(v->at(i), IndexPath(path, i), problems_, &out->back());
    }
  }

  // The keys not consumed, as an object; null when there are none.
  Json Extra() const;

 private:
  // The value of `key`; nullptr when absent or null (a null stays in extra).
  const Json* Find(std::string_view key) const;
  // Marks `key` as modelled, so Extra() leaves it out. A typed read does not
  // consume a zero value unless its field is optional: the value then stays
  // in extra and round-trips as written. `whole`: see FieldLog::modelled.
  void Consume(std::string_view key, bool whole = true);
  std::optional<int64_t> ReadInt(std::string_view key, const Json& v);
  // Records "expected <what>, got <kind>" unless `v` has type `type`.
  bool Expect(std::string_view key, const Json& v, JsonType type, const char* what);
  void Fail(std::string_view key, std::string message);

  const Json& value_;
  std::string path_;
  Problems& problems_;
  bool is_object_;
  std::set<std::string, std::less<>> consumed_;
};

// Writes one JSON object: starts from `extra` and sets the modelled fields
// over it, skipping the ones that hold their "absent" value.
class ObjectWriter {
 public:
  explicit ObjectWriter(const Json& extra);

  void String(std::string_view key, const std::string& value);
  void OptString(std::string_view key, const std::optional<std::string>& value);
  void Bool(std::string_view key, bool value);
  void OptBool(std::string_view key, const std::optional<bool>& value);
  void Int(std::string_view key, int64_t value);
  void OptInt(std::string_view key, const std::optional<int64_t>& value);
  void StringMap(std::string_view key, const std::map<std::string, std::string>& value);
  void StringList(std::string_view key, const std::vector<std::string>& value);
  void Raw(std::string_view key, const Json& value);  // skipped when null
  void Set(std::string_view key, Json value);         // always written

  // `encode` is called as encode(value) and returns the Json.
  template <typename T, typename F>
  void Object(std::string_view key, const T& value, F encode) {
    Json json = encode(value);
    if (json.is_object() && json.size() == 0) return;
    Set(key, std::move(json));
  }
  template <typename T, typename F>
  void OptObject(std::string_view key, const std::optional<T>& value, F encode) {
    if (value.has_value()) Set(key, encode(*value));
  }
  template <typename T, typename F>
  void List(std::string_view key, const std::vector<T>& values, F encode) {
    if (values.empty()) return;
    Json array = base::JsonArray(values.size());
    for (size_t i = 0; i < values.size(); ++i) array[i] = encode(values[i]);
    Set(key, std::move(array));
  }

  Json Done() { return std::move(object_); }

 private:
  Json object_;
};

// Shared pieces, defined in codec.cc.
void DecodeObjectMeta(const Json& json, const std::string& path, Problems& problems,
                      ObjectMeta* out);
Json EncodeObjectMeta(const ObjectMeta& meta);
void DecodeCondition(const Json& json, const std::string& path, Problems& problems, Condition* out);
Json EncodeCondition(const Condition& condition);

// Records a problem when apiVersion/kind name another type than
// kubevirt.io's `expected_kind` (v1, or v1alpha3 which KubeVirt still serves).
void CheckTypeMeta(ObjectReader& r, const std::string& api_version, const std::string& kind,
                   std::string_view expected_kind);

// Decodes an object Vireo models only by its presence (bios, masquerade, pod,
// rng).
template <typename T>
void DecodeMarker(const Json& json, const std::string& path, Problems& problems, T* out) {
  ObjectReader r(json, path, problems);
  out->extra = r.Extra();
}

template <typename T>
Json EncodeMarker(const T& marker) {
  return ObjectWriter(marker.extra).Done();
}

// Defined in codec_platform.cc.
void DecodeFirmware(const Json& json, const std::string& path, Problems& problems, Firmware* out);
Json EncodeFirmware(const Firmware& firmware);
void DecodeFeatures(const Json& json, const std::string& path, Problems& problems, Features* out);
Json EncodeFeatures(const Features& features);
void DecodeClock(const Json& json, const std::string& path, Problems& problems, Clock* out);
Json EncodeClock(const Clock& clock);

// Defined in codec_spec.cc.
void DecodeVmiSpec(const Json& json, const std::string& path, Problems& problems,
                   VirtualMachineInstanceSpec* out);
Json EncodeVmiSpec(const VirtualMachineInstanceSpec& spec);

// Runs `decode` on a top-level object, turning problems (and, defensively,
// any JSON library exception) into a kInvalid Status naming `what`.
// "VirtualMachine default/vm1" when the JSON carries a name, else `kind`.
std::string DescribeObject(const Json& json, std::string_view kind);

template <typename T, typename F>
base::Result<T> DecodeTopLevel(const Json& json, std::string_view kind, F decode) {
  Problems problems;
  T out;
  try {
    decode(json, std::string(), problems, &out);
  } catch (const base::Json::exception& e) {
    // The reader checks every type before it reads, so this is a bug; still
    // no exception crosses the API.
    problems.Add("", kReasonInvalid, e.what());
  }
  if (!problems.empty()) return problems.ToStatus(DescribeObject(json, kind));
  return out;
}

}  // namespace vireo::api::codec
