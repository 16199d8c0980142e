#!/usr/bin/python3
"""sdq's RunPod serverless endpoint emulator (Python 3 standard library only).

Speaks the queue-based endpoint API of shared/reference/runpod-api.md on
127.0.0.1, with scripted queue/run times, progress, worker output shapes and
faults, and returns real PNG images.

Start:
    /usr/bin/python3 tests/emulator.py --port 0 --key test-key-123 [options]
It prints one line "PORT <n>" on stdout as soon as it listens (and writes <n>
to --port-file F). Base URL: http://127.0.0.1:<n>/v2/<endpoint>  (default
endpoint id "test"). It always exits by itself (--idle-exit, --max-lifetime)
or on POST /_emu/shutdown.

Options:
    --port N             0 = pick a free port (default 0)
    --port-file F        write the port number to F (atomically)
    --key K              required API key ("Authorization: Bearer K" or the
                         bare key); omitted = no auth check
    --endpoint ID        endpoint id in /v2/<ID>/... (default test); others 404
    --idle-exit S        exit after S s without a request (default 120)
    --max-lifetime S     exit after S s in any case (default 1800)
    --queue-time S       seconds IN_QUEUE (default 1)
    --run-time S         seconds IN_PROGRESS (default 2)
    --steps N            progress steps during the run (default 10)
    --progress P         progress shape: str "4/10", dict {"progress":0.4},
                         step {"step":4,"total":10}, dictstr {"progress":"4/10"},
                         none (no output while running), mix (cycles per job)
    --shape NAME         default worker output shape (default sdxl; list below)
    --seed-base N        seed of jobs whose input has none (default 1000)
    --image-size WxH     default image size (default 64x64; input width/height
                         win, capped at 512)
    --expire S           results vanish (404) S s after finishing (default:
                         1800 for /run, 60 for /runsync)
    --workers N          workers reported by /health (default 2)
    --concurrency N      at most N jobs IN_PROGRESS at once; the others wait
                         IN_QUEUE for a free worker (default 0 = no limit)
    --throttled N, --unhealthy N, --initializing N   /health worker counters
    --rate-limit N       /status requests per second (/status-sync included);
                         beyond: 429 + Retry-After
    --runpod-limits      enforce RunPod's documented limits per operation:
                         requests in any 10 s window and requests in flight at
                         once (status and status-sync together 2000 / 400, run
                         1000 / 200, runsync 2000 / 400, cancel 100 / 20,
                         purge-queue 2 / -); beyond: 429 + Retry-After, counted
                         in ops.limited and limited_by_op
    --status-sync MODE   GET /v2/<ep>/status-sync/<id>?wait=<ms> (the long-poll
                         status; wait clamped to 1000..90000 as RunPod does):
                         wait (default: answers when the job is final or the
                         wait is over), 404 or 405 (unsupported: that code for
                         every status-sync), instant (answers at once, ignoring
                         wait, like a proxy that does not hold requests)
    --fault-run500 N     the first N /run requests answer 500 (no job made)
    --fault-run429 N     the first N /run requests answer 429
    --fault-run-drop N   the first N /run requests create the job, then close
                         the connection without answering
    --fault-status500 N  the first N /status requests (any job) answer 500
    --fault-status429 N  the first N /status requests (any job) answer 429
    --fault-health500 N  the first N /health requests answer 500
    --purge-gone         purged jobs vanish (404) instead of turning CANCELLED
    --local-api          behave like runpod-python's local test API
                         (`python handler.py --rp_serve_api`) instead: base URL
                         http://127.0.0.1:<n> (no /v2/<endpoint>), no auth;
                         POST /run -> {"id": "test-<uuid>", "status":
                         "IN_PROGRESS"} and nothing runs; POST /status/<id>
                         runs the handler inside the request (run=S, else
                         --run-time; one handler at a time, a /run waits for
                         it) and forgets the job, so a second POST gives 200
                         {"status": "FAILED", "error": "Job ID not found"};
                         GET /status/<id> -> 405; POST /runsync runs it at
                         once; /health /cancel /retry /purge-queue -> 404
                         {"detail": "Not Found"}; GET /openapi.json -> 200.
                         Stats: ops.notallowed counts 405s, handler_runs
                         {id: n} the handler runs per job
    --log FILE           one line per request (never the key)
    --quiet              nothing on stderr

Per-job script: tokens "[[key=value key ...]]" in any string of the input
(normally input.prompt; values may be quoted: fail="out of memory").
    queue=S run=S steps=N      times and progress steps of this job
    progress=str|dict|step|dictstr|none
    shape=NAME                 output shape (below)
    count=N                    images (else input num_outputs/batch_size/
                               num_images, else 1; max 16)
    size=WxH                   image size (else input width/height)
    seed=N                     seed (else input seed, else seed-base based)
    declare=WxH                the first image's PNG header declares WxH
                               pixels (its data stays the real size)
    fail=MSG                   FAILED with error MSG; fail=oom gives a CUDA OOM
                               text; fail=json gives runpod-python's JSON-string
                               handler exception
    timeout                    TIMED_OUT instead of COMPLETED
    fails=N|all                how many attempts fail/time out (default 1, so
                               a /retry then completes)
    expire=S                   status 404 S s after the job finished
    status=RUNNING             say RUNNING instead of IN_PROGRESS
    weird                      say WARMING_UP (unknown status) while queued
    http429=N http500=N        the first N status requests of this job get
                               429 (Retry-After: 1) / 500
    reset=N                    close the connection without an answer on the
                               first N status requests
    truncated                  one status reply cut mid-JSON (Content-Length
                               matches the cut body)
    cut                        one status reply whose connection closes before
                               Content-Length bytes were sent
    nonjson                    one status reply "<html>...": 200, text/html
    slow=S                     every status reply of this job waits S s
    run500=N run429=N rundrop=N  the first N /run requests with this same input
                               answer 500 / 429 / create-then-drop
Shapes: sd15 sdxl sdxl_turbo a1111 comfyui comfyui_url comfyui_errors
    comfy_old comfy_old_error url nested string list noimage nooutput badb64
    jpeg huge (huge=MB sets its size, default 65)

Control (no key needed):
    GET  /_emu/stats      {"ops": {run, runsync, status, status_sync, stream,
                          cancel, retry, purge, health, img, unauthorized,
                          notfound, limited} (status counts /status and
                          /status-sync; status_sync only the latter),
                          "sync_waiting_max": most status-syncs held at once,
                          "window_max": {op: most requests of op in any 10 s
                          window}, "concurrent_max": {op: most requests of op
                          in flight at once} (ops: status (with status-sync),
                          run, runsync, cancel, purge), "limited_by_op",
                          "runs_by_prompt": {prompt: n}, "max_runs_per_input",
                          "duplicate_inputs", "inflight_max", "jobs": {id:
                          {status, status_polls, sync_polls, run_count, retries,
                          cancel_count, stream_polls, created_at, completed_at,
                          finished_at, first_completed_poll_at,
                          first_running_poll_at, prompt}}}
                          (first_*_poll_at: when a status reply first told
                          the job COMPLETED / IN_PROGRESS, null before)
                          (times: float epoch seconds; completed_at = the
                          moment the job became COMPLETED, null otherwise)
    GET  /_emu/jobs       list of jobs with their input and current status
    GET  /_emu/img/<job>-<i>.png (or .jpg)   the images of url-type shapes
    POST /_emu/set        JSON object of settings to change at run time:
                          queue_time run_time steps shape progress rate_limit
                          workers concurrency throttled unhealthy initializing
                          expire status_sync runpod_limits and
                          the fault_* counters (fault_run500 ...)
    POST /_emu/reset      forget all jobs and counters
    POST /_emu/shutdown   stop
"""

import argparse
import base64
import collections
import heapq
import json
import math
import os
import random
import re
import shlex
import socket
import struct
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT")
GONE = "GONE"
SHAPES = ("sd15", "sdxl", "sdxl_turbo", "a1111", "comfyui", "comfyui_url",
          "comfyui_errors", "comfy_old", "comfy_old_error", "url", "nested",
          "string", "list", "noimage", "nooutput", "badb64", "jpeg", "huge")
PROGRESS_SHAPES = ("str", "dict", "step", "dictstr", "none")
MAX_BODY = 32 << 20

# ---------------------------------------------------------------- images


def _png_chunk(kind, data):
    c = struct.pack(">I", len(data)) + kind + data
    return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


_SIN = [int(127.5 + 127.5 * math.sin(2 * math.pi * i / 256)) for i in range(256)]


def make_png(w, h, seed, text=None):
    """A smooth colourful RGB plasma, different for every seed."""
    r = random.Random(seed)
    k = [r.randint(1, 7) for _ in range(6)]
    ph = [r.randint(0, 255) for _ in range(3)]
    warp = r.randint(1, 5)
    sx = 256.0 / max(w, 1)
    sy = 256.0 / max(h, 1)
    xs = [int(x * sx) for x in range(w)]
    sin = _SIN
    raw = bytearray()
    for y in range(h):
        yy = int(y * sy)
        wy = sin[(yy * warp) & 255] >> 2
        row = bytearray(1 + 3 * w)
        i = 1
        for xx in xs:
            row[i] = sin[(xx * k[0] + yy * k[1] // 2 + ph[0] + wy) & 255]
            row[i + 1] = sin[(xx * k[2] // 2 + yy * k[3] + ph[1]) & 255]
            row[i + 2] = sin[((xx + yy) * k[4] // 2 + wy * k[5] + ph[2]) & 255]
            i += 3
        raw += row
    out = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    if text is not None:
        out += _png_chunk(b"tEXt", b"parameters\x00" + text.encode("latin-1", "replace"))
    out += _png_chunk(b"IDAT", zlib.compress(bytes(raw), 6))
    return out + _png_chunk(b"IEND", b"")


class _Bits:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, code, length):
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((code >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc = 0
                self.n = 0

    def flush(self):
        while self.n:
            self.put(1, 1)
        return bytes(self.out)


def _huff_codes(bits, vals):
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


_DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]  # Annex K.3 luminance DC
_DC_VALS = list(range(12))
_AC_BITS = [0, 2] + [0] * 14  # our own AC table: EOB and ZRL only
_AC_VALS = [0x00, 0xF0]


def make_jpeg(w, h, seed):
    """A real baseline JPEG (8x8 blocks of flat colour: DC coefficients only)."""
    r = random.Random(seed)
    c0 = [r.randint(0, 255) for _ in range(3)]
    c1 = [r.randint(0, 255) for _ in range(3)]
    c2 = [r.randint(0, 255) for _ in range(3)]
    seg = lambda m, d: b"\xff" + bytes([m]) + struct.pack(">H", len(d) + 2) + d
    out = b"\xff\xd8"
    out += seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += seg(0xDB, b"\x00" + bytes([8] * 64))
    out += seg(0xC0, struct.pack(">BHHB", 8, h, w, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00")
    out += seg(0xC4, b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALS))
    out += seg(0xC4, b"\x10" + bytes(_AC_BITS) + bytes(_AC_VALS))
    out += seg(0xDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00")
    dc = _huff_codes(_DC_BITS, _DC_VALS)
    ac = _huff_codes(_AC_BITS, _AC_VALS)
    bw = _Bits()
    pred = [0, 0, 0]
    bx_n, by_n = (w + 7) // 8, (h + 7) // 8
    for by in range(by_n):
        for bx in range(bx_n):
            u = bx / max(bx_n - 1, 1)
            v = by / max(by_n - 1, 1)
            rgb = [c0[i] * (1 - u) * (1 - v) + c1[i] * u + c2[i] * v * (1 - u) for i in range(3)]
            rgb = [min(255.0, max(0.0, x)) for x in rgb]
            R, G, B = rgb
            ycc = (0.299 * R + 0.587 * G + 0.114 * B,
                   128 - 0.168736 * R - 0.331264 * G + 0.5 * B,
                   128 + 0.5 * R - 0.418688 * G - 0.081312 * B)
            for c in range(3):
                q = max(-127, min(127, int(round(ycc[c] - 128))))
                diff = q - pred[c]
                pred[c] = q
                mag = abs(diff)
                cat = mag.bit_length()
                bw.put(*dc[cat])
                if cat:
                    bw.put(diff if diff > 0 else diff + (1 << cat) - 1, cat)
                bw.put(*ac[0x00])
    return out + bw.flush() + b"\xff\xd9"


# ---------------------------------------------------------------- state


class Job:
    __slots__ = ("id", "index", "input", "opts", "sync", "prompt", "t0", "t0_wall",
                 "created_wall", "attempt", "cancelled_at", "removed", "ttl", "exec_timeout",
                 "status_polls", "sync_polls", "cancel_count", "stream_polls", "stream_sent", "final_sent",
                 "first_completed_poll", "first_running_poll", "images", "output_json", "output_attempt",
                 "once_used", "seed", "size", "count", "imgcache", "start")

    def __init__(self):
        self.once_used = set()
        self.imgcache = {}
        self.start = None


# RunPod's documented limits per endpoint and operation: requests per 10 s,
# requests in flight at once (runpod/docs serverless/endpoints/send-requests).
RUNPOD_LIMITS = {"status": (2000, 400), "run": (1000, 200), "runsync": (2000, 400),
                 "cancel": (100, 20), "purge": (2, None)}
LIMITED_OPS = {"status": "status", "status-sync": "status", "run": "run",
               "runsync": "runsync", "cancel": "cancel", "purge-queue": "purge"}


class Emulator:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        # status-sync requests sleep on this until their job may be final
        # (op_cancel notifies), not in a polling loop
        self.cond = threading.Condition(self.lock)
        self.cfg = {
            "queue_time": args.queue_time, "run_time": args.run_time, "steps": args.steps,
            "shape": args.shape, "progress": args.progress, "rate_limit": args.rate_limit,
            "workers": args.workers, "throttled": args.throttled,
            "unhealthy": args.unhealthy, "initializing": args.initializing,
            "expire": args.expire, "concurrency": args.concurrency,
            "fault_run500": args.fault_run500, "fault_run429": args.fault_run429,
            "fault_run_drop": args.fault_run_drop, "fault_status500": args.fault_status500,
            "fault_status429": args.fault_status429, "fault_health500": args.fault_health500,
            "status_sync": args.status_sync, "runpod_limits": args.runpod_limits,
        }
        self.port = 0
        self.last_request = time.monotonic()
        self.started = time.monotonic()
        self.log_lock = threading.Lock()
        self.logf = open(args.log, "a", buffering=1) if args.log else None
        self.handler_lock = threading.Lock()  # --local-api: one handler at a time
        self.reset()

    def reset(self):
        self.jobs = {}
        self.order = []
        self.ops = {k: 0 for k in ("run", "runsync", "status", "status_sync", "stream",
                                   "cancel", "retry", "purge", "health", "img",
                                   "unauthorized", "notfound", "limited")}
        self.sync_waiting = 0
        self.sync_waiting_max = 0
        self.runs_by_prompt = {}
        self.runs_by_input = {}
        self.input_faults = {}
        self.retried = 0
        self.worker_free = []
        self.rate_window = (0, 0)
        self.inflight = 0
        self.inflight_max = 0
        self.ops["notallowed"] = 0
        self.handler_runs = {}
        self.win = {k: collections.deque() for k in RUNPOD_LIMITS}
        self.win_max = {k: 0 for k in RUNPOD_LIMITS}
        self.conc = {k: 0 for k in RUNPOD_LIMITS}
        self.conc_max = {k: 0 for k in RUNPOD_LIMITS}
        self.limited_by_op = {k: 0 for k in RUNPOD_LIMITS}

    def admit(self, op):
        """Count a request of op (a RUNPOD_LIMITS key) in its 10 s window
        and in flight; False if --runpod-limits refuses it (then it is not
        in flight)."""
        with self.lock:
            now = time.monotonic()
            dq = self.win[op]
            while dq and dq[0] <= now - 10.0:
                dq.popleft()
            dq.append(now)
            self.win_max[op] = max(self.win_max[op], len(dq))
            per10, conc = RUNPOD_LIMITS[op]
            if self.cfg["runpod_limits"] and (len(dq) > per10 or
                                            (conc is not None and self.conc[op] >= conc)):
                self.ops["limited"] += 1
                self.limited_by_op[op] += 1
                return False
            self.conc[op] += 1
            self.conc_max[op] = max(self.conc_max[op], self.conc[op])
            return True

    def release(self, op):
        with self.lock:
            self.conc[op] -= 1

    # -- per-job options from [[...]] tokens
    def parse_opts(self, inp):
        opts = {}

        def scan(v, depth):
            if depth > 20:
                return
            if isinstance(v, str):
                for m in re.finditer(r"\[\[(.*?)\]\]", v, re.S):
                    try:
                        words = shlex.split(m.group(1))
                    except ValueError:
                        words = m.group(1).split()
                    for wd in words:
                        k, sep, val = wd.partition("=")
                        opts[k.strip().lower()] = val if sep else "1"
            elif isinstance(v, dict):
                for x in v.values():
                    scan(x, depth + 1)
            elif isinstance(v, list):
                for x in v:
                    scan(x, depth + 1)

        scan(inp, 0)
        return opts

    def fnum(self, opts, key, default):
        try:
            return float(opts[key]) if key in opts else float(default)
        except ValueError:
            return float(default)

    def inum(self, opts, key, default):
        try:
            return int(opts[key]) if key in opts else int(default)
        except ValueError:
            return int(default)

    def new_job(self, inp, body, sync):
        j = Job()
        j.id = ("sync-" if sync else "") + str(uuid.uuid4()) + "-u1"
        j.index = len(self.order)
        j.input = inp
        j.opts = self.parse_opts(inp)
        j.sync = sync
        j.prompt = inp.get("prompt") if isinstance(inp.get("prompt"), str) else None
        j.t0 = time.monotonic()
        j.t0_wall = time.time()
        j.created_wall = j.t0_wall
        j.attempt = 1
        j.cancelled_at = None
        j.removed = False
        pol = body.get("policy") if isinstance(body.get("policy"), dict) else {}
        j.ttl = pol.get("ttl") / 1000.0 if isinstance(pol.get("ttl"), (int, float)) else None
        et = pol.get("executionTimeout")
        j.exec_timeout = et / 1000.0 if isinstance(et, (int, float)) else None
        j.status_polls = j.cancel_count = j.stream_polls = j.stream_sent = 0
        j.sync_polls = 0
        j.final_sent = False
        j.first_completed_poll = None
        j.first_running_poll = None
        j.images = None
        j.output_json = None
        j.output_attempt = 0
        o = j.opts
        seed = None
        if "seed" in o:
            try:
                seed = int(o["seed"])
            except ValueError:
                pass
        if seed is None and isinstance(inp.get("seed"), int) and inp["seed"] >= 0:
            seed = inp["seed"]
        if seed is None:
            seed = self.args.seed_base + j.index * 7919
        j.seed = seed
        w, h = self.args.image_size
        if isinstance(inp.get("width"), int) and inp["width"] > 0:
            w = inp["width"]
        if isinstance(inp.get("height"), int) and inp["height"] > 0:
            h = inp["height"]
        if "size" in o:
            m = re.match(r"^(\d+)x(\d+)$", o["size"])
            if m:
                w, h = int(m.group(1)), int(m.group(2))
        j.size = (max(1, min(512, w)), max(1, min(512, h)))
        cnt = 1
        for k in ("num_outputs", "batch_size", "num_images"):
            if isinstance(inp.get(k), int) and inp[k] > 0:
                cnt = inp[k]
                break
        j.count = max(1, min(16, self.inum(o, "count", cnt)))
        self.schedule(j)
        self.jobs[j.id] = j
        self.order.append(j.id)
        return j

    def times(self, j):
        q = self.fnum(j.opts, "queue", self.cfg["queue_time"])
        r = self.fnum(j.opts, "run", self.cfg["run_time"])
        if "weird" in j.opts:
            q = q if q > 0 else 1.0
        if j.start is not None:
            q = max(q, j.start - j.t0)
        return q, r

    def schedule(self, j):
        """With --concurrency N, a job starts when one of N workers is free
        (start times are reserved in submission order; a cancel does not give
        the slot back early)."""
        n = int(self.cfg["concurrency"] or 0)
        j.start = None
        if n <= 0:
            return
        if len(self.worker_free) != n:
            self.worker_free = [0.0] * n
        q, r = self.times(j)
        if j.exec_timeout is not None:
            r = min(r, j.exec_timeout)
        start = max(j.t0 + q, heapq.heappop(self.worker_free))
        heapq.heappush(self.worker_free, start + r)
        j.start = start

    def fails_this_attempt(self, j):
        f = j.opts.get("fails", "1")
        return f == "all" or j.attempt <= self.inum(j.opts, "fails", 1)

    def state(self, j, now, expiry=True):
        """(status, progress step, terminal monotonic time or None)."""
        if j.removed:
            return GONE, 0, None
        if j.ttl is not None and now >= j.t0 + j.ttl and j.attempt == 1:
            return GONE, 0, None
        q, r = self.times(j)
        final = "COMPLETED"
        if j.exec_timeout is not None and r > j.exec_timeout:
            r = j.exec_timeout
            final = "TIMED_OUT"
        if self.fails_this_attempt(j):
            if "fail" in j.opts:
                final = "FAILED"
            elif "timeout" in j.opts:
                final = "TIMED_OUT"
        term = j.t0 + q + r
        if j.cancelled_at is not None and j.cancelled_at < term:
            st, term = "CANCELLED", j.cancelled_at
        elif now < j.t0 + q:
            return ("WARMING_UP" if "weird" in j.opts else "IN_QUEUE"), 0, None
        elif now < term:
            steps = max(1, self.inum(j.opts, "steps", self.cfg["steps"]))
            step = min(steps - 1, int((now - j.t0 - q) / r * steps)) if r > 0 else 0
            return j.opts.get("status", "IN_PROGRESS").upper(), step, None
        else:
            st = final
        if not expiry:
            return st, 0, term
        exp = self.fnum(j.opts, "expire", -1)
        if exp < 0:
            exp = self.cfg["expire"] if self.cfg["expire"] is not None else (60 if j.sync else 1800)
        if now >= term + exp:
            return GONE, 0, term
        return st, 0, term

    def progress_value(self, j, step):
        steps = max(1, self.inum(j.opts, "steps", self.cfg["steps"]))
        kind = j.opts.get("progress", self.cfg["progress"])
        if kind == "mix":
            kind = PROGRESS_SHAPES[j.index % 4]
        done = step + 1
        if kind == "dict":
            return {"progress": round(done / steps, 4)}
        if kind == "step":
            return {"step": done, "total": steps}
        if kind == "dictstr":
            return {"progress": "%d/%d" % (done, steps)}
        if kind == "none":
            return None
        return "%d/%d" % (done, steps)

    def error_text(self, j):
        if "fail" not in j.opts:
            return "job timed out"
        msg = j.opts["fail"]
        if msg in ("1", "oom"):
            return ("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total "
                    "capacity; 21.80 GiB already allocated)")
        if msg == "json":
            return json.dumps({
                "error_type": "<class 'RuntimeError'>",
                "error_message": "Expected all tensors to be on the same device",
                "error_traceback": "Traceback (most recent call last):\n  File \"/handler.py\""
                                   ", line 42, in handler\nRuntimeError: Expected all tensors "
                                   "to be on the same device\n",
                "hostname": "emu-worker-1", "worker_id": "emuworker0001",
                "runpod_version": "1.7.0"})
        return msg

    # -- outputs
    def shape(self, j):
        s = j.opts.get("shape", self.cfg["shape"])
        return s if s in SHAPES else "sdxl"

    def image_bytes(self, j, i):
        """(bytes, ext) of image i of job j; made once (outside the lock)."""
        got = j.imgcache.get(i)
        if got is None:
            got = j.imgcache[i] = self.make_image(j, i)
        return got

    def make_image(self, j, i):
        ext = "jpg" if self.shape(j) == "jpeg" else "png"
        w, h = j.size
        if ext == "jpg":
            return make_jpeg(w, h, j.seed + i), ext
        text = None
        if self.shape(j) == "a1111":
            text = self.a1111_params_text(j, i)
        png = make_png(w, h, j.seed + i, text)
        decl = j.opts.get("declare")
        if decl and i == 0:
            # the first image's header claims another size (its pixel data
            # stays w x h): what a decoder must refuse before allocating
            m = re.match(r"^(\d+)x(\d+)$", decl)
            dw, dh = (int(m.group(1)), int(m.group(2))) if m else (w, h)
            ihdr = b"IHDR" + struct.pack(">II", dw, dh) + png[24:29]
            png = png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr) & 0xFFFFFFFF) + png[33:]
        return png, ext

    def a1111_params_text(self, j, i):
        inp = j.input
        return "%s\nNegative prompt: %s\nSteps: %s, Sampler: %s, CFG scale: %s, Seed: %d, " \
               "Size: %dx%d, Model: emulator" % (
                   inp.get("prompt", ""), inp.get("negative_prompt", ""),
                   inp.get("steps", 20), inp.get("sampler_name", "Euler a"),
                   inp.get("cfg_scale", 7), j.seed + i, j.size[0], j.size[1])

    def build_output(self, j):
        """The JSON text of the COMPLETED output (None = no output key)."""
        shape = self.shape(j)
        if shape == "nooutput":
            return None
        if shape == "noimage":
            return json.dumps({"text": "hello"})
        if shape == "huge":
            return None  # streamed by the handler
        if shape == "comfy_old_error":
            return json.dumps({"status": "error", "message": "the image does not exist in "
                               "the specified output folder: /comfyui/output/ComfyUI_00001_.png"})
        if shape == "badb64":
            return json.dumps({"images": ["data:image/png;base64,@@@not*base64!!" + "%" * 80],
                               "seed": j.seed})
        n = 1 if shape in ("comfy_old", "url") else j.count
        imgs = [self.image_bytes(j, i) for i in range(n)]
        b64 = [base64.b64encode(b).decode() for b, _ in imgs]
        base = "http://127.0.0.1:%d/_emu/img/" % self.port
        urls = [base + "%s-%d.%s" % (j.id, i, e) for i, (_, e) in enumerate(imgs)]
        seeds = [j.seed + i for i in range(n)]
        inp = j.input
        if shape == "sd15":
            out = [{"image": b, "seed": s} for b, s in zip(b64, seeds)]
        elif shape == "sdxl":
            uris = ["data:image/png;base64," + b for b in b64]
            out = {"images": uris, "image_url": uris[0], "seed": j.seed}
        elif shape == "sdxl_turbo":
            out = {"images": [{"image": b, "seed": s} for b, s in zip(b64, seeds)],
                   "generation_time": self.fnum(j.opts, "run", self.cfg["run_time"]),
                   "parameters": {"prompt": inp.get("prompt"),
                                  "negative_prompt": inp.get("negative_prompt"),
                                  "width": j.size[0], "height": j.size[1],
                                  "num_inference_steps": inp.get("num_inference_steps", 1),
                                  "guidance_scale": 0.0, "seed": j.seed}}
        elif shape == "a1111":
            info = {"prompt": inp.get("prompt", ""), "all_prompts": [inp.get("prompt", "")] * n,
                    "seed": j.seed, "all_seeds": seeds, "width": j.size[0],
                    "height": j.size[1], "sampler_name": inp.get("sampler_name", "Euler a"),
                    "infotexts": [self.a1111_params_text(j, i) for i in range(n)]}
            out = {"images": b64, "parameters": inp, "info": json.dumps(info)}
        elif shape in ("comfyui", "comfyui_errors"):
            out = {"images": [{"filename": "ComfyUI_%05d_.png" % (i + 1), "type": "base64",
                               "data": b} for i, b in enumerate(b64)]}
            if shape == "comfyui_errors":
                out["errors"] = ["Node 9 (SaveImage): could not upload ComfyUI_00002_.png"]
        elif shape == "comfyui_url":
            out = {"images": [{"filename": "ComfyUI_%05d_.png" % (i + 1), "type": "s3_url",
                               "data": u} for i, u in enumerate(urls)]}
        elif shape == "comfy_old":
            out = {"status": "success", "message": b64[0]}
        elif shape == "url":
            out = {"image_url": urls[0], "cost": 0.02}
        elif shape == "nested":
            out = {"result": {"meta": {"worker": "emu"},
                              "artifacts": [{"kind": "picture",
                                             "payload": {"blob": b, "seed": s}}
                                            for b, s in zip(b64, seeds)]}}
        elif shape == "string":
            out = "data:image/png;base64," + b64[0]
        elif shape == "list":
            out = b64
        elif shape == "jpeg":
            out = [{"image": b, "seed": s} for b, s in zip(b64, seeds)]
        else:
            out = {"images": b64}
        return json.dumps(out)

    def output_for(self, j):
        if j.output_attempt != j.attempt:
            text = self.build_output(j)
            j.output_json, j.output_attempt = text, j.attempt
        return j.output_json

    # -- status dict (without the big final output)
    def status_head(self, j, now):
        st, step, term = self.state(j, now)
        q, r = self.times(j)
        head = {"id": j.id, "status": st}
        if st in ("IN_QUEUE", "WARMING_UP"):
            head["delayTime"] = int((now - j.t0) * 1000)
            return st, head, False
        head["delayTime"] = int(q * 1000)
        head["workerId"] = "emuworker%04d" % (1 + j.index % max(1, self.cfg["workers"]))
        if st in TERMINAL:
            head["executionTime"] = max(0, int(((term or now) - j.t0 - q) * 1000))
            if st == "CANCELLED" and term is not None and term < j.t0 + q:
                head["delayTime"] = int((term - j.t0) * 1000)
                head["executionTime"] = 0
                head.pop("workerId")
            if st in ("FAILED", "TIMED_OUT"):
                head["error"] = self.error_text(j)
            return st, head, st == "COMPLETED"
        head["executionTime"] = int((now - j.t0 - q) * 1000)
        pv = self.progress_value(j, step)
        if pv is not None:
            head["output"] = pv
        return st, head, False

    def stats(self):
        now = time.monotonic()
        jobs = {}
        for jid in self.order:
            j = self.jobs[jid]
            st, _, term = self.state(j, now)
            q, r = self.times(j)
            done_wall = None
            fin_wall = None
            if term is not None:
                fin_wall = j.t0_wall + (term - j.t0)
                if self.state(j, max(now, term), expiry=False)[0] == "COMPLETED":
                    done_wall = fin_wall
            jobs[jid] = {"status": st, "status_polls": j.status_polls,
                         "sync_polls": j.sync_polls,
                         "run_count": j.attempt, "retries": j.attempt - 1,
                         "cancel_count": j.cancel_count, "stream_polls": j.stream_polls,
                         "created_at": j.created_wall, "completed_at": done_wall,
                         "finished_at": fin_wall,
                         "first_completed_poll_at": j.first_completed_poll,
                         "first_running_poll_at": j.first_running_poll,
                         "prompt": j.prompt, "sync": j.sync}
        counts = list(self.runs_by_input.values())
        return {"ops": dict(self.ops), "runs_by_prompt": dict(self.runs_by_prompt),
                "max_runs_per_input": max(counts) if counts else 0,
                "duplicate_inputs": sum(1 for c in counts if c > 1),
                "inflight_max": self.inflight_max, "port": self.port,
                "handler_runs": dict(self.handler_runs),
                "sync_waiting_max": self.sync_waiting_max,
                "window_max": dict(self.win_max), "concurrent_max": dict(self.conc_max),
                "limited_by_op": dict(self.limited_by_op),
                "uptime": now - self.started, "jobs": jobs}

    def health(self):
        now = time.monotonic()
        c = {"completed": 0, "failed": 0, "inProgress": 0, "inQueue": 0,
             "retried": self.retried}
        warming = 0
        for j in self.jobs.values():
            st = self.state(j, now)[0]
            if st == "COMPLETED":
                c["completed"] += 1
            elif st in ("FAILED", "TIMED_OUT"):
                c["failed"] += 1
            elif st == "IN_QUEUE":
                c["inQueue"] += 1
            elif st == "WARMING_UP":
                c["inQueue"] += 1
                warming += 1
            elif st not in TERMINAL and st != GONE:
                c["inProgress"] += 1
        running = c["inProgress"]
        workers = max(self.cfg["workers"], int(self.cfg["concurrency"] or 0))
        idle = max(0, workers - running)
        return {"jobs": c,
                "workers": {"idle": idle, "running": running,
                            "initializing": self.cfg["initializing"] + warming,
                            "ready": idle, "throttled": self.cfg["throttled"],
                            "unhealthy": self.cfg["unhealthy"]}}


# ---------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes
    server_version = "sdq-emulator/1"
    sys_version = ""
    emu = None  # set in main

    def log_message(self, fmt, *args):
        pass

    def log_line(self, code, nbytes):
        e = self.emu
        if not e.logf:
            return
        path = urlsplit(self.path).path
        with e.log_lock:
            try:
                e.logf.write("%.3f %s %s %d %d\n" % (time.time(), self.command, path, code,
                                                      nbytes))
            except OSError:
                pass

    # -- sending
    def send_raw(self, code, body, ctype="application/json", headers=None, length=None):
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            self.close_connection = True
        self.log_line(code, len(body))

    def send_json(self, code, obj, headers=None):
        self.send_raw(code, json.dumps(obj).encode(), headers=headers)

    def drop(self):
        """Close the connection without answering."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.log_line(0, 0)

    def read_body(self):
        """The request body (Content-Length or chunked); None if over MAX_BODY."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                line = self.rfile.readline(1024)
                try:
                    n = int(line.split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    return None
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                if len(data) + n > MAX_BODY:
                    return None
                data += self.rfile.read(n)
                self.rfile.readline(1024)
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if n < 0 or n > MAX_BODY:
            return None
        data = b""
        while len(data) < n:
            chunk = self.rfile.read(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def authorized(self):
        key = self.emu.args.key
        if key is None:
            return True
        a = (self.headers.get("Authorization") or "").strip()
        if a.lower().startswith("bearer "):
            a = a[7:].strip()
        return a == key

    # -- dispatch
    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_HEAD(self):
        self.dispatch("GET")

    def dispatch(self, method):
        e = self.emu
        with e.lock:
            e.last_request = time.monotonic()
            e.inflight += 1
            e.inflight_max = max(e.inflight_max, e.inflight)
        try:
            body = b""
            if method == "POST":
                body = self.read_body()
                if body is None:
                    self.send_json(413, {"error": "payload too large"})
                    self.close_connection = True
                    return
            self.route(method, body)
        finally:
            with e.lock:
                e.inflight -= 1
                e.last_request = time.monotonic()

    def route(self, method, body):
        e = self.emu
        u = urlsplit(self.path)
        parts = [p for p in u.path.split("/") if p]
        query = parse_qs(u.query)
        if parts and parts[0] == "_emu":
            return self.control(method, parts[1:], body)
        if e.args.local_api:
            return self.route_local(method, parts, body)
        if len(parts) < 3 or parts[0] != "v2":
            with e.lock:
                e.ops["notfound"] += 1
            return self.send_json(404, {"error": "not found"})
        if not self.authorized():
            with e.lock:
                e.ops["unauthorized"] += 1
            return self.send_json(401, {"error": "Unauthorized"})
        if parts[1] != e.args.endpoint:
            with e.lock:
                e.ops["notfound"] += 1
            return self.send_json(404, {"error": "endpoint not found"})
        op = parts[2]
        arg = parts[3] if len(parts) > 3 else None
        lop = LIMITED_OPS.get(op)
        if lop and not e.admit(lop):
            return self.send_json(429, {"error": "rate limited (emulated RunPod limits)"},
                                  {"Retry-After": "1"})
        try:
            return self.route_op(method, op, arg, body, query)
        finally:
            if lop:
                e.release(lop)

    def route_op(self, method, op, arg, body, query):
        e = self.emu
        if method == "POST" and op in ("run", "runsync") and arg is None:
            return self.op_run(op == "runsync", body, query)
        if method == "GET" and op in ("status", "status-sync") and arg:
            return self.op_status(arg, query, op == "status-sync")
        if method == "GET" and op == "stream" and arg:
            return self.op_stream(arg)
        if method == "POST" and op == "cancel" and arg:
            return self.op_cancel(arg)
        if method == "POST" and op == "retry" and arg:
            return self.op_retry(arg)
        if method == "POST" and op == "purge-queue":
            return self.op_purge()
        if method == "GET" and op == "health":
            return self.op_health()
        with e.lock:
            e.ops["notfound"] += 1
        return self.send_json(404, {"error": "unknown operation"})

    # -- runpod-python's local test API (--local-api)
    def route_local(self, method, parts, body):
        e = self.emu
        op = parts[0] if parts else ""
        arg = parts[1] if len(parts) > 1 else None
        known = {("run", False): "POST", ("runsync", False): "POST",
                 ("status", True): "POST", ("stream", True): "POST",
                 ("openapi.json", False): "GET"}
        want = known.get((op, arg is not None)) if len(parts) <= 2 else None
        if want is None:
            with e.lock:
                e.ops["notfound"] += 1
            return self.send_json(404, {"detail": "Not Found"})
        if method != want:
            with e.lock:
                e.ops["notallowed"] += 1
            return self.send_json(405, {"detail": "Method Not Allowed"})
        if op == "openapi.json":
            return self.send_json(200, {"openapi": "3.1.0", "info": {
                "title": "Runpod | Development Worker API"}, "paths": {
                "/run": {}, "/runsync": {}, "/status/{job_id}": {}, "/stream/{job_id}": {}}})
        if op in ("run", "runsync"):
            try:
                req = json.loads(body.decode("utf-8")) if body else None
            except (ValueError, UnicodeDecodeError):
                req = None
            if not isinstance(req, dict) or not isinstance(req.get("input"), dict):
                return self.send_json(422, {"detail": [{"loc": ["body", "input"],
                                                        "msg": "field required",
                                                        "type": "value_error.missing"}]})
            with e.handler_lock:  # a synchronous handler blocks the server
                with e.lock:
                    e.ops["runsync" if op == "runsync" else "run"] += 1
                    inp = req["input"]
                    canon = json.dumps(inp, sort_keys=True)
                    e.runs_by_input[canon] = e.runs_by_input.get(canon, 0) + 1
                    p = inp.get("prompt") if isinstance(inp.get("prompt"), str) else ""
                    e.runs_by_prompt[p] = e.runs_by_prompt.get(p, 0) + 1
                    j = e.new_job(inp, req, False)
                    del e.jobs[j.id]
                    j.id = "test-" + str(uuid.uuid4())
                    e.jobs[j.id] = j
                    e.order[-1] = j.id
                    j.removed = False
            if op == "run":
                return self.send_json(200, {"id": j.id, "status": "IN_PROGRESS"})
            return self.local_handler(j)
        with e.lock:
            e.ops["stream" if op == "stream" else "status"] += 1
            j = e.jobs.get(arg)
            if j is not None:
                j.status_polls += 1
            if j is None or j.removed:
                j = None
            else:
                j.removed = True  # the job is popped before its handler runs
        if j is None:
            return self.send_json(200, {"id": arg, "status": "FAILED",
                                        "error": "Job ID not found"})
        return self.local_handler(j)

    def local_handler(self, j):
        """Run j's handler inside this request, then answer its result."""
        e = self.emu
        with e.handler_lock:
            with e.lock:
                e.handler_runs[j.id] = e.handler_runs.get(j.id, 0) + 1
                j.removed = True
                run = e.fnum(j.opts, "run", e.cfg["run_time"])
            time.sleep(max(0.0, run))
            if "fail" in j.opts:
                msg = j.opts["fail"] if j.opts["fail"] != "1" else "handler failed"
                return self.send_json(200, {"id": j.id, "status": "FAILED", "error": msg})
            out = e.output_for(j)
        text = '{"id": %s, "status": "COMPLETED", "output": %s}' % (json.dumps(j.id), out)
        return self.send_raw(200, text.encode())

    # -- operations
    def op_run(self, sync, body, query):
        e = self.emu
        try:
            req = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            req = None
        limit = (20 if sync else 10) << 20
        if len(body) > limit:
            return self.send_json(413, {"error": "request body too large"})
        if not isinstance(req, dict) or not isinstance(req.get("input"), dict):
            return self.send_json(400, {"error": "body must be a JSON object with an "
                                                 "\"input\" object"})
        inp = req["input"]
        canon = json.dumps(inp, sort_keys=True)
        with e.lock:
            e.ops["runsync" if sync else "run"] += 1
            e.runs_by_input[canon] = e.runs_by_input.get(canon, 0) + 1
            p = inp.get("prompt") if isinstance(inp.get("prompt"), str) else ""
            e.runs_by_prompt[p] = e.runs_by_prompt.get(p, 0) + 1
            opts = e.parse_opts(inp)
            fault = None
            for name in ("run500", "run429", "rundrop"):
                n = e.inum(opts, name, 0)
                key = (canon, name)
                used = e.input_faults.get(key, 0)
                if used < n:
                    e.input_faults[key] = used + 1
                    fault = name
                    break
            if fault is None:
                for name, f in (("fault_run500", "run500"), ("fault_run429", "run429"),
                                ("fault_run_drop", "rundrop")):
                    if e.cfg[name] > 0:
                        e.cfg[name] -= 1
                        fault = f
                        break
            j = None
            if fault in (None, "rundrop"):
                j = e.new_job(inp, req, sync)
        if fault == "run500":
            return self.send_json(500, {"error": "internal server error (emulated)"})
        if fault == "run429":
            return self.send_json(429, {"error": "rate limited (emulated)"},
                                  {"Retry-After": "1"})
        if fault == "rundrop":
            return self.drop()
        # Build the result now, not at the moment the job completes: a burst
        # of completions then costs only their replies (the client's
        # done -> disk latency is what a benchmark measures, not this).
        e.output_for(j)
        if not sync:
            return self.send_json(200, {"id": j.id, "status": "IN_QUEUE"})
        try:
            wait = float(query.get("wait", ["90000"])[0]) / 1000.0
        except ValueError:
            wait = 90.0
        deadline = time.monotonic() + max(0.0, min(wait, 300.0))
        while True:
            with e.lock:
                st = e.state(j, time.monotonic())[0]
            if st in TERMINAL or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        return self.reply_status(j, count_poll=False)

    def reply_status(self, j, count_poll=True):
        e = self.emu
        with e.lock:
            now = time.monotonic()
            st, head, has_out = e.status_head(j, now)
            if st == GONE:
                head = None
            elif st == "COMPLETED" and count_poll and j.first_completed_poll is None:
                j.first_completed_poll = time.time()
            elif (st in ("IN_PROGRESS", "RUNNING") and count_poll and
                  j.first_running_poll is None):
                j.first_running_poll = time.time()
        if head is None:
            return self.send_json(404, {"error": "request does not exist"})
        if has_out and e.shape(j) == "huge":
            return self.send_huge(head, j)
        out = None
        if has_out:
            out = e.output_for(j)  # image generation outside... cached per attempt
        text = json.dumps(head)
        if out is not None:
            text = text[:-1] + ', "output": ' + out + "}"
        body = text.encode()
        with e.lock:
            once = [k for k in ("truncated", "cut", "nonjson") if k in j.opts
                    and k not in j.once_used and count_poll]
            if once:
                j.once_used.add(once[0])
        if once and once[0] == "truncated":
            return self.send_raw(200, body[:max(1, len(body) // 2)])
        if once and once[0] == "cut":
            self.send_raw(200, body[:max(1, len(body) // 2)], length=len(body))
            return self.drop()
        if once and once[0] == "nonjson":
            return self.send_raw(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                                 ctype="text/html")
        return self.send_raw(200, body)

    def send_huge(self, head, j):
        mb = self.emu.inum(j.opts, "huge", 65)
        n = max(1, mb) << 20
        prefix = (json.dumps(head)[:-1] + ', "output": {"images": ["data:image/png;base64,')\
            .encode()
        suffix = b'"]}}'
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(prefix) + n + len(suffix)))
            self.end_headers()
            self.wfile.write(prefix)
            block = b"A" * (1 << 20)
            left = n
            while left > 0:
                k = min(left, len(block))
                self.wfile.write(block[:k])
                left -= k
            self.wfile.write(suffix)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            self.close_connection = True
        self.log_line(200, n)

    def op_status(self, jid, query, sync):
        e = self.emu
        with e.lock:
            mode = e.cfg["status_sync"]
            if sync and mode in ("404", "405"):
                e.ops["notfound"] += 1
                unsupported = int(mode)
            else:
                unsupported = 0
                e.ops["status"] += 1
                if sync:
                    e.ops["status_sync"] += 1
        if unsupported == 405:
            return self.send_json(405, {"detail": "Method Not Allowed"})
        if unsupported:
            return self.send_json(404, {"error": "unknown operation"})
        with e.lock:
            j = e.jobs.get(jid)
            # the global rate limit and fault counters
            rl = e.cfg["rate_limit"]
            limited = False
            if rl and rl > 0:
                sec = int(time.monotonic())
                w, n = e.rate_window
                if w != sec:
                    w, n = sec, 0
                n += 1
                e.rate_window = (w, n)
                limited = n > rl
            fault = None
            if limited:
                fault = "429"
                e.ops["limited"] += 1
            elif e.cfg["fault_status500"] > 0:
                e.cfg["fault_status500"] -= 1
                fault = "500"
            elif e.cfg["fault_status429"] > 0:
                e.cfg["fault_status429"] -= 1
                fault = "429"
            slow = 0.0
            if j is not None:
                j.status_polls += 1
                if sync:
                    j.sync_polls += 1
                k = j.status_polls
                o = j.opts
                slow = e.fnum(o, "slow", 0)
                if fault is None:
                    n429, n500, nreset = (e.inum(o, "http429", 0), e.inum(o, "http500", 0),
                                          e.inum(o, "reset", 0))
                    if k <= n429:
                        fault = "429"
                    elif k <= n429 + n500:
                        fault = "500"
                    elif k <= n429 + n500 + nreset:
                        fault = "reset"
        if slow > 0:
            time.sleep(min(slow, 60.0))
        if fault == "429":
            return self.send_json(429, {"error": "rate limited (emulated)"},
                                  {"Retry-After": "1"})
        if fault == "500":
            return self.send_json(500, {"error": "internal server error (emulated)"})
        if fault == "reset":
            return self.drop()
        if j is None:
            return self.send_json(404, {"error": "request does not exist"})
        if sync and mode != "instant":
            self.hold_status_sync(j, query)
        return self.reply_status(j)

    def hold_status_sync(self, j, query):
        """Hold a status-sync until j is final or its wait (clamped to
        1000..90000 ms like RunPod's) is over, sleeping until the moment the
        job is scheduled to end (a cancel or retry wakes it)."""
        e = self.emu
        try:
            wait = float(query.get("wait", ["90000"])[0]) / 1000.0
        except ValueError:
            wait = 90.0
        deadline = time.monotonic() + max(1.0, min(wait, 90.0))
        with e.cond:
            e.sync_waiting += 1
            e.sync_waiting_max = max(e.sync_waiting_max, e.sync_waiting)
            try:
                while True:
                    now = time.monotonic()
                    st = e.state(j, now)[0]
                    if st in TERMINAL or st == GONE or now >= deadline:
                        return
                    q, r = e.times(j)
                    until = min(deadline, j.t0 + q + r + 0.001)
                    if j.ttl is not None:
                        until = min(until, j.t0 + j.ttl + 0.001)
                    e.cond.wait(max(0.001, until - now))
            finally:
                e.sync_waiting -= 1

    def op_stream(self, jid):
        e = self.emu
        with e.lock:
            e.ops["stream"] += 1
            j = e.jobs.get(jid)
            if j is None:
                st = GONE
            else:
                j.stream_polls += 1
                now = time.monotonic()
                st, step, _ = e.state(j, now)
        if j is None or st == GONE:
            return self.send_json(404, {"error": "request does not exist"})
        chunks = []
        with e.lock:
            if st in ("IN_PROGRESS", "RUNNING"):
                while j.stream_sent <= step:
                    chunks.append({"output": e.progress_value(j, j.stream_sent)})
                    j.stream_sent += 1
            final = st == "COMPLETED" and not j.final_sent
            if final:
                j.final_sent = True
        body = json.dumps({"status": st, "stream": chunks})
        if final and e.shape(j) != "huge":
            out = e.output_for(j)
            if out is not None:
                body = body[:-2] + (", " if chunks else "") + '{"output": ' + out + "}]}"
        return self.send_raw(200, body.encode())

    def op_cancel(self, jid):
        e = self.emu
        with e.lock:
            e.ops["cancel"] += 1
            j = e.jobs.get(jid)
            if j is not None:
                j.cancel_count += 1
                now = time.monotonic()
                st = e.state(j, now)[0]
                if st != GONE and st not in TERMINAL:
                    j.cancelled_at = now
                    e.cond.notify_all()
                st, head, _ = e.status_head(j, now)
        if j is None or st == GONE:
            return self.send_json(404, {"error": "request does not exist"})
        head.pop("output", None)
        head.pop("error", None)
        return self.send_json(200, head)

    def op_retry(self, jid):
        e = self.emu
        with e.lock:
            e.ops["retry"] += 1
            j = e.jobs.get(jid)
            st = GONE if j is None else e.state(j, time.monotonic())[0]
            ok = st in ("FAILED", "TIMED_OUT")
            if ok:
                j.attempt += 1
                j.t0 = time.monotonic()
                j.t0_wall = time.time()
                j.cancelled_at = None
                e.schedule(j)
                e.cond.notify_all()
                j.stream_sent = 0
                j.final_sent = False
                j.first_completed_poll = None
                e.retried += 1
        if st == GONE:
            return self.send_json(404, {"error": "request does not exist"})
        if not ok:
            return self.send_json(400, {"error": "job %s cannot be retried: its status is %s "
                                                 "(only FAILED or TIMED_OUT)" % (jid, st)})
        return self.send_json(200, {"id": jid, "status": "IN_QUEUE"})

    def op_purge(self):
        e = self.emu
        n = 0
        with e.lock:
            e.ops["purge"] += 1
            now = time.monotonic()
            for j in e.jobs.values():
                if e.state(j, now)[0] in ("IN_QUEUE", "WARMING_UP"):
                    if e.args.purge_gone:
                        j.removed = True
                    else:
                        j.cancelled_at = now
                    n += 1
            e.cond.notify_all()
        return self.send_json(200, {"removed": n, "status": "completed"})

    def op_health(self):
        e = self.emu
        with e.lock:
            e.ops["health"] += 1
            if e.cfg["fault_health500"] > 0:
                e.cfg["fault_health500"] -= 1
                h = None
            else:
                h = e.health()
        if h is None:
            return self.send_json(500, {"error": "internal server error (emulated)"})
        return self.send_json(200, h)

    # -- control
    def control(self, method, parts, body):
        e = self.emu
        what = parts[0] if parts else ""
        if method == "GET" and what == "stats":
            with e.lock:
                s = e.stats()
            return self.send_json(200, s)
        if method == "GET" and what == "jobs":
            with e.lock:
                now = time.monotonic()
                lst = [{"id": j.id, "status": e.state(j, now)[0], "input": j.input,
                        "opts": j.opts, "attempt": j.attempt, "seed": j.seed,
                        "size": list(j.size), "count": j.count, "shape": e.shape(j)}
                       for j in (e.jobs[i] for i in e.order)]
            return self.send_json(200, lst)
        if method == "GET" and what == "img" and len(parts) == 2:
            with e.lock:
                e.ops["img"] += 1
            m = re.match(r"^(.+)-(\d+)\.(png|jpg)$", parts[1])
            j = e.jobs.get(m.group(1)) if m else None
            if j is None or int(m.group(2)) >= j.count:
                return self.send_json(404, {"error": "no such image"})
            data, ext = e.image_bytes(j, int(m.group(2)))
            return self.send_raw(200, data, ctype="image/jpeg" if ext == "jpg" else "image/png")
        if method == "POST" and what == "set":
            try:
                obj = json.loads(body.decode() or "{}")
            except (ValueError, UnicodeDecodeError):
                obj = None
            if not isinstance(obj, dict):
                return self.send_json(400, {"error": "body must be a JSON object"})
            bad = [k for k in obj if k not in e.cfg]
            if bad:
                return self.send_json(400, {"error": "unknown settings: " + ", ".join(bad)})
            with e.lock:
                e.cfg.update(obj)
                cfg = dict(e.cfg)
            return self.send_json(200, cfg)
        if method == "POST" and what == "reset":
            with e.lock:
                e.reset()
            return self.send_json(200, {"ok": True})
        if method == "POST" and what == "shutdown":
            self.send_json(200, {"ok": True})
            self.close_connection = True
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return None
        return self.send_json(404, {"error": "unknown control request"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # Broken pipes and resets are normal here; anything else goes to stderr.
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, socket.timeout)):
            return
        if not Handler.emu.args.quiet:
            super().handle_error(request, client_address)


def parse_size(s):
    m = re.match(r"^(\d+)x(\d+)$", s)
    if not m:
        raise argparse.ArgumentTypeError("expected WxH, e.g. 64x64")
    return (max(1, min(512, int(m.group(1)))), max(1, min(512, int(m.group(2)))))


def main():
    ap = argparse.ArgumentParser(description="RunPod serverless endpoint emulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--key")
    ap.add_argument("--endpoint", default="test")
    ap.add_argument("--idle-exit", type=float, default=120)
    ap.add_argument("--max-lifetime", type=float, default=1800)
    ap.add_argument("--queue-time", type=float, default=1.0)
    ap.add_argument("--run-time", type=float, default=2.0)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--progress", default="str", choices=PROGRESS_SHAPES + ("mix",))
    ap.add_argument("--shape", default="sdxl", choices=SHAPES)
    ap.add_argument("--seed-base", type=int, default=1000)
    ap.add_argument("--image-size", type=parse_size, default=(64, 64))
    ap.add_argument("--expire", type=float, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=0)
    ap.add_argument("--throttled", type=int, default=0)
    ap.add_argument("--unhealthy", type=int, default=0)
    ap.add_argument("--initializing", type=int, default=0)
    ap.add_argument("--rate-limit", type=int, default=0)
    ap.add_argument("--runpod-limits", action="store_true")
    ap.add_argument("--fault-run500", type=int, default=0)
    ap.add_argument("--fault-run429", type=int, default=0)
    ap.add_argument("--fault-run-drop", type=int, default=0)
    ap.add_argument("--fault-status500", type=int, default=0)
    ap.add_argument("--fault-status429", type=int, default=0)
    ap.add_argument("--fault-health500", type=int, default=0)
    ap.add_argument("--purge-gone", action="store_true")
    ap.add_argument("--local-api", action="store_true")
    ap.add_argument("--status-sync", default="wait", choices=("wait", "404", "405", "instant"))
    ap.add_argument("--log")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    emu = Emulator(args)
    Handler.emu = emu
    srv = Server(("127.0.0.1", args.port), Handler)
    emu.port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp%d" % os.getpid()
        with open(tmp, "w") as f:
            f.write("%d\n" % emu.port)
        os.rename(tmp, args.port_file)
    sys.stdout.write("PORT %d\n" % emu.port)
    sys.stdout.flush()
    if not args.quiet:
        sys.stderr.write("emulator: http://127.0.0.1:%d%s (pid %d)\n"
                         % (emu.port, "" if args.local_api else "/v2/" + args.endpoint,
                            os.getpid()))

    def watchdog():
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with emu.lock:
                idle = now - emu.last_request
                busy = emu.inflight > 0
            if (idle > args.idle_exit and not busy) or now - emu.started > args.max_lifetime:
                if not args.quiet:
                    sys.stderr.write("emulator: %s, exiting\n" % (
                        "idle" if idle > args.idle_exit else "max lifetime reached"))
                srv.shutdown()
                return

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
