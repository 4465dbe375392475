// The readiness answer the pod's exec probe reads: a file in the state dir,
// present while the domain runs (written and removed on libvirt's lifecycle
// events), naming the launcher and QEMU so a file left by a dead launcher
// does not count. And the container's postStart hook, which waits for it,
// with the launcher's side of that hook as it exits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "launcher/paths.h"
#include "lib/base/status.h"

namespace vireo::launcher {

// Writes "<launcher pid> <qemu pid>\n" atomically (rename).
base::Status MarkReady(const std::string& ready_file, pid_t launcher, pid_t qemu);
void ClearReady(const std::string& ready_file);

// `probe`: ok while the file exists and both processes it names are alive;
// otherwise the Status says why (for the probe's output).
base::Status CheckReady(const std::string& ready_file);

// `wait-running`, the pod's postStart hook: the kubelet reports the launcher
// container running only once the hook returns, and runs the readiness
// probe at once then, so the pod turns ready as the domain starts instead
// of at the probe's next period. Waits until the domain runs (Ok), the
// launcher says it is exiting or waits for its containerDisks
// (MarkWaitingForDisks), or `limit` passes (the Status says which).
// First records itself in the WaiterFile ("<pid> <start time>").
base::Status WaitReady(const StateFiles& state, std::chrono::milliseconds limit);

// The launcher's start waits on the pod's containerDisk containers (their
// images still pulling): the hook returns, since the kubelet starts nothing
// else of the pod's while it runs, and the readiness probe takes over.
void MarkWaitingForDisks(const StateFiles& state);

// How long an exiting launcher gives the hook (ReleaseWaiter's `limit`).
inline constexpr std::chrono::seconds kHookReleaseLimit{2};

// The launcher's first step on a state dir: what an earlier launcher's exit
// and an ended hook left there goes (a hook recorded and alive stays).
void ClearStaleWaiterFiles(const StateFiles& state);

// The launcher's last step: a hook still waiting is told to return (the
// ExitingFile names this process, so an earlier launcher's file does not
// count), and given up to `limit` to be gone before the container's first
// process ends (which would kill it, and the kubelet would count the hook
// failed).
// `hook`: the pod has one (run --post-start-hook), so one not recorded yet
// is waited for too. Says in the log when the limit passed.
void ReleaseWaiter(const StateFiles& state, bool hook, std::chrono::milliseconds limit);

}  // namespace vireo::launcher
