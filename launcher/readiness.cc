// The ready file; see readiness.h.
#include "launcher/readiness.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace vireo::launcher {
namespace {

using base::Code;
using base::Status;

bool Alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// /proc/PID/stat's state is the field after the command's closing ')'.
bool Zombie(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

// Both sides look every 20 ms: a domain seen running reaches the kubelet
// within that, and a stat is all a look costs.
constexpr std::chrono::milliseconds kPollInterval{20};

// Writes "<pid>\n" to `path` atomically (rename).
Status WritePid(const std::string& path, pid_t pid) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << pid << "\n";
    out.close();
    if (!out) return Status(Code::kInternal, "write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status(Code::kInternal, "rename " + tmp + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

Status MarkReady(const std::string& ready_file, pid_t launcher, pid_t qemu) {
  std::string tmp = ready_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << launcher << " " << qemu << "\n";
    out.close();
    if (!out) return Status(Code::kInternal, "write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), ready_file.c_str()) != 0) {
    return Status(Code::kInternal, "rename " + tmp + ": " + std::strerror(errno));
  }
  return Status::Ok();
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
  if (Status s = WritePid(state.WaiterFile(), getpid()); !s.ok()) {
    std::fprintf(stderr, "wait-running: %s\n", s.message().c_str());
  }
  Status result;
  for (;;) {
    Status ready = CheckReady(state.ReadyFile());
    if (ready.ok()) break;
    if (Exists(state.ExitingFile())) {
      result = Status(Code::kCancelled, "the launcher is exiting");
      break;
    }
    if (Clock::now() >= deadline) {
      result =
          Status(Code::kTimeout, "still not running after " + std::to_string(limit.count() / 1000) +
                                     " s: " + ready.message());
      break;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  // The record stays: the launcher, exiting, waits for this process to be
  // gone, not for the file.
  return result;
}

void ReleaseWaiter(const StateFiles& state, bool hook, std::chrono::milliseconds limit) {
  // The file only announces the exit; a hook that starts after this sees it
  // at its first look.
  { std::ofstream(state.ExitingFile(), std::ios::trunc); }
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + limit;
  constexpr std::chrono::milliseconds kStep{5};
  pid_t waiter = 0;
  for (;;) {
    std::ifstream in(state.WaiterFile());
    if (in && in >> waiter) break;
    // A launcher that fails at once may end before the kubelet ran the hook.
    if (!hook || Clock::now() >= deadline) return;
    std::this_thread::sleep_for(kStep);
  }
  // Gone, or a zombie: its exit status is settled, whatever happens to it now.
  while (Alive(waiter) && !Zombie(waiter) && Clock::now() < deadline) {
    std::this_thread::sleep_for(kStep);
  }
}

}  // namespace vireo::launcher
