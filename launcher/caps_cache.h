// Keeps libvirt's probing of QEMU's capabilities off the launcher's start
// path: the image carries the cache libvirt wrote when it probed QEMU at
// image build time (`vireo-launcher warm-cache`), and `run` seeds the embedded
// driver's fresh cache directory with it. docs/launcher.md explains why the
// copy needs its file stamps refreshed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

// With TCG chosen where /dev/kvm opens (emulation on, or a KVM the boot
// probe rejected), libvirt still wants capabilities probed with KVM, which
// depend on the host, so the image holds none, and it would probe QEMU at
// every start. In a pod the container's /dev/kvm is its own device node,
// given to the pod's user: taking read and write off it shows libvirt what
// the launcher decided, no KVM, and the image's tcg cache serves. Done only
// as that node's non-root owner (never on a host's /dev/kvm through a test
// root, never as root, whom modes do not stop); returns whether it did.
bool WithdrawKvmForTcg();

// The stamps libvirt compares before it trusts a cache file. They record when
// files were unpacked, which differs on every node an image lands on.
struct CapsStamps {
  int64_t qemu_ctime = 0;         // <qemuctime>: ctime of the emulator binary
  int64_t qemu_moddir_mtime = 0;  // <qemumoddirmtime>: QEMU's module directory; 0: keep
  int64_t self_ctime = 0;         // <selfctime>: ctime of libvirt's QEMU driver module
};

// The cache file's text with those three stamps replaced (pure).
std::string RefreshCapsStamps(std::string xml, const CapsStamps& stamps);

// The cache file's text without the `cpu-unavailable-features` flag (pure).
// With it, libvirt 9.0 reads the started guest's CPU back one QOM property
// at a time, about 400 monitor calls and a quarter of a second on every
// start (docs/launcher.md, "QEMU's capabilities, off the start path");
// without it, through
// the x86 CPU's `feature-words` and `filtered-features`, two calls, which
// QEMU 7.2 still has. Those words leave out the Hyper-V enlightenments, so
// a domain that asks for any (<hyperv>, the hypervclock timer) keeps the
// flag: libvirt would find them missing and refuse to start it. libvirt's
// only other use of the flag at start refuses MSR features named in the
// domain's <cpu>, which the launcher never names.
std::string WithoutPerPropertyCpuRead(std::string xml);

// Whether a domain may start with WithoutPerPropertyCpuRead's cache: it
// names no Hyper-V enlightenment (pure, on the domain XML).
bool QuickCpuReadFits(const std::string& domain_xml);

// The <emulator> path a cache file is for; empty if none.
std::string CachedEmulator(const std::string& xml);

// The files SeedCapabilitiesCache wrote, each with the modification time it
// left: libvirt replaces a cache file it rejects once it has probed QEMU
// itself, so a changed time (or a file gone) tells that it did.
struct SeededCaps {
  struct File {
    std::string path;
    int64_t mtime_ns = 0;
  };
  std::vector<File> files;
};

// Copies <image_dir>/<variant>/*.xml into the embedded driver's cache under
// `libvirt_root`, stamps refreshed for this machine, and with `quick_cpu_read`
// through WithoutPerPropertyCpuRead. No files when the image has none
// (libvirt will then probe, slowly).
base::Result<SeededCaps> SeedCapabilitiesCache(const std::string& image_dir,
                                               const std::string& libvirt_root, CapsVariant variant,
                                               bool quick_cpu_read);

// What became of the seeded cache once libvirt has loaded its capabilities
// (the embedded driver does when it is opened): "used" (every seeded file is
// as it was written), "probed" (libvirt replaced or removed one: it rejected
// the cache and ran QEMU to probe), "none" (nothing was seeded).
const char* SeededCapsOutcome(const SeededCaps& seeded);

// warm-cache: probes QEMU through a throwaway embedded driver and stores the
// cache under <out_dir>/<variant>. With `without_kvm`, the probe runs in a
// private mount namespace without /dev/kvm (needs CAP_SYS_ADMIN), which gives
// the host-independent tcg variant on a build machine that has KVM.
base::Status WarmCapabilitiesCache(const std::string& out_dir, bool without_kvm);

}  // namespace vireo::launcher
