#!/bin/sh
# it_cli.sh: the sdq command line end to end: the real binary ($SDQ_BIN)
# against the endpoint emulator (tests/emulator.py) on 127.0.0.1.
# Covers help/usage/exit codes, ls/show on an empty and a filled history,
# submit --wait to an image on disk, the JSON field names, submit without
# --wait finished by a detached driver, cancel, retry, rerun (same seed), get,
# rm, health, purge-queue, unknown endpoint and missing/refused API key errors
# (no key printed), the demo command, and a kill -9 of a waiting driver in the
# middle of 20 jobs (all finish, none sent twice).
# Every wait is a bounded loop. Last line: "it_cli: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_cli
KEY=test-key-123
th_copy_sdq
bg_pids=
th_cleanup_more() { for p in $bg_pids; do kill -9 "$p" 2>/dev/null; done; }
th_data_dirs="$tmp/data $tmp/data2 $tmp/data3 $tmp/data4 $tmp/data5"

# start_emu NAME ARGS...: start an emulator, set $PORT
start_emu() {
	th_emu "$@" --idle-exit 120 --max-lifetime 590 --quiet
}
state_of() { "$SDQ" show "$1" --json 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null; }
# wait_state ID STATE: at most 200 x 0.2 s
wait_state() {
	n=0
	while [ $n -lt 200 ]; do
		[ "$(state_of "$1")" = "$2" ] && return 0
		sleep 0.2; n=$((n + 1))
	done
	return 1
}
is_png() { [ -f "$1" ] && [ "$(od -An -c -N4 "$1" | tr -d ' ')" = '211PNG' ]; }

start_emu main --queue-time 0.3 --run-time 0.6 --steps 3
check "emulator started" test -n "$PORT"
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/none.conf"
export SDQ_ENDPOINT="http://127.0.0.1:$PORT/v2/test" RUNPOD_API_KEY=$KEY
unset SDQ_EMULATOR

# --- help, version, usage errors
"$SDQ" --help >"$tmp/o" 2>"$tmp/e"; rc=$?
check "--help exits 0" test $rc = 0
check "--help lists the commands" grep -q "submit" "$tmp/o"
"$SDQ" --version >"$tmp/o"; rc=$?
check "--version" sh -c "test $rc = 0 && grep -Eq '^sdq [0-9]+\\.[0-9]+' '$tmp/o'"
"$SDQ" help submit >"$tmp/o"; rc=$?
check "help submit" sh -c "test $rc = 0 && grep -q -- '--wait' '$tmp/o'"
"$SDQ" ls --help >"$tmp/o"; rc=$?
check "ls --help" sh -c "test $rc = 0 && grep -q -- '--state' '$tmp/o'"
"$SDQ" frobnicate >/dev/null 2>"$tmp/e"; rc=$?
check "unknown command exits 2" test $rc = 2
check "unknown command: one line" test "$(wc -l <"$tmp/e")" = 1
"$SDQ" --bogus >/dev/null 2>&1; rc=$?
check "unknown global option exits 2" test $rc = 2
"$SDQ" ls --bogus >/dev/null 2>&1; rc=$?
check "unknown ls option exits 2" test $rc = 2
"$SDQ" submit >/dev/null 2>"$tmp/e"; rc=$?
check "submit without prompt exits 2" test $rc = 2
check "a usage error is one line" sh -c "test \$(wc -l <'$tmp/e') = 1 && grep -q '^sdq: submit: ' '$tmp/e'"
"$SDQ" submit -p x --steps many >/dev/null 2>&1; rc=$?
check "bad number exits 2" test $rc = 2
"$SDQ" ls --state NOPE >/dev/null 2>&1; rc=$?
check "unknown state exits 2" test $rc = 2
"$SDQ" help frobnicate >/dev/null 2>&1; rc=$?
check "help of unknown command exits 2" test $rc = 2

# --- empty history
"$SDQ" ls >"$tmp/o" 2>"$tmp/e"; rc=$?
check "ls on empty history" sh -c "test $rc = 0 && test ! -s '$tmp/o'"
"$SDQ" ls --json >"$tmp/o"; rc=$?
check "ls --json on empty history is []" sh -c "test $rc = 0" && check "[] parsed" jcheck "$tmp/o" 'j == []'
"$SDQ" show 1 >/dev/null 2>"$tmp/e"; rc=$?
check "show of a missing job exits 1" test $rc = 1
check "show of a missing job: sdq: show: ..." grep -q "^sdq: show: " "$tmp/e"

# --- errors: unknown endpoint, no key, refused key (never printed)
"$SDQ" -e "no such endpoint" submit -p cat >/dev/null 2>"$tmp/e"; rc=$?
check "unknown endpoint exits 1" test $rc = 1
check "unknown endpoint message" grep -q "unknown endpoint" "$tmp/e"
env -u RUNPOD_API_KEY "$SDQ" submit -p cat >"$tmp/o" 2>"$tmp/e"; rc=$?
check "no API key exits 1" test $rc = 1
check "no API key: one line naming RUNPOD_API_KEY" sh -c "test \$(wc -l <'$tmp/e') = 1 && grep -q RUNPOD_API_KEY '$tmp/e'"
"$SDQ" ls --json >"$tmp/o"
check "no job recorded without a key" jcheck "$tmp/o" 'j == []'
RUNPOD_API_KEY=wrong-SECRET-4711 "$SDQ" health >"$tmp/o" 2>"$tmp/e"; rc=$?
check "health with a refused key exits 1" test $rc = 1
check "refused key is reported" grep -qi "refused\|401\|unauthor" "$tmp/o" "$tmp/e"
check "the key is never printed" sh -c "! grep -q SECRET-4711 '$tmp/o' '$tmp/e'"
mkdir -p "$tmp/keyfile"
printf 'file-SECRET-0815\n' >"$tmp/keyfile/key"; chmod 644 "$tmp/keyfile/key"
printf '[endpoint "k"]\n\turl = http://127.0.0.1:%s/v2/test\n\tapi_key_file = %s\n' "$PORT" "$tmp/keyfile/key" >"$tmp/k.conf"
SDQ_CONFIG="$tmp/k.conf" "$SDQ" -e k submit -p cat >"$tmp/o" 2>"$tmp/e"; rc=$?
check "world-readable key file refused" test $rc = 1
check "key file content not printed" sh -c "! grep -q SECRET-0815 '$tmp/o' '$tmp/e'"

# --- the config examples of the README and the man page are valid
awk '/^```ini/{f=1;next} /^```/{f=0} f' README.md >"$tmp/readme.conf"
check "README has a config example" test -s "$tmp/readme.conf"
"$SDQ" --config "$tmp/readme.conf" ls >/dev/null 2>"$tmp/e"; rc=$?
check "the README's config example loads" test $rc = 0
sed -n '/^\[endpoint "sdxl"\]$/,/^\.Ed$/p' man/sdq.1 | sed '$d' >"$tmp/man.conf"
check "the man page has a config example" test -s "$tmp/man.conf"
"$SDQ" --config "$tmp/man.conf" ls >/dev/null 2>"$tmp/e"; rc=$?
check "the man page's config example loads" test $rc = 0

printf '[core]\n\tno_such_key = 1\n' >"$tmp/bad.conf"
"$SDQ" --config "$tmp/bad.conf" ls >/dev/null 2>"$tmp/e"; rc=$?
check "a bad config exits 1" test $rc = 1
check "a bad config: one line naming the file" sh -c "test \$(wc -l <'$tmp/e') = 1 && grep -q 'bad.conf' '$tmp/e'"

# --- submit --wait: an image on disk
"$SDQ" submit -p "a red fox" --seed 7 -W 48 -H 40 --steps 5 --wait --timeout 60 >"$tmp/o" 2>"$tmp/e"; rc=$?
check "submit --wait exits 0" test $rc = 0
id=$(sed -n 1p "$tmp/o")
img=$(sed -n 2p "$tmp/o")
check "submit prints the id first" sh -c "echo '$id' | grep -Eq '^[0-9]+\$'"
check "then the image path (absolute)" sh -c "case '$img' in /*) true ;; *) false ;; esac"
check "the image is a PNG on disk" is_png "$img"
check "submit --wait prints nothing on stderr off a tty" test ! -s "$tmp/e"

# --- show / ls --json: the public field names
"$SDQ" show "$id" --json >"$tmp/show.json"; rc=$?
check "show --json exits 0" test $rc = 0
for k in id remote_id backend endpoint state prompt negative_prompt seed images error delay_ms \
	exec_ms created_at finished_at width height steps cfg sampler count template worker_id \
	progress submitted_at started_at events; do
	check "show --json has $k" jcheck "$tmp/show.json" "'$k' in j"
done
check "json: state COMPLETED" jcheck "$tmp/show.json" 'j["state"] == "COMPLETED"'
check "json: seed 7" jcheck "$tmp/show.json" 'j["seed"] == 7'
check "json: prompt" jcheck "$tmp/show.json" 'j["prompt"] == "a red fox"'
check "json: negative_prompt null" jcheck "$tmp/show.json" 'j["negative_prompt"] is None'
check "json: images are the printed path" jcheck "$tmp/show.json" "j['images'] == ['$img']"
check "json: times ISO 8601 UTC" jcheck "$tmp/show.json" '__import__("re").match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", j["created_at"]) and j["finished_at"].endswith("Z")'
check "json: remote_id set" jcheck "$tmp/show.json" 'isinstance(j["remote_id"], str) and len(j["remote_id"]) > 0'
check "json: backend runpod" jcheck "$tmp/show.json" 'j["backend"] == "runpod"'
check "json: events recorded" jcheck "$tmp/show.json" 'len(j["events"]) >= 2'
rid=$(jget "$tmp/show.json" 'j["remote_id"]')
"$SDQ" show "$(echo "$rid" | cut -c1-8)" --json >"$tmp/o" 2>/dev/null
check "show by remote id prefix" jcheck "$tmp/o" "j['id'] == $id"
"$SDQ" show "$id" >"$tmp/o"; rc=$?
check "show (text) has prompt and path" sh -c "test $rc = 0 && grep -q 'a red fox' '$tmp/o' && grep -qF '$img' '$tmp/o'"

"$SDQ" ls >"$tmp/o"; rc=$?
check "ls lists the job" sh -c "test $rc = 0 && grep -E '^ *$id +COMPLETED ' '$tmp/o' | grep -q 'a red fox'"
"$SDQ" ls --json >"$tmp/o"
check "ls --json: an array of one" jcheck "$tmp/o" "len(j) == 1 and j[0]['id'] == $id and 'images' in j[0]"
"$SDQ" ls fox --json >"$tmp/o"
check "ls TEXT finds it" jcheck "$tmp/o" 'len(j) == 1'
"$SDQ" ls zebra --json >"$tmp/o"
check "ls TEXT filters" jcheck "$tmp/o" 'len(j) == 0'
"$SDQ" ls --state failed,cancelled --json >"$tmp/o"
check "ls --state filters" jcheck "$tmp/o" 'len(j) == 0'

# --- on a terminal, a long wait shows a live status line on stderr, cleared at the end
if command -v script >/dev/null 2>&1; then
	script -qec "'$SDQ' submit -p '[[queue=1.2 run=1.5 steps=3]] tty wait' --wait" /dev/null \
		>"$tmp/tty" 2>&1 </dev/null; rc=$?
	check "submit --wait on a tty exits 0" test $rc = 0
	check "a live status line (state, redrawn with CR)" sh -c "tr '\r' '\n' <'$tmp/tty' | grep -Eq '^job [0-9]+ IN_(QUEUE|PROGRESS)'"
	check "the status line is cleared before the paths" sh -c "grep -q \"\$(printf '\r\033\\[K')\" '$tmp/tty' && tr -d '\r' <'$tmp/tty' | grep -q '\.png\$'"
else
	echo "it_cli: no script(1): skipping the tty status test" >&2
fi

# --- sanitised output: an escape in a prompt is shown, not sent
esc=$(printf 'evil \033]0;pwned\007 prompt')
"$SDQ" submit -p "$esc [[queue=0.1 run=0.1]]" --wait --timeout 60 >/dev/null 2>&1
"$SDQ" ls >"$tmp/o"
check "ls shows no raw ESC" sh -c "! grep -q \"\$(printf '\\033')\" '$tmp/o'"
check "ls shows the escape as ^[" grep -qF '^[' "$tmp/o"

# --- get -o
"$SDQ" get "$id" -o "$tmp/got" >"$tmp/o"; rc=$?
got=$(sed -n 1p "$tmp/o")
check "get exits 0" test $rc = 0
check "get copies the image into DIR" sh -c "case '$got' in '$tmp/got/'*) cmp -s '$got' '$img' ;; *) false ;; esac"

# --- rerun: same parameters and seed
"$SDQ" rerun "$id" --wait >"$tmp/o" 2>"$tmp/e"; rc=$?
nid=$(sed -n 1p "$tmp/o")
check "rerun --wait exits 0" test $rc = 0
check "rerun is a new job" sh -c "test -n '$nid' && test '$nid' != '$id'"
"$SDQ" show "$nid" --json >"$tmp/o"
check "rerun keeps the seed and prompt" jcheck "$tmp/o" 'j["seed"] == 7 and j["prompt"] == "a red fox" and j["width"] == 48'
check "rerun has its own image" jcheck "$tmp/o" "len(j['images']) == 1 and j['images'][0] != '$img'"

# --- a failure, then retry (same remote id)
"$SDQ" submit -p "[[fail=boom-42]] broken" --wait --timeout 60 >"$tmp/o" 2>"$tmp/e"; rc=$?
fid=$(sed -n 1p "$tmp/o")
check "a FAILED job exits 1" test $rc = 1
check "the error is on stderr" grep -q "boom-42" "$tmp/e"
check "state FAILED" test "$(state_of "$fid")" = FAILED
frid=$("$SDQ" show "$fid" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["remote_id"])')
"$SDQ" retry "$fid" --wait >"$tmp/o" 2>"$tmp/e"; rc=$?
check "retry --wait exits 0 (the second attempt completes)" test $rc = 0
check "retry: COMPLETED" test "$(state_of "$fid")" = COMPLETED
check "retry used /retry, same remote id" test "$(emu_stats "$PORT" "j['jobs']['$frid']['retries']")" = 1

# --- submit without --wait: a detached driver finishes it
"$SDQ" submit -p "a blue cat" >"$tmp/o" 2>"$tmp/e"; rc=$?
bid=$(cat "$tmp/o")
check "submit prints only the id" sh -c "test $rc = 0 && echo '$bid' | grep -Eq '^[0-9]+\$'"
check "a detached driver completes it" wait_state "$bid" COMPLETED
"$SDQ" show "$bid" --json >"$tmp/o"
check "with its image on disk" sh -c "is_png() { [ \"\$(od -An -c -N4 \"\$1\" | tr -d ' ')\" = '211PNG' ]; }; is_png \"\$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"images\"][0])' '$tmp/o')\""
n=0
while [ $n -lt 100 ] && "$SDQ" driver --status >/dev/null 2>&1; do sleep 0.2; n=$((n + 1)); done
check "the driver exits once nothing is live" sh -c "! '$SDQ' driver --status >/dev/null"
check "driver.log written" test -s "$tmp/data/driver.log"

# --- -e URL (no endpoint in any config) without --wait: the detached driver knows it too
# (own data dir: a driver started without SDQ_ENDPOINT cannot drive the
# "default" endpoint that SDQ_ENDPOINT defines for the other tests)
env -u SDQ_ENDPOINT SDQ_DATA_DIR="$tmp/data4" "$SDQ" -e "http://127.0.0.1:$PORT/v2/test" \
	submit -p "via -e" >"$tmp/o" 2>"$tmp/e"; rc=$?
uid=$(cat "$tmp/o")
check "submit -e URL exits 0" test $rc = 0
n=0
while [ $n -lt 150 ]; do
	[ "$(SDQ_DATA_DIR="$tmp/data4" state_of "$uid")" = COMPLETED ] && break
	sleep 0.2; n=$((n + 1))
done
check "a -e URL job completes in the background" test "$(SDQ_DATA_DIR="$tmp/data4" state_of "$uid")" = COMPLETED

# --- a driver whose config lacks a job's endpoint: it follows a RunPod job
# through its URL, leaves a job it cannot drive live, and still exits
# ("default" is what SDQ_ENDPOINT defines when the config file has no endpoint)
printf '[core]\n\tbackground_driver = false\n' >"$tmp/nobg5.conf"
cp "$tmp/nobg5.conf" "$tmp/gpu.conf"
printf '[local "gpu"]\n\texe = /nonexistent/sd-cli\n\tmodel = /nonexistent/m.gguf\n' >>"$tmp/gpu.conf"
SDQ_DATA_DIR="$tmp/data5" SDQ_CONFIG="$tmp/nobg5.conf" "$SDQ" submit -p "by url" >"$tmp/o" 2>"$tmp/e"
did=$(cat "$tmp/o")
SDQ_DATA_DIR="$tmp/data5" SDQ_CONFIG="$tmp/gpu.conf" "$SDQ" submit -e gpu -p "on gpu" >"$tmp/o" 2>"$tmp/e"
gid=$(cat "$tmp/o")
env -u SDQ_ENDPOINT SDQ_DATA_DIR="$tmp/data5" timeout 60 "$SDQ" driver --linger 1 >/dev/null 2>"$tmp/drv5.err"; rc=$?
check "driver without the jobs' endpoints exits by itself (0)" test $rc = 0
check "the 'default' job was driven through its URL" test "$(SDQ_DATA_DIR="$tmp/data5" "$SDQ" show "$did" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["endpoint"])')" = default
check "... to COMPLETED" test "$(SDQ_DATA_DIR="$tmp/data5" state_of "$did")" = COMPLETED
check "the local job stays PENDING for a driver that knows 'gpu'" test "$(SDQ_DATA_DIR="$tmp/data5" state_of "$gid")" = PENDING
check "the driver names the job it left" grep -q "left for a driver.*$gid (gpu)" "$tmp/drv5.err"
check "no driver started for it" sh -c "! SDQ_DATA_DIR='$tmp/data5' '$SDQ' driver --status >/dev/null"

# --- submit --sync: through /runsync, saved from its answer (no status poll)
rs0=$(emu_stats "$PORT" "j['ops']['runsync']")
"$SDQ" submit --sync -p "synced [[queue=0 run=0.3]]" >"$tmp/o" 2>"$tmp/e"; rc=$?
sid=$(cat "$tmp/o")
check "submit --sync exits 0" test $rc = 0
check "submit --sync: COMPLETED" wait_state "$sid" COMPLETED
check "submit --sync used /runsync once" test "$(emu_stats "$PORT" "j['ops']['runsync']")" = $((rs0 + 1))
srid=$("$SDQ" show "$sid" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["remote_id"])')
check "submit --sync: a sync- id, never polled" test "$(emu_stats "$PORT" "(j['jobs']['$srid']['status_polls'], '$srid'[:5])")" = "(0, 'sync-')"

# --- cancel a queued job
"$SDQ" submit -p "[[queue=60]] slow one" >"$tmp/o"; cid=$(cat "$tmp/o")
wait_state "$cid" IN_QUEUE
"$SDQ" cancel "$cid" >"$tmp/o" 2>"$tmp/e"; rc=$?
check "cancel exits 0" test $rc = 0
check "cancelled" wait_state "$cid" CANCELLED
crid=$("$SDQ" show "$cid" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["remote_id"])')
check "cancel reached the endpoint" test "$(emu_stats "$PORT" "j['jobs']['$crid']['cancel_count']")" -ge 1
"$SDQ" cancel "$cid" >/dev/null 2>&1; rc=$?
check "cancelling a finished job exits 1" test $rc = 1

# --- health, purge-queue
"$SDQ" health >"$tmp/o" 2>"$tmp/e"; rc=$?
check "health exits 0" test $rc = 0
check "health shows workers" grep -q "workers" "$tmp/o"
"$SDQ" health --json >"$tmp/o"
check "health --json" jcheck "$tmp/o" 'j["reachable"] is True and "workers" in j and "in_queue" in j["jobs"]'
"$SDQ" submit -p "[[queue=60]] purge me" >"$tmp/o"; pid1=$(cat "$tmp/o")
wait_state "$pid1" IN_QUEUE
"$SDQ" purge-queue >"$tmp/o" 2>"$tmp/e"; rc=$?
check "purge-queue exits 0" test $rc = 0
check "the purged job ends CANCELLED" wait_state "$pid1" CANCELLED

# --- rm
nimg=$("$SDQ" show "$nid" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["images"][0])')
"$SDQ" rm "$nid" --files; rc=$?
check "rm exits 0" test $rc = 0
"$SDQ" show "$nid" >/dev/null 2>&1; rc=$?
check "rm removed the job" test $rc = 1
check "rm --files removed the image" sh -c "test -n '$nimg' && test ! -e '$nimg'"
check "rm left other images alone" is_png "$img"
"$SDQ" submit -p "[[queue=60]] live one" >"$tmp/o"; lid=$(cat "$tmp/o")
"$SDQ" rm "$lid" >/dev/null 2>"$tmp/e"; rc=$?
check "rm of a live job exits 1" test $rc = 1
"$SDQ" cancel "$lid" >/dev/null 2>&1

# --- a background driver whose history is removed exits by itself
SDQ_DATA_DIR="$tmp/data3" "$SDQ" submit -p "[[queue=120]] orphan" >/dev/null
n=0 dp=
while [ -z "$dp" ] && [ $n -lt 50 ]; do dp=$(driver_pid "$tmp/data3"); sleep 0.2; n=$((n + 1)); done
check "a background driver runs for data3" test -n "$dp"
rm -rf "$tmp/data3"
n=0
while [ -n "$dp" ] && kill -0 "$dp" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
check "it exits once its history is gone" sh -c "! kill -0 '$dp' 2>/dev/null"
[ -n "$dp" ] && kill "$dp" 2>/dev/null

# --- the man page's EXAMPLES (queue three jobs, then collect the images), verbatim
sed -n '/^Queue three jobs/,/^\.Ed$/p' man/sdq.1 | sed -n 's/^\$ //p' >"$tmp/example.sh"
check "the man page has the queue example" test "$(wc -l <"$tmp/example.sh")" = 3
(
	cd "$tmp" || exit 1
	sdq() { "$SDQ" "$@"; }
	. "$tmp/example.sh"
) >"$tmp/o" 2>"$tmp/e"; rc=$?
check "the queue example runs (exit 0)" test $rc = 0
check "it prints 3 waited paths and 1 copied" test "$(grep -c '\.png$' "$tmp/o")" = 4
check "it copied the image into out/" sh -c "ls '$tmp/out/'*.png >/dev/null 2>&1"

# --- kill -9 a waiting driver in the middle of 20 jobs
start_emu kill --queue-time 0.5 --run-time 2.5 --steps 4 --workers 4
KPORT=$PORT
printf '[core]\n\tbackground_driver = false\n' >"$tmp/nobg.conf"
export SDQ_DATA_DIR="$tmp/data2" SDQ_CONFIG="$tmp/nobg.conf" SDQ_ENDPOINT="http://127.0.0.1:$KPORT/v2/test"
ids=
i=1
while [ $i -le 19 ]; do
	ids="$ids $("$SDQ" submit -p "kill test $i")"
	i=$((i + 1))
done
check "19 jobs recorded, no driver started" sh -c "! '$SDQ' driver --status >/dev/null"
"$SDQ" submit -p "kill test 20" --wait --timeout 120 >"$tmp/kill.out" 2>"$tmp/kill.err" &
wpid=$!
bg_pids="$bg_pids $wpid"
# Kill it once every job was accepted by the endpoint and before all are done.
n=0
while [ $n -lt 300 ]; do
	sent=$(emu_stats "$KPORT" "j['ops']['run']")
	[ "${sent:-0}" -ge 20 ] && break
	sleep 0.1; n=$((n + 1))
done
sleep 0.5
done_before=$("$SDQ" ls --all --json | $PY -c 'import json,sys; print(sum(1 for x in json.load(sys.stdin) if x["state"] == "COMPLETED"))')
kill -9 "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
check "killed in the middle ($done_before of 20 done)" test "${done_before:-20}" -lt 20
all=$(head -n 1 "$tmp/kill.out")
ids="$ids $all"
"$SDQ" wait $ids >"$tmp/o" 2>"$tmp/e"; rc=$?
check "sdq wait resumes all 20 (exit 0)" test $rc = 0
check "20 image paths printed" test "$(grep -c . "$tmp/o")" = 20
"$SDQ" ls --all --json >"$tmp/o"
check "all 20 COMPLETED with an image on disk" jcheck "$tmp/o" 'len(j) == 20 and all(x["state"] == "COMPLETED" and len(x["images"]) == 1 and __import__("os").path.getsize(x["images"][0]) > 0 for x in j)'
check "none submitted twice (emulator run count == 20)" test "$(emu_stats "$KPORT" "j['ops']['run']")" = 20
check "each remote job ran once" test "$(emu_stats "$KPORT" "j['max_runs_per_input']")" = 1

# --- demo (the README example): runs a command against its own emulator
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/none.conf"
SDQ_EMULATOR="$EMU" "$SDQ" demo --keep submit -p "a red fox" --seed 7 --wait >"$tmp/o" 2>"$tmp/e"; rc=$?
check "sdq demo submit --wait exits 0" test $rc = 0
dimg=$(sed -n 2p "$tmp/o")
check "demo saved an image (kept with --keep)" is_png "$dimg"
check "demo used its own data dir" sh -c "case '$dimg' in '$tmp/data'*) false ;; *) true ;; esac"
dport=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/e" | head -n 1)
check "demo says where its emulator is" test -n "$dport"
check "demo stopped its emulator" sh -c "! $PY -c 'import socket,sys; socket.create_connection((\"127.0.0.1\", int(sys.argv[1])), 2)' '$dport' 2>/dev/null"
ddir=$(dirname "$(dirname "$(dirname "$dimg")")")
[ -n "$dimg" ] && case $ddir in */sdq-demo-*) rm -rf "$ddir" ;; esac

th_end
