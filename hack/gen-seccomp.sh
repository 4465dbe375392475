#!/usr/bin/env bash
# Writes manifests/seccomp/vireo-launcher.json, the Localhost seccomp profile
# of a networked VM's launcher container (docs/launcher-pod.md): containerd's
# default profile for a container without capabilities, from containerd's own
# code at the version the local cluster runs (hack/seccomp/go.mod pins it to
# Debian 12's containerd 1.6.20), plus the four calls passt's sandbox makes.
# The profile is for x86-64 nodes (their architectures and system calls).
#
#   hack/gen-seccomp.sh           regenerate it
#   hack/gen-seccomp.sh --check   exit 1, with a diff, if the committed file
#                                 is not what the generator writes
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/manifests/seccomp/vireo-launcher.json
[[ -x /usr/local/go/bin/go ]] && export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || { echo "gen-seccomp: Go is not installed (hack/install-deps.sh installs it)" >&2; exit 1; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# The module cache and build cache are Go's own: a second run builds nothing.
(cd "$root/hack/seccomp" && GOFLAGS=-mod=readonly GOARCH=amd64 go run . >"$tmp")
case ${1:-} in
  --check)
    if ! diff -u "$out" "$tmp"; then
      echo "gen-seccomp: $out is stale: run hack/gen-seccomp.sh" >&2
      exit 1
    fi
    echo "gen-seccomp: $out is current ($(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(sum(len(s["names"]) for s in p["syscalls"]))' "$out") system call rules)"
    ;;
  "")
    mkdir -p "$(dirname "$out")"
    mv "$tmp" "$out"
    chmod 0644 "$out"
    echo "gen-seccomp: wrote $out" >&2
    ;;
  *) echo "usage: hack/gen-seccomp.sh [--check]" >&2; exit 2 ;;
esac
