# th.sh: what the shell tests share (tests/th.h is the C tests' harness).
# Sourced right after `set -u`, then th_init names the test:
#
#	. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
#	th_init it_name
#	...
#	th_end
#
# It sets PY, SDQ (the binary under test), TESTS, EMU (tests/emulator.py),
# pass/fail; th_init makes $tmp (removed at exit) and the exit trap. The trap
# ends what the test started, by pid only: first th_cleanup_more when the
# test defines it, then the drivers of the data dirs in $th_data_dirs, then
# the emulators th_emu started ($emu_pids). Every wait here is bounded.
# th_end prints the test's last line, "NAME: N passed, N failed", and is the
# script's exit status.

PY=/usr/bin/python3
SDQ=${SDQ_BIN:-$PWD/build/sdq}
TESTS=${SDQ_TESTS_DIR:-$PWD/tests}
EMU="$TESTS/emulator.py"
pass=0 fail=0
emu_pid= emu_pids= th_data_dirs= th_name=th tmp=

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
	d=$1; shift
	if "$@"; then ok; else bad "$d"; fi
}
# jcheck FILE EXPR: EXPR (Python, the JSON as j) is true
jcheck() { $PY -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null; }
# jget FILE EXPR: print EXPR
jget() { $PY -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
# driver_pid DATA_DIR: the pids of the drivers holding that data dir's locks
# (a test may define its own driver_pid; the exit trap uses th_driver_pids)
th_driver_pids() {
	SDQ_DATA_DIR=$1 "$SDQ" driver --status 2>/dev/null | sed -n 's/.*pid \([0-9][0-9]*\).*/\1/p'
}
driver_pid() { th_driver_pids "$1"; }
# wait_for COMMAND...: until COMMAND succeeds, at most 300 x 0.1 s
wait_for() {
	th_n=0
	while [ $th_n -lt 300 ]; do
		"$@" && return 0
		sleep 0.1; th_n=$((th_n + 1))
	done
	return 1
}

th_cleanup() {
	if command -v th_cleanup_more >/dev/null 2>&1; then th_cleanup_more; fi
	for th_d in $th_data_dirs; do
		[ -d "$th_d" ] || continue
		for th_p in $(th_driver_pids "$th_d"); do kill "$th_p" 2>/dev/null; done
	done
	for th_p in $emu_pids; do kill "$th_p" 2>/dev/null; done
	[ -n "$tmp" ] && rm -rf "$tmp"
}

# th_init NAME: $tmp, the exit trap
th_init() {
	th_name=$1
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap th_cleanup EXIT
	trap 'exit 1' INT TERM
}

# th_copy_sdq: run a private copy of the binary (the shared build directory
# may be relinked while the test runs)
th_copy_sdq() { cp "$SDQ" "$tmp/sdq" && SDQ="$tmp/sdq"; }

# th_emu NAME ARGS...: start the emulator on 127.0.0.1 (--port 0, --key $KEY,
# then ARGS), its stderr in $tmp/NAME.err; wait (at most 300 x 0.1 s) for its
# port: PORT is set (empty if it did not start), emu_pid is its pid.
th_emu() {
	th_e=$1; shift
	$PY "$EMU" --port 0 --port-file "$tmp/$th_e.port" --key "$KEY" "$@" \
		>/dev/null 2>"$tmp/$th_e.err" &
	emu_pid=$!
	emu_pids="$emu_pids $emu_pid"
	th_n=0
	while [ ! -s "$tmp/$th_e.port" ] && [ $th_n -lt 300 ]; do sleep 0.1; th_n=$((th_n + 1)); done
	PORT=$(cat "$tmp/$th_e.port" 2>/dev/null)
}

# emu_stats PORT EXPR: EXPR over that emulator's /_emu/stats (as j)
emu_stats() {
	$PY -c 'import json,sys,urllib.request as u
j=json.load(u.urlopen("http://127.0.0.1:%s/_emu/stats" % sys.argv[1], timeout=10))
print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

th_end() {
	echo "$th_name: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
