#!/usr/bin/env bash
# T0 of hack/lib/proc.sh with real processes: proc_ensure starts a daemon,
# leaves a healthy one alone, restarts one whose configuration changed or
# that died, and reports one that exits or never gets healthy; a pid file is
# trusted only for a process that names PROC_MARK; proc_stop kills what
# ignores SIGTERM; proc_write_config keeps an unchanged file as it is.
#
#   hack/lib/proc_test.sh       prints "proc_test: N passed, M failed"; exit 1 on a failure
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/lib/proc.sh
source "$here/proc.sh"
work=$(mktemp -d)
PROC_RUN=$work/run PROC_LOGS=$work/logs PROC_MARK=$work/
cleanup() {
  # A daemon the test saw exit left its pid file: kill may find nothing.
  for f in "$work"/run/*.pid; do [[ -f $f ]] && { kill -9 "$(cat "$f")" 2>/dev/null || true; }; done
  rm -rf "$work"
}
trap cleanup EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# The daemon: healthy once it has written $work/healthy; "exit" in its
# config makes it exit at once, "term" makes it ignore SIGTERM.
cat >"$work/daemon.sh" <<'EOF'
config=${1#--config=}
grep -q exit "$config" && exit 3
grep -q term "$config" && trap '' TERM
echo "daemon $$ up"
touch "${config%/*}/healthy"
while :; do sleep 0.1; done
EOF
healthy() { [[ -f $work/healthy ]]; }
echo a >"$work/a.conf"
daemon=(bash "$work/daemon.sh" --config="$work/a.conf")

rc=0
proc_ensure daemon healthy 10 "${daemon[@]}" 2>/dev/null || rc=$?
pid=$(proc_pid daemon)
[[ $rc == 0 && -n $pid ]] && grep -q "daemon $pid up" "$work/logs/daemon.log" &&
  ok "proc_ensure starts it, its output in logs/daemon.log" || fail "start: rc $rc, pid '$pid'"

out=$(proc_ensure daemon healthy 10 "${daemon[@]}" 2>&1)
[[ $(proc_pid daemon) == "$pid" && $out == *"running (pid $pid)"* ]] &&
  ok "a second proc_ensure leaves it running: $out" || fail "second ensure: $out"

echo b >"$work/a.conf"
out=$(proc_ensure daemon healthy 10 "${daemon[@]}" 2>&1)
new=$(proc_pid daemon)
[[ -n $new && $new != "$pid" && $out == *"configuration changed"* ]] && ! kill -0 "$pid" 2>/dev/null &&
  ok "a changed config file restarts it" || fail "config change: $out"
[[ -f $work/logs/daemon.log.1 ]] && ok "the previous log is kept as daemon.log.1" || fail "no daemon.log.1"

kill -9 "$new"
while kill -0 "$new" 2>/dev/null; do sleep 0.1; done
out=$(proc_ensure daemon healthy 10 "${daemon[@]}" 2>&1)
[[ -n $(proc_pid daemon) && $(proc_pid daemon) != "$new" && $out == *"gone, restarting"* ]] &&
  ok "a dead one is restarted: $out" || fail "dead: $out"

# A pid file naming a process without the mark (this shell) is not trusted.
echo $$ >"$work/run/impostor.pid"
[[ -z $(proc_pid impostor) ]] && ok "a pid file of a process without PROC_MARK is ignored" ||
  fail "proc_pid trusted pid $$"
rm -f "$work/run/impostor.pid"

echo exit >"$work/b.conf"
rc=0
proc_ensure quitter false 10 bash "$work/daemon.sh" --config="$work/b.conf" 2>/dev/null || rc=$?
[[ $rc == 2 ]] && ok "one that exits is reported (2)" || fail "exiting daemon: rc $rc"

rc=0
start=$SECONDS
proc_ensure sick false 2 "${daemon[@]}" 2>/dev/null || rc=$?
[[ $rc == 1 && $((SECONDS - start)) -le 5 ]] && ok "one never healthy is reported after its time (1)" ||
  fail "never healthy: rc $rc after $((SECONDS - start)) s"
proc_stop sick 2

echo term >"$work/c.conf"
proc_spawn stubborn bash "$work/daemon.sh" --config="$work/c.conf"
pid=$(proc_pid stubborn)
sleep 0.5
proc_stop stubborn 1 2>/dev/null
! kill -0 "$pid" 2>/dev/null && [[ ! -f $work/run/stubborn.pid ]] &&
  ok "proc_stop kills one that ignores SIGTERM, and forgets it" || fail "stubborn $pid still there"
pid=$(proc_pid daemon)
proc_stop_all 5 daemon
! kill -0 "$pid" 2>/dev/null && [[ ! -f $work/run/daemon.pid && ! -f $work/run/daemon.config ]] &&
  ok "proc_stop_all stops it and removes its pid file and fingerprint" || fail "stop_all"

echo one | proc_write_config "$work/f.conf"
touch -d @1700000000 "$work/f.conf"
echo one | proc_write_config "$work/f.conf"
[[ $(stat -c %Y "$work/f.conf") == 1700000000 ]] && ok "the same content keeps the file as it is" ||
  fail "rewritten with the same content"
echo two | proc_write_config "$work/f.conf"
[[ $(cat "$work/f.conf") == two && $(stat -c %a "$work/f.conf") == 644 ]] && ok "new content replaces it (644)" ||
  fail "new content"

echo "proc_test: $passed passed, $failed failed"
((failed == 0))
