// JSON codec of VirtualMachine: run strategy, template and status.
#include "lib/api/codec.h"
#include "lib/api/codec_internal.h"

namespace vireo::api {
namespace codec {
namespace {

constexpr char kRunStrategies[] = "Always, RerunOnFailure, Manual, Halted, Once";

void ReadRunStrategy(ObjectReader& r, std::string_view key, std::optional<RunStrategy>* out) {
  std::optional<std::string> text;
  r.OptString(key, &text);
  if (!text.has_value()) return;
  *out = ParseRunStrategy(*text);
  if (!out->has_value()) {
    r.problems().Add(r.PathOf(key), kReasonNotSupported,
                     "unsupported value \"" + *text + "\": expected one of " + kRunStrategies);
  }
}

void WriteRunStrategy(ObjectWriter& w, std::string_view key,
                      const std::optional<RunStrategy>& strategy) {
  if (strategy.has_value()) w.Set(key, Json(RunStrategyName(*strategy)));
}

void DecodeTemplateMeta(const Json& json, const std::string& path, Problems& problems,
                        TemplateMeta* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.StringMap("labels", &out->labels);
  r.StringMap("annotations", &out->annotations);
  out->extra = r.Extra();
}

Json EncodeTemplateMeta(const TemplateMeta& meta) {
  ObjectWriter w(meta.extra);
  w.StringMap("labels", meta.labels);
  w.StringMap("annotations", meta.annotations);
  return w.Done();
}

void DecodeTemplate(const Json& json, const std::string& path, Problems& problems,
                    VirtualMachineInstanceTemplateSpec* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.Object("metadata", &out->metadata, DecodeTemplateMeta);
  r.Object("spec", &out->spec, DecodeVmiSpec);
  out->extra = r.Extra();
}

Json EncodeTemplate(const VirtualMachineInstanceTemplateSpec& tmpl) {
  ObjectWriter w(tmpl.extra);
  w.Object("metadata", tmpl.metadata, EncodeTemplateMeta);
  w.Set("spec", EncodeVmiSpec(tmpl.spec));
  return w.Done();
}

void DecodeVmSpec(const Json& json, const std::string& path, Problems& problems,
                  VirtualMachineSpec* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptBool("running", &out->running);
  ReadRunStrategy(r, "runStrategy", &out->run_strategy);
  r.Object("template", &out->template_spec, DecodeTemplate);
  r.Raw("dataVolumeTemplates", JsonType::Array, &out->data_volume_templates);
  out->extra = r.Extra();
}

Json EncodeVmSpec(const VirtualMachineSpec& spec) {
  ObjectWriter w(spec.extra);
  w.OptBool("running", spec.running);
  WriteRunStrategy(w, "runStrategy", spec.run_strategy);
  w.Set("template", EncodeTemplate(spec.template_spec));  // required by the schema
  w.Raw("dataVolumeTemplates", spec.data_volume_templates);
  return w.Done();
}

void DecodeStateChangeRequest(const Json& json, const std::string& path, Problems& problems,
                              StateChangeRequest* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  std::optional<std::string> action;
  r.OptString("action", &action);
  if (!action.has_value()) {
    problems.Add(r.PathOf("action"), kReasonRequired, "required: expected Start or Stop");
  } else if (auto parsed = ParseStateChangeAction(*action)) {
    out->action = *parsed;
  } else {
    problems.Add(r.PathOf("action"), kReasonNotSupported,
                 "unsupported value \"" + *action + "\": expected Start or Stop");
  }
  r.OptString("uid", &out->uid);
  r.StringMap("data", &out->data);
  out->extra = r.Extra();
}

Json EncodeStateChangeRequest(const StateChangeRequest& request) {
  ObjectWriter w(request.extra);
  w.Set("action", Json(StateChangeActionName(request.action)));
  w.OptString("uid", request.uid);
  w.StringMap("data", request.data);
  return w.Done();
}

void DecodeVmStatus(const Json& json, const std::string& path, Problems& problems,
                    VirtualMachineStatus* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.Bool("created", &out->created);
  r.Bool("ready", &out->ready);
  r.String("printableStatus", &out->printable_status);
  r.List("conditions", &out->conditions, DecodeCondition);
  r.List("stateChangeRequests", &out->state_change_requests, DecodeStateChangeRequest);
  ReadRunStrategy(r, "runStrategy", &out->run_strategy);
  r.Int("observedGeneration", &out->observed_generation);
  r.Int("desiredGeneration", &out->desired_generation);
  out->extra = r.Extra();
}

Json EncodeVmStatus(const VirtualMachineStatus& status) {
  ObjectWriter w(status.extra);
  w.Bool("created", status.created);
  w.Bool("ready", status.ready);
  w.String("printableStatus", status.printable_status);
  w.List("conditions", status.conditions, EncodeCondition);
  w.List("stateChangeRequests", status.state_change_requests, EncodeStateChangeRequest);
  WriteRunStrategy(w, "runStrategy", status.run_strategy);
  w.Int("observedGeneration", status.observed_generation);
  w.Int("desiredGeneration", status.desired_generation);
  return w.Done();
}

void DecodeVm(const Json& json, const std::string& path, Problems& problems, VirtualMachine* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("apiVersion", &out->api_version);
  r.String("kind", &out->kind);
  CheckTypeMeta(r, out->api_version, out->kind, kVirtualMachineKind);
  r.Object("metadata", &out->metadata, DecodeObjectMeta);
  r.Object("spec", &out->spec, DecodeVmSpec);
  r.Object("status", &out->status, DecodeVmStatus);
  out->extra = r.Extra();
}

}  // namespace
}  // namespace codec

template <>
Result<VirtualMachine> FromJson<VirtualMachine>(const Json& json) {
  return codec::DecodeTopLevel<VirtualMachine>(json, kVirtualMachineKind, codec::DecodeVm);
}

Json ToJson(const VirtualMachineStatus& status) { return codec::EncodeVmStatus(status); }

Json ToJson(const VirtualMachine& vm) {
  codec::ObjectWriter w(vm.extra);
  w.String("apiVersion", vm.api_version);
  w.String("kind", vm.kind);
  w.Object("metadata", vm.metadata, codec::EncodeObjectMeta);
  w.Set("spec", codec::EncodeVmSpec(vm.spec));
  w.Object("status", vm.status, codec::EncodeVmStatus);
  return w.Done();
}

}  // namespace vireo::api
