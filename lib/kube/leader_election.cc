// Lease-based leader election: the pure decision, the Lease codec and the
// elector's loop.
#include "lib/kube/leader_election.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <utility>

#include "lib/base/log.h"
#include "lib/base/timestamp.h"

namespace vireo::kube {

using base::Clock;
using base::Code;
using base::FormatMicroTime;
using base::GetInt;
using base::GetString;
using base::Json;
using base::LogWarn;
using base::ParseMicroTime;
using base::ResourceVersionOf;
using base::Result;
using base::Status;

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;

// How often Run looks at the injected clock while an attempt is under way.
// Waiting on the clock itself would let a test clock that skips ahead to each
// wait's end jump past an attempt that is merely slow to be scheduled.
constexpr auto kAttemptPoll = std::chrono::milliseconds(20);

class ClientLeaseApi final : public LeaseApi {
 public:
  explicit ClientLeaseApi(Client* client) : client_(client) {}
  Result<Json> Get(const std::string& ns, const std::string& name,
                   Clock::Duration timeout) override {
    return client_->Get(resources::kLeases, ns, name, DeadlineIn(timeout));
  }
  Result<Json> Create(const std::string& ns, const Json& lease, Clock::Duration timeout) override {
    WriteOptions options;
    options.deadline = DeadlineIn(timeout);
    return client_->Create(resources::kLeases, ns, lease, options);
  }
  Result<Json> Update(const Json& lease, Clock::Duration timeout) override {
    WriteOptions options;
    options.deadline = DeadlineIn(timeout);
    return client_->Update(resources::kLeases, lease, options);
  }

 private:
  static Deadline DeadlineIn(Clock::Duration timeout) {
    return std::chrono::steady_clock::now() + timeout;
  }
  Client* const client_;
};

}  // namespace

LeaseRecord LeaseRecordOf(const Json& lease) {
  LeaseRecord record;
  record.holder_identity = GetString(lease, "spec.holderIdentity");
  record.lease_duration_seconds = GetInt(lease, "spec.leaseDurationSeconds").value_or(0);
  record.acquire_time = ParseMicroTime(GetString(lease, "spec.acquireTime"));
  record.renew_time = ParseMicroTime(GetString(lease, "spec.renewTime"));
  record.lease_transitions = GetInt(lease, "spec.leaseTransitions").value_or(0);
  return record;
}

Json LeaseWith(const Json& base, const LeaseRecord& record, std::string_view ns,
               std::string_view name) {
  Json lease = base;
  if (lease.is_null()) {
    Json metadata = Json::object();
    metadata["name"] = Json(std::string(name));
    metadata["namespace"] = Json(std::string(ns));
    lease = Json::object();
    lease["apiVersion"] = Json("coordination.k8s.io/v1");
    lease["kind"] = Json("Lease");
    lease["metadata"] = metadata;
  }
  // Fields of the spec this code does not know about are kept.
  Json spec =
      lease.contains("spec") && lease.at("spec").is_object() ? lease.at("spec") : Json::object();
  spec["holderIdentity"] = Json(record.holder_identity);
  spec["leaseDurationSeconds"] = Json(record.lease_duration_seconds);
  spec["leaseTransitions"] = Json(record.lease_transitions);
  const std::pair<const char*, const std::optional<Clock::WallTime>*> times[] = {
      {"acquireTime", &record.acquire_time}, {"renewTime", &record.renew_time}};
  for (const auto& [field, time] : times) {
    if (time->has_value()) {
      spec[field] = Json(FormatMicroTime(**time));
    } else if (spec.contains(field)) {
      spec.erase(field);
    }
  }
  lease["spec"] = spec;
  return lease;
}

LeaseDecision DecideLease(const LeaseObservation& observed, Clock::TimePoint now,
                          Clock::WallTime wall_now, const std::string& identity,
                          std::chrono::seconds lease_duration) {
  const LeaseRecord fresh{identity, lease_duration.count(), wall_now, wall_now, 0};
  if (!observed.record.has_value()) return {LeaseAction::kCreate, fresh};
  const LeaseRecord& current = *observed.record;
  if (current.holder_identity == identity) {
    LeaseRecord renewed = current;
    renewed.lease_duration_seconds = lease_duration.count();
    renewed.renew_time = wall_now;
    if (!renewed.acquire_time.has_value()) renewed.acquire_time = wall_now;
    return {LeaseAction::kRenew, renewed};
  }
  const std::chrono::seconds held_for = current.lease_duration_seconds > 0
                                            ? std::chrono::seconds(current.lease_duration_seconds)
                                            : lease_duration;
  const bool free = current.holder_identity.empty() || observed.observed_at + held_for <= now;
  if (!free) return {LeaseAction::kWait, current};
  LeaseRecord taken = fresh;
  taken.lease_transitions = current.lease_transitions + 1;
  return {LeaseAction::kAcquire, taken};
}

LeaseRecord ReleasedRecord(const LeaseRecord& held, Clock::WallTime wall_now) {
  return LeaseRecord{"", 1, wall_now, wall_now, held.lease_transitions};
}

std::unique_ptr<LeaseApi> LeaseApi::ForClient(Client* client) {
  return std::make_unique<ClientLeaseApi>(client);
}

Status ValidateLeaderElectionConfig(const LeaderElectionConfig& config) {
  auto invalid = [](const std::string& what) {
    return Status(Code::kInvalid, "leader election: " + what);
  };
  if (config.lease_namespace.empty() || config.lease_name.empty()) {
    return invalid("lease_namespace and lease_name are required");
  }
  if (config.identity.empty()) return invalid("identity is required (e.g. the pod name)");
  if (config.lease_duration < std::chrono::seconds(1)) {
    return invalid("lease_duration must be at least 1s");
  }
  if (config.renew_deadline >= config.lease_duration) {
    return invalid("renew_deadline must be shorter than lease_duration");
  }
  if (config.retry_period <= std::chrono::milliseconds(0) ||
      config.retry_period >= config.renew_deadline) {
    return invalid("retry_period must be positive and shorter than renew_deadline");
  }
  return Status::Ok();
}

LeaderElector::LeaderElector(std::unique_ptr<LeaseApi> api, LeaderElectionConfig config)
    : api_(std::move(api)),
      config_(std::move(config)),
      clock_(config_.clock != nullptr ? config_.clock : Clock::Real()) {}

LeaderElector::~LeaderElector() {
  Stop();
  JoinAttempt();
}

void LeaderElector::Run() {
  // Acquire: a success counts only if it came within the renew deadline of
  // the attempt's start, the moment others may have begun to time the Lease.
  Clock::TimePoint renewed_at;
  for (;;) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopped_) break;
    }
    const Clock::TimePoint start = clock_->Now();
    const std::optional<Attempt> attempt = AttemptUntil(start + config_.renew_deadline);
    if (attempt == Attempt::kHeld && clock_->Now() < start + config_.renew_deadline) {
      renewed_at = start;
      {
        std::lock_guard<std::mutex> l(mu_);
        leading_ = true;
      }
      break;
    }
    if (!Sleep(config_.retry_period)) break;
  }
  if (!IsLeader()) {
    JoinAttempt();
    return;
  }
  if (config_.on_started_leading) config_.on_started_leading();
  // Renew: the deadline runs from the start of the last successful renewal;
  // Run wakes for it even while an attempt is blocked.
  for (;;) {
    const Clock::TimePoint held_until = renewed_at + config_.renew_deadline;
    if (!SleepUntil(std::min(clock_->Now() + config_.retry_period, held_until))) break;
    if (clock_->Now() >= held_until) {
      Report(Status(Code::kTimeout,
                    "could not renew the lease within the renew deadline; stepping down"));
      break;
    }
    const Clock::TimePoint start = clock_->Now();
    const std::optional<Attempt> attempt = AttemptUntil(held_until);
    if (!attempt.has_value()) {
      bool stopped;
      {
        std::lock_guard<std::mutex> l(mu_);
        stopped = stopped_;
      }
      if (!stopped) {
        Report(Status(Code::kTimeout,
                      "renewing the lease still had no answer at the renew deadline; "
                      "stepping down"));
      }
      break;
    }
    if (*attempt == Attempt::kHeld) {
      renewed_at = start;
      continue;
    }
    // Acting on while another holder renews would make two leaders.
    if (*attempt == Attempt::kHeldByOther) {
      Report(Status(Code::kConflict, "lease taken over by " + Leader() + "; stepping down"));
      break;
    }
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    leading_ = false;
  }
  if (config_.on_stopped_leading) config_.on_stopped_leading();
  // The lease state is the attempt's until it returns.
  JoinAttempt();
  bool stopped;
  {
    std::lock_guard<std::mutex> l(mu_);
    stopped = stopped_;
  }
  if (stopped && config_.release_on_stop) Release();
}

std::optional<LeaderElector::Attempt> LeaderElector::AttemptUntil(Clock::TimePoint deadline) {
  JoinAttempt();
  {
    std::lock_guard<std::mutex> l(mu_);
    attempt_done_ = false;
  }
  attempt_thread_ = std::thread([this, deadline] {
    const Attempt attempt = TryAcquireOrRenew(deadline);
    std::lock_guard<std::mutex> l(mu_);
    attempt_result_ = attempt;
    attempt_done_ = true;
    cv_.notify_all();
  });
  std::unique_lock<std::mutex> l(mu_);
  while (!attempt_done_ && !stopped_) {
    const Clock::Duration left = deadline - clock_->Now();
    if (left <= Clock::Duration::zero()) break;
    cv_.wait_for(l, std::min<Clock::Duration>(left, kAttemptPoll));
  }
  if (!attempt_done_) return std::nullopt;
  return attempt_result_;
}

void LeaderElector::JoinAttempt() {
  if (attempt_thread_.joinable()) attempt_thread_.join();
}

void LeaderElector::Stop() {
  std::lock_guard<std::mutex> l(mu_);
  stopped_ = true;
  cv_.notify_all();
}

bool LeaderElector::IsLeader() const {
  std::lock_guard<std::mutex> l(mu_);
  return leading_;
}

std::string LeaderElector::Leader() const {
  std::lock_guard<std::mutex> l(mu_);
  return leader_;
}

LeaderElector::Attempt LeaderElector::TryAcquireOrRenew(Clock::TimePoint deadline) {
  const std::string& ns = config_.lease_namespace;
  const std::string& name = config_.lease_name;
  auto left = [&] { return deadline - clock_->Now(); };
  Result<Json> got = api_->Get(ns, name, left());
  if (got.ok()) {
    Observe(*got);
  } else if (got.status().IsNotFound()) {
    observed_lease_ = Json();
    observation_.record.reset();
    observed_version_.clear();
  } else {
    Report(got.status().WithContext("get lease " + ns + "/" + name));
    return Attempt::kFailed;
  }
  const LeaseDecision decision = DecideLease(observation_, clock_->Now(), clock_->WallNow(),
                                             config_.identity, config_.lease_duration);
  if (decision.action == LeaseAction::kWait) return Attempt::kHeldByOther;
  if (left() <= Clock::Duration::zero()) {
    Report(Status(Code::kTimeout,
                  "write lease " + ns + "/" + name + ": no time left before the renew deadline"));
    return Attempt::kFailed;
  }
  // The write is conditional on the version read: if anyone wrote since, it
  // fails with Conflict (or AlreadyExists) and the next attempt reads afresh.
  Result<Json> written =
      decision.action == LeaseAction::kCreate
          ? api_->Create(ns, LeaseWith(Json(), decision.record, ns, name), left())
          : api_->Update(LeaseWith(observed_lease_, decision.record), left());
  if (!written.ok()) {
    Report(written.status().WithContext("write lease " + ns + "/" + name));
    return Attempt::kFailed;
  }
  Observe(*written);
  return Attempt::kHeld;
}

void LeaderElector::Observe(const Json& lease) {
  const std::string version = ResourceVersionOf(lease);
  if (version != observed_version_ || !observation_.record.has_value()) {
    observation_.observed_at = clock_->Now();
    observed_version_ = version;
  }
  observation_.record = LeaseRecordOf(lease);
  observed_lease_ = lease;
  const std::string& holder = observation_.record->holder_identity;
  bool changed = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!holder.empty() && holder != leader_) {
      leader_ = holder;
      changed = true;
    }
  }
  if (changed && config_.on_new_leader) config_.on_new_leader(holder);
}

void LeaderElector::Release() {
  if (!observation_.record.has_value() ||
      observation_.record->holder_identity != config_.identity) {
    return;
  }
  // Bounded like a renewal: a Lease nobody can write to expires anyway.
  Result<Json> written = api_->Update(
      LeaseWith(observed_lease_, ReleasedRecord(*observation_.record, clock_->WallNow())),
      config_.renew_deadline);
  if (!written.ok()) {
    Report(written.status().WithContext("release lease " + config_.lease_namespace + "/" +
                                        config_.lease_name));
  }
}

bool LeaderElector::Sleep(Clock::Duration duration) { return SleepUntil(clock_->Now() + duration); }

bool LeaderElector::SleepUntil(Clock::TimePoint deadline) {
  std::unique_lock<std::mutex> l(mu_);
  while (!stopped_ && clock_->Now() < deadline) clock_->WaitUntil(cv_, l, deadline);
  return !stopped_;
}

void LeaderElector::Report(const Status& status) {
  if (config_.on_error) {
    config_.on_error(status);
    return;
  }
  LogWarn("leader election: " + status.ToString(), {{"identity", config_.identity}});
}

}  // namespace vireo::kube
