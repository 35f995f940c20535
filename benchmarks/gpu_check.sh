#!/usr/bin/env bash
# Every GPU check and figure in one command, for a lent CUDA machine (see docs "Benchmarks").
#   1. correctness on CUDA first: the fast training step (CUDA graph and torch.compile against
#      the eager step, no host synchronisation), top-k auto dispatch, the NMS kernel, the top-k
#      kernel's large shapes                                                        (~2-3 min)
#   2. figures, each timed in one run against its baseline:
#      - top-k pooling vs torch.topk+mean, and the auto crossover sweep                 (~1.5 min)
#      - batched temporal NMS vs a per-group loop                                        (~1 min)
#      - the UM training step, batch 16 x 750 x 2048, ours vs the official style
#        (GPU_CHECK_COMPILE=1 adds torch.compile, ~1 min of compilation)                (~0.5 min)
#      - where the step's time goes: its kernels by device time; the embedding
#        convolution (nearly all the FLOPs) in two layouts and three cuDNN settings     (~0.5 min)
#      - a whole 10,000-iteration UM training at THUMOS'14 scale (synthetic features,
#        evaluation every 1,000 steps) vs the official-style loop                         (~2 min)
#   3. the rest of the kernel tests on CUDA, capped by $GPU_TEST_SECONDS (default 150)
# Every step runs even when one fails; a failure is announced at once and the script exits 1.
# Usage: bash benchmarks/gpu_check.sh   (from anywhere; prints everything)
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset TRITON_INTERPRET
PY=${PYTHON:-python3}
failed=()

step() {  # step NAME COMMAND...: run it, and announce a failure loudly
  local name=$1
  shift
  echo
  echo "== $name =="
  if ! "$@"; then
    echo "!!!!!!!! FAILED: $name" >&2
    failed+=("$name")
  fi
}

$PY - <<'PY' || { echo "no CUDA device: nothing to check" >&2; exit 1; }
import torch
assert torch.cuda.is_available(), "CUDA not available"
print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY
$PY -c "import triton, wtal_blocks; print('triton', triton.__version__, '| wtal_blocks', wtal_blocks.__version__)" \
  || $PY -m pip install -q "triton>=3.0" || failed+=("triton")
$PY -c "import hypothesis, pytest" 2>/dev/null || $PY -m pip install -q pytest hypothesis || failed+=("pytest")
# pytest-xdist, where present, compiles the kernels' many specialisations in parallel
XDIST=$($PY -c "import xdist" 2>/dev/null && echo "-n 14" || echo "")
PYTEST="$PY -m pytest -q -p no:cacheprovider"
start=$(date +%s)

step "correctness on CUDA: fast training step, top-k dispatch" \
  $PYTEST tests/test_fast_step.py tests/test_pooling_dispatch.py
step "correctness on CUDA: NMS kernel, top-k large shapes" \
  $PYTEST $XDIST tests/test_nms_triton.py tests/test_pooling_triton.py::test_large_shapes_on_cuda

step "top-k MIL pooling: Triton vs torch.topk+mean; the auto crossover sweep" \
  timeout 300 $PY benchmarks/bench_topk.py --crossover
step "batched temporal NMS: Triton vs per-group loop of the torch path" \
  timeout 300 $PY benchmarks/bench_nms.py --gpu
step "UM training step (batch 16 x 750 x 2048): ours vs official-style, same run" \
  timeout 300 $PY benchmarks/bench_train.py --device cuda ${GPU_CHECK_COMPILE:+--compile}
step "where the training step's time goes: its kernels, the embedding conv's layouts" \
  timeout 180 $PY benchmarks/bench_train.py --profile
step "10,000-iteration UM training, THUMOS'14 scale, evaluation every 1,000: ours vs official-style loop" \
  timeout 420 $PY benchmarks/bench_train.py --device cuda --full --fast-step graph --device-data on

step "correctness on CUDA: every kernel test (cap ${GPU_TEST_SECONDS:-150} s)" \
  timeout "${GPU_TEST_SECONDS:-150}" $PYTEST $XDIST tests/test_pooling_triton.py \
  tests/test_nms_triton.py tests/test_pooling.py tests/test_nms.py

echo
echo "gpu_check: $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -eq 0 ]; then
  echo "gpu_check: all passed"
  exit 0
fi
echo "gpu_check: FAILED (${#failed[@]}):" >&2
printf '  - %s\n' "${failed[@]}" >&2
exit 1
