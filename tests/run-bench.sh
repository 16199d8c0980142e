#!/bin/sh
# make bench: runs every benchmark program and script; each prints its figures.
set -u
BUILD=${BUILD:-build}
export SDQ_BIN=${SDQ_BIN:-$PWD/$BUILD/sdq} BUILD SDQ_TESTS_DIR="$PWD/tests"
top=$(mktemp -d "${TMPDIR:-/tmp}/sdq-bench.XXXXXX")
trap 'rm -rf "$top"' EXIT INT TERM
for b in "$BUILD"/tests/bench_* tests/bench_*.sh; do
	[ -e "$b" ] || continue
	case $b in *.c) continue ;; esac
	name=$(basename "$b"); dir="$top/$name"; mkdir -p "$dir/home" "$dir/tmp"
	echo "== $name"
	case $b in
	*.sh) HOME="$dir/home" TMPDIR="$dir/tmp" XDG_DATA_HOME="$dir/home/.local/share" \
		XDG_CONFIG_HOME="$dir/home/.config" sh "$b" ;;
	*) HOME="$dir/home" TMPDIR="$dir/tmp" XDG_DATA_HOME="$dir/home/.local/share" \
		XDG_CONFIG_HOME="$dir/home/.config" "$b" ;;
	esac
done
