// bench/controller: creates N VirtualMachines (runStrategy Always) against
// the real apiserver with vireo-controller running as its ServiceAccount, at
// once or at a steady rate (--rate),
// and prints the time from each VM's creation to its launcher pod's (P50,
// P95), the API requests per VM by verb and resource (the apiserver's
// apiserver_request_total before and after), and the controller's peak RSS
// and CPU seconds. Figures, not assertions. The VMs' namespace has the
// chart's VM finalizer policy (--finalizer-policy off: the controller adds
// the finalizer, as on a cluster without MutatingAdmissionPolicy).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/api/resources.h"
#include "lib/base/json.h"
#include "lib/kube/informer.h"
#include "tests/integration/cluster_env.h"
#include "tests/integration/controller_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::bench {
namespace {

using Clock = std::chrono::steady_clock;
using base::Json;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

// apiserver_request_total summed over codes and scopes, keyed
// "VERB resource[/subresource]".
std::map<std::string, double> RequestCounts(testing::ClusterEnv& env) {
  std::string text;
  std::map<std::string, double> counts;
  if (env.Kubectl("get --raw /metrics", &text) != 0) return counts;
  std::istringstream lines(text);
  std::string line;
  auto label = [](const std::string& l, const std::string& name) {
    size_t at = l.find(name + "=\"");
    if (at == std::string::npos) return std::string();
    at += name.size() + 2;
    return l.substr(at, l.find('"', at) - at);
  };
  while (std::getline(lines, line)) {
    if (line.rfind("apiserver_request_total{", 0) != 0) continue;
    std::string key = label(line, "verb") + " " + label(line, "resource");
    std::string sub = label(line, "subresource");
    if (!sub.empty()) key += "/" + sub;
    counts[key] += std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
  }
  return counts;
}

bool IsWrite(const std::string& key) {
  for (const char* verb : {"POST ", "PUT ", "PATCH ", "DELETE ", "APPLY "}) {
    if (key.rfind(verb, 0) == 0) return true;
  }
  return false;
}

// Peak RSS (VmHWM, MiB) and CPU seconds of process `pid`.
void ProcessFigures(pid_t pid, double* peak_rss_mib, double* cpu_seconds) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) *peak_rss_mib = std::strtod(line.c_str() + 6, nullptr) / 1024;
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  *cpu_seconds = ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int Run(int count, int writers, int workers_per_queue, double rate, bool finalizer_policy) {
  auto& env = testing::ClusterEnv::Get();
  std::string ns = env.CreateNamespace("bench-controller");
  auto client = env.AdminClient();
  // The chart's policy, as installed on a cluster that serves the API: the
  // apiserver sets each VM's finalizer as it is created.
  testing::VmFinalizerPolicy policy(ns);
  if (finalizer_policy) {
    if (base::Status installed = policy.Install(); !installed.ok()) {
      std::fprintf(stderr, "the VM finalizer policy: %s\n", installed.ToString().c_str());
      return 1;
    }
  }

  testing::ControllerProcess::Flags flags;
  flags.ns = ns;
  flags.extra = {"--log-level=info", "--workers=" + std::to_string(workers_per_queue)};
  testing::ControllerProcess controller(flags);
  controller.Start();
  if (!controller.WaitReady(std::chrono::seconds(60))) {
    std::fprintf(stderr, "controller not ready:\n%s\n", controller.Log().c_str());
    return 1;
  }

  // When each VM's create was sent and answered, and when its VMI and its
  // launcher pod first appeared, seen through watches.
  std::mutex mu;
  std::map<std::string, Clock::time_point> created_at, answered_at, vmi_at, pod_at;
  kube::Informer vmis(std::make_unique<kube::ClientListerWatcher>(
      client.get(), kv::kVirtualMachineInstances, kube::Selection{ns, "", ""}));
  vmis.AddHandlers({.on_add =
                        [&](const kube::ObjectPtr& vmi) {
                          auto now = Clock::now();
                          std::lock_guard l(mu);
                          vmi_at.emplace(base::NameOf(*vmi), now);
                        },
                    .on_update = nullptr,
                    .on_delete = nullptr});
  vmis.Run();
  vmis.WaitForSync(std::chrono::seconds(30));
  kube::Informer pods(std::make_unique<kube::ClientListerWatcher>(
      client.get(), res::kPods, kube::Selection{ns, "kubevirt.io=virt-launcher", ""}));
  pods.AddHandlers({.on_add =
                        [&](const kube::ObjectPtr& pod) {
                          auto now = Clock::now();
                          std::string vm = base::NameOf(*pod).substr(14);  // virt-launcher-
                          vm = vm.substr(0, vm.rfind('-'));
                          std::lock_guard l(mu);
                          pod_at.emplace(vm, now);
                        },
                    .on_update = nullptr,
                    .on_delete = nullptr});
  pods.Run();
  pods.WaitForSync(std::chrono::seconds(30));

  auto before = RequestCounts(env);
  auto start = Clock::now();
  std::atomic<int> next{0}, failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        // At a rate, VM i is due i/rate seconds after the start.
        if (rate > 0) {
          std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                    std::chrono::duration<double>(i / rate)));
        }
        std::string name = "vm-" + std::to_string(i);
        Json vm = testing::MakeVm(name);
        vm["spec"]["runStrategy"] = Json("Always");
        {
          std::lock_guard l(mu);
          created_at[name] = Clock::now();
        }
        if (!client->Create(kv::kVirtualMachines, ns, vm).ok()) ++failures;
        std::lock_guard l(mu);
        answered_at[name] = Clock::now();
      }
    });
  }
  for (auto& t : threads) t.join();
  double create_s = std::chrono::duration<double>(Clock::now() - start).count();
  bool all = testing::Eventually(
      [&] {
        std::lock_guard l(mu);
        return pod_at.size() >= static_cast<size_t>(count);
      },
      std::chrono::minutes(10));
  double all_pods_s = std::chrono::duration<double>(Clock::now() - start).count();
  // A VM's status follows its VMI's first, which waits up to 2 s for a
  // binding no scheduler gives here: the counts below are whole starts only
  // once every VM shows a status.
  bool all_shown = testing::Eventually(
      [&] {
        auto vms = client->List(kv::kVirtualMachines, ns);
        if (!vms.ok()) return false;
        return std::all_of(vms->items.begin(), vms->items.end(), [](const Json& vm) {
          const Json* shown = base::Find(vm, "status.printableStatus");
          return shown != nullptr && shown->is_string() && !shown->get<std::string>().empty();
        });
      },
      std::chrono::minutes(2));
  // Let the controller finish what the pods' creation set off (status
  // writes) so the request counts are those of a whole VM start.
  double last = -1;
  for (int quiet = 0; quiet < 4;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    double now = controller.Metric(R"(vireo_reconcile_total{controller="vm"})").value_or(0) +
                 controller.Metric(R"(vireo_reconcile_total{controller="vmi"})").value_or(0);
    quiet = now == last ? quiet + 1 : 0;
    last = now;
  }
  auto after = RequestCounts(env);
  double peak_rss = 0, cpu = 0;
  ProcessFigures(controller.pid(), &peak_rss, &cpu);
  double cached = controller.Metric(R"(vireo_cached_objects{resource="pods"})").value_or(0);
  auto metric = [&](const char* sample) { return controller.Metric(sample).value_or(0); };
  double reconciles[2] = {metric(R"(vireo_reconcile_total{controller="vm"})"),
                          metric(R"(vireo_reconcile_total{controller="vmi"})")};
  double errors[2] = {metric(R"(vireo_reconcile_errors_total{controller="vm"})"),
                      metric(R"(vireo_reconcile_errors_total{controller="vmi"})")};
  double seconds[2] = {metric(R"(vireo_reconcile_duration_seconds_sum{controller="vm"})"),
                       metric(R"(vireo_reconcile_duration_seconds_sum{controller="vmi"})")};
  pods.Stop();
  vmis.Stop();

  // Milliseconds from `from` to `to` for every VM both hold.
  const auto between = [&](const std::map<std::string, Clock::time_point>& from,
                           const std::map<std::string, Clock::time_point>& to) {
    std::vector<double> ms;
    std::lock_guard l(mu);
    for (const auto& [vm, at] : to) {
      auto f = from.find(vm);
      if (f != from.end()) {
        ms.push_back(std::chrono::duration<double, std::milli>(at - f->second).count());
      }
    }
    return ms;
  };
  const std::vector<double> latencies_ms = between(created_at, pod_at);
  char pace[48] = "at once";
  if (rate > 0) std::snprintf(pace, sizeof pace, "at %g/s", rate);
  std::printf(
      "bench/controller: %d VirtualMachines (runStrategy Always) created %s, namespace %s, "
      "--workers=%d\n",
      count, pace, ns.c_str(), workers_per_queue);
  std::printf("  VM finalizer set by:        %s\n",
              finalizer_policy ? "the apiserver (manifests/vm-finalizer-policy.yaml)"
                               : "vireo-controller (--finalizer-policy off)");
  std::printf("  VMs created (%d writers):   %.1f s%s\n", writers, create_s,
              failures ? " (some creates FAILED)" : "");
  std::printf("  every launcher pod exists:  %.1f s after the first create%s\n", all_pods_s,
              all ? "" : " (NOT all: timed out)");
  if (!all_shown) std::printf("  NOT every VM shows a status (timed out): writes undercounted\n");
  std::printf("  VM created -> pod created:  P50 %.0f ms, P95 %.0f ms, max %.0f ms (%zu VMs)\n",
              Percentile(latencies_ms, 0.5), Percentile(latencies_ms, 0.95),
              Percentile(latencies_ms, 1.0), latencies_ms.size());
  // Where that time goes: the bench's own create (queued at a saturated
  // apiserver), then the controller's two steps, each as a watch sees it.
  const std::pair<const char*, std::vector<double>> steps[] = {
      {"VM create sent -> answered:", between(created_at, answered_at)},
      {"VM create answered -> VMI:", between(answered_at, vmi_at)},
      {"VMI seen -> pod seen:", between(vmi_at, pod_at)},
  };
  for (const auto& [step, ms] : steps) {
    std::printf("    %-28s P50 %.0f ms, P95 %.0f ms (%zu VMs)\n", step, Percentile(ms, 0.5),
                Percentile(ms, 0.95), ms.size());
  }
  std::printf("  API requests per VM (all clients; the bench's own: 1 POST virtualmachines):\n");
  double writes = 0, event_writes = 0;
  for (const auto& [key, n] : after) {
    double delta = n - (before.count(key) ? before[key] : 0);
    if (delta < 0.5 || key.rfind("WATCH", 0) == 0) continue;
    std::printf("    %-48s %6.2f\n", key.c_str(), delta / count);
    if (IsWrite(key)) {
      writes += delta;
      if (key.find(" events") != std::string::npos) event_writes += delta;
    }
  }
  double controller_writes = (writes - count) / count;
  std::printf("  controller writes per VM start: %.2f (%.2f without Events) [target <= 3]\n",
              controller_writes, controller_writes - event_writes / count);
  std::printf(
      "  controller peak RSS:        %.1f MiB with %.0f pods cached [target <= 30 MiB at "
      "10,000 VMs]\n",
      peak_rss, cached);
  std::printf("  controller CPU:             %.2f s\n", cpu);
  for (int i = 0; i < 2; ++i) {
    std::printf(
        "  %-3s reconciles:            %.0f (%.2f per VM), %.0f failed and retried, "
        "%.1f ms mean\n",
        i == 0 ? "VM" : "VMI", reconciles[i], reconciles[i] / count, errors[i],
        reconciles[i] > 0 ? 1000 * seconds[i] / reconciles[i] : 0);
  }

  controller.Signal(SIGTERM);
  controller.Wait(std::chrono::seconds(30));
  std::string out;
  env.Kubectl("delete namespace " + ns + " --wait=false", &out);
  return all && failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace vireo::bench

int main(int argc, char** argv) {
  int count = 1000, writers = 8, controller_workers = 16;
  double rate = 0;
  bool finalizer_policy = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--count") == 0) {
      count = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--writers") == 0) {
      writers = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--controller-workers") == 0) {
      controller_workers = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--rate") == 0) {
      rate = std::atof(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--finalizer-policy") == 0 &&
               (std::strcmp(argv[i + 1], "on") == 0 || std::strcmp(argv[i + 1], "off") == 0)) {
      finalizer_policy = std::strcmp(argv[i + 1], "on") == 0;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--count N] [--writers N] [--controller-workers N] "
                   "[--rate VMs-per-second] [--finalizer-policy on|off]\n",
                   argv[0]);
      return 2;
    }
  }
  if (count <= 0 || writers <= 0 || controller_workers <= 0 || rate < 0) {
    std::fprintf(stderr,
                 "--count, --writers and --controller-workers must be positive, --rate not "
                 "negative\n");
    return 2;
  }
  return vireo::bench::Run(count, writers, controller_workers, rate, finalizer_policy);
}
