// Leader election on a coordination.k8s.io/v1 Lease, so that of several
// controller replicas one acts at a time. The decision (take, renew, wait) is
// a pure function of the observed Lease; LeaderElector wraps it in the I/O.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "lib/base/clock.h"
#include "lib/base/json.h"
#include "lib/base/status.h"
#include "lib/base/timestamp.h"
#include "lib/kube/client.h"

namespace vireo::kube {

// The election fields of a LeaseSpec.
struct LeaseRecord {
  std::string holder_identity;  // "" when released
  int64_t lease_duration_seconds = 0;
  std::optional<base::Clock::WallTime> acquire_time;
  std::optional<base::Clock::WallTime> renew_time;
  int64_t lease_transitions = 0;

  bool operator==(const LeaseRecord&) const = default;
};

LeaseRecord LeaseRecordOf(const base::Json& lease);
// `base` (a Lease as read, keeping its metadata and resourceVersion, so the
// write is conditional) with `record` as its election fields. A null base
// gives a new Lease named name in ns.
base::Json LeaseWith(const base::Json& base, const LeaseRecord& record, std::string_view ns = {},
                     std::string_view name = {});

enum class LeaseAction {
  kCreate,   // no Lease yet
  kAcquire,  // released, or its holder let it expire: take it over
  kRenew,    // ours: extend it
  kWait,     // someone else holds it and renews it
};

struct LeaseDecision {
  LeaseAction action = LeaseAction::kWait;
  LeaseRecord record;  // what to write; for kWait, the record as observed
};

struct LeaseObservation {
  std::optional<LeaseRecord> record;  // nullopt: there is no Lease
  // When this node first saw the record as it is now. Expiry is measured on
  // the local monotonic clock from here, never from the holder's renewTime,
  // so clocks of different nodes need not agree.
  base::Clock::TimePoint observed_at;
};

// What `identity` should do now. lease_duration is written into new and
// renewed records, and is assumed for a record that states none.
LeaseDecision DecideLease(const LeaseObservation& observed, base::Clock::TimePoint now,
                          base::Clock::WallTime wall_now, const std::string& identity,
                          std::chrono::seconds lease_duration);

// The record a leader writes when it steps down cleanly: no holder and a
// one-second duration, so a waiting candidate takes over at its next try.
LeaseRecord ReleasedRecord(const LeaseRecord& held, base::Clock::WallTime wall_now);

// The three calls the elector makes. Tests fake it; ForClient is the real one.
// `timeout` is what is left of the attempt's budget: a call should give up
// (kTimeout) once it has passed, Retry-After waits included. The elector steps
// down on time even when a call overstays, but cannot return from Run before
// the call does.
class LeaseApi {
 public:
  virtual ~LeaseApi() = default;
  virtual base::Result<base::Json> Get(const std::string& ns, const std::string& name,
                                       base::Clock::Duration timeout) = 0;
  virtual base::Result<base::Json> Create(const std::string& ns, const base::Json& lease,
                                          base::Clock::Duration timeout) = 0;
  virtual base::Result<base::Json> Update(const base::Json& lease,
                                          base::Clock::Duration timeout) = 0;
  // `client` must outlive the result. Each call gets a Client Deadline of
  // `timeout` from when it starts.
  static std::unique_ptr<LeaseApi> ForClient(Client* client);
};

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // unique per replica, e.g. the pod name
  // A candidate takes an unrenewed Lease this long after it last changed.
  std::chrono::seconds lease_duration{15};
  // A leader steps down this long after the start of its last successful
  // renewal, even while a renewal is still under way. Must be shorter than
  // lease_duration, so it stops before anyone else may start; the difference
  // is the margin for clock rate and for writes already on the wire.
  std::chrono::milliseconds renew_deadline{10'000};
  // Between attempts to acquire or renew.
  std::chrono::milliseconds retry_period{2'000};
  // On Stop, a leader writes ReleasedRecord so the next one need not wait.
  bool release_on_stop = true;
  // Called on the thread running Run: start or stop the real work elsewhere
  // and return. on_stopped_leading must not return before the work has
  // stopped: the lease is released right after it. It is called at the renew
  // deadline even if a renewal is blocked then; work that could still write
  // after it (a request under way) must be cut, e.g. by exiting.
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  // Whenever the observed holder changes (also to ourselves). This and
  // on_error are called on the thread that makes the API calls, which is not
  // Run's: a call that overstays the renew deadline may report while
  // on_stopped_leading runs.
  std::function<void(const std::string& holder)> on_new_leader;
  std::function<void(const base::Status&)> on_error;  // nullptr: a JSON line on stderr
  const base::Clock* clock = nullptr;                 // nullptr: Clock::Real()
};

// Ok, or kInvalid naming what is wrong (missing names, durations out of
// order).
base::Status ValidateLeaderElectionConfig(const LeaderElectionConfig& config);

// Runs one candidate: tries every retry_period until it holds the Lease,
// then renews it every retry_period until it cannot (renew deadline passed,
// or another holder observed) or Stop is called. Run then returns; a process
// that lost leadership usually exits and starts afresh.
//
// Each attempt (a read, then a conditional write) runs on a thread of its own
// while Run waits for it, at most until renew_deadline after the start of the
// last successful one; its API calls get what is left of that as their
// timeout. So a renewal blocked by a slow apiserver, a stalled connection or
// Retry-After waits cannot keep a leader acting past its deadline. An
// acquisition that succeeds only after renew_deadline does not make a leader.
// Thread-safe: Stop, IsLeader and Leader from any thread; Run once.
class LeaderElector {
 public:
  // REQUIRES: ValidateLeaderElectionConfig(config).ok()
  LeaderElector(std::unique_ptr<LeaseApi> api, LeaderElectionConfig config);
  // REQUIRES: Run has returned (Stop, then join the thread running it).
  ~LeaderElector();

  void Run();
  void Stop();
  bool IsLeader() const;
  // The holder last observed ("" if none).
  std::string Leader() const;

 private:
  enum class Attempt { kHeld, kHeldByOther, kFailed };

  // One attempt, its calls bounded by `deadline`.
  Attempt TryAcquireOrRenew(base::Clock::TimePoint deadline);
  // Runs TryAcquireOrRenew(deadline) on attempt_thread_ and waits for it
  // until `deadline` or Stop; nullopt if it has not returned by then.
  std::optional<Attempt> AttemptUntil(base::Clock::TimePoint deadline);
  // Waits for the attempt under way, if any.
  void JoinAttempt();
  // Sleep until `until` on clock_; false when stopped meanwhile.
  bool SleepUntil(base::Clock::TimePoint until);
  void Observe(const base::Json& lease);
  void Release();
  // False when stopped meanwhile.
  bool Sleep(base::Clock::Duration duration);
  void Report(const base::Status& status);

  const std::unique_ptr<LeaseApi> api_;
  const LeaderElectionConfig config_;
  const base::Clock* const clock_;

  // Touched by one attempt at a time, and by Run's thread only while none
  // is under way.
  base::Json observed_lease_;  // null: none observed
  LeaseObservation observation_;
  std::string observed_version_;
  std::thread attempt_thread_;  // Run's thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;                       // GUARDED_BY(mu_)
  bool leading_ = false;                       // GUARDED_BY(mu_)
  std::string leader_;                         // GUARDED_BY(mu_)
  bool attempt_done_ = true;                   // GUARDED_BY(mu_)
  Attempt attempt_result_ = Attempt::kFailed;  // GUARDED_BY(mu_)
};

}  // namespace vireo::kube
