// Controller (controller.h): the reconcilers registered with the runner,
// and the gauges that read their queues and the shared caches.
#include "controllers/controller.h"

namespace vireo::controllers {

Controller::Controller(kube::Client* client, kube::EventRecorder* recorder, Metrics* metrics,
                       ControllerConfig config)
    : config_(std::move(config)),
      caches_(client, config_.namespace_name),
      applier_(client, recorder, config_.expectation_ttl),
      vms_(&caches_, &applier_),
      vmis_(&caches_, &applier_, config_.launcher, config_.node_grace),
      data_volumes_(&caches_, &applier_, config_.importer),
      runner_([metrics](const std::string& name, std::chrono::duration<double> took, bool failed) {
        metrics->ObserveReconcile(name, took.count(), failed);
      }) {
  runner_.Register({"vm", &vms_.queue(),
                    [this](const std::string& key) { return vms_.Reconcile(key); },
                    config_.workers});
  runner_.Register({"vmi", &vmis_.queue(),
                    [this](const std::string& key) { return vmis_.Reconcile(key); },
                    config_.workers});
  // Imports are few and slow; one worker keeps their log reads in order.
  runner_.Register({"datavolume", &data_volumes_.queue(),
                    [this](const std::string& key) { return data_volumes_.Reconcile(key); }, 1});
  metrics->AddGauge("vireo_workqueue_depth", "Keys waiting for a worker, by queue.", "queue",
                    [this] {
                      return std::map<std::string, double>{
                          {"vm", static_cast<double>(vms_.queue().Len())},
                          {"vmi", static_cast<double>(vmis_.queue().Len())},
                          {"datavolume", static_cast<double>(data_volumes_.queue().Len())}};
                    });
  metrics->AddGauge("vireo_cached_objects", "Objects in the informer caches, by resource.",
                    "resource", [this] { return caches_.Sizes(); });
  // KubeVirt's VMI count, so its dashboards and alerts read ours. Only the
  // leader's: every replica caches the VMIs, and a Prometheus that scrapes
  // them all would count each VMI once per replica.
  caches_.vmis.AddHandlers(
      {.on_add = [this](const kube::ObjectPtr& vmi) { vmi_phases_.Observe(*vmi); },
       .on_update = [this](const kube::ObjectPtr&,
                           const kube::ObjectPtr& vmi) { vmi_phases_.Observe(*vmi); },
       .on_delete = [this](const kube::ObjectPtr& vmi) { vmi_phases_.Forget(*vmi); }});
  metrics->AddGauge("kubevirt_vmi_phase_count",
                    "Sum of VMIs per phase and node. `phase` can be one of the following: "
                    "[`Pending`, `Scheduling`, `Scheduled`, `Running`, `Succeeded`, `Failed`, "
                    "`Unknown`].",
                    kLabelSets, [this, metrics] {
                      return metrics->leader() ? vmi_phases_.Series()
                                               : std::map<std::string, double>{};
                    });
  metrics->AddGauge("vireo_expected_creations", "Creations not yet seen in the caches.", "",
                    [this] {
                      return std::map<std::string, double>{
                          {"", static_cast<double>(applier_.expectations().pending())}};
                    });
}

Controller::~Controller() {
  StopWorkers();
  StopInformers();
}

}  // namespace vireo::controllers
