// The tools' busybox and the scripts it runs in a containerDisk's or a
// kernelBoot's image (disk_containers.h); disk_containers_test runs them.
#include "controllers/reconcile/disk_containers.h"

#include <string>
#include <utility>

#include "controllers/reconcile/pod_json.h"
#include "lib/api/launcher_pod.h"

namespace vireo::controllers {
namespace {

using namespace pod_json;  // NOLINT(google-build-using-namespace): the pod's JSON vocabulary

namespace contract = api::launcher_pod;

constexpr char kToolsContainer[] = "vireo-tools";

// Copies firmware.kernelBoot's files out of their image. Arguments: $1 the
// kernel's path ("" for none), $2 the initrd's, $3 the destination directory.
constexpr char kCopyKernelScript[] =
    "set -eu\n"
    "copy() {\n"
    "  [ -n \"$1\" ] || return 0\n"
    "  if [ ! -f \"$1\" ]; then echo \"kernelBoot: no file at $1 in the image\" >&2; exit 1; fi\n"
    "  cp \"$1\" \"$3/$2\"\n"
    "}\n"
    "copy \"$1\" kernel \"$3\"\n"
    "copy \"$2\" initrd \"$3\"\n";

// Copies one disk image file (the path given, or the single file in the
// directory given) into the volume's directory, keeping its base name, so the
// directory always holds exactly that one file. Arguments: $1 source, $2
// destination directory.
constexpr char kCopyDiskScript[] =
    "set -eu\n"
    "src=\"$1\"; dst=\"$2\"\n"
    "if [ -d \"$src\" ]; then\n"
    "  n=0\n"
    "  for f in \"$src\"/*; do if [ -f \"$f\" ]; then n=$((n+1)); file=\"$f\"; fi; done\n"
    "  if [ \"$n\" -ne 1 ]; then\n"
    "    echo \"containerDisk: expected one file in $src, found $n\" >&2; exit 1\n"
    "  fi\n"
    "  src=\"$file\"\n"
    "fi\n"
    "if [ ! -f \"$src\" ]; then echo \"containerDisk: no disk image at $src\" >&2; exit 1; fi\n"
    "cp \"$src\" \"$dst/\"\n";

// Serves one containerDisk volume in place (lib/api/launcher_pod.h,
// kContainerDisksDir): finds the disk image file (the path given, or the
// single file in the directory given) and writes its pid and the file's
// resolved path to $2/source, or why not to $2/error, then sleeps until
// SIGTERM, which ends it with 0. Arguments: $1 the path in the image, $2 the
// volume's directory. A launcher that ended before this answered left
// $2/stop: it then ends at once. The pod has one process namespace, so the shell's pid
// is the one the launcher sees; it is read from /proc/self/stat by the
// shell itself (a builtin's redirection), since the kubelet turns "$$" in a
// command into "$" (its $(VAR) expansion), which disk_containers_test applies.
constexpr char kServeDiskScript[] =
    "set -eu\n"
    "src=\"$1\"; dir=\"$2\"\n"
    "fail() {\n"
    "  echo \"containerDisk: $1\" >&2\n"
    "  echo \"$1\" > \"$dir/error.tmp\"; mv \"$dir/error.tmp\" \"$dir/error\"; exit 1\n"
    "}\n"
    "if [ -d \"$src\" ]; then\n"
    "  n=0\n"
    "  for f in \"$src\"/*; do if [ -f \"$f\" ]; then n=$((n+1)); file=\"$f\"; fi; done\n"
    "  [ \"$n\" -eq 1 ] || fail \"expected one file in $src, found $n\"\n"
    "  src=\"$file\"\n"
    "fi\n"
    "[ -f \"$src\" ] || fail \"no disk image at $src\"\n"
    "real=$(readlink -f \"$src\") || fail \"cannot resolve $src\"\n"
    "trap '[ -z \"${!:-}\" ] || kill \"$!\" 2>/dev/null; exit 0' TERM INT\n"
    "read -r pid rest < /proc/self/stat\n"
    "echo \"$pid $real\" > \"$dir/source.tmp\"; mv \"$dir/source.tmp\" \"$dir/source\"\n"
    "[ ! -e \"$dir/stop\" ] || exit 0\n"
    "while :; do sleep 86400 & wait $! || true; done\n";

std::string ToolsBusybox() {
  return std::string(contract::kToolsDir) + "/" + contract::kToolsBusybox;
}

std::string DiskPathOrDefault(const std::string& path) {
  return path.empty() ? contract::kDefaultContainerDiskPath : path;
}

}  // namespace

Json ToolsInitContainer(const std::string& launcher_image, const std::string& pull_policy,
                        Json resources) {
  Json tools = Json::object();
  tools["name"] = Str(kToolsContainer);
  tools["image"] = Str(launcher_image);
  tools["imagePullPolicy"] = Str(pull_policy);
  tools["command"] = StringArray(
      {contract::kBusyboxInLauncherImage, "cp", contract::kBusyboxInLauncherImage, ToolsBusybox()});
  tools["resources"] = std::move(resources);
  tools["terminationMessagePolicy"] = Str(kTerminationMessagePolicy);
  tools["securityContext"] = RestrictedContainerSecurityContext(/*seccomp=*/true);
  tools["volumeMounts"] = base::JsonArray(1);
  tools["volumeMounts"][0] = Mount(kToolsVolume, contract::kToolsDir, false);
  return tools;
}

ShellScript ServeDiskScript(const std::string& path, const std::string& dir) {
  return {kServeDiskScript, "serve-disk", {DiskPathOrDefault(path), dir}};
}

ShellScript CopyDiskScript(const std::string& path, const std::string& dir) {
  return {kCopyDiskScript, "copy-disk", {DiskPathOrDefault(path), dir}};
}

ShellScript CopyKernelScript(const api::KernelBootContainer& kernel, const std::string& dir) {
  return {kCopyKernelScript, "copy-kernel", {kernel.kernel_path, kernel.initrd_path, dir}};
}

Json ScriptInImageContainer(const std::string& name, const std::string& image,
                            const std::string& pull_policy, const ShellScript& script, Json mount,
                            Json resources) {
  Json container = Json::object();
  container["name"] = Str(name);
  container["image"] = Str(image);
  if (!pull_policy.empty()) container["imagePullPolicy"] = Str(pull_policy);
  Json command = StringArray({ToolsBusybox(), "sh", "-c", script.text, script.name});
  for (const std::string& arg : script.args) Push(&command, Str(arg));
  container["command"] = std::move(command);
  container["resources"] = std::move(resources);
  container["terminationMessagePolicy"] = Str(kTerminationMessagePolicy);
  container["securityContext"] = RestrictedContainerSecurityContext(/*seccomp=*/true);
  container["volumeMounts"] = base::JsonArray(2);
  container["volumeMounts"][0] = Mount(kToolsVolume, contract::kToolsDir, true);
  container["volumeMounts"][1] = std::move(mount);
  return container;
}

}  // namespace vireo::controllers
