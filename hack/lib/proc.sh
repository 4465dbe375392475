# shellcheck shell=bash
# Daemons that outlive the script that starts them (sourced, not run): the
# local cluster's components (hack/cluster-up.sh, hack/cluster-down.sh) and
# the T1 harness's (tests/integration/apiserver.sh). The caller sets
#   PROC_RUN   the directory of the pid files (NAME.pid) and fingerprints (NAME.config)
#   PROC_LOGS  the directory of the logs (NAME.log, the previous run's NAME.log.1)
#   PROC_MARK  a string on the command line of every process it starts (its
#              state directory): a pid file alone is not trusted, pids are reused
#
#   proc_pid NAME                    the pid of NAME if it runs, else nothing
#   proc_spawn NAME CMD...           start CMD in its own session
#   proc_stop NAME [SECONDS]         SIGTERM, SIGKILL after SECONDS (10)
#   proc_stop_all SECONDS NAME...    the same for several at once
#   proc_wait_healthy CHECK SECONDS PID   0 healthy, 1 timeout, 2 process died
#   proc_fingerprint CMD...          what proc_ensure compares to restart on a change
#   proc_ensure NAME CHECK SECONDS CMD...  make sure NAME runs CMD and passes CHECK
#   proc_write_config FILE < CONTENT       replace FILE only when the content differs

proc_log() { echo "${0##*/}: $*" >&2; }

# proc_pid NAME: the process's command line must name PROC_MARK.
proc_pid() {
  local pid
  pid=$(cat "$PROC_RUN/$1.pid" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$PROC_MARK" || return 0
  echo "$pid"
}

# proc_spawn NAME CMD...: a daemon in its own session (it outlives the script
# and the terminal), output to PROC_LOGS/NAME.log; the previous log is kept
# as NAME.log.1.
proc_spawn() {
  local name=$1; shift
  mkdir -p "$PROC_LOGS" "$PROC_RUN"
  [[ -f $PROC_LOGS/$name.log ]] && mv -f "$PROC_LOGS/$name.log" "$PROC_LOGS/$name.log.1"
  setsid "$@" >"$PROC_LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PROC_RUN/$name.pid"
}

proc_stop() { proc_stop_all "${2:-10}" "$1"; }

# proc_stop_all SECONDS NAME...: SIGTERM to all, then SIGKILL to those still
# alive after SECONDS; their pid files and fingerprints go.
proc_stop_all() {
  local timeout=$1 name pid pids=() i alive; shift
  for name in "$@"; do
    pid=$(proc_pid "$name")
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && pids+=("$pid:$name")
  done
  for ((i = 0; i < timeout * 4; i++)); do
    alive=""
    for pid in "${pids[@]}"; do kill -0 "${pid%%:*}" 2>/dev/null && alive=1; done
    [[ -n $alive ]] || break
    sleep 0.25
  done
  for pid in "${pids[@]}"; do
    if kill -0 "${pid%%:*}" 2>/dev/null; then
      proc_log "${pid#*:} did not stop in ${timeout} s, killing it"
      kill -9 "${pid%%:*}" 2>/dev/null || true
      while kill -0 "${pid%%:*}" 2>/dev/null; do sleep 0.1; done
    fi
  done
  for name in "$@"; do rm -f "$PROC_RUN/$name.pid" "$PROC_RUN/$name.config"; done
}

# proc_wait_healthy CHECK SECONDS PID: CHECK every half second until it
# passes, the time is up (1) or PID is gone (2).
proc_wait_healthy() {
  local check=$1 pid=$3 deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    "$check" && return 0
    kill -0 "$pid" 2>/dev/null || return 2
    sleep 0.5
  done
  "$check"
}

# proc_fingerprint CMD...: the command line plus the content of every file its
# arguments name (configs, certificates; the program is known by its path,
# which changes with its version), plus the files in $proc_extra_files.
proc_extra_files=()
proc_fingerprint() {
  local arg f
  {
    printf '%s\n' "$@"
    for arg in "${@:2}"; do
      f=${arg#*=}
      [[ -f $f ]] && cat "$f"
    done
    for f in "${proc_extra_files[@]}"; do cat "$f"; done
  } | sha256sum | cut -d' ' -f1
}

# proc_ensure NAME CHECK SECONDS CMD...: NAME runs this exact configuration
# (its fingerprint) and passes CHECK. One that runs and is healthy is left
# alone; one whose configuration changed, that is unhealthy for 30 s or that
# is gone is (re)started, and gets SECONDS to pass CHECK. Returns 0, or 2
# when it exited, 1 when it stayed unhealthy (the caller says so). Clears
# proc_extra_files, which the caller may set for this one call.
proc_ensure() {
  local name=$1 check=$2 timeout=$3; shift 3
  local want pid rc=0
  want=$(proc_fingerprint "$@")
  proc_extra_files=()
  pid=$(proc_pid "$name")
  if [[ -n $pid ]]; then
    if [[ "$(cat "$PROC_RUN/$name.config" 2>/dev/null)" != "$want" ]]; then
      proc_log "$name: configuration changed, restarting"
      proc_stop "$name" 15
    elif proc_wait_healthy "$check" 30 "$pid"; then
      proc_log "$name: running (pid $pid)"
      return 0
    else
      proc_log "$name: running (pid $pid) but unhealthy, restarting"
      proc_stop "$name" 15
    fi
  elif [[ -f $PROC_RUN/$name.pid ]]; then
    proc_log "$name: was started before but is gone, restarting"
  fi
  proc_spawn "$name" "$@"
  echo "$want" >"$PROC_RUN/$name.config"
  pid=$(cat "$PROC_RUN/$name.pid")
  proc_wait_healthy "$check" "$timeout" "$pid" || rc=$?
  ((rc == 0)) && proc_log "$name: started (pid $pid)"
  return "$rc"
}

# proc_write_config FILE < CONTENT: FILE replaced only when the content
# differs, mode 644: a component is restarted when a file it reads changed
# (proc_fingerprint), and only then. kube-proxy also exits when its
# configuration file is written to, and a fresh mtime would look like a
# change to anyone watching.
proc_write_config() {
  local tmp
  tmp=$(mktemp "$1.XXXXXX") || return 1
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then
    rm -f "$tmp"
  else
    chmod 644 "$tmp"
    mv -f "$tmp" "$1"
  fi
}
