#!/usr/bin/env bash
# Installs every Debian package the build and the tests need. Idempotent: when
# everything is there it only checks, so hack/test.sh and .ci/run call it
# every time. Go (>= 1.26, for the upstream binaries) must already be on PATH
# or in /usr/local/go: Debian's bookworm Go is too old to build Kubernetes 1.36.
set -euo pipefail

packages=(
  # build
  g++ meson ninja-build pkg-config ccache clang-format
  # the fuzz suite (fuzz/, hack/test.sh --suite fuzz): clang, and the
  # libFuzzer and sanitizer runtimes, which Debian packages apart
  clang libclang-rt-14-dev
  # libraries (DEVELOPERS.md: all from Debian)
  libcpprest-dev nlohmann-json3-dev libyaml-cpp-dev libvirt-dev libssl-dev
  libboost-dev libboost-system-dev libgtest-dev libgmock-dev
  # vireo-launcher import: Boost.Iostreams' gzip and xz filters
  libboost-iostreams-dev
  # tests and tooling
  python3 python3-yaml curl openssl ca-certificates git
  # the importer's T2 tests compress images with gzip and xz
  gzip xz-utils
  # the launcher: libvirt's QEMU driver, QEMU, firmware, disk and ISO tools
  qemu-system-x86 qemu-utils passt libvirt-daemon-driver-qemu libvirt-daemon libvirt-clients
  seabios ovmf xorriso
  # the test disk, built offline from Debian packages
  busybox-static syslinux syslinux-common isolinux mtools cpio zstd umoci
  # the local cluster (hack/cluster-up.sh): container runtime, pod network,
  # kube-proxy's iptables mode
  containerd runc containernetworking-plugins iproute2 iptables conntrack
  # the container images, built from Debian packages without an engine (images/)
  mmdebstrap binutils e2fsprogs openssh-client
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# libvirt's QEMU driver (vireo-launcher embeds it) refuses to start unless the
# libvirt-qemu user and group exist, even when its qemu.conf says root;
# Debian's libvirt-daemon-system would create them, a slim install does not.
if ! getent group libvirt-qemu >/dev/null || ! getent passwd libvirt-qemu >/dev/null; then
  sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
  getent group libvirt-qemu >/dev/null || $sudo groupadd -r libvirt-qemu
  getent passwd libvirt-qemu >/dev/null ||
    $sudo useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
fi

if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
  export PATH=/usr/local/go/bin:$PATH
fi
if ! command -v go >/dev/null; then
  echo "install-deps: Go is not installed; Go >= 1.26 is needed to build the pinned Kubernetes (tests/cluster)." >&2
  exit 1
fi
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if ((go_minor < 26)); then
  echo "install-deps: $(go env GOVERSION) is too old; Go >= 1.26 is needed to build Kubernetes 1.36." >&2
  exit 1
fi
