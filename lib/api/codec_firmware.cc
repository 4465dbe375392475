// JSON codec of a VMI's domain.firmware: bootloader (BIOS, EFI), kernelBoot,
// SMBIOS identity.
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

}  // namespace vireo::api::codec
