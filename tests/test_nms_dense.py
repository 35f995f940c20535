"""Greedy NMS in the dense regime (most proposals overlap many others), on both CPU paths.

CPU tensors take the numpy path (``wtal_blocks.nms._greedy_cpu``); the torch path serves
CUDA tensors and runs here with ``greedy._NUMPY_ON_CPU`` off. Each path's internal switches
(loop prefix, blocks, chunks, budgets) are forced both ways, so every branch meets the
adversarial cases and the plain-loop references in tests/reference.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from tests._nms_cases import Case, adversarial_cases, dense_cases, dense_proposals
from tests.reference import nms_reference as ref
from wtal_blocks.nms import _graph, _greedy_cpu, batched_temporal_nms, greedy, temporal_nms

DENSE = dense_cases()
SETTINGS = [(0.6, 1.0), (0.6, 0.0), (0.5, 0.0), (1 / 3, 1.0), (0.75, 1.0)]

# (name, {module attribute: value}) for the numpy path's switches
NUMPY_INTERNALS = [
    ("default", {}),
    ("no_prefix_blocks_of_1", {"_PREFIX_STEPS": 0, "_SPARSE_PAIRS_PER_SEGMENT": -1, "_BLOCK": 1}),
    (
        "prefix_to_the_end_small_chunks",
        {
            "_PREFIX_MIN": 0,
            "_PREFIX_SHARE": 10**9,
            "_PREFIX_STEPS": 10**6,
            "_CHUNK": 5,
            "_CHUNK_ROWS": 7,
        },
    ),
    (
        "one_prefix_step_tiny_budget",
        {"_PREFIX_STEPS": 1, "_SPARSE_PAIRS_PER_SEGMENT": -1, "_BLOCK": 3, "_PAIR_BUDGET": 40},
    ),
    (
        "blocks_of_16_chunks_of_64_rows",
        {"_SPARSE_PAIRS_PER_SEGMENT": -1, "_BLOCK": 16, "_CHUNK_ROWS": 64},
    ),
]


@pytest.fixture(params=[name for name, _ in NUMPY_INTERNALS] + ["torch_path", "torch_blocks"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every CPU path and internal regime in turn."""
    name = request.param
    if name == "torch_path":
        monkeypatch.setattr(greedy, "_NUMPY_ON_CPU", False)
    elif name == "torch_blocks":
        monkeypatch.setattr(greedy, "_NUMPY_ON_CPU", False)
        monkeypatch.setattr(greedy, "_SPARSE_PAIRS_PER_SEGMENT", -1)
        monkeypatch.setattr(greedy, "_BLOCK", 4)
        monkeypatch.setattr(_graph, "_PAIR_BUDGET", 64)
    else:
        for attr, value in dict(NUMPY_INTERNALS)[name].items():
            monkeypatch.setattr(_greedy_cpu, attr, value)
    yield name


def _tensors(case: Case) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    segments = torch.tensor(case.segments, dtype=torch.float64).reshape(-1, 2)
    scores = torch.tensor(case.scores, dtype=torch.float64)
    return segments, scores, torch.tensor(case.groups, dtype=torch.int64)


@pytest.mark.parametrize("case", DENSE, ids=lambda c: c.name)
def test_dense_cases_match_reference(path: str, case: Case) -> None:
    segments, scores, idxs = _tensors(case)
    for threshold, offset in SETTINGS:
        got = temporal_nms(segments, scores, threshold, offset=offset)
        assert got.tolist() == ref.greedy_nms(case.segments, case.scores, threshold, offset)
        got = batched_temporal_nms(segments, scores, idxs, threshold, offset=offset)
        expected = ref.batched_greedy_nms(
            case.segments, case.scores, case.groups, threshold, offset
        )
        assert got.tolist() == expected


def test_adversarial_cases_on_every_path(path: str) -> None:
    for case in adversarial_cases():
        segments, scores, idxs = _tensors(case)
        for threshold, offset in [(0.6, 1.0), (0.6, 0.0), (0.3, 0.0)]:
            got = temporal_nms(segments, scores, threshold, offset=offset)
            assert got.tolist() == ref.greedy_nms(case.segments, case.scores, threshold, offset), (
                case.name
            )
            got = batched_temporal_nms(segments, scores, idxs, threshold, offset=offset)
            assert got.tolist() == ref.batched_greedy_nms(
                case.segments, case.scores, case.groups, threshold, offset
            ), case.name


def test_the_cases_test_what_they_claim() -> None:
    by_name = {c.name: c for c in DENSE}
    frames = by_name["dense_frames_ties"]
    assert sum(ref.iou(a, b, 1.0) == 0.6 for a in frames.segments for b in frames.segments) > 0
    # dense: each proposal overlaps many others
    seconds = by_name["dense_seconds"].segments
    overlapping = [sum(ref.iou(a, b, 1.0) > 0 for b in seconds) - 1 for a in seconds]
    assert np.mean(overlapping) > 20


def _official_batched(seg: np.ndarray, sc: np.ndarray, groups: np.ndarray, offset: float) -> list:
    kept: list[int] = []
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        kept += members[ref.official_style_nms(seg[members], sc[members], 0.6, offset)].tolist()
    return sorted(kept, key=lambda i: (-sc[i], i))


@pytest.mark.parametrize(("unit", "offset"), [(200 / 18000, 1.0), (1.0, 1.0), (0.04, 0.0)])
def test_large_dense_sets_match_the_official_formulation(
    path: str, unit: float, offset: float
) -> None:
    # 2,000 proposals of one class in a 27 s video, and 4 classes of 500 in one call: the
    # blocks and the loop prefix at their default sizes, against the official numpy loop
    segments, scores = dense_proposals(7, 2000, unit=unit)
    seg, sc = np.asarray(segments), np.asarray(scores)
    got = temporal_nms(torch.from_numpy(seg), torch.from_numpy(sc), 0.6, offset=offset)
    assert got.tolist() == ref.official_style_nms(seg, sc, 0.6, offset)
    groups = np.repeat(np.arange(4), 500)
    got = batched_temporal_nms(
        torch.from_numpy(seg), torch.from_numpy(sc), torch.from_numpy(groups), 0.6, offset=offset
    )
    assert got.tolist() == _official_batched(seg, sc, groups, offset)


def test_groups_far_apart_and_close_together(path: str) -> None:
    # the numpy path searches every group's window at once by shifting each group's
    # coordinates by its own multiple of a power of two: large coordinates with fine
    # differences, many groups and negative starts must still give exact windows
    rng = np.random.default_rng(3)
    n = 600
    a = rng.integers(0, 200, n)
    seg = np.stack([a, a + rng.integers(1, 9, n)], 1) * 0.125 + 1e9
    seg[::3] -= 2e9
    sc = rng.random(n)
    groups = rng.integers(0, 150, n)
    got = batched_temporal_nms(
        torch.from_numpy(seg), torch.from_numpy(sc), torch.from_numpy(groups), 0.6, offset=1.0
    )
    assert got.tolist() == _official_batched(seg, sc, groups, 1.0)


def test_groups_spanning_nearly_the_float64_range(monkeypatch: pytest.MonkeyPatch) -> None:
    # group shifts would overflow: the numpy path searches with exact integer keys instead
    monkeypatch.setattr(_greedy_cpu, "_PREFIX_STEPS", 0)
    calls = []
    exact = _greedy_cpu._ends_by_integer_keys
    monkeypatch.setattr(
        _greedy_cpu, "_ends_by_integer_keys", lambda *args: calls.append(1) or exact(*args)
    )
    rng = np.random.default_rng(5)
    n = 400
    a = rng.integers(0, 200, n)
    seg = np.stack([a, a + rng.integers(1, 9, n)], 1) * 2e303 - 2e305
    sc = rng.random(n)
    groups = rng.integers(0, 150, n)
    got = batched_temporal_nms(
        torch.from_numpy(seg), torch.from_numpy(sc), torch.from_numpy(groups), 0.6
    )
    assert got.tolist() == _official_batched(seg, sc, groups, 0.0) and calls


def test_many_copies_of_one_segment_with_equal_scores(path: str) -> None:
    # the first copy wins (stable ties), whichever step of the loop prefix meets it
    n = 1000
    segments = torch.tensor([[3.0, 9.0]] * n)
    scores = torch.tensor([0.5] * n)
    assert temporal_nms(segments, scores, 0.6).tolist() == [0]
    idxs = torch.arange(n) % 7
    assert batched_temporal_nms(segments, scores, idxs, 0.6).tolist() == list(range(7))
