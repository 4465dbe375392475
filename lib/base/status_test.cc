// Status and Result<T>: codes, context, text forms and value access.
#include "lib/base/status.h"

#include <gtest/gtest.h>

#include <iterator>
#include <memory>
#include <set>
#include <string>

namespace vireo::base {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.code(), Code::kOk);
  EXPECT_EQ(status.ToString(), "OK");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, PredicatesMatchTheirCodeOnly) {
  Status not_found(Code::kNotFound, "vm default/a not found", 404);
  EXPECT_FALSE(not_found.ok());
  EXPECT_TRUE(not_found.IsNotFound());
  EXPECT_FALSE(not_found.IsConflict());
  EXPECT_FALSE(not_found.IsAlreadyExists());
  EXPECT_FALSE(not_found.IsGone());
  EXPECT_EQ(not_found.http_status(), 404);

  EXPECT_TRUE(Status(Code::kConflict, "").IsConflict());
  EXPECT_TRUE(Status(Code::kAlreadyExists, "").IsAlreadyExists());
  EXPECT_FALSE(Status(Code::kAlreadyExists, "").IsConflict());
  EXPECT_TRUE(Status(Code::kGone, "").IsGone());
}

TEST(StatusTest, EveryCodeHasADistinctName) {
  const Code codes[] = {
      Code::kOk,         Code::kNotFound,  Code::kAlreadyExists,   Code::kConflict,
      Code::kGone,       Code::kForbidden, Code::kUnauthorized,    Code::kInvalid,
      Code::kBadRequest, Code::kTimeout,   Code::kTooManyRequests, Code::kUnavailable,
      Code::kInternal,   Code::kCancelled};
  std::set<std::string> names;
  for (Code code : codes) {
    std::string name = CodeName(code);
    EXPECT_NE(name, "Unknown");
    names.insert(name);
  }
  EXPECT_EQ(names.size(), std::size(codes));
  EXPECT_STREQ(CodeName(Code::kNotFound), "NotFound");
}

TEST(StatusTest, WithContextPrefixesAndKeepsTheRest) {
  Status base(Code::kInvalid, "spec is wrong", 422, {{"FieldValueInvalid", "bad", "spec.x"}});
  Status wrapped = base.WithContext("create vm default/a");
  EXPECT_EQ(wrapped.message(), "create vm default/a: spec is wrong");
  EXPECT_EQ(wrapped.code(), Code::kInvalid);
  EXPECT_EQ(wrapped.http_status(), 422);
  ASSERT_EQ(wrapped.causes().size(), 1u);
  EXPECT_EQ(wrapped.causes()[0].field, "spec.x");
  // An ok Status gains no message: there is nothing to explain.
  EXPECT_EQ(Status::Ok().WithContext("anything").message(), "");
}

TEST(StatusTest, ToStringListsCauses) {
  Status status(Code::kInvalid, "VirtualMachine \"a\" is invalid", 422,
                {{"FieldValueNotSupported", "Unsupported value: \"Sometimes\"", "spec.runStrategy"},
                 {"FieldValueRequired", "", ""}});
  EXPECT_EQ(status.ToString(),
            "Invalid: VirtualMachine \"a\" is invalid\n"
            "  - spec.runStrategy: Unsupported value: \"Sometimes\"\n"
            "  - FieldValueRequired");
}

TEST(ResultTest, HoldsAValue) {
  Result<std::string> result(std::string("hello"));
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(static_cast<bool>(result));
  EXPECT_TRUE(result.status().ok());
  EXPECT_EQ(*result, "hello");
  EXPECT_EQ(result->size(), 5u);
  result.value() += "!";
  EXPECT_EQ(result.value(), "hello!");
}

TEST(ResultTest, HoldsAStatus) {
  Result<int> result(Status(Code::kGone, "too old", 410));
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(static_cast<bool>(result));
  EXPECT_EQ(result.status().code(), Code::kGone);
  EXPECT_EQ(result.status().message(), "too old");
}

TEST(ResultTest, MovesOutMoveOnlyValues) {
  Result<std::unique_ptr<int>> result(std::make_unique<int>(7));
  ASSERT_TRUE(result.ok());
  std::unique_ptr<int> owned = std::move(result).value();
  ASSERT_NE(owned, nullptr);
  EXPECT_EQ(*owned, 7);
}

TEST(ResultDeathTest, AnOkStatusIsNotAFailure) {
#ifndef NDEBUG
  EXPECT_DEATH({ Result<int> bad(Status::Ok()); }, "ok Status has no value");
#else
  GTEST_SKIP() << "assertions are compiled out";
#endif
}

}  // namespace
}  // namespace vireo::base
