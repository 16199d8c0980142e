#!/bin/sh
# it_keycmd.sh: an api_key_cmd runs through the loop (core/keycmd.c), so one
# that hangs holds up nothing but its own endpoint's jobs. Against
# tests/emulator.py on 127.0.0.1 with the real binary, one config with:
#   fast: the key from the environment;
#   slow: a key command that never answers (time limit 1 h);
#   late: a key command that answers once a file appears;
#   dead: a key command that never answers, time limit 1 s.
# - `sdq submit -e fast --wait` completes while slow's command hangs (it used
#   to read every key at start, blocking for slow's whole time limit); when
#   it exits, slow's command is gone (its process group killed);
# - `sdq submit -e late --wait` says it waits for late's key command, and
#   completes once the command answers;
# - `sdq submit -e dead` exits 1 naming the endpoint and the time limit, its
#   command killed;
# - kill -9 of an sdq waiting for a key command: the command dies too.
# Every wait is bounded. Last line: "it_keycmd: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_keycmd
KEY=test-key-cmd-1
bg_pids=

pid_in() { cat "$1" 2>/dev/null; }
th_cleanup_more() {
	for p in $bg_pids; do kill -9 "$p" 2>/dev/null; done
	for f in "$tmp"/*.pid; do
		[ -s "$f" ] && kill -9 "$(pid_in "$f")" 2>/dev/null
	done
}

# a pid that is gone (or a zombie nobody reaped yet)
gone() {
	[ -n "$1" ] || return 1
	[ -e "/proc/$1/stat" ] || return 0
	st=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)
	[ "$st" = Z ] || [ "$st" = X ] || [ -z "$st" ]
}
alive() { [ -n "$1" ] && ! gone "$1"; }
state_of() { "$SDQ" show "$1" --json 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null; }

th_emu emu --queue-time 0.1 --run-time 0.2 \
	--steps 2 --idle-exit 120 --max-lifetime 590 --quiet
check "emulator started" test -n "$PORT"
URL="http://127.0.0.1:$PORT/v2/test"
cat >"$tmp/config" <<EOF
[core]
	background_driver = false
[endpoint "fast"]
	url = $URL
	api_key_env = FAST_KEY
[endpoint "slow"]
	url = $URL
	api_key_cmd = "echo \$\$ > $tmp/slow.pid; exec sleep 1000"
	api_key_cmd_timeout = 1h
[endpoint "late"]
	url = $URL
	api_key_cmd = "while [ ! -e $tmp/unlock ]; do sleep 0.1; done; echo $KEY"
[endpoint "dead"]
	url = $URL
	api_key_cmd = "echo \$\$ > $tmp/dead.pid; exec sleep 1000"
	api_key_cmd_timeout = 1s
EOF
export SDQ_CONFIG="$tmp/config" SDQ_DATA_DIR="$tmp/data" FAST_KEY=$KEY
unset RUNPOD_API_KEY SDQ_ENDPOINT

# --- a hanging key command holds up only its own endpoint. `timeout` bounds
# the run: before, the driving submit read every key first and sat in slow's
# command for its whole hour.
timeout 120 "$SDQ" submit -e fast --wait -p "fast job" >"$tmp/o" 2>"$tmp/e"; rc=$?
check "fast: submit --wait completes while slow's key command hangs (rc $rc)" test $rc = 0
check "slow's key command was started (the driver reads every key)" test -s "$tmp/slow.pid"
sp=$(pid_in "$tmp/slow.pid")
check "slow's key command is killed when sdq exits" wait_for gone "$sp"

# --- a job waits for its key command, says so, and goes when it answers
rm -f "$tmp/unlock"
timeout 120 "$SDQ" submit -e late --wait -p "late job" >"$tmp/o" 2>"$tmp/e" &
sub=$!
bg_pids="$bg_pids $sub"
check "late: submit says it waits for the key command" \
	wait_for grep -q 'waiting for the key command of endpoint late' "$tmp/e"
: >"$tmp/unlock"
wait "$sub"; rc=$?
check "late: the job completes once the command answers (rc $rc)" test $rc = 0
id=$(head -n 1 "$tmp/o" | tr -dc 0-9)
check "late: its job is COMPLETED" test "$(state_of "$id")" = COMPLETED

# --- a key command past its time limit: a clear error naming the endpoint
timeout 120 "$SDQ" submit -e dead -p "dead job" >"$tmp/o" 2>"$tmp/e"; rc=$?
check "dead: submit exits 1 (rc $rc)" test $rc = 1
check "dead: the error names the endpoint and the limit" \
	grep -q 'api_key_cmd for endpoint "dead" did not answer within the time limit (1 s' "$tmp/e"
check "dead: its command was killed" wait_for gone "$(pid_in "$tmp/dead.pid")"
check "dead: no job was recorded" sh -c "! '$SDQ' ls 2>/dev/null | grep -q 'dead job'"

# --- kill -9 of an sdq waiting for a key command: the command goes with it
rm -f "$tmp/slow.pid"
"$SDQ" submit -e slow --wait -p "slow job" >/dev/null 2>"$tmp/e2" &
sub=$!
bg_pids="$bg_pids $sub"
wait_for test -s "$tmp/slow.pid"
sp=$(pid_in "$tmp/slow.pid")
check "slow: its key command runs" alive "$sp"
kill -9 "$sub" 2>/dev/null
wait "$sub" 2>/dev/null
check "slow: the key command dies with a killed sdq" wait_for gone "$sp"

th_end
