// The bounds Vireo puts on what a VM may ask for, in one place: the CRD's
// schema (crds/src/) states the same numbers, and the validation here holds
// them for objects that reach the code some other way. They keep every sum
// and product the controller and launcher compute inside int64, and the VMI
// inside the launcher pod's annotation (the apiserver caps a pod's
// annotations at 256 KiB in all).
#pragma once

#include <cstdint>

namespace vireo::api {

// Each of userData, userDataBase64, networkData, networkDataBase64 inline;
// larger cloud-init data comes from a Secret (secretRef, networkDataSecretRef).
inline constexpr int64_t kMaxCloudInitInlineBytes = 64 * 1024;

// domain.memory.guest and the memory requests and limits: 16 TiB, beyond
// what QEMU gives one x86 guest, far from int64's end after any overhead.
inline constexpr int64_t kMaxMemoryBytes = int64_t{1} << 44;

// An emptyDisk's capacity and a DataVolume's claim: 1 PiB, so the claim
// sizing (capacity / 0.945, rounded up to MiB) stays inside int64.
inline constexpr int64_t kMaxDiskBytes = int64_t{1} << 50;

}  // namespace vireo::api
