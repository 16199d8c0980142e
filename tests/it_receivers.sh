#!/bin/sh
# it_receivers.sh: every built-in template and the example ComfyUI workflows,
# rendered as sdq sends them, judged by the receiving side's rules
# (tests/receivers.py: runpod-python's validator with worker-sdxl's and
# worker-stable_diffusion_v1's schemas, A1111's txt2img, ComfyUI's node
# inputs, A1111's infotext reader). Needs python3 (standard library only).
set -u
BUILD=${BUILD:-build}
helper="$BUILD/tests/helper_render"
if [ ! -x "$helper" ]; then
	echo "it_receivers: 0 passed, 1 failed ($helper not built)"
	exit 1
fi
exec python3 tests/receivers.py "$helper" examples
