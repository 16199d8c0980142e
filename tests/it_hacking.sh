#!/bin/sh
# it_hacking.sh: HACKING.md stays true. Every `file:function` it names (in
# backquotes, e.g. `core/engine.c:engine_submit_opts`) must name a file of the
# repository that defines that function (C: a line that starts the definition,
# not a call or a prototype; shell: NAME() {; Python: def NAME), every file
# path it names in backquotes must exist, and the trail of a job must have
# its hops. Run by tests/run-tests.sh from the top of the repository.
set -u
DOC=${HACKING_MD:-HACKING.md}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

if [ ! -f "$DOC" ]; then
	bad "$DOC is missing"
	echo "it_hacking: $pass passed, $fail failed"
	exit 1
fi

# Defines $2 in $1? C: the name at the start of a line or after the return
# type, followed by '(', on a line that does not end in ';' (a prototype).
defines() {
	case $1 in
	*.c | *.h)
		grep -Eq "^([A-Za-z_][A-Za-z0-9_ \*]*[ \*])?$2\(([^;]*[^;])?\$" "$1" ;;
	*.sh) grep -Eq "^[[:space:]]*$2[[:space:]]*\(\)" "$1" ;;
	*.py) grep -Eq "^[[:space:]]*def $2\(" "$1" ;;
	*) return 1 ;;
	esac
}

hops=$(grep -oE '`[A-Za-z0-9_./-]+\.(c|h|sh|py):[A-Za-z_][A-Za-z0-9_]*`' "$DOC" | tr -d '`' |
	sort -u)
n=0
for h in $hops; do
	n=$((n + 1))
	f=${h%%:*} fn=${h#*:}
	if [ ! -f "$f" ]; then
		bad "$h: no file $f"
	elif defines "$f" "$fn"; then
		ok
	else
		bad "$h: $f does not define $fn"
	fi
done
# A map with only a handful of names is not the trail.
if [ "$n" -ge 20 ]; then ok; else bad "only $n file:function names in $DOC"; fi

# Plain paths in backquotes (core/util.h, tests/run-tests.sh, ../shared/...
# excepted: outside the repository).
for p in $(grep -oE '`(core|tui|tests|man)/[A-Za-z0-9_./-]+`' "$DOC" | tr -d '`' | sort -u); do
	if [ -e "$p" ]; then ok; else bad "$DOC names $p, which does not exist"; fi
done

# The trail's ends are there: the key press and the pixels.
for need in engine_submit_opts store_job_add scan_store output_save engine_job_update \
	ui_on_event; do
	if grep -q ":$need\`" "$DOC"; then ok; else bad "the trail does not name $need"; fi
done

# The headers point at HACKING.md, not at a DESIGN.md the repository lacks.
for hdr in core/engine.h core/output.h; do
	if grep -q 'HACKING.md' "$hdr" && ! grep -q 'DESIGN.md' "$hdr"; then ok; else
		bad "$hdr should point at HACKING.md"
	fi
done

echo "it_hacking: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
