#!/bin/sh
# bench_groupact.sh: acting on a big group from the dashboard (1000 jobs,
# BENCH_GROUPACT_JOBS, in one group on tests/emulator.py, a 120x40 pty):
#   - c y on the group's row while another process holds the jobs' key lock
#     (their driver: the jobs wait, unsent): y -> "cancelling N jobs";
#   - r y on it while an external `sdq driver` drives them: y -> "re-run as";
#   - compose N jobs (Seeds N) and y, with that driver: y -> "jobs submitted";
#   - Ctrl-L -> repaint, the worst of 20, while the key lock is held elsewhere
#     (the driver's scans of the store try that lock).
# Each against the same dashboard's Ctrl-L -> repaint (median of 20) in the
# same run. Prints figures, no assertions. Before the one-commit group
# actions (engine_cancel_many, engine_submit_many) c y and r y each took
# 10-13 s for 1430 jobs.
set -u
PY=/usr/bin/python3
SDQ=${SDQ_BIN:-$PWD/build/sdq}
TESTS=${SDQ_TESTS_DIR:-$PWD/tests}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_groupact.XXXXXX")
cp "$SDQ" "$tmp/sdq" && SDQ="$tmp/sdq"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
$PY - "$SDQ" "$TESTS/emulator.py" "$tmp" "${BENCH_GROUPACT_JOBS:-1000}" <<'PYEOF'
import fcntl, os, pty, select, signal, sqlite3, struct, subprocess, sys, termios, time

sdq, emu_py, tmp, n_jobs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
procs = []


def start_emu(name):
    pf = os.path.join(tmp, name + ".port")
    p = subprocess.Popen([sys.executable, emu_py, "--port", "0", "--port-file", pf, "--key",
                          "bench-key", "--workers", str(n_jobs * 3), "--idle-exit", "120",
                          "--max-lifetime", "600", "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    for _ in range(100):
        if os.path.exists(pf) and open(pf).read().strip():
            return open(pf).read().strip()
        time.sleep(0.1)
    raise SystemExit("bench_groupact: the emulator did not start")


def history(name, port):
    """A group of n_jobs live jobs: one through sdq, copied in one
    transaction (n `sdq submit` would take longer than the measurement)."""
    data = os.path.join(tmp, name)
    cfg = os.path.join(tmp, name + ".config")
    with open(cfg, "w") as f:
        f.write("[core]\n\tbackground_driver = false\n")
    env = dict(os.environ, SDQ_DATA_DIR=data, SDQ_CONFIG=cfg, RUNPOD_API_KEY="bench-key",
               SDQ_ENDPOINT="http://127.0.0.1:%s/v2/test" % port, TERM="xterm-256color",
               LANG="C.UTF-8", SDQ_GRAPHICS="none")
    subprocess.run([sdq, "submit", "-p", "load [[queue=0.5 run=300 steps=300]]"], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    db = sqlite3.connect(os.path.join(data, "history.db"))
    cols = [r[1] for r in db.execute("PRAGMA table_info(jobs)") if r[1] != "id"]
    with db:
        for _ in range(n_jobs - 1):
            db.execute("INSERT INTO jobs(%s) SELECT %s FROM jobs WHERE id=1" %
                       (",".join(cols), ",".join(cols)))
        db.execute("INSERT INTO job_groups(prompt, njobs) VALUES ('load', ?)", (n_jobs,))
        db.execute("UPDATE jobs SET group_id = 1, variant = '{\"seed\":' || id || '}'")
    fp = db.execute("SELECT key_fp FROM jobs WHERE id=1").fetchone()[0]
    db.close()
    return data, env, fp


def live(data):
    d = sqlite3.connect(os.path.join(data, "history.db"))
    n = d.execute("SELECT count(*) FROM jobs WHERE state IN ('PENDING','SUBMITTING')").fetchone()[0]
    d.close()
    return n


class Dash:
    def __init__(self, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(sdq, [sdq], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.kill(self.pid, signal.SIGWINCH)
        self.buf = bytearray()
        self.read(3.0)

    def read(self, t, until=None):
        end = time.time() + t
        while time.time() < end:
            r, _, _ = select.select([self.fd], [], [], max(0.0, end - time.time()))
            if r:
                try:
                    self.buf.extend(os.read(self.fd, 1 << 16))
                except OSError:
                    return False
                if until and until in self.buf:
                    return True
        return False

    def answer(self, key, want, limit=60.0):
        """Seconds from writing key to want on the screen (nan if never)."""
        self.read(0.2)
        del self.buf[:]
        t0 = time.time()
        os.write(self.fd, key)
        return time.time() - t0 if self.read(limit, want) else float("nan")

    def repaints(self, n=20):
        return sorted(self.answer(b"\x0c", b"\x1b[2J", 30) for _ in range(n))

    def stop(self):
        os.kill(self.pid, signal.SIGTERM)
        self.read(1.0)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


rows = []
try:
    port = start_emu("emu")
    # 1: c y with the key's lock held by another process (this one)
    data, env, fp = history("held", port)
    lock = open(os.path.join(data, "history.db.lock-" + fp), "a+")
    fcntl.flock(lock, fcntl.LOCK_EX)
    d = Dash(env)
    rp = d.repaints()
    base = rp[len(rp) // 2]
    rows.append(("Ctrl-L -> repaint, worst of 20 (key lock elsewhere)", rp[-1], base))
    d.answer(b"c", b"live job", 10)
    rows.append(("c y on the group (unsent, key lock elsewhere)", d.answer(b"y", b"cancelling"), base))
    d.stop()
    lock.close()
    # 2, 3: r y and a compose of N with an external driver sending them
    data, env, fp = history("ext", port)
    drv = subprocess.Popen([sdq, "driver", "--linger", "0"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(drv)
    t0 = time.time()
    while live(data) and time.time() - t0 < 120:
        time.sleep(0.5)
    d = Dash(env)
    rp = d.repaints()
    base = rp[len(rp) // 2]
    d.answer(b"r", b"new job", 10)
    rows.append(("r y on the group (external driver)", d.answer(b"y", b"re-run as"), base))
    d.answer(b"n", b"New job", 10)
    os.write(d.fd, b"more\t\t\t%d" % n_jobs)
    d.read(5, b"(asks first)")
    d.answer(b"\x13", b"Submit %d jobs" % n_jobs, 10)
    rows.append(("compose %d jobs, y (external driver)" % n_jobs,
                 d.answer(b"y", b"jobs submitted"), base))
    d.stop()
finally:
    for p in procs:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
print("a group of %d jobs on a 120x40 dashboard; each against that dashboard's Ctrl-L -> "
      "repaint (median of 20), one run:" % n_jobs)
print("  %-52s %9s %9s %8s" % ("", "ms", "baseline", "ratio"))
for name, a, b in rows:
    print("  %-52s %9.1f %9.1f %7.1fx" % (name, a * 1000, b * 1000, a / b if b else float("nan")))
PYEOF
