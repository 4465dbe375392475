// The cloudInitNoCloud seed: its file contents from the VMI, and the ISO
// 9660 image xorriso makes of them.
#include "launcher/storage/cloud_init.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "launcher/storage/process.h"
#include "lib/api/launcher_pod.h"
#include "lib/base/file_util.h"

namespace vireo::launcher {

using base::Code;
using base::Result;
using base::Status;

namespace {

Result<std::string> InlineOrBase64(const std::string& text, const std::string& base64,
                                   const std::string& field) {
  if (base64.empty()) return text;
  std::optional<std::string> decoded = base::DecodeBase64(base64);
  if (!decoded.has_value()) {
    return Status(Code::kInvalid, field + " is not valid base64");
  }
  return *decoded;
}

Status WriteWholeFile(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status(Code::kInternal, "cannot create " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return Status(Code::kInternal, "cannot write " + path + ": " + std::strerror(error));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0)
    return Status(Code::kInternal, "cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

// The Secret's data under `dir` (the kubelet writes one file a key): the
// first of `keys` present, as KubeVirt reads them.
Result<std::string> FromSecret(const std::string& dir, const std::string& secret,
                               const std::string& field, const char* lower, const char* camel) {
  for (const char* key : {lower, camel}) {
    const std::string path = dir + "/" + key;
    if (::access(path.c_str(), F_OK) != 0) continue;
    Result<std::string> data = base::ReadFile(path);
    if (!data.ok()) {
      return Status(Code::kInvalid, field + ": cannot read key '" + key + "' of Secret '" + secret +
                                        "' (" + path + "): " + data.status().message());
    }
    return data;
  }
  return Status(Code::kNotFound, field + ": Secret '" + secret + "' has no key '" + lower +
                                     "' or '" + camel + "' (looked in " + dir + ")");
}

}  // namespace

NoCloudSecretDirs NoCloudSecretDirsUnder(const std::string& volume_dir) {
  return {volume_dir + "/" + api::launcher_pod::kCloudInitUserDataDir,
          volume_dir + "/" + api::launcher_pod::kCloudInitNetworkDataDir};
}

Result<NoCloudSeed> MakeNoCloudSeed(const api::VirtualMachineInstance& vmi,
                                    const std::string& volume,
                                    const api::CloudInitNoCloudSource& source,
                                    const NoCloudSecretDirs& secrets) {
  const std::string field = "volume '" + volume + "': cloudInitNoCloud.";
  NoCloudSeed seed;
  Result<std::string> user_data =
      !source.secret_ref.empty()
          ? FromSecret(secrets.user_data, source.secret_ref, field + "secretRef", "userdata",
                       "userData")
          : InlineOrBase64(source.user_data, source.user_data_base64, field + "userDataBase64");
  if (!user_data.ok()) return user_data.status();
  seed.user_data = std::move(*user_data);
  Result<std::string> network =
      !source.network_data_secret_ref.empty()
          ? FromSecret(secrets.network_data, source.network_data_secret_ref,
                       field + "networkDataSecretRef", "networkdata", "networkData")
          : InlineOrBase64(source.network_data, source.network_data_base64,
                           field + "networkDataBase64");
  if (!network.ok()) return network.status();
  seed.network_config = std::move(*network);

  // instance-id tells cloud-init whether this is a new instance; the VMI uid
  // changes with every VMI, as KubeVirt's does.
  const api::ObjectMeta& meta = vmi.metadata;
  const std::string instance_id =
      meta.uid.empty() ? (meta.namespace_.empty() ? "default" : meta.namespace_) + "/" + meta.name
                       : meta.uid;
  const std::string hostname = vmi.spec.hostname.empty() ? meta.name : vmi.spec.hostname;
  seed.meta_data = "instance-id: " + instance_id + "\nlocal-hostname: " + hostname + "\n";
  return seed;
}

Status WriteNoCloudIso(const NoCloudSeed& seed, const std::string& iso_path,
                       const std::string& xorriso) {
  std::string staging_template = iso_path + ".files.XXXXXX";
  if (::mkdtemp(staging_template.data()) == nullptr) {
    return Status(Code::kInternal, "cannot create a staging folder next to " + iso_path + ": " +
                                       std::strerror(errno));
  }
  const std::string staging = staging_template;
  const std::string partial = iso_path + ".partial";
  auto cleanup = [&] {
    std::error_code ignored;
    std::filesystem::remove_all(staging, ignored);
    std::filesystem::remove(partial, ignored);
  };

  Status status = WriteWholeFile(staging + "/user-data", seed.user_data);
  if (status.ok()) status = WriteWholeFile(staging + "/meta-data", seed.meta_data);
  if (status.ok() && !seed.network_config.empty()) {
    status = WriteWholeFile(staging + "/network-config", seed.network_config);
  }
  if (!status.ok()) {
    cleanup();
    return status;
  }
  std::error_code ignored;
  std::filesystem::remove(partial, ignored);
  // cloud-init finds the seed by the volume id "cidata"; Joliet and Rock
  // Ridge keep the file names ("user-data", "network-config") intact.
  Result<storage_internal::ProcessResult> run =
      storage_internal::RunProcess({xorriso, "-as", "mkisofs", "-quiet", "-output", partial,
                                    "-volid", "cidata", "-joliet", "-rock", staging});
  if (!run.ok()) {
    cleanup();
    return run.status();
  }
  if (run->exit_code != 0) {
    cleanup();
    return Status(Code::kInternal, "xorriso could not write the cloud-init ISO " + iso_path + ": " +
                                       storage_internal::LastLine(run->output));
  }
  // Rename: a reader never sees half an ISO, and an old one is replaced whole.
  if (::rename(partial.c_str(), iso_path.c_str()) != 0) {
    const int error = errno;
    cleanup();
    return Status(Code::kInternal,
                  "cannot move the ISO to " + iso_path + ": " + std::strerror(error));
  }
  cleanup();
  return Status::Ok();
}

}  // namespace vireo::launcher
