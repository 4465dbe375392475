// vireo-launcher: the process in a Vireo launcher pod. Dispatches to the
// subcommands run, console, vnc, forward, probe, warm-cache, accel-probe and import
// (options.h).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "launcher/accel.h"
#include "launcher/caps_cache.h"
#include "launcher/console_client.h"
#include "launcher/import.h"
#include "launcher/options.h"
#include "launcher/orphan_guard.h"
#include "launcher/paths.h"
#include "launcher/readiness.h"
#include "launcher/run.h"
#include "launcher/stream_relay.h"
#include "lib/api/launcher_pod.h"
#include "lib/base/log.h"

namespace {

using vireo::launcher::Options;
using vireo::launcher::Subcommand;

int Probe(const Options& options) {
  vireo::base::Status status =
      vireo::launcher::CheckReady(vireo::launcher::StateFiles(options.state_dir).ReadyFile());
  if (!status.ok()) {
    std::fprintf(stderr, "not ready: %s\n", status.message().c_str());
    return 1;
  }
  return 0;
}

// The postStart hook's answer is always 0 (see its --help).
int WaitRunning(const Options& options) {
  vireo::base::Status status = vireo::launcher::WaitReady(
      vireo::launcher::StateFiles(options.state_dir), std::chrono::seconds(options.wait_seconds));
  if (!status.ok()) std::fprintf(stderr, "not waiting any more: %s\n", status.message().c_str());
  return 0;
}

int WarmCache(const Options& options) {
  vireo::base::SetLogLevel(options.log_level);
  // As a container's PID 1 (an image build's RUN step) nobody would reap the
  // QEMU libvirt starts to probe, and libvirt waits for it to be gone: a
  // guardian, as for `run`, reaps it while the cache is written in a child.
  std::optional<vireo::launcher::Guardian> guardian;
  if (getpid() == 1) {
    auto forked = vireo::launcher::Guardian::Fork();
    if (!forked.ok()) {
      vireo::base::LogError("warm-cache failed", {{"error", forked.status().message()}});
      return 1;
    }
    guardian.emplace(std::move(*forked));
    // Fork leaves the termination signals blocked for run's signalfd; a
    // one-shot command ends on them as usual.
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR2}) sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
  }
  vireo::base::Status status =
      vireo::launcher::WarmCapabilitiesCache(options.out_dir, options.without_kvm);
  if (!status.ok()) {
    vireo::base::LogError("warm-cache failed", {{"error", status.message()}});
    return 1;
  }
  vireo::base::LogInfo("QEMU capabilities cached", {{"dir", options.out_dir}});
  return 0;
}

// The container's termination message: one line (the kubelet keeps at most
// 4096 bytes of it).
void WriteTerminationMessage(const std::string& path, std::string message) {
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (message.size() > 4000) message = message.substr(0, 4000) + "...";
  message += "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    vireo::base::LogWarn("cannot write the termination message", {{"path", path}});
    return;
  }
  if (::write(fd, message.data(), message.size()) != static_cast<ssize_t>(message.size())) {
    vireo::base::LogWarn("cannot write the termination message", {{"path", path}});
  }
  ::close(fd);
}

int Import(const Options& options) {
  vireo::base::SetLogLevel(options.log_level);
  vireo::launcher::ImportRequest request;
  request.source = options.import_source;
  request.url = options.import_url;
  request.claim_bytes = options.claim_bytes;
  request.layout.target_dir = options.target_dir;
  request.layout.target_device = options.target_device;
  request.layout.source_dir = options.source_dir;
  request.layout.source_device = options.source_device;
  request.layout.scratch_dir = options.scratch_dir;
  request.layout.image_dir = options.image_dir;
  request.stall_timeout = std::chrono::seconds(options.stall_seconds);
  vireo::launcher::ImportStatus status = vireo::launcher::RunImport(request);
  const std::string reason(vireo::api::importer::ReasonForExitCode(status.code));
  if (status.ok()) {
    vireo::base::LogInfo("import done", {{"reason", reason}, {"message", status.message}});
  } else {
    vireo::base::LogError("import failed", {{"exitCode", std::to_string(status.code)},
                                            {"reason", reason},
                                            {"message", status.message}});
  }
  WriteTerminationMessage(options.termination_log, status.message);
  return status.code;
}

}  // namespace

int main(int argc, char** argv) {
  // A viewer or libvirt peer that goes away must not kill the launcher.
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  auto options = vireo::launcher::ParseOptions(args, vireo::launcher::ProcessEnvironment());
  if (!options.ok()) {
    std::fprintf(stderr, "vireo-launcher: %s\n", options.status().message().c_str());
    return vireo::api::launcher_pod::kExitUsage;
  }
  if (options->subcommand == Subcommand::kHelp || options->help) {
    std::fputs(vireo::launcher::HelpText(options->subcommand).c_str(), stdout);
    return 0;
  }
  switch (options->subcommand) {
    case Subcommand::kRun:
      return vireo::launcher::RunLauncher(*options);
    case Subcommand::kConsole:
      return vireo::launcher::RunConsole(
          vireo::launcher::StateFiles(options->state_dir).ConsoleSocket(), options->wait_seconds);
    case Subcommand::kVnc:
      return vireo::launcher::RunVncRelay(
          vireo::launcher::StateFiles(options->state_dir).VncSocket());
    case Subcommand::kForward:
      return vireo::launcher::RunPortRelay(options->port);
    case Subcommand::kProbe:
      return Probe(*options);
    case Subcommand::kWaitRunning:
      return WaitRunning(*options);
    case Subcommand::kWarmCache:
      return WarmCache(*options);
    case Subcommand::kAccelProbe:
      return vireo::launcher::RunAccelProbe(*options);
    case Subcommand::kImport:
      return Import(*options);
    case Subcommand::kHelp:
      break;
  }
  return 0;
}
