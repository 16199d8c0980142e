#!/bin/sh
# it_waitwhy.sh: why a job waits, from the command line (issue 14): the real
# binary ($SDQ_BIN) against tests/emulator.py on 127.0.0.1 with one worker
# whose jobs queue for a long time. sdq show of a queued job says how many
# are ahead and "no estimate" before any history; once jobs of the endpoint
# have finished it gives an estimate from them; --json carries "waiting"
# (reason, estimate_s) and null for a job that does not wait. The reasons
# from /health (throttled, initializing, unhealthy) are covered by
# tests/test_waitwhy.c. Every wait is a bounded loop.
# Last line: "it_waitwhy: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_waitwhy
KEY=test-key-waitwhy
th_copy_sdq
th_data_dirs="$tmp/data"

emu_set() {
	$PY -c 'import sys,urllib.request as u
u.urlopen(u.Request("http://127.0.0.1:%s/_emu/set" % sys.argv[1], data=sys.argv[2].encode(), method="POST"), timeout=10)' "$PORT" "$1"
}
# state ID: the job's state
state() { "$SDQ" show --json "$1" 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null; }
# wait_state ID STATE: at most 300 x 0.2 s
wait_state() {
	n=0
	while [ "$(state "$1")" != "$2" ] && [ $n -lt 300 ]; do sleep 0.2; n=$((n + 1)); done
	[ "$(state "$1")" = "$2" ]
}

th_emu emu --idle-exit 120 \
	--max-lifetime 590 --quiet --queue-time 0.1 --run-time 0.2 --workers 1
check "emulator started" test -n "$PORT"
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/none.conf"
export SDQ_ENDPOINT="http://127.0.0.1:$PORT/v2/test" RUNPOD_API_KEY=$KEY
unset SDQ_EMULATOR

# --- no history: the queue, no estimate
emu_set '{"queue_time": 60}'
A=$("$SDQ" submit -p "first" 2>/dev/null)
B=$("$SDQ" submit -p "second" 2>/dev/null)
C=$("$SDQ" submit -p "third" 2>/dev/null)
check "three jobs submitted" sh -c "test -n '$A' && test -n '$B' && test -n '$C'"
check "the third is queued" wait_state "$C" IN_QUEUE
wait_state "$B" IN_QUEUE
"$SDQ" show "$C" >"$tmp/o" 2>&1
check "show: 2 ahead, no estimate without history" \
	grep -q '^waiting  *2 ahead in the queue (endpoint health unknown), no estimate$' "$tmp/o"
"$SDQ" show --json "$C" >"$tmp/o" 2>&1
check "show --json: waiting.reason and estimate_s null" \
	jcheck "$tmp/o" 'j["waiting"]["reason"].startswith("2 ahead in the queue") and j["waiting"]["estimate_s"] is None'
"$SDQ" cancel "$A" "$B" "$C" >/dev/null 2>&1
wait_state "$C" CANCELLED

# --- history: two jobs finish, then a queued one gets an estimate from them
emu_set '{"queue_time": 5}'  # F is looked at well within 5 s of its submit
D=$("$SDQ" submit -p "done one" 2>/dev/null)
E=$("$SDQ" submit -p "done two" 2>/dev/null)
check "two jobs complete" sh -c "'$SDQ' wait '$D' '$E' --timeout 120 >/dev/null 2>&1"
"$SDQ" show --json "$D" >"$tmp/o" 2>&1
check "a finished job: waiting is null" jcheck "$tmp/o" 'j["waiting"] is None'
check "  and show prints no waiting line" sh -c "! '$SDQ' show '$D' | grep -q '^waiting'"
emu_set '{"queue_time": 60}'
F=$("$SDQ" submit -p "later" 2>/dev/null)
check "a new job is queued" wait_state "$F" IN_QUEUE
"$SDQ" show --json "$F" >"$tmp/o" 2>&1
check "show --json: an estimate from the 2 finished jobs" \
	jcheck "$tmp/o" 'isinstance(j["waiting"]["estimate_s"], (int, float)) and j["waiting"]["estimate_s"] >= 1'
"$SDQ" show "$F" >"$tmp/o" 2>&1
check "show: the estimate says its basis" grep -q '^waiting .*~[0-9]* s (median of the last 2 jobs)$' "$tmp/o"
"$SDQ" cancel "$F" >/dev/null 2>&1
wait_state "$F" CANCELLED

th_end
