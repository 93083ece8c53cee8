# SPDX-License-Identifier: GPL-2.0-or-later
# The one wait of the shell scripts, sourced by lib.sh (the end-to-end
# tests, netns.sh) and by bench/run.sh: poll a condition until it holds or
# a deadline passes, and fail out loud then. Nothing else; no side effects.

fail() { echo "FAIL: $*" >&2; exit 1; }

# wait_for [--pid PID LOG] SECONDS DESCRIPTION COMMAND...: polls COMMAND
# until it succeeds; fails after SECONDS, and with --pid as soon as PID (the
# process that was to make COMMAND succeed) is gone, with the end of LOG,
# where it said why.
wait_for() {
  local pid='' pid_log=''
  if [ "$1" = --pid ]; then
    pid=$2 pid_log=$3
    shift 3
  fi
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null ||
      fail "$what: process $pid is gone: $(tail -n 5 "$pid_log" 2>/dev/null)"
    [ $SECONDS -lt $deadline ] || fail "timed out after ${seconds}s waiting for $what"
    sleep 0.1
  done
}
