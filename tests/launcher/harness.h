// T2 harness: vireo-launcher as a process in a temporary tree laid out like
// its pod (docs/launcher-pod.md), the test disk, and helpers to drive the
// launcher, its console and probe as a kubelet and `virtctl console` would.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/launcher/container_disk_server.h"

namespace vireo::t2 {

using namespace std::chrono_literals;

// A child process with its stdin writable and stdout/stderr collected.
// Destruction kills it (SIGKILL) if it still runs.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Write(const std::string& text);
  void CloseStdin();
  void Signal(int sig);

  // Exit code (128 + signal when killed), or nullopt when still running after
  // `timeout`. The timeout only keeps a broken test from hanging.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running();

  // Waits until both output pipes reach EOF (every writer closed them).
  void JoinOutput();

  std::string Stdout();
  std::string Stderr();
  // Waits until stdout (from `from` on) contains `text`; returns whether it
  // did within `timeout`.
  bool WaitForStdout(const std::string& text, std::chrono::milliseconds timeout, size_t from = 0);
  // The same for stderr (the launcher's log).
  bool WaitForStderr(const std::string& text, std::chrono::milliseconds timeout);

 private:
  void Reader(int fd, std::string* out);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::optional<int> exit_code_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string stdout_;    // GUARDED_BY(mu_)
  std::string stderr_;    // GUARDED_BY(mu_)
  int pipes_at_eof_ = 0;  // GUARDED_BY(mu_)
  std::thread out_thread_;
  std::thread err_thread_;
};

// Runs argv to completion; returns exit code and stdout+stderr.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = 120s);

// The vireo-launcher binary (VIREO_LAUNCHER from meson).
std::string LauncherBinary();

// The launcher pod's user and group (uid and gid 107).
inline constexpr char kPodUser[] = "107";
// A command prefix that runs what follows as the pod does: uid and gid 107,
// no supplementary groups, no capabilities at all (`drop: [ALL]`).
std::vector<std::string> AsPodUser();
// The test disk: images/test-disk/build.sh's raw image and its qcow2 twin;
// built (or taken from build.sh's cache) once per test binary, or the raw
// image named by VIREO_TEST_DISK.
std::string TestDiskRaw();
std::string TestDiskQcow2();
// A directory holding QEMU capabilities from `vireo-launcher warm-cache`,
// probed once per test binary (or VIREO_T2_CAPS_DIR), so launchers start
// without probing.
std::string CapabilitiesCache();

std::string ReadFileOrEmpty(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& text);
std::string Sha256(const std::string& path);

// Pids of QEMU processes whose command line mentions `needle` (a test's
// root): what must never outlive a launcher. Other people's QEMUs on the
// machine do not count.
std::vector<pid_t> QemuProcessesMentioning(const std::string& needle);
// The launcher's own processes: `launcher` and its children that are not
// QEMU (the watchdog), what the benches count as the launcher stack.
std::vector<pid_t> LauncherStack(pid_t launcher);
// Waits (bounded) for that list to become empty; returns what is left.
std::vector<pid_t> WaitForNoQemu(const std::string& needle, std::chrono::milliseconds timeout);

// A temporary root laid out like the launcher pod:
//   <root>/var/run/vireo/vmi/vmi.json, state/, volumes/<vol>/,
//   container-disks/<vol>/, test-images/<vol>/ (containerDisk images),
//   usr/lib/vireo/qemu-capabilities -> shared cache.
class TestPod {
 public:
  TestPod();
  ~TestPod();  // kills what still runs, unmounts, removes the tree

  const std::string& root() const { return root_; }
  std::string VmiFile() const { return root_ + "/var/run/vireo/vmi/vmi.json"; }
  std::string StateDir() const { return root_ + "/var/run/vireo/state"; }
  std::string VolumeDir(const std::string& vol) const;
  std::string ContainerDiskDir(const std::string& vol) const;
  std::string ConsoleLog() const { return StateDir() + "/console.log"; }

  // A VMI named `name` with the given volumes JSON array and disks JSON
  // array (raw JSON text), 256Mi of memory, grace period 30. Without
  // `interfaces_json` the guest has no NIC (a launcher outside a network
  // namespace would otherwise forward the machine's ports to it); with it,
  // those interfaces on the pod network.
  void WriteVmi(const std::string& name, const std::string& volumes_json,
                const std::string& disks_json, const std::string& interfaces_json = "");
  // The test disk's qcow2 as a containerDisk volume's image, served as the
  // pod's containerDisk container serves it (lib/api/launcher_pod.h): a
  // process of ours (as `server_uid` when given) stands in for it, its
  // root being ours, and its pid and the image's path are in
  // ContainerDiskDir(vol)/source.
  void AddContainerDisk(const std::string& vol, std::optional<uid_t> server_uid = std::nullopt);
  // The same for an image file of the test's own.
  void ServeContainerDisk(const std::string& vol, const std::string& image,
                          std::optional<uid_t> server_uid = std::nullopt);
  // Where AddContainerDisk puts the image.
  std::string ContainerDiskImage(const std::string& vol) const;
  // Whether the volume's server ended on SIGTERM (as the launcher ends it)
  // within `timeout`.
  bool ContainerDiskServerStopped(const std::string& vol, std::chrono::milliseconds timeout);
  // The test disk's kernel and initramfs where the pod's vireo-kernel-boot
  // init container copies firmware.kernelBoot's files.
  void AddKernelBoot();
  // A filesystem PVC volume directory holding a sparse disk.img of `bytes`.
  void AddPvc(const std::string& vol, int64_t bytes);
  // Mounts a tmpfs of `bytes` on the PVC directory (a small volume); false
  // when this process may not mount.
  bool MountSmallVolume(const std::string& vol, int64_t bytes);

  struct Launch {
    int64_t grace_seconds = 30;           // < 0: --grace-period-seconds=unbounded
    std::vector<std::string> prefix;      // run the launcher under this (setpriv ...)
    std::vector<std::string> extra_args;  // after the pod's flags
    bool capabilities_cache = true;       // false: the image ships none (cold start)
  };
  // `vireo-launcher run` with the pod's flags (TCG forced) and --root; a
  // containerDisk server that has ended is started again first.
  std::unique_ptr<Process> StartLauncher(const Launch& launch);
  std::unique_ptr<Process> StartLauncher() { return StartLauncher(Launch{}); }
  // `vireo-launcher console`, as virtctl console would exec it.
  std::unique_ptr<Process> AttachConsole();
  // `vireo-launcher wait-running`, as the kubelet runs the pod's postStart
  // hook (the launcher then needs --post-start-hook in extra_args).
  std::unique_ptr<Process> StartPostStartHook();
  // `vireo-launcher probe`: its exit code.
  int Probe();
  // Polls probe until it passes (or `launcher` exits); returns whether it did.
  bool WaitReady(Process& launcher, std::chrono::milliseconds timeout = 120s);
  // A fresh state dir, as a new pod's emptyDir would be.
  void ResetStateDir();

 private:
  std::string root_;
  std::vector<std::string> mounts_;
  // An ended one is served again by StartLauncher, as a new pod would.
  ContainerDiskServers disk_servers_;
};

// Mounts the test disk's boot partition (vfat, on the root disk) at
// /mnt/boot in the guest: a shell command for Converse.
inline constexpr char kMountTestDiskBoot[] =
    "mkdir -p /mnt/boot && { grep -q ' /mnt/boot ' /proc/mounts || "
    "mount -t vfat -o sync $(findfs LABEL=VIREOBOOT) /mnt/boot; }";

// Types `command` into a console and waits for `expect` in its output after
// that point; returns whether it appeared.
bool Converse(Process& console, const std::string& command, const std::string& expect,
              std::chrono::milliseconds timeout = 60s);

// A network namespace standing in for a pod's, joined to this one by a veth
// pair: the pod's address kPodAddress, this side's ("the node")
// kNodeAddress, in the benchmarking range 198.18.0.0/15 that no real network
// here uses, and the pod's own resolv.conf naming kPodResolver (`ip netns
// exec` mounts /etc/netns/<name>/resolv.conf over /etc's). Needs root.
// Destruction removes all of it.
class PodNetwork {
 public:
  static constexpr char kPodAddress[] = "198.18.23.10";
  static constexpr char kNodeAddress[] = "198.18.23.1";
  static constexpr char kPodResolver[] = "198.18.23.53";

  PodNetwork();
  ~PodNetwork();
  PodNetwork(const PodNetwork&) = delete;
  PodNetwork& operator=(const PodNetwork&) = delete;

  // The prefix that runs a command in the namespace.
  std::vector<std::string> Exec() const { return {"ip", "netns", "exec", name_}; }

 private:
  void Remove();
  std::string name_, host_if_, pod_if_;
};

}  // namespace vireo::t2
