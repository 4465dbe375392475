// FlagSet: the spellings it takes, positional arguments, repeated flags, and
// errors that name the flag as typed.
#include "lib/base/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vireo::base {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Values {
  std::string ns, kubeconfig;
  bool force = false, help = false;
  std::vector<std::string> labels;
  std::vector<std::string> typed;  // the flag as the setter saw it
};

FlagSet Flags(Values* v) {
  FlagSet flags("cmd: ", " (see cmd --help)");
  flags.String("namespace", &v->ns, 'n')
      .String("kubeconfig", &v->kubeconfig)
      .Bool("force", &v->force)
      .Bool("help", &v->help, 'h')
      .Add({"label", 'l', false, [v](const std::string& flag, const std::string& value) {
              v->typed.push_back(flag);
              if (value.empty()) return Status(Code::kInvalid, flag + ": empty label");
              v->labels.push_back(value);
              return Status::Ok();
            }});
  return flags;
}

TEST(FlagsTest, LongAndShortSpellings) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--namespace=ns1"}, {"--namespace", "ns1"}, {"-n", "ns1"}, {"-nns1"}, {"-n=ns1"}}) {
    Values v;
    auto rest = Flags(&v).Parse(args);
    ASSERT_TRUE(rest.ok()) << rest.status().ToString();
    EXPECT_EQ(v.ns, "ns1") << args[0];
    EXPECT_THAT(*rest, IsEmpty());
  }
}

TEST(FlagsTest, ValueMayLookLikeAFlagOrBeEmpty) {
  Values v;
  ASSERT_TRUE(Flags(&v).Parse({"--kubeconfig", "-weird", "--namespace="}).ok());
  EXPECT_EQ(v.kubeconfig, "-weird");
  EXPECT_EQ(v.ns, "");
}

TEST(FlagsTest, BooleansStandAloneOrTakeAValueInline) {
  Values v;
  auto rest = Flags(&v).Parse({"--force", "false"});
  ASSERT_TRUE(rest.ok());
  EXPECT_TRUE(v.force);
  EXPECT_THAT(*rest, ElementsAre("false"));  // not the flag's value
  for (const auto& [arg, want] : std::vector<std::pair<std::string, bool>>{{"--force=true", true},
                                                                           {"--force=1", true},
                                                                           {"--force=false", false},
                                                                           {"--force=0", false}}) {
    Values w;
    w.force = !want;
    ASSERT_TRUE(Flags(&w).Parse({arg}).ok()) << arg;
    EXPECT_EQ(w.force, want) << arg;
  }
  Values h;
  ASSERT_TRUE(Flags(&h).Parse({"-h"}).ok());
  EXPECT_TRUE(h.help);
}

TEST(FlagsTest, PositionalAnywhereAndAfterDoubleDash) {
  Values v;
  auto rest = Flags(&v).Parse({"stop", "-n", "a", "vm1", "-", "--", "--force", "-n"});
  ASSERT_TRUE(rest.ok());
  EXPECT_THAT(*rest, ElementsAre("stop", "vm1", "-", "--force", "-n"));
  EXPECT_FALSE(v.force);
  EXPECT_EQ(v.ns, "a");
}

TEST(FlagsTest, RepeatedFlagsReachTheSetterEachTime) {
  Values v;
  ASSERT_TRUE(Flags(&v).Parse({"--label=a", "-l", "b", "--label", "c", "-n", "x", "-n", "y"}).ok());
  EXPECT_THAT(v.labels, ElementsAre("a", "b", "c"));
  EXPECT_THAT(v.typed, ElementsAre("--label", "-l", "--label"));
  EXPECT_EQ(v.ns, "y");  // plain String: the last wins
}

TEST(FlagsTest, ErrorsNameTheFlagAsTyped) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--bogus=1"}, "cmd: unknown flag --bogus (see cmd --help)"},
           {{"-x"}, "cmd: unknown flag -x (see cmd --help)"},
           {{"--namespace"}, "cmd: flag --namespace needs a value (see cmd --help)"},
           {{"-n"}, "cmd: flag -n needs a value (see cmd --help)"},
           {{"--force=maybe"}, "cmd: flag --force=maybe: expected true or false (see cmd --help)"},
           {{"-l="}, "-l: empty label"},
       }) {
    Values v;
    auto rest = Flags(&v).Parse(c.args);
    ASSERT_FALSE(rest.ok()) << c.args[0];
    EXPECT_EQ(rest.status().code(), Code::kInvalid);
    EXPECT_THAT(rest.status().message(), HasSubstr(c.message));
  }
}

// -n is a short flag: "-namespace=a" is -n with the value "amespace=a", as
// kubectl reads it.
TEST(FlagsTest, ShortFlagTakesTheRestOfItsArgument) {
  Values v;
  ASSERT_TRUE(Flags(&v).Parse({"-namespace=a"}).ok());
  EXPECT_EQ(v.ns, "amespace=a");
}

TEST(FlagsTest, SingleDashLongWhenAllowed) {
  Values v;
  FlagSet flags = Flags(&v);
  EXPECT_FALSE(flags.Parse({"-kubeconfig=/k"}).ok());
  flags.AllowSingleDashLong();
  ASSERT_TRUE(flags.Parse({"-kubeconfig=/k", "-force"}).ok());
  EXPECT_EQ(v.kubeconfig, "/k");
  EXPECT_TRUE(v.force);
  ASSERT_TRUE(flags.Parse({"-n", "short-still-wins"}).ok());
  EXPECT_EQ(v.ns, "short-still-wins");
  auto unknown = flags.Parse({"-frob=1"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown flag -frob"));
}

TEST(FlagsTest, ParseInt64) {
  EXPECT_EQ(ParseInt64("42"), 42);
  EXPECT_EQ(ParseInt64("-1"), -1);
  EXPECT_EQ(ParseInt64("0"), 0);
  for (const char* bad : {"", "x", "4x", " 4", "+4", "1.5", "99999999999999999999"}) {
    EXPECT_EQ(ParseInt64(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace vireo::base
