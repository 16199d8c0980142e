#!/bin/sh
# it_submit.sh: what `sdq submit` refuses before recording anything, and what
# its JSON output never contains. The real binary ($SDQ_BIN) against the
# endpoint emulator (tests/emulator.py) on 127.0.0.1; the /run bodies are read
# back from the emulator (Python keeps big integers exact).
# Covers: --template nosuch (exit 2, the templates listed, nothing recorded),
# invalid UTF-8 in -p / -n / --set / -p @FILE (exit 2, option and byte offset),
# -p @FILE, -p -, -n @FILE, @@ for a literal @, --set numbers sent exactly,
# the template named on stderr (on a terminal) and in --json, a sampler the template cannot
# take (exit 2), and --json on hostile prompts (C1 controls, bidi overrides,
# an invalid byte already in an old history): valid JSON, valid UTF-8, no
# raw C1 or bidi character.
# Every wait is a bounded loop. Last line: "it_submit: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_submit
KEY=test-key-submit
th_copy_sdq
th_data_dirs="$tmp/data"

# emu_jobs EXPR: EXPR over the emulator's /_emu/jobs (as j)
emu_jobs() {
	$PY -c 'import json,sys,urllib.request as u
j=json.load(u.urlopen("http://127.0.0.1:%s/_emu/jobs" % sys.argv[1], timeout=10))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$PORT" "$1" 2>/dev/null
}
njobs() { "$SDQ" ls --all --json 2>/dev/null | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null; }
# safe_json FILE: valid UTF-8, valid JSON, and no raw C1 control or bidi mark
safe_json() {
	$PY -c 'import json,sys
b=open(sys.argv[1],"rb").read()
t=b.decode("utf-8")
json.loads(t)
bad=[c for c in t if 0x7f<=ord(c)<=0x9f or 0x202a<=ord(c)<=0x202e or 0x2066<=ord(c)<=0x2069 or ord(c) in (0x200e,0x200f,0x2028,0x2029)]
sys.exit(1 if bad else 0)' "$1" 2>/dev/null
}
start_emu() {
	th_emu emu --idle-exit 120 --max-lifetime 590 --quiet --queue-time 0.1 --run-time 0.2
}

start_emu
check "emulator started" test -n "$PORT"
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/none.conf"
export SDQ_ENDPOINT="http://127.0.0.1:$PORT/v2/test" RUNPOD_API_KEY=$KEY
unset SDQ_EMULATOR

# --- an unknown template: exit 2, the templates named, nothing recorded
"$SDQ" submit -p cat --template nosuch >"$tmp/o" 2>"$tmp/e"; rc=$?
check "--template nosuch exits 2" test $rc = 2
check "--template nosuch: one line naming the templates" \
	sh -c "test \$(wc -l <'$tmp/e') = 1 && grep -q 'nosuch' '$tmp/e' && grep -q 'sdxl' '$tmp/e' && grep -q 'sd15' '$tmp/e' && grep -q 'a1111' '$tmp/e'"
check "--template nosuch prints no id" test ! -s "$tmp/o"
mkdir -p "$tmp/cfg/templates"
printf '{"text":"{{prompt}}"}\n' >"$tmp/cfg/templates/mine.json"
: >"$tmp/cfg/config"
SDQ_CONFIG="$tmp/cfg/config" "$SDQ" submit -p cat --template nosuch >/dev/null 2>"$tmp/e"; rc=$?
check "a user template is listed too" sh -c "test $rc = 2 && grep -q 'mine' '$tmp/e'"
"$SDQ" submit -p cat --template ../etc >/dev/null 2>&1; rc=$?
check "--template ../etc exits 2" test $rc = 2
"$SDQ" submit -p cat --sampler heun >/dev/null 2>"$tmp/e"; rc=$?
check "a sampler sdxl's worker lacks exits 2" sh -c "test $rc = 2 && grep -q 'K_EULER' '$tmp/e' && grep -q 'raw:' '$tmp/e'"
check "nothing recorded by the refusals" test "$(njobs)" = 0

# --- invalid UTF-8: exit 2 naming the option and the byte
"$SDQ" submit -p "$(printf 'ab\377c')" >/dev/null 2>"$tmp/e"; rc=$?
check "-p with a 0xff byte exits 2" test $rc = 2
check "  names -p and byte 2" sh -c "grep -q -- '-p' '$tmp/e' && grep -q 'byte 2' '$tmp/e'"
"$SDQ" submit -p ok -n "$(printf 'x\303')" >/dev/null 2>"$tmp/e"; rc=$?
check "-n with a cut sequence exits 2 naming -n, byte 1" \
	sh -c "test $rc = 2 && grep -q -- '-n' '$tmp/e' && grep -q 'byte 1' '$tmp/e'"
"$SDQ" submit "$(printf '\300\200 overlong')" >/dev/null 2>"$tmp/e"; rc=$?
check "an overlong form in the bare prompt exits 2" sh -c "test $rc = 2 && grep -q 'byte 0' '$tmp/e'"
"$SDQ" submit -p ok --set "style=$(printf 'a\355\240\200')" >/dev/null 2>"$tmp/e"; rc=$?
check "--set with a surrogate exits 2 naming --set" sh -c "test $rc = 2 && grep -q -- '--set' '$tmp/e' && grep -q 'byte 7' '$tmp/e'"
printf 'good\nthen \376 bad\n' >"$tmp/bad.txt"
"$SDQ" submit -p "@$tmp/bad.txt" >/dev/null 2>"$tmp/e"; rc=$?
check "-p @FILE with a bad byte exits 2 at byte 10" sh -c "test $rc = 2 && grep -q 'byte 10' '$tmp/e'"
check "nothing recorded by the UTF-8 refusals" test "$(njobs)" = 0

# --- -p @FILE, -p -, -n @FILE, @@
long=$($PY -c 'print("a long prompt " * 20000)')
printf '%s\n\n' "$long" >"$tmp/long.txt"
"$SDQ" submit -p "@$tmp/long.txt" --json >"$tmp/o" 2>"$tmp/e"; rc=$?
check "-p @FILE (280 kB) exits 0" test $rc = 0
check "  the prompt is the file without its trailing newlines" \
	$PY -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["prompt"]==open(sys.argv[2]).read().rstrip("\n") and len(j["prompt"])>200000 else 1)' "$tmp/o" "$tmp/long.txt"
id_long=$(jcheck "$tmp/o" 'True' && $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/o")
printf 'from stdin\n' | "$SDQ" submit -p - -n "@@not a file" --json >"$tmp/o" 2>"$tmp/e"; rc=$?
check "-p - reads stdin" sh -c "test $rc = 0" && check "  prompt from stdin" jcheck "$tmp/o" 'j["prompt"] == "from stdin"'
check "@@ is a literal @" jcheck "$tmp/o" 'j["negative_prompt"] == "@not a file"'
printf 'ugly, blurry\n' >"$tmp/neg.txt"
"$SDQ" submit -p "@@handle" -n "@$tmp/neg.txt" --json >"$tmp/o" 2>/dev/null; rc=$?
check "-n @FILE" sh -c "test $rc = 0" && check "  negative from the file, prompt with its @" \
	jcheck "$tmp/o" 'j["negative_prompt"] == "ugly, blurry" and j["prompt"] == "@handle"'
echo x | "$SDQ" submit -p - -n - >/dev/null 2>"$tmp/e"; rc=$?
check "-p - -n - exits 2" test $rc = 2
"$SDQ" submit -p "@$tmp/missing.txt" >/dev/null 2>"$tmp/e"; rc=$?
check "-p @missing exits 1 naming the file" sh -c "test $rc = 1 && grep -q 'missing.txt' '$tmp/e'"

# --- --set numbers go out exactly; the template is named
"$SDQ" submit -p "exact numbers" --seed 9007199254740993 --set big=9007199254740993 \
	--set huge=18446744073709551615 --set frac=0.10000000000000000555 --set nested.n=-12345678901234567 \
	>"$tmp/o" 2>"$tmp/e"; rc=$?
check "submit with big --set numbers exits 0" test $rc = 0
check "off a terminal, stderr stays quiet" test ! -s "$tmp/e"
n=0
while ! emu_jobs 'any(x["input"].get("prompt")=="exact numbers" for x in j)' && [ $n -lt 150 ]; do sleep 0.2; n=$((n + 1)); done
check "the /run body arrived" emu_jobs 'any(x["input"].get("prompt")=="exact numbers" for x in j)'
check "--set big=9007199254740993 arrives exact (an int)" \
	emu_jobs '[x for x in j if x["input"].get("prompt")=="exact numbers"][0]["input"]["big"] == 9007199254740993'
check "--set huge=2^64-1 arrives exact" \
	emu_jobs '[x for x in j if x["input"].get("prompt")=="exact numbers"][0]["input"]["huge"] == 18446744073709551615'
check "--set nested.n arrives exact" \
	emu_jobs '[x for x in j if x["input"].get("prompt")=="exact numbers"][0]["input"]["nested"]["n"] == -12345678901234567'
check "--seed 9007199254740993 arrives exact" \
	emu_jobs '[x for x in j if x["input"].get("prompt")=="exact numbers"][0]["input"]["seed"] == 9007199254740993'
"$SDQ" submit -p tmpl --template sd15 --json >"$tmp/o" 2>"$tmp/e"; rc=$?
check "--json names the template" sh -c "test $rc = 0" && check "  template sd15 in JSON" jcheck "$tmp/o" 'j["template"] == "sd15"'
# on a terminal, stderr names the template (script(1) gives it a pty)
if command -v script >/dev/null 2>&1; then
	script -qec "'$SDQ' submit -p tmpl" /dev/null >"$tmp/e" 2>&1 </dev/null
	check "on a tty, stderr names the default template" grep -q "input template sdxl (the default" "$tmp/e"
	script -qec "'$SDQ' submit -p tmpl --template sd15" /dev/null >"$tmp/e" 2>&1 </dev/null
	check "on a tty, stderr says --template chose it" grep -q "input template sd15 (--template)" "$tmp/e"
fi
"$SDQ" ls --limit 1 --json >"$tmp/o"
check "ls --json keeps --set numbers exact" $PY -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0)' "$tmp/o"
"$SDQ" ls --all --json >"$tmp/o"
check "ls --json: extra.big exact" jcheck "$tmp/o" 'any((x.get("extra") or {}).get("big") == 9007199254740993 for x in j)'

# --- --json never carries raw C1 controls, bidi marks or invalid UTF-8
hostile=$(printf 'evil \302\233 31m \342\200\256 reversed \342\201\246 iso \342\200\217 \033[2J end')
"$SDQ" submit -p "$hostile" -n "$(printf '\302\205 next line \342\200\250 sep')" --json >"$tmp/o" 2>/dev/null; rc=$?
check "hostile prompt accepted (valid UTF-8)" test $rc = 0
check "submit --json: valid, no raw C1/bidi" safe_json "$tmp/o"
check "  the prompt reads back the same" jcheck "$tmp/o" 'j["prompt"] == "evil \u009b 31m \u202e reversed \u2066 iso \u200f \u001b[2J end"'
check "  written as \\u escapes" grep -q '\\u009b.*\\u202e.*\\u2066' "$tmp/o"
hid=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/o" 2>/dev/null)
"$SDQ" show "$hid" --json >"$tmp/o"
check "show --json: safe" safe_json "$tmp/o"
# an invalid byte already in an old history (written before sdq refused it)
$PY -c 'import sqlite3,sys
db=sqlite3.connect(sys.argv[1]); db.execute("UPDATE jobs SET prompt=CAST(? AS TEXT), error=CAST(? AS TEXT) WHERE id=?", (b"old \xff\xfe bytes \xc2\x9b", b"err \xe2\x80\xae", int(sys.argv[2]))); db.commit()' \
	"$tmp/data/history.db" "$id_long" 2>"$tmp/e"
check "old row patched" test ! -s "$tmp/e"
"$SDQ" ls --all --json >"$tmp/o"; rc=$?
check "ls --json over a history with invalid bytes: exit 0" test $rc = 0
check "ls --json: valid UTF-8 JSON, no raw C1/bidi" safe_json "$tmp/o"
check "  the invalid bytes became U+FFFD" jcheck "$tmp/o" 'any(x["prompt"] == "old \ufffd\ufffd bytes \u009b" for x in j)'
"$SDQ" show "$id_long" --json >"$tmp/o"
check "show --json of that job: safe" safe_json "$tmp/o"
"$SDQ" wait --timeout 60 --json "$hid" >"$tmp/o" 2>/dev/null
check "wait --json: safe" safe_json "$tmp/o"

th_end
