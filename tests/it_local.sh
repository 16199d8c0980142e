#!/bin/sh
# it_local.sh: the local stable-diffusion.cpp backend end to end, through the
# CLI, with tests/fake-sd-cli as the executable: one image, progress seen
# moving from another process, a batch of 3, failures, cancel (nothing left
# running), two jobs queued behind each other, a missing executable, health.
# Run by tests/run-tests.sh (cwd = repo root, private HOME/XDG/TMPDIR).
set -u
SDQ=${SDQ_BIN:-$PWD/build/sdq}
TESTS=${SDQ_TESTS_DIR:-$PWD/tests}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/it_local.XXXXXX")
export HOME="$T/home" XDG_DATA_HOME="$T/home/.local/share" XDG_CONFIG_HOME="$T/home/.config"
export SDQ_CONFIG="$T/config" FAKE_SD_STEP_DELAY=0.005
unset SDQ_ENDPOINT RUNPOD_API_KEY
mkdir -p "$HOME"
# a safetensors header and no tensors: what the fake (like sd-cli) takes as a model
printf '\040\000\000\000\000\000\000\000{"__metadata__":{"format":"pt"}}' >"$T/model.safetensors"
: >"$T/empty.safetensors"
cat >"$SDQ_CONFIG" <<EOF
[local "gpu"]
	exe = $TESTS/fake-sd-cli
	model = $T/model.safetensors
	threads = 2
	extra_args = --vae-tiling
[local "nope"]
	exe = $T/no-such-sd-cli
	model = $T/model.safetensors
[local "nomodel"]
	exe = $TESTS/fake-sd-cli
	model = $T/missing.gguf
[local "emptymodel"]
	exe = $TESTS/fake-sd-cli
	model = $T/empty.safetensors
EOF

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
	d=$1; shift
	if "$@"; then ok; else fail "$d"; fi
}
# jget ID EXPR: evaluate a Python expression over the job's JSON (as j)
jget() {
	"$SDQ" show --json "$1" 2>/dev/null | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
j = d[0] if isinstance(d, list) else d
print(eval(sys.argv[1]))' "$2" 2>/dev/null
}
# wait_state ID STATE [tries of 0.1 s]: poll until the job is in STATE
wait_state() {
	n=0
	while [ $n -lt "${3:-300}" ]; do
		[ "$(jget "$1" 'j["state"]')" = "$2" ] && return 0
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}
group_alive() { "$PY" -c 'import os, sys
try:
    os.killpg(int(sys.argv[1]), 0)
except ProcessLookupError:
    sys.exit(1)' "$1"; }
is_png() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = "211PNG" ]; }

# 1. one image, waited for
out=$("$SDQ" submit -e gpu -p "a red fox" --seed 4242 --steps 6 -W 64 -H 48 --wait 2>"$T/err1")
rc=$?
check "submit --wait exits 0 (rc $rc: $(cat "$T/err1"))" [ "$rc" -eq 0 ]
id1=$(echo "$out" | head -n 1)
img=$(echo "$out" | sed -n 2p)
check "an image path is printed ($out)" [ -f "$img" ]
check "the image is a PNG" is_png "$img"
check "job 1 COMPLETED" [ "$(jget "$id1" 'j["state"]')" = COMPLETED ]
check "its seed is recorded with the image" [ "$(jget "$id1" 'j["outputs"][0]["seed"]')" = 4242 ]
check "the backend is local" [ "$(jget "$id1" 'j["backend"]')" = local ]

# 2. progress moves, seen from another process through the store
id2=$("$SDQ" submit -e gpu -p "slow owl [[slow=0.1]]" --steps 30 -W 32 -H 32 2>"$T/err2")
check "submit without --wait prints an id ($(cat "$T/err2"))" [ -n "$id2" ]
: >"$T/progress"
n=0
while [ $n -lt 600 ]; do
	line=$(jget "$id2" '"%s|%s|%s" % (j["state"], j["progress"], j["progress_text"])')
	echo "$line" >>"$T/progress"
	case $line in COMPLETED*|FAILED*|CANCELLED*) break ;; esac
	sleep 0.05
	n=$((n + 1))
done
check "the slow job COMPLETED" [ "$(jget "$id2" 'j["state"]')" = COMPLETED ]
distinct=$(grep '^IN_PROGRESS|0\.[0-9]*[1-9][0-9]*|sampling step ' "$T/progress" | cut -d'|' -f2 |
	sort -u | wc -l)
check "progress was seen moving through the steps ($distinct values)" [ "$distinct" -ge 2 ]
check "progress text looks like 'sampling step k/30 ...'" \
	grep -q '|sampling step [0-9]*/30 [0-9.]*it/s$' "$T/progress"

# 3. a batch of 3, with per-image seeds
out=$("$SDQ" submit -e gpu -p "three cats" --seed 100 --count 3 --steps 3 -W 32 -H 32 --wait)
check "a batch of 3 prints 3 paths" [ "$(echo "$out" | sed 1d | grep -c .)" -eq 3 ]
id3=$(echo "$out" | head -n 1)
check "seeds 100, 101, 102" [ "$(jget "$id3" '",".join(str(o["seed"]) for o in j["outputs"])')" = "100,101,102" ]

# 4. failures
"$SDQ" submit -e gpu -p "[[fail]]" --steps 3 --wait >"$T/out4" 2>&1
check "a failed job makes --wait exit non-zero" [ $? -ne 0 ]
id4=$(head -n 1 "$T/out4")
err=$(jget "$id4" 'j["error"]')
check "FAILED with the ERROR lines ($err)" \
	[ "$(jget "$id4" 'j["state"]')" = FAILED ]
case $err in
"model file not found: $T/model.safetensors") ok ;;
*) fail "error text: $err" ;;
esac
check "the log tail is kept" eval '"$SDQ" show "$id4" | grep -q "new_sd_ctx_t failed"' 
"$SDQ" show "$id4" >"$T/show4"
check "show prints the log one line each (no ⏎)" eval '! grep -q "⏎" "$T/show4"'
check "the ERROR line is a line of its own" \
	grep -q '^           \[ERROR\] stable-diffusion.cpp:715  - init model loader' "$T/show4"
"$SDQ" submit -e gpu -p "[[signal=9]]" --steps 3 --wait >"$T/out5" 2>&1
id5=$(head -n 1 "$T/out5")
case $(jget "$id5" 'j["error"]') in
*"killed by signal 9 (SIGKILL)"*) ok ;;
*) fail "signal error: $(jget "$id5" 'j["error"]')" ;;
esac
"$SDQ" submit -e nope -p "x" --wait >"$T/out6" 2>&1
id6=$(head -n 1 "$T/out6")
case $(jget "$id6" 'j["error"]') in
*"$T/no-such-sd-cli"*exe*) ok ;;
*) fail "missing executable error: $(jget "$id6" 'j["error"]')" ;;
esac

# 5. cancel a running job: CANCELLED, and its process group is gone
id7=$("$SDQ" submit -e gpu -p "[[hang]]" --steps 10 -W 32 -H 32)
check "the hanging job starts" wait_state "$id7" IN_PROGRESS
pgid=$(jget "$id7" 'j["worker_id"].split()[1]')
check "its process group runs ($pgid)" group_alive "$pgid"
# 6. meanwhile a second job waits in sdq's own queue
id8=$("$SDQ" submit -e gpu -p "behind the hang" --steps 3 -W 32 -H 32)
wait_state "$id8" IN_QUEUE 100 # the driver has taken it (then the same check as ever)
check "the second job is IN_QUEUE while the first runs" \
	[ "$(jget "$id8" 'j["state"]')" = IN_QUEUE ]
check "the first still runs" [ "$(jget "$id7" 'j["state"]')" = IN_PROGRESS ]
"$SDQ" cancel "$id7" >/dev/null 2>&1
check "cancel: CANCELLED" wait_state "$id7" CANCELLED
n=0
while group_alive "$pgid" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
check "cancel: nothing of the group is left running" eval "! group_alive $pgid"
check "the queued job then runs to COMPLETED" wait_state "$id8" COMPLETED
s8=$(jget "$id8" 'j["started_at"]')
f7=$(jget "$id7" 'j["finished_at"]')
check "in order: it started after the first ended ($s8 >= $f7)" \
	"$PY" -c 'import sys; sys.exit(0 if sys.argv[1] >= sys.argv[2] else 1)' "$s8" "$f7"

# 7. a queued job is cancelled at once
id9=$("$SDQ" submit -e gpu -p "[[hang]]" --steps 10 -W 32 -H 32)
id10=$("$SDQ" submit -e gpu -p "never runs" --steps 3 -W 32 -H 32)
wait_state "$id9" IN_PROGRESS
"$SDQ" cancel "$id10" >/dev/null 2>&1
check "queued job cancelled" wait_state "$id10" CANCELLED
check "it never started" [ "$(jget "$id10" 'j["started_at"]')" = None ]
"$SDQ" cancel "$id9" >/dev/null 2>&1
check "and the running one too" wait_state "$id9" CANCELLED

# 8. health
out=$("$SDQ" health -e gpu 2>&1)
check "health -e gpu exits 0" [ $? -eq 0 ]
case $out in *"stable-diffusion.cpp version master-827"*"Fake CPU"*) ok ;; *) fail "health: $out" ;; esac
out=$("$SDQ" health -e nomodel 2>&1)
case $out in *"model file not found: $T/missing.gguf"*) ok ;; *) fail "health of a missing model: $out" ;; esac
out=$("$SDQ" health -e emptymodel 2>&1)
case $out in *"model file is empty: $T/empty.safetensors"*) ok ;; *) fail "health of an empty model: $out" ;; esac
out=$("$SDQ" health -e gpu 2>&1)
case $out in *"model: $T/model.safetensors (safetensors, "*) ok ;; *) fail "health names the model's format: $out" ;; esac

# no driver or child left behind
n=0
while "$SDQ" driver --status >/dev/null 2>&1 && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
check "the background driver exits when idle" eval "! '$SDQ' driver --status >/dev/null 2>&1"
left=$(pgrep -f "fake-sd-cli -m $T/" | tr '\n' ' ')
check "no fake-sd-cli left running ($left: $(ps -o pid,pgid,args -p "${left%% *}" 2>/dev/null | tail -n 1))" [ -z "$left" ]

rm -rf "$T"
echo "it_local: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
