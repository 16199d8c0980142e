#!/bin/sh
# it_waitwhy.sh: why a job waits, from the command line (issue 14): the real
# binary ($SDQ_BIN) against tests/emulator.py on 127.0.0.1. sdq show asks the
# endpoint's /health for a queued job: with one busy worker and another
# client's job queued first, it counts that one ahead too (the endpoint's
# inQueue), and says "no estimate" before any history; once jobs of the
# endpoint have finished it gives an estimate from them; --json carries
# "waiting" (reason, estimate_s) and null for a job that does not wait.
# The /health states reach show: throttled, initializing, unhealthy; and
# when /health fails (HTTP 500, a refused key, a server that never answers)
# show says why, falls back to what the store knows and returns. Every wait
# is a bounded loop.
# Last line: "it_waitwhy: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_waitwhy
KEY=test-key-waitwhy
th_copy_sdq
th_data_dirs="$tmp/data"
silent_pid=
th_cleanup_more() { if [ -n "$silent_pid" ]; then kill "$silent_pid" 2>/dev/null; fi; }

emu_set() {
	$PY -c 'import sys,urllib.request as u
u.urlopen(u.Request("http://127.0.0.1:%s/_emu/set" % sys.argv[1], data=sys.argv[2].encode(), method="POST"), timeout=10)' "$PORT" "$1"
}
emu_post() { # emu_post PATH BODY: another client (curl's part) posting to the emulator
	$PY -c 'import sys,urllib.request as u
u.urlopen(u.Request("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), data=sys.argv[3].encode(),
    headers={"Authorization": "Bearer " + sys.argv[4], "Content-Type": "application/json"},
    method="POST"), timeout=10).read()' "$PORT" "$1" "$2" "$KEY"
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

# --- no history: one worker busy with another client's job, another
# client's job queued first, then three of ours: the third has 3 ahead
emu_set '{"concurrency": 1, "queue_time": 0.1, "run_time": 60}'
emu_post /v2/test/run '{"input": {"prompt": "elsewhere, running"}}'
emu_post /v2/test/run '{"input": {"prompt": "elsewhere, queued"}}'
A=$("$SDQ" submit -p "first" 2>/dev/null)
B=$("$SDQ" submit -p "second" 2>/dev/null)
C=$("$SDQ" submit -p "third" 2>/dev/null)
check "three jobs submitted" sh -c "test -n '$A' && test -n '$B' && test -n '$C'"
check "the third is queued" wait_state "$C" IN_QUEUE
wait_state "$B" IN_QUEUE
wait_state "$A" IN_QUEUE
"$SDQ" show "$C" >"$tmp/o" 2>&1
check "show: 3 ahead (one from elsewhere, from /health), no estimate without history" \
	grep -q '^waiting  *3 ahead in the queue (1 from elsewhere), 1 worker busy, no estimate$' "$tmp/o"
"$SDQ" show --json "$C" >"$tmp/o" 2>&1
check "show --json: waiting.reason and estimate_s null" \
	jcheck "$tmp/o" 'j["waiting"]["reason"].startswith("3 ahead in the queue") and j["waiting"]["estimate_s"] is None'
"$SDQ" show "$A" >"$tmp/o" 2>&1
check "show: the first of ours has the other client's job ahead" \
	grep -q '^waiting  *1 ahead in the queue (1 from elsewhere), 1 worker busy, no estimate$' "$tmp/o"
"$SDQ" cancel "$A" "$B" "$C" >/dev/null 2>&1
wait_state "$C" CANCELLED
emu_post /_emu/reset '{}'
emu_set '{"concurrency": 0, "run_time": 0.2}'

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

# --- the endpoint's state, from its /health, on show's waiting line
emu_set '{"queue_time": 60, "workers": 0, "throttled": 2}'
G=$("$SDQ" submit -p "waits for a GPU" 2>/dev/null)
check "a job is queued with no worker" wait_state "$G" IN_QUEUE
"$SDQ" show "$G" >"$tmp/o" 2>&1
check "show: throttled" grep -q '^waiting  *throttled: no GPU free for this endpoint (2 throttled)' "$tmp/o"
emu_set '{"throttled": 0, "initializing": 1}'
"$SDQ" show --json "$G" >"$tmp/o" 2>&1
check "show --json: cold start" jcheck "$tmp/o" 'j["waiting"]["reason"] == "cold start: 1 worker initializing"'
emu_set '{"initializing": 0, "unhealthy": 1}'
"$SDQ" show "$G" >"$tmp/o" 2>&1
check "show: worker unhealthy" grep -q '^waiting  *worker unhealthy (1 unhealthy)' "$tmp/o"
# /health fails: show says why and falls back to the store
emu_set '{"unhealthy": 0, "fault_health500": 1}'
"$SDQ" show "$G" >"$tmp/o" 2>&1
check "show: /health answers 500: health unknown, and why" \
	grep -q '^waiting  *in the queue (endpoint health unknown: health: HTTP 500' "$tmp/o"
RUNPOD_API_KEY=not-the-key "$SDQ" show "$G" >"$tmp/o" 2>&1
check "show: a refused key: health unknown, and why" \
	grep -q '^waiting  *in the queue (endpoint health unknown: the API key was refused)' "$tmp/o"
# a server that takes the connection and never answers: show gives up on it
$PY -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1])); time.sleep(120)' "$tmp/silent.port" &
silent_pid=$!
n=0
while [ ! -s "$tmp/silent.port" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
SILENT=$(cat "$tmp/silent.port" 2>/dev/null)
SDQ_ENDPOINT="http://127.0.0.1:$SILENT/v2/test" timeout 60 "$SDQ" show "$G" >"$tmp/o" 2>&1
check "show: a silent /health: show returns, health unknown, and why" \
	grep -q '^waiting  *in the queue (endpoint health unknown: no answer within 2.5 s)' "$tmp/o"
kill "$silent_pid" 2>/dev/null
silent_pid=
"$SDQ" cancel "$G" >/dev/null 2>&1
wait_state "$G" CANCELLED

th_end
