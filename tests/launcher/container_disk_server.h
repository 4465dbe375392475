// Stand-ins for the launcher pod's containerDisk containers, which serve a
// volume's image in place (lib/api/launcher_pod.h, kContainerDisksDir).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace vireo::t2 {

// Per volume a process of ours that only waits: its root is ours, so the
// launcher finds the image at /proc/<pid>/root<image>, and it writes its pid
// and the image's path to the volume's directory as the pod's container
// does. Destruction kills what still runs.
class ContainerDiskServers {
 public:
  ContainerDiskServers() = default;
  ~ContainerDiskServers() { KillAll(); }
  ContainerDiskServers(const ContainerDiskServers&) = delete;
  ContainerDiskServers& operator=(const ContainerDiskServers&) = delete;

  // Serves `image` for `vol`, answering in `dir` (as `uid` when given), in
  // place of the server `vol` had.
  void Serve(const std::string& vol, const std::string& dir, const std::string& image,
             std::optional<uid_t> uid);
  // Starts the servers that have ended again, as a new pod would.
  void RestartEnded();
  // Whether `vol`'s server ended on SIGTERM (as the launcher ends it) within
  // `timeout`.
  bool StoppedBySigterm(const std::string& vol, std::chrono::milliseconds timeout);
  // SIGKILL to every server still running, and waits for it.
  void KillAll();

 private:
  struct Server {
    std::string dir;
    std::string image;
    std::optional<uid_t> uid;
    pid_t pid = 0;  // 0: ended
  };
  void Start(Server& server);

  std::map<std::string, Server> servers_;  // by volume
};

}  // namespace vireo::t2
