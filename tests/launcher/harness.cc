// T2 harness implementation; see harness.h.
#include "tests/launcher/harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace vireo::t2 {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void Die(const std::string& what) {
  throw std::runtime_error(what + (errno != 0 ? std::string(": ") + std::strerror(errno) : ""));
}

std::string Env(const char* name, const std::string& fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Process::Process(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    Die("pipe");
  }
  pid_ = fork();
  if (pid_ < 0) Die("fork");
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    // The launcher blocks its termination signals itself; give it a clean
    // mask like a kubelet would.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (const auto& [key, value] : env) setenv(key.c_str(), value.c_str(), 1);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  stdin_fd_ = in[1];
  out_thread_ = std::thread([this, fd = out[0]] { Reader(fd, &stdout_); });
  err_thread_ = std::thread([this, fd = err[0]] { Reader(fd, &stderr_); });
}

Process::~Process() {
  if (Running()) {
    kill(pid_, SIGKILL);
    Wait(10s);
  }
  CloseStdin();
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
}

void Process::Reader(int fd, std::string* out) {
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard<std::mutex> lock(mu_);
    out->append(buffer, static_cast<size_t>(n));
    cv_.notify_all();
  }
  close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  ++pipes_at_eof_;
  cv_.notify_all();
}

void Process::Write(const std::string& text) {
  if (stdin_fd_ >= 0) {
    [[maybe_unused]] ssize_t n = write(stdin_fd_, text.data(), text.size());
  }
}

void Process::CloseStdin() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

void Process::Signal(int sig) {
  if (!exit_code_) kill(pid_, sig);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exit_code_) {
    int status = 0;
    pid_t rc = waitpid(pid_, &status, WNOHANG);
    if (rc == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      // What it wrote last is still in the pipes: let the readers take it,
      // bounded, since a child it left behind may hold them open.
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, 5s, [this] { return pipes_at_eof_ == 2; });
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
  return exit_code_;
}

bool Process::Running() { return !Wait(0ms).has_value(); }

void Process::JoinOutput() {
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
}

std::string Process::Stdout() {
  std::lock_guard<std::mutex> lock(mu_);
  return stdout_;
}

std::string Process::Stderr() {
  std::lock_guard<std::mutex> lock(mu_);
  return stderr_;
}

bool Process::WaitForStdout(const std::string& text, std::chrono::milliseconds timeout,
                            size_t from) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    return stdout_.size() > from && stdout_.find(text, from) != std::string::npos;
  });
}

bool Process::WaitForStderr(const std::string& text, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return stderr_.find(text) != std::string::npos; });
}

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  Process process(argv);
  process.CloseStdin();
  auto code = process.Wait(timeout);
  if (!code) process.Signal(SIGKILL);
  process.Wait(5s);
  process.JoinOutput();
  CommandResult result;
  result.exit_code = code.value_or(-1);
  result.output = process.Stdout() + process.Stderr();
  return result;
}

std::vector<std::string> AsPodUser() {
  return {"setpriv",
          std::string("--reuid=") + kPodUser,
          std::string("--regid=") + kPodUser,
          "--clear-groups",
          "--inh-caps=-all",
          "--bounding-set=-all",
          "--"};
}

std::string LauncherBinary() {
  std::string path = Env("VIREO_LAUNCHER");
  if (path.empty()) Die("VIREO_LAUNCHER is not set (meson sets it)");
  return path;
}

std::string TestDiskRaw() {
  static const std::string path = [] {
    // A prebuilt image (bench/launcher hands its own to its daemon side).
    if (std::string given = Env("VIREO_TEST_DISK"); !given.empty()) return given;
    std::string script = Env("VIREO_TEST_DISK_BUILD");
    if (script.empty()) Die("VIREO_TEST_DISK_BUILD is not set (meson sets it)");
    Process build({"bash", script});
    build.CloseStdin();
    auto code = build.Wait(600s);
    build.Wait(5s);
    if (code != 0) Die("test disk build failed: " + build.Stderr());
    std::string out = build.Stdout();
    std::string image = Trim(out.substr(out.rfind('\n', out.size() - 2) + 1));
    if (!fs::exists(image)) Die("build.sh printed no image path: " + out);
    return image;
  }();
  return path;
}

std::string TestDiskQcow2() {
  fs::path raw(TestDiskRaw());
  return (raw.parent_path() / "test-disk.qcow2").string();
}

std::string CapabilitiesCache() {
  static const std::string dir = [] {
    if (std::string given = Env("VIREO_T2_CAPS_DIR"); !given.empty()) return given;
    char tmpl[] = "/tmp/vireo-t2-caps.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Die("mkdtemp");
    static std::string made = tmpl;  // removed when the test binary exits
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(made, ec);
    });
    CommandResult r = RunCommand({LauncherBinary(), "warm-cache", "--out", tmpl}, 300s);
    if (r.exit_code != 0) Die("warm-cache failed: " + r.output);
    return made;
  }();
  return dir;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFileOrDie(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) Die("write " + path);
}

std::string Sha256(const std::string& path) {
  CommandResult r = RunCommand({"sha256sum", path});
  return r.output.substr(0, 64);
}

std::vector<pid_t> QemuProcessesMentioning(const std::string& needle) {
  std::vector<pid_t> found;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* entry = readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0) continue;
    std::string cmdline = ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/cmdline");
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    std::string stat = ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
    bool zombie = stat.find(") Z ") != std::string::npos;
    if (!zombie && cmdline.find("qemu-system") != std::string::npos &&
        cmdline.find(needle) != std::string::npos) {
      found.push_back(pid);
    }
  }
  closedir(proc);
  return found;
}

std::vector<pid_t> LauncherStack(pid_t launcher) {
  std::vector<pid_t> pids = {launcher};
  const std::string task =
      "/proc/" + std::to_string(launcher) + "/task/" + std::to_string(launcher);
  std::istringstream children(ReadFileOrEmpty(task + "/children"));
  for (pid_t child; children >> child;) {
    std::string comm = ReadFileOrEmpty("/proc/" + std::to_string(child) + "/comm");
    if (comm.rfind("qemu", 0) != 0) pids.push_back(child);
  }
  return pids;
}

std::vector<pid_t> WaitForNoQemu(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<pid_t> left = QemuProcessesMentioning(needle);
    if (left.empty() || std::chrono::steady_clock::now() >= deadline) return left;
    std::this_thread::sleep_for(100ms);
  }
}

TestPod::TestPod() {
  char tmpl[] = "/tmp/vireo-t2.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Die("mkdtemp");
  root_ = tmpl;
  // As a pod's directories are: others may pass through (passt, started as
  // root, drops to nobody before it creates its socket under the state dir).
  fs::permissions(root_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
  for (const char* dir : {"/var/run/vireo/vmi", "/var/run/vireo/state", "/var/run/vireo/volumes",
                          "/var/run/vireo/container-disks", "/usr/lib/vireo"}) {
    fs::create_directories(root_ + dir);
  }
}

TestPod::~TestPod() {
  for (pid_t pid : QemuProcessesMentioning(root_)) kill(pid, SIGKILL);
  disk_servers_.KillAll();
  for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) umount2(it->c_str(), MNT_DETACH);
  std::error_code ec;
  if (Env("VIREO_T2_KEEP").empty()) fs::remove_all(root_, ec);
}

std::string TestPod::VolumeDir(const std::string& vol) const {
  return root_ + "/var/run/vireo/volumes/" + vol;
}

std::string TestPod::ContainerDiskDir(const std::string& vol) const {
  return root_ + "/var/run/vireo/container-disks/" + vol;
}

void TestPod::WriteVmi(const std::string& name, const std::string& volumes_json,
                       const std::string& disks_json, const std::string& interfaces_json) {
  const std::string nics = interfaces_json.empty()
                               ? std::string(R"("autoattachPodInterface":false)")
                               : R"("interfaces":)" + interfaces_json;
  const std::string networks =
      interfaces_json.empty() ? "" : R"(,"networks":[{"name":"default","pod":{}}])";
  WriteFileOrDie(VmiFile(),
                 R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",)"
                 R"("metadata":{"name":")" +
                     name +
                     R"(","namespace":"t2","uid":"0f6a3b2c-1d4e-4f5a-8b6c-7d8e9f0a1b2c"},)"
                     R"("spec":{"terminationGracePeriodSeconds":30,)"
                     R"("domain":{"memory":{"guest":"256Mi"},"devices":{"disks":)" +
                     disks_json + "," + nics + "}}" + networks + R"(,"volumes":)" + volumes_json +
                     "}}");
}

std::string TestPod::ContainerDiskImage(const std::string& vol) const {
  return root_ + "/var/run/vireo/test-images/" + vol + "/disk.qcow2";
}

void TestPod::AddContainerDisk(const std::string& vol, std::optional<uid_t> server_uid) {
  fs::create_directories(fs::path(ContainerDiskImage(vol)).parent_path());
  fs::copy_file(TestDiskQcow2(), ContainerDiskImage(vol), fs::copy_options::overwrite_existing);
  ServeContainerDisk(vol, ContainerDiskImage(vol), server_uid);
}

void TestPod::ServeContainerDisk(const std::string& vol, const std::string& image,
                                 std::optional<uid_t> server_uid) {
  disk_servers_.Serve(vol, ContainerDiskDir(vol), image, server_uid);
}

bool TestPod::ContainerDiskServerStopped(const std::string& vol,
                                         std::chrono::milliseconds timeout) {
  return disk_servers_.StoppedBySigterm(vol, timeout);
}

void TestPod::AddKernelBoot() {
  const fs::path built = fs::path(TestDiskRaw()).parent_path();
  const std::string dir = root_ + "/var/run/vireo/kernel-boot";
  fs::create_directories(dir);
  fs::copy_file(built / "vmlinuz", dir + "/kernel", fs::copy_options::overwrite_existing);
  fs::copy_file(built / "initrd.img", dir + "/initrd", fs::copy_options::overwrite_existing);
}

void TestPod::AddPvc(const std::string& vol, int64_t bytes) {
  fs::create_directories(VolumeDir(vol));
  std::string image = VolumeDir(vol) + "/disk.img";
  WriteFileOrDie(image, "");
  fs::resize_file(image, static_cast<uintmax_t>(bytes));
}

bool TestPod::MountSmallVolume(const std::string& vol, int64_t bytes) {
  fs::create_directories(VolumeDir(vol));
  std::string options = "size=" + std::to_string(bytes);
  if (mount("tmpfs", VolumeDir(vol).c_str(), "tmpfs", 0, options.c_str()) != 0) return false;
  mounts_.push_back(VolumeDir(vol));
  return true;
}

std::unique_ptr<Process> TestPod::StartLauncher(const Launch& launch) {
  disk_servers_.RestartEnded();
  std::error_code ec;
  fs::remove(root_ + "/usr/lib/vireo/qemu-capabilities", ec);
  if (launch.capabilities_cache) {
    fs::create_directory_symlink(CapabilitiesCache(), root_ + "/usr/lib/vireo/qemu-capabilities");
  }
  std::vector<std::string> argv = launch.prefix;
  const std::vector<std::string> args = {
      LauncherBinary(),
      "run",
      "--vmi",
      VmiFile(),
      "--state-dir",
      StateDir(),
      "--emulation=on",
      "--grace-period-seconds",
      launch.grace_seconds < 0 ? std::string("unbounded") : std::to_string(launch.grace_seconds),
      "--root",
      root_};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), launch.extra_args.begin(), launch.extra_args.end());
  return std::make_unique<Process>(argv);
}

std::unique_ptr<Process> TestPod::AttachConsole() {
  return std::make_unique<Process>(
      std::vector<std::string>{LauncherBinary(), "console", "--state-dir", StateDir()});
}

std::unique_ptr<Process> TestPod::StartPostStartHook() {
  return std::make_unique<Process>(std::vector<std::string>{
      LauncherBinary(), "wait-running", "--state-dir", StateDir(), "--wait-seconds", "120"});
}

int TestPod::Probe() {
  return RunCommand({LauncherBinary(), "probe", "--state-dir", StateDir()}).exit_code;
}

bool TestPod::WaitReady(Process& launcher, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Probe() == 0) return true;
    if (!launcher.Running()) return false;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

void TestPod::ResetStateDir() {
  std::error_code ec;
  fs::remove_all(StateDir(), ec);
  fs::create_directories(StateDir());
}

bool Converse(Process& console, const std::string& command, const std::string& expect,
              std::chrono::milliseconds timeout) {
  size_t from = console.Stdout().size();
  console.Write(command + "\n");
  return console.WaitForStdout(expect, timeout, from);
}

PodNetwork::PodNetwork()
    : name_("vireo-t2-" + std::to_string(getpid())),
      host_if_("vt2h" + std::to_string(getpid() % 100000)),
      pod_if_("vt2p" + std::to_string(getpid() % 100000)) {
  Remove();
  const std::string node = std::string(kNodeAddress) + "/24";
  const std::string pod = std::string(kPodAddress) + "/24";
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"ip", "netns", "add", name_},
           {"ip", "link", "add", host_if_, "type", "veth", "peer", "name", pod_if_},
           {"ip", "link", "set", pod_if_, "netns", name_},
           {"ip", "addr", "add", node, "dev", host_if_},
           {"ip", "link", "set", host_if_, "up"},
           {"ip", "-n", name_, "addr", "add", pod, "dev", pod_if_},
           {"ip", "-n", name_, "link", "set", pod_if_, "up"},
           {"ip", "-n", name_, "link", "set", "lo", "up"},
           {"ip", "-n", name_, "route", "add", "default", "via", kNodeAddress}}) {
    CommandResult r = RunCommand(argv, 30s);
    if (r.exit_code != 0) {
      Remove();
      errno = 0;
      Die(argv[0] + " " + argv[1] + " " + argv[2] + ": " + r.output);
    }
  }
  fs::create_directories("/etc/netns/" + name_);
  WriteFileOrDie("/etc/netns/" + name_ + "/resolv.conf",
                 std::string("nameserver ") + kPodResolver + "\nsearch t2.svc.cluster.local\n");
}

PodNetwork::~PodNetwork() { Remove(); }

void PodNetwork::Remove() {
  RunCommand({"ip", "link", "del", host_if_}, 10s);
  RunCommand({"ip", "netns", "del", name_}, 10s);
  std::error_code ec;
  fs::remove_all("/etc/netns/" + name_, ec);
}

}  // namespace vireo::t2
