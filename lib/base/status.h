// Status and Result<T>: how Vireo code reports expected failures (a missing
// object, a conflict, a refused request) without exceptions. Exceptions are
// kept for programmer errors.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace vireo::base {

// Failure classes a caller can act on. The Kubernetes ones follow the
// apiserver's Status reasons (metav1.StatusReason).
enum class Code {
  kOk,
  kNotFound,       // 404
  kAlreadyExists,  // 409, reason AlreadyExists
  kConflict,       // 409, a stale resourceVersion or failed precondition
  kGone,           // 410, resourceVersion too old: relist
  kForbidden,      // 403
  kUnauthorized,   // 401
  kInvalid,        // 422, with causes naming the fields
  kBadRequest,     // 400
  kTimeout,        // 504 / server or client timeout
  kTooManyRequests,
  kUnavailable,    // transport failure, 5xx: worth retrying
  kInternal,       // a reply we could not make sense of
  kCancelled,      // the caller asked us to stop
};

const char* CodeName(Code code);

// One entry of metav1.Status.details.causes: usually a field and what is wrong with it.
struct Cause {
  std::string reason;
  std::string message;
  std::string field;
};

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message, int http_status = 0, std::vector<Cause> causes = {})
      : code_(code), message_(std::move(message)), http_status_(http_status),
        causes_(std::move(causes)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  int http_status() const { return http_status_; }
  const std::vector<Cause>& causes() const { return causes_; }

  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsConflict() const { return code_ == Code::kConflict; }
  bool IsAlreadyExists() const { return code_ == Code::kAlreadyExists; }
  bool IsGone() const { return code_ == Code::kGone; }

  // Prefixes the message with what the caller was doing, e.g. "get vm default/foo".
  Status WithContext(const std::string& context) const;

  // "NotFound: <message>" plus the causes, for logs and CLI output.
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  int http_status_ = 0;
  std::vector<Cause> causes_;
};

// A value or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(state_).ok() && "Result built from an ok Status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(state_);
  }

  // REQUIRES: ok()
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace vireo::base
