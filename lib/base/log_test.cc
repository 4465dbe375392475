// Tests for the structured logger: level parsing and filtering, and that
// each line is one valid JSON object with the given fields.
#include "lib/base/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "lib/base/json.h"

namespace vireo::base {
namespace {

// Captures what Log writes to stderr.
std::string Capture(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  std::fflush(stderr);
  int saved = dup(STDERR_FILENO);
  FILE* tmp = std::tmpfile();
  dup2(fileno(tmp), STDERR_FILENO);
  Log(level, msg, fields);
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::rewind(tmp);
  std::string out;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, tmp)) > 0) out.append(buf, n);
  std::fclose(tmp);
  return out;
}

TEST(LogTest, ParsesLevels) {
  LogLevel level = LogLevel::kError;
  ASSERT_TRUE(ParseLogLevel("debug", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  ASSERT_TRUE(ParseLogLevel("warn", &level));
  EXPECT_EQ(level, LogLevel::kWarn);
  EXPECT_FALSE(ParseLogLevel("loud", &level));
  EXPECT_EQ(level, LogLevel::kWarn);
}

TEST(LogTest, WritesOneJsonObjectPerLine) {
  SetLogLevel(LogLevel::kInfo);
  std::string out = Capture(LogLevel::kWarn, "pod \"x\" failed\n", {{"object", "ns/vm"}});
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "a message's newline must be escaped";
  auto parsed = ParseJson(out);
  ASSERT_TRUE(parsed.ok()) << out;
  EXPECT_EQ(GetString(*parsed, "level"), "warn");
  EXPECT_EQ(GetString(*parsed, "msg"), "pod \"x\" failed\n");
  EXPECT_EQ(GetString(*parsed, "object"), "ns/vm");
  EXPECT_FALSE(GetString(*parsed, "ts").empty());
}

TEST(LogTest, DropsLinesBelowTheLevel) {
  SetLogLevel(LogLevel::kWarn);
  EXPECT_EQ(Capture(LogLevel::kInfo, "steady state", {}), "");
  EXPECT_NE(Capture(LogLevel::kError, "broken", {}), "");
  SetLogLevel(LogLevel::kInfo);
}

}  // namespace
}  // namespace vireo::base
