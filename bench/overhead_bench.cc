// bench/overhead: the launcher pod's memory beyond the guest's RAM, measured
// at its peak, and the MemoryOverhead formula those peaks give.
//
// For each cell of vCPUs x disks, vireo-launcher (TCG, as the T2 harness
// runs it) boots the test disk in a memory cgroup of its own, the cgroup a
// pod's container would be charged in. Through the console the guest fills
// its RAM (a tmpfs up to what the guest has free), writes to every disk for
// --workload-seconds, then powers off. Every 100 ms the bench reads
//   unreclaimable = cgroup usage - page cache (what an OOM kill counts),
//   mapped files  = the resident file pages the processes map (libraries),
//                   each once, wherever the page cache charged them,
//   guest RAM     = QEMU's resident pages of the guest's RAM mapping,
//   TCG cache     = QEMU's resident pages of its translation cache,
//   stack PSS     = vireo-launcher (with its embedded libvirt) and every
//                   child that is not QEMU,
// and keeps the peak of
//   overhead = unreclaimable + mapped files - guest RAM - TCG cache.
// The TCG cache is counted at its cap (the launcher's tb-cache), not its
// use: another guest's code can fill it. The fit: per-vCPU and per-disk
// slopes by least squares, rounded up to whole MiB, and the fixed part the
// largest remainder, so the formula covers every measured peak; the margin
// (--margin-mib, the chart's launcher.memoryOverheadMargin) comes on top.
// Prints figures; asserts nothing. KVM is not measured here: guests hang
// under this machine's /dev/kvm.
//
//   VIREO_LAUNCHER=... VIREO_TEST_DISK_BUILD=... build/bench/overhead_bench
//       [--vcpus 1,2,4] [--disks 1,2,3,4] [--memory-mib 1024] [--workload-seconds 15]
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/pod_memory.h"
#include "lib/api/launcher_pod.h"
#include "tests/launcher/harness.h"

namespace vireo::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using t2::Process;
using t2::TestPod;

constexpr double kMiB = 1024.0 * 1024.0;
// The launcher's tb-cache, the TCG term.
constexpr int64_t kTcgCacheMiB = api::launcher_pod::kTcgTranslationCacheMiB;

std::vector<int> ParseList(const std::string& text) {
  std::vector<int> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::atoi(item.c_str()));
  return out;
}

struct Cell {
  int vcpus = 0, disks = 0;
  int64_t overhead = 0;          // peak of unreclaimable - guest RAM - TCG cache
  int64_t tcg_cache = 0;         // peak resident TCG cache
  int64_t guest = 0;             // peak resident guest RAM
  int64_t stack_pss = 0;         // peak
  int64_t stack_pss_steady = 0;  // the last sample before the guest powers off
  int64_t qemu_rest = 0;         // peak of QEMU's RSS without guest RAM and TCG cache
  int64_t peak_with_cache = 0;   // the cgroup's own peak, page cache included
  double seconds = 0;
};

std::string VmiJson(int vcpus, int disks, int memory_mib) {
  std::string volumes = R"([{"name":"rootdisk","containerDisk":{"image":"t"}})";
  std::string devices = R"([{"name":"rootdisk","disk":{"bus":"virtio"}})";
  for (int i = 1; i < disks; ++i) {
    std::string name = "data" + std::to_string(i);
    volumes +=
        R"(,{"name":")" + name + R"(","persistentVolumeClaim":{"claimName":")" + name + R"("}})";
    devices += R"(,{"name":")" + name + R"(","disk":{"bus":"virtio"}})";
  }
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",)"
         R"("metadata":{"name":"overhead","namespace":"bench","uid":"5b0c1d2e-3f40-4a5b-9c6d-7e8f90a1b2c3"},)"
         R"("spec":{"terminationGracePeriodSeconds":30,"domain":{"cpu":{"cores":)" +
         std::to_string(vcpus) + R"(},"memory":{"guest":")" + std::to_string(memory_mib) +
         R"(Mi"},"devices":{"autoattachPodInterface":false,"disks":)" + devices +
         "]}},\"volumes\":" + volumes + "]}}";
}

bool MeasureCell(int vcpus, int disks, int memory_mib, int workload_seconds, bool trace,
                 Cell* out) {
  TestPod pod;
  pod.AddContainerDisk("rootdisk");
  for (int i = 1; i < disks; ++i) pod.AddPvc("data" + std::to_string(i), 256LL << 20);
  t2::WriteFileOrDie(pod.VmiFile(), VmiJson(vcpus, disks, memory_mib));
  MemoryCgroup cgroup;
  TestPod::Launch launch;
  launch.grace_seconds = 30;
  launch.prefix = cgroup.Prefix();
  const int64_t guest_bytes = int64_t{memory_mib} << 20;
  auto start = Clock::now();
  auto launcher = pod.StartLauncher(launch);

  Cell cell{vcpus, disks};
  std::atomic<bool> done{false}, workload_done{false};
  bool found_guest = false;
  std::string sampler_error;  // what stopped the sampler early
  std::thread sampler([&] {
    while (!done) try {
        std::vector<pid_t> qemu = t2::QemuProcessesMentioning(pod.root());
        if (qemu.empty()) {
          std::this_thread::sleep_for(20ms);
          continue;
        }
        // QEMU's mappings read on both sides of the cgroup's figures, the
        // guest's share taken as their mean (the guest fills its RAM at
        // about 100 MiB/s). A sample without the guest's RAM mapped (QEMU
        // starting, or its memory being torn down while still charged), or
        // with a process that ended while its pages were counted, counts
        // for nothing.
        QemuResident q = ReadQemu(qemu[0], guest_bytes);
        const int64_t unreclaimable = cgroup.Unreclaimable();
        const std::optional<int64_t> mapped = cgroup.MappedFiles();
        QemuResident after = ReadQemu(qemu[0], guest_bytes);
        if (!mapped || !q.found_guest || !after.found_guest) {
          std::this_thread::sleep_for(20ms);
          continue;
        }
        found_guest = true;
        const int64_t resident = unreclaimable + *mapped;
        q.guest = (q.guest + after.guest) / 2;
        cell.overhead = std::max(cell.overhead, resident - q.guest - q.tcg_cache);
        cell.tcg_cache = std::max(cell.tcg_cache, q.tcg_cache);
        cell.guest = std::max(cell.guest, q.guest);
        cell.qemu_rest = std::max(cell.qemu_rest, q.total - q.guest - q.tcg_cache);
        // While QEMU runs: after it, the pages the launcher shared with it
        // are the launcher's alone in PSS, though the pod holds fewer.
        const int64_t stack_pss = StackPss(launcher->pid());
        cell.stack_pss = std::max(cell.stack_pss, stack_pss);
        if (!workload_done) cell.stack_pss_steady = stack_pss;
        if (trace) {
          std::fprintf(
              stderr,
              "%8.1f s  resident %.1f  guest %.1f  tcg %.1f  qemu rest %.1f  stack %.1f MiB\n",
              std::chrono::duration<double>(Clock::now() - start).count(), resident / kMiB,
              q.guest / kMiB, q.tcg_cache / kMiB, (q.total - q.guest - q.tcg_cache) / kMiB,
              stack_pss / kMiB);
        }
        std::this_thread::sleep_for(100ms);
      } catch (const std::exception& e) {
        sampler_error = e.what();
        return;
      }
  });
  auto fail = [&](const std::string& why) {
    done = true;
    if (sampler.joinable()) sampler.join();
    launcher->Signal(SIGKILL);
    launcher->Wait(30s);
    std::fprintf(stderr, "overhead_bench: %d vCPU / %d disk(s): %s\n--- launcher ---\n%s\n", vcpus,
                 disks, why.c_str(), launcher->Stderr().c_str());
    return false;
  };
  if (!pod.WaitReady(*launcher, 300s)) return fail("the launcher never became ready");
  auto console = pod.AttachConsole();
  if (!console->WaitForStdout("VIREO-TEST-DISK READY", 300s)) return fail("the guest never booted");
  // Fill the guest's RAM, leaving it 48 MiB to run the disk writes.
  if (!t2::Converse(*console,
                    "mkdir -p /run/fill && mount -t tmpfs -o size=100% tmpfs /run/fill && "
                    "n=$(awk '/MemAvailable/ {print int($2/1024) - 48}' /proc/meminfo) && "
                    "dd if=/dev/zero of=/run/fill/f bs=1M count=$n 2>/dev/null; "
                    "echo filled-$((40+2)) $n",
                    "filled-42", 600s)) {
    return fail("the memory fill did not finish");
  }
  // Write to every disk (the boot disk's partition and each data disk) in
  // turn for the workload's time, each write on the disk before it returns.
  if (!t2::Converse(*console,
                    "end=$(($(date +%s) + " + std::to_string(workload_seconds) +
                        ")); while [ $(date +%s) -lt $end ]; do for d in /mnt/boot /mnt/data*; do "
                        "[ -d $d ] && dd if=/dev/urandom of=$d/w bs=1M count=4 conv=fsync "
                        "2>/dev/null; done; done; echo wrote-$((50+5))",
                    "wrote-55", std::chrono::seconds(workload_seconds + 600))) {
    return fail("the disk writes did not finish");
  }
  workload_done = true;
  console->Write("poweroff\n");
  auto code = launcher->Wait(300s);
  cell.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  done = true;
  sampler.join();
  cell.peak_with_cache = cgroup.PeakWithCache();
  if (!sampler_error.empty()) return fail("measuring: " + sampler_error);
  if (code != 0) return fail("the launcher did not exit 0 after the guest powered off");
  if (!found_guest) return fail("QEMU's guest RAM mapping was not found in its smaps");
  *out = cell;
  return true;
}

// Least squares for overhead = a + b * vcpus + c * disks.
std::array<double, 3> Fit(const std::vector<Cell>& cells) {
  double m[3][4] = {};
  for (const Cell& c : cells) {
    const double x[3] = {1, static_cast<double>(c.vcpus), static_cast<double>(c.disks)};
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) m[i][j] += x[i] * x[j];
      m[i][3] += x[i] * static_cast<double>(c.overhead);
    }
  }
  for (int col = 0; col < 3; ++col) {  // Gauss-Jordan with partial pivoting
    int pivot = col;
    for (int r = col + 1; r < 3; ++r)
      if (std::fabs(m[r][col]) > std::fabs(m[pivot][col])) pivot = r;
    std::swap(m[col], m[pivot]);
    if (std::fabs(m[col][col]) < 1e-9) return {0, 0, 0};  // too few distinct cells
    for (int r = 0; r < 3; ++r) {
      if (r == col) continue;
      double f = m[r][col] / m[col][col];
      for (int k = col; k < 4; ++k) m[r][k] -= f * m[col][k];
    }
  }
  return {m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]};
}

int Main(int argc, char** argv) {
  std::vector<int> vcpus = {1, 2, 4}, disks = {1, 2, 3, 4};
  int memory_mib = 1024, workload_seconds = 15, margin_mib = 16;
  bool trace = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--vcpus") {
      vcpus = ParseList(next());
    } else if (arg == "--disks") {
      disks = ParseList(next());
    } else if (arg == "--memory-mib") {
      memory_mib = std::atoi(next().c_str());
    } else if (arg == "--workload-seconds") {
      workload_seconds = std::atoi(next().c_str());
    } else if (arg == "--trace") {
      trace = true;  // every sample on stderr
    } else if (arg == "--margin-mib") {
      margin_mib = std::atoi(next().c_str());
    } else {
      std::fprintf(stderr,
                   "usage: overhead_bench [--vcpus 1,2,4] [--disks 1,2,3,4] [--memory-mib N] "
                   "[--workload-seconds S] [--margin-mib M] [--trace]\n");
      return 2;
    }
  }
  t2::TestDiskQcow2();
  t2::CapabilitiesCache();
  std::vector<Cell> cells;
  for (int v : vcpus) {
    for (int d : disks) {
      std::fprintf(stderr, "overhead_bench: %d vCPU, %d disk(s), %d MiB guest\n", v, d, memory_mib);
      Cell cell;
      if (!MeasureCell(v, d, memory_mib, workload_seconds, trace, &cell)) return 1;
      cells.push_back(cell);
    }
  }
  // Without the guest's page tables (8 bytes per 4 KiB page: the formula's
  // guest / 512 term), so the fit sees what does not grow with the guest.
  const int64_t page_tables = (int64_t{memory_mib} << 20) / 512;
  std::vector<Cell> fitted = cells;
  for (Cell& c : fitted) c.overhead -= page_tables;
  if (vcpus.size() < 2 || disks.size() < 2) {
    std::printf("(one vCPU count or one disk count: its slope cannot be fitted and reads 0)\n");
  }
  auto [a, b, c] = Fit(fitted);
  const int64_t per_vcpu = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(b / kMiB)));
  const int64_t per_disk = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(c / kMiB)));
  int64_t fixed = 0;
  for (const Cell& x : fitted) {
    fixed = std::max<int64_t>(fixed, static_cast<int64_t>(std::ceil(x.overhead / kMiB)) -
                                         per_vcpu * x.vcpus - per_disk * x.disks);
  }

  std::printf(
      "\noverhead_bench: peaks per launcher run, %d MiB guest under TCG, %d s of disk "
      "writes after filling the guest's RAM\n",
      memory_mib, workload_seconds);
  std::printf("%5s %5s %12s %12s %12s %12s %12s %12s %14s %14s %8s\n", "vCPUs", "disks", "overhead",
              "TCG cache", "guest RAM", "QEMU rest", "stack PSS", "steady", "cgroup+cache",
              "formula", "run s");
  for (size_t i = 0; i < cells.size(); ++i) {
    const Cell& x = cells[i];
    // Comparable with the overhead column: neither counts the TCG cache.
    const int64_t formula = fixed + per_vcpu * x.vcpus + per_disk * x.disks + (page_tables >> 20);
    std::printf(
        "%5d %5d %10.1f M %10.1f M %10.1f M %10.1f M %10.1f M %10.1f M %12.1f M %12lld M %8.1f\n",
        x.vcpus, x.disks, x.overhead / kMiB, x.tcg_cache / kMiB, x.guest / kMiB, x.qemu_rest / kMiB,
        x.stack_pss / kMiB, x.stack_pss_steady / kMiB, x.peak_with_cache / kMiB,
        static_cast<long long>(formula), x.seconds);
  }
  int64_t stack_peak = 0, stack_steady = 0;
  for (const Cell& x : cells) {
    stack_peak = std::max(stack_peak, x.stack_pss);
    stack_steady = std::max(stack_steady, x.stack_pss_steady);
  }
  std::printf("least squares (MiB): %.1f + %.2f x vCPUs + %.2f x disks\n", a / kMiB, b / kMiB,
              c / kMiB);
  std::printf(
      "formula (MiB): fixed %lld + %lld x vCPUs + %lld x disks + guest/512 + TCG cache "
      "%lld (TCG only) + margin %d\n",
      static_cast<long long>(fixed), static_cast<long long>(per_vcpu),
      static_cast<long long>(per_disk), static_cast<long long>(kTcgCacheMiB), margin_mib);
  const int64_t aim_guest = fixed + per_vcpu + 2 * per_disk + 2 + kTcgCacheMiB + margin_mib;
  std::printf("1 vCPU / 1 GiB / 2 disks under TCG: overhead %lld MiB with the margin (aim <= 96)\n",
              static_cast<long long>(aim_guest));
  std::printf(
      "launcher stack PSS, excl. QEMU, largest of all runs: %.1f MiB at its peak (the "
      "domain's start), %.1f MiB while the guest runs (aim <= 16)\n",
      stack_peak / kMiB, stack_steady / kMiB);
  return 0;
}

}  // namespace
}  // namespace vireo::bench

int main(int argc, char** argv) {
  try {
    return vireo::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "overhead_bench: %s\n", e.what());
    return 1;
  }
}
