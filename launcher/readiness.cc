// The ready file; see readiness.h.
#include "launcher/readiness.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "launcher/orphan_guard.h"
#include "lib/base/log.h"

namespace vireo::launcher {
namespace {

using base::Code;
using base::Status;

bool Alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

// Both sides look every 20 ms: a domain seen running reaches the kubelet
// within that, and a stat is all a look costs.
constexpr std::chrono::milliseconds kPollInterval{20};

// Writes `text` to `path` atomically (rename).
Status WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.close();
    if (!out) return Status(Code::kInternal, "write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status(Code::kInternal, "rename " + tmp + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

// A process named with its start time, so a recycled pid is not taken for
// it: what the WaiterFile and the ExitingFile hold.
struct ProcessRecord {
  pid_t pid = 0;
  unsigned long long start = 0;
};

std::string Format(const ProcessRecord& r) {
  return std::to_string(r.pid) + " " + std::to_string(r.start) + "\n";
}

std::optional<ProcessRecord> ReadRecord(const std::string& path) {
  std::ifstream in(path);
  ProcessRecord r;
  if (!in || !(in >> r.pid >> r.start) || r.pid <= 0) return std::nullopt;
  return r;
}

ProcessRecord Self() { return {getpid(), ProcessStartTime(getpid())}; }

// Still that process, and not yet ended: a zombie's exit status is settled
// whatever happens to it now.
bool Running(const ProcessRecord& r) {
  return Alive(r.pid) && ProcessStartTime(r.pid) == r.start && !IsZombie(r.pid);
}

}  // namespace

Status MarkReady(const std::string& ready_file, pid_t launcher, pid_t qemu) {
  return WriteAtomically(ready_file, std::to_string(launcher) + " " + std::to_string(qemu) + "\n");
}

void ClearReady(const std::string& ready_file) { unlink(ready_file.c_str()); }

Status CheckReady(const std::string& ready_file) {
  std::ifstream in(ready_file);
  if (!in) return Status(Code::kNotFound, "the domain is not running (no " + ready_file + ")");
  pid_t launcher = 0;
  pid_t qemu = 0;
  if (!(in >> launcher >> qemu)) {
    return Status(Code::kInternal, ready_file + " is not \"<launcher pid> <qemu pid>\"");
  }
  if (!Alive(launcher)) {
    return Status(Code::kNotFound, "the launcher (pid " + std::to_string(launcher) + ") is gone");
  }
  if (!Alive(qemu)) {
    return Status(Code::kNotFound, "QEMU (pid " + std::to_string(qemu) + ") is gone");
  }
  return Status::Ok();
}

Status WaitReady(const StateFiles& state, std::chrono::milliseconds limit) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + limit;
  // Without the record the launcher would not wait for us as it exits, and
  // the kubelet would count the hook failed: worth saying, not worth failing.
  if (Status s = WriteAtomically(state.WaiterFile(), Format(Self())); !s.ok()) {
    std::fprintf(stderr, "wait-running: %s\n", s.message().c_str());
  }
  // The record stays when this returns: the launcher, exiting, waits for
  // this process to be gone, not for the file.
  for (;;) {
    Status ready = CheckReady(state.ReadyFile());
    if (ready.ok()) return Status::Ok();
    if (std::optional<ProcessRecord> exiting = ReadRecord(state.ExitingFile());
        exiting.has_value() && Running(*exiting)) {
      return Status(Code::kCancelled, "the launcher is exiting");
    }
    if (std::optional<ProcessRecord> waiting = ReadRecord(state.WaitingForDisksFile());
        waiting.has_value() && Running(*waiting)) {
      return Status(Code::kCancelled, "the launcher waits for its containerDisk containers");
    }
    if (Clock::now() >= deadline) {
      return Status(Code::kTimeout, "still not running after " + std::to_string(limit.count()) +
                                        " ms: " + ready.message());
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

void MarkWaitingForDisks(const StateFiles& state) {
  if (Status s = WriteAtomically(state.WaitingForDisksFile(), Format(Self())); !s.ok()) {
    base::LogWarn("cannot tell the postStart hook the start waits", {{"error", s.message()}});
  }
}

void ClearStaleWaiterFiles(const StateFiles& state) {
  unlink(state.ExitingFile().c_str());
  unlink(state.WaitingForDisksFile().c_str());
  std::optional<ProcessRecord> waiter = ReadRecord(state.WaiterFile());
  if (!waiter.has_value() || !Running(*waiter)) unlink(state.WaiterFile().c_str());
}

void ReleaseWaiter(const StateFiles& state, bool hook, std::chrono::milliseconds limit) {
  // A hook that starts after this sees the file at its first look.
  if (Status s = WriteAtomically(state.ExitingFile(), Format(Self())); !s.ok()) {
    base::LogWarn("cannot tell the postStart hook the launcher is exiting",
                  {{"error", s.message()}});
  }
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + limit;
  constexpr std::chrono::milliseconds kStep{5};
  for (;;) {
    std::optional<ProcessRecord> waiter = ReadRecord(state.WaiterFile());
    // Recorded and ended (at once, or long ago when the domain ran): done.
    if (waiter.has_value() && !Running(*waiter)) return;
    // Not recorded and none expected: done. A launcher that fails at once
    // may end before the kubelet ran the hook, so one expected is waited for.
    if (!waiter.has_value() && !hook) return;
    if (Clock::now() >= deadline) {
      base::LogWarn(waiter.has_value()
                        ? "the postStart hook is still running as the launcher exits; the "
                          "kubelet will report it failed"
                        : "no postStart hook recorded itself before the launcher exits",
                    {{"pid", waiter.has_value() ? std::to_string(waiter->pid) : ""},
                     {"waitedMs", std::to_string(limit.count())}});
      return;
    }
    std::this_thread::sleep_for(kStep);
  }
}

}  // namespace vireo::launcher
