// The launcher's side of the serial console: relays raw bytes between QEMU's
// serial socket and one viewer on console.sock at a time. A new viewer takes
// over and the old one is told so and disconnected. While nobody is attached
// the guest's output is read and dropped here; QEMU's own log file
// (StateFiles::SerialLog) keeps it, so the guest never blocks and nothing is
// lost.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "lib/base/status.h"

namespace vireo::launcher {

class ConsoleRelay {
 public:
  // Listens on `console_socket` (mode 0600; a stale file is replaced).
  static base::Result<std::unique_ptr<ConsoleRelay>> Listen(const std::string& console_socket);
  ~ConsoleRelay();  // Stop()

  ConsoleRelay(const ConsoleRelay&) = delete;
  ConsoleRelay& operator=(const ConsoleRelay&) = delete;

  // Connects to QEMU's serial socket (retrying while QEMU comes up) and starts
  // relaying on a thread of its own. Viewers that connected before wait.
  base::Status Start(const std::string& serial_socket);

  // Stops relaying, disconnects the viewer and removes console.sock.
  // Idempotent.
  void Stop();

  // Viewers accepted so far (a takeover counts), for logs and tests.
  int viewers_accepted() const { return viewers_accepted_.load(); }

 private:
  ConsoleRelay(std::string path, int listen_fd, int wake_fd);
  void Loop();

  std::string path_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop() wakes the loop
  int serial_fd_ = -1;
  std::thread thread_;
  std::atomic<int> viewers_accepted_{0};
};

}  // namespace vireo::launcher
