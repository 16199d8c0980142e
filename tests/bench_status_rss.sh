#!/bin/sh
# bench_status_rss.sh: peak memory of the process that receives a big /status
# body. `sdq submit --wait` (it drives the job itself) against
# tests/emulator.py's "huge" worker shape (a COMPLETED output of about
# SDQ_BENCH_HUGE_MB MB, default 40, of base64 PNG), under /usr/bin/time; the
# baseline is the same command with a 64x64 image, measured in the same run.
# Prints the ratio (peak RSS - baseline peak RSS) / body size: 1.0 means the
# body costs its own size once. SDQ_BENCH_BIN_BEFORE=path adds the same
# figure for another sdq binary (e.g. one built from an older commit).
set -u
PY=/usr/bin/python3
SDQ=${SDQ_BIN:-$PWD/build/sdq}
TESTS=${SDQ_TESTS_DIR:-$PWD/tests}
MB=${SDQ_BENCH_HUGE_MB:-40}
KEY=bench-key-rss
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_rss.XXXXXX")
emu_pid=
trap '[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM

if [ ! -x /usr/bin/time ]; then
	echo "bench_status_rss: /usr/bin/time is missing; skipped"
	exit 0
fi
$PY "$TESTS/emulator.py" --port 0 --port-file "$tmp/port" --key "$KEY" --queue-time 0 \
	--run-time 0.2 --steps 1 --idle-exit 120 --max-lifetime 600 --quiet >/dev/null 2>&1 &
emu_pid=$!
n=0
while [ ! -s "$tmp/port" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
PORT=$(cat "$tmp/port" 2>/dev/null)
[ -n "$PORT" ] || { echo "bench_status_rss: the emulator did not start"; exit 1; }
export RUNPOD_API_KEY=$KEY SDQ_ENDPOINT="http://127.0.0.1:$PORT/v2/test" SDQ_CONFIG="$tmp/none"

# peak BIN PROMPT: the peak RSS in KiB of `BIN submit -p PROMPT --wait`
peak() {
	rm -rf "$tmp/data"
	# the huge shape's bytes are not a decodable image: the job FAILs after
	# the whole body was received, parsed and decoded, which is what counts
	SDQ_DATA_DIR="$tmp/data" /usr/bin/time -f '%M' -o "$tmp/rss" "$1" submit -p "$2" --wait \
		>/dev/null 2>"$tmp/err"
	tail -n 1 "$tmp/rss"
}
# body size in bytes of a huge=MB status reply
body=$($PY -c 'import json,sys,urllib.request as u
r=u.Request("http://127.0.0.1:%s/v2/test/run" % sys.argv[1], data=json.dumps({"input":{"prompt":"[[shape=huge huge=%s]]" % sys.argv[2]}}).encode(), headers={"Authorization":"Bearer " + sys.argv[3], "Content-Type":"application/json"})
jid=json.load(u.urlopen(r))["id"]
import time
for _ in range(100):
    q=u.Request("http://127.0.0.1:%s/v2/test/status/%s" % (sys.argv[1], jid), headers={"Authorization":"Bearer " + sys.argv[3]})
    b=u.urlopen(q).read()
    if b"COMPLETED" in b[:200] or len(b) > 1000000:
        print(len(b)); break
    time.sleep(0.1)' "$PORT" "$MB" "$KEY" 2>/dev/null)
[ -n "$body" ] || { echo "bench_status_rss: cannot measure the body size"; exit 1; }

report() { # report LABEL BIN
	base=$(peak "$2" "small [[size=64x64]]")
	big=$(peak "$2" "big [[shape=huge huge=$MB]]")
	$PY -c 'import sys
b, base, big = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print("%-8s body %.1f MB  peak RSS %.1f MB (baseline %.1f MB)  (peak - baseline) / body = %.2f"
      % (sys.argv[1], b / 1e6, big * 1024 / 1e6, base * 1024 / 1e6, (big - base) * 1024 / b))' \
		"$1" "$body" "$base" "$big"
}
[ -n "${SDQ_BENCH_BIN_BEFORE:-}" ] && report before "$SDQ_BENCH_BIN_BEFORE"
report now "$SDQ"
