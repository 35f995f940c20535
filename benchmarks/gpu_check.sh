#!/usr/bin/env bash
# GPU checks for the Triton kernels, to run on a lent CUDA machine (see docs "Benchmarks").
#   1. set up: torch with CUDA, triton, pytest and hypothesis are expected on the machine (the
#      lent machines have them and no network); the package is used from the checkout
#   2. correctness of the CUDA paths: the GPU-only large cases and the NMS kernel tests first,
#      then every kernel test on CUDA (capped by $GPU_TEST_SECONDS, default 300)
#   3. timings in one run: top-k pooling vs torch.topk+mean on (16,750,20) and (16,4096,200);
#      batched NMS vs a per-group loop of the torch path on 20x1k and 200x4k proposals
#   4. tables of ratios, then one training iteration's time
# Usage: bash benchmarks/gpu_check.sh   (from anywhere; prints everything)
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset TRITON_INTERPRET
PY=${PYTHON:-python3}
status=0

$PY - <<'PY' || { echo "no CUDA device: nothing to check"; exit 1; }
import torch
assert torch.cuda.is_available(), "CUDA not available"
print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY
$PY -c "import triton, wtal_blocks; print('triton', triton.__version__, '| wtal_blocks', wtal_blocks.__version__)" \
  || $PY -m pip install -q "triton>=3.0" || status=1
$PY -c "import hypothesis, pytest" 2>/dev/null || $PY -m pip install -q pytest hypothesis || status=1
# pytest-xdist, where present, compiles the kernels' many specialisations in parallel
XDIST=$($PY -c "import xdist" 2>/dev/null && echo "-n 14" || echo "")
PYTEST="$PY -m pytest -q -p no:cacheprovider"

echo "== correctness on CUDA: large shapes and the NMS kernel =="
$PYTEST $XDIST tests/test_nms_triton.py tests/test_pooling_triton.py::test_large_shapes_on_cuda || status=1

echo "== top-k MIL pooling: Triton vs torch.topk+mean =="
$PY benchmarks/bench_topk.py --sweep || status=1

echo "== batched temporal NMS: Triton vs per-group loop of the torch path =="
$PY benchmarks/bench_nms.py --gpu || status=1

echo "== correctness on CUDA: every kernel test (cap ${GPU_TEST_SECONDS:-300} s) =="
timeout "${GPU_TEST_SECONDS:-300}" $PYTEST $XDIST tests/test_pooling_triton.py tests/test_nms_triton.py \
  tests/test_pooling.py tests/test_nms.py || status=1

echo "== training iteration (batch 16 x 750 x 2048) =="
$PY benchmarks/bench_train.py --device cuda --steps 5 || status=1
echo "gpu_check: $([ $status -eq 0 ] && echo all passed || echo FAILURES above)"
exit $status
