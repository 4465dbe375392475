# Shared by the T1 shell tests (source it): which apiserver to talk to, and
# the pass/fail count each test ends with.

# t1_cluster NAME: KUBECONFIG and KUBECTL as set, or both from the harness
# directory VIREO_TEST_CLUSTER_DIR (as hack/test.sh runs the tests). Both
# come from the harness then: a KUBECONFIG left in the environment must not
# send a test to some other cluster. Without either, says so and exits 1
# with "NAME: 0 passed, 1 failed".
t1_cluster() {
  if [[ -n ${KUBECONFIG:-} && -n ${KUBECTL:-} ]]; then
    export KUBECONFIG
    return
  fi
  if [[ -z ${VIREO_TEST_CLUSTER_DIR:-} ]]; then
    echo "$1: set KUBECONFIG and KUBECTL (or VIREO_TEST_CLUSTER_DIR)" >&2
    echo "$1: 0 passed, 1 failed"
    exit 1
  fi
  # shellcheck disable=SC1091
  source "$VIREO_TEST_CLUSTER_DIR/env"
  KUBECONFIG=$VIREO_TEST_CLUSTER_DIR/kubeconfig
  KUBECTL=$BIN/kubectl
  export KUBECONFIG
}

k() { "$KUBECTL" "$@"; }

passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; [[ -n ${2:-} ]] && sed 's/^/    /' <<<"$2"; }
