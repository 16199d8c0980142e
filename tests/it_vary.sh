#!/bin/sh
# it_vary.sh: variations as one unit from the command line (issue 14): the
# real binary ($SDQ_BIN) against the endpoint emulator (tests/emulator.py) on
# 127.0.0.1, checking the /run bodies the emulator received (Python keeps big
# integers exact).
# Covers: {a|b} prompt matrices (order, escapes, literal braces, nested and
# unclosed groups refused with nothing recorded), --seeds (consecutive,
# exact 64-bit), --vary (ranges, cfg decimals, sampler, template, a --set
# key, grids), one seed for a whole group, the total printed first, > 100
# jobs refused without --yes, a job its template cannot build stopping the
# whole submit, submit --json as a list with group and variant, ls --group,
# ls --groups (search finds groups), show (group, variant, siblings), wait
# --group, rerun --group (a new group, same seeds), cancel --group, and the
# man page's example.
# Every wait is a bounded loop. Last line: "it_vary: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_vary
MAN=$TESTS/../man/sdq.1
KEY=test-key-vary
th_copy_sdq
th_data_dirs="$tmp/data"

# runs EXPR: EXPR over the inputs the emulator received (as a list, ins), true?
runs() {
	$PY -c 'import json,sys,urllib.request as u
j=json.load(u.urlopen("http://127.0.0.1:%s/_emu/jobs" % sys.argv[1], timeout=10))
ins=[x["input"] for x in j]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$PORT" "$1" 2>/dev/null
}
# wait_runs EXPR: until runs EXPR holds (at most 300 x 0.2 s)
wait_runs() {
	n=0
	while ! runs "$1" && [ $n -lt 300 ]; do sleep 0.2; n=$((n + 1)); done
	runs "$1"
}
njobs() { "$SDQ" ls --all --json 2>/dev/null | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null; }

th_emu emu --idle-exit 120 \
	--max-lifetime 590 --quiet --queue-time 0.1 --run-time 0.2
check "emulator started" test -n "$PORT"
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/none.conf"
export SDQ_ENDPOINT="http://127.0.0.1:$PORT/v2/test" RUNPOD_API_KEY=$KEY
unset SDQ_EMULATOR

# --- refusals first: nothing recorded
"$SDQ" submit -p "a {b|{c|d}}" >/dev/null 2>"$tmp/e"; rc=$?
check "a nested group exits 2" test $rc = 2
check "  says nested, the byte, and how to write a brace" \
	sh -c "grep -q 'nested' '$tmp/e' && grep -q 'byte 5' '$tmp/e' && grep -q '\\\\{' '$tmp/e'"
"$SDQ" submit -p "a {b|c" >/dev/null 2>&1; rc=$?
check "an unclosed group exits 2" test $rc = 2
"$SDQ" submit -p ok -n "x } y" >/dev/null 2>"$tmp/e"; rc=$?
check "a stray } in -n exits 2 naming the negative prompt" sh -c "test $rc = 2 && grep -q 'negative prompt' '$tmp/e'"
"$SDQ" submit -p "{a|b}" --vary steps=1-101:1 >"$tmp/o" 2>"$tmp/e"; rc=$?
check "202 jobs without --yes exit 2" test $rc = 2
check "  saying how many and --yes" sh -c "grep -q '202 jobs' '$tmp/e' && grep -q -- '--yes' '$tmp/e'"
check "  no id printed" test ! -s "$tmp/o"
"$SDQ" submit -p x --vary steps=1-100:1 --vary cfg=1-100:1 --vary w=1,2 --yes >/dev/null 2>"$tmp/e"; rc=$?
check "more than 10000 jobs exit 2 even with --yes" sh -c "test $rc = 2 && grep -q 10000 '$tmp/e'"
"$SDQ" submit -p x --vary sampler=K_EULER,heun >/dev/null 2>"$tmp/e"; rc=$?
check "one job its template cannot build stops the whole submit (exit 2)" test $rc = 2
check "  names the job and its variant" sh -c "grep -q 'job 2 of 2' '$tmp/e' && grep -q 'heun' '$tmp/e'"
for bad in "steps=0,20" "cfg=5,101" "width=7" "prompt=a,b" "steps=40-20:10" "steps=" "sampler"; do
	"$SDQ" submit -p x --vary "$bad" >/dev/null 2>&1; rc=$?
	check "--vary $bad exits 2" test $rc = 2
done
"$SDQ" submit -p x --vary seed=1,2 --seeds 2 >/dev/null 2>&1; rc=$?
check "--vary seed with --seeds exits 2" test $rc = 2
"$SDQ" submit -p "{a|b}" --sync >/dev/null 2>&1; rc=$?
check "--sync with several jobs exits 2" test $rc = 2
check "nothing recorded by any refusal" test "$(njobs)" = 0
check "nothing sent by any refusal" runs 'len(ins) == 0'

# --- a prompt matrix: order, one seed, a JSON list with group and variant
"$SDQ" submit -p "a {red|blue} {car|bike}" -n "{blurry|}" --json >"$tmp/m.json" 2>"$tmp/e"; rc=$?
check "prompt matrix submit exits 0" test $rc = 0
check "  the total is printed on stderr" grep -q "8 jobs: prompt{1} x2, prompt{2} x2, negative{1} x2" "$tmp/e"
check "  --json prints a list of 8" jcheck "$tmp/m.json" 'isinstance(j, list) and len(j) == 8'
check "  in a stable order (first group slowest)" jcheck "$tmp/m.json" \
	'[x["prompt"] for x in j][::2] == ["a red car", "a red bike", "a blue car", "a blue bike"] and [x["negative_prompt"] for x in j][:2] == ["blurry", ""]'
check "  one group, ids increasing" jcheck "$tmp/m.json" \
	'len({x["group"] for x in j}) == 1 and j[0]["group"] is not None and [x["id"] for x in j] == sorted(x["id"] for x in j)'
check "  variants name what varies" jcheck "$tmp/m.json" \
	'j[3]["variant"] == {"prompt{1}": "red", "prompt{2}": "bike", "negative{1}": ""}'
check "  one seed for the whole group" jcheck "$tmp/m.json" 'len({x["seed"] for x in j}) == 1 and j[0]["seed"] >= 0'
G1=$(jget "$tmp/m.json" 'j[0]["group"]')
SEED1=$(jget "$tmp/m.json" 'j[0]["seed"]')
check "the emulator got the 8 prompts with the one seed" \
	wait_runs "sorted((i['prompt'], i.get('negative_prompt', '')) for i in ins if i.get('seed') == $SEED1 and i['prompt'].startswith('a ')) == sorted((c + ' ' + t, n) for c in ('a red', 'a blue') for t in ('car', 'bike') for n in ('blurry', ''))"

# --- escapes and literal braces
"$SDQ" submit -p 'esc \{x\|y\} {masterpiece} [cat|dog] \(w\) {p\|q|r}' --json >"$tmp/o" 2>/dev/null; rc=$?
check "escapes: exit 0" test $rc = 0
check "  two jobs, escapes undone, other text as typed" jcheck "$tmp/o" \
	'[x["prompt"] for x in j] == ["esc {x|y} {masterpiece} [cat|dog] \\(w\\) p|q", "esc {x|y} {masterpiece} [cat|dog] \\(w\\) r"]'
"$SDQ" submit -p 'single \{literal\}' --json >"$tmp/o" 2>"$tmp/e"; rc=$?
check "one job with escaped braces: a single object, no group" \
	sh -c "test $rc = 0" && check "  unescaped, group null" jcheck "$tmp/o" \
	'isinstance(j, dict) and j["prompt"] == "single {literal}" and j["group"] is None and j["variant"] is None'
check "  no total printed for one job" sh -c "! grep -q 'jobs:' '$tmp/e'"

# --- --seeds: consecutive, exact beyond 2^53
"$SDQ" submit -p "seed sweep" --seed 9007199254740990 --seeds 4 >"$tmp/o" 2>"$tmp/e"; rc=$?
check "--seeds 4 exits 0 with 4 ids" sh -c "test $rc = 0 && test \$(grep -Ec '^[0-9]+\$' '$tmp/o') = 4"
check "the 4 seeds arrive exact and consecutive" \
	wait_runs "sorted(i['seed'] for i in ins if i['prompt'] == 'seed sweep') == [9007199254740990, 9007199254740991, 9007199254740992, 9007199254740993]"
"$SDQ" submit -p "random base" --seeds 3 --json >"$tmp/o" 2>/dev/null
check "--seeds without --seed: a random base, consecutive" jcheck "$tmp/o" \
	'[x["seed"] - j[0]["seed"] for x in j] == [0, 1, 2] and [x["variant"]["seed"] for x in j] == [x["seed"] for x in j]'

# --- --vary: a grid, ranges, decimals, a --set key, template, sampler
"$SDQ" submit -p grid --vary steps=20-40:10 --vary cfg=5-6:0.5 --json >"$tmp/o" 2>"$tmp/e"; rc=$?
check "a 3 x 3 grid exits 0" sh -c "test $rc = 0" && check "  9 jobs, steps slowest" jcheck "$tmp/o" \
	'[(x["steps"], x["cfg"]) for x in j] == [(s, c) for s in (20, 30, 40) for c in (5, 5.5, 6)]'
check "the grid's inputs arrived" \
	wait_runs "sorted((i['num_inference_steps'], i['guidance_scale']) for i in ins if i['prompt'] == 'grid') == sorted((s, c) for s in (20, 30, 40) for c in (5.0, 5.5, 6.0))"
check "  cfg is sent as a number with a decimal point, steps as an int" \
	runs "all(isinstance(i['num_inference_steps'], int) and isinstance(i['guidance_scale'], float) for i in ins if i['prompt'] == 'grid')"
"$SDQ" submit -p setkey --vary style=vivid,dark --vary big=9007199254740993,1-2:1 >/dev/null 2>&1; rc=$?
check "--vary on --set keys exits 0" test $rc = 0
check "  the --set values arrive (numbers exact)" \
	wait_runs "sorted((i['style'], i['big']) for i in ins if i['prompt'] == 'setkey') == sorted((s, b) for s in ('vivid', 'dark') for b in (9007199254740993, 1, 2))"
"$SDQ" submit -p tmpl --count 1 --vary template=sdxl,sd15 --vary "sampler=Euler a,DDIM" --json >"$tmp/o" 2>/dev/null; rc=$?
check "--vary template and sampler exit 0" test $rc = 0
check "  each template's keys and sampler spelling arrive" \
	wait_runs "sorted((('num_images' in i) and 'sdxl' or 'sd15', i['scheduler']) for i in ins if i['prompt'] == 'tmpl') == sorted([('sdxl', 'K_EULER_ANCESTRAL'), ('sdxl', 'DDIM'), ('sd15', 'EULER-A'), ('sd15', 'DDIM')])"
check "  template recorded per job" jcheck "$tmp/o" '[x["template"] for x in j] == ["sdxl", "sdxl", "sd15", "sd15"]'

# --- ls --group, ls --groups, search, show
"$SDQ" ls --group "$G1" --json >"$tmp/o"; rc=$?
check "ls --group G: the 8 jobs in order" sh -c "test $rc = 0" && check "  in the order made" jcheck "$tmp/o" \
	"len(j) == 8 and [x['id'] for x in j] == sorted(x['id'] for x in j) and all(x['group'] == $G1 for x in j)"
"$SDQ" ls --group "g$G1" >"$tmp/o"; rc=$?
check "ls --group gN works, rows marked g$G1" sh -c "test $rc = 0 && test \$(grep -c ' g$G1 a ' '$tmp/o') = 8"
"$SDQ" ls --group 999999 >/dev/null 2>"$tmp/e"; rc=$?
check "ls --group of no group exits 1" sh -c "test $rc = 1 && grep -q 'no group 999999' '$tmp/e'"
"$SDQ" ls --group x1 >/dev/null 2>&1; rc=$?
check "ls --group x1 exits 2" test $rc = 2
"$SDQ" ls --groups --json >"$tmp/o"; rc=$?
check "ls --groups --json" sh -c "test $rc = 0" && check "  lists every group with its prompt as typed and axes" jcheck "$tmp/o" \
	"any(g['group'] == $G1 and g['prompt'] == 'a {red|blue} {car|bike}' and g['negative_prompt'] == '{blurry|}' and g['submitted'] == 8 and [a['key'] for a in g['axes']] == ['prompt{1}', 'prompt{2}', 'negative{1}'] for g in j)"
"$SDQ" ls --groups bike --json >"$tmp/o"
check "ls --groups TEXT finds the group by its jobs' prompts" jcheck "$tmp/o" "[g['group'] for g in j] == [$G1]"
"$SDQ" ls --groups >"$tmp/o"
check "ls --groups table names the group" grep -q "^ *$G1 .*8 jobs" "$tmp/o"
ID3=$(jget "$tmp/m.json" 'j[3]["id"]')
"$SDQ" show "$ID3" >"$tmp/o"
check "show names the group" grep -q "^group *$G1 (8 jobs" "$tmp/o"
check "show names the variant" grep -q "^variant *prompt{1}=red, prompt{2}=bike, negative{1}=" "$tmp/o"
check "show lists the 7 siblings" sh -c "test \$(sed -n 's/^siblings *//p' '$tmp/o' | wc -w) = 7"
"$SDQ" show "$ID3" --json >"$tmp/o"
check "show --json: siblings, group, variant" jcheck "$tmp/o" "len(j['siblings']) == 7 and $ID3 not in j['siblings'] and j['group'] == $G1"

# --- wait --group, rerun --group
"$SDQ" wait --group "$G1" --timeout 120 --json >"$tmp/o" 2>"$tmp/e"; rc=$?
check "wait --group exits 0" test $rc = 0
check "  every job COMPLETED with an image" jcheck "$tmp/o" 'len(j) == 8 and all(x["state"] == "COMPLETED" and x["images"] for x in j)'
"$SDQ" rerun --group "$G1" >"$tmp/o" 2>"$tmp/e"; rc=$?
check "rerun --group exits 0 with 8 new ids" sh -c "test $rc = 0 && test \$(grep -Ec '^[0-9]+\$' '$tmp/o') = 8"
G2=$(sed -n 's/.*group \([0-9][0-9]*\):.*/\1/p' "$tmp/e")
check "  as a new group" sh -c "test -n '$G2' && test '$G2' != '$G1'"
"$SDQ" wait --group "$G2" --timeout 120 --json >"$tmp/o2" 2>/dev/null; rc=$?
"$SDQ" ls --group "$G1" --json >"$tmp/o1"
check "  the new group finished" test $rc = 0
check "  same prompts, seeds and variants in the same order" $PY -c 'import json,sys
a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
k=lambda x: (x["prompt"], x["negative_prompt"], x["seed"], x["variant"])
sys.exit(0 if [k(x) for x in a] == [k(x) for x in b] and len(b) == 8 else 1)' "$tmp/o1" "$tmp/o2"

# --- cancel --group, and --yes over 100
$PY -c 'import json,sys,urllib.request as u
u.urlopen(u.Request("http://127.0.0.1:%s/_emu/set" % sys.argv[1], data=json.dumps({"queue_time": 30}).encode(), method="POST"), timeout=10)' "$PORT"
"$SDQ" submit -p "many" --vary steps=1-101:1 --yes >"$tmp/o" 2>"$tmp/e"; rc=$?
check "101 jobs with --yes exit 0" sh -c "test $rc = 0 && test \$(grep -Ec '^[0-9]+\$' '$tmp/o') = 101"
G3=$(sed -n 's/.*group \([0-9][0-9]*\) (.*/\1/p' "$tmp/e")
check "  submit names the group on stderr" test -n "$G3"
"$SDQ" wait --group "$G3" --timeout 0.5 >/dev/null 2>"$tmp/e"; rc=$?
check "wait --group --timeout: exit 1, says how to wait for the group again" \
	sh -c "test $rc = 1 && grep -q 'jobs go on: sdq wait --group $G3\$' '$tmp/e'"
"$SDQ" cancel --group "$G3" >"$tmp/o" 2>"$tmp/e"; rc=$?
check "cancel --group exits 0" test $rc = 0
check "  one line per job" test "$(wc -l <"$tmp/o")" = 101
"$SDQ" wait --group "$G3" --timeout 60 --json >"$tmp/o" 2>/dev/null
check "  every job of the group CANCELLED" jcheck "$tmp/o" 'len(j) == 101 and all(x["state"] == "CANCELLED" for x in j)'
"$SDQ" cancel --group "$G3" >/dev/null 2>"$tmp/e"; rc=$?
check "cancel --group with no live job exits 1 saying so" sh -c "test $rc = 1 && grep -q 'no live jobs' '$tmp/e'"
"$SDQ" cancel 1 --group "$G3" >/dev/null 2>&1; rc=$?
check "cancel ID --group exits 2" test $rc = 2
$PY -c 'import json,sys,urllib.request as u
u.urlopen(u.Request("http://127.0.0.1:%s/_emu/set" % sys.argv[1], data=json.dumps({"queue_time": 0.1}).encode(), method="POST"), timeout=10)' "$PORT"

# --- the man page's example runs
sed -n '/^Explore variations/,/^\.Ed$/p' "$MAN" | sed -n 's/^\$ //p' >"$tmp/example.sh"
check "the man page has the variations example" test -s "$tmp/example.sh"
PATH="$tmp:$PATH" sh "$tmp/example.sh" >"$tmp/o" 2>"$tmp/e"; rc=$?
check "the man page's example runs" test $rc = 0
check "  it made 6 jobs and lists the group" sh -c "test \$(grep -Ec '^[0-9]+\$' '$tmp/o') = 6 && grep -q 'a {red|blue|green} car' '$tmp/o'"

th_end
