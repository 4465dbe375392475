// Running a tool (qemu-img, xorriso) as a child process and collecting what
// it printed. Internal to launcher/storage.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"

namespace vireo::launcher::storage_internal {

struct ProcessResult {
  int exit_code = 0;   // -1 when a signal ended the process
  std::string output;  // stdout and stderr interleaved, at most 64 KiB kept
};

// Runs argv[0] (looked up in PATH unless it contains a '/') with argv,
// stdin from /dev/null, no shell. Waits for it. kNotFound when the program
// cannot be found, kInternal when it cannot be started. A non-zero exit is
// not an error here: the caller reads exit_code.
base::Result<ProcessResult> RunProcess(const std::vector<std::string>& argv);

// The same, and `on_output` sees every piece of output as it arrives (for
// progress a tool prints while it works, e.g. `qemu-img convert -p`).
base::Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                       const std::function<void(std::string_view)>& on_output);

// The last non-empty line of a tool's output, for error messages.
std::string LastLine(const std::string& output);

}  // namespace vireo::launcher::storage_internal
