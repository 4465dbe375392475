// Field paths and the Status that carries a list of field problems.
#include "lib/api/problems.h"

#include <utility>

namespace vireo::api {

std::string FieldPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string path(parent);
  path += '.';
  path += key;
  return path;
}

std::string IndexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string KeyPath(std::string_view parent, std::string_view key) {
  return std::string(parent) + "[" + std::string(key) + "]";
}

void Problems::Add(std::string field, std::string reason, std::string message) {
  causes_.push_back(base::Cause{
      .reason = std::move(reason), .message = std::move(message), .field = std::move(field)});
}

base::Status Problems::ToStatus(std::string_view what) const {
  if (causes_.empty()) return base::Status::Ok();
  const base::Cause& first = causes_.front();
  std::string message = std::string(what) + " is invalid: ";
  if (!first.field.empty()) message += first.field + ": ";
  message += first.message;
  if (causes_.size() > 1) {
    message += " (and " + std::to_string(causes_.size() - 1) + " more)";
  }
  // 422 is what the apiserver answers for the same kind of refusal.
  return base::Status(base::Code::kInvalid, std::move(message), 422, causes_);
}

}  // namespace vireo::api
