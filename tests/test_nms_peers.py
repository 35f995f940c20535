"""Peer conventions of wtal_blocks.nms (each off by default) against plain loops.

* ``strict``: suppression (and soft-NMS's linear decay) at ``IoU > t`` instead of ``>=``;
* ``width_gate``: BSN/BMN's width-dependent gate on the Gaussian soft-NMS decay;
* ``voting_threshold``: ActionFormer's segment voting after NMS.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests._nms_cases import Case, adversarial_cases, dense_cases
from tests.reference import nms_reference as ref
from wtal_blocks.nms import (
    TemporalNMS,
    _graph,
    batched_soft_nms,
    batched_temporal_nms,
    greedy,
    segment_voting,
    soft_nms,
    temporal_nms,
    voting,
)

CASES = adversarial_cases() + dense_cases()


def _tensors(case: Case) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    segments = torch.tensor(case.segments, dtype=torch.float64).reshape(-1, 2)
    scores = torch.tensor(case.scores, dtype=torch.float64)
    return segments, scores, torch.tensor(case.groups, dtype=torch.int64)


# ---------------------------------------------------------------------------------------------
# strict suppression
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("numpy_on_cpu", [True, False], ids=["numpy_path", "torch_path"])
@pytest.mark.parametrize(("threshold", "offset"), [(0.6, 1.0), (0.6, 0.0), (0.5, 0.0), (1.0, 0.0)])
def test_strict_matches_reference(
    monkeypatch: pytest.MonkeyPatch, numpy_on_cpu: bool, threshold: float, offset: float
) -> None:
    monkeypatch.setattr(greedy, "_NUMPY_ON_CPU", numpy_on_cpu)
    for case in CASES:
        segments, scores, idxs = _tensors(case)
        got = temporal_nms(segments, scores, threshold, offset=offset, strict=True)
        expected = ref.greedy_nms(case.segments, case.scores, threshold, offset, strict=True)
        assert got.tolist() == expected, case.name
        got = batched_temporal_nms(segments, scores, idxs, threshold, offset=offset, strict=True)
        expected = ref.batched_greedy_nms(
            case.segments, case.scores, case.groups, threshold, offset, strict=True
        )
        assert got.tolist() == expected, case.name


@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_strict_keeps_exact_ties(offset: float) -> None:
    # IoU exactly 0.6: suppressed by default, kept with strict
    segments = torch.tensor([[0.0, 5.0 - offset], [2.0, 5.0 - offset]], dtype=torch.float64)
    assert ref.iou(segments[0].tolist(), segments[1].tolist(), offset) == 0.6
    scores = torch.tensor([0.9, 0.8])
    assert temporal_nms(segments, scores, 0.6, offset=offset).tolist() == [0]
    assert temporal_nms(segments, scores, 0.6, offset=offset, strict=True).tolist() == [0, 1]


def test_strict_at_the_ends_of_the_range() -> None:
    segments = torch.tensor([[1.0, 4.0], [1.0, 4.0], [4.0, 6.0], [9.0, 9.5]])
    scores = torch.tensor([0.4, 0.3, 0.2, 0.1])
    # IoU > 1 never holds: identical copies both stay
    assert temporal_nms(segments, scores, 1.0, strict=True).tolist() == [0, 1, 2, 3]
    # IoU > 0: only a positive overlap suppresses (touching segments have IoU 0)
    assert temporal_nms(segments, scores, 0.0, strict=True).tolist() == [0, 2, 3]
    assert temporal_nms(segments, scores, 0.0).tolist() == [0]


def test_strict_on_the_triton_kernel_under_the_interpreter() -> None:
    pytest.importorskip("triton")
    from wtal_blocks.kernels import dispatch

    if not dispatch.triton_interpreter_enabled():
        pytest.skip("needs TRITON_INTERPRET=1 before triton is imported (see test_nms_triton)")
    case = next(c for c in CASES if c.name == "grid_ties")
    segments, scores, idxs = _tensors(case)
    got = batched_temporal_nms(segments, scores, idxs, 0.6, strict=True, backend="triton")
    assert got.tolist() == ref.batched_greedy_nms(
        case.segments, case.scores, case.groups, 0.6, strict=True
    )


# ---------------------------------------------------------------------------------------------
# soft-NMS: strict linear decay and BSN/BMN's width gate
# ---------------------------------------------------------------------------------------------


def _distinct_scores(case: Case) -> Case:
    """The case with distinct random scores. Soft-NMS equals the loop up to the rounding of
    products of decay weights (multiplied in another order), which can reorder scores that
    tie exactly after decay; distinct scores make such ties a measure-zero event."""
    rng = np.random.default_rng(len(case.segments))
    scores = [float(s) for s in rng.uniform(0.05, 1.0, len(case.segments))]
    return Case(case.name, case.segments, scores, case.groups)


def _soft_check(case: Case, batched: bool, **kwargs: object) -> None:
    case = _distinct_scores(case)
    segments, scores, idxs = _tensors(case)
    if batched:
        _, new_scores, idx = batched_soft_nms(segments, scores, idxs, **kwargs)
        merged = []
        for g in sorted(set(case.groups)):
            members = [i for i, x in enumerate(case.groups) if x == g]
            picked, picked_scores = ref.soft_nms(
                [case.segments[i] for i in members], [case.scores[i] for i in members], **kwargs
            )
            merged += [(members[i], s) for i, s in zip(picked, picked_scores, strict=True)]
        merged.sort(key=lambda t: (-t[1], t[0]))
        expected, expected_scores = [i for i, _ in merged], [s for _, s in merged]
    else:
        _, new_scores, idx = soft_nms(segments, scores, **kwargs)
        expected, expected_scores = ref.soft_nms(case.segments, case.scores, **kwargs)
    assert idx.tolist() == expected, case.name
    assert new_scores.tolist() == pytest.approx(expected_scores, rel=1e-12, abs=1e-300)


SOFT_PEER_SETTINGS = [
    {"method": "linear", "iou_threshold": 0.6, "strict": True, "min_score": 0.0},
    {"method": "linear", "iou_threshold": 0.5, "strict": True, "offset": 1.0},
    {"method": "linear", "iou_threshold": 1.0, "strict": True},  # nothing decays
    {"width_gate": (0.5, 0.9), "sigma": 0.4, "min_score": 0.0, "width_scale": 30.0},
    {"width_gate": (0.65, 0.9), "sigma": 0.75, "min_score": 0.0, "width_scale": 10.0},
    {"width_gate": (0.0, 0.3), "sigma": 0.5, "max_detections": 9, "width_scale": 5.0},
    {"width_gate": (0.9, -0.5), "sigma": 0.5, "width_scale": 4.0},  # a falling gate
]


@pytest.mark.parametrize("kwargs", SOFT_PEER_SETTINGS)
@pytest.mark.parametrize("batched", [False, True])
def test_soft_nms_peer_options_match_reference(kwargs: dict, batched: bool) -> None:
    for case in CASES:
        if len(case.segments) <= 160:
            _soft_check(case, batched, **kwargs)


@pytest.mark.parametrize("kwargs", SOFT_PEER_SETTINGS)
def test_soft_nms_peer_options_one_pick_at_a_time(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict
) -> None:
    monkeypatch.setattr(_graph, "_PAIR_BUDGET", 0)  # the memory fallback
    for case in CASES[:6]:
        _soft_check(case, False, **kwargs)
        _soft_check(case, True, **kwargs)


def test_width_gate_is_bmn_loop_on_dyadic_coordinates() -> None:
    # BSN/BMN's loop (lists, first maximum, pop) on normalised coordinates; multiples of
    # 1/64 make every IoU and gate exact in any operation order, so their arithmetic and
    # ours agree to the bit
    rng = np.random.default_rng(11)
    n = 120
    a = rng.integers(0, 56, n)
    segments = [(x / 64, (x + w) / 64) for x, w in zip(a, rng.integers(1, 9, n), strict=True)]
    scores = [float(s) for s in rng.uniform(0.1, 1.0, n)]
    for alpha, low, high in [(0.4, 0.5, 0.9), (0.75, 0.65, 0.9)]:
        expected, expected_scores = ref.bmn_style_soft_nms(segments, scores, alpha, low, high, 40)
        _, new_scores, idx = soft_nms(
            torch.tensor(segments),
            torch.tensor(scores, dtype=torch.float64),
            sigma=alpha,
            width_gate=(low, high),
            min_score=0.0,
            max_detections=40,
        )
        assert idx.tolist() == expected
        assert new_scores.tolist() == pytest.approx(expected_scores, rel=1e-12)


def test_width_gate_changes_the_result() -> None:
    # the gate spares the overlapping segment below its threshold (width 0.5: 0.5 + 0.2)
    segments = torch.tensor([[0.0, 0.5], [0.1, 0.5]], dtype=torch.float64)  # IoU 0.8
    scores = torch.tensor([0.9, 0.8], dtype=torch.float64)
    plain = soft_nms(segments, scores, sigma=0.4)[1].tolist()
    gated_low = soft_nms(segments, scores, sigma=0.4, width_gate=(0.5, 0.9))[1].tolist()
    gated_high = soft_nms(segments, scores, sigma=0.4, width_gate=(0.7, 0.9))[1].tolist()
    assert plain == pytest.approx([0.9, 0.8 * math.exp(-0.64 / 0.4)])
    assert gated_low == plain  # 0.8 > 0.7: decays
    assert gated_high == pytest.approx([0.9, 0.8])  # 0.8 > 0.7 + 0.1 fails: spared


# ---------------------------------------------------------------------------------------------
# segment voting
# ---------------------------------------------------------------------------------------------


def _voted_reference(
    case: Case, kept: list[int], threshold: float, offset: float, batched: bool
) -> list[tuple[float, float]]:
    groups = case.groups if batched else None
    return ref.segment_voting(case.segments, case.scores, kept, threshold, groups, offset)


@pytest.mark.parametrize(("vote", "offset"), [(0.75, 0.0), (0.5, 1.0), (1.0, 0.0)])
@pytest.mark.parametrize("batched", [False, True])
def test_voting_after_hard_nms_matches_reference(vote: float, offset: float, batched: bool) -> None:
    for case in CASES:
        segments, scores, idxs = _tensors(case)
        if batched:
            keep, voted = batched_temporal_nms(
                segments, scores, idxs, 0.6, offset=offset, voting_threshold=vote
            )
            plain = batched_temporal_nms(segments, scores, idxs, 0.6, offset=offset)
        else:
            keep, voted = temporal_nms(segments, scores, 0.6, offset=offset, voting_threshold=vote)
            plain = temporal_nms(segments, scores, 0.6, offset=offset)
        assert torch.equal(keep, plain)  # voting moves boundaries, never the kept set
        expected = _voted_reference(case, keep.tolist(), vote, offset, batched)
        assert voted.dtype == segments.dtype and voted.shape == (keep.shape[0], 2)
        np.testing.assert_allclose(voted.numpy(), np.asarray(expected).reshape(-1, 2), rtol=1e-13)


@pytest.mark.parametrize("batched", [False, True])
def test_voting_after_soft_nms_matches_reference(batched: bool) -> None:
    for case in CASES:
        segments, scores, idxs = _tensors(case)
        if batched:
            out = batched_soft_nms(segments, scores, idxs, voting_threshold=0.7, min_score=0.3)
            plain = batched_soft_nms(segments, scores, idxs, min_score=0.3)
        else:
            out = soft_nms(segments, scores, voting_threshold=0.7, min_score=0.3)
            plain = soft_nms(segments, scores, min_score=0.3)
        voted, new_scores, idx = out
        assert torch.equal(idx, plain[2]) and torch.equal(new_scores, plain[1])
        expected = _voted_reference(case, idx.tolist(), 0.7, 0.0, batched)
        np.testing.assert_allclose(voted.numpy(), np.asarray(expected).reshape(-1, 2), rtol=1e-13)


def test_voting_by_hand() -> None:
    # kept [0, 4] (IoU 0.9 with [0, 5]) votes with it, weights 3 and 1
    segments = torch.tensor([[0.0, 4.0], [0.0, 5.0], [10.0, 11.0]], dtype=torch.float64)
    scores = torch.tensor([3.0, 1.0, 2.0], dtype=torch.float64)
    keep, voted = temporal_nms(segments, scores, 0.95, voting_threshold=0.75)
    assert keep.tolist() == [0, 2, 1]
    assert voted.tolist() == [[0.0, 4.25], [10.0, 11.0], [0.0, 4.25]]
    module = TemporalNMS(0.95, voting_threshold=0.75)
    assert "voting_threshold=0.75" in repr(module)
    keep_m, voted_m = module(segments, scores)
    assert torch.equal(keep_m, keep) and torch.equal(voted_m, voted)


def test_voting_with_zero_weights_keeps_the_boundaries() -> None:
    segments = torch.tensor([[0.0, 4.0], [0.0, 4.5], [7.0, 9.0]])
    scores = torch.tensor([0.0, 0.0, 0.5])
    keep, voted = temporal_nms(segments, scores, 1.0, voting_threshold=0.5)
    assert torch.equal(voted, segments[keep])
    assert not torch.isnan(voted).any()


def test_voting_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(voting, "_VOTE_PAIRS", 3)
    case = next(c for c in CASES if c.name == "dense_seconds")
    segments, scores, _ = _tensors(case)
    keep = temporal_nms(segments, scores, 0.6, offset=1.0)
    voted = segment_voting(segments, scores, keep, 0.5, offset=1.0)
    expected = _voted_reference(case, keep.tolist(), 0.5, 1.0, False)
    np.testing.assert_allclose(voted.numpy(), np.asarray(expected), rtol=1e-13)


def test_segment_voting_checks_its_arguments() -> None:
    segments = torch.tensor([[0.0, 4.0], [1.0, 4.0]])
    scores = torch.tensor([0.5, 0.4])
    kept = torch.tensor([0])
    with pytest.raises(ValueError, match=r"voting_threshold must be None or a number in \(0, 1\]"):
        segment_voting(segments, scores, kept, 0.0)
    with pytest.raises(ValueError, match=r"kept must hold indices in \[0, 2\)"):
        segment_voting(segments, scores, torch.tensor([2]), 0.5)
    with pytest.raises(ValueError, match="kept must be an int64 tensor"):
        segment_voting(segments, scores, kept.int(), 0.5)
    with pytest.raises(ValueError, match="scores must be >= 0 to weight the voting"):
        segment_voting(segments, torch.tensor([0.5, -0.1]), kept, 0.5)
    with pytest.raises(ValueError, match="scores must be >= 0 when voting_threshold is set"):
        temporal_nms(segments, torch.tensor([0.5, -0.1]), 0.5, voting_threshold=0.5)
    with pytest.raises(ValueError, match="scores must be >= 0 when voting_threshold is set"):
        soft_nms(segments, torch.tensor([0.5, -0.1]), voting_threshold=0.5)


# ---------------------------------------------------------------------------------------------
# argument checks of the options
# ---------------------------------------------------------------------------------------------

SEG = torch.tensor([[0.0, 1.0], [0.5, 2.0]])
SCORES = torch.tensor([0.3, 0.4])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strict": 1}, "strict must be True or False, got 1"),
        ({"strict": "yes"}, "strict must be True or False"),
        ({"voting_threshold": 0.0}, r"voting_threshold must be None or a number in \(0, 1\]"),
        ({"voting_threshold": math.nan}, "voting_threshold must be None"),
        ({"voting_threshold": 1.5}, "voting_threshold must be None"),
    ],
)
def test_bad_hard_nms_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        temporal_nms(SEG, SCORES, 0.5, **kwargs)
    with pytest.raises(ValueError, match=match):
        batched_temporal_nms(SEG, SCORES, torch.tensor([0, 1]), 0.5, **kwargs)
    with pytest.raises(ValueError, match=match):
        TemporalNMS(0.5, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strict": True}, "strict applies to the linear method"),
        ({"method": "linear", "strict": 0}, "strict must be True or False"),
        ({"width_gate": (0.5,)}, r"width_gate must be None or a pair \(low, high\)"),
        ({"width_gate": 0.5}, "width_gate must be None or a pair"),
        ({"width_gate": (0.5, math.inf)}, r"width_gate\[1\] must be a finite number"),
        ({"width_gate": (math.nan, 0.9)}, r"width_gate\[0\] must be a finite number"),
        ({"method": "linear", "width_gate": (0.5, 0.9)}, "width_gate gates the Gaussian decay"),
        ({"width_scale": 0.0}, "width_scale must be a finite number > 0"),
        ({"width_scale": math.inf}, "width_scale must be a finite number > 0"),
        ({"voting_threshold": -0.5}, "voting_threshold must be None"),
        ({"sigma": math.inf}, "sigma must be a finite number > 0"),
        ({"min_score": math.nan}, "min_score must be a finite number >= 0"),
        ({"max_detections": 2.0}, "max_detections must be None or an int >= 0"),
    ],
)
def test_bad_soft_nms_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        soft_nms(SEG, SCORES, **kwargs)
    with pytest.raises(ValueError, match=match):
        batched_soft_nms(SEG, SCORES, torch.tensor([0, 1]), **kwargs)


def test_numpy_integers_are_accepted_as_max_detections() -> None:
    _, _, idx = soft_nms(SEG, SCORES, max_detections=np.int64(1))
    assert idx.tolist() == [1]


def test_options_on_empty_input() -> None:
    empty, none = torch.empty(0, 2), torch.empty(0)
    keep, voted = temporal_nms(empty, none, 0.5, strict=True, voting_threshold=0.5)
    assert keep.shape == (0,) and voted.shape == (0, 2)
    groups = torch.empty(0, dtype=torch.int64)
    keep, voted = batched_temporal_nms(empty, none, groups, 0.5, voting_threshold=0.5)
    assert keep.shape == (0,) and voted.shape == (0, 2)
    out = soft_nms(empty, none, width_gate=(0.5, 0.9), voting_threshold=0.5)
    assert [t.shape for t in out] == [(0, 2), (0,), (0,)]
    assert segment_voting(empty, none, groups, 0.5).shape == (0, 2)
