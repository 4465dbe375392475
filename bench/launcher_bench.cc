// bench/launcher: how fast vireo-launcher gets QEMU running and how much
// memory the launcher stack costs, with libvirt's embedded QEMU driver (what
// the launcher uses) and with a libvirtd daemon in the pod, side by side.
// Prints figures; asserts nothing. Run by hand:
//   VIREO_LAUNCHER=... VIREO_TEST_DISK_BUILD=... build/bench/launcher_bench --count 20
// Run as root, it also starts the launcher as the pod does (uid 107, no
// capabilities), to show what running QEMU as non-root costs.
// The daemon side re-runs this program in a private mount namespace (needs
// root), where libvirtd's /etc, /run, /var/lib and /var/cache dirs are
// temporary.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/launcher/harness.h"

namespace vireo::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using t2::Process;
using t2::TestPod;

struct Sample {
  double to_qemu_ms = 0;   // launcher start -> QEMU process exists
  double to_ready_ms = 0;  // launcher start -> domain running (probe passes)
  double stack_rss_kib = 0;
  double stack_pss_kib = 0;
  double qemu_rss_kib = 0;  // at readiness: the guest has not booted yet
  // What the launcher says became of the seeded capabilities cache
  // (state/caps-cache): "used", "probed"; "none" when nothing was seeded or
  // a daemon loaded the capabilities.
  std::string caps_cache = "none";
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// kB from a "Key:   123 kB" line of a /proc file; 0 when absent.
double ProcKb(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atof(line.c_str() + key.size() + 1);
  }
  return 0;
}

void AddMemory(pid_t pid, Sample& s) {
  s.stack_rss_kib += ProcKb("/proc/" + std::to_string(pid) + "/status", "VmRSS");
  s.stack_pss_kib += ProcKb("/proc/" + std::to_string(pid) + "/smaps_rollup", "Pss");
}

// One launcher start. `daemon_pid` > 0: the libvirtd it uses (counted in the
// stack). `as_pod_user`: as the launcher pod runs it, uid and gid 107 with no
// capabilities (setpriv), its volumes given to that user as fsGroup would;
// otherwise as root. Returns false on a failed start.
bool MeasureOnce(TestPod::Launch launch, pid_t daemon_pid, Sample* out, bool as_pod_user = false) {
  TestPod pod;
  // Served as the pod's containerDisk container serves it, by a process of
  // the launcher's user (the launcher reads it through /proc/<pid>/root).
  if (as_pod_user) {
    pod.AddContainerDisk("rootdisk", static_cast<uid_t>(std::stoi(t2::kPodUser)));
  } else {
    pod.AddContainerDisk("rootdisk");
  }
  pod.WriteVmi("bench", R"([{"name":"rootdisk","containerDisk":{"image":"t"}}])",
               R"([{"name":"rootdisk"}])");
  if (as_pod_user) {
    const std::string owner = std::string(t2::kPodUser) + ":" + t2::kPodUser;
    if (t2::RunCommand({"chown", "-R", owner, pod.root() + "/var/run/vireo"}).exit_code != 0) {
      std::fprintf(stderr, "launcher_bench: cannot give the pod's volumes to %s\n", t2::kPodUser);
      return false;
    }
    launch.prefix = t2::AsPodUser();
  }
  const std::string ready = pod.StateDir() + "/ready";
  // QEMU writes the pid file libvirt gives it as it starts: cheap to poll,
  // unlike a scan of /proc that would steal CPU from the launcher.
  const std::string qemu_pid_file =
      (daemon_pid > 0 ? std::string("/run/libvirt/qemu") : pod.StateDir() + "/libvirt/run/qemu") +
      "/t2_bench.pid";
  auto start = Clock::now();
  auto launcher = pod.StartLauncher(launch);
  Sample s;
  while (s.to_qemu_ms == 0 || s.to_ready_ms == 0) {
    if (s.to_qemu_ms == 0 && access(qemu_pid_file.c_str(), F_OK) == 0) s.to_qemu_ms = Ms(start);
    if (s.to_ready_ms == 0 && access(ready.c_str(), F_OK) == 0) s.to_ready_ms = Ms(start);
    if (!launcher->Running() || Ms(start) > 300'000) {
      std::fprintf(stderr, "launcher_bench: the launcher did not start QEMU:\n%s\n",
                   launcher->Stderr().c_str());
      return false;
    }
    std::this_thread::sleep_for(2ms);
  }
  std::vector<pid_t> qemu = t2::QemuProcessesMentioning(pod.root());
  if (!qemu.empty())
    s.qemu_rss_kib = ProcKb("/proc/" + std::to_string(qemu[0]) + "/status", "VmRSS");
  if (std::string said = t2::ReadFileOrEmpty(pod.StateDir() + "/caps-cache"); !said.empty()) {
    s.caps_cache = said.substr(0, said.find('\n'));
  }
  // The launcher's steady state: after its post-start trim.
  std::this_thread::sleep_for(1500ms);
  for (pid_t pid : t2::LauncherStack(launcher->pid())) AddMemory(pid, s);
  if (daemon_pid > 0) AddMemory(daemon_pid, s);
  launcher->Signal(SIGTERM);  // grace 0: destroyed at once
  launcher->Wait(60s);
  *out = s;
  return true;
}

struct Summary {
  std::string name;
  std::vector<Sample> samples;
  double extra_ms = 0;  // daemon: its own start until its socket answers
};

void Print(const std::vector<Summary>& all) {
  auto column = [&](const char* label, auto pick, const char* unit, double scale) {
    std::printf("%-44s", label);
    for (const Summary& s : all) {
      std::vector<double> v;
      for (const Sample& x : s.samples) v.push_back(pick(x));
      std::printf(" %16.1f", Median(v) * scale);
    }
    std::printf("  %s\n", unit);
  };
  std::printf("\nlauncher_bench: medians of each column's samples\n%-44s", "");
  for (const Summary& s : all) std::printf(" %16s", s.name.c_str());
  std::printf("\n%-44s", "samples");
  for (const Summary& s : all) std::printf(" %16zu", s.samples.size());
  std::printf("\n");
  column(
      "start -> QEMU process exists", [](const Sample& x) { return x.to_qemu_ms; }, "ms", 1);
  column(
      "start -> domain running (ready)", [](const Sample& x) { return x.to_ready_ms; }, "ms", 1);
  column(
      "launcher stack RSS, excl. QEMU", [](const Sample& x) { return x.stack_rss_kib; }, "MiB",
      1.0 / 1024);
  column(
      "launcher stack PSS, excl. QEMU", [](const Sample& x) { return x.stack_pss_kib; }, "MiB",
      1.0 / 1024);
  column(
      "QEMU RSS before the guest boots", [](const Sample& x) { return x.qemu_rss_kib; }, "MiB",
      1.0 / 1024);
  // Whether libvirt took the seeded capabilities or probed QEMU, per start:
  // a warm column whose starts probed measures the cold path.
  std::printf("%-44s", "capabilities cache (used/probed/none)");
  for (const Summary& s : all) {
    std::map<std::string, int> n;
    for (const Sample& x : s.samples) ++n[x.caps_cache];
    std::printf(" %16s", (std::to_string(n["used"]) + "/" + std::to_string(n["probed"]) + "/" +
                          std::to_string(n["none"]))
                             .c_str());
  }
  std::printf("  starts\n");
  for (const Summary& s : all) {
    if (s.extra_ms > 0) {
      std::printf(
          "%s: libvirtd start -> socket answering: %.1f ms (add it to the start "
          "figures for a pod that starts its daemon)\n",
          s.name.c_str(), s.extra_ms);
    }
  }
}

// --- the daemon side, in a private mount namespace -------------------------

bool Mkdirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  return !ec;
}

// Gives libvirtd temporary state and config directories, visible only to
// this process and its children. REQUIRES: single-threaded, root.
bool PrivateLibvirtDirs(const std::string& base) {
  if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) {
    std::perror("launcher_bench: private mount namespace");
    return false;
  }
  for (const char* dir : {"/etc/libvirt", "/run/libvirt", "/var/lib/libvirt", "/var/cache/libvirt",
                          "/var/log/libvirt"}) {
    if (!Mkdirs(base + dir) || !Mkdirs(dir) ||
        mount((base + dir).c_str(), dir, nullptr, MS_BIND, nullptr) != 0) {
      std::perror((std::string("launcher_bench: bind ") + dir).c_str());
      return false;
    }
  }
  // The same settings the embedded driver gets (launcher/libvirt_session.cc).
  t2::WriteFileOrDie("/etc/libvirt/qemu.conf",
                     "cgroup_controllers = [ ]\nuser = \"root\"\ngroup = \"root\"\n"
                     "security_driver = \"none\"\ndynamic_ownership = 0\nremember_owner = 0\n"
                     "stdio_handler = \"file\"\nnamespaces = [ ]\n");
  t2::WriteFileOrDie("/etc/libvirt/libvirtd.conf",
                     "unix_sock_dir = \"/run/libvirt\"\nauth_unix_rw = \"none\"\n"
                     "log_outputs = \"3:file:/var/log/libvirt/libvirtd.log\"\n");
  return true;
}

// Starts libvirtd; returns it once its socket accepts a client, and how long
// that took in `ms`.
std::unique_ptr<Process> StartDaemon(const std::string& base, double* ms) {
  fs::remove("/run/libvirt/libvirt-sock");
  auto start = Clock::now();
  auto daemon = std::make_unique<Process>(std::vector<std::string>{
      "libvirtd", "-f", "/etc/libvirt/libvirtd.conf", "-p", base + "/libvirtd.pid"});
  while (daemon->Running() && Ms(start) < 60'000) {
    if (fs::exists("/run/libvirt/libvirt-sock") &&
        t2::RunCommand({"virsh", "-c", "qemu:///system", "-q", "uri"}, 10s).exit_code == 0) {
      *ms = Ms(start);
      return daemon;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::fprintf(stderr, "launcher_bench: libvirtd did not come up:\n%s\n", daemon->Stderr().c_str());
  return nullptr;
}

int DaemonMain(int count) {
  char tmpl[] = "/tmp/vireo-bench-daemon.XXXXXX";
  if (mkdtemp(tmpl) == nullptr || !PrivateLibvirtDirs(tmpl)) return 1;
  const std::string base = tmpl;
  TestPod::Launch launch;
  launch.grace_seconds = 0;
  launch.extra_args = {"--libvirt-uri", "qemu:///system"};
  launch.capabilities_cache = false;
  // The first start makes libvirtd probe QEMU (as an image build would);
  // its cache then serves every later daemon.
  double ms = 0;
  {
    auto daemon = StartDaemon(base, &ms);
    Sample warmup;
    if (daemon == nullptr || !MeasureOnce(launch, daemon->pid(), &warmup)) return 1;
    daemon->Signal(SIGTERM);
    daemon->Wait(30s);
  }
  for (int i = 0; i < count; ++i) {
    auto daemon = StartDaemon(base, &ms);
    Sample s;
    if (daemon == nullptr || !MeasureOnce(launch, daemon->pid(), &s)) return 1;
    std::printf("SAMPLE %f %f %f %f %f %f\n", s.to_qemu_ms, s.to_ready_ms, s.stack_rss_kib,
                s.stack_pss_kib, s.qemu_rss_kib, ms);
    std::fflush(stdout);
    daemon->Signal(SIGTERM);
    daemon->Wait(30s);
  }
  fs::remove_all(base);
  return 0;
}

bool ParseDaemonSamples(const std::string& output, Summary* out) {
  std::istringstream lines(output);
  std::vector<double> extra;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("SAMPLE ", 0) != 0) continue;
    Sample s;
    double ms = 0;
    std::istringstream f(line.substr(7));
    f >> s.to_qemu_ms >> s.to_ready_ms >> s.stack_rss_kib >> s.stack_pss_kib >> s.qemu_rss_kib >>
        ms;
    out->samples.push_back(s);
    extra.push_back(ms);
  }
  out->extra_ms = Median(extra);
  return !out->samples.empty();
}

// Grace period 0, so each start ends with an immediate destroy.
TestPod::Launch Embedded(bool capabilities_cache) {
  TestPod::Launch launch;
  launch.grace_seconds = 0;
  launch.capabilities_cache = capabilities_cache;
  return launch;
}

int Main(int argc, char** argv) {
  int count = 20;
  int cold_count = 3;
  std::string mode = "all";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--count" && i + 1 < argc) {
      count = std::atoi(argv[++i]);
    } else if (arg == "--cold-count" && i + 1 < argc) {
      cold_count = std::atoi(argv[++i]);
    } else if (arg.rfind("--mode=", 0) == 0) {
      mode = arg.substr(7);
    } else {
      std::fprintf(stderr,
                   "usage: launcher_bench [--count N] [--cold-count M] "
                   "[--mode=all|embedded|daemon]\n");
      return 2;
    }
  }
  if (mode == "daemon") return DaemonMain(count);

  // Built and probed before any clock starts.
  t2::TestDiskQcow2();
  t2::CapabilitiesCache();
  std::vector<Summary> all;
  Summary warm{"embedded", {}, 0};
  Summary cold{"embedded-cold", {}, 0};
  std::fprintf(stderr, "launcher_bench: %d embedded starts with the capabilities cache\n", count);
  for (int i = 0; i < count; ++i) {
    Sample s;
    if (!MeasureOnce(Embedded(true), 0, &s)) return 1;
    warm.samples.push_back(s);
  }
  std::fprintf(stderr, "launcher_bench: %d embedded starts without it (libvirt probes)\n",
               cold_count);
  for (int i = 0; i < cold_count; ++i) {
    Sample s;
    if (!MeasureOnce(Embedded(false), 0, &s)) return 1;
    cold.samples.push_back(s);
  }
  all.push_back(warm);
  all.push_back(cold);
  if (geteuid() == 0) {
    // As the pod runs it: uid 107 without capabilities, against root's
    // columns. 107 cannot open /dev/kvm here, so the launcher picks the
    // cache's tcg variant, which the image ships (images/build.sh) and the
    // harness's root-made cache lacks: warm it, and let 107 read it.
    Summary pod_user{"embedded-uid107", {}, 0};
    const std::string caps = t2::CapabilitiesCache();
    if (t2::RunCommand({t2::LauncherBinary(), "warm-cache", "--out", caps, "--without-kvm"}, 300s)
                .exit_code != 0 ||
        t2::RunCommand({"chmod", "-R", "a+rX", caps}).exit_code != 0) {
      std::fprintf(stderr, "launcher_bench: cannot make the tcg capabilities cache for uid %s\n",
                   t2::kPodUser);
      return 1;
    }
    std::fprintf(stderr, "launcher_bench: %d embedded starts as uid %s, no capabilities\n", count,
                 t2::kPodUser);
    for (int i = 0; i < count; ++i) {
      Sample s;
      if (!MeasureOnce(Embedded(true), 0, &s, /*as_pod_user=*/true)) return 1;
      pod_user.samples.push_back(s);
    }
    all.push_back(pod_user);
  }
  if (mode == "all") {
    std::fprintf(stderr, "launcher_bench: %d starts with libvirtd in the pod\n", count);
    Process daemon({"/proc/self/exe", "--mode=daemon", "--count", std::to_string(count)},
                   {{"VIREO_TEST_DISK", t2::TestDiskRaw()}});
    daemon.CloseStdin();
    auto code = daemon.Wait(1800s);
    Summary summary{"libvirtd", {}, 0};
    if (code != 0 || !ParseDaemonSamples(daemon.Stdout(), &summary)) {
      std::fprintf(stderr, "launcher_bench: the daemon side failed:\n%s\n",
                   daemon.Stderr().c_str());
      return 1;
    }
    all.push_back(summary);
  }
  Print(all);
  std::printf("aims: start <= 300 ms, launcher stack <= 16 MiB\n");
  return 0;
}

}  // namespace
}  // namespace vireo::bench

int main(int argc, char** argv) {
  // The harness throws when the machine cannot run the bench at all; caught
  // here so destructors stop what was started (a libvirtd, launchers).
  try {
    return vireo::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "launcher_bench: %s\n", e.what());
    return 1;
  }
}
