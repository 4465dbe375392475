// `vireo-launcher run`: from the VMI file to a running guest and back to an
// exit code (lib/api/launcher_pod.h). The steps are in run.cc, in the order they run.
#pragma once

#include "launcher/options.h"

namespace vireo::launcher {

// Returns the process exit code. REQUIRES: called from main before any other
// thread exists (it forks the guardian and blocks signals for all threads).
int RunLauncher(const Options& options);

}  // namespace vireo::launcher
