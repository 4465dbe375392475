// The containerDisk server stand-ins of the T2 harness; see
// container_disk_server.h.
#include "tests/launcher/container_disk_server.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "tests/launcher/harness.h"

namespace vireo::t2 {
namespace fs = std::filesystem;

void ContainerDiskServers::Serve(const std::string& vol, const std::string& dir,
                                 const std::string& image, std::optional<uid_t> uid) {
  Server& server = servers_[vol];
  if (server.pid > 0) {
    kill(server.pid, SIGKILL);
    waitpid(server.pid, nullptr, 0);
  }
  server = Server{dir, fs::canonical(image).string(), uid, 0};
  Start(server);
}

void ContainerDiskServers::Start(Server& server) {
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    if (server.uid.has_value() && (setgid(*server.uid) != 0 || setuid(*server.uid) != 0)) {
      _exit(1);
    }
    // A uid change clears the dumpable flag, which /proc/<pid>/root needs;
    // the pod's server is exec'd as its uid and has it.
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    pause();
    _exit(0);
  }
  server.pid = pid;
  fs::create_directories(server.dir);
  WriteFileOrDie(server.dir + "/source", std::to_string(pid) + " " + server.image + "\n");
}

void ContainerDiskServers::RestartEnded() {
  for (auto& [vol, server] : servers_) {
    if (server.pid > 0 && waitpid(server.pid, nullptr, WNOHANG) == server.pid) server.pid = 0;
    if (server.pid == 0) Start(server);
  }
}

bool ContainerDiskServers::StoppedBySigterm(const std::string& vol,
                                            std::chrono::milliseconds timeout) {
  auto it = servers_.find(vol);
  if (it == servers_.end() || it->second.pid == 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    int status = 0;
    if (waitpid(it->second.pid, &status, WNOHANG) == it->second.pid) {
      it->second.pid = 0;
      return WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

void ContainerDiskServers::KillAll() {
  for (auto& [vol, server] : servers_) {
    if (server.pid <= 0) continue;
    kill(server.pid, SIGKILL);
    waitpid(server.pid, nullptr, 0);
    server.pid = 0;
  }
}

}  // namespace vireo::t2
