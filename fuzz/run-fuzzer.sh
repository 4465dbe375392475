#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time (the 'fuzz' suite of a
# -Dfuzz=true build; hack/test.sh --suite fuzz). It starts from the
# checked-in seeds plus what earlier runs in this build dir found; new inputs
# land in the build dir, never in the source tree. A crash, a timeout
# (an input that takes over 10 s) or a sanitizer report fails the test, and
# the input is kept under WORK/crashes/: add it to fuzz/corpus/NAME/ with the
# fix, and the plain build replays it from then on (fuzz/README.md).
#
#   run-fuzzer.sh FUZZER SEEDS WORK     VIREO_FUZZ_SECONDS (default 20)
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3
seconds=${VIREO_FUZZ_SECONDS:-20}
mkdir -p "$work/corpus" "$work/crashes"
# libFuzzer's own exit status for a crash is 77, which meson reads as a skip.
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -artifact_prefix="$work/crashes/" "$work/corpus" "$seeds"
