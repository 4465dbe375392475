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

# explain PATH PATTERN...: `kubectl explain PATH` matches each extended regex
# (across line breaks: descriptions wrap) and has no field without a
# description.
explain() {
  local path=$1 out flat p; shift
  if ! out=$(k explain "$path" 2>&1); then fail "kubectl explain $path" "$out"; return; fi
  flat=$(tr -s ' \t\n' '   ' <<<"$out")
  for p in "$@"; do
    if ! grep -qE -- "$p" <<<"$flat"; then fail "kubectl explain $path shows /$p/" "$out"; return; fi
  done
  if grep -q '<empty>' <<<"$out"; then fail "kubectl explain $path: a field without description" "$out"; return; fi
  pass
}

# fields PATH: the recursive field list of `kubectl explain PATH`.
fields() { k explain "$1" --recursive 2>&1 | sed -n '/^FIELDS:/,$p'; }

# put_status KIND NAME STATUS-JSON: replace the object's status in namespace
# $ns through the status subresource, with strict field validation.
put_status() {
  k get "$1" "$2" -n "$ns" -o json |
    /usr/bin/python3 -c 'import json, sys; o = json.load(sys.stdin); o["status"] = json.loads(sys.argv[1]); print(json.dumps(o))' "$3" |
    k replace --subresource=status --validate=strict -f - 2>&1
}
