"""The Triton NMS kernel against the reference loops and the torch path.

Without CUDA the kernel runs under Triton's interpreter (``TRITON_INTERPRET=1``, set by
``conftest.py`` before triton is imported), on CPU tensors: the same kernel code, slowly, so
these cases stay small. Large cases are marked ``gpu``.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch

from tests._nms_cases import Case, adversarial_cases, count_exact_ties, nested_grid_proposals
from tests.helpers import run_without_triton_interpreter
from tests.reference import nms_reference as ref
from wtal_blocks.nms import batched_temporal_nms, temporal_nms

if importlib.util.find_spec("triton") is None:
    pytest.skip(
        "triton is not installed (pip install 'wtal_blocks[cuda]'); the kernel cannot run",
        allow_module_level=True,
    )

CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
CASES = adversarial_cases()


def _tensors(segments: list, scores: list) -> tuple[torch.Tensor, torch.Tensor]:
    seg = torch.tensor(segments, dtype=torch.float64, device=DEVICE).reshape(-1, 2)
    return seg, torch.tensor(scores, dtype=torch.float64, device=DEVICE)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize(("threshold", "offset"), [(0.6, 0.0), (0.6, 1.0)])
def test_single_group_matches_reference(case: Case, threshold: float, offset: float) -> None:
    seg, sc = _tensors(case.segments, case.scores)
    got = temporal_nms(seg, sc, threshold, offset=offset, backend="triton")
    assert got.dtype == torch.int64
    assert got.tolist() == ref.greedy_nms(case.segments, case.scores, threshold, offset)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize(("threshold", "offset"), [(0.6, 0.0), (0.6, 1.0)])
def test_batched_matches_reference_and_torch(case: Case, threshold: float, offset: float) -> None:
    seg, sc = _tensors(case.segments, case.scores)
    idxs = torch.tensor(case.groups, device=DEVICE)
    got = batched_temporal_nms(seg, sc, idxs, threshold, offset=offset, backend="triton")
    expected = ref.batched_greedy_nms(case.segments, case.scores, case.groups, threshold, offset)
    assert got.tolist() == expected
    torch_path = batched_temporal_nms(seg, sc, idxs, threshold, offset=offset, backend="torch")
    assert got.tolist() == torch_path.tolist()


@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_exact_threshold_ties(offset: float) -> None:
    case = next(c for c in CASES if c.name == "grid_ties")
    assert count_exact_ties(case.segments, 0.6, offset) > 0
    a, b = (0.0, 5.0 - offset), (2.0, 5.0 - offset)  # IoU exactly 0.6
    seg, sc = _tensors([a, b], [0.9, 0.8])
    assert temporal_nms(seg, sc, 0.6, offset=offset, backend="triton").tolist() == [0]


@pytest.mark.parametrize("threshold", [0.0, 1 / 3, 1.0])
def test_other_thresholds(threshold: float) -> None:
    case = next(c for c in CASES if c.name == "half_grid_ties_with_score_ties")
    seg, sc = _tensors(case.segments, case.scores)
    got = temporal_nms(seg, sc, threshold, backend="triton")
    assert got.tolist() == ref.greedy_nms(case.segments, case.scores, threshold, 0.0)


def test_many_groups_of_different_sizes_in_one_launch() -> None:
    # more groups than persistent programs, sizes from 1 to several 32-row chunks, with
    # unused ids in between (empty groups)
    segments, scores = nested_grid_proposals(11, positions=300)
    sizes = [1, 2, 33, 0, 70, 5, 0, 31, 32, 3, 9]
    groups: list[int] = []
    for gid, size in enumerate(sizes):
        groups += [gid * 10] * size
    segments = segments[: len(groups)]
    scores = scores[: len(groups)]
    assert len(segments) == len(groups)
    seg, sc = _tensors(segments, scores)
    idxs = torch.tensor(groups, device=DEVICE)
    for offset in (0.0, 1.0):
        got = batched_temporal_nms(seg, sc, idxs, 0.6, offset=offset, backend="triton")
        assert got.tolist() == ref.batched_greedy_nms(segments, scores, groups, 0.6, offset)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32])
def test_low_precision_inputs_are_cast_exactly(dtype: torch.dtype) -> None:
    case = next(c for c in CASES if c.name == "half_grid_ties_with_score_ties")
    seg = torch.tensor(case.segments, dtype=dtype, device=DEVICE)
    sc = torch.tensor(case.scores, dtype=dtype, device=DEVICE)
    got = temporal_nms(seg, sc, 0.6, offset=1.0, backend="triton")
    expected = ref.greedy_nms(seg.double().tolist(), sc.double().tolist(), 0.6, 1.0)
    assert got.tolist() == expected


def test_empty_input() -> None:
    seg = torch.empty(0, 2, device=DEVICE)
    sc = torch.empty(0, device=DEVICE)
    assert temporal_nms(seg, sc, 0.6, backend="triton").shape == (0,)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize(("groups", "size"), [(20, 1000), (8, 4096)])
def test_large_batches_on_gpu(groups: int, size: int) -> None:
    seg_list, sc_list, idx_list = [], [], []
    for g in range(groups):
        segments, scores = nested_grid_proposals(g, positions=4 * size)
        segments, scores = segments[:size], scores[:size]
        seg_list += segments
        sc_list += scores
        idx_list += [g] * len(segments)
    seg, sc = _tensors(seg_list, sc_list)
    idxs = torch.tensor(idx_list, device=DEVICE)
    for offset in (0.0, 1.0):
        got = batched_temporal_nms(seg, sc, idxs, 0.6, offset=offset, backend="triton")
        cpu = batched_temporal_nms(seg.cpu(), sc.cpu(), idxs.cpu(), 0.6, offset=offset)
        assert got.cpu().tolist() == cpu.tolist()


_COMPILE_CHECK = """
import sys
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource, compile
from wtal_blocks.kernels import nms_triton as k

signature = {name: kind for name, kind in [
    ("start_ptr", "*fp64"), ("end_ptr", "*fp64"), ("group_first_ptr", "*i64"),
    ("group_size_ptr", "*i64"), ("num_groups_ptr", "*i64"), ("params_ptr", "*fp64"),
    ("removed_ptr", "*i8"), ("keep_ptr", "*i8"), ("ROWS", "constexpr"), ("COLS", "constexpr"),
]}
source = ASTSource(k._nms_groups_kernel, signature, {"ROWS": k._ROWS, "COLS": k._COLS})
compiled = compile(source, target=GPUTarget("cuda", 90, 32), options={"enable_fp_fusion": False})
sys.stdout.write(compiled.asm["ptx"])
"""


def test_compiled_kernel_divides_exactly() -> None:
    # The interpreter cannot show how the kernel is compiled. Compile it ahead of time for
    # sm_90 (no device needed; in a fresh process, as the interpreter replaces @triton.jit)
    # and check the float64 division and the absence of FMAs, which make the GPU results
    # tie-exact.
    result = run_without_triton_interpreter(_COMPILE_CHECK)
    if result.returncode != 0 and (
        "ImportError" in result.stderr or "ptxas" in result.stderr
    ):  # pragma: no cover - depends on the triton build
        pytest.skip(f"this triton cannot compile for CUDA ahead of time: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr[-2000:]
    ptx = result.stdout
    assert "div.rn.f64" in ptx
    assert "fma.rn.f64" not in ptx
    assert "div.approx" not in ptx and "div.full" not in ptx
