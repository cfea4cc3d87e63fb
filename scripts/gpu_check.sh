#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU (CI never has one): the CUDA tests on real
# kernels, optgen.torch's trainings on torch CUDA tensors (tests/test_torch_cuda.py: Adam,
# AdamW, SGD momentum, NAdam, LAMB, Adafactor and Muon, whose Newton-Schulz runs on torch's device matmul,
# against torch.optim on the same GPU, a checkpoint round trip, a side stream, states in
# torch's CUDA memory), then `optgen bench --device cuda` (Adam and LAMB at 2^26 parameters and
# on GPT-2 small, against torch's fused CUDA Adam and a copy kernel moving the same bytes). One report
# file; under 8 minutes on an H200. Its figures go into docs/performance.md, with the device.
#
#   scripts/gpu_check.sh [REPORT]     REPORT defaults to $OUT/gpu_report.txt, else ./gpu_report.txt
#
# It runs from the checkout without installing (PYTHONPATH), under $PYTHON (default: python3,
# which must have numba-cuda, sympy, jinja2, pytest and, for the peer, a CUDA build of torch).
# Exit status: 0 all ran, 1 a test or bench failed, 2 no CUDA GPU here (nothing was checked).
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export OPTGEN_CACHE_DIR="${OPTGEN_CACHE_DIR:-${TMPDIR:-/tmp}/optgen-gpu-check}"
unset NUMBA_ENABLE_CUDASIM
REPORT="${1:-${OUT:+$OUT/}gpu_report.txt}"
status=0

section() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
run() {  # run LIMIT_S CMD...: a step of the check; its failure is reported and counted, not fatal
    local limit=$1; shift
    timeout "$limit" "$@" || { echo "-- failed (exit $?): $*"; status=1; }
}

{
echo "optgen GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
section "device"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv 2>&1 \
    || echo "nvidia-smi: not available"
if ! "$PY" -c "
import sys
import numba
from numba import cuda
print('python', sys.version.split()[0], '| numba', numba.__version__)
if not cuda.is_available():
    sys.exit(2)
d = cuda.get_current_device()
print('numba-cuda sees', d.name.decode() if isinstance(d.name, bytes) else d.name, 'cc', d.compute_capability)
try:
    import torch
    print('torch', torch.__version__, '| cuda', torch.version.cuda, '| available', torch.cuda.is_available())
except ImportError:
    print('torch: not installed (the bench runs without its peer)')
"; then
    echo "no CUDA GPU here: nothing was checked"
    exit 2
fi

section "CUDA tests on the real device (tests/cuda_sim without the simulator, tests/test_cuda.py)"
run 200 "$PY" -m pytest -q -p no:cacheprovider -n 4 tests/cuda_sim tests/test_cuda.py

section "optgen.torch on torch CUDA tensors (tests/test_torch_cuda.py; skipped: torch sees no GPU)"
run 80 "$PY" -m pytest -q -p no:cacheprovider -p no:xdist -rs tests/test_torch_cuda.py

section "optgen bench --device cuda: Adam and LAMB, one tensor of 2^26"
run 90 "$PY" -m optgen bench adam lamb --device cuda --size '2**26' -q --json "${REPORT%.txt}-2e26.json"

section "optgen bench --device cuda: Adam and LAMB, GPT-2 small (148 tensors)"
run 90 "$PY" -m optgen bench adam lamb --device cuda --model gpt2-small -q --json "${REPORT%.txt}-gpt2.json"

section "done: exit status $status"
exit $status
} 2>&1 | tee "$REPORT"
exit "${PIPESTATUS[0]}"
