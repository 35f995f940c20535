#!/usr/bin/env bash
# GPU checks for the Triton kernels, to run on a lent CUDA machine (see docs "Benchmarks").
#   1. install what is needed (torch with CUDA is expected on the machine; triton, test deps)
#   2. correctness of the CUDA paths: the kernel tests incl. the GPU-only large cases
#   3. timings in one run: top-k pooling vs torch.topk+mean on (16,750,20) and (16,4096,200);
#      batched NMS vs a per-group loop of the torch path on 20x1k and 200x4k proposals
#   4. tables of ratios
# Usage: bash benchmarks/gpu_check.sh   (from the repository root; prints everything)
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
status=0

python - <<'PY' || { echo "no CUDA device: nothing to check"; exit 1; }
import torch
assert torch.cuda.is_available(), "CUDA not available"
print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY

python -m pip install -q --no-deps -e . 2>/dev/null || python -m pip install -q -e .
python -c "import triton" 2>/dev/null || python -m pip install -q "triton>=3.0"
python -c "import hypothesis, pytest" 2>/dev/null || python -m pip install -q pytest hypothesis

echo "== correctness on CUDA (kernels vs torch path and references, incl. large cases) =="
unset TRITON_INTERPRET
python -m pytest -q -p no:cacheprovider tests/test_pooling_triton.py tests/test_nms_triton.py tests/test_pooling.py tests/test_nms.py || status=1

echo "== top-k MIL pooling: Triton vs torch.topk+mean =="
python benchmarks/bench_topk.py || status=1

echo "== batched temporal NMS: Triton vs per-group loop of the torch path =="
python benchmarks/bench_nms.py --gpu || status=1

echo "== training iteration (batch 16 x 750 x 2048) =="
python benchmarks/bench_train.py --device cuda --steps 5 || status=1
exit $status
