// The periodic malloc_trim of memory_trim.h.
#include "controllers/memory_trim.h"

#include <malloc.h>

namespace vireo::controllers {

MemoryTrimmer::MemoryTrimmer(std::chrono::milliseconds period, std::function<void()> trim)
    : trim_(trim != nullptr ? std::move(trim) : [] { malloc_trim(0); }) {
  thread_ = std::thread([this, period] {
    std::unique_lock l(mu_);
    while (!cv_.wait_for(l, period, [this] { return stopping_; })) {
      l.unlock();
      trim_();
      l.lock();
    }
  });
}

MemoryTrimmer::~MemoryTrimmer() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

}  // namespace vireo::controllers
