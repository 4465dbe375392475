// Choosing KVM or TCG; see accel.h.
#include "launcher/accel.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vireo::launcher {
namespace {

// Empty when KVM is usable through `device`, else why not.
std::string KvmProblem(const std::string& device) {
  int fd = open(device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return device + ": " + std::strerror(errno);
  int version = ioctl(fd, KVM_GET_API_VERSION, 0);
  int err = errno;
  close(fd);
  if (version < 0) return device + ": KVM_GET_API_VERSION: " + std::strerror(err);
  if (version != KVM_API_VERSION) {
    return device + ": KVM API version " + std::to_string(version) + ", expected " +
           std::to_string(KVM_API_VERSION);
  }
  return "";
}

}  // namespace

kube::Result<AccelChoice> ChooseAccel(EmulationFlag flag, const std::string& kvm_device) {
  if (flag == EmulationFlag::kOn) return AccelChoice{Emulation::kTcg, "--emulation=on"};
  std::string problem = KvmProblem(kvm_device);
  if (problem.empty()) return AccelChoice{Emulation::kKvm, kvm_device + " is usable"};
  if (flag == EmulationFlag::kOff) {
    return kube::Status(kube::Code::kUnavailable,
                        "--emulation=off needs KVM, but " + problem +
                            " (give the pod /dev/kvm, or run with --emulation=auto or on)");
  }
  return AccelChoice{Emulation::kTcg, "no usable KVM: " + problem};
}

}  // namespace vireo::launcher
