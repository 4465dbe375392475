// Choosing KVM or TCG, and the KVM boot probe; see accel.h.
#include "launcher/accel.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "launcher/paths.h"
#include "lib/api/launcher_pod.h"
#include "lib/base/file_util.h"
#include "lib/base/log.h"

extern char** environ;

namespace vireo::launcher {
namespace {

using Clock = std::chrono::steady_clock;
using base::Status;
using std::chrono::milliseconds;

// Empty when KVM is usable through `device`, else why not.
std::string KvmProblem(const std::string& device) {
  int fd = open(device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return device + ": " + std::strerror(errno);
  int version = ioctl(fd, KVM_GET_API_VERSION, 0);
  int err = errno;
  close(fd);
  if (version < 0) return device + ": KVM_GET_API_VERSION: " + std::strerror(err);
  if (version != KVM_API_VERSION) {
    return device + ": KVM API version " + std::to_string(version) + ", expected " +
           std::to_string(KVM_API_VERSION);
  }
  return "";
}

std::string Millis(milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

// The firmware's marks on COM1.
constexpr char kStartMark = 'S';
constexpr char kChunkMark = '.';
constexpr char kEndMark = 'E';
constexpr uint16_t kComPort = 0x3f8;
constexpr uint16_t kDebugExitPort = 0xf4;
constexpr uint8_t kDebugExitValue = 0x10;  // QEMU exits with (0x10 << 1) | 1 = 33
constexpr size_t kFirmwareSize = 64 * 1024;
constexpr size_t kCodeOffset = 0xff00;
constexpr size_t kResetVectorOffset = 0xfff0;  // CS:IP F000:FFF0 after reset

Status WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return Status(base::Code::kInternal, "write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

std::string FormatAccelVerdict(const AccelChoice& choice) {
  std::string reason = choice.reason;
  for (char& c : reason) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return std::string(choice.emulation == Emulation::kKvm ? "kvm" : "tcg") + ": " + reason + "\n";
}

base::Result<AccelChoice> ParseAccelVerdict(std::string_view text) {
  std::string line = base::TrimSpace(text.substr(0, text.find('\n')));
  AccelChoice choice;
  std::string_view mode = std::string_view(line).substr(0, line.find(':'));
  if (mode == "kvm") {
    choice.emulation = Emulation::kKvm;
  } else if (mode == "tcg") {
    choice.emulation = Emulation::kTcg;
  } else {
    return Status(base::Code::kInvalid,
                  "accel verdict \"" + line + "\": expected \"kvm: ...\" or \"tcg: ...\"");
  }
  if (size_t colon = line.find(':'); colon != std::string::npos) {
    choice.reason = base::TrimSpace(std::string_view(line).substr(colon + 1));
  }
  return choice;
}

std::string KvmProbeFirmware(uint16_t chunks, uint32_t iterations_per_chunk) {
  // Bytes appended one by one (GCC 12 warns falsely about "literal" +
  // std::string at -O3).
  std::string code;
  auto op = [&code](std::initializer_list<uint8_t> bytes) {
    for (uint8_t b : bytes) code.push_back(static_cast<char>(b));
  };
  auto le16 = [&op](uint16_t v) { op({uint8_t(v & 0xff), uint8_t(v >> 8)}); };
  auto le32 = [&le16](uint32_t v) {
    le16(uint16_t(v & 0xffff));
    le16(uint16_t(v >> 16));
  };
  // Real mode, 16-bit code; no RAM is touched (no stack, no data).
  op({0xba});  // mov dx, 0x3f8
  le16(kComPort);
  op({0xb0, uint8_t(kStartMark)});  // mov al, 'S'
  op({0xee});                       // out dx, al
  op({0xbb});                       // mov bx, chunks
  le16(chunks);
  op({0x66, 0xb9});  // outer: mov ecx, iterations
  le32(iterations_per_chunk);
  op({0x66, 0x49});                 // inner: dec ecx
  op({0x75, 0xfc});                 // jnz inner
  op({0xb0, uint8_t(kChunkMark)});  // mov al, '.'
  op({0xee});                       // out dx, al
  op({0x4b});                       // dec bx
  op({0x75, 0xf0});                 // jnz outer (16 bytes back)
  op({0xb0, uint8_t(kEndMark)});    // mov al, 'E'
  op({0xee});                       // out dx, al
  op({0xba});                       // mov dx, 0xf4
  le16(kDebugExitPort);
  op({0xb0, kDebugExitValue});  // mov al, 0x10
  op({0xee});                   // out dx, al: QEMU exits
  op({0xf4});                   // hlt
  op({0xeb, 0xfd});             // jmp hlt
  std::string rom(kFirmwareSize, '\0');
  rom.replace(kCodeOffset, code.size(), code);
  // jmp near kCodeOffset, relative to the end of this 3-byte instruction.
  code.clear();
  op({0xe9});
  le16(static_cast<uint16_t>(kCodeOffset - (kResetVectorOffset + 3)));
  rom.replace(kResetVectorOffset, code.size(), code);
  return rom;
}

std::vector<std::string> KvmProbeCommand(const KvmProbeConfig& config,
                                         const std::string& firmware_path) {
  // -cpu host as a KVM guest gets (libvirt's host-model is close to it): a
  // host whose CPU features QEMU cannot set fails here, not in the guest.
  return {config.qemu,
          "-machine",
          "q35,accel=" + config.accel,
          "-cpu",
          config.accel == "kvm" ? "host" : "max",
          "-m",
          "16",
          "-nodefaults",
          "-no-user-config",
          "-no-reboot",
          "-display",
          "none",
          "-monitor",
          "none",
          "-serial",
          "stdio",
          "-bios",
          firmware_path,
          "-device",
          "isa-debug-exit,iobase=0xf4,iosize=0x04"};
}

KvmProbeRun RunKvmProbe(const KvmProbeConfig& config, const std::string& firmware_path) {
  KvmProbeRun run;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    run.spawned = false;
    run.spawn_error = std::string("pipe: ") + std::strerror(errno);
    return run;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    run.spawned = false;
    run.spawn_error = std::string("pipe: ") + std::strerror(errno);
    close(out_pipe[0]);
    close(out_pipe[1]);
    return run;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  // `run` blocks the termination signals and ignores SIGPIPE; QEMU gets the
  // defaults.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  const std::vector<std::string> argv = KvmProbeCommand(config, firmware_path);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const Clock::time_point spawned_at = Clock::now();
  const int spawn_error = posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawn_error != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    run.spawned = false;
    run.spawn_error = "cannot run " + argv[0] + ": " + std::strerror(spawn_error);
    return run;
  }

  std::string err_text;
  bool out_open = true, err_open = true;
  auto since_spawn = [&] {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - spawned_at);
  };
  while (out_open || err_open) {
    // The deadline: to start, then to finish the loop once started.
    const milliseconds deadline =
        run.started.has_value() ? *run.started + config.run_limit : config.start_limit;
    const milliseconds left = deadline - since_spawn();
    if (left.count() <= 0 || run.ended.has_value()) break;
    pollfd fds[2] = {{out_open ? out_pipe[0] : -1, POLLIN, 0},
                     {err_open ? err_pipe[0] : -1, POLLIN, 0}};
    const int n = poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    char buf[512];
    if (fds[0].revents != 0) {
      const ssize_t got = read(out_pipe[0], buf, sizeof buf);
      if (got <= 0) out_open = false;
      for (ssize_t i = 0; i < got; ++i) {
        if (buf[i] == kStartMark && !run.started) run.started = since_spawn();
        if (buf[i] == kChunkMark && run.started) ++run.chunks_done;
        if (buf[i] == kEndMark && run.started) run.ended = since_spawn();
      }
    }
    if (fds[1].revents != 0) {
      const ssize_t got = read(err_pipe[0], buf, sizeof buf);
      if (got <= 0) err_open = false;
      if (got > 0 && err_text.size() < 16 * 1024) err_text.append(buf, static_cast<size_t>(got));
    }
  }
  // Finished or not, QEMU goes: after the end mark it exits by itself.
  int status = 0;
  pid_t done = 0;
  if (!out_open && !err_open) {
    // Both pipes at EOF: QEMU is exiting by itself (it refused to start).
    while ((done = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
  } else if (run.ended.has_value()) {
    for (int i = 0; i < 100 && (done = waitpid(pid, &status, WNOHANG)) == 0; ++i) usleep(10'000);
  } else {
    done = waitpid(pid, &status, WNOHANG);
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    run.killed = !run.ended.has_value();
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  } else if (done == pid && WIFEXITED(status)) {
    run.exit_status = WEXITSTATUS(status);
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  // QEMU's last line that says something (its errors end with a newline).
  std::istringstream lines(err_text);
  for (std::string line; std::getline(lines, line);) {
    line = base::TrimSpace(line);
    if (!line.empty()) run.stderr_tail = line;
  }
  return run;
}

std::string KvmProbeProblem(const KvmProbeRun& run, const KvmProbeConfig& config) {
  const std::string accel = config.accel == "kvm" ? "KVM" : config.accel;
  if (!run.spawned) return "cannot run the " + accel + " probe: " + run.spawn_error;
  if (run.ended.has_value()) return "";
  const std::string qemu_said = run.stderr_tail.empty() ? "" : ": " + run.stderr_tail;
  if (!run.killed) {
    // QEMU ended on its own without finishing: it refused KVM or crashed.
    return "QEMU could not run a guest under " + accel +
           (run.exit_status ? " (exit status " + std::to_string(*run.exit_status) + ")" : "") +
           qemu_said;
  }
  if (!run.started.has_value()) {
    return "the probe guest printed nothing under " + accel + " within " +
           Millis(config.start_limit) + qemu_said;
  }
  const uint64_t total = uint64_t{config.chunks} * config.iterations_per_chunk;
  const uint64_t done = uint64_t(run.chunks_done) * config.iterations_per_chunk;
  return accel + " runs guests far too slowly: the probe guest did " + std::to_string(done) +
         " of " + std::to_string(total) + " loop iterations in " + Millis(config.run_limit) +
         " (working KVM needs ~10 ms)";
}

base::Result<AccelChoice> ChooseAccel(EmulationMode flag, const std::string& kvm_device,
                                      const std::string& probe_dir, const KvmProbeConfig& probe) {
  if (flag == EmulationMode::kOn) return AccelChoice{Emulation::kTcg, "--emulation=on"};
  const bool off = flag == EmulationMode::kOff;
  // off: KVM or nothing, so a KVM the guest would hang under is an error
  // that says so, never a guest that silently does not boot.
  auto unusable = [&](const std::string& problem) -> base::Result<AccelChoice> {
    if (!off) return AccelChoice{Emulation::kTcg, problem};
    return base::Status(
        base::Code::kUnavailable,
        "--emulation=off needs KVM, but " + problem +
            " (give the pod a working /dev/kvm, or run with --emulation=auto or on)");
  };
  std::string problem = KvmProblem(kvm_device);
  if (!problem.empty()) return off ? unusable(problem) : unusable("no usable KVM: " + problem);
  const std::string usable = off ? " (--emulation=off)" : "";
  if (probe_dir.empty()) return AccelChoice{Emulation::kKvm, kvm_device + " is usable" + usable};

  const std::string firmware = probe_dir + "/kvm-probe.rom";
  if (Status s = WriteFile(firmware, KvmProbeFirmware(probe.chunks, probe.iterations_per_chunk));
      !s.ok()) {
    return unusable("KVM probe: " + s.message());
  }
  KvmProbeRun run = RunKvmProbe(probe, firmware);
  unlink(firmware.c_str());
  problem = KvmProbeProblem(run, probe);
  if (!problem.empty()) return unusable(kvm_device + " opens, but " + problem);
  return AccelChoice{Emulation::kKvm, kvm_device + " works: the probe guest ran its loop in " +
                                          Millis(*run.ended - *run.started) + usable};
}

base::Result<AccelChoice> ChooseAccelForRun(const Options& options) {
  if (options.emulation == EmulationMode::kAuto) {
    const std::string verdict_file = StateFiles(options.state_dir).File(kAccelVerdictFile);
    if (access(verdict_file.c_str(), F_OK) == 0) {
      auto text = base::ReadFile(verdict_file);
      if (!text.ok()) return text.status().WithContext("read " + verdict_file);
      auto verdict = ParseAccelVerdict(*text);
      if (!verdict.ok()) return verdict.status().WithContext(verdict_file);
      // The probe ran in this pod a moment ago; the device check is cheap.
      if (verdict->emulation == Emulation::kKvm) {
        if (std::string problem = KvmProblem("/dev/kvm"); !problem.empty()) {
          return AccelChoice{Emulation::kTcg, "no usable KVM: " + problem};
        }
      }
      verdict->reason = "accel-probe: " + verdict->reason;
      return verdict;
    }
  }
  return ChooseAccel(options.emulation, "/dev/kvm", options.state_dir);
}

base::Status CopyTools(const std::string& busybox, const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path target = fs::path(dir) / api::launcher_pod::kToolsBusybox;
  std::error_code ec;
  fs::copy_file(busybox, target, fs::copy_options::overwrite_existing, ec);
  if (!ec) {
    fs::permissions(target,
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                        fs::perms::others_read | fs::perms::others_exec,
                    ec);
  }
  if (ec) {
    return Status(base::Code::kUnavailable,
                  "cannot copy " + busybox + " to " + target.string() + ": " + ec.message());
  }
  return Status::Ok();
}

int RunAccelProbe(const Options& options) {
  base::SetLogLevel(options.log_level);
  if (!options.copy_tools_to.empty()) {
    Status copied =
        CopyTools(PodPaths(options.root).Under(api::launcher_pod::kBusyboxInLauncherImage),
                  options.copy_tools_to);
    if (!copied.ok()) {
      base::LogError("accel-probe failed", {{"error", copied.message()}});
      // The kubelet shows it as the init container's message, the VMI with it.
      (void)WriteFile(options.termination_log, copied.message());
      return 1;
    }
  }
  const std::string& state_dir = options.state_dir;
  if (access(state_dir.c_str(), W_OK) != 0) {
    base::LogError("accel-probe failed",
                   {{"error", "state dir " + state_dir + ": " + std::strerror(errno)}});
    return 1;
  }
  auto choice = ChooseAccel(EmulationMode::kAuto, "/dev/kvm", state_dir);
  if (!choice.ok()) {
    base::LogError("accel-probe failed", {{"error", choice.status().message()}});
    return 1;
  }
  const std::string verdict = FormatAccelVerdict(*choice);
  base::LogInfo("emulation mode", {{"mode", choice->emulation == Emulation::kKvm ? "kvm" : "tcg"},
                                   {"reason", choice->reason}});
  Status wrote = WriteFile(StateFiles(state_dir).File(kAccelVerdictFile), verdict);
  if (!wrote.ok()) {
    base::LogError("accel-probe failed", {{"error", wrote.message()}});
    return 1;
  }
  // Best effort: outside a pod there is no termination log.
  if (Status s = WriteFile(options.termination_log, verdict); !s.ok()) {
    base::LogWarn("cannot write the termination message", {{"error", s.message()}});
  }
  return 0;
}

}  // namespace vireo::launcher
