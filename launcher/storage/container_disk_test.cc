#include "launcher/storage/container_disk.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/storage/test_util.h"

namespace vireo::launcher {
namespace {

using base::Code;
using base::Status;
using storage_testing::TempDir;
using storage_testing::WriteFile;
using ::testing::HasSubstr;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string Canonical(const std::string& path) { return fs::canonical(path).string(); }

TEST(ContainerDiskTest, ParsesPidAndPath) {
  auto disk = ParseServedDisk("42 /disk/my image.qcow2\n");
  ASSERT_TRUE(disk.ok()) << disk.status().ToString();
  EXPECT_EQ(disk->pid, 42);
  EXPECT_EQ(disk->path, "/disk/my image.qcow2");
  // Linux's largest pid_max.
  auto highest = ParseServedDisk("4194304 /disk");
  ASSERT_TRUE(highest.ok()) << highest.status().ToString();
  EXPECT_EQ(highest->pid, 4194304);
  for (const char* bad : {"", "\n", "42", "42 ", "42 disk.img", "x2 /disk", " 42 /disk", "-1 /disk",
                          "0 /disk", "-0 /disk", "+42 /disk", "12345678901 /disk", "42 /a\nb",
                          // pid_t overflows, by one and by far
                          "2147483648 /disk", "99999999999999999999 /disk",
                          // trailing garbage in the pid field
                          "42x /disk", "42\t /disk", "4.2 /disk"}) {
    auto disk = ParseServedDisk(bad);
    ASSERT_FALSE(disk.ok()) << bad;
    EXPECT_EQ(disk.status().code(), Code::kInvalid) << bad;
    EXPECT_THAT(disk.status().message(), HasSubstr("expected \"<pid> <path>\", got \"")) << bad;
  }
}

TEST(ContainerDiskTest, ReadsTheSourceOrTheError) {
  TempDir dir;
  auto none = ReadServedDisk(dir.path());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  WriteFile(dir / "source", "7 /disk/a.img\n");
  auto served = ReadServedDisk(dir.path());
  ASSERT_TRUE(served.ok());
  ASSERT_TRUE(served->has_value());
  EXPECT_EQ((*served)->pid, 7);

  // An error wins: the container wrote it and ended.
  WriteFile(dir / "error", "no disk image at /disk/x.img\n");
  auto failed = ReadServedDisk(dir.path());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kInvalid);
  EXPECT_EQ(failed.status().message(), "the containerDisk image: no disk image at /disk/x.img");

  WriteFile(dir / "garbage/source", "not a pid\n");
  auto garbage = ReadServedDisk(dir / "garbage");
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.status().message(), HasSubstr("garbage/source"));
}

TEST(ContainerDiskTest, TheFileIsReadThroughTheProcessRoot) {
  TempDir dir;
  WriteFile(dir / "disk/a.img", "x");
  const std::string path = Canonical(dir / "disk/a.img");
  auto file = ServedDiskFile({getpid(), path});
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(*file, "/proc/" + std::to_string(getpid()) + "/root" + path);
}

TEST(ContainerDiskTest, RefusesLinksUnresolvedPathsAndNonFiles) {
  TempDir dir;
  WriteFile(dir / "disk/a.img", "x");
  const std::string base = Canonical(dir.path());
  // Through /proc/<pid>/root an absolute link would resolve in the
  // launcher's tree, not the image's.
  fs::create_symlink(base + "/disk/a.img", base + "/disk/link.img");
  fs::create_directory_symlink(base + "/disk", base + "/dirlink");
  for (const std::string& path :
       {base + "/disk/link.img", base + "/dirlink/a.img", base + "/disk/../disk/a.img",
        base + "/disk/./a.img", base + "/disk", base + "/disk/missing.img", std::string("/"),
        // Regular files, but the container's /proc and /sys.
        std::string("/proc/version"), std::string("/sys/kernel/uevent_seqnum")}) {
    auto file = ServedDiskFile({getpid(), path});
    ASSERT_FALSE(file.ok()) << path;
    EXPECT_EQ(file.status().code(), Code::kInvalid) << path;
  }
}

TEST(ContainerDiskTest, AGoneProcessIsNotFound) {
  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  auto file = ServedDiskFile({child, "/etc/hostname"});
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), Code::kNotFound);
  EXPECT_THAT(file.status().message(), HasSubstr("gone"));
}

TEST(ContainerDiskTest, WaitsUntilEachDirectoryHasAnswered) {
  TempDir dir;
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(50));
    WriteFile(dir / "a/source", "1 /disk/a.img\n");
    std::this_thread::sleep_for(milliseconds(50));
    WriteFile(dir / "b/error", "no disk image at /disk\n");
  });
  const auto started = std::chrono::steady_clock::now();
  int told = 0;
  Status waited = WaitForServedDisks(
      {dir / "a", dir / "b"}, -1,
      {milliseconds(5), milliseconds(20), milliseconds(30), [&told] { ++told; }});
  writer.join();
  EXPECT_TRUE(waited.ok()) << waited.ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(100));
  EXPECT_EQ(told, 1) << "a long wait is told once";
  // Answered at once: no long wait to tell.
  told = 0;
  EXPECT_TRUE(
      WaitForServedDisks({dir / "a"}, -1,
                         {milliseconds(5), milliseconds(20), milliseconds(0), [&told] { ++told; }})
          .ok());
  EXPECT_EQ(told, 0);
}

TEST(ContainerDiskTest, OneErrorEndsTheWait) {
  TempDir dir;
  fs::create_directories(dir / "pulling");
  WriteFile(dir / "failed/error", "no disk image at /disk\n");
  Status waited = WaitForServedDisks({dir / "pulling", dir / "failed"}, -1,
                                     {milliseconds(5), milliseconds(1000), milliseconds(1000), {}});
  EXPECT_TRUE(waited.ok()) << waited.ToString();
}

TEST(ContainerDiskTest, ATerminationSignalEndsTheWait) {
  TempDir dir;
  fs::create_directories(dir / "a");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  Status waited =
      WaitForServedDisks({dir / "a"}, fds[0], {milliseconds(1000), milliseconds(1000), {}, {}});
  EXPECT_EQ(waited.code(), Code::kCancelled);
  char byte = 0;
  EXPECT_EQ(read(fds[0], &byte, 1), 1);  // left for the supervisor to read
  close(fds[0]);
  close(fds[1]);
}

TEST(ContainerDiskTest, StopsTheServersThatAreStillThere) {
  TempDir dir;
  WriteFile(dir / "image/disk.img", "x");
  const std::string path = Canonical(dir / "image/disk.img");
  pid_t server = fork();
  if (server == 0) {
    pause();
    _exit(0);
  }
  ASSERT_GT(server, 0);
  WriteFile(dir / "cd/root/source", std::to_string(server) + " " + path + "\n");
  // Ourselves, and a process whose file is not there: left alone.
  WriteFile(dir / "cd/self/source", std::to_string(getpid()) + " " + path + "\n");
  WriteFile(dir / "cd/other/source", std::to_string(server) + " /no/such/disk.img\n");
  WriteFile(dir / "cd/failed/error", "no disk\n");

  EXPECT_EQ(StopDiskServers(dir / "cd"), 1);
  // A server answering only now finds the stop file beside its answer.
  for (const char* volume : {"root", "self", "other", "failed"}) {
    EXPECT_TRUE(fs::exists(dir / ("cd/" + std::string(volume) + "/stop"))) << volume;
  }
  int status = 0;
  ASSERT_EQ(waitpid(server, &status, 0), server);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_EQ(StopDiskServers(dir / "missing"), 0);
}

}  // namespace
}  // namespace vireo::launcher
