#!/usr/bin/env bash
# README's test command, and what .ci/run calls: installs what is missing,
# builds the upstream binaries (cached), builds Vireo, then runs
#   T0 unit tests, and
#   T0 again under AddressSanitizer + UndefinedBehaviorSanitizer (suite asan:
#      gcc, its own build dir; any sanitizer report fails the test),
#   the fuzz targets of fuzz/ for VIREO_FUZZ_SECONDS each (suite fuzz: clang
#      + libFuzzer, its own build dir; a crash fails the run),
#   T1 integration tests against one real etcd + kube-apiserver started here,
#   T2 launcher tests (vireo-launcher booting the test disk under TCG),
#   T3 end-to-end tests on a local single-node cluster (tests/e2e/run.sh:
#      hack/cluster-up.sh, the images, the Helm chart, every example).
# Ends with a line "tests: N passed, M failed, K skipped". With CI=true a
# skip that hack/ci-allowed-skips.txt does not name fails the run.
#
#   hack/test.sh                 everything
#   hack/test.sh --suite unit    only T0 (no apiserver, no sanitizers)
#   hack/test.sh --suite asan    only T0 under ASan + UBSan
#   hack/test.sh --suite fuzz    only the fuzzers
#   hack/test.sh --suite launcher  only T2
#   hack/test.sh --suite e2e     only T3
#   VIREO_BUILD_DIR=dir          build directory (default: build/)
#   VIREO_ASAN_BUILD_DIR=dir     the sanitizer build (default: build-asan/)
#   VIREO_FUZZ_BUILD_DIR=dir     the fuzzing build (default: build-fuzz/)
#   VIREO_FUZZ_SECONDS=n         how long each fuzz target runs (default: 20)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
suites=(unit asan fuzz integration launcher e2e)
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

# The unit suite's executables of a build dir, and the targets its tests
# depend on (the layering checks read vireo-launcher's and virtctl's build):
# a sanitizer build compiles only what it runs.
unit_targets() {
  meson introspect "$1" --tests --targets | python3 -c '
import json, os, sys
build = os.path.realpath(sys.argv[1])
info = json.load(sys.stdin)
files = {t["id"]: t["filename"] for t in info["targets"]}
wanted = set()
for t in info["tests"]:
    if not any(s.split(":")[-1] == "unit" for s in t["suite"]):
        continue
    if t["cmd"][0].startswith(build + "/"):
        wanted.add(t["cmd"][0])
    for dep in t["depends"]:
        wanted.update(files.get(dep, []))
for path in sorted(wanted):
    print(os.path.relpath(path, build))' "$1"
}

# T0 under ASan + UBSan: gcc, like the main build. Every report stops the
# process (halt_on_error), so the test fails; leaks are reported too.
run_asan() {
  local dir=${VIREO_ASAN_BUILD_DIR:-$root/build-asan}
  if [[ ! -f $dir/build.ninja ]]; then
    # -O0 (buildtype debug): the instrumented build compiles in about half
    # the time, and the unit tests run quickly either way. -g1: line tables
    # for the reports' stacks without full debug info, which made this build
    # dir several GB; CI's disk is shared with T3's volumes and images.
    CXX="ccache g++" meson setup "$dir" -Dbuildtype=debug -Dcpp_args=-g1 -Db_sanitize=address,undefined \
      -Db_lundef=false >/dev/null
  fi
  local targets
  targets=$(unit_targets "$dir")
  # shellcheck disable=SC2086 # one target a word
  ninja -C "$dir" $targets || return 1
  echo "test: asan build ready ($((SECONDS - start)) s)" >&2
  rm -f "$dir"/meson-logs/testlog-*.json
  ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$root/hack/ubsan.supp \
    meson test -C "$dir" --suite unit --print-errorlogs --no-rebuild --logbase testlog-asan
}

# The fuzz targets (fuzz/): clang with libFuzzer, ASan and UBSan.
run_fuzz() {
  local dir=${VIREO_FUZZ_BUILD_DIR:-$root/build-fuzz}
  if [[ ! -f $dir/build.ninja ]]; then
    # -Dwerror=false: the gcc build holds the warnings; clang's own may differ.
    CXX="ccache clang++" meson setup "$dir" -Dfuzz=true -Dwerror=false -Db_sanitize=address,undefined \
      -Db_lundef=false >/dev/null
  fi
  local targets=()
  for source in fuzz/*_fuzz.cc; do targets+=("fuzz/$(basename "$source" .cc)"); done
  ninja -C "$dir" "${targets[@]}" || return 1
  echo "test: fuzz build ready; ${VIREO_FUZZ_SECONDS:-20} s a target ($((SECONDS - start)) s)" >&2
  rm -f "$dir"/meson-logs/testlog-*.json
  ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$root/hack/ubsan.supp \
    meson test -C "$dir" --suite fuzz --print-errorlogs --no-rebuild --logbase testlog-fuzz
}

harness=""
# The harness's etcd and logs take about 350 MB; a CI machine's disk is a
# copy of this one, so nothing is left behind in /tmp.
stop_harness() {
  [[ -n $harness ]] || return 0
  tests/integration/apiserver.sh stop "$harness" || true
  rm -rf "$harness"
  harness=""
}
trap stop_harness EXIT

rc=0
rm -f "$build"/meson-logs/testlog-*.json
logs=()
for suite in "${suites[@]}"; do
  if [[ $suite == asan ]]; then
    run_asan || rc=1
    logs+=("${VIREO_ASAN_BUILD_DIR:-$root/build-asan}"/meson-logs/testlog-asan.json)
    echo "test: asan done ($((SECONDS - start)) s)" >&2
    continue
  fi
  if [[ $suite == fuzz ]]; then
    run_fuzz || rc=1
    logs+=("${VIREO_FUZZ_BUILD_DIR:-$root/build-fuzz}"/meson-logs/testlog-fuzz.json)
    echo "test: fuzz done ($((SECONDS - start)) s)" >&2
    continue
  fi
  logs+=("$build/meson-logs/testlog-$suite.json")
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
    # The controller's first: bench/informer leaves 20,000 objects that the
    # namespace controller works on after it.
    "$build/bench/controller_bench" --count 100 --rate 10 || rc=1
    "$build/bench/controller_bench" --count "${VIREO_CONTROLLER_BENCH_COUNT:-1000}" || rc=1
    "$build/bench/informer_bench" --count "${VIREO_BENCH_COUNT:-10000}" || rc=1
    # The T3 cluster wants the machine's memory and cores.
    stop_harness
  fi
  if [[ $suite == launcher ]]; then
    VIREO_LAUNCHER="$build/launcher/vireo-launcher" \
      VIREO_TEST_DISK_BUILD="$root/images/test-disk/build.sh" \
      "$build/bench/launcher_bench" --count "${VIREO_LAUNCHER_BENCH_COUNT:-20}" || rc=1
    VIREO_LAUNCHER="$build/launcher/vireo-launcher" \
      VIREO_TEST_DISK_BUILD="$root/images/test-disk/build.sh" \
      "$build/bench/network_bench" || rc=1
    # The corners of the matrix docs/controller.md has in full.
    VIREO_LAUNCHER="$build/launcher/vireo-launcher" \
      VIREO_TEST_DISK_BUILD="$root/images/test-disk/build.sh" \
      "$build/bench/overhead_bench" --vcpus 1,4 --disks 1,4 || rc=1
  fi
done
# A suite whose log is missing ran nothing: the summary says so under CI.
for i in "${!logs[@]}"; do [[ -f ${logs[$i]} ]] || : >"${logs[$i]}"; done
summarize=(python3 hack/summarize-tests.py)
[[ ${CI:-} == true ]] && summarize+=(--ci)
"${summarize[@]}" "${logs[@]}" || rc=1
echo "test: done in $((SECONDS - start)) s" >&2
exit $rc
