#!/bin/sh
# Runs every test program and test script, then prints the total as the last
# line: "N passed, N failed". Each test prints its own "NAME: N passed, N failed"
# line; a test that dies without printing one counts as one failure. Each
# test's line ends with its wall time, and the five slowest are listed before
# the total.
# Environment: SDQ_BIN (the sdq binary), BUILD (the build directory).
set -u
BUILD=${BUILD:-build}
SDQ_BIN=${SDQ_BIN:-$PWD/$BUILD/sdq}
export SDQ_BIN BUILD
export SDQ_TESTS_DIR="$PWD/tests"
top=$(mktemp -d "${TMPDIR:-/tmp}/sdq-tests.XXXXXX")
trap 'rm -rf "$top"' EXIT INT TERM
# Nothing a test does may touch the user's real files or a real endpoint.
unset RUNPOD_API_KEY SDQ_ENDPOINT SDQ_CONFIG
export NO_COLOR=
unset NO_COLOR
passed=0 failed=0
: >"$top/times"
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# "12.3 s" for a duration in ms
secs() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }
run_one() {
	name=$1; shift
	dir="$top/$name"; mkdir -p "$dir/home" "$dir/tmp"
	out="$dir/out"
	t0=$(now_ms)
	HOME="$dir/home" TMPDIR="$dir/tmp" XDG_DATA_HOME="$dir/home/.local/share" \
	XDG_CONFIG_HOME="$dir/home/.config" XDG_RUNTIME_DIR="$dir/tmp" \
		timeout -k 5 600 "$@" >"$out" 2>"$dir/err" </dev/null
	rc=$?
	ms=$(($(now_ms) - t0))
	echo "$ms $name" >>"$top/times"
	line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/')
		f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/')
	else
		p=0 f=1
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)); failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		echo "FAILED $name (exit $rc, $(secs "$ms")): ${line:-no result line}"
		sed 's/^/    /' "$dir/err" | tail -n 40
		tail -n 20 "$out" | sed 's/^/    out| /'
	else
		echo "ok     $name: $p passed ($(secs "$ms"))"
	fi
}
for t in "$BUILD"/tests/test_* "$BUILD"/tests/tui_*; do
	[ -x "$t" ] || continue
	# a binary left in the build directory by a test since renamed or removed
	n=$(basename "$t")
	[ -f "tests/$n.c" ] || [ -f "tests/fuzz_${n#test_fuzz_}.c" ] || continue
	run_one "$(basename "$t")" "$t"
done
for t in tests/it_*.sh; do
	[ -f "$t" ] || continue
	run_one "$(basename "$t" .sh)" sh "$t"
done
echo "slowest:"
sort -rn "$top/times" | head -n 5 | while read -r ms name; do
	echo "  $(secs "$ms")  $name"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
