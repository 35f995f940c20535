"""Proposal metrics and segment utilities: plain-loop reference, hand cases, errors, real GT.

Covers :mod:`wtal_blocks.evaluation.segment_ops` (strict tIoU, IoP, ground-truth deduplication)
and :mod:`wtal_blocks.evaluation.proposal_metrics` (ActivityNet AR@AN, top-k× recall).
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference import proposal_metrics_reference as ref
from wtal_blocks.evaluation import (
    AverageRecallCurve,
    EvaluationInputError,
    GroundTruth,
    Predictions,
    average_recall_vs_avg_nr_proposals,
    deduplicate_ground_truth,
    evaluate_proposals,
    evaluate_topkx_recall,
    find_duplicate_instances,
    load_activitynet_ground_truth,
    parse_tiou_thresholds,
    segment_iop,
    segment_tiou,
    topkx_recall,
)
from wtal_blocks.evaluation.tiou import paired_tiou

DATA = Path(__file__).resolve().parent / "data"

# ----------------------------------------------------------------------------- strategies

# A coarse grid makes the adversarial cases frequent: exact tIoU values such as 0.5 and 0.75
# that sit on a threshold, touching and identical segments, zero-length segments, score ties.
_COORD = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0]
_LEN = [0.0, 0.5, 1.0, 2.0, 3.0, 4.0]
_grid_segment = st.tuples(st.sampled_from(_COORD), st.sampled_from(_LEN)).map(
    lambda t: (t[0], t[0] + t[1])
)
_THRESHOLDS = [[0.5], [0.25, 0.5, 0.75], "0.5:0.95:0.05", [0.1, 1.0]]


def _random_segments(rng: np.random.Generator, n: int) -> np.ndarray:
    start = rng.uniform(0.0, 50.0, n)
    return np.stack([start, start + rng.exponential(5.0, n)], axis=1)


# ----------------------------------------------------------------------------- strict tIoU


@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 6))
def test_strict_tiou_is_the_reference_and_the_row_wise_tiou(seed: int, n: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = _random_segments(rng, n), _random_segments(rng, m)
    got = segment_tiou(a, b)
    assert got.dtype == np.float64 and got.shape == (n, m)
    rows = np.repeat(a, m, axis=0), np.tile(b, (n, 1))
    assert np.array_equal(got.reshape(-1), paired_tiou(*rows))  # the evaluator's own tIoU
    assert got.tolist() == ref.pairwise(
        ref.tiou, [tuple(r) for r in a.tolist()], [tuple(r) for r in b.tolist()]
    )


@given(
    st.lists(_grid_segment, min_size=1, max_size=6), st.lists(_grid_segment, min_size=1, max_size=6)
)
def test_strict_tiou_on_adversarial_grids(
    a: list[tuple[float, float]], b: list[tuple[float, float]]
) -> None:
    assert segment_tiou(a, b).tolist() == ref.pairwise(ref.tiou, a, b)


def test_strict_tiou_hand_values() -> None:
    got = segment_tiou(
        [[0.0, 10.0], [5.0, 5.0], [0.0, 5.0]], [[5.0, 15.0], [5.0, 5.0], [0.0, 10.0]]
    )
    assert got[0, 0] == 5.0 / 15.0
    assert got[1, 1] == 0.0  # zero union: 0, not NaN
    assert got[0, 2] == 1.0
    assert got[2, 0] == 0.0  # touching at 5: no overlap
    assert got[2, 2] == 0.5


def test_strict_tiou_accepts_tensors() -> None:
    torch = pytest.importorskip("torch")
    got = segment_tiou(
        torch.tensor([[0.0, 10.0]]), torch.tensor([[5.0, 15.0]], dtype=torch.float64)
    )
    assert got.tolist() == [[1.0 / 3.0]]


_BAD_SEGMENTS = [
    ([0.0, 1.0, 2.0, 3.0], "2-D .* flat list is not reshaped"),
    ([0.0, 1.0], "2-D .* flat list is not reshaped"),
    ([], "is empty"),
    (np.zeros((0, 2)), "is empty"),
    (np.zeros((1, 2, 2)), "2-D"),
    ([[0.0, 1.0, 2.0]], "2 columns"),
    ([[0.0, float("nan")]], r"\[0\] = .* not finite"),
    ([[0.0, 1.0], [0.0, float("inf")]], r"\[1\] = .* not finite"),
    ([[0.0, 1.0], [3.0, 2.0]], r"\[1\] = \[3.0, 2.0\] ends before it starts"),
    ([["a", "b"]], "numeric"),
]


@pytest.mark.parametrize(("bad", "problem"), _BAD_SEGMENTS)
@pytest.mark.parametrize("position", [0, 1])
def test_strict_tiou_errors_name_the_argument(bad: Any, problem: str, position: int) -> None:
    good = [[0.0, 1.0]]
    args = (bad, good) if position == 0 else (good, bad)
    name = ("segments_a", "segments_b")[position]
    with pytest.raises(EvaluationInputError) as info:
        segment_tiou(*args)
    message = str(info.value)
    assert name in message and "\n" not in message
    assert re.search(f"{name}.*{problem}", message), message


# ----------------------------------------------------------------------------- IoP


@given(
    st.lists(_grid_segment, min_size=1, max_size=6), st.lists(_grid_segment, min_size=1, max_size=6)
)
def test_iop_matches_the_reference_and_bounds(
    c: list[tuple[float, float]], t: list[tuple[float, float]]
) -> None:
    got = segment_iop(c, t)
    assert got.tolist() == ref.pairwise(ref.iop, c, t)
    assert np.all((got >= 0) & (got <= 1))
    assert np.all(got >= segment_tiou(c, t))  # the candidate's length never exceeds the union


@given(st.integers(0, 2**32 - 1))
def test_iop_random_matches_the_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c, t = _random_segments(rng, 5), _random_segments(rng, 4)
    assert segment_iop(c, t).tolist() == ref.pairwise(
        ref.iop, [tuple(r) for r in c.tolist()], [tuple(r) for r in t.tolist()]
    )


def test_iop_hand_values_and_zero_length_candidates() -> None:
    got = segment_iop(
        [[0.0, 10.0], [2.0, 4.0], [3.0, 3.0], [20.0, 30.0]], [[5.0, 15.0], [0.0, 10.0], [4.0, 4.0]]
    )
    assert got[0].tolist() == [0.5, 1.0, 0.0]
    assert got[1].tolist() == [0.0, 1.0, 0.0]  # inside the target: 1; its tIoU would be 0.2
    assert got[2].tolist() == [0.0, 0.0, 0.0]  # zero-length candidate: 0, even inside a target
    assert got[3].tolist() == [0.0, 0.0, 0.0]
    assert segment_iop([[5.0, 15.0]], [[0.0, 10.0]]).tolist() == [[0.5]]
    assert segment_iop([[0.0, 10.0]], [[2.0, 4.0]]).tolist() == [[0.2]]  # not symmetric


@pytest.mark.parametrize(("bad", "problem"), _BAD_SEGMENTS[:4])
def test_iop_errors_name_the_argument(bad: Any, problem: str) -> None:
    for name, args in (("candidates", (bad, [[0.0, 1.0]])), ("targets", ([[0.0, 1.0]], bad))):
        with pytest.raises(EvaluationInputError, match=name):
            segment_iop(*args)


# ----------------------------------------------------------------------------- deduplication

_near = st.sampled_from([0.0, 0.0005, 0.001, 0.0015, 0.002, 0.5])
_dedup_row = st.tuples(
    st.integers(0, 2),
    st.integers(0, 2),
    st.sampled_from([0.0, 1.0, 1.0005]),
    _near,
    st.sampled_from([0.0, 0.0005, 0.001, 1.0, 1.001]),
).map(lambda r: (r[0], r[1], r[2] + r[3], r[2] + r[3] + r[4]))


@given(
    st.lists(_dedup_row, max_size=25),
    st.sampled_from(["opentad", "actionformer"]),
    st.booleans(),
    st.booleans(),
)
def test_dedup_matches_the_reference(
    rows: list[tuple[int, int, float, float]], convention: str, zero: bool, dups: bool
) -> None:
    expected = ref.deduplicate(
        rows, drop_zero_length=zero, drop_duplicates=dups, convention=convention
    )
    seg = np.asarray([r[2:] for r in rows], dtype=np.float64).reshape(-1, 2)
    z, d = find_duplicate_instances(
        seg,
        [r[1] for r in rows],
        [r[0] for r in rows],
        drop_zero_length=zero,
        drop_duplicates=dups,
        convention=convention,  # type: ignore[arg-type]
    )
    got = [
        "zero" if zi else "dup" if di else "kept"
        for zi, di in zip(z.tolist(), d.tolist(), strict=True)
    ]
    assert got == expected


def test_dedup_hand_cases() -> None:
    # video 0, label 0: A; B within tol of A; C within tol of B only; D same as A but label 1
    seg = np.array([[0, 1], [0, 1.0005], [0, 1.0012], [0, 1], [5, 5], [5, 5.0005], [0, 1]])
    labels = [0, 0, 0, 1, 0, 0, 0]
    videos = [0, 0, 0, 0, 0, 0, 1]
    z, d = find_duplicate_instances(seg, labels, videos)
    assert d.tolist() == [False, True, False, False, False, False, False]  # C kept: A is not close
    assert z.tolist() == [False, False, False, False, True, False, False]  # OpenTAD: length <= 0
    z, d = find_duplicate_instances(seg, labels, videos, convention="actionformer")
    assert z.tolist() == [False, False, False, False, True, True, False]  # ActionFormer: < 1e-3
    # zero-length kept: the two short ones are within tol of each other, the later is a duplicate
    z, d = find_duplicate_instances(seg, labels, videos, drop_zero_length=False)
    assert not z.any() and d.tolist() == [False, True, False, False, False, True, False]
    z, d = find_duplicate_instances(seg, labels, videos, tol=0.0)  # exact equality only
    assert not d.any()


def _small_gt() -> GroundTruth:
    return GroundTruth(
        video_ids=("v1", "v2", "v3"),
        class_names=("a", "b"),
        segments=np.array([[0.0, 2.0], [0.0, 2.0], [3.0, 3.0], [1.0, 4.0], [1.0, 4.0]]),
        labels=np.array([0, 0, 1, 0, 1]),
        videos=np.array([0, 0, 0, 1, 1]),
        subset="validation",
        durations={"v1": 10.0, "v2": 8.0, "v3": 5.0},
    )


def test_deduplicate_ground_truth_container_and_report() -> None:
    gt = _small_gt()
    cleaned, report = deduplicate_ground_truth(gt)
    counts = (report.num_input, report.num_zero_length, report.num_duplicates, report.num_kept)
    assert counts == (5, 1, 1, 3)
    assert report.kept.tolist() == [True, False, False, True, True]
    assert cleaned.segments.tolist() == [[0.0, 2.0], [1.0, 4.0], [1.0, 4.0]]  # different labels
    assert cleaned.labels.tolist() == [0, 0, 1] and cleaned.videos.tolist() == [0, 1, 1]
    assert cleaned.video_ids == gt.video_ids and cleaned.class_names == gt.class_names
    assert cleaned.subset == "validation" and cleaned.durations == gt.durations
    assert "dropped 1 zero-length and 1 duplicate" in str(report)
    same, none = deduplicate_ground_truth(gt, drop_zero_length=False, drop_duplicates=False)
    assert none.num_kept == 5 and np.array_equal(same.segments, gt.segments)
    assert len(gt) == 5  # the input is not modified


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"convention": "mmaction"}, "convention"),
        ({"tol": -1.0}, "tol"),
        ({"tol": float("nan")}, "tol"),
        ({"tol": True}, "tol"),
    ],
)
def test_dedup_errors(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(EvaluationInputError, match=field):
        deduplicate_ground_truth(_small_gt(), **kwargs)


def test_dedup_array_errors_name_the_argument() -> None:
    with pytest.raises(EvaluationInputError, match="gt_labels"):
        find_duplicate_instances([[0.0, 1.0]], [0, 1], [0])
    with pytest.raises(EvaluationInputError, match=r"gt_videos.*integers"):
        find_duplicate_instances([[0.0, 1.0]], [0], [0.5])
    with pytest.raises(EvaluationInputError, match=r"gt_segments\[1\]"):
        find_duplicate_instances([[0.0, 1.0], [0.0, float("nan")]], [0, 0], [0, 0])


# ----------------------------------------------------------------------------- AR@AN


def _reference_curve(
    gts: list[Any], props: list[Any], thresholds: Any, max_avg: Any, points: int
) -> Any:
    thr = parse_tiou_thresholds(thresholds).tolist()
    try:
        return ref.average_recall_curve(gts, props, thr, max_avg, points)
    except ZeroDivisionError:
        return None


def _check_curve(got: AverageRecallCurve, expected: dict[str, Any]) -> None:
    assert got.recall.tolist() == expected["recall"]
    # the official expression recall.mean(axis=0), bit for bit; NumPy may sum a short axis
    # pairwise (e.g. one curve point), so the reference's running sum agrees to rounding only
    assert np.array_equal(got.average_recall, got.recall.mean(axis=0))
    np.testing.assert_allclose(got.average_recall, expected["average_recall"], rtol=1e-15, atol=0)
    assert got.proposals_per_video.tolist() == expected["proposals_per_video"]
    assert got.num_retrieved == expected["num_retrieved"]
    assert got.max_avg_nr_proposals == expected["max_avg"]
    assert got.area == pytest.approx(expected["area"], rel=1e-12, abs=1e-12)
    assert got.auc == pytest.approx(expected["auc"], rel=1e-12, abs=1e-10)
    # the official expression np.trapz(avg_recall, proposals_per_video), bit for bit
    assert got.area == float(np.trapezoid(got.average_recall, got.proposals_per_video))
    assert got.auc == 100.0 * got.area / got.proposals_per_video[-1]


@given(
    st.lists(st.tuples(st.integers(0, 4), _grid_segment), min_size=1, max_size=12),
    st.lists(
        st.tuples(st.integers(0, 5), _grid_segment, st.sampled_from([0.1, 0.5, 0.5, 0.9])),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(_THRESHOLDS),
    st.sampled_from([None, 0.5, 1, 1.5, 2, 3.7, 100]),
    st.sampled_from([1, 3, 10, 100]),
)
def test_ar_an_matches_the_reference_on_adversarial_grids(
    gt_rows: list[Any], prop_rows: list[Any], thresholds: Any, max_avg: Any, points: int
) -> None:
    gts = [(v, s, e) for v, (s, e) in gt_rows]
    props = [(v, s, e, sc) for v, (s, e), sc in prop_rows]
    expected = _reference_curve(gts, props, thresholds, max_avg, points)
    args = (
        [g[1:] for g in gts],
        [g[0] for g in gts],
        [p[1:3] for p in props],
        [p[3] for p in props],
        [p[0] for p in props],
    )
    kwargs = {"max_avg_nr_proposals": max_avg, "tiou_thresholds": thresholds, "num_points": points}
    if expected is None:  # the official code divides by zero: nothing retrieved
        with pytest.raises(EvaluationInputError, match="no proposal is retrieved"):
            average_recall_vs_avg_nr_proposals(*args, **kwargs)
        return
    _check_curve(average_recall_vs_avg_nr_proposals(*args, **kwargs), expected)


@given(st.integers(0, 2**32 - 1), st.sampled_from([None, 2, 7.5]))
def test_ar_an_random_matches_the_reference(seed: int, max_avg: Any) -> None:
    rng = np.random.default_rng(seed)
    n_gt, n_prop = int(rng.integers(1, 20)), int(rng.integers(1, 80))
    g_seg, p_seg = _random_segments(rng, n_gt), _random_segments(rng, n_prop)
    g_vid, p_vid = rng.integers(0, 6, n_gt), rng.integers(0, 8, n_prop)
    scores = rng.random(n_prop)
    gts = [(int(v), *map(float, s)) for v, s in zip(g_vid, g_seg, strict=True)]
    props = [
        (int(v), *map(float, s), float(c)) for v, s, c in zip(p_vid, p_seg, scores, strict=True)
    ]
    expected = _reference_curve(gts, props, [0.3, 0.5, 0.7], max_avg, 20)
    kwargs = {"max_avg_nr_proposals": max_avg, "tiou_thresholds": [0.3, 0.5, 0.7], "num_points": 20}
    if expected is None:
        with pytest.raises(EvaluationInputError):
            average_recall_vs_avg_nr_proposals(g_seg, g_vid, p_seg, scores, p_vid, **kwargs)
        return
    _check_curve(
        average_recall_vs_avg_nr_proposals(g_seg, g_vid, p_seg, scores, p_vid, **kwargs), expected
    )


def _hand_case() -> tuple[Any, ...]:
    # video 0: one instance, found by its best proposal; video 1: two instances, the best
    # proposal (tIoU 0.4) misses, the second finds [20, 30]; [0, 10] of video 1 is never found
    gt_seg, gt_vid = [[0.0, 10.0], [0.0, 10.0], [20.0, 30.0]], [0, 1, 1]
    p_seg = [[0.0, 10.0], [20.0, 30.0], [20.0, 30.0], [0.0, 4.0]]
    return gt_seg, gt_vid, p_seg, [0.9, 0.8, 0.7, 0.95], [0, 0, 1, 1]


def test_ar_an_hand_checked() -> None:
    curve = average_recall_vs_avg_nr_proposals(*_hand_case(), tiou_thresholds=[0.5], num_points=4)
    # N = 4, V = 2: cap 2, ratio 1, both videos keep 2; pcn = j/4, each video uses 0, 1, 1, 2
    assert curve.recall.tolist() == [[0.0, 1 / 3, 1 / 3, 2 / 3]]
    assert curve.proposals_per_video.tolist() == [0.5, 1.0, 1.5, 2.0]
    # trapezoids: 0.5 * (0 + 1/3) / 2 + 0.5 * (2/3) / 2 + 0.5 * 1 / 2 = 1/12 + 1/6 + 1/4
    assert curve.area == pytest.approx(0.5, abs=1e-15)
    assert curve.auc == pytest.approx(25.0, abs=1e-12)
    counts = (curve.num_videos, curve.num_ground_truth, curve.num_proposals, curve.num_retrieved)
    assert counts == (2, 3, 4, 4)
    assert curve.recall_at(2).tolist() == [2 / 3]
    assert curve.ar_at(1) == 1 / 3


def test_ar_an_videos_without_proposals_and_proposals_without_ground_truth() -> None:
    # video 0: one instance, 2 proposals (one hit); video 1: one instance, no proposal;
    # video 9: no ground truth, 2 proposals that count in N but are never retrieved
    curve = average_recall_vs_avg_nr_proposals(
        [[0.0, 10.0], [0.0, 10.0]],
        [0, 1],
        [[0.0, 9.0], [50.0, 60.0], [0.0, 10.0], [0.0, 10.0]],
        [0.2, 0.9, 0.9, 0.9],
        [0, 0, 9, 9],
        tiou_thresholds=[0.5],
        num_points=2,
    )
    # N = 4, V = 2, cap 2, ratio 1; R = 2; pcn = [1, 2]; video 0 uses both at both points
    assert (curve.num_proposals, curve.num_retrieved, curve.num_videos) == (4, 2, 2)
    assert curve.recall.tolist() == [[0.5, 0.5]]
    assert curve.proposals_per_video.tolist() == [1.0, 2.0]
    assert curve.area == 0.5 and curve.auc == 25.0


def test_ar_an_default_cap_reproduces_the_official_ratio_rounding() -> None:
    # V = 7, N = 61: (61 / 7) * 7 / 61 = 0.9999999999999999, so the official code keeps
    # int(n * ratio) = n - 1 proposals of every video, even without a cap
    assert (61 / 7) * 7.0 / 61 < 1.0
    rng = np.random.default_rng(0)
    counts = [1, 2, 3, 4, 8, 16, 27]
    p_vid = np.repeat(np.arange(7), counts)
    p_seg = _random_segments(rng, 61)
    g_vid = np.arange(7)
    g_seg = p_seg[np.cumsum(counts) - 1]  # each video's instance is its last-listed proposal
    scores = np.zeros(61)  # all tied: input order, so that proposal ranks last in its video
    curve = average_recall_vs_avg_nr_proposals(
        g_seg, g_vid, p_seg, scores, p_vid, tiou_thresholds=[0.99]
    )
    assert curve.num_retrieved == 61 - 7
    assert curve.max_avg_nr_proposals == 61 / 7
    assert curve.recall.max() < 1.0  # a video whose only proposal is cut never recalls
    gts = [(int(v), *map(float, s)) for v, s in zip(g_vid, g_seg, strict=True)]
    props = [(int(v), *map(float, s), 0.0) for v, s in zip(p_vid, p_seg, strict=True)]
    _check_curve(curve, ref.average_recall_curve(gts, props, [0.99], None, 100))


def test_ar_at_is_the_bmn_column_mean() -> None:
    rng = np.random.default_rng(3)
    g_seg, p_seg = _random_segments(rng, 30), _random_segments(rng, 900)
    g_vid, p_vid = rng.integers(0, 9, 30), rng.integers(0, 9, 900)
    curve = average_recall_vs_avg_nr_proposals(
        g_seg, g_vid, p_seg, rng.random(900), p_vid, max_avg_nr_proposals=100
    )
    for k, column in ((1, 0), (5, 4), (10, 9), (100, -1)):
        assert curve.ar_at(k) == float(np.mean(curve.recall[:, column]))
        assert curve.recall_at(k).tolist() == curve.recall[:, column].tolist()
    for bad in (0, 0.5, 101, 2.5):
        with pytest.raises(EvaluationInputError, match="num_proposals"):
            curve.ar_at(bad)
    # OpenTAD: one point per proposal count (num_points = max_avg_nr_proposals), same at 100
    opentad = average_recall_vs_avg_nr_proposals(
        g_seg, g_vid, p_seg, rng.random(900), p_vid, max_avg_nr_proposals=50, num_points=50
    )
    assert opentad.ar_at(7) == float(np.mean(opentad.recall[:, 6]))
    assert "AUC" in str(curve) and "AR@100" in str(curve)


def _containers(
    gt_rows: list[tuple[str, str, float, float]],
    pred_rows: list[tuple[str, str, float, float, float]],
) -> tuple[GroundTruth, Predictions]:
    gt_videos = (*dict.fromkeys(v for v, *_ in gt_rows), "no-instances")
    classes = tuple(sorted({c for _, c, *_ in gt_rows}))
    gt = GroundTruth(
        video_ids=gt_videos,
        class_names=classes,
        segments=np.asarray([r[2:] for r in gt_rows], dtype=np.float64).reshape(-1, 2),
        labels=np.asarray([classes.index(r[1]) for r in gt_rows], dtype=np.int64),
        videos=np.asarray([gt_videos.index(r[0]) for r in gt_rows], dtype=np.int64),
    )
    p_videos = tuple(dict.fromkeys(v for v, *_ in pred_rows))
    p_labels = tuple(dict.fromkeys(c for _, c, *_ in pred_rows))
    preds = Predictions(
        video_ids=p_videos,
        label_names=p_labels,
        segments=np.asarray([r[2:4] for r in pred_rows], dtype=np.float64).reshape(-1, 2),
        scores=np.asarray([r[4] for r in pred_rows], dtype=np.float64),
        labels=np.asarray([p_labels.index(r[1]) for r in pred_rows], dtype=np.int64),
        videos=np.asarray([p_videos.index(r[0]) for r in pred_rows], dtype=np.int64),
    )
    return gt, preds


_container_gt = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]), st.sampled_from(["run", "jump"]), _grid_segment
    ).map(lambda r: (r[0], r[1], *r[2])),
    min_size=1,
    max_size=10,
)
_container_pred = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "no-instances", "unknown"]),
        st.sampled_from(["run", "jump", "swim"]),
        _grid_segment,
        st.sampled_from([0.2, 0.6, 0.6, 0.9]),
    ).map(lambda r: (r[0], r[1], *r[2], r[3])),
    min_size=1,
    max_size=30,
)


@given(_container_gt, _container_pred, st.sampled_from([None, 2, 5]))
def test_evaluate_proposals_on_containers(
    gt_rows: list[Any], pred_rows: list[Any], max_avg: Any
) -> None:
    gt, preds = _containers(gt_rows, pred_rows)
    gts = [(v, s, e) for v, _, s, e in gt_rows]
    props = [(v, s, e, sc) for v, _, s, e, sc in pred_rows]
    expected = _reference_curve(gts, props, [0.5, 0.75], max_avg, 10)
    kwargs = {"max_avg_nr_proposals": max_avg, "tiou_thresholds": [0.5, 0.75], "num_points": 10}
    if expected is None:
        with pytest.raises(EvaluationInputError):
            evaluate_proposals(gt, preds, **kwargs)
        return
    curve = evaluate_proposals(gt, preds, **kwargs)
    _check_curve(curve, expected)
    assert curve.num_proposals == len(pred_rows)  # rows of unknown videos count in N


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tiou_thresholds": [0.0, 0.5]}, "> 0"),
        ({"tiou_thresholds": "0.5:0.4:0.1"}, "tIoU"),
        ({"max_avg_nr_proposals": 0}, "max_avg_nr_proposals"),
        ({"max_avg_nr_proposals": -1.0}, "max_avg_nr_proposals"),
        ({"max_avg_nr_proposals": float("inf")}, "max_avg_nr_proposals"),
        ({"max_avg_nr_proposals": True}, "max_avg_nr_proposals"),
        ({"max_avg_nr_proposals": 0.1}, "max_avg_nr_proposals.*no proposal is retrieved"),
        ({"num_points": 0}, "num_points"),
        ({"num_points": 2.5}, "num_points"),
    ],
)
def test_ar_an_option_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(EvaluationInputError, match=match):
        average_recall_vs_avg_nr_proposals(*_hand_case(), **kwargs)


def test_ar_an_input_errors_name_the_argument() -> None:
    gt_seg, gt_vid, p_seg, scores, p_vid = _hand_case()
    with pytest.raises(EvaluationInputError, match="pred_scores"):
        average_recall_vs_avg_nr_proposals(gt_seg, gt_vid, p_seg, scores[:2], p_vid)
    with pytest.raises(EvaluationInputError, match=r"pred_scores\[1\]"):
        average_recall_vs_avg_nr_proposals(
            gt_seg, gt_vid, p_seg, [0.1, float("nan"), 0.2, 0.3], p_vid
        )
    with pytest.raises(EvaluationInputError, match=r"pred_segments\[0\].*end < start"):
        average_recall_vs_avg_nr_proposals(gt_seg, gt_vid, [[2.0, 1.0]] * 4, scores, p_vid)
    with pytest.raises(EvaluationInputError, match="gt_videos"):
        average_recall_vs_avg_nr_proposals(gt_seg, [0, 1], p_seg, scores, p_vid)
    with pytest.raises(EvaluationInputError, match="no action instance"):
        average_recall_vs_avg_nr_proposals(np.zeros((0, 2)), [], p_seg, scores, p_vid)
    with pytest.raises(EvaluationInputError, match="no proposals"):
        average_recall_vs_avg_nr_proposals(gt_seg, gt_vid, np.zeros((0, 2)), [], [])


# ----------------------------------------------------------------------------- top-k× recall


def test_topkx_hand_checked() -> None:
    gt_seg, gt_vid = [[0.0, 10.0], [0.0, 10.0], [20.0, 30.0]], [0, 1, 1]
    p_seg = [[0.0, 10.0], [20.0, 30.0], [50.0, 60.0], [20.0, 30.0], [0.0, 10.0]]
    scores, p_vid = [0.9, 0.8, 0.99, 0.9, 0.1], [0, 0, 1, 1, 1]
    # k = 1: video 0 takes its best 1 (a hit); video 1 (2 instances) its best 2, which find
    # [20, 30] only; k = 2: video 1 takes 4, the third one finds [0, 10]
    got = topkx_recall(gt_seg, gt_vid, p_seg, scores, p_vid, top_k=(1, 2), tiou_thresholds=[0.5])
    assert got.tolist() == [[2 / 3, 1.0]]
    # one proposal may recall several instances (no one-to-one matching)
    got = topkx_recall([[0.0, 10.0], [0.0, 10.0]], [0, 0], [[0.0, 10.0]], [0.5], [0], top_k=1)
    assert np.all(got == 1.0)
    # the hand case of AR@AN: at 0.3 the [0, 4] proposal (tIoU 0.4) finds [0, 10] of video 1
    got = topkx_recall(*_hand_case(), top_k=1, tiou_thresholds=[0.3, 0.5])
    assert got.tolist() == [[1.0], [2 / 3]]


def test_topkx_per_class_is_a_mean_over_classes() -> None:
    # class 0: one instance, recalled; class 1: three instances, no prediction of class 1
    gt_seg = [[0.0, 10.0], [20.0, 30.0], [40.0, 50.0], [60.0, 70.0]]
    p_seg = [[0.0, 10.0], [20.0, 30.0], [40.0, 50.0]]
    args = (gt_seg, [0, 0, 0, 0], p_seg, [0.9, 0.8, 0.7], [0, 0, 0])
    per_class = topkx_recall(
        *args, top_k=(1,), tiou_thresholds=[0.5], gt_labels=[0, 1, 1, 1], pred_labels=[0, 2, 2]
    )
    assert per_class.tolist() == [[0.5]]  # (1/1 + 0/3) / 2; class-2 predictions are ignored
    agnostic = topkx_recall(*args, top_k=(1,), tiou_thresholds=[0.5])
    assert agnostic.tolist() == [[0.75]]  # top 4 of the video: all three predictions


@given(_container_gt, _container_pred, st.booleans(), st.sampled_from(_THRESHOLDS))
def test_topkx_matches_the_reference(
    gt_rows: list[Any], pred_rows: list[Any], per_class: bool, thresholds: Any
) -> None:
    gt, preds = _containers(gt_rows, pred_rows)
    thr = parse_tiou_thresholds(thresholds).tolist()
    expected = ref.topkx_recall(gt_rows, pred_rows, thr, [1, 2, 5], per_class)
    result = evaluate_topkx_recall(
        gt, preds, top_k=(1, 2, 5), tiou_thresholds=thresholds, per_class=per_class
    )
    if per_class:
        np.testing.assert_allclose(result.recall, expected, rtol=1e-12, atol=0)
        assert result.class_recall is not None
        assert result.class_recall.shape == (len(result.class_names), len(thr), 3)
        np.testing.assert_array_equal(
            result.recall, result.class_recall.transpose(1, 2, 0).mean(axis=2)
        )
    else:
        assert result.recall.tolist() == expected
        assert result.class_recall is None and result.class_names == ()
    # the array twin on codes gives the same numbers
    codes = {v: i for i, v in enumerate(["a", "b", "c", "no-instances", "unknown"])}
    labels = {c: i for i, c in enumerate(["run", "jump", "swim"])}
    kwargs: dict[str, Any] = {"top_k": (1, 2, 5), "tiou_thresholds": thresholds}
    if per_class:
        kwargs |= {
            "gt_labels": [labels[r[1]] for r in gt_rows],
            "pred_labels": [labels[r[1]] for r in pred_rows],
        }
    twin = topkx_recall(
        [r[2:] for r in gt_rows],
        [codes[r[0]] for r in gt_rows],
        [r[2:4] for r in pred_rows],
        [r[4] for r in pred_rows],
        [codes[r[0]] for r in pred_rows],
        **kwargs,
    )
    assert twin.tolist() == result.recall.tolist()


def test_topkx_result_views() -> None:
    gt, preds = _containers([("a", "run", 0.0, 10.0)], [("a", "run", 0.0, 10.0, 0.5)])
    result = evaluate_topkx_recall(gt, preds, tiou_thresholds=[0.5, 0.7])
    assert result.to_dict()["recall@0.5@1"] == 1.0 and result.to_dict()["recall@0.7@5"] == 1.0
    assert "R@5x" in str(result)


def test_topkx_errors() -> None:
    args = _hand_case()
    with pytest.raises(EvaluationInputError, match="top_k"):
        topkx_recall(*args, top_k=(0,))
    with pytest.raises(EvaluationInputError, match="top_k"):
        topkx_recall(*args, top_k=())
    with pytest.raises(EvaluationInputError, match="pred_labels is missing"):
        topkx_recall(*args, gt_labels=[0, 0, 0])
    with pytest.raises(EvaluationInputError, match="> 0"):
        topkx_recall(*args, tiou_thresholds=[0.0])


# ----------------------------------------------------------------------------- real ground truth


@pytest.fixture(scope="module")
def anet12_gt(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    path = tmp_path_factory.mktemp("anet12") / "anet12_val_gt.json"
    path.write_bytes(gzip.decompress((DATA / "anet12_val_gt.json.gz").read_bytes()))
    return load_activitynet_ground_truth(path)


def test_real_ground_truth_duplicates(anet12_gt: GroundTruth) -> None:
    gt = anet12_gt
    assert (len(gt), len(gt.video_ids), len(gt.class_names)) == (3457, 2304, 100)
    for convention in ("opentad", "actionformer"):
        cleaned, report = deduplicate_ground_truth(gt, convention=convention)
        assert (report.num_zero_length, report.num_duplicates, report.num_kept) == (0, 7, 3450)
        dropped = np.flatnonzero(~report.kept)
        per_video = {
            gt.video_ids[v]: int(n)
            for v, n in zip(*np.unique(gt.videos[dropped], return_counts=True), strict=True)
        }
        assert per_video == {
            "lGESoAdgps8": 1,
            "gUR1wXosHMo": 2,
            "gl_0jjJBUkc": 1,
            "a1nRXQZ6-Fo": 2,
            "wLKePf07V14": 1,
        }
        assert len(cleaned) == 3450 and cleaned.video_ids == gt.video_ids
    rows = [
        (int(v), int(c), *map(float, s))
        for v, c, s in zip(gt.videos, gt.labels, gt.segments, strict=True)
    ]
    assert ref.deduplicate(rows).count("dup") == 7


def test_real_ground_truth_ar_an(anet12_gt: GroundTruth) -> None:
    gt = anet12_gt
    rng = np.random.default_rng(12)
    # perfect proposals (each instance itself) plus 4 jittered copies, random scores
    base = np.repeat(gt.segments, 5, axis=0)
    length = base[:, 1] - base[:, 0]
    jitter = rng.normal(0.0, 0.15, base.shape) * length[:, None]
    jitter[::5] = 0.0
    p_seg = np.sort(base + jitter, axis=1)
    p_vid = np.repeat(gt.videos, 5)
    scores = rng.random(size=(base.shape[0],))
    scores[::5] += 1.0  # each instance's own copy ranks first in its video
    preds = Predictions(
        video_ids=gt.video_ids,
        label_names=("proposal",),
        segments=p_seg,
        scores=scores,
        labels=np.zeros(p_seg.shape[0], dtype=np.int64),
        videos=p_vid,
    )
    thresholds = [0.5, 0.75, 0.95]
    curve = evaluate_proposals(
        gt, preds, max_avg_nr_proposals=5, tiou_thresholds=thresholds, num_points=20
    )
    assert (curve.num_videos, curve.num_ground_truth, curve.num_proposals) == (2304, 3457, 17285)
    assert curve.recall[:, -1].tolist() == [1.0, 1.0, 1.0]  # every instance's own copy is kept
    gts = [(int(v), *map(float, s)) for v, s in zip(gt.videos, gt.segments, strict=True)]
    props = [
        (int(v), *map(float, s), float(c)) for v, s, c in zip(p_vid, p_seg, scores, strict=True)
    ]
    _check_curve(curve, ref.average_recall_curve(gts, props, thresholds, 5, 20))
    cleaned, _ = deduplicate_ground_truth(gt)
    assert evaluate_proposals(cleaned, preds, max_avg_nr_proposals=5).num_ground_truth == 3450


def test_the_new_modules_do_not_import_torch() -> None:
    code = (
        "import sys, wtal_blocks.evaluation.proposal_metrics, wtal_blocks.evaluation.segment_ops; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
