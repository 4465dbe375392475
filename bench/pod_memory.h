// bench/overhead's view of a launcher pod's memory: a memory cgroup of its
// own to run the launcher in, what QEMU holds resident (the guest's RAM, the
// TCG cache), and the launcher stack's PSS. Linux /proc and cgroup files
// (v1 or v2); MappedFiles needs root.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vireo::bench {

// A memory cgroup of its own under this process's (v1 or v2), removed on
// destruction. Throws std::runtime_error when none can be made.
class MemoryCgroup {
 public:
  MemoryCgroup();
  // Removed once its last process is gone (QEMU may outlive a killed
  // launcher by a moment).
  ~MemoryCgroup();
  MemoryCgroup(const MemoryCgroup&) = delete;
  MemoryCgroup& operator=(const MemoryCgroup&) = delete;

  // A command prefix that moves the command into the cgroup before it runs.
  std::vector<std::string> Prefix() const;
  // Charged bytes that reclaim cannot free: usage minus page cache.
  int64_t Unreclaimable() const;
  // The resident file pages (libraries, executables) the processes of the
  // cgroup map, each page once however many map it (their page frames, from
  // /proc/PID/pagemap: root only): the pod pays for them wherever the page
  // cache charged them first (on this machine, often to another cgroup).
  // Throws when a page map cannot be read (the frames it would give are
  // not 0 only with CAP_SYS_ADMIN): a figure without them would be low.
  // Nothing when a process's memory went away during the read (it is
  // exiting): that sample would be low too.
  std::optional<int64_t> MappedFiles() const;
  // Peak of all charged bytes, page cache included (v2 without memory.peak: 0).
  int64_t PeakWithCache() const;

 private:
  std::string dir_;
  bool v2_ = false;
};

// Resident bytes of QEMU's guest RAM mapping (anonymous, the guest's size
// give or take its alignment) and of its TCG translation cache (anonymous
// and executable).
struct QemuResident {
  int64_t guest = 0;
  int64_t tcg_cache = 0;
  int64_t total = 0;  // every mapping
  bool found_guest = false;
};
QemuResident ReadQemu(pid_t qemu, int64_t guest_bytes);

// PSS of the launcher and every child of it that is not QEMU.
int64_t StackPss(pid_t launcher);

}  // namespace vireo::bench
