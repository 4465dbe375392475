// See pod_memory.h.
#include "bench/pod_memory.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_set>

#include "tests/launcher/harness.h"

namespace vireo::bench {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::map<std::string, int64_t> ReadKeyValues(const std::string& file) {
  std::map<std::string, int64_t> out;
  std::istringstream in(t2::ReadFileOrEmpty(file));
  std::string key;
  int64_t value = 0;
  while (in >> key >> value) out[key] = value;
  return out;
}

int64_t ReadNumber(const std::string& file) {
  return std::atoll(t2::ReadFileOrEmpty(file).c_str());
}

}  // namespace

MemoryCgroup::MemoryCgroup() {
  std::istringstream lines(t2::ReadFileOrEmpty("/proc/self/cgroup"));
  for (std::string line; std::getline(lines, line);) {
    // "4:memory:/path" (v1) or "0::/path" (v2)
    auto first = line.find(':'), second = line.find(':', first + 1);
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controllers == "memory") {
      dir_ = "/sys/fs/cgroup/memory" + path;
      v2_ = false;
      break;
    }
    if (controllers.empty() && fs::exists("/sys/fs/cgroup/cgroup.controllers")) {
      dir_ = "/sys/fs/cgroup" + path;
      v2_ = true;
    }
  }
  if (dir_.empty()) throw std::runtime_error("no memory cgroup found in /proc/self/cgroup");
  dir_ += "/vireo-overhead-bench-" + std::to_string(getpid());
  std::error_code ec;
  if (!fs::create_directory(dir_, ec)) {
    throw std::runtime_error("cannot make the memory cgroup " + dir_ + ": " + ec.message() +
                             " (run as root)");
  }
  if (!fs::exists(dir_ + (v2_ ? "/memory.current" : "/memory.usage_in_bytes"))) {
    rmdir(dir_.c_str());
    throw std::runtime_error(dir_ + " has no memory controller (cgroup v2: the parent's " +
                             "cgroup.subtree_control needs +memory)");
  }
}

MemoryCgroup::~MemoryCgroup() {
  for (int i = 0; i < 100 && rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++i) {
    std::this_thread::sleep_for(100ms);
  }
}

std::vector<std::string> MemoryCgroup::Prefix() const {
  return {"sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", dir_ + "/cgroup.procs"};
}

int64_t MemoryCgroup::Unreclaimable() const {
  auto stat = ReadKeyValues(dir_ + "/memory.stat");
  int64_t usage = ReadNumber(dir_ + (v2_ ? "/memory.current" : "/memory.usage_in_bytes"));
  return usage - stat["active_file"] - stat["inactive_file"];
}

std::optional<int64_t> MemoryCgroup::MappedFiles() const {
  std::unordered_set<uint64_t> frames;
  std::istringstream pids(t2::ReadFileOrEmpty(dir_ + "/cgroup.procs"));
  for (pid_t pid; pids >> pid;) {
    const std::string proc = "/proc/" + std::to_string(pid);
    // pread: the kernel takes only reads of whole 8-byte entries, which a
    // buffered stream does not make.
    const int fd = open((proc + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // the process has just ended
    std::istringstream maps(t2::ReadFileOrEmpty(proc + "/maps"));
    for (std::string line; std::getline(maps, line);) {
      unsigned long long begin = 0, end = 0, inode = 0;
      char perms[8] = {};
      // "start-end perms offset dev inode path"
      if (std::sscanf(line.c_str(), "%llx-%llx %7s %*s %*s %llu", &begin, &end, perms, &inode) !=
              4 ||
          inode == 0) {
        continue;  // anonymous, or not a mapping line
      }
      std::vector<uint64_t> entries((end - begin) / 4096);
      const ssize_t want = static_cast<ssize_t>(entries.size() * 8);
      const ssize_t got = pread(fd, entries.data(), static_cast<size_t>(want),
                                static_cast<off_t>(begin / 4096 * 8));
      if (got != want) {
        close(fd);
        if (got >= 0 && t2::ReadFileOrEmpty(proc + "/maps").empty()) return std::nullopt;
        throw std::runtime_error("cannot read " + proc + "/pagemap at " + line + ": " +
                                 (got < 0 ? std::strerror(errno) : "short read"));
      }
      for (uint64_t e : entries) {
        if (!(e >> 63)) continue;  // not present
        const uint64_t frame = e & ((1ULL << 55) - 1);
        if (frame == 0) {
          close(fd);
          throw std::runtime_error(proc + "/pagemap gives no page frames (needs CAP_SYS_ADMIN)");
        }
        frames.insert(frame);
      }
    }
    close(fd);
  }
  return static_cast<int64_t>(frames.size()) * 4096;
}

int64_t MemoryCgroup::PeakWithCache() const {
  return ReadNumber(dir_ + (v2_ ? "/memory.peak" : "/memory.max_usage_in_bytes"));
}

QemuResident ReadQemu(pid_t qemu, int64_t guest_bytes) {
  QemuResident out;
  std::istringstream in(t2::ReadFileOrEmpty("/proc/" + std::to_string(qemu) + "/smaps"));
  enum { kOther, kGuest, kTcg } current = kOther;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
        line.find('-') < line.find(' ')) {
      std::istringstream h(line);
      std::string range, perms, offset, dev, inode, path;
      h >> range >> perms >> offset >> dev >> inode >> path;
      auto dash = range.find('-');
      int64_t size = static_cast<int64_t>(std::stoull(range.substr(dash + 1), nullptr, 16) -
                                          std::stoull(range.substr(0, dash), nullptr, 16));
      const bool anonymous = inode == "0" && path.empty();
      current = kOther;
      if (anonymous && size >= guest_bytes && size <= guest_bytes + (8 << 20)) {
        current = kGuest;
        out.found_guest = true;
      } else if (anonymous && perms.find('x') != std::string::npos) {
        // QEMU's only anonymous executable memory; guard pages split it
        // into one mapping per TCG region.
        current = kTcg;
      }
    } else if (line.rfind("Rss:", 0) == 0) {
      int64_t bytes = std::atoll(line.c_str() + 4) * 1024;
      out.total += bytes;
      if (current != kOther) (current == kGuest ? out.guest : out.tcg_cache) += bytes;
    }
  }
  return out;
}

int64_t StackPss(pid_t launcher) {
  auto pss = [](pid_t pid) {
    std::istringstream in(t2::ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/smaps_rollup"));
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("Pss:", 0) == 0) return std::atoll(line.c_str() + 4) * 1024;
    }
    return 0LL;
  };
  int64_t total = 0;
  for (pid_t pid : t2::LauncherStack(launcher)) total += pss(pid);
  return total;
}

}  // namespace vireo::bench
