#!/bin/sh
# bench_follow.sh: how sdq follows jobs (issue 12), side by side in one run
# against the same endpoint emulator (tests/emulator.py on 127.0.0.1):
#
#   sdq          `sdq submit` records BENCH_FOLLOW_JOBS jobs (default 300),
#                then one `sdq driver` sends and follows them all;
#   runpod-py    a replica of runpod-python's client pattern written from its
#                documented behaviour (stdlib only, below): per job a thread
#                with a keep-alive connection does POST /run, then
#                Job.output(): GET /status, sleep 1 s, GET /status ... until a
#                final status, then writes the image to disk;
#   curl floor   one curl process, one reused connection, making the same
#                requests the sdq driver made (the /run POSTs and as many
#                status GETs, one per job carrying the finished image), its
#                bodies thrown away: the cost of the requests themselves.
#
# Same job mix for both (seeded): each job 0.5-3 s queued, 3-10 s running,
# progress every step, a 64x64 PNG as a data URI. Printed: the table (rows:
# done -> image on disk median and p99, status requests per job, driver CPU
# per status request, idle wakeups per second; columns with the ratios),
# then the absolute figures as context. No assertions: figures only.
set -u
PY=/usr/bin/python3
SDQ=${SDQ_BIN:-$PWD/build/sdq}
TESTS=${SDQ_TESTS_DIR:-$PWD/tests}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_follow.XXXXXX")
emu= emu2= emu3=
# A private copy: the shared build directory may be relinked while this runs.
cp "$SDQ" "$tmp/sdq" && SDQ="$tmp/sdq"
cleanup() {
	[ -n "$emu" ] && kill "$emu" 2>/dev/null
	[ -n "$emu2" ] && kill "$emu2" 2>/dev/null
	[ -n "$emu3" ] && kill "$emu3" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

$PY "$TESTS/emulator.py" --port 0 --port-file "$tmp/port" --key bench-key --steps 10 \
	--workers 1000 --idle-exit 120 --max-lifetime 900 --quiet >/dev/null 2>"$tmp/emu.err" &
emu=$!
n=0
while [ ! -s "$tmp/port" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
PORT=$(cat "$tmp/port" 2>/dev/null)
if [ -z "$PORT" ]; then
	echo "bench_follow: the emulator did not start"
	exit 1
fi
# A second endpoint that enforces RunPod's documented limits (429 beyond).
$PY "$TESTS/emulator.py" --port 0 --port-file "$tmp/lport" --key bench-key --steps 10 \
	--workers 2000 --runpod-limits --idle-exit 120 --max-lifetime 900 --quiet \
	>/dev/null 2>"$tmp/emu2.err" &
emu2=$!
n=0
while [ ! -s "$tmp/lport" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
LPORT=$(cat "$tmp/lport" 2>/dev/null)
if [ -z "$LPORT" ]; then
	echo "bench_follow: the second emulator did not start"
	exit 1
fi
# The same emulator behind TLS and HTTP/2, as RunPod serves its API: nghttpx
# (nghttp2-proxy) with a certificate made for this run. Skipped, and said so,
# without nghttpx or openssl.
TPORT= TCERT=
if command -v nghttpx >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
	TPORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	nghttpx -f"127.0.0.1,$TPORT" -b"127.0.0.1,$PORT" -n1 --no-via --no-ocsp \
		--frontend-http2-max-concurrent-streams=1000 --backend-connections-per-host=1000 \
		--backend-read-timeout=200s --frontend-read-timeout=200s -L ERROR \
		--errorlog-file="$tmp/ngx.err" --accesslog-file=/dev/null \
		"$tmp/key.pem" "$tmp/cert.pem" --conf=/dev/null 2>>"$tmp/ngx.err" &
	emu3=$!
	n=0
	until curl -s -o /dev/null --cacert "$tmp/cert.pem" "https://localhost:$TPORT/" ||
		[ $n -ge 100 ]; do sleep 0.1; n=$((n + 1)); done
	[ $n -ge 100 ] && TPORT=
	TCERT="$tmp/cert.pem"
fi
$PY - "$PORT" "$SDQ" "$tmp" "${BENCH_FOLLOW_JOBS:-300}" "$LPORT" "${BENCH_LIMIT_JOBS:-1000}" \
	"$TPORT" "$TCERT" <<'EOF'
import base64, http.client, json, os, pty, random, select, signal, statistics
import subprocess, sys, threading, time, urllib.request

port, sdq, tmp, n_jobs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lport, n_limit = sys.argv[5], int(sys.argv[6])
tport, tcert = sys.argv[7], sys.argv[8]
KEY = "bench-key"
BASE = "http://127.0.0.1:%s" % port
FINAL = ("COMPLETED", "FAILED", "TIMED_OUT")  # runpod-python's FINAL_STATES

rng = random.Random(12)
mix = [(rng.uniform(0.5, 3.0), rng.uniform(3.0, 10.0)) for _ in range(n_jobs)]


def prompt(tag, i):
    q, r = mix[i]
    return "%s %d [[queue=%.2f run=%.2f]]" % (tag, i, q, r)


def emu(path, body=None, base=None):
    req = urllib.request.Request((base or BASE) + path, data=body, method="POST" if body is not None
                                 else "GET")
    with urllib.request.urlopen(req, timeout=60) as f:
        return json.load(f)


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def ctx_switches(pid):
    n = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                n += int(line.split()[1])
    return n


def wakeups(pid, settle=1.5, window=5.0):
    """Context switches per second of an otherwise idle process: every
    wakeup from a wait is one."""
    time.sleep(settle)
    a = ctx_switches(pid)
    time.sleep(window)
    return (ctx_switches(pid) - a) / window


# ---------------------------------------------------------------- replica
class Job:
    """runpod-python's Job, as documented: status() fetches /status/{id}
    (and keeps status and output once final); output(timeout) polls
    status() every second until a final status, then returns the output."""

    def __init__(self, conn, job_id):
        self.conn, self.job_id = conn, job_id
        self.job_status = self.job_output = None

    def _fetch_job(self):
        self.conn.request("GET", "/v2/test/status/" + self.job_id,
                          headers={"Authorization": "Bearer " + KEY})
        r = self.conn.getresponse()
        state = json.loads(r.read())
        if state.get("status") in FINAL:
            self.job_status = state["status"]
            self.job_output = state.get("output")
        return state

    def status(self):
        if self.job_status is not None:
            return self.job_status
        return self._fetch_job()["status"]

    def output(self, timeout=0):
        if timeout > 0:
            limit = time.time() + timeout
            while self.status() not in FINAL:
                time.sleep(1)
                if time.time() > limit:
                    raise TimeoutError("Job timed out.")
        if self.job_output is None:
            self.job_output = self._fetch_job().get("output")
        return self.job_output


def replica_job(i, outdir, results):
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
    body = json.dumps({"input": {"prompt": prompt("py", i)}})
    conn.request("POST", "/v2/test/run", body=body,
                 headers={"Authorization": "Bearer " + KEY,
                          "Content-Type": "application/json"})
    job = Job(conn, json.loads(conn.getresponse().read())["id"])
    out = job.output(timeout=600)
    img = out["images"][0] if isinstance(out, dict) and out.get("images") else None
    if isinstance(img, str):
        data = base64.b64decode(img.split(",", 1)[1] if img.startswith("data:") else img)
        path = os.path.join(outdir, "%d.png" % i)
        with open(path, "wb") as f:
            f.write(data)
        results[i] = (job.job_id, os.stat(path).st_mtime)
    conn.close()


def run_replica():
    emu("/_emu/reset", b"")
    outdir = os.path.join(tmp, "py")
    os.makedirs(outdir)
    results = {}
    t0 = time.time()
    ts = [threading.Thread(target=replica_job, args=(i, outdir, results))
          for i in range(n_jobs)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.time() - t0
    st = emu("/_emu/stats")
    lat = [m - st["jobs"][jid]["completed_at"] for jid, m in results.values()
           if st["jobs"].get(jid, {}).get("completed_at")]
    return {"lat": lat, "status": st["ops"]["status"], "done": len(results), "wall": wall,
            "ops": st["ops"]}


# ---------------------------------------------------------------- sdq
def sdq_env(data):
    env = dict(os.environ)
    cfg = os.path.join(tmp, "config")
    with open(cfg, "w") as f:
        f.write("[core]\n\tbackground_driver = false\n")
    env.update(SDQ_DATA_DIR=data, SDQ_CONFIG=cfg, RUNPOD_API_KEY=KEY,
               SDQ_ENDPOINT=BASE + "/v2/test", TERM="xterm-256color", LANG="C.UTF-8")
    return env


def run_sdq(base=BASE, jobs=None, data="sdqdata", front=None, cacert=None):
    """`sdq submit` each job (4 at a time), then one `sdq driver` until all
    are done; the emulator's stats and the driver's rusage. front: the URL
    sdq is given when it differs from the emulator's (TLS in front)."""
    jobs = n_jobs if jobs is None else jobs
    emu("/_emu/reset", b"", base)
    env = sdq_env(os.path.join(tmp, data))
    env["SDQ_ENDPOINT"] = (front or base) + "/v2/test"
    if cacert:
        env["SSL_CERT_FILE"] = cacert

    def submit(i):
        subprocess.run([sdq, "submit", "-p", prompt("sdq", i % n_jobs)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    subs = [threading.Thread(target=lambda k=k: [submit(i) for i in range(k, jobs, 4)])
            for k in range(4)]
    for t in subs:
        t.start()
    for t in subs:
        t.join()
    t0 = time.time()
    p = subprocess.Popen([sdq, "driver", "--linger", "0"], env=env,
                         stderr=open(os.path.join(tmp, data + "-driver.log"), "w"))
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = status
    wall = time.time() - t0
    st = emu("/_emu/stats", None, base)
    jobs_ls = json.loads(subprocess.run([sdq, "ls", "--all", "--json"], env=env,
                                        capture_output=True, text=True).stdout or "[]")
    lat = []
    done = 0
    for j in jobs_ls:
        if j["state"] != "COMPLETED" or not j["images"]:
            continue
        done += 1
        e = st["jobs"].get(j["remote_id"] or "")
        if e and e.get("completed_at"):
            lat.append(os.stat(j["images"][0]).st_mtime - e["completed_at"])
    return {"lat": lat, "status": st["ops"]["status"], "sync": st["ops"]["status_sync"],
            "run": st["ops"]["run"], "done": done, "wall": wall, "jobs": jobs,
            "cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss, "ops": st["ops"],
            "win": st.get("window_max", {}), "conc": st.get("concurrent_max", {}),
            "limited": st.get("limited_by_op", {})}


# ---------------------------------------------------------------- curl floor
def run_curl(n_status, front=None, cacert=None):
    """One curl process, one connection: n_jobs POST /run, then n_status
    GET /status: n_jobs of them of a finished job (with its image), the rest
    of a running one (with its progress). front/cacert: through TLS."""
    emu("/_emu/reset", b"")
    def post(body):
        req = urllib.request.Request(BASE + "/v2/test/run", data=body, method="POST",
                                     headers={"Authorization": "Bearer " + KEY})
        with urllib.request.urlopen(req, timeout=60) as f:
            return json.load(f)["id"]
    done_ids = [post(json.dumps({"input": {"prompt": "floor %d [[queue=0 run=0]]" % i}})
                     .encode()) for i in range(n_jobs)]
    running = post(b'{"input": {"prompt": "floor running [[queue=0 run=600]]"}}')
    time.sleep(0.2)
    cfg = os.path.join(tmp, "curl.cfg")
    url = front or BASE
    ca = 'cacert = "%s"\n' % cacert if cacert else ""
    with open(cfg, "w") as f:
        f.write('silent\nheader = "Authorization: Bearer %s"\n' % KEY + ca)
        f.write('header = "Content-Type: application/json"\n')
        f.write('data = "{\\"input\\": {\\"prompt\\": \\"floor run [[queue=600]]\\"}}"\n')
        for _ in range(n_jobs):
            f.write('url = "%s/v2/test/run"\noutput = "/dev/null"\n' % url)
        f.write('next\nsilent\nheader = "Authorization: Bearer %s"\n' % KEY + ca)
        ids = done_ids + [running] * max(0, n_status - n_jobs)
        for jid in ids:
            f.write('url = "%s/v2/test/status/%s"\noutput = "/dev/null"\n' % (url, jid))
    p = subprocess.Popen(["curl", "-K", cfg])
    _, status, ru = os.wait4(p.pid, 0)
    st = emu("/_emu/stats")
    return {"cpu": ru.ru_utime + ru.ru_stime, "status": st["ops"]["status"],
            "run": st["ops"]["run"] - n_jobs - 1, "exit": status}


# ---------------------------------------------------------------- idle
def idle_driver(prompt_text):
    """A driver following one job for minutes: once its status-sync is held,
    nothing is due but the end of that window."""
    emu("/_emu/reset", b"")
    env = sdq_env(os.path.join(tmp, "idledata"))
    subprocess.run([sdq, "submit", "-p", prompt_text], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    p = subprocess.Popen([sdq, "driver", "--linger", "0"], env=env, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3.0)  # sent, seen (running: its first window is over), held again
        return wakeups(p.pid)
    finally:
        p.terminate()
        p.wait()


def idle_dashboard():
    """The dashboard on a pty with a history and nothing live."""
    env = sdq_env(os.path.join(tmp, "sdqdata"))
    env["COLUMNS"], env["LINES"] = "120", "40"
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(sdq, [sdq], env)
    out = []

    def drain(t):
        end = time.time() + t
        while time.time() < end:
            r, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
            if r:
                try:
                    out.append(os.read(fd, 65536))
                except OSError:
                    return
    try:
        drain(2.0)
        a = ctx_switches(pid)
        window = 5.0
        drain(window)  # the pty is read so the dashboard is never blocked
        return (ctx_switches(pid) - a) / window
    finally:
        os.kill(pid, signal.SIGTERM)
        drain(0.5)
        os.waitpid(pid, 0)
        os.close(fd)


def idle_replica():
    """The replica following one queued job: status, sleep 1 s, status..."""
    emu("/_emu/reset", b"")
    code = r'''
import http.client, json, sys, time
conn = http.client.HTTPConnection("127.0.0.1", %s)
conn.request("POST", "/v2/test/run", body='{"input": {"prompt": "idle [[queue=120]]"}}',
             headers={"Authorization": "Bearer %s"})
jid = json.loads(conn.getresponse().read())["id"]
while True:
    conn.request("GET", "/v2/test/status/" + jid, headers={"Authorization": "Bearer %s"})
    if json.loads(conn.getresponse().read())["status"] in ("COMPLETED", "FAILED", "TIMED_OUT"):
        break
    time.sleep(1)
''' % (port, KEY, KEY)
    p = subprocess.Popen([sys.executable, "-c", code])
    try:
        return wakeups(p.pid)
    finally:
        p.terminate()
        p.wait()


py = run_replica()
sd = run_sdq()
lim = run_sdq("http://127.0.0.1:%s" % lport, n_limit, "limitdata")
fl = run_curl(sd["status"])
tls = tfl = None
if tport:
    front = "https://localhost:%s" % tport
    tls = run_sdq(front=front, cacert=tcert, data="tlsdata")
    tfl = run_curl(tls["status"], front=front, cacert=tcert)
w_drv = idle_driver("idle [[queue=0 run=300]]")
w_drvq = idle_driver("idle queued [[queue=300 run=1]]")
w_dash = idle_dashboard()
w_py = idle_replica()


def f(v, nd=3):
    return "-" if v is None else ("%.*f" % (nd, v))


def ratio(a, b):
    if a is None or b is None:
        return "-"
    if b == 0:
        return "0x" if a == 0 else "inf"
    return "%.2fx" % (a / b)


per_job_sd = sd["status"] / max(1, n_jobs)
per_job_py = py["status"] / max(1, n_jobs)
cpu_sd = sd["cpu"] * 1000.0 / max(1, sd["status"])
cpu_fl = fl["cpu"] * 1000.0 / max(1, fl["status"])
rows = [
    ("done -> image on disk, median (s)", pct(sd["lat"], 50), pct(py["lat"], 50), None, 3),
    ("done -> image on disk, p99 (s)", pct(sd["lat"], 99), pct(py["lat"], 99), None, 3),
    ("status requests per job", per_job_sd, per_job_py, None, 2),
    ("driver CPU per status request (ms)", cpu_sd, None, cpu_fl, 3),
    ("idle wakeups/s, driver (running job held)", w_drv, w_py, None, 1),
    ("idle wakeups/s, driver (queued job)", w_drvq, w_py, None, 1),
    ("idle wakeups/s, dashboard", w_dash, None, None, 1),
]
print("following %d jobs (0.5-3 s queued, 3-10 s running) on tests/emulator.py, one run:"
      % n_jobs)
print("%-36s %9s %10s %10s %9s %9s" % ("", "sdq", "runpod-py", "curl", "sdq/py",
                                         "sdq/curl"))
for name, a, b, c, nd in rows:
    print("%-36s %9s %10s %10s %9s %9s" % (name, f(a, nd), f(b, nd), f(c, nd), ratio(a, b),
                                           ratio(a, c)))
print()
if tls:
    print("the same %d jobs over TLS + HTTP/2 (nghttpx in front of the same emulator, as RunPod "
          "serves its API):" % n_jobs)
    print("%-36s %9s %10s %10s %9s %9s" % ("", "sdq", "", "curl", "", "sdq/curl"))
    t_cpu = tls["cpu"] * 1000.0 / max(1, tls["status"])
    t_fl = tfl["cpu"] * 1000.0 / max(1, tfl["status"])
    for name, a, c, nd in (
            ("done -> image on disk, median (s)", pct(tls["lat"], 50), None, 3),
            ("done -> image on disk, p99 (s)", pct(tls["lat"], 99), None, 3),
            ("status requests per job", tls["status"] / max(1, n_jobs), None, 2),
            ("driver CPU per status request (ms)", t_cpu, t_fl, 3)):
        print("%-36s %9s %10s %10s %9s %9s" % (name, f(a, nd), "", f(c, nd), "", ratio(a, c)))
    print("context: sdq %d/%d jobs with an image in %.1f s (status %d, of them status-sync %d), "
          "driver CPU %.2f s; curl floor %d requests over one connection in %.2f s CPU"
          % (tls["done"], n_jobs, tls["wall"], tls["status"], tls["sync"], tls["cpu"],
             tfl["status"] + n_jobs, tfl["cpu"]))
else:
    print("(TLS + HTTP/2 part skipped: it needs nghttpx (nghttp2-proxy) and openssl)")
print()
print("%d live jobs on an emulator enforcing RunPod's limits (429 beyond), same job mix:"
      % lim["jobs"])
print("%-44s %9s %9s %9s" % ("", "sdq", "RunPod", "sdq/RunPod"))
for name, a, b in (
        ("status requests, busiest 10 s", lim["win"].get("status"), 2000),
        ("status requests in flight, most at once", lim["conc"].get("status"), 400),
        ("/run requests, busiest 10 s", lim["win"].get("run"), 1000),
        ("/run requests in flight, most at once", lim["conc"].get("run"), 200)):
    print("%-44s %9s %9s %9s" % (name, "-" if a is None else a, b, ratio(a, b)))
print("%-44s %9s" % ("answers 429 (refused for the limits)", lim["ops"]["limited"]))
print("%-44s %9s %9s %9s" % ("status requests per job", f(lim["status"] / max(1, lim["jobs"]), 2),
                              "", ""))
print("context: %d/%d jobs with an image in %.1f s (status %d, of them status-sync %d), "
      "driver CPU %.2f s (%.3f ms per status request), peak RSS %.1f MiB"
      % (lim["done"], lim["jobs"], lim["wall"], lim["status"], lim["sync"], lim["cpu"],
         lim["cpu"] * 1000.0 / max(1, lim["status"]), lim["rss"] / 1024.0))
print()
print("targets: median <= 0.1 s, p99 <= 0.3 s, requests <= 0.3x runpod-py, CPU <= 2x curl, "
      "0 idle wakeups")
print("(a queued job's status-sync windows are 2, 2, 4, 8, then 10 s, so its state shows as soon "
      "as plain polling would show it: one wakeup per window)")
print("context: sdq %d/%d jobs with an image in %.1f s (status %d, of them status-sync %d; "
      "run %d; 429s %d), driver CPU %.2f s, peak RSS %.1f MiB"
      % (sd["done"], n_jobs, sd["wall"], sd["status"], sd["sync"], sd["run"],
         sd["ops"]["limited"], sd["cpu"], sd["rss"] / 1024.0))
print("         runpod-py %d/%d jobs in %.1f s (status %d); curl floor %d requests "
      "(%d status) in %.2f s CPU" % (py["done"], n_jobs, py["wall"], py["status"],
                                     fl["status"] + n_jobs, fl["status"], fl["cpu"]))
EOF
echo "bench_follow: done"
