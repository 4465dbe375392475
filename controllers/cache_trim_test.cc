// T0: trimmed launcher pods and PVCs keep what the decisions read, and the
// wrapper trims both listed and watched objects.
#include "controllers/cache_trim.h"

#include <gtest/gtest.h>

#include <deque>

#include "controllers/reconcile/common.h"
#include "controllers/reconcile/pod_summary.h"

namespace vireo::controllers {
namespace {

using base::Json;

Json Parse(const std::string& text) {
  auto parsed = base::ParseJson(text, "test");
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return parsed.ok() ? *parsed : Json();
}

const char kPod[] = R"({
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {
    "name": "virt-launcher-a-x1y2z", "namespace": "ns", "uid": "p1", "resourceVersion": "7",
    "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "u1"},
    "annotations": {"vireo.io/vmi": "{\"a very\": \"long VMI\"}", "keep": "me"},
    "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                         "name": "a", "uid": "u1", "controller": true}],
    "managedFields": [{"manager": "vireo"}]
  },
  "spec": {
    "nodeName": "node-1",
    "initContainers": [{"name": "accel-probe", "image": "launcher:1",
                        "command": ["vireo-launcher", "accel-probe"]}],
    "containers": [{"name": "compute", "image": "launcher:1", "command": ["vireo-launcher"],
                    "env": [{"name": "A", "value": "B"}]}],
    "volumes": [{"name": "vmi", "downwardAPI": {}}]
  },
  "status": {
    "phase": "Running", "podIP": "10.0.0.5",
    "conditions": [{"type": "Ready", "status": "True"}],
    "containerStatuses": [{"name": "compute", "state": {"running": {}}, "ready": true}],
    "initContainerStatuses": [{"name": "accel-probe", "state": {"terminated":
        {"exitCode": 0, "message": "tcg: KVM runs guests far too slowly"}}}]
  }
})";

TEST(CacheTrimTest, LauncherPodKeepsWhatTheDecisionReads) {
  Json pod = Parse(kPod);
  const internal::PodSummary before = internal::SummarizePod(pod);
  TrimLauncherPod(pod);
  const internal::PodSummary after = internal::SummarizePod(pod);
  EXPECT_EQ(after.name, before.name);
  EXPECT_EQ(after.uid, before.uid);
  EXPECT_EQ(after.created_by, "u1");
  EXPECT_EQ(after.controller_uid, "u1");
  EXPECT_EQ(after.node_name, "node-1");
  EXPECT_EQ(after.launcher_image, "launcher:1");
  EXPECT_EQ(after.phase, "Running");
  EXPECT_EQ(after.pod_ip, "10.0.0.5");
  EXPECT_EQ(after.ready, before.ready);
  EXPECT_TRUE(after.ready);
  EXPECT_EQ(after.launcher_running, before.launcher_running);
  EXPECT_TRUE(after.has_accel_probe);
  EXPECT_EQ(after.accel_verdict, "tcg: KVM runs guests far too slowly");

  EXPECT_EQ(base::Find(pod, "metadata.annotations")->size(), 1u);
  EXPECT_EQ(base::GetString(pod, "metadata.annotations.keep"), "me");
  EXPECT_EQ(base::Find(pod, "metadata.managedFields"), nullptr);
  EXPECT_EQ(base::Find(pod, "spec.volumes"), nullptr);
  EXPECT_EQ(base::Find(pod, "spec")->at("containers").at(0).size(), 2u);
  EXPECT_EQ(base::Find(pod, "spec")->at("initContainers").at(0).size(), 2u);
}

TEST(CacheTrimTest, ObjectsWithoutTheTrimmedFieldsAreLeftAlone) {
  Json pod = Parse(R"({"metadata": {"name": "p", "annotations": {"a": "b"}}, "spec": {}})");
  TrimLauncherPod(pod);
  EXPECT_EQ(base::DumpJson(pod), R"({"metadata":{"annotations":{"a":"b"},"name":"p"},"spec":{}})");
  Json bare = Parse(R"({"metadata": {"name": "p"}})");
  TrimLauncherPod(bare);
  TrimKubectlCopy(bare);
  TrimPersistentVolumeClaim(bare);
  EXPECT_EQ(base::NameOf(bare), "p");
}

TEST(CacheTrimTest, VmLosesOnlyKubectlsCopy) {
  Json vm = Parse(R"({
    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
    "metadata": {"name": "a", "namespace": "ns", "annotations": {
                   "kubectl.kubernetes.io/last-applied-configuration": "{\"the\": \"vm\"}"},
                 "managedFields": [{"manager": "kubectl"}]},
    "spec": {"runStrategy": "Always", "template": {"metadata": {"annotations": {"x": "y"}}}}
  })");
  Json expected = vm;
  expected["metadata"].erase("annotations");
  expected["metadata"].erase("managedFields");
  TrimKubectlCopy(vm);
  EXPECT_EQ(base::DumpJson(vm), base::DumpJson(expected));
  // Other annotations stay.
  Json vmi = Parse(R"({"metadata": {"annotations": {"kubevirt.io/vm-generation": "2"}}})");
  TrimKubectlCopy(vmi);
  EXPECT_EQ(vmi.at("metadata").at("annotations").at("kubevirt.io/vm-generation").get<std::string>(),
            "2");
}

TEST(CacheTrimTest, PvcKeepsWhatTheDecisionsRead) {
  Json pvc = Parse(R"({
    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
    "metadata": {"name": "disk", "namespace": "ns", "uid": "c1", "resourceVersion": "3",
                 "annotations": {"x": "y"}, "labels": {"a": "b"},
                 "ownerReferences": [{"kind": "DataVolume", "name": "disk", "uid": "d1"}]},
    "spec": {"volumeMode": "Block", "accessModes": ["ReadWriteOnce"], "volumeName": "pv-1",
             "storageClassName": "local-path",
             "resources": {"requests": {"storage": "1Gi"}, "limits": {"storage": "2Gi"}}},
    "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}
  })");
  TrimPersistentVolumeClaim(pvc);
  EXPECT_EQ(base::KeyOf(pvc), "ns/disk");
  EXPECT_EQ(base::ResourceVersionOf(pvc), "3");
  EXPECT_EQ(VolumeModeOf(pvc), VolumeMode::kBlock);
  EXPECT_EQ(base::Find(pvc, "metadata.annotations"), nullptr);
  EXPECT_EQ(base::Find(pvc, "metadata.ownerReferences")->size(), 1u);
  EXPECT_EQ(base::Find(pvc, "spec.volumeName"), nullptr);
  EXPECT_EQ(base::Find(pvc, "spec.resources.limits"), nullptr);
  const ClaimInfo info = ClaimInfoOf(pvc);
  EXPECT_EQ(info.capacity, "1Gi");
  EXPECT_EQ(info.request, "1Gi");
  EXPECT_EQ(info.access_modes, std::vector<std::string>{"ReadWriteOnce"});
  EXPECT_EQ(base::GetString(pvc, "status.phase"), "Bound");
  EXPECT_EQ(base::Find(pvc, "status.accessModes"), nullptr);
}

// A lister-watcher of one listed object and one watch event.
class OneOfEach final : public kube::ListerWatcher {
 public:
  base::Result<kube::ObjectList> List(const kube::ListOptions&) override {
    kube::ObjectList list;
    list.items.push_back(Parse(kPod));
    return list;
  }
  base::Result<std::unique_ptr<kube::WatchStream>> Watch(const kube::WatchOptions&) override {
    class Stream final : public kube::WatchStream {
     public:
      base::Result<kube::WatchEvent> Next() override {
        if (done_) return base::Status(base::Code::kTimeout, "end");
        done_ = true;
        return kube::WatchEvent{kube::WatchEvent::Type::kModified, Parse(kPod)};
      }
      void Cancel() override {}

     private:
      bool done_ = false;
    };
    return std::unique_ptr<kube::WatchStream>(std::make_unique<Stream>());
  }
};

TEST(CacheTrimTest, WrapperTrimsListsAndWatchEvents) {
  TrimmingListerWatcher lw(std::make_unique<OneOfEach>(), TrimLauncherPod);
  auto list = lw.List({});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(base::Find(list->items[0], "spec.volumes"), nullptr);
  auto stream = lw.Watch({});
  ASSERT_TRUE(stream.ok());
  auto event = (*stream)->Next();
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(base::Find(event->object, "spec.volumes"), nullptr);
  EXPECT_EQ(base::GetString(event->object, "spec.nodeName"), "node-1");
  EXPECT_EQ((*stream)->Next().status().code(), base::Code::kTimeout);
}

TEST(CacheTrimTest, NodeKeepsReadinessAndTaintsOnly) {
  Json node = Parse(R"({"apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "n1", "uid": "u", "resourceVersion": "7", "labels": {"a": "b"},
                 "managedFields": [{}]},
    "spec": {"podCIDR": "10.244.0.0/24", "taints": [{"key": "node.kubernetes.io/out-of-service",
             "effect": "NoExecute"}]},
    "status": {"images": [{"names": ["big"], "sizeBytes": 1}], "capacity": {"cpu": "2"},
      "conditions": [{"type": "MemoryPressure", "status": "False"},
                     {"type": "Ready", "status": "Unknown", "lastTransitionTime": "t"}]}})");
  const NodeState before = NodeStateOf(node);
  TrimNode(node);
  EXPECT_EQ(base::NameOf(node), "n1");
  EXPECT_EQ(base::ResourceVersionOf(node), "7");
  EXPECT_EQ(base::Find(node, "status.images"), nullptr);
  EXPECT_EQ(base::Find(node, "spec.podCIDR"), nullptr);
  EXPECT_EQ(base::Find(node, "metadata.managedFields"), nullptr);
  ASSERT_NE(base::Find(node, "status.conditions"), nullptr);
  EXPECT_EQ(base::Find(node, "status.conditions")->size(), 1u);
  const NodeState after = NodeStateOf(node);
  EXPECT_EQ(after.ready, before.ready);
  EXPECT_EQ(after.ready_since, before.ready_since);
  EXPECT_TRUE(after.out_of_service);
}

}  // namespace
}  // namespace vireo::controllers
