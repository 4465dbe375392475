// The containerDisk server container's script (ServeDiskScript), run by the
// real static busybox the pod runs it with (Debian's busybox-static, as in the
// launcher image), on a directory standing in for the image's root.
#include "controllers/reconcile/disk_containers.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controllers/reconcile/launcher_resources.h"
#include "controllers/reconcile/pod_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vireo::controllers {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kBusybox[] = "/bin/busybox";

// What the kubelet does to a container's command before it runs it, with
// no environment variables defined: "$$" becomes "$", and "$(NAME)" stays
// as written when NAME is not defined (Kubernetes' expansion package).
std::string ExpandAsTheKubelet(const std::string& arg) {
  std::string out;
  for (size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] != '$' || i + 1 == arg.size()) {
      out += arg[i];
      continue;
    }
    const char next = arg[i + 1];
    if (next == '$') {
      out += '$';
      ++i;
    } else if (next == '(') {
      const size_t close = arg.find(')', i + 2);
      if (close == std::string::npos) {
        out += "$(";
        ++i;
      } else {
        out += arg.substr(i, close - i + 1);  // undefined: left as written
        i = close;
      }
    } else {
      out += '$';
      out += next;
      ++i;
    }
  }
  return out;
}

TEST(KubeletExpansion, AsKubernetesDoesIt) {
  EXPECT_EQ(ExpandAsTheKubelet("echo $$ $(HOME) $((1+2)) $x $"), "echo $ $(HOME) $((1+2)) $x $");
  EXPECT_EQ(ExpandAsTheKubelet("a $( b"), "a $( b");
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// Processes of group `group` that have not ended (zombies awaiting their
// reaper do not count).
int LiveProcessesIn(pid_t group) {
  int live = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    const std::string stat = ReadText(entry.path() / "stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0, pgrp = 0;
    fields >> state >> ppid >> pgrp;
    if (pgrp == group && state != "Z") ++live;
  }
  return live;
}

class DiskServerTest : public ::testing::Test {
 protected:
  DiskServerTest() {
    char name[] = "/tmp/vireo-disk-server-XXXXXX";
    root_ = fs::canonical(mkdtemp(name));
    fs::create_directories(root_ / "answer");
  }
  ~DiskServerTest() override {
    // The whole group: its sleep too.
    if (group_ > 0) kill(-group_, SIGKILL);
    if (server_ > 0) waitpid(server_, nullptr, 0);
    fs::remove_all(root_);
  }

  // Starts the rendered container's command for `path` (in the image) with
  // the tools' busybox swapped for the system's, its stderr to a file.
  void Start(const std::string& path) {
    const std::string answer = (root_ / "answer").string();
    Json container =
        ScriptInImageContainer("cd-root", "reg/disk:1", "", ServeDiskScript(path, answer),
                               pod_json::Mount("root", answer, false), DiskServerResources(false));
    std::vector<std::string> argv;
    for (const Json& arg : container.at("command")) {
      argv.push_back(ExpandAsTheKubelet(arg.get<std::string>()));
    }
    ASSERT_EQ(argv.back(), (root_ / "answer").string());
    argv[0] = kBusybox;
    server_ = fork();
    ASSERT_GE(server_, 0);
    if (server_ > 0) {
      setpgid(server_, server_);
      group_ = server_;
    }
    if (server_ == 0) {
      setpgid(0, 0);
      std::vector<char*> args;
      for (std::string& arg : argv) args.push_back(arg.data());
      args.push_back(nullptr);
      const std::string err = (root_ / "stderr").string();
      if (!freopen(err.c_str(), "w", stderr)) _exit(127);
      execv(kBusybox, args.data());
      _exit(127);
    }
  }

  // Waits for the source or error file, up to 10 s.
  bool Answered() {
    for (int i = 0; i < 1000; ++i) {
      if (fs::exists(root_ / "answer/source") || fs::exists(root_ / "answer/error")) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // The server's exit status (waits at most `ms`; -1 when it still runs).
  int Exit(int ms = 5000) {
    for (int i = 0; i < ms / 10; ++i) {
      int status = 0;
      if (waitpid(server_, &status, WNOHANG) == server_) {
        server_ = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

  fs::path root_;
  pid_t server_ = 0;
  pid_t group_ = 0;
};

TEST_F(DiskServerTest, ServesTheOnlyFileOfADirectoryResolvedAndEndsWellOnSigterm) {
  if (!fs::exists(kBusybox)) GTEST_FAIL() << kBusybox << " is missing (busybox-static)";
  Write(root_ / "image/data/disk.qcow2", "qcow2");
  fs::create_directory_symlink("data", root_ / "image/disk");  // a link inside the image
  Start((root_ / "image/disk").string());
  ASSERT_TRUE(Answered());
  EXPECT_FALSE(fs::exists(root_ / "answer/error"));
  // Its own pid (the pod shares one process namespace) and the file's real
  // path, which the launcher reads through /proc/<pid>/root.
  EXPECT_EQ(ReadText(root_ / "answer/source"),
            std::to_string(server_) + " " + (root_ / "image/data/disk.qcow2").string() + "\n");
  EXPECT_EQ(Exit(300), -1) << "it must keep running for the launcher";
  ASSERT_EQ(kill(server_, SIGTERM), 0);
  EXPECT_EQ(Exit(), 0);
  // Its sleep went with it.
  for (int i = 0; i < 100 && LiveProcessesIn(group_) > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(LiveProcessesIn(group_), 0) << "a process of the server outlived it";
  group_ = 0;
}

// A launcher that ended before this server answered left the stop file:
// the server answers, sees it, and ends well instead of sleeping on.
TEST_F(DiskServerTest, AStopFileEndsItRightAfterItsAnswer) {
  if (!fs::exists(kBusybox)) GTEST_FAIL() << kBusybox << " is missing (busybox-static)";
  Write(root_ / "image/disk/a.img", "a");
  Write(root_ / "answer/stop", "");
  Start((root_ / "image/disk").string());
  EXPECT_EQ(Exit(), 0);
  EXPECT_TRUE(fs::exists(root_ / "answer/source"));
}

TEST_F(DiskServerTest, AFilePathIsServedAsGiven) {
  if (!fs::exists(kBusybox)) GTEST_FAIL() << kBusybox << " is missing (busybox-static)";
  Write(root_ / "image/disk/a.img", "a");
  Write(root_ / "image/disk/b.img", "b");
  Start((root_ / "image/disk/b.img").string());
  ASSERT_TRUE(Answered());
  EXPECT_THAT(ReadText(root_ / "answer/source"),
              HasSubstr(" " + (root_ / "image/disk/b.img").string() + "\n"));
}

TEST_F(DiskServerTest, TooManyFilesOrNoneIsAnErrorTheLauncherReads) {
  if (!fs::exists(kBusybox)) GTEST_FAIL() << kBusybox << " is missing (busybox-static)";
  Write(root_ / "image/disk/a.img", "a");
  Write(root_ / "image/disk/b.img", "b");
  Start((root_ / "image/disk").string());
  ASSERT_TRUE(Answered());
  EXPECT_EQ(Exit(), 1);
  EXPECT_FALSE(fs::exists(root_ / "answer/source"));
  const std::string why = "expected one file in " + (root_ / "image/disk").string() + ", found 2\n";
  EXPECT_EQ(ReadText(root_ / "answer/error"), why);
  // The container's log, its termination message, says it too.
  EXPECT_THAT(ReadText(root_ / "stderr"), StartsWith("containerDisk: " + why));
}

TEST_F(DiskServerTest, AMissingPathIsAnError) {
  if (!fs::exists(kBusybox)) GTEST_FAIL() << kBusybox << " is missing (busybox-static)";
  Start((root_ / "image/disk/none.img").string());
  ASSERT_TRUE(Answered());
  EXPECT_EQ(Exit(), 1);
  EXPECT_EQ(ReadText(root_ / "answer/error"),
            "no disk image at " + (root_ / "image/disk/none.img").string() + "\n");
}

}  // namespace
}  // namespace vireo::controllers
