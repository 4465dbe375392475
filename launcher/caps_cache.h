// Keeps libvirt's probing of QEMU's capabilities off the launcher's start
// path: the image carries the cache libvirt wrote when it probed QEMU at
// image build time (`vireo-launcher warm-cache`), and `run` seeds the embedded
// driver's fresh cache directory with it. docs/launcher.md explains why the
// copy needs its file stamps refreshed.
#pragma once

#include <cstdint>
#include <string>

#include "lib/base/status.h"

namespace vireo::launcher {

// libvirt probes QEMU differently when it can use /dev/kvm (and then also
// ties the cache to the host's kernel and CPU microcode), so the image keeps
// one cache per case, in a subdirectory named "kvm" or "tcg".
enum class CapsVariant { kKvm, kTcg };
const char* CapsVariantName(CapsVariant variant);

// The variant libvirt will ask for on this machine: kvm when /dev/kvm can be
// opened read-write, libvirt's own test.
CapsVariant CurrentCapsVariant();

// The stamps libvirt compares before it trusts a cache file. They record when
// files were unpacked, which differs on every node an image lands on.
struct CapsStamps {
  int64_t qemu_ctime = 0;         // <qemuctime>: ctime of the emulator binary
  int64_t qemu_moddir_mtime = 0;  // <qemumoddirmtime>: QEMU's module directory; 0: keep
  int64_t self_ctime = 0;         // <selfctime>: ctime of libvirt's QEMU driver module
};

// The cache file's text with those three stamps replaced (pure).
std::string RefreshCapsStamps(std::string xml, const CapsStamps& stamps);

// The <emulator> path a cache file is for; empty if none.
std::string CachedEmulator(const std::string& xml);

// Copies <image_dir>/<variant>/*.xml into the embedded driver's cache under
// `libvirt_root`, stamps refreshed for this machine. Returns how many files
// were seeded: 0 when the image has none (libvirt will then probe, slowly).
base::Result<int> SeedCapabilitiesCache(const std::string& image_dir,
                                        const std::string& libvirt_root, CapsVariant variant);

// warm-cache: probes QEMU through a throwaway embedded driver and stores the
// cache under <out_dir>/<variant>. With `without_kvm`, the probe runs in a
// private mount namespace without /dev/kvm (needs CAP_SYS_ADMIN), which gives
// the host-independent tcg variant on a build machine that has KVM.
base::Status WarmCapabilitiesCache(const std::string& out_dir, bool without_kvm);

}  // namespace vireo::launcher
