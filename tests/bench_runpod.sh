#!/bin/sh
# bench_runpod.sh: the driver under load. 1000 jobs (BENCH_JOBS) are recorded
# with `sdq submit` (no background driver), then one `sdq driver` sends and
# polls them all against the endpoint emulator on 127.0.0.1 (short queue and
# run times, so they are all live at once). Prints, with no assertions:
#   - CPU seconds of the driver (utime+stime from /proc/PID/stat) per 1000
#     status polls, and in total;
#   - the driver's peak RSS (VmHWM);
#   - status requests per job (emulator /_emu/stats);
#   - the time from a job becoming COMPLETED on the emulator to its image file
#     on disk (file mtime), median, p99 and max;
#   - wall time from the driver's start to the last image.
set -u
PY=/usr/bin/python3
SDQ=${SDQ_BIN:-$PWD/build/sdq}
TESTS=${SDQ_TESTS_DIR:-$PWD/tests}
N=${BENCH_JOBS:-1000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_runpod.XXXXXX")
emu=
drv=
# A private copy: the shared build directory may be relinked while this runs.
cp "$SDQ" "$tmp/sdq" && SDQ="$tmp/sdq"
cleanup() {
	[ -n "$drv" ] && kill "$drv" 2>/dev/null
	[ -n "$emu" ] && kill "$emu" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

$PY "$TESTS/emulator.py" --port 0 --port-file "$tmp/port" --key bench-key --queue-time 2 \
	--run-time 3 --steps 3 --workers 1000 --idle-exit 60 --max-lifetime 1200 --quiet \
	>/dev/null 2>"$tmp/emu.err" &
emu=$!
n=0
while [ ! -s "$tmp/port" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
PORT=$(cat "$tmp/port" 2>/dev/null)
if [ -z "$PORT" ]; then
	echo "bench_runpod: the emulator did not start"
	exit 1
fi
printf '[core]\n\tbackground_driver = false\n' >"$tmp/config"
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/config" RUNPOD_API_KEY=bench-key
export SDQ_ENDPOINT="http://127.0.0.1:$PORT/v2/test"

t0=$(date +%s.%N)
i=1
while [ $i -le "$N" ]; do
	"$SDQ" submit -p "bench job $i" >/dev/null || { echo "bench_runpod: submit failed"; exit 1; }
	i=$((i + 1))
done
t1=$(date +%s.%N)
echo "jobs recorded:               $N in $($PY -c "print('%.1f' % ($t1 - $t0))") s ($($PY -c "print('%.1f' % (($t1 - $t0) * 1000 / $N))") ms per sdq submit)"

"$SDQ" driver --linger 5 2>"$tmp/driver.log" &
drv=$!
$PY - "$drv" "$PORT" "$N" "$tmp/data" "$SDQ" <<'EOF'
import json, os, statistics, subprocess, sys, time, urllib.request

pid, port, n, data, sdq = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
tick = os.sysconf("SC_CLK_TCK")
start = time.time()
cpu = hwm = 0
while True:
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, IndexError, ValueError):
        break
    if time.time() - start > 900:
        print("driver still running after 900 s; stopping it")
        os.kill(pid, 15)
        break
    time.sleep(0.1)
try:
    os.waitpid(pid, 0)
except OSError:
    pass
wall_end = time.time()

stats = json.load(urllib.request.urlopen("http://127.0.0.1:%s/_emu/stats" % port, timeout=30))
ops = stats["ops"]
jobs = json.loads(subprocess.run([sdq, "ls", "--all", "--json"], capture_output=True,
                                 text=True).stdout or "[]")
done = [j for j in jobs if j["state"] == "COMPLETED" and j["images"]]
lat = []
last_image = 0
for j in done:
    e = stats["jobs"].get(j["remote_id"] or "")
    if not e or not e.get("completed_at"):
        continue
    try:
        m = os.stat(j["images"][0]).st_mtime
    except OSError:
        continue
    last_image = max(last_image, m)
    lat.append(m - e["completed_at"])
lat.sort()

def pct(p):
    return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))] if lat else float("nan")

polls = ops.get("status", 0)
print("jobs completed with image:   %d of %d (states: %s)" % (len(done), n, ", ".join(
    "%s %d" % (s, sum(1 for j in jobs if j["state"] == s))
    for s in sorted(set(j["state"] for j in jobs)))))
print("run requests:                %d" % ops.get("run", 0))
print("status requests:             %d (%.2f per job; 429s: %d)" % (
    polls, polls / max(1, n), ops.get("limited", 0)))
print("driver CPU:                  %.2f s total, %.3f s per 1000 status polls" % (
    cpu, cpu * 1000 / max(1, polls)))
print("driver peak RSS:             %.1f MiB" % (hwm / 1024))
print("completed -> image on disk:  median %.3f s, p99 %.3f s, max %.3f s (n=%d)" % (
    pct(50), pct(99), lat[-1] if lat else float("nan"), len(lat)))
if last_image:
    print("driver start -> last image:  %.1f s" % (last_image - start))
EOF
drv=
echo "bench_runpod: done"
