// Command seccomp-profile prints the seccomp profile of a launcher container
// that runs passt (the pod network): the profile containerd gives a container
// without capabilities under RuntimeDefault, from containerd's own code at the
// version the local cluster runs, plus the four system calls passt's sandbox
// makes (docs/launcher-pod.md). Output is the OCI form containerd's CRI
// plugin reads for a Localhost profile.
//
//	go run . > ../../manifests/seccomp/vireo-launcher.json
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/containerd/containerd/contrib/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// passt (isolate_user, isolate_prefork) enters a new user namespace, then new
// mount, IPC and UTS namespaces, mounts an empty tmpfs, pivots into it and
// unmounts the old root. RuntimeDefault refuses all four calls to a process
// without CAP_SYS_ADMIN; in a user namespace of its own they act on that
// namespace's mounts only.
var passt = []string{"mount", "pivot_root", "umount2", "unshare"}

func main() {
	// The launcher pod drops every capability (docs/launcher-pod.md):
	// DefaultProfile adds nothing that depends on one.
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}}
	profile := seccomp.DefaultProfile(spec)
	profile.Syscalls = append(profile.Syscalls, specs.LinuxSyscall{Names: passt, Action: specs.ActAllow})
	out, err := json.MarshalIndent(profile, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "seccomp-profile:", err)
		os.Exit(1)
	}
	os.Stdout.Write(append(out, '\n'))
}
