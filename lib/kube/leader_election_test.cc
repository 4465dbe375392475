// T0: the lease decision table, the Lease codec, and the elector's loop over
// an in-memory Lease with optimistic concurrency.
// gtest goes first: cpprest (through json.h) defines a macro U that breaks it.
#include <gtest/gtest.h>
// (a line here keeps clang-format from sorting the includes below above gtest)
#include <atomic>
#include <functional>
#include <thread>

#include "lib/kube/leader_election.h"
#include "lib/kube/test_http_server.h"

namespace vireo::kube {

using base::Clock;
using base::Code;
using base::FakeClock;
using base::Find;
using base::FormatMicroTime;
using base::GetString;
using base::Json;
using base::KeyOf;
using base::ParseJson;
using base::ParseMicroTime;
using base::ResourceVersionOf;
using base::Result;
using base::Status;

// Readable failure messages.
void PrintTo(const LeaseRecord& r, std::ostream* os) {
  *os << "{holder \"" << r.holder_identity << "\", " << r.lease_duration_seconds << "s, acquired "
      << (r.acquire_time ? FormatMicroTime(*r.acquire_time) : "-") << ", renewed "
      << (r.renew_time ? FormatMicroTime(*r.renew_time) : "-") << ", transitions "
      << r.lease_transitions << "}";
}

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::TimePoint kNow = Clock::TimePoint() + std::chrono::hours(5);
const Clock::WallTime kWallNow = Clock::WallTime(seconds(1'800'000'000));
const Clock::WallTime kEarlier = Clock::WallTime(seconds(1'799'990'000));

LeaseRecord Held(const std::string& holder, int64_t duration = 15, int64_t transitions = 3) {
  return LeaseRecord{holder, duration, kEarlier, kEarlier, transitions};
}

TEST(DecideLeaseTest, Table) {
  struct Case {
    const char* name;
    std::optional<LeaseRecord> record;
    Clock::Duration observed_ago;
    LeaseAction want;
    LeaseRecord want_record;
  };
  const LeaseRecord mine_fresh{"me", 15, kWallNow, kWallNow, 0};
  const LeaseRecord taken_over{"me", 15, kWallNow, kWallNow, 4};
  const LeaseRecord renewed{"me", 15, kEarlier, kWallNow, 3};
  const Case cases[] = {
      {"no lease: create", std::nullopt, {}, LeaseAction::kCreate, mine_fresh},
      {"ours: renew, keep acquireTime", Held("me"), seconds(1), LeaseAction::kRenew, renewed},
      {"ours but stale: still ours to renew", Held("me"), seconds(60), LeaseAction::kRenew,
       renewed},
      {"other, fresh: wait", Held("b"), seconds(5), LeaseAction::kWait, Held("b")},
      {"other, just short of expiry: wait", Held("b"), seconds(15) - milliseconds(1),
       LeaseAction::kWait, Held("b")},
      {"other, expired: take over", Held("b"), seconds(15), LeaseAction::kAcquire, taken_over},
      {"released: take at once", Held("", 1), {}, LeaseAction::kAcquire, taken_over},
      {"other, no duration: ours assumed, fresh", Held("b", 0), seconds(10), LeaseAction::kWait,
       Held("b", 0)},
      {"other, no duration: ours assumed, expired", Held("b", 0), seconds(20),
       LeaseAction::kAcquire, taken_over},
      {"other's longer duration counts", Held("b", 60), seconds(20), LeaseAction::kWait,
       Held("b", 60)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    LeaseObservation observed{c.record, kNow - c.observed_ago};
    LeaseDecision d = DecideLease(observed, kNow, kWallNow, "me", seconds(15));
    EXPECT_EQ(d.action, c.want);
    EXPECT_EQ(d.record, c.want_record);
  }
}

TEST(LeaseCodecTest, MicroTimeFormatAndParse) {
  const Clock::WallTime t = kWallNow + std::chrono::microseconds(123456);
  EXPECT_EQ(FormatMicroTime(t), "2027-01-15T08:00:00.123456Z");
  EXPECT_EQ(ParseMicroTime("2027-01-15T08:00:00.123456Z"), t);
  EXPECT_EQ(ParseMicroTime("2027-01-15T08:00:00Z"), kWallNow);
  EXPECT_EQ(ParseMicroTime("2027-01-15T09:30:00.5+01:30"), kWallNow + milliseconds(500));
  EXPECT_EQ(ParseMicroTime("2027-01-15T08:00:00.123456789Z"), t) << "nanoseconds truncate";
  for (const char* bad : {"", "2027-01-15", "2027-01-15T08:00:00", "2027-01-15T08:00:00.Z",
                          "2027-01-15T08:00:00Zjunk", "yesterday"}) {
    EXPECT_EQ(ParseMicroTime(bad), std::nullopt) << bad;
  }
}

TEST(LeaseCodecTest, LeaseWithKeepsMetadataAndUnknownSpecFields) {
  Json read = ParseJson(R"({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
      "metadata": {"name": "l", "namespace": "ns", "resourceVersion": "42"},
      "spec": {"holderIdentity": "b", "leaseDurationSeconds": 15,
               "acquireTime": "2027-01-15T07:00:00.000000Z", "strategy": "OldestEmulationVersion"}})")
                  .value();
  const LeaseRecord record{"me", 20, std::nullopt, kWallNow, 7};
  Json written = LeaseWith(read, record);
  EXPECT_EQ(ResourceVersionOf(written), "42");
  EXPECT_EQ(GetString(written, "spec.strategy"), "OldestEmulationVersion");
  EXPECT_EQ(Find(written, "spec.acquireTime"), nullptr);
  EXPECT_EQ(GetString(written, "spec.renewTime"), "2027-01-15T08:00:00.000000Z");
  EXPECT_EQ(LeaseRecordOf(written), record);

  Json fresh = LeaseWith(Json(), record, "ns", "vireo-controller");
  EXPECT_EQ(KeyOf(fresh), "ns/vireo-controller");
  EXPECT_EQ(GetString(fresh, "apiVersion"), "coordination.k8s.io/v1");
  EXPECT_EQ(LeaseRecordOf(fresh), record);
}

TEST(LeaseCodecTest, ReleasedRecordFreesTheLeaseAtOnce) {
  LeaseRecord released = ReleasedRecord(Held("me", 15, 5), kWallNow);
  EXPECT_EQ(released, (LeaseRecord{"", 1, kWallNow, kWallNow, 5}));
  LeaseObservation observed{released, kNow};
  EXPECT_EQ(DecideLease(observed, kNow, kWallNow, "b", seconds(15)).action, LeaseAction::kAcquire);
}

TEST(LeaderElectionConfigTest, RejectsDurationsOutOfOrder) {
  LeaderElectionConfig config;
  config.lease_namespace = "ns";
  config.lease_name = "l";
  config.identity = "me";
  EXPECT_TRUE(ValidateLeaderElectionConfig(config).ok());
  LeaderElectionConfig bad = config;
  bad.renew_deadline = seconds(15);
  EXPECT_EQ(ValidateLeaderElectionConfig(bad).code(), Code::kInvalid);
  bad = config;
  bad.retry_period = seconds(10);
  EXPECT_EQ(ValidateLeaderElectionConfig(bad).code(), Code::kInvalid);
  bad = config;
  bad.identity = "";
  EXPECT_EQ(ValidateLeaderElectionConfig(bad).code(), Code::kInvalid);
}

// One Lease in memory, written only with the resourceVersion last read, as
// the apiserver does. Hooks let a test act as another replica.
class FakeLeaseApi : public LeaseApi {
 public:
  Result<Json> Get(const std::string&, const std::string&, Clock::Duration timeout) override {
    ++gets;
    timeouts.push_back(timeout);
    if (before_get) before_get();
    if (!fail_gets.ok()) return fail_gets;
    if (!stored.has_value()) return Status(Code::kNotFound, "leases \"l\" not found", 404);
    return *stored;
  }
  Result<Json> Create(const std::string&, const Json& lease, Clock::Duration timeout) override {
    timeouts.push_back(timeout);
    if (before_write) before_write();
    if (stored.has_value()) return Status(Code::kAlreadyExists, "exists", 409);
    Store(lease);
    return *stored;
  }
  Result<Json> Update(const Json& lease, Clock::Duration timeout) override {
    timeouts.push_back(timeout);
    if (before_write) before_write();
    if (!stored.has_value()) return Status(Code::kNotFound, "gone", 404);
    if (ResourceVersionOf(lease) != ResourceVersionOf(*stored)) {
      return Status(Code::kConflict, "the object has been modified", 409);
    }
    ++updates;
    Store(lease);
    if (after_update) after_update();
    return *stored;
  }
  // Another replica writes: a new holder or a renewal.
  void WriteAs(const std::string& holder, int64_t transitions = 0) {
    Store(LeaseWith(stored.value_or(Json()), Held(holder, 15, transitions), "ns", "l"));
  }
  LeaseRecord record() const { return LeaseRecordOf(stored.value()); }

  std::optional<Json> stored;
  Status fail_gets;
  // Read by the test while the elector's attempt thread counts.
  std::atomic<int> gets{0};
  std::atomic<int> updates{0};
  std::vector<Clock::Duration> timeouts;  // given to each call, in order
  std::function<void()> before_get, before_write, after_update;

 private:
  void Store(Json lease) {
    lease["metadata"]["resourceVersion"] = Json(std::to_string(++version_));
    stored = std::move(lease);
  }
  int version_ = 0;
};

class LeaderElectorTest : public ::testing::Test {
 protected:
  LeaderElectorTest() : clock_(/*auto_advance=*/true) {
    auto api = std::make_unique<FakeLeaseApi>();
    api_ = api.get();
    config_.lease_namespace = "ns";
    config_.lease_name = "l";
    config_.identity = "a";
    config_.clock = &clock_;
    config_.on_started_leading = [this] { events_.push_back("started@" + Elapsed()); };
    config_.on_stopped_leading = [this] { events_.push_back("stopped@" + Elapsed()); };
    config_.on_new_leader = [this](const std::string& who) { events_.push_back("leader " + who); };
    config_.on_error = [this](const Status& s) { errors_.push_back(s); };
    pending_api_ = std::move(api);
  }
  // Builds the elector (tests adjust config_ first) and runs it on this thread.
  void Run() {
    ASSERT_TRUE(ValidateLeaderElectionConfig(config_).ok());
    elector_ = std::make_unique<LeaderElector>(std::move(pending_api_), config_);
    elector_->Run();
    EXPECT_FALSE(elector_->IsLeader());
  }
  std::string Elapsed() const {
    return std::to_string(std::chrono::duration_cast<seconds>(clock_.Now() - start_).count()) + "s";
  }

  FakeClock clock_;
  const Clock::TimePoint start_ = clock_.Now();
  FakeLeaseApi* api_;
  std::unique_ptr<FakeLeaseApi> pending_api_;
  LeaderElectionConfig config_;
  std::unique_ptr<LeaderElector> elector_;
  std::vector<std::string> events_;
  std::vector<Status> errors_;
};

TEST_F(LeaderElectorTest, CreatesRenewsAndReleasesOnStop) {
  api_->after_update = [this] {
    if (api_->updates == 3) elector_->Stop();
  };
  Run();
  EXPECT_EQ(events_, (std::vector<std::string>{"leader a", "started@0s", "stopped@6s"}));
  // Three renewals two seconds apart, then the release.
  EXPECT_EQ(api_->updates.load(), 4);
  // Each call may take what is left of the renew deadline (10 s) counted from
  // the last successful attempt's start, two seconds before; the release the
  // whole deadline.
  std::vector<Clock::Duration> want = {seconds(10), seconds(10)};  // get, create at 0 s
  for (int i = 0; i < 3; ++i) want.insert(want.end(), {seconds(8), seconds(8)});
  want.push_back(seconds(10));
  EXPECT_EQ(api_->timeouts, want);
  EXPECT_EQ(api_->record().holder_identity, "");
  EXPECT_EQ(api_->record().lease_duration_seconds, 1);
  EXPECT_EQ(api_->record().lease_transitions, 0);
  EXPECT_TRUE(errors_.empty());
}

TEST_F(LeaderElectorTest, WaitsForAnUnrenewedLeaseToExpireThenTakesIt) {
  api_->WriteAs("b", /*transitions=*/2);
  config_.on_started_leading = [this] {
    events_.push_back("started@" + Elapsed());
    elector_->Stop();
  };
  Run();
  // Tries every 2 s; the lease counts as expired 15 s after it was first seen.
  EXPECT_EQ(events_,
            (std::vector<std::string>{"leader b", "leader a", "started@16s", "stopped@16s"}));
  EXPECT_EQ(api_->gets.load(), 9);
  EXPECT_EQ(api_->record().lease_transitions, 3);
}

TEST_F(LeaderElectorTest, NeverTakesALeaseItsHolderKeepsRenewing) {
  api_->WriteAs("b");
  api_->before_get = [this] {
    api_->WriteAs("b");
    if (api_->gets == 20) elector_->Stop();
  };
  Run();
  EXPECT_EQ(events_, (std::vector<std::string>{"leader b"}));
  EXPECT_EQ(api_->updates.load(), 0);
  EXPECT_EQ(api_->record().holder_identity, "b");
}

TEST_F(LeaderElectorTest, StepsDownWhenRenewalsFailPastTheDeadline) {
  config_.on_started_leading = [this] {
    events_.push_back("started@" + Elapsed());
    api_->fail_gets = Status(Code::kUnavailable, "apiserver down");
  };
  Run();
  // Renew attempts at 2, 4, 6 and 8 s fail; at 10 s the deadline has passed
  // and no more is tried.
  EXPECT_EQ(events_, (std::vector<std::string>{"leader a", "started@0s", "stopped@10s"}));
  EXPECT_EQ(errors_.size(), 5u);
  EXPECT_EQ(errors_.back().code(), Code::kTimeout);
  EXPECT_EQ(api_->record().holder_identity, "a") << "no release without Stop";
}

TEST_F(LeaderElectorTest, StepsDownAtOnceWhenAnotherHolderTookOver) {
  config_.on_started_leading = [this] {
    events_.push_back("started@" + Elapsed());
    api_->WriteAs("b", 1);
  };
  Run();
  EXPECT_EQ(events_,
            (std::vector<std::string>{"leader a", "started@0s", "leader b", "stopped@2s"}));
  EXPECT_EQ(elector_->Leader(), "b");
  EXPECT_EQ(api_->record().holder_identity, "b");
}

TEST_F(LeaderElectorTest, AConflictingWriteIsRetriedFromAFreshRead) {
  api_->WriteAs("a");  // ours from before a restart
  int writes = 0;
  api_->before_write = [&] {
    // Someone renews between our read and our first write.
    if (++writes == 1) api_->WriteAs("a");
  };
  config_.on_started_leading = [this] {
    events_.push_back("started@" + Elapsed());
    elector_->Stop();
  };
  Run();
  EXPECT_EQ(events_, (std::vector<std::string>{"leader a", "started@2s", "stopped@2s"}));
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0].code(), Code::kConflict);
}

// A door a fake call waits at until the test opens it.
class Gate {
 public:
  void Pass() {
    std::unique_lock<std::mutex> l(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(l, [this] { return open_; });
    --waiting_;
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool WaitForWaiter(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, limit, [this] { return waiting_ > 0; });
  }
  int waiting() const {
    std::lock_guard<std::mutex> l(mu_);
    return waiting_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiting_ = 0;
};

// How long a step may take on real time before the test gives up. Generous:
// a loaded CI machine (T0 runs beside sanitizer builds) has left the
// elector's thread unscheduled for over 2 s; a passing run returns at once.
constexpr milliseconds kPatience{15000};

// Polls `done` on real time; the elector runs on another thread here.
bool Within(std::chrono::milliseconds limit, const std::function<bool()>& done) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

// Time moved by hand while Run runs on a thread of its own: a renewal that
// blocks must not keep the leader on past its deadline.
class BlockedRenewalTest : public ::testing::Test {
 protected:
  BlockedRenewalTest() {
    auto api = std::make_unique<FakeLeaseApi>();
    api_ = api.get();
    pending_api_ = std::move(api);
    config_.lease_namespace = "ns";
    config_.lease_name = "l";
    config_.identity = "a";
    config_.clock = &clock_;
    config_.on_error = [this](const Status& s) {
      std::lock_guard<std::mutex> l(mu_);
      errors_.push_back(s);
    };
  }
  ~BlockedRenewalTest() override {
    gate_.Open();
    if (elector_) elector_->Stop();
    if (runner_.joinable()) runner_.join();
  }
  void Start() {
    ASSERT_TRUE(ValidateLeaderElectionConfig(config_).ok());
    elector_ = std::make_unique<LeaderElector>(std::move(pending_api_), config_);
    runner_ = std::thread([this] {
      elector_->Run();
      ran_out_ = true;
    });
  }
  seconds Elapsed() const { return std::chrono::duration_cast<seconds>(clock_.Now() - start_); }

  FakeClock clock_;  // moved only by the test
  const Clock::TimePoint start_ = clock_.Now();
  FakeLeaseApi* api_;
  std::unique_ptr<FakeLeaseApi> pending_api_;
  LeaderElectionConfig config_;
  std::unique_ptr<LeaderElector> elector_;
  std::thread runner_;
  std::atomic<bool> ran_out_{false};
  Gate gate_;
  std::mutex mu_;
  std::vector<Status> errors_;
};

TEST_F(BlockedRenewalTest, StepsDownAtTheDeadlineWhileTheRenewalIsStillBlocked) {
  std::atomic<bool> started{false}, stopped{false}, blocked_when_stopped{false};
  std::atomic<int64_t> stopped_at{-1};
  config_.on_started_leading = [&] { started = true; };
  config_.on_stopped_leading = [&] {
    stopped_at = Elapsed().count();
    blocked_when_stopped = gate_.waiting() > 0;
    stopped = true;
  };
  std::atomic<int64_t> hung_renewal_began{-1};  // fake ms since start_
  api_->before_get = [&] {
    if (api_->gets >= 3) {  // the renewal due at 4 s hangs
      hung_renewal_began = std::chrono::duration_cast<milliseconds>(clock_.Now() - start_).count();
      gate_.Pass();
    }
  };
  Start();
  ASSERT_TRUE(Within(kPatience, [&] { return started.load(); }));
  clock_.Advance(seconds(2));  // renewed at 2 s: the deadline is now 12 s
  ASSERT_TRUE(Within(kPatience, [&] { return api_->updates == 1; }));
  // The next renewal (due at 4 s) hangs. The clock moves in small steps
  // until it does: an elector that had not yet gone back to sleep when one
  // step of 2 s was taken (a slow machine, a sanitizer build) would sleep
  // 2 s past it and never try.
  bool blocked = false;
  for (auto until = std::chrono::steady_clock::now() + kPatience;
       !blocked && std::chrono::steady_clock::now() < until && Elapsed() < seconds(11);) {
    clock_.Advance(milliseconds(100));
    blocked = gate_.WaitForWaiter(milliseconds(20));
  }
  ASSERT_TRUE(blocked) << "the renewal never started, fake time " << Elapsed().count() << " s";
  // Just short of the deadline: the last renewal began at 2 s, plus 10 s.
  clock_.Advance(start_ + seconds(12) - milliseconds(1) - clock_.Now());
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_FALSE(stopped) << "stepped down before the deadline";
  EXPECT_TRUE(elector_->IsLeader());
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(Within(kPatience, [&] { return stopped.load(); }))
      << "still leading past the deadline while the renewal hangs";
  EXPECT_EQ(stopped_at.load(), 12);
  EXPECT_TRUE(blocked_when_stopped);
  EXPECT_FALSE(elector_->IsLeader());
  // Run waits for the call it started before it returns.
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(ran_out_);
  gate_.Open();
  runner_.join();
  // The hung call was given what was left of the deadline when it began:
  // 12 s - 4 s, less the steps of the clock the elector woke late by. The
  // fake time seen in the call is no earlier than the one it was given.
  ASSERT_EQ(api_->timeouts.size(), 5u);
  ASSERT_GE(hung_renewal_began.load(), 4000);
  EXPECT_LE(api_->timeouts[4], seconds(8));
  EXPECT_GE(api_->timeouts[4], milliseconds(12000 - hung_renewal_began.load()));
  std::lock_guard<std::mutex> l(mu_);
  ASSERT_FALSE(errors_.empty());
  EXPECT_EQ(errors_.back().code(), Code::kTimeout);
  EXPECT_NE(errors_.back().message().find("renew deadline"), std::string::npos);
}

TEST_F(BlockedRenewalTest, AnAcquisitionThatSucceedsTooLateDoesNotLead) {
  std::atomic<int64_t> started_at{-1};
  config_.on_started_leading = [&] { started_at = Elapsed().count(); };
  int writes = 0;
  api_->before_write = [&] {
    if (++writes == 1) gate_.Pass();  // the create hangs, then succeeds
  };
  Start();
  ASSERT_TRUE(gate_.WaitForWaiter(kPatience));
  clock_.Advance(seconds(11));  // past the renew deadline of the attempt
  gate_.Open();
  // Not leading on a write others may already have timed out; the next
  // attempt, a retry period later, renews and leads.
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(started_at.load(), -1);
  EXPECT_FALSE(elector_->IsLeader());
  clock_.Advance(seconds(2));
  ASSERT_TRUE(Within(kPatience, [&] { return started_at.load() >= 0; }));
  EXPECT_EQ(started_at.load(), 13);
  elector_->Stop();
  runner_.join();
  EXPECT_EQ(api_->record().holder_identity, "") << "released on Stop";
}

// ForClient against a scripted server: every call ends at its timeout,
// whatever the server does, though the client's request timeout is 30 s.
class ClientLeaseApiTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> ClientFor(const testing::TestHttpServer& server) {
    ClusterConfig config;
    config.server = server.url();
    auto client = Client::Create(config);  // request timeout: 30 s
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return std::move(client).value();
  }
  // Runs `call`; its duration in ms.
  template <typename F>
  int64_t Timed(F call) {
    const auto start = std::chrono::steady_clock::now();
    call();
    return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start)
        .count();
  }
};

TEST_F(ClientLeaseApiTest, ACallWithNoReplyEndsAtItsTimeout) {
  testing::TestHttpServer* self = nullptr;
  testing::TestHttpServer server(
      [&self](const testing::HttpRequest&, testing::HttpConnection&) { self->Hold(); });
  self = &server;
  auto client = ClientFor(server);
  auto api = LeaseApi::ForClient(client.get());
  Result<Json> got = Json();
  const int64_t ms = Timed([&] { got = api->Get("ns", "l", milliseconds(400)); });
  EXPECT_EQ(got.status().code(), Code::kTimeout) << got.status().ToString();
  EXPECT_GE(ms, 390);
  EXPECT_LT(ms, 1400);
  const Json lease = LeaseWith(Json(), Held("a"), "ns", "l");
  Result<Json> written = Json();
  const int64_t write_ms = Timed([&] { written = api->Update(lease, milliseconds(300)); });
  EXPECT_EQ(written.status().code(), Code::kTimeout) << written.status().ToString();
  EXPECT_LT(write_ms, 1300);
  server.Release();
}

TEST_F(ClientLeaseApiTest, ARetryAfterLongerThanTheTimeoutIsNotWaitedOut) {
  testing::TestHttpServer server([](const testing::HttpRequest&, testing::HttpConnection& c) {
    const std::string body = R"({"kind": "Status", "code": 429, "reason": "TooManyRequests",
        "message": "slow down"})";
    c.Write(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 10\r\nContent-Type: "
        "application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body);
  });
  auto client = ClientFor(server);
  auto api = LeaseApi::ForClient(client.get());
  Result<Json> got = Json();
  const int64_t ms = Timed([&] { got = api->Get("ns", "l", seconds(2)); });
  EXPECT_EQ(got.status().code(), Code::kTooManyRequests) << got.status().ToString();
  EXPECT_LT(ms, 1000) << "waited for a retry the deadline does not allow";
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(ClientLeaseApiTest, AReplyThatStallsMidwayEndsAtTheTimeoutAndItsConnectionCloses) {
  std::atomic<int64_t> closed_after_ms{-1};
  const auto start = std::chrono::steady_clock::now();
  testing::TestHttpServer server([&](const testing::HttpRequest&, testing::HttpConnection& c) {
    c.StartChunked(200);
    c.Chunk(R"({"kind": "Lease", )");
    // A trickle of whitespace until the client hangs up (or 5 s).
    for (int i = 0; i < 250; ++i) {
      std::this_thread::sleep_for(milliseconds(20));
      if (!c.Write("1\r\n \r\n")) {
        closed_after_ms =
            std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start)
                .count();
        return;
      }
    }
  });
  auto client = ClientFor(server);
  auto api = LeaseApi::ForClient(client.get());
  Result<Json> got = Json();
  const int64_t ms = Timed([&] { got = api->Get("ns", "l", milliseconds(500)); });
  EXPECT_EQ(got.status().code(), Code::kTimeout) << got.status().ToString();
  EXPECT_LT(ms, 1500);
  EXPECT_TRUE(Within(milliseconds(3000), [&] { return closed_after_ms.load() >= 0; }))
      << "the connection stayed open after the deadline";
  EXPECT_LT(closed_after_ms.load(), 2000);
}

}  // namespace
}  // namespace vireo::kube
