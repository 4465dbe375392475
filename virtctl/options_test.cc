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
           {{"start", "a", "--force"}, "flag --force is for restart and stop"},
           {{"console", "a", "--proxy-only"}, "flag --proxy-only is for vnc"},
           {{"vnc", "a", "--stdio"}, "flag --stdio is for port-forward"},
           {{"vnc", "a", "-i", "k"}, "flag -i is for scp and ssh"},
           {{"stop", "a", "--keepalive=1s"}, "is for console, port-forward and vnc"},
           {{"port-forward", "vm/a"}, "needs a target (vm/NAME) and at least one port"},
           {{"port-forward", "a", "80"}, "needs a type: vm/NAME"},
           {{"port-forward", "vm/a", "udp/53"}, "UDP is not supported"},
           {{"port-forward", "vm/a", "80", "81", "--stdio"}, "--stdio forwards exactly one port"},
           {{"ssh"}, "ssh takes one target"},
           {{"ssh", "vm/a", "vm/b"}, "ssh takes one target"},
           {{"ssh", "@vm/a"}, "user name before '@'"},
           {{"ssh", "vm/a", "-p", "x"}, "takes a port 0-65535"},
           {{"ssh", "vm/a", "-p", "0"}, "ssh: --port takes the guest's port, 1-65535"},
           {{"scp", "vm/a:x", "y", "--port=0"}, "scp: --port takes the guest's port, 1-65535"},
           {{"scp", "a", "b"}, "exactly one of source and destination"},
           {{"scp", "vm/a:x", "vmi/b:y"}, "exactly one of source and destination"},
           {{"scp", "vm/a:x"}, "scp takes a source and a destination"},
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

TEST(OptionsTest, AccessCommands) {
  auto vnc = Parse({"vnc", "web", "--proxy-only", "--port=5901", "--address", "0.0.0.0"});
  ASSERT_TRUE(vnc.ok()) << vnc.status().ToString();
  EXPECT_EQ(vnc->command, Command::kVnc);
  EXPECT_EQ(vnc->name, "web");
  EXPECT_TRUE(vnc->proxy_only);
  EXPECT_EQ(vnc->port, 5901);
  EXPECT_EQ(vnc->address, "0.0.0.0");
  auto vnc_target = Parse({"vnc", "vmi/web/prod"});
  ASSERT_TRUE(vnc_target.ok());
  EXPECT_EQ(vnc_target->name, "web");
  EXPECT_EQ(vnc_target->target.namespace_name, "prod");

  auto forward = Parse({"port-forward", "vm/web", "8080:80", ":22"});
  ASSERT_TRUE(forward.ok()) << forward.status().ToString();
  EXPECT_EQ(forward->command, Command::kPortForward);
  EXPECT_EQ(forward->name, "web");
  ASSERT_EQ(forward->ports.size(), 2u);
  EXPECT_EQ(forward->ports[0].local, 8080);
  EXPECT_EQ(forward->ports[1].remote, 22);
  EXPECT_EQ(forward->address, "127.0.0.1");
  auto stdio = Parse({"port-forward", "--stdio=true", "vm/web/ns", "22"});
  ASSERT_TRUE(stdio.ok());
  EXPECT_TRUE(stdio->stdio);
  EXPECT_EQ(stdio->target.namespace_name, "ns");

  auto ssh = Parse({"ssh", "-t", "-o A=1", "--local-ssh-opts", "-o B=2", "vm/web"});
  ASSERT_TRUE(ssh.ok());
  EXPECT_EQ(ssh->ssh_options, (std::vector<std::string>{"-o A=1", "-o B=2"}));
  EXPECT_FALSE(ssh->port.has_value());
}

TEST(OptionsTest, CreateCollectsItsFlagsInOrder) {
  auto o = Parse({"-n", "prod", "create", "vm", "--name=web", "--volume-pvc", "src:a",
                  "--volume-pvc=src:b", "--kubeconfig", "/k"});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->command, Command::kCreate);
  EXPECT_EQ(o->create_kind, "vm");
  EXPECT_EQ(o->namespace_name, "prod");
  EXPECT_EQ(o->create_flags,
            (std::vector<std::pair<std::string, std::string>>{
                {"name", "web"}, {"volume-pvc", "src:a"}, {"volume-pvc", "src:b"}}));
  // A boolean stands alone; the next argument is not its value.
  auto namespaced = Parse({"create", "preference", "--namespaced", "--cpu-topology", "cores"});
  ASSERT_TRUE(namespaced.ok()) << namespaced.status().message();
  EXPECT_EQ(namespaced->create_flags[0],
            (std::pair<std::string, std::string>{"namespaced", "true"}));
  EXPECT_EQ(Parse({"create", "vm", "--help"})->help_topic, "create");
  auto page = HelpText("create");
  ASSERT_TRUE(page.has_value());
  EXPECT_NE(page->find("--volume-containerdisk src:IMAGE"), std::string::npos);
  EXPECT_NE(HelpText("")->find("create vm|instancetype|preference"), std::string::npos);
}

TEST(OptionsTest, CreateUsageErrors) {
  for (const auto& [args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"create"}, "create takes one kind"},
           {{"create", "vm", "web"}, "create takes one kind"},
           {{"create", "vms"}, "not \"vms\""},
           {{"create", "clone"}, "Vireo has no VirtualMachineClone"},
           {{"create", "vm", "--cpu", "2"}, "flag --cpu is not one of create vm"},
           {{"create", "instancetype", "--gpu", "name:a"}, "flag --gpu: Vireo does not support it"},
           {{"create", "vm", "--name="}, "flag --name needs a value"},
           {{"stop", "vm", "--memory", "1Gi"}, "flag --memory is for create"},
       }) {
    auto o = Parse(args);
    ASSERT_FALSE(o.ok()) << says;
    EXPECT_EQ(o.status().code(), base::Code::kBadRequest);
    EXPECT_NE(o.status().message().find(says), std::string::npos) << o.status().message();
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
