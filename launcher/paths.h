// Where the launcher finds its inputs and keeps its state: the pod layout of
// the launcher pod contract (lib/api/launcher_pod.h, docs/launcher-pod.md),
// relocatable under a root directory so tests can build the same tree in a
// temporary directory.
#pragma once

#include <string>
#include <string_view>

#include "launcher/storage/volumes.h"

namespace vireo::launcher {

// The environment variable that relocates PodPaths when --root is not given.
inline constexpr char kRootEnv[] = "VIREO_ROOT";

// The fixed paths a pod gives the launcher (volumes, container disks, the
// image's files). `root` prefixes every one of them: "" in a pod, a temporary
// tree mirroring the pod in tests.
class PodPaths {
 public:
  explicit PodPaths(std::string root = "");

  const std::string& root() const { return root_; }

  // Defaults of --vmi and --state-dir.
  std::string VmiFile() const;   // /var/run/vireo/vmi/vmi.json
  std::string StateDir() const;  // /var/run/vireo/state

  // A filesystem PVC is mounted here; its image is disk.img inside.
  std::string VolumeDir(std::string_view volume) const;  // /var/run/vireo/volumes/<vol>
  // A block PVC (volumeDevices).
  std::string BlockDevice(std::string_view volume) const;  // /dev/vireo/<vol>
  // The containerDisk image's file appears in here.
  std::string ContainerDiskDir(std::string_view volume) const;  // .../container-disks/<vol>
  // firmware.kernelBoot's kernel or initrd (name: contract::kKernelBootKernel
  // or kKernelBootInitrd), copied out of its image.
  std::string KernelBootFile(std::string_view name) const;  // .../kernel-boot/<name>
  // The Secrets of cloudInitNoCloud volume <vol>: userdata/, networkdata/.
  std::string CloudInitSecretsDir(std::string_view volume) const;  // .../cloud-init-secrets/<vol>
  // QEMU capabilities probed when the image was built (caps_cache.h).
  std::string CapabilitiesCacheDir() const;  // /usr/lib/vireo/qemu-capabilities

  // Prefixes an absolute pod path with the root.
  std::string Under(std::string_view absolute_path) const;

  // Where `run` prepares the VMI's volumes from (storage/volumes.h): these
  // paths, and `state_dir` for what the launcher makes itself.
  StorageLayout Storage(const std::string& state_dir) const;

 private:
  std::string root_;
};

// The files the launcher keeps in its state directory (an emptyDir). Other
// parts (storage, conversion) put their files under it too.
class StateFiles {
 public:
  explicit StateFiles(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  std::string File(std::string_view name) const;

  // Viewers connect here (`vireo-launcher console`).
  std::string ConsoleSocket() const { return File("console.sock"); }
  // QEMU's VNC server (the graphics device), which `vireo-launcher vnc` joins.
  std::string VncSocket() const { return File("vnc.sock"); }
  // QEMU's end of the serial port: a unix socket chardev QEMU listens on and
  // the launcher's relay connects to.
  std::string SerialSocket() const { return File("serial.sock"); }
  // Everything the guest wrote on the serial port, written by QEMU itself, so
  // nothing is lost while no viewer is attached.
  std::string SerialLog() const { return File("console.log"); }
  // Present while the domain runs: "<launcher pid> <qemu pid>\n". `probe`
  // reads it.
  std::string ReadyFile() const { return File("ready"); }
  // The pod's postStart hook (`wait-running`): "<its pid>\n". The
  // launcher, exiting, lets it return first.
  std::string WaiterFile() const { return File("wait-running.pid"); }
  // Written by the launcher as it exits: a waiting hook stops waiting.
  std::string ExitingFile() const { return File("exiting"); }
  // Written by the launcher when its start waits on the pod's containerDisk
  // containers (an image pull): a waiting hook stops waiting too.
  std::string WaitingForDisksFile() const { return File("waiting-for-disks"); }
  // The QEMU pid of the current (or a stale) launcher, for orphan cleanup.
  std::string QemuPidFile() const { return File("qemu.pid"); }
  // libvirt's embedded driver root (qemu:///embed?root=...).
  std::string LibvirtRoot() const { return File("libvirt"); }
  // libvirt's own log lines (warnings and errors), kept off our stderr.
  std::string LibvirtLog() const { return File("libvirt.log"); }

 private:
  std::string dir_;
};

}  // namespace vireo::launcher
