#!/bin/sh
# it_kill.sh: the kill campaign. Bursts of submissions are driven by a real
# `sdq driver` that is killed with SIGKILL at a random moment of each burst
# (while /run requests are queued, leaving, answered or polled), then a last
# driver finishes everything. Against tests/emulator.py on 127.0.0.1, which
# counts every /run per prompt (/_emu/stats runs_by_prompt). Checked for
# every job: it ends COMPLETED with exactly one /run at the emulator, or
# UNKNOWN only if the emulator really received its /run; no prompt is ever
# run twice; nothing is left live. A job killed before its /run left is
# still PENDING and is sent by the next driver.
# The one exception, counted apart as "window": SUBMITTING is committed
# just before libcurl writes the request (it must be, or a kill between the
# write and the commit would send the job twice), so a kill landing between
# that commit and the write leaves one UNKNOWN job the emulator never saw.
# The driver is one thread and sends one request at a time, so a kill can
# catch at most ONE job there: more than one such job in a round is a loss.
# Rounds and jobs per round: SDQ_KILL_ROUNDS (default 15), SDQ_KILL_JOBS
# (default 8); the random delays come from SDQ_KILL_SEED (default: the
# time), printed so a failure can be replayed. Prints the figures as
# "it_kill: jobs=N kills=K completed=C unknown=U window=W lost=L doubled=D".
# Every wait is bounded. Last line: "it_kill: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_kill
KEY=test-key-kill-1
ROUNDS=${SDQ_KILL_ROUNDS:-15}
PER=${SDQ_KILL_JOBS:-8}
SEED=${SDQ_KILL_SEED:-$(date +%s)}
th_copy_sdq
drv_pid=
th_cleanup_more() {
	[ -n "$drv_pid" ] && kill -9 "$drv_pid" 2>/dev/null
	p=$("$SDQ" driver --status 2>/dev/null | sed -n 's/.*pid \([0-9][0-9]*\).*/\1/p')
	[ -n "$p" ] && kill "$p" 2>/dev/null
}


th_emu emu --queue-time 0.2 --run-time 0.3 \
	--steps 2 --idle-exit 120 --max-lifetime 590 --quiet
check "emulator started" test -n "$PORT"
[ -n "$PORT" ] || { echo "it_kill: $pass passed, $fail failed"; exit 1; }

# No detached driver: this script starts and kills every driver itself.
printf '[core]\n\tbackground_driver = false\n' >"$tmp/conf"
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/conf" RUNPOD_API_KEY=$KEY
export SDQ_ENDPOINT="http://127.0.0.1:$PORT/v2/test"

echo "it_kill: seed $SEED, $ROUNDS rounds of $PER jobs"
# delay K: a pseudo-random delay in seconds (0 .. 0.4) for kill number K
delay() { awk -v s="$SEED" -v k="$1" 'BEGIN { srand(s + k * 7919); printf "%.3f", rand() * 0.4 }'; }

kills=0 jobs=0 subfail=0
r=1
while [ "$r" -le "$ROUNDS" ]; do
	i=1
	while [ "$i" -le "$PER" ]; do
		"$SDQ" submit -p "kill-$r-$i" --width 64 --height 64 >/dev/null 2>>"$tmp/submit.err" ||
			subfail=$((subfail + 1))
		jobs=$((jobs + 1))
		i=$((i + 1))
	done
	"$SDQ" driver >>"$tmp/driver.log" 2>&1 &
	drv_pid=$!
	sleep "$(delay "$r")"
	if kill -9 "$drv_pid" 2>/dev/null; then kills=$((kills + 1)); fi
	wait "$drv_pid" 2>/dev/null
	drv_pid=
	r=$((r + 1))
done
check "every submit was recorded" test "$subfail" = 0

# A last driver, never killed, finishes what is left (bounded wait).
"$SDQ" driver >>"$tmp/driver.log" 2>&1 &
drv_pid=$!
n=0
while [ $n -lt 600 ]; do
	live=$("$SDQ" ls --state live --json --all 2>/dev/null | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null)
	[ "$live" = 0 ] && break
	sleep 0.2; n=$((n + 1))
done
check "no job is left live" test "${live:-x}" = 0
kill "$drv_pid" 2>/dev/null
wait "$drv_pid" 2>/dev/null
drv_pid=

"$SDQ" ls --all --json >"$tmp/jobs.json" 2>/dev/null
$PY -c 'import json,urllib.request as u,sys
print(json.dumps(json.load(u.urlopen("http://127.0.0.1:%s/_emu/stats" % sys.argv[1], timeout=10))))' \
	"$PORT" >"$tmp/stats.json" 2>/dev/null
$PY - "$tmp/jobs.json" "$tmp/stats.json" "$jobs" "$kills" >"$tmp/verdict" <<'EOF'
import json, sys
jobs = [j for j in json.load(open(sys.argv[1])) if j["prompt"].startswith("kill-")]
runs = json.load(open(sys.argv[2])).get("runs_by_prompt", {})
want, kills = int(sys.argv[3]), int(sys.argv[4])
completed = unknown = lost = doubled = window = 0
bad = []
unsent = {}  # round -> UNKNOWN jobs the emulator never received
for j in jobs:
    n = runs.get(j["prompt"], 0)
    if n > 1:
        doubled += 1
        bad.append("%s sent %d times" % (j["prompt"], n))
    if j["state"] == "COMPLETED" and n == 1:
        completed += 1
    elif j["state"] == "UNKNOWN" and n >= 1:
        unknown += 1
    elif j["state"] == "UNKNOWN" and n == 0:
        unsent.setdefault(j["prompt"].split("-")[1], []).append(j["prompt"])
    else:
        lost += 1
        bad.append("%s ended %s with %d /run" % (j["prompt"], j["state"], n))
for r, ps in sorted(unsent.items()):
    window += 1
    bad.append("%s ended UNKNOWN with 0 /run (the kill fell between its commit and its write)" % ps[0])
    for p in ps[1:]:
        lost += 1
        bad.append("%s ended UNKNOWN with 0 /run: a second one in round %s" % (p, r))
print("it_kill: jobs=%d kills=%d completed=%d unknown=%d window=%d lost=%d doubled=%d"
      % (len(jobs), kills, completed, unknown, window, lost, doubled))
for b in bad[:20]:
    print("  " + b)
print("OK" if len(jobs) == want and lost == 0 and doubled == 0 else "BAD")
EOF
cat "$tmp/verdict"
check "every job is in the history" grep -q "jobs=$jobs " "$tmp/verdict"
check "no job lost (COMPLETED once, or UNKNOWN only after a /run or alone in the commit-write window)" grep -q ' lost=0 ' "$tmp/verdict"
check "no /run sent twice" grep -q ' doubled=0$' "$tmp/verdict"
check "verdict OK" grep -qx OK "$tmp/verdict"
check "at least one kill landed" test "$kills" -gt 0

th_end
