// Field-path problems shared by the codec and validation: collected as
// Kubernetes-style Causes and folded into one kInvalid Status.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"

namespace vireo::api {

// Cause reasons, as the apiserver names them (field.ErrorType).
inline constexpr char kReasonTypeInvalid[] = "FieldValueTypeInvalid";
inline constexpr char kReasonInvalid[] = "FieldValueInvalid";
inline constexpr char kReasonRequired[] = "FieldValueRequired";
inline constexpr char kReasonDuplicate[] = "FieldValueDuplicate";
inline constexpr char kReasonNotFound[] = "FieldValueNotFound";
inline constexpr char kReasonNotSupported[] = "FieldValueNotSupported";

// "spec" + "domain" -> "spec.domain"; "" + "spec" -> "spec".
std::string FieldPath(std::string_view parent, std::string_view key);
// "disks" + 1 -> "disks[1]"
std::string IndexPath(std::string_view parent, size_t index);
// "labels" + "app" -> "labels[app]", the apiserver's form for map keys.
std::string KeyPath(std::string_view parent, std::string_view key);

class Problems {
 public:
  void Add(std::string field, std::string reason, std::string message);

  bool empty() const { return causes_.empty(); }
  const std::vector<base::Cause>& causes() const { return causes_; }

  // Ok when there are no problems; otherwise kInvalid whose message names
  // `what` and the first problem, with every problem as a Cause.
  base::Status ToStatus(std::string_view what) const;

 private:
  std::vector<base::Cause> causes_;
};

}  // namespace vireo::api
