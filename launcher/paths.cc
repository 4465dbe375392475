// The pod paths of docs/launcher-pod.md, under an optional root.
#include "launcher/paths.h"

namespace vireo::launcher {
namespace {

std::string Join(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out += '/';
  out += name;
  return out;
}

}  // namespace

PodPaths::PodPaths(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (root_ == "/") root_.clear();
}

std::string PodPaths::Under(std::string_view absolute_path) const {
  return root_ + std::string(absolute_path);
}

std::string PodPaths::VmiFile() const { return Under("/var/run/vireo/vmi/vmi.json"); }
std::string PodPaths::StateDir() const { return Under("/var/run/vireo/state"); }

std::string PodPaths::VolumeDir(std::string_view volume) const {
  return Join(Under("/var/run/vireo/volumes"), volume);
}

std::string PodPaths::BlockDevice(std::string_view volume) const {
  return Join(Under("/dev/vireo"), volume);
}

std::string PodPaths::ContainerDiskDir(std::string_view volume) const {
  return Join(Under("/var/run/vireo/container-disks"), volume);
}

std::string PodPaths::CapabilitiesCacheDir() const {
  return Under("/usr/lib/vireo/qemu-capabilities");
}

std::string StateFiles::File(std::string_view name) const { return Join(dir_, name); }

}  // namespace vireo::launcher
