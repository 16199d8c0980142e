#!/bin/sh
# it_export.sh: sdq export and sdq import end to end. Jobs made on the
# endpoint emulator (127.0.0.1) are exported as JSON Lines and as CSV (read
# back with Python's csv module: RFC 4180, formula cells guarded, the same
# values as the JSON); the JSON Lines go into a second history: every job
# once, its images copied (from their paths, else from --images DIR), a
# second import adds nothing, live jobs and CSV are refused, --since filters.
# Last line: "it_export: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_export
KEY=test-key-123
th_copy_sdq
th_data_dirs="$tmp/data $tmp/data2 $tmp/data3"
py() { $PY -c "$@" 2>&1; }

th_emu emu --idle-exit 120 --max-lifetime 300 \
	--quiet --queue-time 0 --run-time 0.1
check "emulator started" test -n "$PORT"
cat >"$tmp/config" <<EOF
[endpoint "paid"]
	url = http://127.0.0.1:$PORT/v2/test
	price_per_second = 0.00044
EOF
export SDQ_CONFIG="$tmp/config" RUNPOD_API_KEY=$KEY SDQ_DATA_DIR="$tmp/data"
unset SDQ_ENDPOINT

"$SDQ" submit -p "a red fox" --seed 7 --wait >/dev/null 2>"$tmp/e" || bad "submit: $(cat "$tmp/e")"
"$SDQ" submit -p '=HYPERLINK("http://evil.example","click")' --wait >/dev/null 2>"$tmp/e" ||
	bad "submit: $(cat "$tmp/e")"
"$SDQ" submit -p "$(printf 'commas, "quotes"\nand a newline')" --count 2 --wait >/dev/null \
	2>"$tmp/e" || bad "submit: $(cat "$tmp/e")"

"$SDQ" export >"$tmp/all.jsonl" 2>"$tmp/e"
check "export exits 0" test $? = 0
check "jsonl: one line per job" test "$(wc -l <"$tmp/all.jsonl")" = 3
check "jsonl: the same objects as ls --json, oldest first" py "
import json,subprocess,sys
lines=[json.loads(l) for l in open('$tmp/all.jsonl')]
ls=json.loads(subprocess.run(['$SDQ','ls','--json'],capture_output=True).stdout)
sys.exit(0 if lines == ls[::-1] and all('cost' in l and l['cost'] is not None for l in lines) else 1)"

"$SDQ" export --format csv -o "$tmp/all.csv" 2>"$tmp/e"
check "export -o says how many" grep -q "3 jobs" "$tmp/e"
check "csv: RFC 4180 (CRLF rows), same values as the JSON, formulas guarded" py "
import csv,json,sys
raw=open('$tmp/all.csv','rb').read()
assert raw.count(b'\r\n') >= 4, 'CRLF'
rows=list(csv.DictReader(open('$tmp/all.csv',newline='')))
js=[json.loads(l) for l in open('$tmp/all.jsonl')]
assert len(rows) == 3, len(rows)
for r,j in zip(rows,js):
    assert r['id'] == str(j['id'])
    assert r['state'] == j['state']
    p=j['prompt']
    want=(\"'\" + p) if p[0] in '=+-@' else p
    assert r['prompt'] == want, (r['prompt'], want)
    assert r['images'].split('\n') == j['images'], (r['images'], j['images'])
    assert float(r['cost']) == j['cost']
    assert r['exec_ms'] == str(j['exec_ms'])
    assert r['negative_prompt'] == ''
print('ok')" 
check "csv: the formula cell starts with a quote" grep -q "\"'=HYPERLINK(\"\"http" "$tmp/all.csv"

"$SDQ" submit -p "a group" --vary steps=5,6 --wait >/dev/null 2>"$tmp/e" || bad "submit --vary: $(cat "$tmp/e")"
g=$("$SDQ" ls --json --limit 1 | py 'import json,sys; print(json.load(sys.stdin)[0]["group"])')
"$SDQ" export --group "$g" >"$tmp/g.jsonl" 2>"$tmp/e"
check "--group G: only that group's jobs" py "
import json,sys
l=[json.loads(x) for x in open('$tmp/g.jsonl')]
sys.exit(0 if len(l) == 2 and all(j['group'] == $g for j in l) and sorted(j['steps'] for j in l) == [5, 6] else 1)"
"$SDQ" export --group 999 >/dev/null 2>"$tmp/e"
check "--group of no group: exit 1" test $? = 1
# the rest of the tests count the first three jobs only
"$SDQ" rm $("$SDQ" ls --json --group "$g" | py 'import json,sys; print(" ".join(str(j["id"]) for j in json.load(sys.stdin)))') >/dev/null 2>&1

"$SDQ" export --since 2000-01-01 >"$tmp/since.jsonl"
check "--since in the past: everything" test "$(wc -l <"$tmp/since.jsonl")" = 3
"$SDQ" export --since "$(date -d tomorrow +%Y-%m-%d)" >"$tmp/since.jsonl"
check "--since tomorrow: nothing" test "$(wc -l <"$tmp/since.jsonl")" = 0
"$SDQ" export --since yesterdayish >/dev/null 2>"$tmp/e"
check "--since nonsense: usage error" test $? = 2
"$SDQ" export --format xml >/dev/null 2>"$tmp/e"
check "--format xml: usage error" test $? = 2

# into another history
SDQ_DATA_DIR="$tmp/data2" "$SDQ" import "$tmp/all.jsonl" 2>"$tmp/e"
check "import exits 0" test $? = 0
check "import says what it did" grep -q "3 jobs added (4 images copied), 0 already here" "$tmp/e"
SDQ_DATA_DIR="$tmp/data2" "$SDQ" export >"$tmp/re.jsonl"
check "the same jobs come back (all but ids and image paths)" py "
import json,sys
a=[json.loads(l) for l in open('$tmp/all.jsonl')]
b=[json.loads(l) for l in open('$tmp/re.jsonl')]
skip={'id','images','outputs'}
assert len(a) == len(b)
for x,y in zip(a,b):
    for k in x:
        if k not in skip: assert x[k] == y[k], (k, x[k], y[k])
    assert len(x['outputs']) == len(y['outputs'])
    for o,p in zip(x['outputs'], y['outputs']):
        assert p['path'].startswith('$tmp/data2/images/'), p['path']
        assert open(o['path'],'rb').read() == open(p['path'],'rb').read()
print('ok')"
SDQ_DATA_DIR="$tmp/data2" "$SDQ" import <"$tmp/all.jsonl" 2>"$tmp/e"
check "a second import adds nothing" grep -q "0 jobs added (0 images copied), 3 already here" "$tmp/e"
check "still 3 jobs" test "$(SDQ_DATA_DIR="$tmp/data2" "$SDQ" ls --json | py 'import json,sys; print(len(json.load(sys.stdin)))')" = 3

# images from --images DIR when the exported paths are gone
mkdir "$tmp/moved"
py "
import json,shutil,os
out=open('$tmp/moved.jsonl','w')
for l in open('$tmp/all.jsonl'):
    j=json.loads(l)
    for o in j['outputs']:
        shutil.copy(o['path'], '$tmp/moved/' + os.path.basename(o['path']))
        o['path']='/nonexistent/' + os.path.basename(o['path'])
    out.write(json.dumps(j) + '\n')
live=dict(j, state='IN_QUEUE', remote_id='live-one')
out.write(json.dumps(live) + '\n')
" >/dev/null
SDQ_DATA_DIR="$tmp/data3" "$SDQ" import "$tmp/moved.jsonl" 2>"$tmp/e"
check "images found only by name: not found without --images" grep -q "4 images not found" "$tmp/e"
check "a live job is not imported" grep -q "1 still live skipped" "$tmp/e"
rm -rf "$tmp/data3"
SDQ_DATA_DIR="$tmp/data3" "$SDQ" import --images "$tmp/moved" "$tmp/moved.jsonl" 2>"$tmp/e"
check "--images DIR: copied from there" grep -q "3 jobs added (4 images copied)" "$tmp/e"
SDQ_DATA_DIR="$tmp/data3" "$SDQ" import "$tmp/all.csv" 2>"$tmp/e"
check "CSV is refused, saying why" sh -c "grep -q 'CSV export' '$tmp/e'"
printf '{"state":"COMPLETED"}\nnot json\n' | SDQ_DATA_DIR="$tmp/data3" "$SDQ" import 2>"$tmp/e"
check "broken lines: exit 1, named by number" sh -c "test $? = 1 && grep -q 'line 1: no created_at' '$tmp/e' && grep -q 'line 2: not a JSON object' '$tmp/e'"

th_end
