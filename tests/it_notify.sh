#!/bin/sh
# it_notify.sh: `sdq wait --notify` rings the terminal's bell and sends one
# desktop notification (OSC 9 or OSC 777, wrapped for tmux) for all the jobs
# it waited for: the bytes are read back from the pty `script` gives it.
# Jobs run on the endpoint emulator on 127.0.0.1; a prompt holding escape
# sequences must not get out of the OSC. The dashboard, with [ui] notify =
# on, sends one notification per batch of jobs.
# Last line: "it_notify: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_notify
KEY=test-key-123
th_copy_sdq
dash_pid=
th_cleanup_more() { [ -n "$dash_pid" ] && kill "$dash_pid" 2>/dev/null; }
th_data_dirs="$tmp/data"
# has FILE PYTHON-BYTES: the file holds these bytes
has() { $PY -c 'import sys; sys.exit(0 if eval(sys.argv[2]) in open(sys.argv[1],"rb").read() else 1)' "$1" "$2"; }
# count FILE PYTHON-BYTES: how many times
count() { $PY -c 'import sys; print(open(sys.argv[1],"rb").read().count(eval(sys.argv[2])))' "$1" "$2"; }

th_emu emu --idle-exit 120 --max-lifetime 300 \
	--quiet --queue-time 0.2 --run-time 0.3
check "emulator started" test -n "$PORT"
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/config" RUNPOD_API_KEY=$KEY
export SDQ_ENDPOINT="http://127.0.0.1:$PORT/v2/test"
unset TMUX STY TERM_PROGRAM VTE_VERSION KITTY_WINDOW_ID WT_SESSION
export TERM=xterm-256color
: >"$tmp/config"

# under_pty CMD: run the sdq command line CMD with a pty as its terminal;
# what it wrote to the terminal goes to $tmp/tty
under_pty() {
	script -qec "$1" /dev/null >"$tmp/tty" 2>&1 </dev/null
}

a=$("$SDQ" submit -p "a red fox" 2>"$tmp/e") || bad "submit: $(cat "$tmp/e")"
b=$("$SDQ" submit -p "a blue owl" 2>"$tmp/e") || bad "submit: $(cat "$tmp/e")"
under_pty "'$SDQ' wait --notify $a $b"
check "wait --notify: one bell before the OSC" has "$tmp/tty" "b'\\a\\x1b]9;sdq: 2 jobs: 2 COMPLETED\\x1b\\\\'"
check "wait --notify: one notification for two jobs" test "$(count "$tmp/tty" "b'\\x1b]9;'")" = 1
check "wait --notify: the images are printed too" grep -q "\.png" "$tmp/tty"

under_pty "'$SDQ' wait $a"
check "wait without --notify: no OSC 9" test "$(count "$tmp/tty" "b'\\x1b]9;'")" = 0

# [ui] notify picks the kind; inside tmux it goes through passthrough; a
# prompt with escape sequences stays inside the OSC
printf '[ui]\n\tnotify = osc777\n' >"$tmp/config"
c=$("$SDQ" submit -p "$(printf 'evil\033]0;title\007\033\\;x')" 2>"$tmp/e") || bad "submit: $(cat "$tmp/e")"
TMUX=/tmp/fake,1,0 under_pty "'$SDQ' wait --notify $c"
check "tmux: the OSC 777 wrapped, the bell not" \
	has "$tmp/tty" "b'\\a\\x1bPtmux;\\x1b\\x1b]777;notify;sdq;job $c COMPLETED: evil^[]0,title^G^[\\\\,x\\x1b\\x1b\\\\\\x1b\\\\'"
check "the prompt's escapes are shown, not sent" test "$(count "$tmp/tty" "b'\\x1b]0;'")" = 0

# notify = off in the config: --notify still notifies (asked for)
printf '[ui]\n\tnotify = off\n' >"$tmp/config"
under_pty "'$SDQ' wait --notify $a"
check "notify = off: wait --notify still tells" has "$tmp/tty" "b'\\a\\x1b]9;sdq: job $a COMPLETED: a red fox\\x1b\\\\'"
printf '[ui]\n\tnotify = loud\n' >"$tmp/config"
"$SDQ" ls >/dev/null 2>"$tmp/e"
check "a bad notify value is refused, naming the values" grep -q "off, on, bell, osc9 or osc777" "$tmp/e"
: >"$tmp/config"
"$SDQ" wait --notify "$a" </dev/null >"$tmp/o" 2>&1
check "no terminal: no escape bytes in the output" test "$(count "$tmp/o" "b'\\x1b'")" = 0

# The dashboard: notify = on in the config; two batches (4 jobs, then 1)
# give two notifications, not one per job. The first job of the first batch
# runs 4 s, so the other three join it however slowly they are submitted. It runs under `script` (a pty);
# its keys come through a fifo.
printf '[ui]\n\tnotify = on\n' >"$tmp/config"
mkfifo "$tmp/keys"
TERM=xterm-256color script -qec "stty cols 100 rows 30; exec '$SDQ'" /dev/null <"$tmp/keys" \
	>"$tmp/dash" 2>&1 &
dash_pid=$!
exec 3>"$tmp/keys"
# osc9 COUNT: wait (bounded) until the dashboard wrote COUNT OSC 9 notifications
osc9() {
	n=0
	while [ $n -lt 300 ]; do
		[ "$(count "$tmp/dash" "b'\\x1b]9;'")" -ge "$1" ] && return 0
		sleep 0.1; n=$((n + 1))
	done
	return 1
}
# ready when it shows the jobs of the tests above (what ended before the
# dashboard looked is not told)
n=0
while ! grep -q COMPLETED "$tmp/dash" 2>/dev/null && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
d0=$("$SDQ" submit -p "dash hold [[run=4]]" 2>>"$tmp/e")
d1=$("$SDQ" submit -p "dash one" 2>>"$tmp/e") d2=$("$SDQ" submit -p "dash two" 2>>"$tmp/e")
d3=$("$SDQ" submit -p "dash three" 2>>"$tmp/e")
check "dashboard: one notification for a batch of four" osc9 1
check "dashboard: it sums the batch up" has "$tmp/dash" "b'\\a\\x1b]9;sdq: 4 jobs: 4 COMPLETED\\x1b\\\\'"
d4=$("$SDQ" submit -p "dash four" 2>>"$tmp/e")
check "dashboard: the next batch gets its own" osc9 2
check "dashboard: a batch of one names its job" has "$tmp/dash" "b'\\x1b]9;sdq: job $d4 COMPLETED: dash four\\x1b\\\\'"
printf 'q' >&3
n=0
while kill -0 "$dash_pid" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
kill "$dash_pid" 2>/dev/null
exec 3>&-
check "dashboard: two batches, two notifications (not one per job)" test "$(count "$tmp/dash" "b'\\x1b]9;'")" = 2

th_end
