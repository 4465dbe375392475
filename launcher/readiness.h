// The readiness answer the pod's exec probe reads: a file in the state dir,
// present while the domain runs (written and removed on libvirt's lifecycle
// events), naming the launcher and QEMU so a file left by a dead launcher
// does not count.
#pragma once

#include <sys/types.h>

#include <string>

#include "lib/base/status.h"

namespace vireo::launcher {

// Writes "<launcher pid> <qemu pid>\n" atomically (rename).
base::Status MarkReady(const std::string& ready_file, pid_t launcher, pid_t qemu);
void ClearReady(const std::string& ready_file);

// `probe`: ok while the file exists and both processes it names are alive;
// otherwise the Status says why (for the probe's output).
base::Status CheckReady(const std::string& ready_file);

}  // namespace vireo::launcher
