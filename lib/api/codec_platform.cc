// JSON codec of a VMI's platform: domain.firmware (bootloader, kernelBoot,
// SMBIOS identity), domain.features (acpi, apic, smm, hyperv) and
// domain.clock.
#include <utility>

#include "lib/api/codec_generated.h"
#include "lib/api/codec_internal.h"

namespace vireo::api::codec {
namespace {

void DecodeEfi(const Json& json, const std::string& path, Problems& problems, Efi* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptBool("secureBoot", &out->secure_boot);
  out->extra = r.Extra();
}

Json EncodeEfi(const Efi& efi) {
  ObjectWriter w(efi.extra);
  w.OptBool("secureBoot", efi.secure_boot);
  return w.Done();
}

void DecodeBootloader(const Json& json, const std::string& path, Problems& problems,
                      Bootloader* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptObject("bios", &out->bios, DecodeMarker<Bios>);
  r.OptObject("efi", &out->efi, DecodeEfi);
  out->extra = r.Extra();
}

Json EncodeBootloader(const Bootloader& bootloader) {
  ObjectWriter w(bootloader.extra);
  w.OptObject("bios", bootloader.bios, EncodeMarker<Bios>);
  w.OptObject("efi", bootloader.efi, EncodeEfi);
  return w.Done();
}

void DecodeKernelBootContainer(const Json& json, const std::string& path, Problems& problems,
                               KernelBootContainer* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("image", &out->image);
  r.String("imagePullPolicy", &out->image_pull_policy);
  r.String("kernelPath", &out->kernel_path);
  r.String("initrdPath", &out->initrd_path);
  out->extra = r.Extra();
}

Json EncodeKernelBootContainer(const KernelBootContainer& container) {
  ObjectWriter w(container.extra);
  w.String("image", container.image);
  w.String("imagePullPolicy", container.image_pull_policy);
  w.String("kernelPath", container.kernel_path);
  w.String("initrdPath", container.initrd_path);
  return w.Done();
}

void DecodeKernelBoot(const Json& json, const std::string& path, Problems& problems,
                      KernelBoot* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("kernelArgs", &out->kernel_args);
  r.OptObject("container", &out->container, DecodeKernelBootContainer);
  out->extra = r.Extra();
}

Json EncodeKernelBoot(const KernelBoot& kernel_boot) {
  ObjectWriter w(kernel_boot.extra);
  w.String("kernelArgs", kernel_boot.kernel_args);
  w.OptObject("container", kernel_boot.container, EncodeKernelBootContainer);
  return w.Done();
}

void DecodeSpinlocks(const Json& json, const std::string& path, Problems& problems,
                     HypervSpinlocks* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptBool("enabled", &out->enabled);
  r.OptInt("spinlocks", &out->spinlocks);
  out->extra = r.Extra();
}

Json EncodeSpinlocks(const HypervSpinlocks& spinlocks) {
  ObjectWriter w(spinlocks.extra);
  w.OptBool("enabled", spinlocks.enabled);
  w.OptInt("spinlocks", spinlocks.spinlocks);
  return w.Done();
}

void DecodeVendorId(const Json& json, const std::string& path, Problems& problems,
                    HypervVendorId* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptBool("enabled", &out->enabled);
  r.String("vendorid", &out->vendorid);
  out->extra = r.Extra();
}

Json EncodeVendorId(const HypervVendorId& vendor) {
  ObjectWriter w(vendor.extra);
  w.OptBool("enabled", vendor.enabled);
  w.String("vendorid", vendor.vendorid);
  return w.Done();
}

// The plain on/off enlightenments of features.hyperv, by key.
constexpr std::pair<const char*, std::optional<FeatureState> Hyperv::*> kHypervStates[] = {
    {"relaxed", &Hyperv::relaxed},         {"vapic", &Hyperv::vapic},
    {"runtime", &Hyperv::runtime},         {"reset", &Hyperv::reset},
    {"frequencies", &Hyperv::frequencies}, {"reenlightenment", &Hyperv::reenlightenment}};

void DecodeHyperv(const Json& json, const std::string& path, Problems& problems, Hyperv* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  for (const auto& [key, member] : kHypervStates) {
    r.OptObject(key, &(out->*member), DecodeFields<FeatureState>);
  }
  r.OptObject("spinlocks", &out->spinlocks, DecodeSpinlocks);
  r.OptObject("vendorid", &out->vendorid, DecodeVendorId);
  out->extra = r.Extra();
}

Json EncodeHyperv(const Hyperv& hyperv) {
  ObjectWriter w(hyperv.extra);
  for (const auto& [key, member] : kHypervStates) {
    w.OptObject(key, hyperv.*member, EncodeFields<FeatureState>);
  }
  w.OptObject("spinlocks", hyperv.spinlocks, EncodeSpinlocks);
  w.OptObject("vendorid", hyperv.vendorid, EncodeVendorId);
  return w.Done();
}

// hpet and pit; rtc also has track.
void DecodeClockTimer(const Json& json, const std::string& path, Problems& problems,
                      ClockTimer* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptBool("present", &out->present);
  r.String("tickPolicy", &out->tick_policy);
  out->extra = r.Extra();
}

// hyperv: present only.
void DecodeHypervTimer(const Json& json, const std::string& path, Problems& problems,
                       ClockTimer* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptBool("present", &out->present);
  out->extra = r.Extra();
}

void DecodeRtcTimer(const Json& json, const std::string& path, Problems& problems,
                    ClockTimer* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptBool("present", &out->present);
  r.String("tickPolicy", &out->tick_policy);
  r.String("track", &out->track);
  out->extra = r.Extra();
}

Json EncodeClockTimer(const ClockTimer& timer) {
  ObjectWriter w(timer.extra);
  w.OptBool("present", timer.present);
  w.String("tickPolicy", timer.tick_policy);
  w.String("track", timer.track);
  return w.Done();
}

void DecodeClockTimers(const Json& json, const std::string& path, Problems& problems,
                       ClockTimers* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptObject("hpet", &out->hpet, DecodeClockTimer);
  r.OptObject("pit", &out->pit, DecodeClockTimer);
  r.OptObject("rtc", &out->rtc, DecodeRtcTimer);
  r.OptObject("hyperv", &out->hyperv, DecodeHypervTimer);
  out->extra = r.Extra();
}

Json EncodeClockTimers(const ClockTimers& timers) {
  ObjectWriter w(timers.extra);
  w.OptObject("hpet", timers.hpet, EncodeClockTimer);
  w.OptObject("pit", timers.pit, EncodeClockTimer);
  w.OptObject("rtc", timers.rtc, EncodeClockTimer);
  w.OptObject("hyperv", timers.hyperv, EncodeClockTimer);
  return w.Done();
}

}  // namespace

void DecodeFirmware(const Json& json, const std::string& path, Problems& problems, Firmware* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("uuid", &out->uuid);
  r.String("serial", &out->serial);
  r.OptObject("bootloader", &out->bootloader, DecodeBootloader);
  r.OptObject("kernelBoot", &out->kernel_boot, DecodeKernelBoot);
  out->extra = r.Extra();
}

Json EncodeFirmware(const Firmware& firmware) {
  ObjectWriter w(firmware.extra);
  w.String("uuid", firmware.uuid);
  w.String("serial", firmware.serial);
  w.OptObject("bootloader", firmware.bootloader, EncodeBootloader);
  w.OptObject("kernelBoot", firmware.kernel_boot, EncodeKernelBoot);
  return w.Done();
}

void DecodeFeatures(const Json& json, const std::string& path, Problems& problems, Features* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptObject("acpi", &out->acpi, DecodeFields<FeatureState>);
  r.OptObject("apic", &out->apic, DecodeFields<FeatureState>);
  r.OptObject("smm", &out->smm, DecodeFields<FeatureState>);
  r.OptObject("hyperv", &out->hyperv, DecodeHyperv);
  out->extra = r.Extra();
}

Json EncodeFeatures(const Features& features) {
  ObjectWriter w(features.extra);
  w.OptObject("acpi", features.acpi, EncodeFields<FeatureState>);
  w.OptObject("apic", features.apic, EncodeFields<FeatureState>);
  w.OptObject("smm", features.smm, EncodeFields<FeatureState>);
  w.OptObject("hyperv", features.hyperv, EncodeHyperv);
  return w.Done();
}

void DecodeClock(const Json& json, const std::string& path, Problems& problems, Clock* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptObject("utc", &out->utc, DecodeFields<ClockUtc>);
  r.OptObject("timer", &out->timer, DecodeClockTimers);
  out->extra = r.Extra();
}

Json EncodeClock(const Clock& clock) {
  ObjectWriter w(clock.extra);
  w.OptObject("utc", clock.utc, EncodeFields<ClockUtc>);
  w.OptObject("timer", clock.timer, EncodeClockTimers);
  return w.Done();
}

}  // namespace vireo::api::codec
