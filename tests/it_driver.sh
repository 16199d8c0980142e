#!/bin/sh
# it_driver.sh: a killed driver comes back, and `sdq driver --service`.
# Against tests/emulator.py on 127.0.0.1 with the real binary:
# - kill -9 of the background driver while jobs are live: `sdq ls` starts a
#   new one and says so in one line on stderr, `sdq show` and `driver
#   --status` too; the jobs complete;
# - with background_driver = false, ls says there is no driver and starts none;
# - `--config FILE` that does not exist is an error (exit 1);
# - `sdq driver --service` stays with no jobs, drives a job submitted later,
#   and exits 0 on SIGTERM; a second one waits for the lock instead of leaving.
# Every wait is bounded. Last line: "it_driver: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_driver
KEY=test-key-drv-1
th_copy_sdq
bg_pids=

# The driver's pid, probed with background_driver = false (driver --status
# would otherwise start one itself).
driver_pid() { SDQ_CONFIG=$tmp/nobg.conf "$SDQ" driver --status 2>/dev/null | sed -n 's/^driver running, pid \([0-9][0-9]*\).*/\1/p'; }
th_cleanup_more() {
	for p in $bg_pids; do kill -9 "$p" 2>/dev/null; done
	for d in "$tmp/data" "$tmp/data2" "$tmp/data3"; do
		[ -d "$d" ] || continue
		p=$(SDQ_DATA_DIR=$d SDQ_CONFIG=$tmp/nobg.conf "$SDQ" driver --status 2>/dev/null |
			sed -n 's/.*pid \([0-9][0-9]*\).*/\1/p')
		for q in $p; do kill -9 "$q" 2>/dev/null; done
	done
}

state_of() { "$SDQ" show "$1" --json 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null; }
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
completed() { [ "$(state_of "$1")" = COMPLETED ]; }
has_driver() { test -n "$(driver_pid)"; }
driver_is() { test "$(driver_pid)" = "$1"; }

th_emu emu --queue-time 0.2 --run-time 0.3 \
	--steps 2 --idle-exit 120 --max-lifetime 590 --quiet
check "emulator started" test -n "$PORT"
export RUNPOD_API_KEY=$KEY SDQ_ENDPOINT="http://127.0.0.1:$PORT/v2/test"
printf '[core]\n\tbackground_driver = false\n' >"$tmp/nobg.conf"

# --- --config FILE must exist
"$SDQ" --config "$tmp/missing.conf" ls >"$tmp/o" 2>"$tmp/e"; rc=$?
check "--config missing: exit 1" test $rc = 1
check "--config missing: says so" grep -q "missing.conf" "$tmp/e"
SDQ_CONFIG="$tmp/missing.conf" "$SDQ" ls >/dev/null 2>&1; rc=$?
check "a missing SDQ_CONFIG stays an empty config" test $rc = 0

# --- a killed background driver comes back
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/none.conf"
id=$("$SDQ" submit -p "revive me [[run=4]]" 2>"$tmp/e"); rc=$?
check "submit exits 0" test $rc = 0
wait_for has_driver
d1=$(driver_pid)
check "submit started a background driver" test -n "$d1"
[ -n "$d1" ] && kill -9 "$d1"
wait_for dead "${d1:-0}"
check "the killed driver is gone" test -z "$(driver_pid)"
"$SDQ" ls >"$tmp/o" 2>"$tmp/e"; rc=$?
check "ls exits 0" test $rc = 0
check "ls says it started a driver, in one line" sh -c "test \$(grep -c 'had no driver' '$tmp/e') = 1"
d2=$(driver_pid)
check "ls started a new driver" sh -c "test -n '$d2' && test '$d2' != '$d1'"
check "the job completes" wait_for completed "$id"

# show and driver --status revive too
id=$("$SDQ" submit -p "revive me again [[run=8]]" 2>/dev/null)
wait_for has_driver
d3=$(driver_pid)
[ -n "$d3" ] && kill -9 "$d3"
wait_for dead "${d3:-0}"
"$SDQ" show "$id" >/dev/null 2>"$tmp/e"
check "show says it started a driver" grep -q "had no driver" "$tmp/e"
d4=$(driver_pid)
check "show started one" test -n "$d4"
[ -n "$d4" ] && kill -9 "$d4"
wait_for dead "${d4:-0}"
"$SDQ" driver --status >"$tmp/o" 2>"$tmp/e"; rc=$?
check "driver --status starts one and reports it (exit 0)" sh -c "test $rc = 0 && grep -q 'driver running' '$tmp/o'"
check "the second job completes" wait_for completed "$id"

# background_driver = false: said, not started
export SDQ_DATA_DIR="$tmp/data2" SDQ_CONFIG="$tmp/nobg.conf"
id=$("$SDQ" submit -p "no driver for me" 2>/dev/null)
"$SDQ" ls >/dev/null 2>"$tmp/e"
check "ls says there is no driver" grep -q "no driver: they move on when" "$tmp/e"
check "and starts none" test -z "$(driver_pid)"
check "the job waits PENDING" test "$(state_of "$id")" = PENDING

# --- sdq driver --service
"$SDQ" driver --service >"$tmp/svc.out" 2>"$tmp/svc.err" &
svc=$!
bg_pids="$bg_pids $svc"
check "the service takes the lock" wait_for driver_is "$svc"
check "it drives the waiting job" wait_for completed "$id" || "$SDQ" show "$id" >&2
"$SDQ" driver --service >/dev/null 2>"$tmp/svc2.err" &
svc2=$!
bg_pids="$bg_pids $svc2"
check "a second service waits for the lock" wait_for grep -q "waiting" "$tmp/svc2.err"
id=$("$SDQ" submit -p "submitted to the service" 2>/dev/null)
check "a job submitted later completes" wait_for completed "$id"
check "the service is still there with no live jobs" alive "$svc"
check "so is the waiting one" alive "$svc2"
check "the service logs to stderr" grep -q "driver started" "$tmp/svc.err"
kill -TERM "$svc"
wait "$svc"; rc=$?
check "SIGTERM: exit 0" test $rc = 0
check "the waiting service takes over" wait_for driver_is "$svc2"
kill -TERM "$svc2"
wait "$svc2"; rc=$?
check "the second one exits 0 too" test $rc = 0
bg_pids=

th_end
