// lib/api's codec for the structs whose fields are generated from the CRD
// schema (hack/gen-crds.py CODEC_STRUCTS, codec_fields.h): DecodeFields and
// EncodeFields read and write every listed field. Included by the codec's
// .cc files only.
#pragma once

#include "lib/api/codec_fields.h"  // generated from crds/src by hack/gen-crds.py
#include "lib/api/codec_internal.h"

namespace vireo::api::codec {

using generated::FieldKind;

// The structs hack/gen-crds.py lists fields for (CODEC_STRUCTS) are read and
// written from the schema's field list: a field added to the schema needs its
// member in types.h, and a member type without a ReadField/WriteField here
// fails to compile.
inline void ReadField(ObjectReader& r, std::string_view key, std::string* out, FieldKind kind) {
  if (kind == FieldKind::kQuantity) {
    r.QuantityValue(key, out);
  } else {
    r.String(key, out);
  }
}

inline void ReadField(ObjectReader& r, std::string_view key, std::optional<bool>* out, FieldKind) {
  r.OptBool(key, out);
}

inline void ReadField(ObjectReader& r, std::string_view key, std::optional<int64_t>* out,
                      FieldKind) {
  r.OptInt(key, out);
}

inline void WriteField(ObjectWriter& w, std::string_view key, const std::string& value, FieldKind) {
  w.String(key, value);
}

inline void WriteField(ObjectWriter& w, std::string_view key, const std::optional<bool>& value,
                       FieldKind) {
  w.OptBool(key, value);
}

template <typename T>
void DecodeFields(const Json& json, const std::string& path, Problems& problems, T* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  generated::ForEachField(*out, [&r](std::string_view key, auto& member, FieldKind kind) {
    ReadField(r, key, &member, kind);
  });
  out->extra = r.Extra();
}

inline void WriteField(ObjectWriter& w, std::string_view key, const std::optional<int64_t>& value,
                       FieldKind) {
  w.OptInt(key, value);
}

template <typename T>
Json EncodeFields(const T& in) {
  ObjectWriter w(in.extra);
  generated::ForEachField(in, [&w](std::string_view key, const auto& member, FieldKind kind) {
    WriteField(w, key, member, kind);
  });
  return w.Done();
}

}  // namespace vireo::api::codec
