#!/bin/sh
# it_complete.sh: shell completion end to end. Real bash runs the script of
# `sdq completion bash` (COMP_WORDS/COMP_CWORD, the function it registers) on
# a few command lines and the answers are checked: commands, options, values
# from the config (endpoints, also of a --config FILE on the line), the
# history (job ids of jobs submitted to the emulator on 127.0.0.1), templates,
# samplers (quoted for bash), states in a comma list, --name=VALUE, files and
# directories. fish (if installed) completes the same lines with its own
# `complete -C`; zsh (if installed) checks the syntax and runs the function
# with its completion helpers stubbed. Every command's getopt tables must
# agree with the table --help prints (SDQ_TEST_OPTS), and `make install`
# puts the three scripts where the shells look.
# Last line: "it_complete: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_complete
KEY=test-key-123
th_copy_sdq
th_data_dirs="$tmp/data"

th_emu emu --idle-exit 120 --max-lifetime 300 \
	--quiet --queue-time 0 --run-time 0.1
check "emulator started" test -n "$PORT"
cat >"$tmp/config" <<EOF
[endpoint "alpha"]
	url = http://127.0.0.1:$PORT/v2/test
[endpoint "beta"]
	url = http://127.0.0.1:$PORT/v2/test
	template = a1111
[core]
	default = alpha
EOF
cat >"$tmp/other.conf" <<EOF
[endpoint "gamma"]
	url = http://127.0.0.1:$PORT/v2/g
EOF
mkdir -p "$tmp/config.d/templates" "$tmp/work/subdir"
: >"$tmp/work/file.png"
export SDQ_DATA_DIR="$tmp/data" SDQ_CONFIG="$tmp/config" RUNPOD_API_KEY=$KEY
unset SDQ_ENDPOINT
"$SDQ" submit -p "a red fox" --wait >/dev/null 2>"$tmp/e1" || bad "submit 1: $(cat "$tmp/e1")"
"$SDQ" submit -e beta -p "a blue owl" --wait >/dev/null 2>"$tmp/e2" || bad "submit 2: $(cat "$tmp/e2")"

"$SDQ" completion bash >"$tmp/sdq.bash"
check "completion bash exits 0 and defines _sdq" grep -q '^_sdq()' "$tmp/sdq.bash"
# comp WORDS...: what bash offers for the last word (an empty one: "") of
# "sdq WORDS...", one per line, sorted
comp() {
	(cd "$tmp/work" && bash -c '. "$1"; shift
		complete -p sdq >/dev/null || exit 3
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sdq
		printf "%s\n" "${COMPREPLY[@]}"' sh "$tmp/sdq.bash" "$SDQ" "$@") | sort
}
# expect DESCRIPTION "ANSWER LINES" WORDS...
expect() {
	d=$1 want=$2; shift 2
	got=$(comp "$@")
	if [ "$got" = "$(printf '%s\n' "$want" | sort)" ]; then ok; else
		bad "$d: got [$(echo $got)] want [$(echo $want)]"
	fi
}
nl='
'
expect "commands by prefix" "show${nl}submit" s
expect "one command" "purge-queue" pu
expect "global options" "--config" --co
expect "command options" "--sampler${nl}--seed${nl}--seeds${nl}--set${nl}--steps${nl}--sync" submit --s
expect "endpoints from the config" "alpha${nl}beta" submit -e ""
expect "endpoints of --config FILE on the line" "gamma" --config "$tmp/other.conf" -e ""
expect "job ids from the history" "1${nl}2" show ""
expect "job ids after options" "1${nl}2" wait --timeout 5 ""
"$SDQ" submit -p "a group" --vary steps=5,6 >/dev/null 2>"$tmp/e" || bad "submit --vary: $(cat "$tmp/e")"
expect "group ids from the history" "1" wait --group ""
expect "templates" "a1111${nl}comfyui${nl}sd15${nl}sdxl" submit --template ""
expect "samplers of --template, quoted for bash" 'DPM++\ 2M\ SDE
DPM++\ 2M\ SDE\ Heun' \
	submit --template a1111 --sampler 'DPM++\ 2M\ S'
expect "samplers of the endpoint's template" 'DDIM\ CFG++' submit -e beta --sampler 'DDIM\ C'
expect "samplers of the default endpoint (sdxl)" "DPMSolverMultistep${nl}DPMSolverSinglestep" \
	submit --sampler DPMS
expect "a state list" "COMPLETED,CANCELLED${nl}COMPLETED,COMPLETED" ls --state COMPLETED,C
expect "--name = VALUE as bash splits it" "CANCELLED" ls --state = CAN
expect "directories for get -o" "subdir" get -o su
expect "files for --config" "file.png" --config fi
expect "help COMMAND" "submit" help sub
expect "completion SHELL" "zsh" completion z
expect "nothing after --" "" show -- --j
expect "an unknown command offers nothing" "" frobnicate ""

# Every option --help lists is offered, and nothing else (but --help).
for c in $("$SDQ" completion --complete 1 sdq "" | cut -f1); do
	h=$("$SDQ" help "$c" | grep -oE '^  (-[A-Za-z], )?--[a-z-]+' | sed 's/.*--/--/' | sort)
	o=$(comp "$c" -- | grep -v '^--help$')
	o=$("$SDQ" completion --complete 2 sdq "$c" -- | cut -f1 | grep -v '^--help$' | sort)
	[ "$h" = "$o" ] || bad "$c: help lists [$(echo $h)], completion offers [$(echo $o)]"
	ok
	# the command's own getopt tables agree with that table
	SDQ_TEST_OPTS=1 "$SDQ" "$c" --no-such-option-x >/dev/null 2>"$tmp/drift" </dev/null
	if grep -q "drift" "$tmp/drift"; then bad "$c: $(cat "$tmp/drift")"; else ok; fi
done

# fish: its own completion machinery on the same lines
if command -v fish >/dev/null 2>&1; then
	"$SDQ" completion fish >"$tmp/sdq.fish"
	check "fish -n" fish -n "$tmp/sdq.fish"
	mkdir -p "$tmp/bin" && ln -sf "$SDQ" "$tmp/bin/sdq"
	fcomp() { (cd "$tmp/work" && PATH="$tmp/bin:$PATH" fish -c "source $tmp/sdq.fish; complete -C '$1'") | cut -f1 | sort; }
	check "fish: commands" test "$(fcomp 'sdq sh')" = "show"
	check "fish: endpoints" test "$(fcomp 'sdq submit -e ' | tr '\n' ' ')" = "alpha beta "
	check "fish: samplers with spaces" test "$(fcomp 'sdq submit --template a1111 --sampler DPM++\ 2M\ SDE\ H')" = "DPM++ 2M SDE Heun"
	check "fish: --state=" test "$(fcomp 'sdq ls --state=TIMED')" = "--state=TIMED_OUT"
	check "fish: job ids" test "$(fcomp 'sdq show ' | tr '\n' ' ')" = "1 2 3 4 "
	check "fish: directories" test "$(fcomp 'sdq get -o su')" = "subdir/"
else
	echo "it_complete: fish not installed: its checks skipped"
fi

# zsh: syntax, then the function with _describe/_files stubbed
if command -v zsh >/dev/null 2>&1; then
	"$SDQ" completion zsh >"$tmp/_sdq"
	check "zsh: #compdef first" test "$(head -n 1 "$tmp/_sdq")" = "#compdef sdq"
	check "zsh -n" zsh -n "$tmp/_sdq"
	zcomp() {
		(cd "$tmp/work" && zsh -f -c 'compdef() { :; }
			_describe() { print -rl -- ${(P)${@[-1]}}; }
			_files() { print -r -- "FILES $*"; }
			source "$1"; shift; words=("$@"); CURRENT=$#; _sdq' sh "$tmp/_sdq" "$SDQ" "$@") | sort
	}
	check "zsh: commands with descriptions" test "$(zcomp sh)" = "show:show a job: parameters, timings, error, images, events"
	check "zsh: endpoints" test "$(zcomp -e "" | cut -d: -f1 | tr '\n' ' ')" = "alpha beta "
	check "zsh: directories" test "$(zcomp get -o "")" = "FILES -/"
else
	echo "it_complete: zsh not installed: its checks skipped"
fi

# make install puts the scripts where each shell looks
if [ -f "$TESTS/../Makefile" ]; then
	make -s -C "$TESTS/.." install-completions DESTDIR="$tmp/root" PREFIX=/usr SDQ_FOR_COMPLETION="$SDQ" \
		>"$tmp/inst" 2>&1 || bad "make install-completions: $(cat "$tmp/inst")"
	check "installed: bash" cmp -s "$tmp/root/usr/share/bash-completion/completions/sdq" "$tmp/sdq.bash"
	check "installed: zsh" test -s "$tmp/root/usr/share/zsh/site-functions/_sdq"
	check "installed: fish" test -s "$tmp/root/usr/share/fish/vendor_completions.d/sdq.fish"
fi

th_end
