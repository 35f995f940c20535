"""Torch path of wtal_blocks.nms against the textbook loops in tests/reference."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests._nms_cases import (
    Case,
    adversarial_cases,
    count_exact_ties,
    nested_grid_proposals,
)
from tests.conftest import REPO_ROOT
from tests.reference import nms_reference as ref
from wtal_blocks.nms import (
    TemporalNMS,
    _graph,
    batched_soft_nms,
    batched_temporal_nms,
    greedy,
    soft_nms,
    temporal_nms,
)

CASES = adversarial_cases()
SETTINGS = [(0.6, 0.0), (0.6, 1.0), (0.5, 0.0), (1 / 3, 1.0), (0.75, 0.0), (1.0, 0.0), (0.0, 1.0)]


def _tensors(case: Case, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    segments = torch.tensor(case.segments, dtype=dtype).reshape(-1, 2)
    return segments, torch.tensor(case.scores, dtype=torch.float64)


def _nms(segments: list, scores: list, threshold: float, offset: float) -> list[int]:
    seg = torch.tensor(segments, dtype=torch.float64).reshape(-1, 2)
    sc = torch.tensor(scores, dtype=torch.float64)
    return temporal_nms(seg, sc, threshold, offset=offset, backend="torch").tolist()


# ---------------------------------------------------------------------------------------------
# exact agreement with the reference loop
# ---------------------------------------------------------------------------------------------


@pytest.fixture(params=["numpy_path", "torch_path"])
def cpu_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """CPU tensors take the numpy path; the torch path (CUDA's) runs on the CPU too."""
    monkeypatch.setattr(greedy, "_NUMPY_ON_CPU", request.param == "numpy_path")
    return str(request.param)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize(("threshold", "offset"), SETTINGS)
def test_matches_reference_on_adversarial_cases(
    cpu_path: str, case: Case, threshold: float, offset: float
) -> None:
    segments, scores = _tensors(case)
    got = temporal_nms(segments, scores, threshold, offset=offset, backend="torch")
    assert got.dtype == torch.int64
    assert got.tolist() == ref.greedy_nms(case.segments, case.scores, threshold, offset)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize(("threshold", "offset"), [(0.6, 0.0), (0.6, 1.0), (0.0, 0.0)])
def test_batched_matches_reference(
    cpu_path: str, case: Case, threshold: float, offset: float
) -> None:
    segments, scores = _tensors(case)
    idxs = torch.tensor(case.groups, dtype=torch.int64)
    got = batched_temporal_nms(segments, scores, idxs, threshold, offset=offset, backend="torch")
    expected = ref.batched_greedy_nms(case.segments, case.scores, case.groups, threshold, offset)
    assert got.tolist() == expected


@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_exact_threshold_ties_are_suppressed(offset: float) -> None:
    # len 5 and 3 (offset included), inter 3, union 5: IoU is exactly the double 0.6
    a = (0.0, 5.0 - offset)
    b = (2.0, 5.0 - offset)
    assert ref.iou(a, b, offset) == 0.6
    assert _nms([a, b], [0.9, 0.8], 0.6, offset) == [0]
    assert _nms([a, b], [0.9, 0.8], 0.6 + 1e-12, offset) == [0, 1]


@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_grid_ties_exist_and_match(offset: float) -> None:
    case = next(c for c in CASES if c.name == "grid_ties")
    assert count_exact_ties(case.segments, 0.6, offset) > 0  # the case tests what it claims
    assert _nms(case.segments, case.scores, 0.6, offset) == ref.greedy_nms(
        case.segments, case.scores, 0.6, offset
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_bit_identical_to_official_numpy_formulation(
    cpu_path: str, seed: int, offset: float
) -> None:
    segments, scores = nested_grid_proposals(seed, positions=1500)
    seg = np.asarray(segments)
    got = _nms(segments, scores, 0.6, offset)
    assert got == ref.official_style_nms(seg, np.asarray(scores), 0.6, offset)
    assert len(segments) > 300


def test_realistic_proposals_have_exact_ties_with_plain_iou() -> None:
    segments, scores = nested_grid_proposals(0, positions=300)
    assert count_exact_ties(segments, 0.6, 0.0) > 0 or count_exact_ties(segments, 0.5, 0.0) > 0
    for threshold in (0.5, 0.6):
        assert _nms(segments, scores, threshold, 0.0) == ref.greedy_nms(
            segments, scores, threshold, 0.0
        )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_float_dtypes(dtype: torch.dtype, offset: float) -> None:
    case = next(c for c in CASES if c.name == "half_grid_ties_with_score_ties")
    segments = torch.tensor(case.segments, dtype=dtype)
    scores = torch.tensor(case.scores, dtype=dtype)
    values = segments.double().tolist()  # exactly what the op sees
    expected = ref.greedy_nms(values, scores.double().tolist(), 0.6, offset)
    assert temporal_nms(segments, scores, 0.6, offset=offset).tolist() == expected


def _force_blocks(monkeypatch: pytest.MonkeyPatch, first_block: int, budget: int) -> None:
    # the torch path's blocks (CUDA tensors take it; tests/test_nms_dense.py forces the numpy
    # path's switches)
    monkeypatch.setattr(greedy, "_NUMPY_ON_CPU", False)
    monkeypatch.setattr(greedy, "_SPARSE_PAIRS_PER_SEGMENT", -1)
    monkeypatch.setattr(greedy, "_BLOCK", first_block)
    monkeypatch.setattr(_graph, "_PAIR_BUDGET", budget)


@pytest.mark.parametrize(("first_block", "budget"), [(1, 10**9), (4, 64), (16, 10**9)])
def test_several_blocks(monkeypatch: pytest.MonkeyPatch, first_block: int, budget: int) -> None:
    # the block-by-block path, including blocks whose members are suppressed by segments kept
    # in earlier blocks and blocks cut short by the pair budget
    _force_blocks(monkeypatch, first_block, budget)
    for case in CASES:
        for threshold, offset in [(0.6, 0.0), (0.6, 1.0), (0.3, 0.0)]:
            assert _nms(case.segments, case.scores, threshold, offset) == ref.greedy_nms(
                case.segments, case.scores, threshold, offset
            ), case.name
            segments, scores = _tensors(case)
            idxs = torch.tensor(case.groups)
            got = batched_temporal_nms(segments, scores, idxs, threshold, offset=offset)
            assert got.tolist() == ref.batched_greedy_nms(
                case.segments, case.scores, case.groups, threshold, offset
            )


def test_several_blocks_large_n(monkeypatch: pytest.MonkeyPatch) -> None:
    _force_blocks(monkeypatch, 64, 2000)
    segments, scores = nested_grid_proposals(3, positions=3000)
    seg = np.asarray(segments)
    assert _nms(segments, scores, 0.6, 1.0) == ref.official_style_nms(seg, np.asarray(scores), 0.6)


def test_all_identical_large_n() -> None:
    # 4.5 million candidate pairs: the growing-blocks path, with the default settings
    n = 3000
    segments = torch.tensor([[1.0, 2.0]] * n)
    scores = torch.rand(n, generator=torch.Generator().manual_seed(0))
    assert temporal_nms(segments, scores, 0.6).tolist() == [int(scores.argmax())]
    idxs = torch.arange(n) % 3
    got = batched_temporal_nms(segments, scores, idxs, 0.6)
    expected = sorted(
        (int(i) for i in scores.view(-1, 3).argmax(0) * 3 + torch.arange(3)),
        key=lambda i: -scores[i],
    )
    assert got.tolist() == expected


@pytest.mark.parametrize("seed", range(20))
def test_decision_rounds_torch_and_numpy_agree(seed: int) -> None:
    # the torch rounds serve CUDA tensors; check them here against the numpy ones and a loop
    gen = torch.Generator().manual_seed(seed)
    n = 60
    src = torch.randint(0, n, (200,), generator=gen)
    dst = torch.randint(0, n, (200,), generator=gen)
    keep = src < dst
    edges = torch.stack([src[keep], dst[keep]])
    undecided = torch.rand(n, generator=gen) < 0.9
    inner = undecided[edges[0]] & undecided[edges[1]]
    edges = edges[:, inner]
    expected = torch.zeros(n, dtype=torch.bool)
    for node in range(n):  # textbook: kept iff undecided and no kept node suppresses it
        parents = edges[0][edges[1] == node]
        expected[node] = bool(undecided[node]) and not bool(expected[parents].any())
    assert torch.equal(_graph._resolve_greedy_torch(edges, undecided), expected)
    assert torch.equal(_graph._resolve_greedy(edges, undecided), expected)


def test_empty_input() -> None:
    empty = torch.empty(0, 2)
    got = temporal_nms(empty, torch.empty(0), 0.6)
    assert got.dtype == torch.int64 and got.shape == (0,)
    got = batched_temporal_nms(empty, torch.empty(0), torch.empty(0, dtype=torch.int64), 0.6)
    assert got.dtype == torch.int64 and got.shape == (0,)


def test_zero_length_rule() -> None:
    # same point: IoU 1 (suppressed); distinct points: IoU 0 (both kept)
    assert ref.iou((3.0, 3.0), (3.0, 3.0), 0.0) == 1.0
    assert _nms([(3.0, 3.0), (3.0, 3.0)], [0.5, 0.6], 0.6, 0.0) == [1]
    assert _nms([(3.0, 3.0), (4.0, 4.0)], [0.5, 0.6], 0.6, 0.0) == [1, 0]
    assert _nms([(3.0, 3.0), (2.0, 5.0)], [0.5, 0.6], 0.6, 0.0) == [1, 0]
    # with the +1 convention a point has length 1
    assert _nms([(3.0, 3.0), (3.0, 3.0)], [0.5, 0.6], 0.6, 1.0) == [1]


def test_score_ties_keep_input_order() -> None:
    segments = [(0.0, 1.0), (5.0, 6.0), (0.0, 1.0), (5.0, 6.0)]
    assert _nms(segments, [0.5] * 4, 0.5, 0.0) == [0, 1]
    assert _nms(segments[::-1], [0.5] * 4, 0.5, 0.0) == [0, 1]


def test_thresholds_zero_and_one() -> None:
    segments = [(0.0, 1.0), (5.0, 6.0), (0.0, 1.0), (0.0, 1.0 + 1e-9)]
    scores = [0.1, 0.4, 0.3, 0.2]
    assert _nms(segments, scores, 0.0, 0.0) == [1]  # IoU >= 0 holds for every pair
    assert _nms(segments, scores, 1.0, 0.0) == [1, 2, 3]  # only identical segments


def test_result_is_sorted_by_score_and_batched_by_group() -> None:
    segments = torch.tensor([[0.0, 10.0], [1.0, 10.0], [0.0, 10.0], [20.0, 30.0]])
    scores = torch.tensor([0.2, 0.9, 0.5, 0.7])
    idxs = torch.tensor([0, 0, 1, 1], dtype=torch.int32)
    assert batched_temporal_nms(segments, scores, idxs, 0.5).tolist() == [1, 3, 2]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_batched_idxs_dtypes(dtype: torch.dtype) -> None:
    case = next(c for c in CASES if c.name == "score_ties")
    segments, scores = _tensors(case)
    groups = [i % 5 for i in range(len(case.scores))]
    got = batched_temporal_nms(segments, scores, torch.tensor(groups, dtype=dtype), 0.6)
    assert got.tolist() == ref.batched_greedy_nms(case.segments, case.scores, groups, 0.6)


def test_batched_equals_loop_over_groups() -> None:
    segments, scores = nested_grid_proposals(5, positions=800)
    n = len(scores)
    rng = np.random.default_rng(0)
    idxs = torch.from_numpy(rng.choice([2, 9, 30, 31], size=n, p=[0.6, 0.3, 0.09, 0.01]))
    seg = torch.tensor(segments)
    sc = torch.tensor(scores)
    got = batched_temporal_nms(seg, sc, idxs, 0.6, offset=1.0)
    expected: list[int] = []
    for g in idxs.unique():
        members = torch.nonzero(idxs == g).flatten()
        kept = temporal_nms(seg[members], sc[members], 0.6, offset=1.0)
        expected += members[kept].tolist()
    assert got.tolist() == sorted(expected, key=lambda i: (-scores[i], i))


# ---------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------

_grid_segment = st.tuples(st.integers(0, 30), st.integers(0, 12)).map(
    lambda t: (t[0] / 2, (t[0] + t[1]) / 2)
)


@st.composite
def _inputs(draw: st.DrawFn, distinct_scores: bool) -> tuple[list, list, float, float]:
    segments = draw(st.lists(_grid_segment, min_size=0, max_size=40))
    n = len(segments)
    if distinct_scores:
        scores = [float(s) for s in draw(st.permutations(range(n)))]
    else:
        scores = draw(st.lists(st.sampled_from([0.1, 0.2, 0.5, 0.9]), min_size=n, max_size=n))
    threshold = draw(st.sampled_from([0.1, 1 / 3, 0.5, 0.6, 2 / 3, 0.7, 0.9, 1.0]))
    offset = draw(st.sampled_from([0.0, 1.0]))
    return segments, scores, threshold, offset


@given(_inputs(distinct_scores=False))
def test_property_matches_reference(inputs: tuple[list, list, float, float]) -> None:
    segments, scores, threshold, offset = inputs
    expected = ref.greedy_nms(segments, scores, threshold, offset)
    assert _nms(segments, scores, threshold, offset) == expected
    greedy._NUMPY_ON_CPU = False  # the torch path too (hypothesis forbids fixtures here)
    try:
        assert _nms(segments, scores, threshold, offset) == expected
    finally:
        greedy._NUMPY_ON_CPU = True


@given(_inputs(distinct_scores=True), st.randoms(use_true_random=False))
def test_property_order_independent_without_score_ties(
    inputs: tuple[list, list, float, float], rnd: object
) -> None:
    segments, scores, threshold, offset = inputs
    perm = list(range(len(scores)))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    kept = _nms(segments, scores, threshold, offset)
    kept_permuted = _nms([segments[i] for i in perm], [scores[i] for i in perm], threshold, offset)
    assert [perm[i] for i in kept_permuted] == kept


@given(_inputs(distinct_scores=False))
def test_property_kept_disjoint_and_suppressed_covered(
    inputs: tuple[list, list, float, float],
) -> None:
    segments, scores, threshold, offset = inputs
    kept = _nms(segments, scores, threshold, offset)
    position = {k: p for p, k in enumerate(ref.score_order(scores))}
    for a_i, a in enumerate(kept):
        for b in kept[a_i + 1 :]:
            assert ref.iou(segments[a], segments[b], offset) < threshold
    for j in set(range(len(scores))) - set(kept):
        assert any(
            position[k] < position[j] and ref.iou(segments[k], segments[j], offset) >= threshold
            for k in kept
        )
    assert kept == sorted(kept, key=position.__getitem__)


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------

GOOD_SEG = torch.tensor([[0.0, 1.0], [0.5, 2.0]])
GOOD_SCORES = torch.tensor([0.3, 0.4])
SPAN = (
    r"segments must span at most 1e\+307 in float64 .* \(start .* at index \d, end .* at index \d\)"
)


@pytest.mark.parametrize(
    ("segments", "scores", "threshold", "match"),
    [
        (GOOD_SEG, torch.tensor([0.3, math.nan]), 0.5, "scores must be finite"),
        (GOOD_SEG, torch.tensor([0.3, math.inf]), 0.5, "scores must be finite"),
        (torch.tensor([[0.0, math.inf], [0.0, 1.0]]), GOOD_SCORES, 0.5, "segments must be finite"),
        (torch.tensor([[0.0, 1.0], [2.0, 1.0]]), GOOD_SCORES, 0.5, r"end >= start.*index 1"),
        (GOOD_SEG, torch.tensor([0.3, 0.4, 0.5]), 0.5, r"scores must have shape \(N,\) = \(2,\)"),
        (GOOD_SEG, torch.tensor([[0.3, 0.4]]), 0.5, r"scores must have shape \(N,\)"),
        (torch.tensor([0.0, 1.0]), GOOD_SCORES[:1], 0.5, r"segments must have shape \(N, 2\)"),
        (torch.zeros(2, 3), GOOD_SCORES, 0.5, r"segments must have shape \(N, 2\).*\(2, 3\)"),
        (GOOD_SEG.long(), GOOD_SCORES, 0.5, "segments must be a floating-point"),
        (GOOD_SEG, torch.tensor([1, 2]), 0.5, "scores must be a floating-point"),
        (GOOD_SEG, GOOD_SCORES, -0.1, r"iou_threshold must be a number in \[0, 1\], got -0.1"),
        (GOOD_SEG, GOOD_SCORES, 1.5, r"iou_threshold .* got 1.5"),
        (GOOD_SEG, GOOD_SCORES, math.nan, "iou_threshold"),
        (GOOD_SEG, GOOD_SCORES, math.inf, "iou_threshold"),
        (GOOD_SEG.bool(), GOOD_SCORES, 0.5, "segments must be a floating-point"),
        (GOOD_SEG, GOOD_SCORES.bool(), 0.5, "scores must be a floating-point"),
        (GOOD_SEG, GOOD_SCORES, torch.tensor(0.5), "iou_threshold must be a number"),
        (GOOD_SEG, GOOD_SCORES, True, "iou_threshold must be a number"),
        # lengths and unions of these overflow float64: the "keeps both copies"
        (torch.tensor([[-1e308, 1e308]] * 2, dtype=torch.float64), GOOD_SCORES, 0.5, SPAN),
        (
            torch.tensor([[0.0, 1e308], [1.7e308, 1.7e308]], dtype=torch.float64),
            GOOD_SCORES,
            0.5,
            SPAN,
        ),
        (torch.tensor([[-6e306, 1.0], [0.0, 6e306]], dtype=torch.float64), GOOD_SCORES, 0.5, SPAN),
    ],
)
def test_bad_inputs(
    segments: torch.Tensor, scores: torch.Tensor, threshold: float, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        temporal_nms(segments, scores, threshold)
    idxs = torch.zeros(scores.shape[0] if scores.dim() == 1 else 1, dtype=torch.int64)
    with pytest.raises(ValueError, match=match):
        batched_temporal_nms(segments, scores, idxs, threshold)


@pytest.mark.parametrize("numpy_on_cpu", [True, False])
def test_bad_inputs_on_both_cpu_paths(monkeypatch: pytest.MonkeyPatch, numpy_on_cpu: bool) -> None:
    # the numpy path checks values on its float64 copies, the torch path on the tensors
    monkeypatch.setattr(greedy, "_NUMPY_ON_CPU", numpy_on_cpu)
    for segments, scores, match in [
        (torch.tensor([[0.0, math.nan], [0.0, 1.0]]), GOOD_SCORES, "segments must be finite"),
        (torch.tensor([[math.inf, math.inf], [0.0, 1.0]]), GOOD_SCORES, "segments must be"),
        (GOOD_SEG, torch.tensor([0.1, -math.inf]), "scores must be finite, got 0 NaN and 1"),
        (torch.tensor([[0.0, 1.0], [3.0, 2.0]]), GOOD_SCORES, r"end >= start.*index 1"),
        (torch.tensor([[-1e308, 1e308]] * 2, dtype=torch.float64), GOOD_SCORES, SPAN),
    ]:
        with pytest.raises(ValueError, match=match):
            temporal_nms(segments, scores, 0.5)
        with pytest.raises(ValueError, match=match):
            batched_temporal_nms(segments, scores, torch.tensor([0, 0]), 0.5)
        with pytest.raises(ValueError, match=match):
            soft_nms(segments, scores)
    # a span inside the limit is fine, however large the coordinates
    huge = torch.tensor([[1e300, 1e300 + 1e285], [1e300, 1e300 + 2e285]], dtype=torch.float64)
    assert temporal_nms(huge, GOOD_SCORES, 0.5).tolist() == [1]
    # near the largest double with an offset of 8e306: end + offset overflows in the windows'
    # bounds (a window then runs to the end), never in an IoU
    top = torch.tensor(
        [[1.7e308, 1.7e308 + 1e292], [1.7e308, 1.7e308 + 2e292], [1.69e308, 1.7e308]],
        dtype=torch.float64,
    )
    three = torch.tensor([0.3, 0.4, 0.1])
    assert temporal_nms(top, three, 0.5, offset=8e306).tolist() == [1]
    got = batched_temporal_nms(top, three, torch.tensor([0, 0, 1]), 0.5, offset=8e306)
    assert got.tolist() == [1, 2]


def test_the_offset_counts_in_the_span() -> None:
    segments = torch.tensor([[0.0, 1.0], [0.0, 2.0]])
    with pytest.raises(ValueError, match=r"got 2e\+307"):
        temporal_nms(segments, GOOD_SCORES, 0.5, offset=2e307)


def test_inputs_that_require_grad() -> None:
    segments = GOOD_SEG.clone().requires_grad_()
    scores = GOOD_SCORES.clone().requires_grad_()
    assert temporal_nms(segments, scores, 0.5).tolist() == [1, 0]
    assert soft_nms(segments, scores)[2].tolist() == [1, 0]
    keep, voted = temporal_nms(segments, scores, 0.2, voting_threshold=0.2)
    assert keep.tolist() == [1] and not voted.requires_grad


def test_bad_offset_and_backend() -> None:
    with pytest.raises(ValueError, match="offset must be a finite number >= 0"):
        temporal_nms(GOOD_SEG, GOOD_SCORES, 0.5, offset=-1.0)
    with pytest.raises(ValueError, match="backend must be one of"):
        temporal_nms(GOOD_SEG, GOOD_SCORES, 0.5, backend="cuda")


@pytest.mark.parametrize(
    ("idxs", "match"),
    [
        (torch.tensor([0.0, 1.0]), "idxs must be an integer tensor"),
        (torch.tensor([True, False]), "idxs must be an integer tensor"),
        (torch.tensor([0, 1, 2]), r"idxs must have shape \(N,\) = \(2,\)"),
        (torch.tensor([[0, 1]]), r"idxs must have shape \(N,\)"),
    ],
)
def test_bad_idxs(idxs: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        batched_temporal_nms(GOOD_SEG, GOOD_SCORES, idxs, 0.5)


def test_not_a_tensor() -> None:
    with pytest.raises(TypeError, match=r"segments must be a torch\.Tensor"):
        temporal_nms([[0.0, 1.0]], GOOD_SCORES, 0.5)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# module wrapper, dispatch, optional dependency
# ---------------------------------------------------------------------------------------------


def test_module_wrapper() -> None:
    module = TemporalNMS(0.6, offset=1.0)
    case = next(c for c in CASES if c.name == "grid_ties")
    segments, scores = _tensors(case)
    idxs = torch.tensor(case.groups)
    assert (
        module(segments, scores).tolist()
        == temporal_nms(segments, scores, 0.6, offset=1.0).tolist()
    )
    assert (
        module(segments, scores, idxs).tolist()
        == batched_temporal_nms(segments, scores, idxs, 0.6, offset=1.0).tolist()
    )
    assert "iou_threshold=0.6, offset=1.0" in repr(module)
    with pytest.raises(ValueError, match="iou_threshold"):
        TemporalNMS(2.0)


def test_env_var_forces_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WTAL_BLOCKS_BACKEND", "torch")
    assert temporal_nms(GOOD_SEG, GOOD_SCORES, 0.5).tolist() == [1, 0]
    monkeypatch.setenv("WTAL_BLOCKS_BACKEND", "bogus")
    with pytest.raises(ValueError, match="WTAL_BLOCKS_BACKEND"):
        temporal_nms(GOOD_SEG, GOOD_SCORES, 0.5)


def test_works_without_triton() -> None:
    # a None entry in sys.modules makes `import triton` fail, as if it were not installed
    code = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch\n"
        "from wtal_blocks.nms import temporal_nms, batched_temporal_nms\n"
        "from wtal_blocks.kernels import triton_available\n"
        "assert not triton_available()\n"
        "s = torch.tensor([[0.0, 1.0], [0.1, 1.0]]); p = torch.tensor([0.2, 0.3])\n"
        "assert temporal_nms(s, p, 0.5).tolist() == [1]\n"
        "assert batched_temporal_nms(s, p, torch.tensor([0, 1]), 0.5).tolist() == [1, 0]\n"
        "assert 'triton' not in {m.split('.')[0] for m in sys.modules if sys.modules[m]}\n"
    )
    env = {**os.environ, "WTAL_BLOCKS_BACKEND": "auto"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------------
# soft-NMS
# ---------------------------------------------------------------------------------------------

SOFT_SETTINGS = [
    {"method": "gaussian", "sigma": 0.5, "min_score": 0.001},
    {"method": "gaussian", "sigma": 0.2, "min_score": 0.2, "max_detections": 7},
    {"method": "linear", "iou_threshold": 0.1, "min_score": 0.001},
    {"method": "linear", "iou_threshold": 0.6, "min_score": 0.0, "offset": 1.0},
    {"method": "linear", "iou_threshold": 0.0, "min_score": 0.05, "max_detections": 3},
]


def _soft_check(segments: list, scores: list, groups: list[int] | None, kwargs: dict) -> None:
    seg = torch.tensor(segments, dtype=torch.float64).reshape(-1, 2)
    sc = torch.tensor(scores, dtype=torch.float64)
    if groups is None:
        out_seg, out_scores, out_idx = soft_nms(seg, sc, **kwargs)
        expected_idx, expected_scores = ref.soft_nms(segments, scores, **kwargs)
    else:
        out_seg, out_scores, out_idx = batched_soft_nms(
            seg, sc, torch.tensor(groups, dtype=torch.int64), **kwargs
        )
        merged = []
        for g in sorted(set(groups)):
            members = [i for i, x in enumerate(groups) if x == g]
            idx, new = ref.soft_nms(
                [segments[i] for i in members], [scores[i] for i in members], **kwargs
            )
            merged += [(members[i], s) for i, s in zip(idx, new, strict=True)]
        merged.sort(key=lambda t: (-t[1], t[0]))
        expected_idx = [i for i, _ in merged]
        expected_scores = [s for _, s in merged]
    assert out_idx.dtype == torch.int64
    assert out_idx.tolist() == expected_idx
    assert out_scores.tolist() == pytest.approx(expected_scores, rel=1e-12, abs=1e-300)
    assert torch.equal(out_seg, seg[out_idx])


@pytest.mark.parametrize("kwargs", SOFT_SETTINGS)
@pytest.mark.parametrize("seed", range(4))
def test_soft_nms_matches_reference(kwargs: dict, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 60
    start = rng.uniform(0, 30, n)
    segments = [(float(a), float(a + b)) for a, b in zip(start, rng.uniform(0, 8, n), strict=True)]
    scores = [float(s) for s in rng.uniform(0, 1, n)]
    _soft_check(segments, scores, None, kwargs)
    _soft_check(segments, scores, [int(g) for g in rng.integers(0, 3, n)], kwargs)


@pytest.mark.parametrize("kwargs", SOFT_SETTINGS)
def test_soft_nms_one_pick_at_a_time_path(monkeypatch: pytest.MonkeyPatch, kwargs: dict) -> None:
    # the memory fallback, taken when the decaying pairs exceed the pair budget
    monkeypatch.setattr(_graph, "_PAIR_BUDGET", 0)
    rng = np.random.default_rng(5)
    n = 50
    start = rng.integers(0, 20, n)
    segments = [(float(a), float(a + b)) for a, b in zip(start, rng.integers(0, 8, n), strict=True)]
    scores = [float(s) for s in rng.choice([0.2, 0.5, 0.9], n)]  # score ties too
    _soft_check(segments, scores, None, kwargs)
    _soft_check(segments, scores, [int(g) for g in rng.integers(0, 3, n)], kwargs)


def test_soft_nms_many_duplicates() -> None:
    n = 3000  # 4.5 million overlapping pairs: the one-pick-at-a-time path
    segments = [(1.0, 2.0)] * n
    scores = [float(s) for s in np.random.default_rng(0).uniform(0.5, 1.0, n)]
    _soft_check(segments, scores, None, {"method": "gaussian"})


def test_soft_nms_nested_proposals() -> None:
    segments, scores = nested_grid_proposals(7, positions=200)
    for kwargs in SOFT_SETTINGS:
        _soft_check(segments, scores, None, kwargs)


def test_soft_nms_linear_is_hard_nms_limit() -> None:
    # identical segments: linear decay 1 - IoU = 0 drops every later copy, like hard NMS
    seg = torch.tensor([[0.0, 4.0]] * 5 + [[10.0, 12.0]])
    sc = torch.tensor([0.1, 0.5, 0.3, 0.2, 0.4, 0.05])
    _, new_scores, idx = soft_nms(seg, sc, method="linear", iou_threshold=0.5, min_score=1e-6)
    assert idx.tolist() == [1, 5]
    assert new_scores.tolist() == pytest.approx([0.5, 0.05])


def test_soft_nms_empty_and_dtypes() -> None:
    seg, new_scores, idx = soft_nms(torch.empty(0, 2), torch.empty(0))
    assert seg.shape == (0, 2) and new_scores.shape == (0,) and idx.dtype == torch.int64
    seg32 = torch.tensor([[0.0, 2.0], [1.0, 3.0]], dtype=torch.float32)
    out_seg, out_scores, _ = soft_nms(seg32, torch.tensor([0.9, 0.8], dtype=torch.float16))
    assert out_seg.dtype == torch.float32 and out_scores.dtype == torch.float16


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "hard"}, "method must be 'gaussian' or 'linear'"),
        ({"sigma": 0.0}, "sigma must be a finite number > 0"),
        ({"min_score": -0.1}, "min_score must be a finite number >= 0"),
        ({"max_detections": -1}, "max_detections must be None or an int >= 0"),
        ({"iou_threshold": 1.2}, "iou_threshold"),
    ],
)
def test_soft_nms_bad_args(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        soft_nms(GOOD_SEG, GOOD_SCORES, **kwargs)


def test_soft_nms_backend_argument() -> None:
    seg = torch.tensor([[0.0, 1.0], [0.5, 1.5]])
    sc = torch.tensor([0.9, 0.8])
    kept_auto = soft_nms(seg, sc, backend="auto")
    kept_torch = soft_nms(seg, sc, backend="torch")
    assert torch.equal(kept_auto[2], kept_torch[2])
    with pytest.raises(ValueError, match="soft-NMS has no 'triton' backend"):
        soft_nms(seg, sc, backend="triton")
    with pytest.raises(ValueError, match="backend must be one of"):
        batched_soft_nms(seg, sc, torch.tensor([0, 0]), backend="cuda")  # type: ignore[arg-type]
