// bench/informer: loads VirtualMachine objects into the real apiserver, then
// prints how long an informer takes to list and sync them, how fast watch
// events are decoded, and the process RSS with the cache full; then gives
// the VMs the status vireo-controller writes, adds as many VMIs as it
// leaves a finished one, and prints what vireo-controller, run as a process,
// takes to sync its caches of both and what it holds in memory.
#include <malloc.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lib/api/resources.h"
#include "lib/kube/client.h"
#include "lib/kube/informer.h"
#include "lib/kube/watcher.h"
#include "tests/integration/cluster_env.h"
#include "tests/integration/controller_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::bench {
namespace {

using Clock = std::chrono::steady_clock;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A number from /proc/<pid>/status ("Threads:", "VmRSS:" in KiB); -1 when absent.
double StatusValue(const std::string& pid, const char* field) {
  std::ifstream status("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::strtod(line.c_str() + std::strlen(field), nullptr);
  }
  return -1;
}

// A "VmRSS:"-style figure of /proc/PID/status, in MiB.
double StatusMiB(const std::string& pid, const char* field) {
  const double kib = StatusValue(pid, field);
  return kib < 0 ? -1 : kib / 1024.0;
}

// Resident set size of this process, in MiB.
double RssMiB() { return StatusMiB("self", "VmRSS:"); }

// A VMI as vireo-controller makes one from a VM's template, with the
// status a guest that ran and powered off leaves: the size and shape of
// what a fleet's caches hold.
base::Json MakeFinishedVmi(const std::string& name) {
  base::Json vmi = testing::MakeVm(name)["spec"]["template"];
  vmi["apiVersion"] = "kubevirt.io/v1";
  vmi["kind"] = "VirtualMachineInstance";
  vmi["metadata"]["name"] = name;
  vmi["metadata"]["labels"]["kubevirt.io/nodeName"] = "node-1";
  vmi["metadata"]["annotations"]["kubevirt.io/latest-observed-api-version"] = "v1";
  vmi["spec"]["domain"]["resources"]["requests"]["memory"] = "64Mi";
  vmi["spec"]["domain"]["firmware"]["uuid"] = "5d307ca9-b3ef-428c-8861-06e72d69f223";
  vmi["spec"]["networks"] = base::Json::parse(R"([{"name": "default", "pod": {}}])");
  vmi["spec"]["domain"]["devices"]["interfaces"] =
      base::Json::parse(R"([{"name": "default", "masquerade": {}}])");
  return vmi;
}

base::Json FinishedStatus() {
  return base::Json::parse(R"({
    "phase": "Succeeded", "nodeName": "node-1", "qosClass": "Burstable",
    "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted",
                    "lastProbeTime": null, "lastTransitionTime": "2026-12-06T11:14:52Z"}],
    "phaseTransitionTimestamps": [
      {"phase": "Pending", "phaseTransitionTimestamp": "2026-12-06T11:14:51Z"},
      {"phase": "Scheduling", "phaseTransitionTimestamp": "2026-12-06T11:14:51Z"},
      {"phase": "Scheduled", "phaseTransitionTimestamp": "2026-12-06T11:14:52Z"},
      {"phase": "Running", "phaseTransitionTimestamp": "2026-12-06T11:14:53Z"},
      {"phase": "Succeeded", "phaseTransitionTimestamp": "2026-12-06T11:20:07Z"}],
    "interfaces": [{"name": "default", "ipAddress": "10.244.0.12",
                    "ipAddresses": ["10.244.0.12"], "mac": "52:54:00:12:34:56"}],
    "volumeStatus": [{"name": "root", "target": "vda"}]})");
}

// What vireo-controller writes on the bench's objects (finalizers, status),
// from one VM and one finished VMI it reconciled in a namespace of their
// own. The fleet is loaded with them, so the controller started on it has
// nothing to write: a restarted controller over the fleet it made.
struct ControllerMade {
  base::Json vm_finalizers, vm_status, vmi_finalizers, vmi_status;
};

base::Json MakeBenchVm(const std::string& name) {
  return testing::MakeVm(name, R"({"bench": "informer"})");
}

// Runs write(i) for i in [0, count) on `writers` threads; false after
// reporting the first failures (`what`).
bool ParallelWrites(int count, int writers, const char* what,
                    const std::function<base::Status(int)>& write) {
  std::atomic<int> next{0}, failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        base::Status status = write(i);
        if (!status.ok() && failures++ < 3) {
          std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failures > 0) std::fprintf(stderr, "%d writes failed (%s)\n", failures.load(), what);
  return failures == 0;
}

// Creates `count` VMIs named vmi-N with the finalizers and the status the
// controller gave the template VMI.
bool LoadFinishedVmis(kube::Client* client, const std::string& ns, int count, int writers,
                      const ControllerMade& made) {
  return ParallelWrites(count, writers, "vmi", [&](int i) {
    base::Json vmi = MakeFinishedVmi("vmi-" + std::to_string(i));
    vmi["metadata"]["finalizers"] = made.vmi_finalizers;
    auto created = client->Create(kv::kVirtualMachineInstances, ns, vmi);
    if (!created.ok()) return created.status();
    (*created)["status"] = made.vmi_status;
    return client->UpdateStatus(kv::kVirtualMachineInstances, *created).status();
  });
}

// Waits until `controller`'s reconcile counters stand still for 3 s; false
// after `limit` from `start`.
bool WaitSettled(testing::ControllerProcess& controller, Clock::time_point start, double limit_s,
                 double* reconciles_done) {
  auto reconciles = [&] {
    return controller.Metric(R"(vireo_reconcile_total{controller="vm"})").value_or(-1) +
           controller.Metric(R"(vireo_reconcile_total{controller="vmi"})").value_or(-1);
  };
  double last = -1;
  for (auto quiet_since = Clock::now(); Seconds(quiet_since) < 3;
       std::this_thread::sleep_for(std::chrono::milliseconds(500))) {
    double now = reconciles();
    if (now != last) quiet_since = Clock::now();
    last = now;
    if (Seconds(start) > limit_s) return false;
  }
  *reconciles_done = last;
  return true;
}

std::optional<ControllerMade> LearnControllerWrites(testing::ClusterEnv& env,
                                                    kube::Client* client) {
  const std::string ns = env.CreateNamespace("bench-informer-template");
  auto vm = client->Create(kv::kVirtualMachines, ns, MakeBenchVm("vm-0"));
  auto vmi = client->Create(kv::kVirtualMachineInstances, ns, MakeFinishedVmi("vmi-0"));
  if (vmi.ok()) {
    (*vmi)["status"] = FinishedStatus();
    vmi = client->UpdateStatus(kv::kVirtualMachineInstances, *vmi);
  }
  if (!vm.ok() || !vmi.ok()) {
    std::fprintf(stderr, "template objects: %s\n",
                 (vm.ok() ? vmi.status() : vm.status()).ToString().c_str());
    return std::nullopt;
  }
  testing::ControllerProcess::Flags flags;
  flags.ns = ns;
  testing::ControllerProcess controller(flags);
  auto start = Clock::now();
  controller.Start();
  double reconciles = 0;
  if (!controller.WaitReady(std::chrono::seconds(60)) ||
      !WaitSettled(controller, start, 60, &reconciles)) {
    std::fprintf(stderr, "template controller did not settle:\n%s\n", controller.Log().c_str());
    return std::nullopt;
  }
  controller.Signal(SIGTERM);
  controller.Wait(std::chrono::seconds(30));
  vm = client->Get(kv::kVirtualMachines, ns, "vm-0");
  vmi = client->Get(kv::kVirtualMachineInstances, ns, "vmi-0");
  if (!vm.ok() || !vmi.ok()) return std::nullopt;
  auto finalizers = [](const base::Json& object) {
    const base::Json* f = base::Find(object, "metadata.finalizers");
    return f != nullptr ? *f : base::Json::array();
  };
  ControllerMade made{finalizers(*vm), (*vm)["status"], finalizers(*vmi), (*vmi)["status"]};
  // Let the namespace go: nothing removes the finalizers once the
  // controller is stopped.
  base::Json patch = base::Json::parse(R"({"metadata": {"finalizers": null}})");
  for (const auto& [resource, name] : {std::pair{&kv::kVirtualMachines, "vm-0"},
                                       std::pair{&kv::kVirtualMachineInstances, "vmi-0"}}) {
    if (auto patched = client->Patch(*resource, ns, name, kube::PatchType::kMerge, patch);
        !patched.ok()) {
      std::fprintf(stderr, "template %s: %s\n", name, patched.status().ToString().c_str());
    }
  }
  std::string out;
  env.Kubectl("delete namespace " + ns + " --wait=false", &out);
  return made;
}

// vireo-controller on `ns`: how long until its caches synced (/readyz), and
// its memory once the reconciles stopped.
int RunController(const std::string& ns, int vms, int vmis) {
  testing::ControllerProcess::Flags flags;
  flags.ns = ns;
  testing::ControllerProcess controller(flags);
  auto start = Clock::now();
  controller.Start();
  if (!controller.WaitReady(std::chrono::minutes(5))) {
    std::fprintf(stderr, "controller not ready:\n%s\n", controller.Log().c_str());
    return 1;
  }
  double ready_s = Seconds(start);
  double ready_rss = StatusMiB(std::to_string(controller.pid()), "VmRSS:");
  double last = 0;
  if (!WaitSettled(controller, start, 600, &last)) {
    std::fprintf(stderr, "controller still reconciling after 10 minutes\n");
    return 1;
  }
  const std::string pid = std::to_string(controller.pid());

  double rss = StatusMiB(pid, "VmRSS:"), peak = StatusMiB(pid, "VmHWM:");
  double cached_vms =
      controller.Metric(R"(vireo_cached_objects{resource="virtualmachines"})").value_or(-1);
  double cached_vmis =
      controller.Metric(R"(vireo_cached_objects{resource="virtualmachineinstances"})").value_or(-1);
  std::printf("bench/informer: vireo-controller with %d VMs and %d VMIs (Succeeded, with status)\n",
              vms, vmis);
  std::printf("  start -> caches synced:    %.2f s (/readyz), RSS then %.1f MiB\n", ready_s,
              ready_rss);
  std::printf("  settled after:             %.1f s, %.0f reconciles\n", Seconds(start) - 3, last);
  std::printf("  cached:                    %.0f VMs, %.0f VMIs\n", cached_vms, cached_vmis);
  std::printf("  controller RSS:            %.1f MiB, peak %.1f MiB [target <= 30 MB = 28.6 MiB]\n",
              rss, peak);
  std::printf(
      "  ... of it:                 %.1f MiB anonymous, %.1f MiB files (code); %.0f threads\n",
      StatusMiB(pid, "RssAnon:"), StatusMiB(pid, "RssFile:"), StatusValue(pid, "Threads:"));
  return cached_vms == vms && cached_vmis == vmis ? 0 : 1;
}

int Run(int count, int writers, bool with_controller) {
  auto& env = testing::ClusterEnv::Get();
  std::string ns = env.CreateNamespace("bench-informer");
  auto client = env.AdminClient();

  auto before = client->List(kv::kVirtualMachines, ns);
  if (!before.ok()) {
    std::fprintf(stderr, "list: %s\n", before.status().ToString().c_str());
    return 1;
  }
  const std::string start_rv = before->resource_version;

  // What the controller part loads the fleet with, learnt first so the VMs
  // are created with their finalizers.
  std::optional<ControllerMade> made;
  if (with_controller) {
    made = LearnControllerWrites(env, client.get());
    if (!made.has_value()) return 1;
  }

  // Load: `writers` threads each creating their share.
  auto load_start = Clock::now();
  const bool loaded = ParallelWrites(count, writers, "create", [&](int i) {
    base::Json vm = MakeBenchVm("vm-" + std::to_string(i));
    if (made.has_value()) vm["metadata"]["finalizers"] = made->vm_finalizers;
    return client->Create(kv::kVirtualMachines, ns, vm).status();
  });
  double load_s = Seconds(load_start);
  if (!loaded) return 1;

  // Informer: list (paginated) + sync into the cache.
  // The baseline without the load's freed heap, as the trimmed figure below.
  malloc_trim(0);
  double rss_before = RssMiB();
  kube::Informer informer(std::make_unique<kube::ClientListerWatcher>(
      client.get(), kv::kVirtualMachines, kube::Selection{ns, "", ""}));
  std::atomic<int> added{0};
  kube::InformerHandlers count_adds;
  count_adds.on_add = [&](const kube::ObjectPtr&) { ++added; };
  informer.AddHandlers(std::move(count_adds));
  auto sync_start = Clock::now();
  informer.Run();
  if (!informer.WaitForSync(std::chrono::minutes(5))) {
    std::fprintf(stderr, "informer did not sync in 5 minutes\n");
    return 1;
  }
  double sync_s = Seconds(sync_start);
  size_t cached = informer.store().size();
  double rss_full = RssMiB();
  // What the cache really holds, without the list pages glibc keeps around.
  malloc_trim(0);
  double rss_trimmed = RssMiB();

  // Watch throughput: replay every ADDED since before the load from the
  // apiserver's watch cache, decoding as fast as it arrives.
  kube::WatchOptions opts;
  opts.resource_version = start_rv;
  opts.allow_bookmarks = false;
  auto watch_start = Clock::now();
  auto stream = client->Watch(kv::kVirtualMachines, ns, opts);
  int events = 0;
  std::string watch_note = "replayed from the apiserver's watch cache";
  if (stream.ok()) {
    while (events < count) {
      auto ev = (*stream)->Next();
      if (!ev.ok()) {
        watch_note = "stream ended early: " + ev.status().ToString();
        break;
      }
      ++events;
    }
  } else {
    watch_note = "watch refused: " + stream.status().ToString();
  }
  double watch_s = Seconds(watch_start);
  informer.Stop();

  std::printf("bench/informer: %d VirtualMachines, namespace %s\n", count, ns.c_str());
  std::printf("  load (%d writers):         %.1f s, %.0f creates/s\n", writers, load_s,
              count / load_s);
  std::printf("  informer list+sync:        %.2f s (%zu cached, %d add handlers)\n", sync_s, cached,
              added.load());
  std::printf("  watch events:              %d in %.2f s = %.0f events/s (%s)\n", events, watch_s,
              events / watch_s, watch_note.c_str());
  std::printf("  RSS before informer:       %.1f MiB\n", rss_before);
  std::printf("  RSS with the cache full:   %.1f MiB (%.1f KiB per object)\n", rss_full,
              (rss_full - rss_before) * 1024.0 / static_cast<double>(count));
  std::printf("  ... after malloc_trim:     %.1f MiB (%.1f KiB per object)\n", rss_trimmed,
              (rss_trimmed - rss_before) * 1024.0 / static_cast<double>(count));
  const kube::Store::Footprint footprint = informer.store().footprint();
  std::printf("  held packed:               %.1f MiB of %.1f MiB JSON text (%.0f B per object)\n",
              footprint.packed_bytes / 1048576.0, footprint.text_bytes / 1048576.0,
              static_cast<double>(footprint.packed_bytes) / static_cast<double>(count));
  std::fflush(stdout);

  int rc = cached == static_cast<size_t>(count) ? 0 : 1;
  if (rc == 0 && made.has_value()) {
    auto vmi_start = Clock::now();
    const base::Json status_patch = {{"status", made->vm_status}};
    if (!ParallelWrites(count, writers, "vm status",
                        [&](int i) {
                          return client
                              ->Patch(kv::kVirtualMachines, ns, "vm-" + std::to_string(i),
                                      kube::PatchType::kMerge, status_patch, "status")
                              .status();
                        }) ||
        !LoadFinishedVmis(client.get(), ns, count, writers, *made)) {
      return 1;
    }
    std::printf(
        "  %d VM statuses and %d VMIs with status, as the controller writes them, "
        "loaded in %.1f s\n",
        count, count, Seconds(vmi_start));
    rc = RunController(ns, count, count);
  }

  std::string out;
  env.Kubectl("delete namespace " + ns + " --wait=false", &out);
  return rc;
}

}  // namespace
}  // namespace vireo::bench

int main(int argc, char** argv) {
  int count = 10000, writers = 8;
  bool with_controller = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-controller") == 0) {
      with_controller = false;
      continue;
    }
    if (i + 1 == argc) {
      std::fprintf(stderr, "usage: %s [--count N] [--writers N] [--no-controller]\n", argv[0]);
      return 2;
    }
    if (std::strcmp(argv[i], "--count") == 0)
      count = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--writers") == 0)
      writers = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--count N] [--writers N] [--no-controller]\n", argv[0]);
      return 2;
    }
  }
  if (count <= 0 || writers <= 0) {
    std::fprintf(stderr, "--count and --writers must be positive\n");
    return 2;
  }
  return vireo::bench::Run(count, writers, with_controller);
}
