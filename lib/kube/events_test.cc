// T0: Event aggregation, the Event objects written, and the recorder's
// queue over a fake sink.
// gtest goes first: cpprest (through json.h) defines a macro U that breaks it.
#include <gtest/gtest.h>
// (a line here keeps clang-format from sorting the includes below above gtest)
#include <future>
#include <set>

#include "lib/kube/events.h"

namespace vireo::kube {

using base::Clock;
using base::Code;
using base::DumpJson;
using base::FakeClock;
using base::Find;
using base::GetInt;
using base::GetString;
using base::Json;
using base::KeyOf;
using base::NameOf;
using base::ParseJson;
using base::Status;

namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const Clock::WallTime kT0 = Clock::WallTime(seconds(1'800'000'000));  // 2027-01-15T08:00:00Z

ObjectReference Vm(const std::string& name = "vm1", const std::string& uid = "uid-1") {
  return ObjectReference{"kubevirt.io/v1", "VirtualMachine", "ns", name, uid, "7"};
}

EventOccurrence Occurrence(ObjectReference object, const std::string& message = "started",
                           Clock::WallTime time = kT0) {
  return EventOccurrence{std::move(object), EventType::kNormal, "Started", message, time};
}

TEST(ReferenceToTest, ReadsTheObjectAndFillsTypeFromTheResource) {
  Json pod = ParseJson(R"({"metadata": {"name": "p", "namespace": "ns", "uid": "u",
                                        "resourceVersion": "9"}})")
                 .value();
  ObjectReference ref = ReferenceTo(pod, resources::kPods);
  EXPECT_EQ(ref.api_version, "v1");
  EXPECT_EQ(ref.kind, "Pod");
  EXPECT_EQ(ref.namespace_name, "ns");
  EXPECT_EQ(ref.name, "p");
  EXPECT_EQ(ref.uid, "u");
  EXPECT_EQ(ref.resource_version, "9");
  Json vm = ParseJson(R"({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                          "metadata": {"name": "v"}})")
                .value();
  EXPECT_EQ(ReferenceTo(vm).kind, "VirtualMachine");
}

TEST(EventAggregatorTest, RepeatsWithinTheWindowAreCountedOnOneEvent) {
  EventAggregator aggregator(minutes(10), 100);
  EventWrite first = aggregator.Observe(Occurrence(Vm()));
  EXPECT_EQ(first.kind, EventWrite::Kind::kCreate);
  EXPECT_EQ(first.count, 1);
  EXPECT_EQ(first.event_namespace, "ns");
  EXPECT_EQ(first.event_name.rfind("vm1.", 0), 0u) << first.event_name;

  ObjectReference newer_version = Vm();
  newer_version.resource_version = "8";  // the same object, changed meanwhile
  EventWrite second = aggregator.Observe(Occurrence(newer_version, "started", kT0 + minutes(3)));
  EXPECT_EQ(second.kind, EventWrite::Kind::kPatch);
  EXPECT_EQ(second.event_name, first.event_name);
  EXPECT_EQ(second.count, 2);
  EXPECT_EQ(second.first_timestamp, kT0);
  EXPECT_EQ(second.last_timestamp, kT0 + minutes(3));

  // The window runs from the first occurrence, not the last.
  EventWrite late = aggregator.Observe(Occurrence(Vm(), "started", kT0 + minutes(10)));
  EXPECT_EQ(late.kind, EventWrite::Kind::kCreate);
  EXPECT_NE(late.event_name, first.event_name);
  EXPECT_EQ(late.count, 1);
}

TEST(EventAggregatorTest, AnythingDifferentIsANewEvent) {
  EventAggregator aggregator(minutes(10), 100);
  std::set<std::string> names;
  names.insert(aggregator.Observe(Occurrence(Vm())).event_name);
  EventOccurrence warning = Occurrence(Vm());
  warning.type = EventType::kWarning;
  EventOccurrence other_reason = Occurrence(Vm());
  other_reason.reason = "Stopped";
  for (const EventOccurrence& o :
       {Occurrence(Vm(), "other message"), Occurrence(Vm("vm2", "uid-2")),
        Occurrence(Vm("vm1", "uid-of-a-recreated-vm1")), warning, other_reason}) {
    EventWrite w = aggregator.Observe(o);
    EXPECT_EQ(w.kind, EventWrite::Kind::kCreate) << o.message << " " << o.object.uid;
    names.insert(w.event_name);
  }
  EXPECT_EQ(names.size(), 6u) << "event names must be unique, even at the same instant";
}

TEST(EventAggregatorTest, ForgetAndEvictionStartNewEvents) {
  EventAggregator aggregator(minutes(10), 2);
  (void)aggregator.Observe(Occurrence(Vm("a", "ua")));
  aggregator.Forget(Occurrence(Vm("a", "ua")));
  EXPECT_EQ(aggregator.Observe(Occurrence(Vm("a", "ua"))).kind, EventWrite::Kind::kCreate);

  (void)aggregator.Observe(Occurrence(Vm("b", "ub")));
  (void)aggregator.Observe(Occurrence(Vm("a", "ua")));  // a is now the most recent
  (void)aggregator.Observe(Occurrence(Vm("c", "uc")));  // evicts b
  EXPECT_EQ(aggregator.size(), 2u);
  EXPECT_EQ(aggregator.Observe(Occurrence(Vm("a", "ua"))).kind, EventWrite::Kind::kPatch);
  EXPECT_EQ(aggregator.Observe(Occurrence(Vm("b", "ub"))).kind, EventWrite::Kind::kCreate);
}

TEST(EventAggregatorTest, LongNamesAreCutToAValidName) {
  EventAggregator aggregator(minutes(10), 100);
  std::string long_name(240, 'x');
  long_name[234] = '-';
  long_name[235] = '.';
  EventWrite w = aggregator.Observe(Occurrence(Vm(long_name)));
  EXPECT_LE(w.event_name.size(), 253u);
  size_t dot = w.event_name.rfind('.');
  ASSERT_NE(dot, std::string::npos);
  EXPECT_NE(w.event_name[dot - 1], '-');
  EXPECT_NE(w.event_name[dot - 1], '.');
}

TEST(EventObjectTest, CarriesEverythingKubectlDescribeShows) {
  EventOccurrence o = Occurrence(Vm());
  o.type = EventType::kWarning;
  o.message = std::string(2000, 'm');
  EventWrite w{EventWrite::Kind::kCreate, "ns", "vm1.abc", 1, kT0, kT0 + seconds(1)};
  Json event = EventObject(o, w, EventSource{"vireo-controller", "pod-0"});
  EXPECT_EQ(KeyOf(event), "ns/vm1.abc");
  EXPECT_EQ(GetString(event, "involvedObject.apiVersion"), "kubevirt.io/v1");
  EXPECT_EQ(GetString(event, "involvedObject.kind"), "VirtualMachine");
  EXPECT_EQ(GetString(event, "involvedObject.namespace"), "ns");
  EXPECT_EQ(GetString(event, "involvedObject.name"), "vm1");
  EXPECT_EQ(GetString(event, "involvedObject.uid"), "uid-1");
  EXPECT_EQ(GetString(event, "involvedObject.resourceVersion"), "7");
  EXPECT_EQ(GetString(event, "type"), "Warning");
  EXPECT_EQ(GetString(event, "reason"), "Started");
  EXPECT_EQ(GetString(event, "message").size(), 1024u);
  EXPECT_EQ(GetString(event, "source.component"), "vireo-controller");
  EXPECT_EQ(GetString(event, "source.host"), "pod-0");
  EXPECT_EQ(GetString(event, "reportingComponent"), "vireo-controller");
  EXPECT_EQ(GetString(event, "reportingInstance"), "pod-0");
  EXPECT_EQ(GetString(event, "firstTimestamp"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(GetString(event, "lastTimestamp"), "2027-01-15T08:00:01Z");
  EXPECT_EQ(GetInt(event, "count"), 1);

  Json patch = EventCountPatch(EventWrite{EventWrite::Kind::kPatch, "ns", "vm1.abc", 4, kT0, kT0});
  EXPECT_EQ(DumpJson(patch), R"({"count":4,"lastTimestamp":"2027-01-15T08:00:00Z"})");
}

TEST(EventObjectTest, MessagesAreNotCutInsideACharacter) {
  EventOccurrence o = Occurrence(Vm());
  o.message = "x";
  for (int i = 0; i < 600; ++i) o.message += "\xc3\xa9";  // é
  Json event = EventObject(o, EventWrite{}, EventSource{});
  std::string message = GetString(event, "message");
  EXPECT_EQ(message.size(), 1023u);
  EXPECT_EQ(message.back(), '\xa9');
}

TEST(EventObjectTest, ClusterScopedObjectsGetTheirEventsInDefault) {
  EventAggregator aggregator(minutes(10), 10);
  ObjectReference node{"v1", "Node", "", "node-1", "un", "1"};
  EventWrite w = aggregator.Observe(Occurrence(node));
  EXPECT_EQ(w.event_namespace, "default");
  Json event = EventObject(Occurrence(node), w, EventSource{});
  EXPECT_EQ(Find(event, "involvedObject.namespace"), nullptr);
}

// Records writes as lines; can hold the writer thread inside Create.
class FakeSink : public EventSink {
 public:
  Status Create(const std::string& ns, const Json& event) override {
    Gate();
    std::lock_guard<std::mutex> l(mu);
    lines.push_back("create " + ns + "/" + NameOf(event) +
                    " count=" + std::to_string(GetInt(event, "count").value_or(-1)));
    return create_result;
  }
  Status Patch(const std::string& ns, const std::string& name, const Json& patch) override {
    std::lock_guard<std::mutex> l(mu);
    lines.push_back("patch " + ns + "/" + name +
                    " count=" + std::to_string(GetInt(patch, "count").value_or(-1)));
    return patch_result;
  }
  void Gate() {
    std::unique_lock<std::mutex> l(mu);
    if (entered != nullptr) std::exchange(entered, nullptr)->set_value();
    cv.wait(l, [&] { return open; });
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu);
    open = true;
    cv.notify_all();
  }

  std::mutex mu;
  std::condition_variable cv;
  bool open = true;
  std::promise<void>* entered = nullptr;
  std::vector<std::string> lines;
  Status create_result;
  Status patch_result;
};

class EventRecorderTest : public ::testing::Test {
 protected:
  EventRecorderTest() {
    auto sink = std::make_unique<FakeSink>();
    sink_ = sink.get();
    options_.clock = &clock_;
    options_.on_error = [this](const Status& s) {
      std::lock_guard<std::mutex> l(sink_->mu);
      errors_.push_back(s);
    };
    pending_sink_ = std::move(sink);
  }
  EventRecorder& Recorder() {
    if (!recorder_) recorder_ = std::make_unique<EventRecorder>(std::move(pending_sink_), options_);
    return *recorder_;
  }
  // The name part of the first written line, e.g. "ns/vm1.<hex>".
  std::string FirstEventName() {
    const std::string& line = sink_->lines.at(0);
    size_t start = line.find(' ') + 1;
    return line.substr(start, line.find(' ', start) - start);
  }

  FakeClock clock_;
  FakeSink* sink_;
  std::unique_ptr<FakeSink> pending_sink_;
  EventRecorderOptions options_;
  std::vector<Status> errors_;
  std::unique_ptr<EventRecorder> recorder_;
};

TEST_F(EventRecorderTest, RepeatsBecomePatchesOfOneEvent) {
  for (int i = 0; i < 3; ++i) Recorder().Record(Vm(), EventType::kNormal, "Started", "started");
  Recorder().Flush();
  const std::string name = FirstEventName();
  EXPECT_EQ(sink_->lines,
            (std::vector<std::string>{"create " + name + " count=1", "patch " + name + " count=2",
                                      "patch " + name + " count=3"}));
  EXPECT_EQ(Recorder().dropped(), 0u);
}

TEST_F(EventRecorderTest, AnEventGoneBeforeItsRepeatIsCreatedAgain) {
  sink_->patch_result = Status(Code::kNotFound, "events \"vm1.x\" not found", 404);
  Recorder().Record(Vm(), EventType::kNormal, "Started", "started");
  Recorder().Record(Vm(), EventType::kNormal, "Started", "started");
  Recorder().Flush();
  ASSERT_EQ(sink_->lines.size(), 3u);
  EXPECT_EQ(sink_->lines[1].rfind("patch", 0), 0u);
  EXPECT_EQ(sink_->lines[2].rfind("create", 0), 0u);
  EXPECT_NE(sink_->lines[2], sink_->lines[0]) << "the new Event needs a new name";
  EXPECT_EQ(Recorder().failed(), 0u);
}

TEST_F(EventRecorderTest, AFullQueueDropsInsteadOfBlocking) {
  options_.queue_capacity = 2;
  std::promise<void> entered;
  sink_->open = false;
  sink_->entered = &entered;
  Recorder().Record(Vm("a", "ua"), EventType::kNormal, "Started", "1");
  entered.get_future().wait();  // the writer is stuck inside Create
  for (int i = 2; i <= 5; ++i) {
    Recorder().Record(Vm("a", "ua"), EventType::kNormal, "Started", std::to_string(i));
  }
  EXPECT_EQ(Recorder().dropped(), 2u);
  sink_->Open();
  Recorder().Flush();
  EXPECT_EQ(sink_->lines.size(), 3u);
}

TEST_F(EventRecorderTest, FailedCreatesAreCountedAndReported) {
  sink_->create_result = Status(Code::kForbidden, "cannot create events", 403);
  Recorder().Record(Vm(), EventType::kWarning, "Failed", "boom");
  Recorder().Record(Vm(), EventType::kWarning, "Failed", "boom");
  Recorder().Flush();
  EXPECT_EQ(Recorder().failed(), 2u);
  ASSERT_EQ(errors_.size(), 2u);
  EXPECT_EQ(errors_[0].code(), Code::kForbidden);
  // Nothing was created, so the repeat is another create, not a patch.
  EXPECT_EQ(sink_->lines[1].rfind("create", 0), 0u);
}

TEST_F(EventRecorderTest, ShutdownWritesWhatIsQueuedThenDropsNewEvents) {
  std::promise<void> entered;
  sink_->open = false;
  sink_->entered = &entered;
  Recorder().Record(Vm("a", "ua"), EventType::kNormal, "Started", "1");
  entered.get_future().wait();
  Recorder().Record(Vm("b", "ub"), EventType::kNormal, "Started", "2");
  std::thread shutdown([&] { Recorder().Shutdown(); });
  sink_->Open();
  shutdown.join();
  Recorder().Record(Vm("c", "uc"), EventType::kNormal, "Started", "3");
  EXPECT_EQ(sink_->lines.size(), 2u);
  EXPECT_EQ(Recorder().dropped(), 1u);
}

}  // namespace
}  // namespace vireo::kube
