#!/bin/sh
# it_stuck.sh: sdq tells the truth about a job while it is stuck, with the
# real binary against tests/emulator.py on 127.0.0.1:
# - an image that cannot be saved (the images directory is a file): `sdq
#   show` and `--json` carry "cannot save: ...; retrying every 10 s" while the
#   job is live; once the directory can be made, the job completes clean;
# - a status the endpoint invents (WARMING_UP): shown by show/ls, --wait's
#   --timeout ends the wait (exit 1), cancel works on it;
# - a PNG declaring 100000x100000 pixels: COMPLETED, saved, a warning on the
#   job, and --wait exits 1 unless another image of the job decodes.
# Every wait is bounded. Last line: "it_stuck: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_stuck
KEY=test-key-stuck-1
th_copy_sdq
drv_pid=
th_cleanup_more() { [ -n "$drv_pid" ] && kill "$drv_pid" 2>/dev/null; }

# jf ID EXPR: EXPR (Python, the job's show --json as j)
jf() { "$SDQ" show "$1" --json 2>/dev/null | $PY -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$2" 2>/dev/null; }
state_is() { [ "$(jf "$1" 'j["state"]')" = "$2" ]; }
error_has() { jf "$1" 'j.get("error") or ""' | grep -q -- "$2"; }

th_emu emu --queue-time 0.2 --run-time 0.3 \
	--steps 2 --idle-exit 120 --max-lifetime 590 --quiet
check "emulator started" test -n "$PORT"
printf '[core]\n\tbackground_driver = false\n' >"$tmp/conf"
export RUNPOD_API_KEY=$KEY SDQ_ENDPOINT="http://127.0.0.1:$PORT/v2/test"
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/conf"

# --- an image that cannot be saved
mkdir -p "$tmp/data"
: >"$tmp/data/images" # a file where the images directory should be
id=$("$SDQ" submit -p "cannot save me" 2>/dev/null)
"$SDQ" driver >"$tmp/driver.log" 2>&1 &
drv_pid=$!
check "the save failure is on the job" wait_for error_has "$id" "cannot save: image 1: "
check "with its retry period" error_has "$id" "retrying every 10 s"
check "the job stays live meanwhile" sh -c "state=\$('$SDQ' show '$id' --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])'); test \$state = IN_PROGRESS || test \$state = IN_QUEUE"
"$SDQ" show "$id" >"$tmp/o" 2>/dev/null
check "sdq show prints it" grep -q "cannot save: image 1: " "$tmp/o"
rm -f "$tmp/data/images"
check "once it can be saved, it completes" wait_for state_is "$id" COMPLETED
check "and the complaint is gone" test "$(jf "$id" 'j.get("error")')" = None
kill "$drv_pid" 2>/dev/null
wait "$drv_pid" 2>/dev/null
drv_pid=

# --- a status the endpoint invents
"$SDQ" submit -p "strange [[weird queue=300]]" --wait --timeout 4 >"$tmp/o" 2>"$tmp/e"; rc=$?
id=$(head -n 1 "$tmp/o")
check "--wait --timeout ends on an invented status (exit 1)" test $rc = 1
check "saying it timed out" grep -q "timed out" "$tmp/e"
check "the status is kept verbatim" test "$(jf "$id" 'j.get("status_text")')" = WARMING_UP
"$SDQ" show "$id" >"$tmp/o" 2>/dev/null
check "sdq show names it" grep -q WARMING_UP "$tmp/o"
"$SDQ" cancel "$id" >/dev/null 2>&1
"$SDQ" driver >"$tmp/driver.log" 2>&1 &
drv_pid=$!
check "cancel works on it" wait_for state_is "$id" CANCELLED
kill "$drv_pid" 2>/dev/null
wait "$drv_pid" 2>/dev/null
drv_pid=

# --- a PNG declaring 100000x100000 pixels
"$SDQ" submit -p "giant [[declare=100000x100000]]" --wait >"$tmp/o" 2>"$tmp/e"; rc=$?
id=$("$SDQ" ls --json --limit 1 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "--wait exits 1 when no image decodes" test $rc = 1
check "saying why" grep -q "without an image sdq can decode" "$tmp/e"
check "the job is COMPLETED" state_is "$id" COMPLETED
check "with a warning naming the size" error_has "$id" "declares 100000x100000 pixels"
check "the image is saved as sent" test -s "$(jf "$id" 'j["outputs"][0]["path"]')"
"$SDQ" submit -p "one giant of two [[declare=100000x100000 count=2]]" --wait >"$tmp/o" 2>"$tmp/e"; rc=$?
id=$("$SDQ" ls --json --limit 1 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "one decodable image of two: exit 0" test $rc = 0
check "both paths printed" test "$(grep -c '\.png$' "$tmp/o")" = 2
check "the warning names image 1" error_has "$id" "image 1 declares 100000x100000"

th_end
