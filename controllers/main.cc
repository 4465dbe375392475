// vireo-controller: flags, cluster access, endpoints, leader election and
// signals around the Controller (controller.h). Exits 0 after SIGTERM or
// SIGINT (workers drained, Lease released), 1 when it cannot run or loses
// its Lease, 2 on bad flags.
#include <malloc.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <thread>

// Boost.Asio, under pplx/threadpool.h, uses std::exchange without including
// <utility> itself.
// clang-format off
#include <utility>
#include <pplx/threadpool.h>
// clang-format on

#include "controllers/controller.h"
#include "controllers/endpoints.h"
#include "controllers/memory_trim.h"
#include "controllers/metrics.h"
#include "controllers/options.h"
#include "lib/base/log.h"
#include "lib/kube/client.h"
#include "lib/kube/config.h"
#include "lib/kube/events.h"
#include "lib/kube/leader_election.h"

namespace vireo::controllers {
namespace {

using base::LogError;
using base::LogInfo;

// Signals are taken synchronously by the main thread (sigtimedwait), so no
// handler runs on an arbitrary thread; every thread inherits the block.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Waits up to `timeout` for a stop signal; returns it, or 0.
int WaitForSignal(const sigset_t& set, std::chrono::milliseconds timeout) {
  timespec ts{static_cast<time_t>(timeout.count() / 1000),
              static_cast<long>((timeout.count() % 1000) * 1'000'000)};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

const char* SignalName(int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; }

int Run(const Options& options, const sigset_t& signals) {
  kube::KubeconfigOptions ko;
  ko.explicit_path = options.kubeconfig;
  ko.context = options.context;
  auto config = kube::LoadDefaultConfig(ko);
  if (!config.ok()) {
    LogError("cannot load the cluster configuration", {{"error", config.status().ToString()}});
    return 1;
  }
  kube::ClientOptions client_options;
  client_options.user_agent = "vireo-controller/" VIREO_VERSION;
  auto client = kube::Client::Create(*config, client_options);
  if (!client.ok()) {
    LogError("cannot set up the API client", {{"error", client.status().ToString()}});
    return 1;
  }

  Metrics metrics;
  kube::EventRecorderOptions recorder_options;
  recorder_options.source.instance = options.identity;
  kube::EventRecorder recorder(kube::EventSink::ForClient(client->get()), recorder_options);

  ControllerConfig controller_config;
  controller_config.namespace_name = options.namespace_name;
  controller_config.workers = options.workers;
  controller_config.launcher.image = options.launcher_image;
  controller_config.launcher.emulation = options.emulation;
  controller_config.launcher.kvm_resource_offered = options.kvm_resource_offered;
  controller_config.launcher.passt_seccomp_profile = options.launcher_seccomp_profile;
  controller_config.launcher.overhead.margin_bytes = options.launcher_memory_overhead_margin;
  controller_config.importer.image = options.launcher_image;
  controller_config.importer.first_retry_delay = options.import_retry_delay;
  Controller controller(client->get(), &recorder, &metrics, controller_config);

  std::vector<std::unique_ptr<EndpointServer>> servers;
  if (options.health.enabled) {
    servers.push_back(std::make_unique<EndpointServer>(
        options.health, HttpRoutes{
                            {"/healthz",
                             [] {
                               return HttpReply{200, "ok\n"};
                             }},
                            {"/readyz",
                             [&controller] {
                               return controller.HasSynced()
                                          ? HttpReply{200, "ok\n"}
                                          : HttpReply{503, "informer caches not synced\n"};
                             }},
                        }));
  }
  if (options.metrics.enabled) {
    servers.push_back(std::make_unique<EndpointServer>(
        options.metrics,
        HttpRoutes{{"/metrics", [&metrics] {
                      return HttpReply{200, metrics.Render(), "text/plain; version=0.0.4"};
                    }}}));
  }
  for (auto& server : servers) {
    base::Status started = server->Start();
    if (!started.ok()) {
      LogError("cannot serve endpoints", {{"error", started.ToString()}});
      return 1;
    }
  }

  std::string scope = options.namespace_name.empty() ? "all namespaces" : options.namespace_name;
  LogInfo("starting", {{"version", VIREO_VERSION},
                       {"server", (*config).server},
                       {"namespace", scope},
                       {"identity", options.identity},
                       {"launcherImage", options.launcher_image},
                       {"emulation", EmulationModeName(options.emulation)},
                       {"kvmResourceOffered", options.kvm_resource_offered ? "true" : "false"},
                       {"launcherSeccompProfile", options.launcher_seccomp_profile},
                       {"launcherMemoryOverheadMargin",
                        std::to_string(options.launcher_memory_overhead_margin)}});
  controller.StartInformers();
  MemoryTrimmer trimmer(std::chrono::seconds(10));
  // Workers start only on complete caches: a VMI whose pod is not cached yet
  // would look as if its pod had vanished.
  while (!controller.WaitForSync(std::chrono::milliseconds(250))) {
    if (int sig = WaitForSignal(signals, std::chrono::milliseconds(0)); sig != 0) {
      LogInfo("stopping before the caches synced", {{"signal", SignalName(sig)}});
      return 0;
    }
  }
  base::Log(base::LogLevel::kDebug, "informer caches synced");
  trimmer.TrimNow();  // the list pages the caches were filled from

  if (!options.leader_elect) {
    metrics.SetLeader(true);
    controller.StartWorkers();
    int sig = 0;
    while ((sig = WaitForSignal(signals, std::chrono::seconds(1))) == 0) {
    }
    LogInfo("stopping", {{"signal", SignalName(sig)}});
    controller.StopWorkers();
    controller.StopInformers();
    recorder.Shutdown();
    return 0;
  }

  // Lease writes get a short timeout: a leader must notice it cannot renew
  // before its renew deadline passes.
  kube::ClientOptions lease_options = client_options;
  lease_options.request_timeout_seconds =
      static_cast<int>(std::max<int64_t>(1, options.renew_deadline.count() / 2000));
  auto lease_client = kube::Client::Create(*config, lease_options);
  if (!lease_client.ok()) {
    LogError("cannot set up the API client", {{"error", lease_client.status().ToString()}});
    return 1;
  }
  kube::LeaderElectionConfig election;
  election.lease_namespace =
      options.lease_namespace.empty() ? (*config).namespace_name : options.lease_namespace;
  election.lease_name = options.lease_name;
  election.identity = options.identity;
  election.lease_duration =
      std::chrono::duration_cast<std::chrono::seconds>(options.lease_duration);
  election.renew_deadline = options.renew_deadline;
  election.retry_period = options.retry_period;
  election.on_started_leading = [&] {
    LogInfo("leading: starting workers",
            {{"lease", election.lease_namespace + "/" + election.lease_name}});
    metrics.SetLeader(true);
    controller.StartWorkers();
  };
  // Set before Stop: a step-down without it is a lost Lease.
  std::atomic<bool> stopping{false};
  election.on_stopped_leading = [&] {
    metrics.SetLeader(false);
    if (!stopping) {
      // The renew deadline has passed (or another holds the Lease) and
      // reconciles may be blocked in requests that would land later: drain
      // nothing, exit now, so no write of this replica follows.
      LogError("lost the lease; exiting so that a fresh start can compete again");
      std::fflush(nullptr);
      std::_Exit(1);
    }
    controller.StopWorkers();
  };
  election.on_new_leader = [&](const std::string& holder) {
    if (holder != options.identity) LogInfo("another replica leads", {{"leader", holder}});
  };
  if (base::Status valid = kube::ValidateLeaderElectionConfig(election); !valid.ok()) {
    LogError("bad leader election settings", {{"error", valid.ToString()}});
    return 2;
  }
  kube::LeaderElector elector(kube::LeaseApi::ForClient(lease_client->get()), election);
  std::atomic<bool> elector_done{false};
  std::thread elector_thread([&] {
    elector.Run();
    elector_done = true;
  });
  int sig = 0;
  while (!elector_done && (sig = WaitForSignal(signals, std::chrono::milliseconds(200))) == 0) {
  }
  if (sig != 0) {
    LogInfo("stopping: releasing the lease", {{"signal", SignalName(sig)}});
    stopping = true;
    elector.Stop();  // on_stopped_leading drains the workers, then the Lease is released
  }
  elector_thread.join();
  controller.StopWorkers();
  controller.StopInformers();
  recorder.Shutdown();
  if (sig == 0) {
    // Another replica may act already; this one must not do anything more.
    LogError("lost the lease; exiting so that a fresh start can compete again");
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace vireo::controllers

int main(int argc, char** argv) {
  using namespace vireo::controllers;
  const sigset_t signals = BlockStopSignals();
  // Memory: glibc gives each busy thread an arena of its own, and memory
  // freed in one arena is not reused by another; two keep RSS close to what
  // the caches hold. cpprestsdk's pool (40 threads by default) only runs
  // asio handlers here, since callers block on their own threads.
  mallopt(M_ARENA_MAX, 2);
  crossplat::threadpool::initialize_with_threads(8);
  std::vector<std::string> args(argv + 1, argv + argc);
  auto options = ParseOptions(args, ProcessEnvironment());
  if (!options.ok()) {
    std::fprintf(stderr, "vireo-controller: %s\n", options.status().message().c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(HelpText().c_str(), stdout);
    return 0;
  }
  vireo::base::SetLogLevel(options->log_level);
  return Run(*options, signals);
}
