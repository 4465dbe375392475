// The containers that reach into a user's image for a disk or a kernel: the
// launcher image's static busybox running a shell script in that image.
#pragma once

#include <string>
#include <vector>

#include "lib/api/types.h"
#include "lib/base/json.h"

namespace vireo::controllers {

using base::Json;

// The pod volume (an emptyDir the pod must have) ToolsInitContainer fills
// and every ScriptInImageContainer mounts read-only.
inline constexpr char kToolsVolume[] = "vireo-tools";

// A containerDisk or kernelBoot image may be FROM scratch: no shell, no cp.
// This init container copies the static busybox of the launcher image into
// kToolsVolume, before any ScriptInImageContainer. The launcher pod's
// accel-probe container does the same when there is one (--copy-tools-to);
// the importer pod always uses this.
Json ToolsInitContainer(const std::string& launcher_image, const std::string& pull_policy,
                        Json resources);

// A script for the tools' `sh -c`, and its arguments ($1...). `name` is its
// $0: what `ps` and sh's own errors call it.
struct ShellScript {
  const char* text;
  std::string name;
  std::vector<std::string> args;
};

// Serves `path` in the image (a file, or a directory holding exactly one
// file; "": contract::kDefaultContainerDiskPath) in place for the launcher:
// writes its pid and the file's path inside the image to
// `dir`/contract::kContainerDiskSourceFile (or why not, to
// kContainerDiskErrorFile, and fails), then sleeps until SIGTERM. Its
// container needs the pod's shareProcessNamespace.
ShellScript ServeDiskScript(const std::string& path, const std::string& dir);

// Copies `path` in the image (found as ServeDiskScript finds it) into `dir`
// (the importer's registry source).
ShellScript CopyDiskScript(const std::string& path, const std::string& dir);

// Copies the kernel's kernelPath and initrdPath (each only when given) out
// of its image into `dir` as contract::kKernelBootKernel and
// kKernelBootInitrd; a missing file fails it with a message naming the path.
ShellScript CopyKernelScript(const api::KernelBootContainer& kernel, const std::string& dir);

// Runs `script` with the busybox of kToolsVolume inside `image` (pulled by
// `pull_policy`; "": the kubelet's default), as a restricted container with
// the tools mounted read-only and `mount`, where the script writes. Its log's
// end is its termination message: the scripts say why they fail.
Json ScriptInImageContainer(const std::string& name, const std::string& image,
                            const std::string& pull_policy, const ShellScript& script, Json mount,
                            Json resources);

}  // namespace vireo::controllers
