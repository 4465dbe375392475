// Time as the code that waits or times things sees it (lib/kube's watcher,
// work queue, leader election and events), behind an interface so unit tests
// decide when time passes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace vireo::base {

// Thread-safe.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;
  using WallTime = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;

  // Monotonic time: for delays, deadlines and expiry.
  virtual TimePoint Now() const = 0;
  // Calendar time: only for timestamps written to the API.
  virtual WallTime WallNow() const = 0;
  // Waits on cv (lock held, as for cv.wait) until it is notified, wakes
  // spuriously or `deadline` has passed on this clock. Callers re-check their
  // condition in a loop, as with any condition variable.
  virtual void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                         TimePoint deadline) const = 0;

  // The process's clocks; never destroyed.
  static Clock* Real();
};

class RealClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) const override {
    cv.wait_until(lock, deadline);
  }
};

inline Clock* Clock::Real() {
  static RealClock* const clock = new RealClock();
  return clock;
}

// A clock for tests. Time stands still until Advance is called, or, with
// auto_advance, each wait jumps time to its deadline at once and is recorded:
// a loop's sleeps then cost nothing and can be asserted on. Auto-advance suits
// one looping thread; with several, advance by hand.
// Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(bool auto_advance = false) : auto_advance_(auto_advance) {}

  TimePoint Now() const override {
    std::lock_guard<std::mutex> l(mu_);
    return TimePoint() + offset_;
  }
  WallTime WallNow() const override {
    std::lock_guard<std::mutex> l(mu_);
    return wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(offset_);
  }
  void Advance(Duration d) {
    std::lock_guard<std::mutex> l(mu_);
    offset_ += d;
  }
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) const override {
    {
      std::lock_guard<std::mutex> l(mu_);
      TimePoint now = TimePoint() + offset_;
      if (now >= deadline) return;
      if (auto_advance_) {
        waits_.push_back(deadline - now);
        offset_ = deadline - TimePoint();
        return;
      }
    }
    // Advance cannot reach this waiter's condition variable, so poll briefly:
    // the caller's loop sees the new time within a millisecond.
    cv.wait_for(lock, std::chrono::milliseconds(1));
  }
  // The waits that auto-advance skipped, in order.
  std::vector<Duration> waits() const {
    std::lock_guard<std::mutex> l(mu_);
    return waits_;
  }

 private:
  const bool auto_advance_;
  // A fixed calendar origin keeps written timestamps reproducible.
  const WallTime wall_start_ = WallTime(std::chrono::seconds(1'800'000'000));
  mutable std::mutex mu_;
  mutable Duration offset_ = std::chrono::hours(1);
  mutable std::vector<Duration> waits_;
};

}  // namespace vireo::base
