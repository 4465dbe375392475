// bench/informer: loads VirtualMachine objects into the real apiserver, then
// prints how long an informer takes to list and sync them, how fast watch
// events are decoded, and the process RSS with the cache full.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>
#include <atomic>
#include <malloc.h>

#include "lib/api/resources.h"
#include "lib/kube/client.h"
#include "lib/kube/informer.h"
#include "lib/kube/watcher.h"
#include "tests/integration/cluster_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::bench {
namespace {

using Clock = std::chrono::steady_clock;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Resident set size of this process, in MiB.
double RssMiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return -1;
}

int Run(int count, int writers) {
  auto& env = testing::ClusterEnv::Get();
  std::string ns = env.CreateNamespace("bench-informer");
  auto client = env.AdminClient();

  auto before = client->List(kv::kVirtualMachines, ns);
  if (!before.ok()) {
    std::fprintf(stderr, "list: %s\n", before.status().ToString().c_str());
    return 1;
  }
  const std::string start_rv = before->resource_version;

  // Load: `writers` threads each creating their share.
  auto load_start = Clock::now();
  std::atomic<int> next{0}, failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        auto created = client->Create(kv::kVirtualMachines, ns,
                                      testing::MakeVm("vm-" + std::to_string(i),
                                                      R"({"bench": "informer"})"));
        if (!created.ok() && failures++ < 3) {
          std::fprintf(stderr, "create: %s\n", created.status().ToString().c_str());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double load_s = Seconds(load_start);
  if (failures > 0) {
    std::fprintf(stderr, "%d creates failed\n", failures.load());
    return 1;
  }

  // Informer: list (paginated) + sync into the cache.
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
  std::printf("  informer list+sync:        %.2f s (%zu cached, %d add handlers)\n", sync_s,
              cached, added.load());
  std::printf("  watch events:              %d in %.2f s = %.0f events/s (%s)\n", events, watch_s,
              events / watch_s, watch_note.c_str());
  std::printf("  RSS before informer:       %.1f MiB\n", rss_before);
  std::printf("  RSS with the cache full:   %.1f MiB (%.1f KiB per object)\n", rss_full,
              (rss_full - rss_before) * 1024.0 / static_cast<double>(count));
  std::printf("  ... after malloc_trim:     %.1f MiB (%.1f KiB per object)\n", rss_trimmed,
              (rss_trimmed - rss_before) * 1024.0 / static_cast<double>(count));

  std::string out;
  env.Kubectl("delete namespace " + ns + " --wait=false", &out);
  return cached == static_cast<size_t>(count) ? 0 : 1;
}

}  // namespace
}  // namespace vireo::bench

int main(int argc, char** argv) {
  int count = 10000, writers = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--count") == 0) count = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--writers") == 0) writers = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--count N] [--writers N]\n", argv[0]);
      return 2;
    }
  }
  if (count <= 0 || writers <= 0) {
    std::fprintf(stderr, "--count and --writers must be positive\n");
    return 2;
  }
  return vireo::bench::Run(count, writers);
}
