#!/bin/sh
# bench_dashboard.sh: the dashboard under load (issue 12). 1000 live jobs
# (BENCH_DASH_JOBS) running on tests/emulator.py with progress, the dashboard
# on a 120x40 pty driving and watching them; the baseline, in the same run, is
# the same dashboard over the same 1000 jobs finished (nothing to drive).
# Prints, with no assertions:
#   - key -> frame: Ctrl-L (a full repaint) 100 times, from the key written to
#     the end of the answering burst (the pty quiet for 5 ms), median and p99,
#     live against the baseline;
#   - bytes written to the tty per second while progress and elapsed times
#     move, and per changed row (every visible live row changes at least once
#     a second: its elapsed time), against the 200 B target.
# BENCH_DASH_GROUP=N puts the jobs in groups of N (one row each in the table,
# with their counts), in both runs.
set -u
PY=/usr/bin/python3
SDQ=${SDQ_BIN:-$PWD/build/sdq}
TESTS=${SDQ_TESTS_DIR:-$PWD/tests}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_dashboard.XXXXXX")
emu=
cp "$SDQ" "$tmp/sdq" && SDQ="$tmp/sdq"
cleanup() {
	[ -n "$emu" ] && kill "$emu" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

$PY "$TESTS/emulator.py" --port 0 --port-file "$tmp/port" --key bench-key --workers 2000 \
	--idle-exit 120 --max-lifetime 600 --quiet >/dev/null 2>"$tmp/emu.err" &
emu=$!
n=0
while [ ! -s "$tmp/port" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
PORT=$(cat "$tmp/port" 2>/dev/null)
if [ -z "$PORT" ]; then
	echo "bench_dashboard: the emulator did not start"
	exit 1
fi
$PY - "$PORT" "$SDQ" "$tmp" "${BENCH_DASH_JOBS:-1000}" "${BENCH_DASH_GROUP:-0}" <<'EOF'
import os, pty, select, signal, sqlite3, struct, subprocess, sys, termios, fcntl, time

port, sdq, tmp, n_jobs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
group = int(sys.argv[5])
data = os.path.join(tmp, "data")
cfg = os.path.join(tmp, "config")
with open(cfg, "w") as f:
    f.write("[core]\n\tbackground_driver = false\n")
env = dict(os.environ, SDQ_DATA_DIR=data, SDQ_CONFIG=cfg, RUNPOD_API_KEY="bench-key",
           SDQ_ENDPOINT="http://127.0.0.1:%s/v2/test" % port, TERM="xterm-256color",
           LANG="C.UTF-8", SDQ_GRAPHICS="none")


def make_history(data, live):
    """One job through sdq, copied n-1 times in one transaction (1000 `sdq
    submit` would take longer than the measurement); finished ones are
    COMPLETED rows."""
    e = dict(env, SDQ_DATA_DIR=data)
    subprocess.run([sdq, "submit", "-p", "load [[queue=0.5 run=90 steps=90]]"], env=e,
                   check=True, stdout=subprocess.DEVNULL)
    db = sqlite3.connect(os.path.join(data, "history.db"))
    cols = [r[1] for r in db.execute("PRAGMA table_info(jobs)") if r[1] != "id"]
    with db:
        if not live:
            db.execute("UPDATE jobs SET state='COMPLETED', remote_id='done-1' WHERE id=1")
        for _ in range(n_jobs - 1):
            db.execute("INSERT INTO jobs(%s) SELECT %s FROM jobs WHERE id=1" %
                       (",".join(cols), ",".join(cols)))
        if group > 0:
            for g in range((n_jobs + group - 1) // group):
                db.execute("INSERT INTO job_groups(prompt, njobs) VALUES ('load', ?)", (group,))
            db.execute("UPDATE jobs SET group_id = (id - 1) / ? + 1, variant = "
                       "'{\"seed\":' || id || '}'", (group,))
    db.close()


chunks = []  # (time, bytes)
fd = pid = None


def start(data):
    global fd, pid
    p, f = pty.fork()
    if p == 0:
        os.execve(sdq, [sdq], dict(env, SDQ_DATA_DIR=data))
    pid, fd = p, f
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    os.kill(pid, signal.SIGWINCH)


def stop():
    os.kill(pid, signal.SIGTERM)
    read_for(1.0)
    os.waitpid(pid, 0)
    os.close(fd)


def read_for(t, until=None):
    """Read the pty for t seconds (or until until(buf) is true)."""
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
        if not r:
            continue
        try:
            b = os.read(fd, 1 << 16)
        except OSError:
            return
        chunks.append((time.time(), b))
        if until and until(b):
            return


def frame_after(key):
    """Seconds from writing key to the end of the burst that answers it."""
    read_for(0.05)
    t0 = time.time()
    os.write(fd, key)
    first = None
    while time.time() - t0 < 5:
        r, _, _ = select.select([fd], [], [], 0.005)
        if r:
            b = os.read(fd, 1 << 16)
            chunks.append((time.time(), b))
            if first is None and b"\x1b[2J" in b:
                first = time.time()
        elif first is not None:
            return time.time() - 0.005 - t0
    return float("nan")


def keys_ms(n):
    ks = sorted(frame_after(b"\x0c") for _ in range(n))
    ks = [k * 1000 for k in ks if k == k]
    if not ks:
        return float("nan"), float("nan"), 0
    return ks[len(ks) // 2], ks[min(len(ks) - 1, int(round(0.99 * (len(ks) - 1))))], len(ks)


base_data = os.path.join(tmp, "base")
make_history(base_data, False)
start(base_data)
try:
    read_for(3.0)
    b_med, b_p99, b_n = keys_ms(100)
finally:
    stop()
make_history(data, True)
chunks = []
start(data)
try:
    read_for(25.0)  # sent, running, progress arriving
    n0 = sum(len(b) for _, b in chunks)
    t0 = time.time()
    read_for(10.0)
    rate = (sum(len(b) for _, b in chunks) - n0) / (time.time() - t0)
    med, p99, n = keys_ms(100)
finally:
    stop()
rows = 40 - 6  # visible table rows on a 40-line screen (less the frame)
print("%d live jobs%s on a 120x40 dashboard (driving and watching them), against the same "
      "dashboard over %d finished jobs, one run:"
      % (n_jobs, " in groups of %d" % group if group else "", n_jobs))
print("  %-36s %9s %9s %7s" % ("", "live", "baseline", "ratio"))
for name, a, b in (("key -> frame, median (ms)", med, b_med), ("key -> frame, p99 (ms)", p99, b_p99)):
    print("  %-36s %9.1f %9.1f %6.2fx" % (name, a, b, a / b if b else float("nan")))
print("  (Ctrl-L, a full repaint, %d and %d times; target: p99 < 16 ms with 1000 live jobs)"
      % (n, b_n))
print("  bytes to the tty while jobs move:     %.0f B/s, %.0f B per changed row "
      "(%d rows, each changing once a second; target < 200 B)" % (rate, rate / rows, rows))
EOF
# Key -> frame while the selection moves across big images (issue 11): 8
# finished jobs, each with a 1024x1024 noise PNG (about 3 MB, as slow to
# decode as a real one), the dashboard told it has sixel; Down/Up across them,
# each key sent 110 ms after the last frame ended: just after the pane's idle
# delay (100 ms), when the image of the selection is being decoded. The
# baseline, in the same run, is the same dashboard and keys with
# SDQ_GRAPHICS=none (nothing decoded). Also prints the time from a key to the
# first sixel byte of an image not decoded before.
$PY - "$SDQ" "$tmp" "${BENCH_DASH_IMAGES:-8}" <<'EOF'
import fcntl, os, pty, select, signal, sqlite3, struct, subprocess, sys, termios, time, zlib

sdq, tmp, n_img = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = os.path.join(tmp, "images-data")
cfg = os.path.join(tmp, "images-config")
with open(cfg, "w") as f:
    f.write("[core]\n\tbackground_driver = false\n")
env = dict(os.environ, SDQ_DATA_DIR=data, SDQ_CONFIG=cfg, RUNPOD_API_KEY="bench-key",
           SDQ_ENDPOINT="http://127.0.0.1:9/v2/bench", TERM="xterm-256color", LANG="C.UTF-8")


def png(path, w, h):
    """An RGB PNG of noise: incompressible, so as big and slow as a photo."""
    noise = os.urandom(w * h * 3)
    raw = b"".join(b"\0" + noise[y * w * 3:(y + 1) * w * 3] for y in range(h))

    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


subprocess.run([sdq, "submit", "-p", "big image"], env=env, check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
imgdir = os.path.join(tmp, "big")
os.makedirs(imgdir, exist_ok=True)
db = sqlite3.connect(os.path.join(data, "history.db"))
cols = [r[1] for r in db.execute("PRAGMA table_info(jobs)") if r[1] != "id"]
size = 0
with db:
    db.execute("UPDATE jobs SET state='COMPLETED', remote_id='done-1' WHERE id=1")
    for _ in range(n_img - 1):
        db.execute("INSERT INTO jobs(%s) SELECT %s FROM jobs WHERE id=1" %
                   (",".join(cols), ",".join(cols)))
    for i in range(1, n_img + 1):
        p = os.path.join(imgdir, "big%d.png" % i)
        png(p, 1024, 1024)
        size = os.path.getsize(p)
        db.execute("INSERT INTO outputs(job_id, idx, path, width, height, seed, format, bytes) "
                   "VALUES (?, 0, ?, 1024, 1024, 1, 'png', ?)", (i, p, size))
db.close()

fd = pid = None


def start(graphics):
    global fd, pid
    p, f = pty.fork()
    if p == 0:
        os.execve(sdq, [sdq], dict(env, SDQ_GRAPHICS=graphics))
    pid, fd = p, f
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 120 * 8, 40 * 17))
    os.kill(pid, signal.SIGWINCH)


def stop():
    os.kill(pid, signal.SIGTERM)
    drain(1.0)
    os.waitpid(pid, 0)
    os.close(fd)


def drain(t):
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
        if r:
            try:
                os.read(fd, 1 << 16)
            except OSError:
                return


def answer(key):
    """Seconds from key to the end of the burst that answers it (the pty
    quiet for 5 ms)."""
    t0 = time.time()
    os.write(fd, key)
    first = None
    while time.time() - t0 < 5:
        r, _, _ = select.select([fd], [], [], 0.005)
        if r:
            os.read(fd, 1 << 16)
            if first is None:
                first = time.time()
        elif first is not None:
            return time.time() - 0.005 - t0
    return float("nan")


def run(graphics, moves):
    start(graphics)
    lat, img = [], []
    try:
        drain(3.0)
        # key -> the first sixel byte of an image not decoded before
        for i in range(3 if graphics == "sixel" else 0):
            t0 = time.time()
            os.write(fd, b"j")
            while time.time() - t0 < 5:
                r, _, _ = select.select([fd], [], [], 0.05)
                if r and b"\x1bP" in os.read(fd, 1 << 16):
                    img.append((time.time() - t0) * 1000)
                    break
            drain(0.5)
        os.write(fd, b"g")
        drain(0.5)
        for i in range(moves):
            down = (i // (n_img - 1)) % 2 == 0
            lat.append(answer(b"j" if down else b"k") * 1000)
            time.sleep(0.110)  # the idle delay is over: the decode runs now
    finally:
        stop()
    lat = sorted(x for x in lat if x == x)
    med = lat[len(lat) // 2] if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))] if lat else float("nan")
    img.sort()
    return med, p99, len(lat), (img[len(img) // 2] if img else float("nan"))


moves = int(os.environ.get("BENCH_DASH_MOVES", "42"))
b_med, b_p99, b_n, _ = run("none", moves)
med, p99, n, img = run("sixel", moves)
print("moving the selection across %d jobs with %d KB images (1024x1024), sixel, "
      "against the same keys with SDQ_GRAPHICS=none, one run:" % (n_img, size // 1024))
print("  %-36s %9s %9s %7s" % ("", "sixel", "baseline", "ratio"))
for name, a, b in (("key -> frame, median (ms)", med, b_med), ("key -> frame, p99 (ms)", p99, b_p99)):
    print("  %-36s %9.1f %9.1f %6.2fx" % (name, a, b, a / b if b else float("nan")))
print("  (each key 110 ms after the last frame, when the last image decodes; %d and %d keys)"
      % (n, b_n))
print("  key -> first sixel byte of an image not seen before, median of 3: %.0f ms "
      "(100 ms idle delay + decode)" % img)
EOF
echo "bench_dashboard: done"
