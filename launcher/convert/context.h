// What the domain conversion needs besides the VMI: decisions the launcher
// made at run time (KVM or TCG, which console chardev, which user-mode
// network backend) and the files it prepared (disks, console, firmware).
#pragma once

#include <cstdint>
#include <string>

#include "launcher/storage/disk_source.h"
#include "lib/api/launcher_pod.h"

namespace vireo::launcher {

enum class Emulation {
  kKvm,  // <domain type='kvm'>, host CPU model
  kTcg,  // <domain type='qemu'>, software emulation with a bounded tb-cache
};

// How the guest's first serial port reaches `vireo-launcher console`. Both
// also write every byte to console_log_path, so nothing the guest prints is
// lost while no viewer is attached.
enum class ConsoleChardev {
  kUnixSocket,  // QEMU listens on console_socket_path (the pod contract)
  kPty,         // a pty libvirt allocates; the runtime reads its path from the live XML
};

// User-mode networking for a masquerade interface: the guest is NATed
// behind the pod IP with KubeVirt's masquerade addresses (10.0.2.2/24,
// gateway 10.0.2.1); docs/launcher.md, "Networking".
// KubeVirt's masquerade addresses, which every backend gives the guest by
// DHCP: the guest, its prefix length and its gateway (the pod).
inline constexpr char kMasqueradeGuestAddress[] = "10.0.2.2";
inline constexpr char kMasqueradePrefixLength[] = "24";
inline constexpr char kMasqueradeGateway[] = "10.0.2.1";

enum class UserNetBackend {
  // passt (Debian's package) as a process of its own, which the launcher
  // starts (launcher/passt.h); QEMU joins it with `-netdev stream` on
  // passt_socket_path. Forwards every TCP and UDP port of the pod to the
  // guest when the interface lists none, as KubeVirt's masquerade does.
  kPasstProcess,
  // QEMU's built-in slirp, given on QEMU's command line (<qemu:commandline>);
  // only the interface's listed ports are forwarded (hostfwd rules).
  kSlirp,
  // libvirt's <backend type='passt'/> with <portForward>. Debian's libvirt
  // 9.0 refuses the element ("Invalid value for attribute 'type' in element
  // 'backend'"), so it is only for a newer libvirt; untested here.
  kPasstLibvirt,
};

// Debian's ovmf package. Secure boot uses the code with SMM and the vars with
// Microsoft's keys enrolled (as the firmware descriptor
// 40-edk2-x86_64-secure-enrolled.json pairs them), so it is enforced.
struct FirmwarePaths {
  std::string ovmf_code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
  std::string ovmf_vars = "/usr/share/OVMF/OVMF_VARS_4M.fd";
  std::string ovmf_code_secure_boot = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
  std::string ovmf_vars_secure_boot = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";
};

struct ConvertContext {
  Emulation emulation = Emulation::kTcg;
  // Every volume a disk of the VMI names must be here (PrepareVolumes).
  DiskSources disks;

  ConsoleChardev console = ConsoleChardev::kUnixSocket;
  std::string console_socket_path;  // used with kUnixSocket
  std::string console_log_path;     // always; QEMU appends to it

  FirmwarePaths firmware;
  // EFI only: the guest's variable store. libvirt copies the matching
  // OVMF_VARS template there when the file is missing, and keeps it after.
  std::string nvram_path;
  // Only with autoattachGraphicsDevice: true: VNC listens on this unix socket.
  std::string vnc_socket_path;
  // The guest agent's channel (org.qemu.guest_agent.0), on q35.
  std::string guest_agent_socket_path;

  UserNetBackend network_backend = UserNetBackend::kPasstProcess;
  std::string passt_socket_path;  // used with kPasstProcess
  // firmware.kernelBoot: the kernel and initrd copied out of their image
  // (PodPaths::KernelBootFile); each empty when the VMI gives none.
  std::string kernel_path;
  std::string initrd_path;
  // TCG translation cache (the pod contract's, which the pod's memory
  // request counts). 0 leaves QEMU's default.
  uint32_t tb_cache_mib = api::launcher_pod::kTcgTranslationCacheMiB;
};

// A context with the pod contract's file names under `state_dir`
// (console.sock, console.log, efi-vars.fd, vnc.sock, qga.sock, passt/passt.sock) and the given
// emulation; disks are left empty for PrepareVolumes to fill.
ConvertContext ContextForStateDir(const std::string& state_dir, Emulation emulation);

}  // namespace vireo::launcher
