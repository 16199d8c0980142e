#!/bin/sh
# it_identity.sh: a job goes where, and with the key, its submitter meant
# (issue 10), end to end with the real binary ($SDQ_BIN) against emulators
# on 127.0.0.1:
# - two endpoints (emulators A and B) that each accept only their own key,
#   two "shells" (SDQ_ENDPOINT + RUNPOD_API_KEY pointing at A or at B) over
#   one history, jobs interleaved, drivers started in every order (each
#   shell's submit starts its own; explicit `sdq driver`s, B's first): every
#   job reaches its own endpoint, with its own key, exactly once (emulator
#   stats), `show` names its URL, and a job whose key no driver holds says so;
# - runpod-python's local test API (emulator --local-api): submit --wait just
#   works with no key, exactly one POST /status per job (the handler runs
#   inside it), a handler longer than the usual 30 s request timeout, a
#   failing handler, cancel says it is not supported, health exits 1 saying
#   what the server lacks, an `api = runpod` endpoint on it switches after
#   GET /status gives 405;
# - a 404 from the endpoint says "endpoint not found (HTTP 404): check the id"
#   for submit and health (exit 1).
# Every wait is a bounded loop. Last line: "it_identity: N passed, N failed".
set -u
PY=/usr/bin/python3
SDQ=${SDQ_BIN:-$PWD/build/sdq}
TESTS=${SDQ_TESTS_DIR:-$PWD/tests}
EMU="$TESTS/emulator.py"
KA=key-of-A-1111 KB=key-of-B-2222
tmp=$(mktemp -d "${TMPDIR:-/tmp}/it_identity.XXXXXX")
pass=0 fail=0
cp "$SDQ" "$tmp/sdq" && SDQ="$tmp/sdq"
emu_pids= bg_pids=

pids_of_drivers() { # every driver pid of data dir $1 (main and per key)
	SDQ_DATA_DIR=$1 "$SDQ" driver --status 2>/dev/null | sed -n 's/.*pid \([0-9][0-9]*\).*/\1/p'
}
cleanup() {
	for p in $bg_pids; do kill "$p" 2>/dev/null; done
	for d in "$tmp"/data*; do
		[ -d "$d" ] || continue
		for p in $(pids_of_drivers "$d"); do kill "$p" 2>/dev/null; done
	done
	for p in $emu_pids; do kill "$p" 2>/dev/null; done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
	d=$1; shift
	if "$@"; then ok; else bad "$d"; fi
}
emu_stats() { # emu_stats PORT EXPR
	$PY -c 'import json,sys,urllib.request as u
j=json.load(u.urlopen("http://127.0.0.1:%s/_emu/stats" % sys.argv[1], timeout=10))
print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}
start_emu() { # start_emu NAME ARGS...: sets PORT
	name=$1; shift
	$PY "$EMU" --port 0 --port-file "$tmp/$name.port" --idle-exit 300 --max-lifetime 590 \
		--quiet "$@" >/dev/null 2>"$tmp/$name.err" &
	emu_pids="$emu_pids $!"
	n=0
	while [ ! -s "$tmp/$name.port" ] && [ $n -lt 150 ]; do sleep 0.1; n=$((n + 1)); done
	PORT=$(cat "$tmp/$name.port" 2>/dev/null)
}
jfield() { # jfield ID FIELD: a field of `sdq show ID --json`
	"$SDQ" show "$1" --json 2>/dev/null |
		$PY -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$2" 2>/dev/null
}
wait_state() { # wait_state ID STATE [TRIES]: at most TRIES x 0.2 s
	n=0
	while [ $n -lt "${3:-300}" ]; do
		[ "$(jfield "$1" state)" = "$2" ] && return 0
		sleep 0.2; n=$((n + 1))
	done
	return 1
}
# No process holds a driver lock of the data dir: the main one or a key's
# (driver --status lists every key lock held, also a key driver that lingers
# after its jobs ended and would take the next round's jobs).
no_driver() { [ -z "$(pids_of_drivers "$SDQ_DATA_DIR")" ]; }
wait_no_driver() { # the data dir's drivers have all exited (bounded)
	n=0
	while ! no_driver && [ $n -lt 150 ]; do
		sleep 0.2; n=$((n + 1))
	done
	no_driver
}

start_emu a --key "$KA" --endpoint epa --queue-time 0.2 --run-time 0.3 --steps 2
PA=$PORT
start_emu b --key "$KB" --endpoint epb --queue-time 0.2 --run-time 0.3 --steps 2
PB=$PORT
check "emulators started" test -n "$PA" -a -n "$PB"
UA="http://127.0.0.1:$PA/v2/epa" UB="http://127.0.0.1:$PB/v2/epb"
export SDQ_CONFIG="$tmp/none.conf" SDQ_DATA_DIR="$tmp/data"
# the two shells: only the environment differs
sha() { SDQ_ENDPOINT=$UA RUNPOD_API_KEY=$KA "$SDQ" "$@"; }
shb() { SDQ_ENDPOINT=$UB RUNPOD_API_KEY=$KB "$SDQ" "$@"; }

# --- round 1: each shell's submit starts the driver of its key, A's first
ids_a= ids_b=
for i in 1 2 3; do
	ids_a="$ids_a $(sha submit -p "r1 a$i [[queue=0.3 run=0.4]]" 2>>"$tmp/e")"
	ids_b="$ids_b $(shb submit -p "r1 b$i [[queue=0.3 run=0.4]]" 2>>"$tmp/e")"
done
# a --wait in shell B while A's driver runs (the case of the issue)
ids_b="$ids_b $(shb submit --wait -p "r1 b-wait" 2>>"$tmp/e" | head -n 1)"
ids_a="$ids_a $(sha submit --wait -p "r1 a-wait" 2>>"$tmp/e" | head -n 1)"
all_done=1
for id in $ids_a $ids_b; do wait_state "$id" COMPLETED || all_done=0; done
check "round 1: every job COMPLETED" test $all_done = 1
for id in $ids_a; do
	check "round 1: job $id recorded A's URL" test "$(jfield "$id" endpoint_url)" = "$UA"
done
for id in $ids_b; do
	check "round 1: job $id recorded B's URL" test "$(jfield "$id" endpoint_url)" = "$UB"
done
check "round 1: show names the URL" sh -c "'$SDQ' show $(echo $ids_b | cut -d' ' -f1) | grep -q 'v2/epb'"
check "round 1: A got its 4 jobs once each, with A's key" test "$(emu_stats "$PA" \
	'j["runs_by_prompt"] == dict([("r1 a-wait", 1)] + [("r1 a%d [[queue=0.3 run=0.4]]" % i, 1) for i in (1, 2, 3)]) and j["ops"]["unauthorized"] == 0')" = True
check "round 1: B got its 4 jobs once each, with B's key" test "$(emu_stats "$PB" \
	'j["runs_by_prompt"] == dict([("r1 b-wait", 1)] + [("r1 b%d [[queue=0.3 run=0.4]]" % i, 1) for i in (1, 2, 3)]) and j["ops"]["unauthorized"] == 0')" = True
check "round 1: no key in the history" sh -c "! grep -a -q -e '$KA' -e '$KB' '$tmp/data/history.db'*"
check "round 1: the drivers exit" wait_no_driver

# --- round 2: B's shell first, --wait jobs interleaved, then plain ones
ids_a= ids_b=
ids_b="$ids_b $(shb submit -p "r2 b1 [[queue=0.5 run=0.5]]" 2>>"$tmp/e")"
ids_a="$ids_a $(sha submit --wait -p "r2 a1" 2>>"$tmp/e" | head -n 1)"
ids_b="$ids_b $(shb submit --wait -p "r2 b2" 2>>"$tmp/e" | head -n 1)"
ids_a="$ids_a $(sha submit -p "r2 a2 [[queue=0.5 run=0.5]]" 2>>"$tmp/e")"
all_done=1
for id in $ids_a $ids_b; do wait_state "$id" COMPLETED || all_done=0; done
check "round 2: every job COMPLETED" test $all_done = 1
check "round 2: A saw only its jobs" test "$(emu_stats "$PA" \
	'[k for k in j["runs_by_prompt"] if k.startswith("r2")] == ["r2 a1", "r2 a2 [[queue=0.5 run=0.5]]"] and j["runs_by_prompt"]["r2 a1"] == 1 and j["ops"]["unauthorized"] == 0')" = True
check "round 2: B saw only its jobs" test "$(emu_stats "$PB" \
	'sorted(k for k in j["runs_by_prompt"] if k.startswith("r2")) == ["r2 b1 [[queue=0.5 run=0.5]]", "r2 b2"] and j["ops"]["unauthorized"] == 0 and j["max_runs_per_input"] == 1')" = True
check "round 2: the drivers exit" wait_no_driver

# --- round 3: no background drivers; jobs wait; B's driver first, then A's
export SDQ_CONFIG="$tmp/nobg.conf"
printf '[core]\n\tbackground_driver = false\n' >"$SDQ_CONFIG"
ids_a= ids_b=
for i in 1 2; do
	ids_a="$ids_a $(sha submit -p "r3 a$i" 2>>"$tmp/e")"
	ids_b="$ids_b $(shb submit -p "r3 b$i" 2>>"$tmp/e")"
done
a1=$(echo $ids_a | cut -d' ' -f1)
check "round 3: a job whose key no driver holds says so (show)" \
	sh -c "'$SDQ' show $a1 | grep -q 'waiting.*API key'"
sha ls >/dev/null 2>"$tmp/ls.err"
check "round 3: ls says which jobs wait for their key" grep -q "wait for a driver with their API key" "$tmp/ls.err"
check "round 3: driver --status names the waiting key" \
	sh -c "'$SDQ' driver --status | grep -q 'no driver holds this API key'"
shb driver >"$tmp/drv-b.log" 2>&1 &
bg_pids="$bg_pids $!"
all_done=1
for id in $ids_b; do wait_state "$id" COMPLETED || all_done=0; done
check "round 3: B's driver sent B's jobs" test $all_done = 1
for id in $ids_a; do
	check "round 3: A's job $id still waits (B's driver lacks A's key)" test "$(jfield "$id" state)" = PENDING
done
check "round 3: A saw nothing yet" test "$(emu_stats "$PA" 'len([k for k in j["runs_by_prompt"] if k.startswith("r3")])')" = 0
sha driver >"$tmp/drv-a.log" 2>&1 &
bg_pids="$bg_pids $!"
all_done=1
for id in $ids_a; do wait_state "$id" COMPLETED || all_done=0; done
check "round 3: A's driver sent A's jobs" test $all_done = 1
check "round 3: each endpoint got its own jobs once, with its key" test \
	"$(emu_stats "$PA" 'sorted(k for k in j["runs_by_prompt"] if k.startswith("r3")) == ["r3 a1", "r3 a2"] and j["max_runs_per_input"] == 1 and j["ops"]["unauthorized"] == 0'),$(emu_stats "$PB" 'sorted(k for k in j["runs_by_prompt"] if k.startswith("r3")) == ["r3 b1", "r3 b2"] and j["max_runs_per_input"] == 1 and j["ops"]["unauthorized"] == 0')" = "True,True"
check "round 3: the drivers exit" wait_no_driver
export SDQ_CONFIG="$tmp/none.conf"

# --- a 404 from the endpoint
U404="http://127.0.0.1:$PA/v2/nosuchid"
SDQ_ENDPOINT=$U404 RUNPOD_API_KEY=$KA "$SDQ" submit --wait -p "to nowhere" >"$tmp/o" 2>"$tmp/e404"; rc=$?
check "404: submit exits 1" test $rc = 1
check "404: submit says endpoint not found" grep -q "endpoint not found (HTTP 404): check the id" "$tmp/e404"
SDQ_ENDPOINT=$U404 RUNPOD_API_KEY=$KA "$SDQ" health >"$tmp/o" 2>"$tmp/e404h"; rc=$?
check "404: health exits 1" test $rc = 1
check "404: health says endpoint not found" grep -q "endpoint not found (HTTP 404): check the id" "$tmp/e404h"
check "404: health prints no counts" sh -c "! grep -q -e '^jobs' -e '^workers' '$tmp/o'"

# --- runpod-python's local test API
export SDQ_DATA_DIR="$tmp/data2"
start_emu local --local-api --run-time 0.5
PL=$PORT
UL="http://127.0.0.1:$PL"
shl() { env -u RUNPOD_API_KEY SDQ_ENDPOINT=$UL "$SDQ" "$@"; }
l1=$(shl submit --wait -p "local one" 2>"$tmp/el" | head -n 1); rc=$?
check "local: submit --wait works with no key" test "$(jfield "$l1" state)" = COMPLETED
check "local: the image is saved" sh -c "'$SDQ' show $l1 | grep -q '1-0.png'"
check "local: show names the local test API" sh -c "'$SDQ' show $l1 | grep -q 'runpod-local'"
l2=$(shl submit -p "local fails [[fail=handler-says-no]]" 2>>"$tmp/el")
check "local: a failing handler is FAILED" wait_state "$l2" FAILED
check "local: with its error" sh -c "'$SDQ' show $l2 | grep -q handler-says-no"
# long handler: more than the 30 s a request may usually take
l3=$(shl submit --wait -p "local long [[run=35]]" 2>>"$tmp/el" | head -n 1)
check "local: a 35 s handler completes" test "$(jfield "$l3" state)" = COMPLETED
check "local: one POST /status per job, one handler run each" test "$(emu_stats "$PL" \
	'j["ops"]["status"] == 3 and sorted(j["handler_runs"].values()) == [1, 1, 1] and j["ops"]["notallowed"] == 0')" = True
# cancel while the handler runs
l4=$(shl submit -p "local cancel [[run=30]]" 2>>"$tmp/el")
n=0
while [ "$(emu_stats "$PL" 'len(j["handler_runs"])')" != 4 ] && [ $n -lt 150 ]; do sleep 0.2; n=$((n + 1)); done
shl cancel "$l4" >"$tmp/o" 2>"$tmp/ec"; rc=$?
check "local: cancel says it is not supported there" grep -q "not supported by runpod-python's local test API" "$tmp/ec"
check "local: the job is no longer followed" wait_state "$l4" CANCELLED 50
shl health >"$tmp/o" 2>"$tmp/eh"; rc=$?
check "local: health exits 1" test $rc = 1
check "local: health says there is no /health" grep -q "no /health" "$tmp/eh"
check "local: health says what it cannot do" grep -q "cannot cancel, retry or purge" "$tmp/o"
# an endpoint configured as plain RunPod on the same server: GET /status
# gives 405, sdq switches to POST (the first POST runs the job: still once)
cat >"$tmp/local.conf" <<EOF
[endpoint "dev"]
	url = $UL
	api = runpod
EOF
l5=$(env -u RUNPOD_API_KEY SDQ_CONFIG="$tmp/local.conf" RUNPOD_API_KEY=unused "$SDQ" submit --wait -p "local via 405" 2>>"$tmp/el" | head -n 1)
check "local: an api = runpod endpoint switches after a 405" test "$(jfield "$l5" state)" = COMPLETED
check "local: the 405 job also ran once" test "$(emu_stats "$PL" \
	'j["ops"]["notallowed"] == 1 and all(v == 1 for v in j["handler_runs"].values())')" = True
check "local: the drivers exit" wait_no_driver

# --- driver --status names every key lock held, with no live job too: a
# driver lingering (--linger 120) after its one job completed
export SDQ_DATA_DIR="$tmp/data-status"
SDQ_ENDPOINT=$UA RUNPOD_API_KEY=$KA "$SDQ" driver --linger 120 >/dev/null 2>"$tmp/status.err" &
sp=$!
bg_pids="$bg_pids $sp"
n=0
while [ -z "$(pids_of_drivers "$SDQ_DATA_DIR")" ] && [ $n -lt 150 ]; do sleep 0.1; n=$((n + 1)); done
s1=$(sha submit -p "status probe" 2>/dev/null)
check "status: the lingering driver completes the job" wait_state "$s1" COMPLETED
fpa=$(jfield "$s1" key_fingerprint)
"$SDQ" driver --status >"$tmp/status.out" 2>/dev/null
check "status: the idle key driver's lock is listed with its pid" \
	grep -q "^key $fpa: driver pid $sp, no live jobs" "$tmp/status.out"
kill "$sp" 2>/dev/null
wait "$sp" 2>/dev/null
check "status: no lock listed once it exited" wait_no_driver

echo "it_identity: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
