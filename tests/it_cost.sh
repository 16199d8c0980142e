#!/bin/sh
# it_cost.sh: what jobs cost, end to end against the endpoint emulator on
# 127.0.0.1: with price_per_second set, show and --json give each job's cost
# from the execution time the endpoint reported (checked against exec_ms),
# health gives the day's total on that endpoint; without a price, "no price
# set" and null rather than a guess.
# Last line: "it_cost: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_cost
KEY=test-key-123
th_copy_sdq
th_data_dirs="$tmp/data"

th_emu emu --idle-exit 120 --max-lifetime 300 \
	--quiet --queue-time 0.1 --run-time 0.4
check "emulator started" test -n "$PORT"
cat >"$tmp/config" <<EOF
[endpoint "paid"]
	url = http://127.0.0.1:$PORT/v2/test
	price_per_second = 0.00044
[endpoint "unpriced"]
	url = http://127.0.0.1:$PORT/v2/test
EOF
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/config" RUNPOD_API_KEY=$KEY
unset SDQ_ENDPOINT

"$SDQ" submit -e paid -p "a red fox" --wait --json >"$tmp/a.json" 2>"$tmp/e" || bad "submit: $(cat "$tmp/e")"
"$SDQ" submit -e paid -p "a blue owl" --wait --json >"$tmp/b.json" 2>"$tmp/e" || bad "submit: $(cat "$tmp/e")"
"$SDQ" submit -e unpriced -p "a green frog" --wait --json >"$tmp/c.json" 2>"$tmp/e" || bad "submit: $(cat "$tmp/e")"
a=$(jget "$tmp/a.json" 'j["id"]') b=$(jget "$tmp/b.json" 'j["id"]') c=$(jget "$tmp/c.json" 'j["id"]')
ea=$(jget "$tmp/a.json" 'j["exec_ms"]') eb=$(jget "$tmp/b.json" 'j["exec_ms"]')
check "the endpoint reported execution times" sh -c "[ '${ea:-0}' -gt 0 ] && [ '${eb:-0}' -gt 0 ]"
check "--json cost = exec_ms / 1000 x price" \
	test "$(jget "$tmp/a.json" 'j["cost"] == round(j["exec_ms"] / 1000 * 0.00044, 6)')" = True
check "no price: cost is null" test "$(jget "$tmp/c.json" 'j["cost"]')" = None
"$SDQ" show "$a" >"$tmp/show" 2>&1
want=$($PY -c "c=$ea/1000*0.00044; print('%.4f' % c if c < 1 else '%.2f' % c)")
check "show prints the cost" grep -qx "cost       $want" "$tmp/show"
"$SDQ" show "$c" >"$tmp/show" 2>&1
check "show says no price set" grep -qx "cost       no price set" "$tmp/show"
"$SDQ" ls --json >"$tmp/ls.json"
check "ls --json has cost" test "$(jget "$tmp/ls.json" 'sorted(x["cost"] is None for x in j)')" = "[False, False, True]"

"$SDQ" health -e paid >"$tmp/h" 2>&1
total=$($PY -c "print('%.4f' % (($ea + $eb) / 1000 * 0.00044))")
secs=$($PY -c "print('%.1f' % (($ea + $eb) / 1000))")
check "health: the day's total on that endpoint" grep -qx "today      $total for 2 jobs ($secs s)" "$tmp/h"
"$SDQ" health -e unpriced >"$tmp/h" 2>&1
check "health: no price set" grep -qx "today      no price set (1 job)" "$tmp/h"
"$SDQ" health -e paid --json >"$tmp/h.json" 2>&1
check "health --json: today" test "$(jget "$tmp/h.json" "(j['today']['jobs'], j['today']['cost'] == round(($ea + $eb) / 1000 * 0.00044, 6))")" = "(2, True)"

# a group's total, on show of any of its jobs
"$SDQ" submit -e paid -p "a group" --vary steps=5,6 --wait --json >"$tmp/g.json" 2>"$tmp/e" ||
	bad "submit --vary: $(cat "$tmp/e")"
gsum=$(jget "$tmp/g.json" 'sum(x["exec_ms"] for x in j)')
gid=$(jget "$tmp/g.json" 'j[0]["id"]')
want=$($PY -c "print('%.4f for 2 jobs (%.1f s)' % ($gsum / 1000 * 0.00044, $gsum / 1000))")
"$SDQ" show "$gid" >"$tmp/show" 2>&1
check "show: the group's cost" grep -qx "group cost $want" "$tmp/show"

th_end
