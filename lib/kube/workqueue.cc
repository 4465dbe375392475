// The rate limiter and the deduplicating, delaying work queue.
#include "lib/kube/workqueue.h"

#include <algorithm>
#include <cmath>

namespace vireo::kube {

using base::Clock;

RateLimiter::RateLimiter(RateLimiterOptions options, const Clock* clock)
    : options_(options), clock_(clock), tokens_(options.burst), refilled_at_(clock->Now()) {}

Clock::Duration RateLimiter::When(const std::string& key) {
  int& failures = failures_[key];
  Clock::Duration key_delay = KeyDelay(failures);
  ++failures;
  return std::max(key_delay, BucketDelay());
}

void RateLimiter::Forget(const std::string& key) { failures_.erase(key); }

int RateLimiter::NumRequeues(const std::string& key) const {
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

Clock::Duration RateLimiter::KeyDelay(int failures) const {
  // In double: 2^failures overflows integers long before the cap matters.
  const double max = std::chrono::duration<double, std::nano>(options_.max_delay).count();
  double delay = std::chrono::duration<double, std::nano>(options_.base_delay).count() *
                 std::pow(2.0, std::min(failures, 1000));
  delay = std::min(delay, max);
  return std::chrono::duration_cast<Clock::Duration>(
      std::chrono::duration<double, std::nano>(delay));
}

Clock::Duration RateLimiter::BucketDelay() {
  if (options_.qps <= 0) return Clock::Duration::zero();
  const Clock::TimePoint now = clock_->Now();
  const double elapsed = std::chrono::duration<double>(now - refilled_at_).count();
  refilled_at_ = now;
  tokens_ = std::min<double>(options_.burst, tokens_ + elapsed * options_.qps);
  tokens_ -= 1;
  if (tokens_ >= 0) return Clock::Duration::zero();
  return std::chrono::duration_cast<Clock::Duration>(
      std::chrono::duration<double>(-tokens_ / options_.qps));
}

WorkQueue::WorkQueue(WorkQueueOptions options)
    : clock_(options.clock != nullptr ? options.clock : Clock::Real()),
      limiter_(options.rate_limits, clock_) {
  timer_ = std::thread([this] { TimerLoop(); });
}

WorkQueue::~WorkQueue() {
  ShutDown();
  timer_.join();
}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  AddLocked(key);
}

void WorkQueue::AddNew(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  AddLocked(key, /*is_new=*/true);
}

void WorkQueue::AddLocked(const std::string& key, bool is_new) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;
  // A key being processed goes back into the queue at Done.
  if (processing_.count(key) != 0) return;
  (is_new ? new_ : queue_).push_back(key);
  ready_cv_.notify_one();
}

void WorkQueue::AddAfter(const std::string& key, Clock::Duration delay) {
  std::lock_guard<std::mutex> l(mu_);
  AddAfterLocked(key, delay);
}

void WorkQueue::AddAfterLocked(const std::string& key, Clock::Duration delay) {
  if (shutting_down_) return;
  if (delay <= Clock::Duration::zero()) {
    AddLocked(key);
    return;
  }
  const Clock::TimePoint ready = clock_->Now() + delay;
  auto [it, inserted] = waiting_.try_emplace(key, ready);
  if (!inserted) {
    if (it->second <= ready) return;
    it->second = ready;
  }
  delayed_.push(Delayed{ready, next_seq_++, key});
  timer_cv_.notify_one();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  AddAfterLocked(key, limiter_.When(key));
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  limiter_.Forget(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  return limiter_.NumRequeues(key);
}

std::optional<std::string> WorkQueue::Get() {
  std::unique_lock<std::mutex> l(mu_);
  ready_cv_.wait(l, [this] { return shutting_down_ || !new_.empty() || !queue_.empty(); });
  if (shutting_down_) return std::nullopt;
  std::deque<std::string>& from = new_.empty() ? queue_ : new_;
  std::string key = std::move(from.front());
  from.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  processing_.erase(key);
  if (!shutting_down_ && dirty_.count(key) != 0) {
    queue_.push_back(key);
    ready_cv_.notify_one();
  }
  if (processing_.empty()) idle_cv_.notify_all();
}

size_t WorkQueue::Len() const {
  std::lock_guard<std::mutex> l(mu_);
  return new_.size() + queue_.size();
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> l(mu_);
  shutting_down_ = true;
  ready_cv_.notify_all();
  timer_cv_.notify_all();
}

void WorkQueue::ShutDownWithDrain() {
  ShutDown();
  std::unique_lock<std::mutex> l(mu_);
  idle_cv_.wait(l, [this] { return processing_.empty(); });
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard<std::mutex> l(mu_);
  return shutting_down_;
}

void WorkQueue::TimerLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!shutting_down_) {
    const Clock::TimePoint now = clock_->Now();
    while (!delayed_.empty() && delayed_.top().ready <= now) {
      Delayed due = delayed_.top();
      delayed_.pop();
      auto it = waiting_.find(due.key);
      if (it == waiting_.end() || it->second != due.ready) continue;  // superseded
      waiting_.erase(it);
      AddLocked(due.key);
    }
    if (delayed_.empty()) {
      timer_cv_.wait(l);
    } else {
      clock_->WaitUntil(timer_cv_, l, delayed_.top().ready);
    }
  }
}

}  // namespace vireo::kube
