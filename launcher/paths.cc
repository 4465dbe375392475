// The pod paths of the launcher pod contract, under an optional root.
#include "launcher/paths.h"

#include "lib/api/launcher_pod.h"

namespace vireo::launcher {
namespace {

namespace contract = api::launcher_pod;

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

std::string PodPaths::VmiFile() const { return Under(contract::kVmiFile); }
std::string PodPaths::StateDir() const { return Under(contract::kStateDir); }

std::string PodPaths::VolumeDir(std::string_view volume) const {
  return Join(Under(contract::kVolumesDir), volume);
}

std::string PodPaths::BlockDevice(std::string_view volume) const {
  return Join(Under(contract::kBlockDir), volume);
}

std::string PodPaths::ContainerDiskDir(std::string_view volume) const {
  return Join(Under(contract::kContainerDisksDir), volume);
}

std::string PodPaths::KernelBootFile(std::string_view name) const {
  return Join(Under(contract::kKernelBootDir), name);
}

std::string PodPaths::CloudInitSecretsDir(std::string_view volume) const {
  return Join(Under(contract::kCloudInitSecretsDir), volume);
}

std::string PodPaths::CapabilitiesCacheDir() const {
  return Under(contract::kCapabilitiesCacheDir);
}

StorageLayout PodPaths::Storage(const std::string& state_dir) const {
  StorageLayout layout;
  layout.volumes_dir = Under(contract::kVolumesDir);
  layout.block_dir = Under(contract::kBlockDir);
  layout.container_disks_dir = Under(contract::kContainerDisksDir);
  layout.cloud_init_secrets_dir = Under(contract::kCloudInitSecretsDir);
  layout.state_dir = state_dir;
  return layout;
}

std::string StateFiles::File(std::string_view name) const { return Join(dir_, name); }

}  // namespace vireo::launcher
