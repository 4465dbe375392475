// Hands freed heap memory back to the kernel now and then. The informers
// parse each list page and event into a tree that is freed at once, among
// the small blocks that stay; glibc returns such freed pages only when
// asked (malloc_trim), so without this the RSS would keep every burst's
// high-water mark (bench/informer: 61 MiB before a trim, 34 after).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace vireo::controllers {

// Runs `trim` (default: malloc_trim(0)) every `period` on a thread of its
// own, from construction to destruction.
class MemoryTrimmer {
 public:
  explicit MemoryTrimmer(std::chrono::milliseconds period, std::function<void()> trim = nullptr);
  // Stops and joins; no trim runs after it returns.
  ~MemoryTrimmer();
  // One trim now, on the caller's thread: after a burst the caller knows of
  // (the caches' lists), not a period later.
  void TrimNow() { trim_(); }
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

 private:
  const std::function<void()> trim_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace vireo::controllers
