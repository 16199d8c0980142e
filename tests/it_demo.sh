#!/bin/sh
# it_demo.sh: `sdq demo` leaves nothing behind. The dashboard runs on a pty
# (a small Python driver below) against the demo's own emulator, made slow
# (queue time 600 s) so that jobs are still live when the demo ends, and the
# demo is ended each way a user ends it: the terminal closed (the pty master
# closed: SIGHUP), SIGTERM, `q` with live jobs, and a crash (SIGKILL) of the
# emulator. A second shell joins the running demo (sdq demo submit, and
# eval "$(sdq demo env)"), and is told when that demo has ended. Also the one-shot `sdq demo submit` without --wait (the job is
# finished, not lost), and the sweep of a dead demo's directory (one whose
# lock is free) that leaves a running demo's directory alone.
# After each: no sdq-demo-* directory, the emulator gone, and no process
# running this test's copy of sdq (no detached `sdq driver`).
# Every wait is bounded. Last line: "it_demo: N passed, N failed".
set -u
PY=/usr/bin/python3
SDQ=${SDQ_BIN:-$PWD/build/sdq}
TESTS=${SDQ_TESTS_DIR:-$PWD/tests}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/it_demo.XXXXXX")
pass=0 fail=0
# A private copy: the shared build directory may be relinked while this runs,
# and any process still running this copy is one the demo left behind.
cp "$SDQ" "$tmp/sdq" && SDQ="$tmp/sdq"
# The demos' directories go under here.
export XDG_RUNTIME_DIR="$tmp/run"
mkdir -p "$XDG_RUNTIME_DIR"
unset SDQ_DATA_DIR SDQ_CONFIG SDQ_ENDPOINT RUNPOD_API_KEY SDQ_DEMO
# The emulator, slow, writing its pid (the same after exec) to emu.pid.
cat >"$tmp/slow_emu.py" <<EOF
import os, sys
open("$tmp/emu.pid", "w").write(str(os.getpid()))
os.execv(sys.executable, [sys.executable, "$TESTS/emulator.py"] + sys.argv[1:] +
         ["--queue-time", "600"])
EOF
export SDQ_EMULATOR="$tmp/slow_emu.py"

# pty.py MODE OUT: run `sdq demo` (the dashboard) on a pty, wait for it to
# draw, submit a job into it (from outside, as a second shell would), then
# end it by MODE (hup, term, q, emukill) and wait (bounded) for it to exit.
# Writes everything the terminal got to OUT; exit status: the demo's, or 124
# when it did not end.
cat >"$tmp/pty.py" <<'EOF'
import fcntl, os, re, signal, struct, subprocess, sys, termios, time
sdq, mode, out, tmp = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
pid, fd = os.forkpty()
if pid == 0:
    os.environ["TERM"] = "xterm-256color"
    os.execv(sdq, [sdq, "demo"])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
buf = b""
def pump(secs, until=None):
    global buf
    end = time.time() + secs
    while time.time() < end:
        if until and until(buf):
            return True
        import select
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                d = os.read(fd, 65536)
            except OSError:
                return False
            if not d:
                return False
            buf += d
    return until(buf) if until else True
def finish(rc):
    open(out, "wb").write(buf)
    sys.exit(rc)
ok = pump(60, lambda b: re.search(rb"data in (\S+)\r?\n", b) and b"\x1b[" in b)
m = re.search(rb"emulator on 127\.0\.0\.1:(\d+), data in (\S+)\r?\n", buf)
if not ok or not m:
    os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0); finish(125)
port, ddir = m.group(1).decode(), m.group(2).decode()
open(tmp + "/demo.dir", "w").write(ddir)
# A second shell: sdq demo submit joins the running demo...
r = subprocess.run([sdq, "demo", "submit", "-p", "a live job"], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, timeout=60)
open(tmp + "/join.err", "wb").write(r.stderr)
# ... and so does any command after eval "$(sdq demo env)" (q only).
if mode == "q":
    r = subprocess.run(["sh", "-c", 'eval "$("$0" demo env)" && "$0" submit -p "a second job"'
                        ' && echo "$SDQ_DATA_DIR"', sdq], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    open(tmp + "/env.out", "wb").write(r.stdout)
pump(1)
if mode == "hup":
    os.close(fd); fd = -1
elif mode == "term":
    os.kill(pid, signal.SIGTERM)
elif mode == "q":
    os.write(fd, b"q")
elif mode == "emukill":
    os.kill(int(open(tmp + "/emu.pid").read()), signal.SIGKILL)
status = None
end = time.time() + 60
while time.time() < end:
    if fd >= 0:
        pump(0.2)
    else:
        time.sleep(0.2)
    w, st = os.waitpid(pid, os.WNOHANG)
    if w == pid:
        status = st
        break
if status is None:
    os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0); finish(124)
if fd >= 0:
    pump(0.5)
finish(os.waitstatus_to_exitcode(status) & 0xff)
EOF

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
	d=$1; shift
	if "$@"; then ok; else bad "$d"; fi
}
# The pids of processes running this test's copy of sdq.
sdq_pids() {
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$SDQ" ] && echo "${p#/proc/}"
	done
}
cleanup() {
	for p in $(sdq_pids); do kill -9 "$p" 2>/dev/null; done
	[ -s "$tmp/emu.pid" ] && kill -9 "$(cat "$tmp/emu.pid")" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Wait (bounded: 10 s) until nothing of the demo is left, then check it.
no_leftovers() { # NAME
	n=0
	while [ $n -lt 50 ]; do
		[ -z "$(sdq_pids)" ] && ! ls "$XDG_RUNTIME_DIR" | grep -q sdq-demo &&
			! kill -0 "$(cat "$tmp/emu.pid" 2>/dev/null || echo 999999999)" 2>/dev/null && break
		sleep 0.2; n=$((n + 1))
	done
	check "$1: no demo directory left" sh -c "! ls '$XDG_RUNTIME_DIR' | grep -q sdq-demo"
	check "$1: no sdq process left (no detached driver)" test -z "$(sdq_pids)"
	check "$1: the emulator is gone" sh -c "! kill -0 \$(cat '$tmp/emu.pid') 2>/dev/null"
	for p in $(sdq_pids); do kill -9 "$p" 2>/dev/null; done
	rm -rf "$XDG_RUNTIME_DIR"/sdq-demo-*
}
# The terminal's text, escape sequences left out.
plain() { sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$1" | tr -d '\r'; }

for mode in hup term q emukill; do
	rm -f "$tmp/emu.pid"
	$PY "$tmp/pty.py" "$SDQ" "$mode" "$tmp/$mode.out" "$tmp"; rc=$?
	mv "$tmp/demo.dir" "$tmp/$mode.dir" 2>/dev/null
	check "$mode: the demo started and ended by itself (exit $rc)" sh -c "[ $rc -ne 124 ] && [ $rc -ne 125 ]"
	[ "$mode" = q ] && check "q: exit 0" test $rc = 0
	no_leftovers "$mode"
	plain "$tmp/$mode.out" >"$tmp/$mode.txt"
	check "$mode: no 'cannot remove'" sh -c "! grep -q 'cannot remove' '$tmp/$mode.txt'"
	check "$mode: no promise of a next start" sh -c "! grep -q 'picked up' '$tmp/$mode.txt'"
done
check "q: says the live jobs end with the demo" grep -q "2 live jobs end with the demo" "$tmp/q.txt"
check "q: says how another shell joins" grep -q 'eval "$(sdq demo env)"' "$tmp/q.txt"
check "sdq demo submit joined the running demo" grep -q "joining the demo running in" "$tmp/join.err"
check "eval \"\$(sdq demo env)\" pointed SDQ_DATA_DIR at the demo" \
	test "$(sed -n 2p "$tmp/env.out")" = "$(cat "$tmp/q.dir")"
# A shell still pointed at the ended demo is told so, and nothing is created.
SDQ_DEMO=$(cat "$tmp/q.dir") SDQ_DATA_DIR=$(cat "$tmp/q.dir") "$SDQ" ls >/dev/null 2>"$tmp/e"; rc=$?
check "a command in a shell joined to an ended demo exits 1" test $rc = 1
check "... and says the demo has ended" grep -q "has ended" "$tmp/e"
check "... and creates nothing" test ! -e "$(cat "$tmp/q.dir")"
"$SDQ" demo env >"$tmp/o" 2>"$tmp/e"; rc=$?
check "sdq demo env with no demo running exits 1" test $rc = 1
check "... and says how to start one" grep -q "no demo is running" "$tmp/e"
check "emukill: says the emulator stopped" grep -q "the emulator stopped" "$tmp/emukill.txt"

# --- sdq demo submit without --wait: the job is finished, not lost
rm -f "$tmp/emu.pid"
export SDQ_EMULATOR="$TESTS/emulator.py"
timeout 120 "$SDQ" demo submit -p "a red fox" >"$tmp/o" 2>"$tmp/e"; rc=$?
check "demo submit (no --wait) exits 0" test $rc = 0
check "demo submit prints the id then the image path" sh -c "sed -n 2p '$tmp/o' | grep -q '\.png\$'"
check "demo submit says it waits for the job" grep -q "waiting for 1 live job" "$tmp/e"
n=0
while [ -n "$(sdq_pids)" ] && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
check "submit: no demo directory left" sh -c "! ls '$XDG_RUNTIME_DIR' | grep -q sdq-demo"
check "submit: no sdq process left (no detached driver)" test -z "$(sdq_pids)"

# --- the demo's pictures are a sensible size, not the emulator's 64x64 stamp
timeout 120 "$SDQ" demo --keep submit --wait -p "a sized picture" >"$tmp/o" 2>"$tmp/e"; rc=$?
check "demo --keep submit --wait exits 0" test $rc = 0
png=$(grep '\.png$' "$tmp/o" | head -1)
check "the demo's image is 512 pixels wide" sh -c "[ \"\$(od -An -tu1 -j16 -N4 '$png' | tr -d ' \n')\" = 0020 ]"
kept=$(sed -n 's/.*kept \([^ ]*\) (.*/\1/p' "$tmp/e")
[ -n "$kept" ] && [ -d "$kept" ] && rm -rf "$kept"
check "... and the kept directory is cleaned up" test -n "$kept"

# --- a dead demo's directory is swept; a running one's is not
mkdir -p "$XDG_RUNTIME_DIR/sdq-demo-$(id -u)-dead01"
: >"$XDG_RUNTIME_DIR/sdq-demo-$(id -u)-dead01/demo.lock"
live="$XDG_RUNTIME_DIR/sdq-demo-$(id -u)-live01"
mkdir -p "$live"
: >"$live/demo.lock"
touch -d '1 hour ago' "$XDG_RUNTIME_DIR/sdq-demo-$(id -u)-dead01" "$live"
# Hold the live one's lock as a running demo does (flock, for 60 s at most).
$PY -c 'import fcntl, sys, time
f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(60)' "$live/demo.lock" &
holder=$!
n=0
while flock -n "$live/demo.lock" true && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
timeout 120 "$SDQ" demo ls >/dev/null 2>"$tmp/e"
check "a dead demo's directory is removed" test ! -e "$XDG_RUNTIME_DIR/sdq-demo-$(id -u)-dead01"
check "a running demo's directory is left alone" test -d "$live"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

# --- README's quick start works as root (no sudo) and as a user (sudo)
README=${SDQ_TESTS_DIR:-$PWD/tests}/../README.md
awk '/^## Quick start/{q=1} q && /^```sh/{f=1; next} f && /^```/{exit} f' "$README" >"$tmp/qs.sh"
check "README's quick start has two lines" test "$(wc -l <"$tmp/qs.sh")" = 2
mkdir -p "$tmp/stubs" "$tmp/qs"
for c in apt-get make; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/qs.log"\n' "$c" "$tmp" >"$tmp/stubs/$c"
done
printf '#!/bin/sh\necho 0\n' >"$tmp/stubs/id"
printf '#!/bin/sh\necho "sudo $*" >>"%s/qs.log"; exec "$@"\n' "$tmp" >"$tmp/sudo"
printf '#!/bin/sh\necho "./sdq $*" >>"%s/qs.log"\n' "$tmp" >"$tmp/qs/sdq"
chmod +x "$tmp/stubs/"* "$tmp/sudo" "$tmp/qs/sdq"
# As root on a fresh machine: no sudo anywhere (as if pasted line by line).
(cd "$tmp/qs" && PATH="$tmp/stubs" /bin/sh "$tmp/qs.sh") >/dev/null 2>&1
check "quick start without sudo: apt-get update, install, make, ./sdq demo" \
	test "$(cut -d' ' -f1-2 "$tmp/qs.log" 2>/dev/null | tr '\n' ,)" = "apt-get update,apt-get install,make ,./sdq demo,"
rm -f "$tmp/qs.log"
# As a user: through sudo.
mkdir -p "$tmp/stubs2" && cp "$tmp/stubs/"* "$tmp/sudo" "$tmp/stubs2/"
printf '#!/bin/sh\necho 1000\n' >"$tmp/stubs2/id"
(cd "$tmp/qs" && PATH="$tmp/stubs2" /bin/sh "$tmp/qs.sh") >/dev/null 2>&1
check "quick start with sudo: apt-get goes through sudo" \
	test "$(grep -c '^sudo apt-get' "$tmp/qs.log" 2>/dev/null)" = 2

echo "it_demo: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
