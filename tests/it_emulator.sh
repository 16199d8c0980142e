#!/bin/sh
# it_emulator.sh: self-test of the endpoint emulator (tests/emulator.py) with
# curl: lifecycle, auth, health, output shapes, scripted faults, stats,
# shutdown. Other tests script against the emulator, so its behaviour is pinned
# here. Bounded loops only; ends with "it_emulator: N passed, N failed".
set -u
PY=/usr/bin/python3
TESTS=${SDQ_TESTS_DIR:-tests}
EMU="$TESTS/emulator.py"
KEY=test-key-123
tmp=$(mktemp -d "${TMPDIR:-/tmp}/it_emulator.XXXXXX")
pass=0 fail=0
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
	d=$1; shift
	if "$@"; then ok; else bad "$d"; fi
}
# jget FILE EXPR: evaluate a Python expression on the JSON in FILE (as j)
jget() { $PY -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }

$PY "$EMU" --port 0 --port-file "$tmp/port" --key "$KEY" --queue-time 0.3 --run-time 2 \
	--steps 4 --idle-exit 30 --max-lifetime 300 --log "$tmp/log" --quiet >"$tmp/out" 2>"$tmp/err" &
pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
P=$(cat "$tmp/port" 2>/dev/null)
check "port file written" test -n "$P"
check "PORT line printed" grep -q "^PORT $P\$" "$tmp/out"
B=http://127.0.0.1:$P/v2/test
E=http://127.0.0.1:$P/_emu
AUTH="Authorization: Bearer $KEY"

code() { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }
run() { # run PROMPT -> prints job id
	printf '{"input":{"prompt":"%s","width":48,"height":40}}' "$1" >"$tmp/req"
	curl -s -H "$AUTH" -H 'Content-Type: application/json' --data-binary @"$tmp/req" "$B/run" >"$tmp/run"
	jget "$tmp/run" 'j["id"]'
}
wait_terminal() { # wait_terminal ID -> status body in $tmp/st, prints status
	n=0 s=
	while [ $n -lt 100 ]; do
		curl -s -H "$AUTH" "$B/status/$1" >"$tmp/st"
		s=$(jget "$tmp/st" 'j["status"]')
		case $s in COMPLETED|FAILED|CANCELLED|TIMED_OUT) break ;; esac
		sleep 0.1; n=$((n + 1))
	done
	echo "$s"
}

# auth
check "401 without key" test "$(code "$B/health")" = 401
check "401 with wrong key" test "$(code -H 'Authorization: Bearer nope' "$B/health")" = 401
check "bare key accepted" test "$(code -H "Authorization: $KEY" "$B/health")" = 200
check "unknown endpoint 404" test "$(code -H "$AUTH" "http://127.0.0.1:$P/v2/other/health")" = 404

# lifecycle
id=$(run "a red fox")
check "run gives an id" test -n "$id"
check "run says IN_QUEUE" test "$(jget "$tmp/run" 'j["status"]')" = IN_QUEUE
# run-time 2 s: a loaded machine's polls (curl + python each) still see
# IN_PROGRESS; the loop is bounded (300 polls).
seen_prog=0 n=0
while [ $n -lt 300 ]; do
	curl -s -H "$AUTH" "$B/status/$id" >"$tmp/st"
	s=$(jget "$tmp/st" 'j["status"]')
	[ "$s" = IN_PROGRESS ] && [ -n "$(jget "$tmp/st" 'j.get("output","")')" ] && seen_prog=1
	[ "$s" = COMPLETED ] && break
	sleep 0.05; n=$((n + 1))
done
check "reached COMPLETED" test "$s" = COMPLETED
check "progress seen while IN_PROGRESS" test $seen_prog = 1
check "sdxl shape: data URI, image_url" test "$(jget "$tmp/st" 'j["output"]["images"][0][:22] == "data:image/png;base64," and j["output"]["image_url"] == j["output"]["images"][0]')" = True
$PY -c 'import json,sys,base64; j=json.load(open(sys.argv[1])); open(sys.argv[2],"wb").write(base64.b64decode(j["output"]["images"][0].split(",",1)[1]))' "$tmp/st" "$tmp/img.png"
check "image is a 48x40 PNG" test "$(identify -format '%m %wx%h' "$tmp/img.png" 2>/dev/null || $PY -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); print("PNG %dx%d" % struct.unpack(">II", d[16:24]))' "$tmp/img.png")" = "PNG 48x40"
check "delayTime/executionTime present" test "$(jget "$tmp/st" '"delayTime" in j and "executionTime" in j and "workerId" in j')" = True

# health
curl -s -H "$AUTH" "$B/health" >"$tmp/h"
check "health counts completed" test "$(jget "$tmp/h" 'j["jobs"]["completed"]')" = 1
check "health has worker counters" test "$(jget "$tmp/h" 'sorted(j["workers"])')" = "['idle', 'initializing', 'ready', 'running', 'throttled', 'unhealthy']"

# shapes
for sh in sd15 sdxl_turbo a1111 comfyui comfyui_url comfy_old comfy_old_error url nested noimage nooutput badb64 jpeg string list; do
	id=$(run "shape test [[shape=$sh queue=0 run=0]]")
	st=$(wait_terminal "$id")
	check "shape $sh completes" test "$st" = COMPLETED
	case $sh in
	sd15) check "sd15 list" test "$(jget "$tmp/st" 'type(j["output"]).__name__ + str(j["output"][0]["image"][:8])')" = "listiVBORw0K" ;;
	sdxl_turbo) check "turbo" test "$(jget "$tmp/st" 'j["output"]["images"][0]["image"][:8]')" = iVBORw0K ;;
	a1111) check "a1111 info string" test "$(jget "$tmp/st" 'type(j["output"]["info"]).__name__')" = str ;;
	comfyui) check "comfyui type base64" test "$(jget "$tmp/st" 'j["output"]["images"][0]["type"]')" = base64 ;;
	comfyui_url)
		u=$(jget "$tmp/st" 'j["output"]["images"][0]["data"]')
		check "comfyui_url serves a PNG" test "$(curl -s "$u" | head -c 4 | tail -c 3)" = PNG ;;
	comfy_old) check "comfy_old" test "$(jget "$tmp/st" 'j["output"]["status"]')" = success ;;
	comfy_old_error) check "comfy_old_error" test "$(jget "$tmp/st" 'j["output"]["status"]')" = error ;;
	url)
		u=$(jget "$tmp/st" 'j["output"]["image_url"]')
		check "url image fetchable" test "$(code "$u")" = 200 ;;
	noimage) check "noimage text" test "$(jget "$tmp/st" 'j["output"]["text"]')" = hello ;;
	nooutput) check "nooutput has no output" test "$(jget "$tmp/st" '"output" in j')" = False ;;
	jpeg)
		$PY -c 'import json,sys,base64; j=json.load(open(sys.argv[1])); open(sys.argv[2],"wb").write(base64.b64decode(j["output"][0]["image"]))' "$tmp/st" "$tmp/img.jpg"
		if command -v identify >/dev/null; then
			check "jpeg decodes" test "$(identify -format '%m %wx%h' "$tmp/img.jpg" 2>/dev/null)" = "JPEG 48x40"
		else
			check "jpeg magic" test "$(head -c 2 "$tmp/img.jpg" | od -An -tx1 | tr -d ' ')" = ffd8
		fi ;;
	esac
done

# faults
id=$(run "boom [[fail=json queue=0 run=0]]")
check "fail=json -> FAILED" test "$(wait_terminal "$id")" = FAILED
check "fail=json error is a JSON string" test "$(jget "$tmp/st" 'json.loads(j["error"])["error_type"][:6]')" = "<class"
check "retry FAILED -> 200" test "$(code -X POST -H "$AUTH" "$B/retry/$id")" = 200
check "retried job completes" test "$(wait_terminal "$id")" = COMPLETED
check "retry COMPLETED -> 400" test "$(code -X POST -H "$AUTH" "$B/retry/$id")" = 400
id=$(run "slowpoke [[timeout queue=0 run=0]]")
check "timeout -> TIMED_OUT" test "$(wait_terminal "$id")" = TIMED_OUT
id=$(run "flaky [[http429=2 http500=1 reset=1 queue=0 run=0]]")
check "http429 #1" test "$(code -H "$AUTH" "$B/status/$id")" = 429
check "http429 #2 with Retry-After" test "$(curl -s -D - -o /dev/null -H "$AUTH" "$B/status/$id" | grep -ci '^retry-after: 1')" = 1
check "http500" test "$(code -H "$AUTH" "$B/status/$id")" = 500
check "reset: no reply" test "$(code -H "$AUTH" "$B/status/$id")" = 000
check "then 200" test "$(code -H "$AUTH" "$B/status/$id")" = 200
id=$(run "trunc [[truncated nonjson queue=0 run=0]]")
code -H "$AUTH" "$B/status/$id" >/dev/null
check "truncated body is not JSON" test -z "$(jget "$tmp/body" 'j["status"]')"
code -H "$AUTH" "$B/status/$id" >/dev/null
check "nonjson body is html" grep -q '<html>' "$tmp/body"
check "third reply is good JSON" test -n "$(code -H "$AUTH" "$B/status/$id" >/dev/null; jget "$tmp/body" 'j["status"]')"
id=$(run "gone [[expire=0.2 queue=0 run=0]]")
wait_terminal "$id" >/dev/null
n=0 c=
while [ $n -lt 100 ]; do # expires 0.2 s after completing: poll (bounded)
	c=$(code -H "$AUTH" "$B/status/$id")
	[ "$c" = 200 ] || break
	sleep 0.05; n=$((n + 1))
done
check "expire -> 404" test "$c" = 404
id=$(run "cancel me [[queue=30]]")
check "cancel -> CANCELLED" test "$(curl -s -X POST -H "$AUTH" "$B/cancel/$id" | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = CANCELLED
id=$(run "w [[weird status=RUNNING queue=2 run=30]]")
check "weird -> WARMING_UP" test "$(curl -s -H "$AUTH" "$B/status/$id" | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = WARMING_UP
# then RUNNING once queued 2 s: poll for it (bounded) rather than sleep
n=0
while [ $n -lt 200 ]; do
	s=$(curl -s -H "$AUTH" "$B/status/$id" | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"])')
	[ "$s" = WARMING_UP ] || break
	sleep 0.05; n=$((n + 1))
done
check "status=RUNNING" test "$s" = RUNNING
curl -s -X POST -H "$AUTH" "$B/cancel/$id" >/dev/null
id=$(run "q1 [[queue=30]]"); id2=$(run "q2 [[queue=30]]")
check "purge-queue removes 2" test "$(curl -s -X POST -H "$AUTH" "$B/purge-queue")" = '{"removed": 2, "status": "completed"}'
printf '{"input":{"prompt":"sync [[queue=0 run=0.2]]"}}' >"$tmp/req"
curl -s -H "$AUTH" --data-binary @"$tmp/req" "$B/runsync?wait=5000" >"$tmp/rs"
check "runsync completes" test "$(jget "$tmp/rs" 'j["status"] + j["id"][:5]')" = COMPLETEDsync-
printf '{"input":{"prompt":"sync2 [[queue=5]]"}}' >"$tmp/req"
curl -s -H "$AUTH" --data-binary @"$tmp/req" "$B/runsync?wait=200" >"$tmp/rs"
check "runsync not done: IN_QUEUE with id" test "$(jget "$tmp/rs" 'j["status"]')" = IN_QUEUE
printf '{"input":{"prompt":"r5 [[run500=1]]"}}' >"$tmp/req"
check "run500 first" test "$(code -H "$AUTH" --data-binary @"$tmp/req" "$B/run")" = 500
check "run500 then ok" test "$(code -H "$AUTH" --data-binary @"$tmp/req" "$B/run")" = 200
check "bad body 400" test "$(code -H "$AUTH" --data-binary 'nope' "$B/run")" = 400

# stats and control
curl -s "$E/stats" >"$tmp/stats"
check "stats counts runs" test "$(jget "$tmp/stats" 'j["ops"]["run"]')" -ge 25
check "stats counts 401s" test "$(jget "$tmp/stats" 'j["ops"]["unauthorized"]')" = 2
check "stats per prompt" test "$(jget "$tmp/stats" 'j["runs_by_prompt"]["a red fox"]')" = 1
check "stats duplicate input" test "$(jget "$tmp/stats" 'j["duplicate_inputs"]')" = 1
check "stats completed_at" test "$(jget "$tmp/stats" 'all(v["completed_at"] is None or v["completed_at"] >= v["created_at"] for v in j["jobs"].values()) and any(v["completed_at"] for v in j["jobs"].values())')" = True
check "set rate limit" test "$(code -X POST --data-binary '{"rate_limit": 1}' "$E/set")" = 200
c1=$(code -H "$AUTH" "$B/status/$id"); c2=$(code -H "$AUTH" "$B/status/$id"); c3=$(code -H "$AUTH" "$B/status/$id")
check "rate limit gives 429" test "$c1$c2$c3" != 200200200
# stream, chunked bodies, status-sync, jobs list
check "rate limit off again" test "$(code -X POST --data-binary '{"rate_limit": 0}' "$E/set")" = 200
# RunPod's documented limits: purge-queue is 2 per 10 s
check "set runpod limits" test "$(code -X POST --data-binary '{"runpod_limits": true}' "$E/set")" = 200
p1=$(code -X POST -H "$AUTH" "$B/purge-queue"); p2=$(code -X POST -H "$AUTH" "$B/purge-queue")
p3=$(code -X POST -H "$AUTH" "$B/purge-queue")
# (the purge above may be in the same 10 s)
check "purge-queue beyond 2 in 10 s is refused" test "$p1$p3" = 200429
curl -s "$E/stats" >"$tmp/stats"
check "stats: busiest 10 s per operation" test "$(jget "$tmp/stats" 'j["window_max"]["purge"] >= 3')" = True
check "stats: refusals per operation" test "$(jget "$tmp/stats" 'j["limited_by_op"]["purge"] >= 1')" = True
check "stats: most in flight" test "$(jget "$tmp/stats" 'j["concurrent_max"]["status"] >= 1')" = True
check "runpod limits off again" test "$(code -X POST --data-binary '{"runpod_limits": false}' "$E/set")" = 200
id=$(run "streamed [[queue=0 run=2 steps=4 progress=dict]]")
curl -s -H "$AUTH" "$B/stream/$id" >"$tmp/s1"
check "stream gives progress chunks" test "$(jget "$tmp/s1" 'j["status"] == "IN_PROGRESS" and len(j["stream"]) >= 1 and "progress" in j["stream"][0]["output"]')" = True
# poll the stream until the job is over (bounded); the last answer carries the output
n=0
while [ $n -lt 200 ]; do
	curl -s -H "$AUTH" "$B/stream/$id" >"$tmp/s2"
	[ "$(jget "$tmp/s2" 'j["status"]')" = IN_PROGRESS ] || break
	sleep 0.05; n=$((n + 1))
done
check "stream ends with the output" test "$(jget "$tmp/s2" 'j["status"] == "COMPLETED" and "images" in j["stream"][-1]["output"]')" = True
check "chunked request body" test "$(curl -s -H "$AUTH" -H 'Transfer-Encoding: chunked' --data-binary '{"input":{"prompt":"chunky"}}' "$B/run" | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = IN_QUEUE
id=$(run "ss [[queue=0 run=0.2]]")
curl -s -H "$AUTH" "$B/status-sync/$id?wait=5000" >"$tmp/ss"
check "status-sync waits for the end" test "$(jget "$tmp/ss" 'j["status"]')" = COMPLETED
curl -s "$E/jobs" >"$tmp/jobs"
check "jobs list has inputs" test "$(jget "$tmp/jobs" 'any(x["input"]["prompt"] == "chunky" for x in j)')" = True
check "reset" test "$(code -X POST "$E/reset")" = 200
check "reset forgot the jobs" test "$(curl -s "$E/jobs")" = "[]"
check "set concurrency 1" test "$(code -X POST --data-binary '{"concurrency": 1}' "$E/set")" = 200
c1=$(run "first [[queue=0 run=5]]"); c2=$(run "second [[queue=0 run=5]]")
n=0 # until the first runs (at most 100 x 0.05 s), then the same check as ever
while [ "$(curl -s -H "$AUTH" "$B/status/$c1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null)" != IN_PROGRESS ] &&
	[ $n -lt 100 ]; do
	sleep 0.05; n=$((n + 1))
done
s1=$(curl -s -H "$AUTH" "$B/status/$c1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"])')
s2=$(curl -s -H "$AUTH" "$B/status/$c2" | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"])')
check "concurrency 1: one runs, one waits" test "$s1 $s2" = "IN_PROGRESS IN_QUEUE"
curl -s -H "$AUTH" "$B/health" >"$tmp/h"
check "health: 1 running, 1 queued" test "$(jget "$tmp/h" '(j["jobs"]["inProgress"], j["jobs"]["inQueue"], j["workers"]["running"])')" = "(1, 1, 1)"
curl -s -X POST -H "$AUTH" "$B/cancel/$c1" >/dev/null; curl -s -X POST -H "$AUTH" "$B/cancel/$c2" >/dev/null
check "log written without key" sh -c "test -s '$tmp/log' && ! grep -q '$KEY' '$tmp/log'"
check "shutdown" test "$(code -X POST "$E/shutdown")" = 200
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid" 2>/dev/null; then bad "emulator did not exit"; else ok; pid=; fi

# idle exit
$PY "$EMU" --port 0 --idle-exit 0.5 --quiet >"$tmp/out2" &
pid=$!
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid" 2>/dev/null; then bad "idle exit"; else ok; pid=; fi

echo "it_emulator: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
