#!/usr/bin/env bash
# README's test command, and what .ci/run calls: installs what is missing,
# builds the upstream binaries (cached), builds Vireo, then runs
#   T0 unit tests, and
#   T1 integration tests against one real etcd + kube-apiserver started here,
#   T2 launcher tests (vireo-launcher booting the test disk under TCG),
#   T3 end-to-end tests on a local single-node cluster (tests/e2e/run.sh:
#      hack/cluster-up.sh, the images, the Helm chart, every example).
# Ends with a line "tests: N passed, M failed".
#
#   hack/test.sh                 everything
#   hack/test.sh --suite unit    only T0 (no apiserver)
#   hack/test.sh --suite launcher  only T2
#   hack/test.sh --suite e2e     only T3
#   VIREO_BUILD_DIR=dir          build directory (default: build/)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
suites=(unit integration launcher e2e)
if [[ ${1:-} == --suite ]]; then suites=("${2:?suite name}"); fi

start=$SECONDS
hack/install-deps.sh
[[ -x /usr/local/go/bin/go ]] && export PATH=$PATH:/usr/local/go/bin
bin=$(hack/build-upstream.sh)
echo "test: upstream binaries in $bin ($((SECONDS - start)) s)" >&2

build=${VIREO_BUILD_DIR:-$root/build}
export CCACHE_DIR=${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo/ccache}
# CI builds in a fresh clone each time: let ccache hit across clone paths.
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=true
if [[ ! -f $build/build.ninja ]]; then
  CXX="ccache g++" meson setup "$build" >/dev/null
fi
ninja -C "$build"
echo "test: built ($((SECONDS - start)) s)" >&2

harness=""
cleanup() { [[ -n $harness ]] && tests/integration/apiserver.sh stop "$harness" || true; }
trap cleanup EXIT

rc=0
rm -f "$build"/meson-logs/testlog-*.json
for suite in "${suites[@]}"; do
  if [[ $suite == integration ]]; then
    harness=$(mktemp -d /tmp/vireo-t1.XXXXXX)
    tests/integration/apiserver.sh start "$harness" >/dev/null
    export VIREO_TEST_CLUSTER_DIR=$harness
    echo "test: apiserver harness up in $harness ($((SECONDS - start)) s)" >&2
  fi
  meson test -C "$build" --suite "$suite" --print-errorlogs --no-rebuild \
    --logbase "testlog-$suite" || rc=1
  if [[ $suite == integration ]]; then
    # Benchmarks print figures; they are not timed assertions.
    "$build/bench/informer_bench" --count "${VIREO_BENCH_COUNT:-10000}" || rc=1
    "$build/bench/controller_bench" --count "${VIREO_CONTROLLER_BENCH_COUNT:-1000}" || rc=1
    # The T3 cluster wants the machine's memory and cores.
    tests/integration/apiserver.sh stop "$harness" || true
    harness=""
  fi
  if [[ $suite == launcher ]]; then
    VIREO_LAUNCHER="$build/launcher/vireo-launcher" \
      VIREO_TEST_DISK_BUILD="$root/images/test-disk/build.sh" \
      "$build/bench/launcher_bench" --count "${VIREO_LAUNCHER_BENCH_COUNT:-20}" || rc=1
    VIREO_LAUNCHER="$build/launcher/vireo-launcher" \
      VIREO_TEST_DISK_BUILD="$root/images/test-disk/build.sh" \
      "$build/bench/network_bench" || rc=1
  fi
done
python3 hack/summarize-tests.py "$build"/meson-logs/testlog-*.json
echo "test: done in $((SECONDS - start)) s" >&2
exit $rc
