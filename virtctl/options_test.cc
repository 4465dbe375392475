#include "virtctl/options.h"

#include <gtest/gtest.h>

namespace vireo::virtctl {
namespace {

using std::chrono::milliseconds;

base::Result<Options> Parse(std::vector<std::string> args) { return ParseArgs(args); }

TEST(OptionsTest, CommandNameAndGlobalFlagsAnywhere) {
  auto o = Parse({"-n", "ns1", "stop", "vm1", "--kubeconfig=/k", "--context", "c", "-v", "6",
                  "--grace-period", "5"});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->command, Command::kStop);
  EXPECT_EQ(o->name, "vm1");
  EXPECT_EQ(o->namespace_name, "ns1");
  EXPECT_EQ(o->kubeconfig, "/k");
  EXPECT_EQ(o->context, "c");
  EXPECT_EQ(o->verbosity, 6);
  EXPECT_EQ(o->grace_period_seconds, 5);
  auto short_forms = Parse({"console", "vm", "-nfoo", "-v=2", "--timeout=90s"});
  ASSERT_TRUE(short_forms.ok()) << short_forms.status().message();
  EXPECT_EQ(short_forms->namespace_name, "foo");
  EXPECT_EQ(short_forms->verbosity, 2);
  EXPECT_EQ(short_forms->timeout, milliseconds(90'000));
}

TEST(OptionsTest, LongVerbosityBooleansAndDoubleDash) {
  auto o = Parse({"stop", "--v=3", "--force=false", "--grace-period=0", "--", "-vm-"});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->verbosity, 3);
  EXPECT_FALSE(o->force);
  EXPECT_EQ(o->name, "-vm-");
  auto bad = Parse({"stop", "a", "--force=maybe"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), base::Code::kBadRequest);
  EXPECT_NE(bad.status().message().find("flag --force=maybe: expected true or false"),
            std::string::npos)
      << bad.status().message();
  auto empty = Parse({"start", "a", "-n="});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("flag -n needs a value"), std::string::npos);
}

TEST(OptionsTest, ConsoleDefaults) {
  auto o = Parse({"console", "vm"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->timeout, std::chrono::minutes(5));
  EXPECT_EQ(o->keepalive, std::chrono::seconds(30));
  EXPECT_EQ(o->linger, std::chrono::seconds(1));
}

TEST(OptionsTest, HelpForms) {
  EXPECT_EQ(Parse({})->command, Command::kHelp);
  EXPECT_EQ(Parse({"--help"})->help_topic, "");
  auto per_command = Parse({"stop", "--help"});
  ASSERT_TRUE(per_command.ok());
  EXPECT_EQ(per_command->command, Command::kHelp);
  EXPECT_EQ(per_command->help_topic, "stop");
  EXPECT_EQ(Parse({"help", "console"})->help_topic, "console");
  for (const char* topic : {"", "start", "stop", "restart", "console", "version"}) {
    auto text = HelpText(topic);
    ASSERT_TRUE(text.has_value()) << topic;
    EXPECT_NE(text->find("--kubeconfig"), std::string::npos) << topic;
  }
  EXPECT_NE(HelpText("console")->find("Ctrl+]"), std::string::npos);
  EXPECT_FALSE(HelpText("frobnicate").has_value());
}

TEST(OptionsTest, UsageErrorsNameTheFault) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const auto& c : std::vector<Case>{
           {{"frob", "x"}, "unknown command \"frob\""},
           {{"start"}, "start needs the name of a VM"},
           {{"start", "a", "b"}, "takes one VM name"},
           {{"start", "a", "--bogus"}, "unknown flag --bogus"},
           {{"stop", "a", "--grace-period"}, "flag --grace-period needs a value"},
           {{"stop", "a", "--grace-period=-1"}, "0 or more"},
           {{"stop", "a", "--grace-period=soon"}, "takes seconds"},
           {{"start", "a", "--force"}, "flag --force is for stop and restart"},
           {{"stop", "a", "--timeout=1m"}, "flag --timeout is for console"},
           {{"console", "a", "--timeout=later"}, "is not a duration"},
           {{"console", "a", "-v", "x"}, "level 0-10"},
           {{"version", "x"}, "version takes no arguments"},
           {{"help", "frob"}, "unknown command \"frob\""},
       }) {
    auto o = Parse(c.args);
    ASSERT_FALSE(o.ok()) << c.says;
    EXPECT_EQ(o.status().code(), base::Code::kBadRequest);
    EXPECT_NE(o.status().message().find(c.says), std::string::npos) << o.status().message();
  }
}

TEST(DurationTest, GoStyleAndBareMinutes) {
  EXPECT_EQ(ParseDuration("5m"), milliseconds(300'000));
  EXPECT_EQ(ParseDuration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(ParseDuration("0"), milliseconds(0));
  EXPECT_EQ(ParseDuration("3"), milliseconds(180'000));  // KubeVirt: minutes
  EXPECT_FALSE(ParseDuration(""));
  EXPECT_FALSE(ParseDuration("5x"));
  EXPECT_FALSE(ParseDuration("m"));
  EXPECT_FALSE(ParseDuration("-5"));
  EXPECT_FALSE(ParseDuration("99999999999999h"));
}

}  // namespace
}  // namespace vireo::virtctl
