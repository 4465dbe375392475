// Runs one transient libvirt domain from creation to its end and turns what
// happens (libvirt lifecycle events, SIGTERM, QEMU exiting) into the
// launcher's exit code: readiness while it runs, ACPI shutdown then destroy
// on SIGTERM, and never a QEMU left behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "launcher/console_relay.h"
#include "launcher/libvirt_session.h"
#include "launcher/orphan_guard.h"
#include "launcher/paths.h"
#include "lib/base/status.h"

namespace vireo::launcher {

// How the launcher ends: an ExitCode and the sentence that explains it.
struct Outcome {
  int code = 0;
  std::string message;
};

// Signals the supervisor handles: SIGTERM, SIGINT, SIGHUP (shut down) and
// SIGUSR2 (the guardian died: destroy now). Blocked in every thread and read
// from a signalfd. Call before any thread starts; returns the signalfd.
base::Result<int> TakeTerminationSignals();

// The next of them pending on `signal_fd` (consumed), or 0.
int PendingSignal(int signal_fd);

// Thread-safety: used from the launcher's main thread; the lifecycle handler
// runs on libvirt's event loop thread and only queues.
class DomainSupervisor {
 public:
  struct Config {
    std::string uri;           // libvirt connection
    std::string qemu_pid_dir;  // where libvirt writes <domain>.pid
    StateFiles state{""};
    // After SIGTERM: 0 destroys at once, < 0 waits for the guest until killed.
    int64_t grace_period_seconds = 30;
    int signal_fd = -1;            // from TakeTerminationSignals
    Guardian* guardian = nullptr;  // told QEMU's pid; reports QEMU's exit
    // When the launcher started, for the start-up time in the logs.
    std::chrono::steady_clock::time_point launched = std::chrono::steady_clock::now();
  };

  // Opens the connection and destroys what an earlier launcher left running.
  static base::Result<std::unique_ptr<DomainSupervisor>> Connect(Config config);
  ~DomainSupervisor();  // destroys the domain if it still runs

  // Creates the domain from `xml`, relays its console and waits until it
  // ends. Every return leaves no QEMU behind.
  Outcome Run(const std::string& domain_name, const std::string& xml, ConsoleRelay& relay);

  // The libvirt connection, for readers on other threads (the metrics
  // server): libvirt's API calls are thread-safe. Valid until destruction.
  virConnectPtr conn() const;

 private:
  explicit DomainSupervisor(Config config) : config_(std::move(config)) {}

  void Post(LifecycleEvent event);
  Outcome Supervise();
  // Destroys the domain (idempotent); false if libvirt failed to.
  bool Destroy(const char* why);
  bool DomainActive();

  Config config_;
  std::unique_ptr<LibvirtSession> session_;
  virDomainPtr domain_ = nullptr;
  std::string domain_name_;
  pid_t qemu_pid_ = -1;
  unsigned long long qemu_start_time_ = 0;  // tells QEMU from a recycled pid
  int wake_fd_ = -1;                        // eventfd: a lifecycle event was queued

  std::mutex mu_;
  std::deque<LifecycleEvent> events_;  // GUARDED_BY(mu_)
};

}  // namespace vireo::launcher
