// Configurator for the guest's clock: UTC, shifted by clock.utc.offsetSeconds,
// and the timers clock.timer names (hpet, pit, rtc, hyperv).
#include <cstdint>
#include <optional>
#include <string>

#include "launcher/convert/configurators.h"

namespace vireo::launcher::convert_internal {

Status ConfigureClock(const VirtualMachineInstance& vmi, DomainXml& xml) {
  XmlElement& clock = *xml.clock;
  const std::optional<api::Clock>& spec = vmi.spec.domain.clock;
  const int64_t offset =
      spec.has_value() && spec->utc.has_value() ? spec->utc->offset_seconds.value_or(0) : 0;
  if (offset == 0) {
    clock.Attr("offset", "utc");
  } else {
    // QEMU's -rtc base=<UTC now + offset>: the guest reads it at boot.
    clock.Attr("offset", "variable")
        .Attr("basis", "utc")
        .Attr("adjustment", std::to_string(offset));
  }
  if (!spec.has_value() || !spec->timer.has_value()) return Status::Ok();
  auto add = [&clock](const char* name, const std::optional<api::ClockTimer>& given) {
    if (!given.has_value()) return;
    XmlElement& timer = clock.Add("timer").Attr("name", name);
    if (!given->tick_policy.empty()) timer.Attr("tickpolicy", given->tick_policy);
    if (!given->track.empty()) timer.Attr("track", given->track);
    timer.Attr("present", given->present.value_or(true) ? "yes" : "no");
  };
  add("hpet", spec->timer->hpet);
  add("pit", spec->timer->pit);
  add("rtc", spec->timer->rtc);
  // Hyper-V's reference clock (QEMU's hv-time).
  add("hypervclock", spec->timer->hyperv);
  return Status::Ok();
}
}  // namespace vireo::launcher::convert_internal
