"""W-TALC's getDetectionMAP protocol: against the plain-loop reference, documented rules, loaders.

The real annotation files are the copies in ``tests/data/thumos14-reduced`` (see its README).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.wtalc_reference import video_proposals, wtalc_detection_map
from wtal_blocks.evaluation import (
    DetectionResult,
    EvaluationInputError,
    WtalcAnnotations,
    WtalcEmptyClassWarning,
    evaluate_detection,
    evaluate_wtalc,
    load_wtalc_annotations,
    load_wtalc_scores,
    wtalc_ground_truth,
    wtalc_proposals,
)

DATA = Path(__file__).resolve().parent / "data" / "thumos14-reduced"
THRESHOLDS = [0.1, 0.2, 0.3, 0.4, 0.5]
I3D = 25.0 / 16.0


@pytest.fixture(scope="module")
def real() -> WtalcAnnotations:
    return load_wtalc_annotations(DATA)


# ---------------------------------------------------------------------------------------------
# helpers


def make_annotations(
    videos: list[tuple[str, str, list[tuple[float, float]], list[str]]],
    classes: list[str],
    ambiguous: list[tuple[str, float, float]] | None = None,
) -> WtalcAnnotations:
    """``videos``: ``(name, subset, [(start, end)], [label])`` in file order."""
    ambiguous = ambiguous or []
    segs = [s for _, _, ss, _ in videos for s in ss]
    return WtalcAnnotations(
        video_names=tuple(v[0] for v in videos),
        subsets=tuple(v[1] for v in videos),
        class_names=tuple(classes),
        segments=np.asarray(segs, dtype=np.float64).reshape(-1, 2),
        labels=np.asarray(
            [classes.index(lab) for _, _, _, ls in videos for lab in ls], dtype=np.int64
        ),
        videos=np.repeat(np.arange(len(videos)), [len(v[2]) for v in videos]).astype(np.int64),
        durations=np.full(len(videos), 100.0),
        ambiguous_names=tuple(a[0] for a in ambiguous),
        ambiguous_segments=np.asarray([a[1:] for a in ambiguous], dtype=np.float64).reshape(-1, 2),
    )


def reference_inputs(ann: WtalcAnnotations) -> tuple[list[Any], list[str], list[Any]]:
    tests = []
    for r in ann.test_rows().tolist():
        mine = ann.videos == r
        tests.append(
            (
                ann.video_names[r],
                [(float(s), float(e)) for s, e in ann.segments[mine].tolist()],
                [ann.class_names[c] for c in ann.labels[mine].tolist()],
            )
        )
    amb = [
        (n, float(a), float(b))
        for n, (a, b) in zip(ann.ambiguous_names, ann.ambiguous_segments.tolist(), strict=True)
    ]
    return tests, list(ann.class_names), amb


def agree(
    ann: WtalcAnnotations,
    scores: list[np.ndarray],
    *,
    feature_type: str = "I3D",
    empty_class: str = "zero_map",
    thresholds: list[float] | None = None,
) -> DetectionResult:
    """Library vs reference within 1e-9 at every tIoU (mAP and per-class AP)."""
    thresholds = thresholds or THRESHOLDS
    factor = {"I3D": I3D, "UNT": 10.0 / 4.0}[feature_type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WtalcEmptyClassWarning)
        res = evaluate_wtalc(
            ann,
            scores,
            feature_type=feature_type,  # type: ignore[arg-type]
            tiou_thresholds=thresholds,
            empty_class=empty_class,  # type: ignore[arg-type]
        )
    tests, classes, amb = reference_inputs(ann)
    m_ap, ap, empty = wtalc_detection_map(
        tests, classes, amb, scores, thresholds, factor, empty_class
    )
    assert res.class_names == tuple(sorted(ap))
    np.testing.assert_allclose(res.mAP, m_ap, rtol=0, atol=1e-9)
    ref_ap = np.asarray([ap[n] for n in res.class_names]).reshape(-1, len(thresholds))
    np.testing.assert_allclose(res.ap, ref_ap, rtol=0, atol=1e-9)
    assert res.empty_classes == tuple(empty)
    assert res.protocol == "wtalc"
    return res


def lengths_of(ann: WtalcAnnotations, rate: float = I3D) -> list[int]:
    return [int(ann.durations[r] * rate) for r in ann.test_rows().tolist()]


def ground_truth_cas(
    ann: WtalcAnnotations, rng: np.random.Generator, noise: float, rate: float = I3D
) -> list[np.ndarray]:
    """Logit-like scores: -2 background, +3 inside every ground truth, plus Gaussian noise."""
    out = []
    for r, length in zip(ann.test_rows().tolist(), lengths_of(ann, rate), strict=True):
        cas = np.full((length, ann.num_classes), -2.0)
        for (s, e), c in zip(
            ann.segments[ann.videos == r].tolist(),
            ann.labels[ann.videos == r].tolist(),
            strict=True,
        ):
            cas[round(s * rate) : round(e * rate), c] += 3.0
        out.append((cas + noise * rng.standard_normal(cas.shape)).astype(np.float32))
    return out


def random_walk(rng: np.random.Generator, length: int, num_classes: int) -> np.ndarray:
    walk = np.cumsum(rng.standard_normal((length, num_classes)), axis=0)
    return walk - walk.mean(axis=0)


# ---------------------------------------------------------------------------------------------
# the real annotation files


def test_loader_reads_the_w_talc_files(real: WtalcAnnotations) -> None:
    assert len(real.video_names) == 412
    assert real.subsets.count("test") == 212 and real.subsets.count("validation") == 200
    assert real.num_classes == 20 and real.class_names[0] == "BaseballPitch"
    assert len(real) == 6365
    assert real.evaluated_rows().shape == (212,)
    test = np.isin(real.videos, real.test_rows())
    assert int(test.sum()) == 3358
    assert real.durations.shape == (412,)
    assert len(real.ambiguous_names) == 99 and real.ambiguous_segments.shape == (99, 2)
    assert "video_test_0001292" in real.ambiguous_names  # not among the 412 videos
    assert "video_test_0001292" not in real.video_names
    r = real.video_names.index("video_test_0000004")
    first = int(np.flatnonzero(real.videos == r)[0])
    assert real.class_names[int(real.labels[first])] == "CricketBowling"


def test_crlf_copy_of_the_ambiguous_file_reads_the_same(
    real: WtalcAnnotations, tmp_path: Path
) -> None:
    for f in DATA.iterdir():
        data = f.read_bytes()
        if f.name == "Ambiguous_test.txt":
            data = data.replace(b"\n", b"\r\n")
        (tmp_path / f.name).write_bytes(data)
    crlf = load_wtalc_annotations(tmp_path)
    assert crlf.ambiguous_names == real.ambiguous_names
    np.testing.assert_array_equal(crlf.ambiguous_segments, real.ambiguous_segments)


def test_random_scores_on_the_real_test_videos(real: WtalcAnnotations) -> None:
    rng = np.random.default_rng(0)
    scores = [rng.standard_normal((n, 20)).astype(np.float32) for n in lengths_of(real)]
    res = agree(real, scores)
    assert res.num_ground_truth == 3358 and res.num_predictions > 100_000
    assert res.num_ambiguous_removed > 0


def test_noisy_ground_truth_scores_on_the_real_test_videos(real: WtalcAnnotations) -> None:
    rng = np.random.default_rng(1)
    res = agree(real, ground_truth_cas(real, rng, noise=1.0))
    assert res.mAP[0] > 0.3  # the scores carry the ground truth


def test_random_walk_scores_in_float64_and_fortran_order(real: WtalcAnnotations) -> None:
    rng = np.random.default_rng(2)
    scores = [np.asfortranarray(random_walk(rng, n, 20)) for n in lengths_of(real)]
    assert scores[0].dtype == np.float64 and not scores[0].flags.c_contiguous
    agree(real, scores)


def test_quantised_scores_tie_at_the_mid_range_and_across_videos(real: WtalcAnnotations) -> None:
    rng = np.random.default_rng(3)
    scores = [
        np.round(random_walk(rng, n, 20) / 4.0).astype(np.float32) / 2 for n in lengths_of(real)
    ]
    res = agree(real, scores)
    assert res.num_predictions > 0


def test_untrimmednet_feature_rate(real: WtalcAnnotations) -> None:
    rng = np.random.default_rng(4)
    agree(real, ground_truth_cas(real, rng, noise=1.5, rate=2.5), feature_type="UNT")


def test_mixed_dtypes_are_each_computed_in_their_own_dtype(real: WtalcAnnotations) -> None:
    rng = np.random.default_rng(7)
    scores = ground_truth_cas(real, rng, noise=1.5)
    mixed = [a.astype(np.float64) if i % 3 == 0 else a for i, a in enumerate(scores)]
    agree(real, mixed)


def test_torch_tensors_are_accepted(real: WtalcAnnotations) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    scores = ground_truth_cas(real, rng, noise=1.0)
    a = evaluate_wtalc(real, [torch.from_numpy(x) for x in scores])
    np.testing.assert_array_equal(a.mAP, evaluate_wtalc(real, scores).mAP)


def test_mapping_and_sequence_give_the_same_result(real: WtalcAnnotations) -> None:
    rng = np.random.default_rng(5)
    scores = ground_truth_cas(real, rng, noise=1.0)
    by_name = dict(zip(real.test_video_names(), scores, strict=True))
    a = evaluate_wtalc(real, scores)
    b = evaluate_wtalc(real, by_name)
    np.testing.assert_array_equal(a.mAP, b.mAP)
    np.testing.assert_array_equal(a.ap, b.ap)
    assert a.average_mAP == pytest.approx(float(np.mean(a.mAP)))
    assert isinstance(a, DetectionResult) and a.to_dict()["mAP"] == a.mAP.tolist()


def test_proposal_step_feeds_the_activitynet_evaluator(real: WtalcAnnotations) -> None:
    rng = np.random.default_rng(6)
    scores = ground_truth_cas(real, rng, noise=1.0)
    preds = wtalc_proposals(real, scores)
    assert preds.video_ids == real.test_video_names()
    assert preds.label_names == real.class_names
    # the same proposals as the reference's step, video by video (seconds = index * 16 / 25)
    for v in (0, 17, 211):
        mine = preds.videos == v
        got = sorted(
            zip(
                preds.labels[mine].tolist(),
                np.rint(preds.segments[mine] * I3D).astype(int).tolist(),
                preds.scores[mine].tolist(),
                strict=True,
            )
        )
        want = sorted(
            (c, [s, e], score) for c, s, e, score in video_proposals(scores[v], range(20))
        )
        assert got == want
    assert np.array_equal(preds.segments, np.rint(preds.segments * I3D) * 16 / 25)
    gt = wtalc_ground_truth(real)
    assert len(gt.video_ids) == 212 and len(gt) == 3358
    anet = evaluate_detection(gt, preds, "0.1:0.5:0.1")
    w = evaluate_wtalc(real, scores)
    assert anet.protocol == "activitynet" and np.all((anet.mAP >= 0) & (anet.mAP <= 1))
    assert anet.class_names == w.class_names


# ---------------------------------------------------------------------------------------------
# documented rules on hand-made cases


def _one_video(
    segments: list[tuple[float, float]],
    labels: list[str] | None = None,
    classes: tuple[str, ...] = ("A",),
    ambiguous: list[tuple[str, float, float]] | None = None,
) -> WtalcAnnotations:
    labels = labels if labels is not None else [classes[0]] * len(segments)
    return make_annotations([("v", "test", segments, labels)], list(classes), ambiguous)


def _column(values: list[float], num_classes: int = 1) -> np.ndarray:
    out = np.full((len(values), num_classes), -1.0, dtype=np.float32)
    out[:, 0] = values
    return out


def _proposal_indices(ann: WtalcAnnotations, scores: list[np.ndarray]) -> list[tuple[int, int]]:
    preds = wtalc_proposals(ann, scores)
    return [tuple(x) for x in np.rint(preds.segments * I3D).astype(int).tolist()]


def test_short_videos_are_gated_out() -> None:
    ann = _one_video([(0.0, 2.0)])
    values = [0.0, 5.0, 5.0, 0.0, 0.0, 0.0, 0.0]
    assert _proposal_indices(ann, [_column(values)]) == []  # L = 7: k = 0, NaN mean
    assert _proposal_indices(ann, [_column([*values, 0.0])]) == [(1, 3)]  # L = 8: k = 1


def test_gate_is_a_strict_positive_top_k_mean() -> None:
    ann = _one_video([(0.0, 2.0)])
    zero_mean = [1.0, 1.0, -1.0, -1.0, -5.0, -5.0, -5.0, -5.0, -5.0, -5.0, -5.0, -5.0, -5.0, -5.0, -5.0, -5.0]  # fmt: skip
    assert _proposal_indices(ann, [_column(zero_mean * 2)]) != []  # k = 4: mean 1 > 0
    assert _proposal_indices(ann, [_column([v - 1.0 for v in zero_mean] * 2)]) == []  # mean 0


def test_constant_columns_yield_nothing() -> None:
    ann = _one_video([(0.0, 2.0)])
    assert _proposal_indices(ann, [_column([3.0] * 16)]) == []


def test_values_at_the_mid_range_are_not_marked_and_runs_touch_both_ends() -> None:
    ann = _one_video([(0.0, 2.0)])
    values = [1.0, 1.0, 0.5, 1.0, 0.0, 1.0, 1.0, 0.5, 1.0, 1.0]  # mid-range 0.5
    assert _proposal_indices(ann, [_column(values)]) == [(0, 2), (5, 7), (8, 10)]


def test_score_is_run_max_plus_0_7_v_in_float32() -> None:
    ann = _one_video([(0.0, 2.0)])
    values = np.asarray([0.1, 0.7, 0.3, 0.9, 0.6, 0.1, 0.0, 0.2], dtype=np.float32)
    preds = wtalc_proposals(ann, [_column(values.tolist())])
    v = values.max()  # k = 1; mid-range 0.45: runs [1, 2) (dropped) and [3, 5)
    expected = np.float32(values[3:5].max() + np.float32(0.7) * v)
    assert preds.scores.tolist() == [float(expected)]
    assert float(expected) != float(values[3:5].max()) + 0.7 * float(v)  # not float64 math


def test_top_k_mean_follows_numpy_summation_order_of_the_layout() -> None:
    # k = 9 values 1e8, 3 x 7, -1e8: added row by row in float32 they cancel to 0 (gate off);
    # numpy's pairwise sum of one contiguous column keeps 16 (gate on)
    col = np.full(72, -1e9, dtype=np.float32)
    col[:9] = [1e8, 3, 3, 3, 3, 3, 3, 3, -1e8]  # above the mid-range: one run [0, 9)
    cas = np.stack([col, np.zeros(72, dtype=np.float32)], axis=1)
    ranked = -np.sort(-cas, axis=0)
    assert np.mean(ranked[:9], axis=0)[0] == 0
    assert np.mean(np.asfortranarray(ranked)[:9], axis=0)[0] > 0
    ann = _one_video([(0.0, 2.0)], classes=("A", "B"))
    assert _proposal_indices(ann, [cas]) == []  # C order: gated out
    assert _proposal_indices(ann, [np.asfortranarray(cas)]) != []  # Fortran order: kept
    agree(ann, [cas])
    agree(ann, [np.asfortranarray(cas)])


def test_matching_is_first_fit_in_list_order_not_best_iou() -> None:
    # GT A = [0, 20), GT B = [2, 8) (indices); P1 = [2, 8) ranks first, P2 = [9, 19)
    ann = _one_video([(0.0, 12.8), (1.28, 5.12)])
    values = [0.0] * 24
    values[2:8] = [5.0] * 6
    values[9:19] = [4.0] * 10
    cas = [_column(values)]
    assert _proposal_indices(ann, cas) == [(2, 8), (9, 19)]
    res = agree(ann, cas, thresholds=[0.3, 0.6])
    # t = 0.3: P1 takes A (first in the list, IoU 0.3), B stays, P2 is a false positive;
    # t = 0.6: A is out of reach for P1 (0.3), so it takes B (IoU 1) and P2 misses A (0.5)
    assert res.ap[0].tolist() == [0.5, 0.5]


def test_iou_threshold_is_inclusive_on_integer_index_sets() -> None:
    ann = _one_video([(0.0, 6.4)])  # [0, 10)
    values = [3.0] * 5 + [0.0] * 11  # proposal [0, 5): IoU exactly 0.5
    res = agree(ann, [_column(values)], thresholds=[0.5, 0.51])
    assert res.ap[0].tolist() == [1.0, 0.0]


def test_ground_truth_rounds_half_to_even() -> None:
    assert 1.6 * I3D == 2.5 and round(1.6 * I3D) == 2
    ann = _one_video([(1.6, 3.2)])  # [2, 5), half-up would give [3, 5)
    values = [0.0, 0.0, 3.0, 3.0, 3.0] + [0.0] * 11
    res = agree(ann, [_column(values)], thresholds=[0.9])
    assert res.ap[0, 0] == 1.0


def test_empty_rounded_ground_truth_counts_but_never_matches() -> None:
    ann = _one_video([(1.0, 1.5), (6.4, 9.6)])  # [2, 2) and [10, 15)
    values = [0.0] * 10 + [3.0] * 5 + [0.0]
    res = agree(ann, [_column(values)])
    assert res.ap[0].tolist() == [0.5] * 5


def test_ground_truth_beyond_the_scores_never_matches() -> None:
    ann = _one_video([(0.0, 3.2), (60.0, 70.0)])
    values = [3.0] * 5 + [0.0] * 11
    res = agree(ann, [_column(values)])
    assert res.ap[0, 0] == 0.5


def test_ambiguous_intervals_delete_proposals_that_share_an_index() -> None:
    values = [0.0] * 10 + [3.0] * 5 + [0.0] * 5 + [2.0] * 4
    segments = [(6.4, 9.6)]  # [10, 15): the first proposal is a true positive
    clean = agree(_one_video(segments), [_column(values)])
    assert clean.ap[0, 0] == 1.0 and clean.num_predictions == 2
    touching = _one_video(segments, ambiguous=[("v", 9.6, 12.8)])  # [15, 20): no shared index
    assert agree(touching, [_column(values)]).num_predictions == 2
    sharing = _one_video(segments, ambiguous=[("v", 9.0, 9.8)])  # [14, 15): shares index 14
    res = agree(sharing, [_column(values)])
    assert res.num_predictions == 1 and res.num_ambiguous_removed == 1
    assert res.ap[0, 0] == 0.0  # the true positive was deleted
    other = _one_video(segments, ambiguous=[("w", 0.0, 100.0), ("v", 3.0, 3.0)])
    assert agree(other, [_column(values)]).num_ambiguous_removed == 0  # other video, empty range


def test_exact_score_ties_rank_the_earlier_video_first() -> None:
    values = [0.0] * 4 + [3.0] * 4 + [0.0] * 8
    ann = make_annotations(
        [("v0", "test", [(0.0, 1.0)], ["A"]), ("v1", "test", [(2.56, 5.12)], ["A"])], ["A"]
    )
    res = agree(ann, [_column(values), _column(values)])
    # v0's proposal (a false positive) ranks before v1's tied true positive
    assert res.ap[0, 0] == pytest.approx(0.5 * 0.5)


def test_videos_without_segments_and_their_scores_are_dropped() -> None:
    ann = make_annotations(
        [
            ("train", "validation", [(0.0, 1.0)], ["A"]),
            ("empty", "test", [], []),
            ("v", "test", [(6.4, 9.6)], ["A"]),
        ],
        ["A"],
    )
    tp = _column([0.0] * 10 + [3.0] * 5 + [0.0])
    fp = _column([9.0] * 5 + [0.0] * 11)
    res = agree(ann, [fp, tp])
    assert res.ap[0, 0] == 1.0
    by_name = evaluate_wtalc(ann, {"v": tp})  # the video without segments may be left out
    assert by_name.ap[0, 0] == 1.0


def test_classes_are_those_with_ground_truth_sorted_by_name() -> None:
    ann = make_annotations(
        [("v", "test", [(0.0, 3.2), (6.4, 9.6)], ["Zeta", "Alpha"])], ["Zeta", "Mid", "Alpha"]
    )
    cas = np.zeros((16, 3), dtype=np.float32)
    cas[0:5, 0] = 3.0
    cas[10:15, 2] = 3.0
    res = agree(ann, [cas])
    assert res.class_names == ("Alpha", "Zeta")
    assert res.ap[:, 0].tolist() == [1.0, 1.0]


def test_empty_class_makes_the_map_zero_with_a_warning() -> None:
    ann = make_annotations([("v", "test", [(0.0, 3.2), (6.4, 9.6)], ["A", "B"])], ["A", "B"])
    cas = np.zeros((16, 2), dtype=np.float32)
    cas[0:5, 0] = 3.0  # class B gets nothing
    with pytest.warns(WtalcEmptyClassWarning, match="class\\(es\\) B"):
        res = evaluate_wtalc(ann, [cas])
    assert res.mAP.tolist() == [0.0] * 5 and res.average_mAP == 0.0
    assert res.empty_classes == ("B",) and res.ap[:, 0].tolist() == [1.0, 0.0]
    agree(ann, [cas])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fair = evaluate_wtalc(ann, [cas], empty_class="zero_ap")
    assert fair.mAP.tolist() == [0.5] * 5 and fair.empty_classes == ("B",)
    agree(ann, [cas], empty_class="zero_ap")


def test_empty_class_after_ambiguous_deletion() -> None:
    ann = make_annotations(
        [("v", "test", [(6.4, 9.6)], ["A"])], ["A"], ambiguous=[("v", 0.0, 100.0)]
    )
    cas = _column([0.0] * 10 + [3.0] * 5 + [0.0])
    with pytest.warns(WtalcEmptyClassWarning, match="A"):
        res = evaluate_wtalc(ann, [cas])
    assert res.mAP.tolist() == [0.0] * 5 and res.num_ambiguous_removed == 1


# ---------------------------------------------------------------------------------------------
# properties on small synthetic annotation sets


@st.composite
def wtalc_case(draw: st.DrawFn) -> tuple[WtalcAnnotations, list[np.ndarray], str]:
    pool = ["Jump", "Dive", "Run", "Throw"]
    classes = draw(st.permutations(pool))[: draw(st.integers(1, 3))]
    n_test = draw(st.integers(1, 4))
    tenth = st.integers(0, 300).map(lambda t: t / 10)
    videos = []
    if draw(st.booleans()):
        videos.append(("val_0", "validation", [(0.0, 1.0)], [classes[0]]))
    for i in range(n_test):
        n_seg = draw(st.integers(0 if i else 1, 4))  # the first test video has segments
        segs = []
        for _ in range(n_seg):
            start = draw(tenth)
            segs.append((start, start + draw(st.integers(0, 60)) / 10))
        labels = [draw(st.sampled_from(classes)) for _ in segs]
        videos.append((f"test_{i}", "test", segs, labels))
    names = [v[0] for v in videos if v[1] == "test"] + ["elsewhere"]
    ambiguous = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(tenth)
        ambiguous.append((draw(st.sampled_from(names)), start, start + draw(tenth) / 10))
    ann = make_annotations(videos, classes, ambiguous)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    fortran = draw(st.booleans())
    levels = draw(st.sampled_from([4, 64, 0]))  # few levels: ties everywhere; 0: continuous
    # extreme magnitudes: sums and mid-ranges that overflow, subnormal steps
    tiny, huge = (1e-40, 3e37) if dtype is np.float32 else (1e-310, 1e307)
    scale = draw(st.sampled_from([1.0, 1.0, 1.0, tiny, huge]))
    scores = []
    for _ in range(n_test):
        length = draw(st.integers(1, 48))
        seed = draw(st.integers(0, 2**32 - 1))
        raw = np.random.default_rng(seed).standard_normal((length, len(classes))) + 0.3
        if levels:
            raw = np.round(raw * levels / 4) / (levels / 4)
        arr = (raw * scale).astype(dtype)
        scores.append(np.asfortranarray(arr) if fortran else arr)
    feature_type = draw(st.sampled_from(["I3D", "UNT"]))
    return ann, scores, feature_type


@given(wtalc_case(), st.sampled_from(["zero_map", "zero_ap"]))
def test_library_matches_the_reference_on_small_sets(
    case: tuple[WtalcAnnotations, list[np.ndarray], str], empty_class: str
) -> None:
    ann, scores, feature_type = case
    agree(ann, scores, feature_type=feature_type, empty_class=empty_class)


# ---------------------------------------------------------------------------------------------
# annotation loader errors


def write_annotation_dir(
    root: Path,
    *,
    names: list[str] | None = None,
    subsets: list[str] | None = None,
    classes: list[str] | None = None,
    segments: list[Any] | None = None,
    labels: list[Any] | None = None,
    ambiguous: str = "v1  0.0 1.0\n",
) -> Path:
    names = names or ["v0", "v1"]
    n = len(names)
    np.save(root / "videoname.npy", np.asarray([s.encode() for s in names]))
    np.save(
        root / "subset.npy", np.asarray([s.encode() for s in subsets or ["validation", "test"]])
    )
    np.save(root / "classlist.npy", np.asarray([s.encode() for s in classes or ["A", "B"]]))
    np.save(root / "duration.npy", np.full((n, 1), 50.0))
    seg = np.empty(n, dtype=object)
    lab = np.empty(n, dtype=object)
    seg_rows = segments if segments is not None else [[[0.0, 1.5]], [[2.0, 3.0], [4.0, 5.5]]]
    lab_rows = labels if labels is not None else [["A"], ["B", "A"]]
    for i in range(n):
        seg[i], lab[i] = seg_rows[i], lab_rows[i]
    np.save(root / "segments.npy", seg, allow_pickle=True)
    np.save(root / "labels.npy", lab, allow_pickle=True)
    (root / "Ambiguous_test.txt").write_text(ambiguous)
    return root


def test_loader_on_a_small_directory(tmp_path: Path) -> None:
    ann = load_wtalc_annotations(write_annotation_dir(tmp_path))
    assert ann.video_names == ("v0", "v1") and ann.class_names == ("A", "B")
    assert ann.segments.tolist() == [[0.0, 1.5], [2.0, 3.0], [4.0, 5.5]]
    assert ann.labels.tolist() == [0, 1, 0] and ann.videos.tolist() == [0, 1, 1]
    assert ann.ambiguous_names == ("v1",) and ann.ambiguous_segments.tolist() == [[0.0, 1.0]]
    assert ann.test_video_names() == ("v1",)
    no_amb = load_wtalc_annotations(tmp_path, ambiguous_file=None)
    assert no_amb.ambiguous_names == ()


def test_loader_refuses_a_pickle_with_foreign_globals(tmp_path: Path) -> None:
    write_annotation_dir(tmp_path)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.mkdir, (str(marker),))

    with open(tmp_path / "segments.npy", "wb") as fp:
        np.lib.format.write_array_header_1_0(
            fp, {"descr": "|O", "fortran_order": False, "shape": (2,)}
        )
        pickle.dump(Exploit(), fp, protocol=3)
    with pytest.raises(EvaluationInputError, match=r"segments\.npy: .*refusing to load the global"):
        load_wtalc_annotations(tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"segments": [[[0.0, 1.5]], "oops"]},
            r"segments\.npy: video 'v1'.*row 1: expected a list",
        ),
        ({"segments": [[[0.0, 1.5]], [[2.0, "3"]]]}, r"segments\.npy: video 'v1', item 0.*row 1"),
        ({"segments": [[[0.0, 1.5]], [[2.0, 3.0, 4.0]]]}, r"row 1: expected \[start, end\]"),
        ({"segments": [[[0.0, 1.5]], [[2.0, float("nan")]]]}, r"row 1: expected \[start, end\]"),
        ({"segments": [[[0.0, 1.5]], [[True, 3.0]]]}, r"row 1: expected \[start, end\]"),
        ({"segments": [[[0.0, 1.5]], [[3.0, 2.0]]]}, r"row 1: segment .* ends before it starts"),
        ({"labels": [["A"], ["B", 1]]}, r"labels\.npy: video 'v1', item 1.*expected a class name"),
        ({"labels": [["A"], ["B", "C"]]}, r"labels\.npy.*row 1: label 'C' is not in classlist"),
        ({"labels": [["A"], ["B"]]}, r"labels\.npy.*row 1: 1 labels for 2 segments"),
        ({"labels": [["A"], "B"]}, r"labels\.npy.*row 1: expected a list of class names"),
        ({"classes": ["A", "A"]}, r"classlist\.npy: class names repeat"),
        ({"names": ["v1", "v1"]}, r"videoname\.npy: video names repeat"),
        ({"subsets": ["test"]}, r"subset\.npy: expected 2 rows"),
        (
            {"ambiguous": "v1 0.0 1.0\n"},
            r"Ambiguous_test\.txt: .*line 1: expected 'VIDEO  START END'",
        ),
        ({"ambiguous": "v1  0.0 x\n"}, r"Ambiguous_test\.txt: video 'v1'.*line 1: fields 2 and 3"),
        ({"ambiguous": "\nv1  2.0 1.0\n"}, r"line 2: \[2\.0, 1\.0\] is not a finite interval"),
    ],
)
def test_loader_names_the_file_and_row(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    write_annotation_dir(tmp_path, **change)
    with pytest.raises(EvaluationInputError, match=message):
        load_wtalc_annotations(tmp_path)


def test_loader_errors_on_missing_and_wrong_files(tmp_path: Path) -> None:
    with pytest.raises(EvaluationInputError, match="folder not found"):
        load_wtalc_annotations(tmp_path / "nowhere")
    write_annotation_dir(tmp_path)
    (tmp_path / "labels.npy").unlink()
    with pytest.raises(EvaluationInputError, match=r"labels\.npy: annotation file not found"):
        load_wtalc_annotations(tmp_path)
    write_annotation_dir(tmp_path)
    np.save(tmp_path / "segments.npy", np.zeros(2))
    with pytest.raises(EvaluationInputError, match=r"segments\.npy.*expected a pickled object"):
        load_wtalc_annotations(tmp_path)
    write_annotation_dir(tmp_path)
    (tmp_path / "Ambiguous_test.txt").unlink()
    with pytest.raises(EvaluationInputError, match=r"Ambiguous_test\.txt: .*not found"):
        load_wtalc_annotations(tmp_path)
    write_annotation_dir(tmp_path)
    np.save(tmp_path / "videoname.npy", np.arange(2))
    with pytest.raises(EvaluationInputError, match=r"videoname\.npy: expected an array of strings"):
        load_wtalc_annotations(tmp_path)


# ---------------------------------------------------------------------------------------------
# scores loader and evaluator input errors


def _small() -> tuple[WtalcAnnotations, dict[str, np.ndarray]]:
    ann = make_annotations(
        [
            ("v0", "test", [(0.0, 3.2)], ["A"]),
            ("v1", "test", [(6.4, 9.6)], ["B"]),
            ("v2", "test", [], []),
        ],
        ["A", "B"],
    )
    rng = np.random.default_rng(0)
    return ann, {n: rng.standard_normal((16, 2)).astype(np.float32) for n in ("v0", "v1", "v2")}


def test_scores_file_round_trip(tmp_path: Path) -> None:
    ann, scores = _small()
    np.savez(tmp_path / "SCORES.npz", **scores)
    loaded = load_wtalc_scores(tmp_path / "SCORES.npz", ann)
    assert sorted(loaded) == ["v0", "v1", "v2"]
    for name, arr in scores.items():
        assert loaded[name].dtype == np.float32 and np.array_equal(loaded[name], arr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WtalcEmptyClassWarning)
        a, b = evaluate_wtalc(ann, loaded), evaluate_wtalc(ann, scores)
    np.testing.assert_array_equal(a.mAP, b.mAP)


@pytest.mark.parametrize(
    ("name", "array", "message"),
    [
        ("v1", None, r"video 'v1'.*no scores for this test video"),
        ("v0", np.zeros((16, 3), np.float32), r"video 'v0'.*must have 2 columns"),
        ("v0", np.array([[0.0, np.inf]]), r"video 'v0', item 0.*scores\[0, 1\] = inf"),
        ("v0", np.zeros(16, np.float32), r"video 'v0'.*2-D \(L, C\) array, got shape \(16,\)"),
        ("v0", np.zeros((16, 2), np.int64), r"video 'v0'.*float32 or float64.*int64"),
        ("v0", np.zeros((0, 2), np.float32), r"video 'v0'.*no snippet"),
        ("v9", np.zeros((16, 2), np.float32), r"video 'v9'.*not a test-subset video"),
    ],
)
def test_scores_file_errors(
    tmp_path: Path, name: str, array: np.ndarray | None, message: str
) -> None:
    ann, scores = _small()
    arrays = dict(scores)
    if array is None:
        del arrays[name]
    else:
        arrays[name] = array
    path = tmp_path / "SCORES.npz"
    np.savez(path, **arrays)
    with pytest.raises(EvaluationInputError, match=r"SCORES\.npz: " + message):
        load_wtalc_scores(path, ann)


def test_scores_file_refuses_pickles_and_other_files(tmp_path: Path) -> None:
    ann, _ = _small()
    obj = np.empty(1, dtype=object)
    obj[0] = [1.0]
    np.savez(tmp_path / "obj.npz", v0=obj)
    with pytest.raises(EvaluationInputError, match=r"obj\.npz: video 'v0'.*cannot read"):
        load_wtalc_scores(tmp_path / "obj.npz")
    np.save(tmp_path / "one.npy", np.zeros((4, 2)))
    with pytest.raises(EvaluationInputError, match=r"one\.npy: expected an \.npz archive"):
        load_wtalc_scores(tmp_path / "one.npy")
    with pytest.raises(EvaluationInputError, match="scores file not found"):
        load_wtalc_scores(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(EvaluationInputError, match=r"junk\.npz: not a readable"):
        load_wtalc_scores(tmp_path / "junk.npz", ann)


def test_evaluator_input_errors() -> None:
    ann, scores = _small()
    seq = [scores["v0"], scores["v1"], scores["v2"]]
    with pytest.raises(EvaluationInputError, match=r"one array per test video \(3"):
        evaluate_wtalc(ann, seq[:2])
    with pytest.raises(EvaluationInputError, match=r"video 'v1'.*no scores"):
        evaluate_wtalc(ann, {"v0": seq[0]})
    with pytest.raises(EvaluationInputError, match=r"video 'x'.*not a test-subset video"):
        evaluate_wtalc(ann, {**scores, "x": seq[0]})
    with pytest.raises(EvaluationInputError, match="feature_type must be 'I3D'"):
        evaluate_wtalc(ann, seq, feature_type="i3d")  # type: ignore[arg-type]
    with pytest.raises(EvaluationInputError, match="must be > 0"):
        evaluate_wtalc(ann, seq, tiou_thresholds=[0.0, 0.5])
    with pytest.raises(EvaluationInputError, match="empty_class must be"):
        evaluate_wtalc(ann, seq, empty_class="skip")  # type: ignore[arg-type]
    with pytest.raises(EvaluationInputError, match=r"float32 or float64.*float16"):
        evaluate_wtalc(ann, [seq[0].astype(np.float16), seq[1], seq[2]])
    with pytest.raises(EvaluationInputError, match="must map video names"):
        evaluate_wtalc(ann, "scores.npz")  # type: ignore[arg-type]
    no_gt = make_annotations([("v", "test", [], [])], ["A"])
    with pytest.raises(EvaluationInputError, match="no action instance"):
        evaluate_wtalc(no_gt, [np.zeros((8, 1), np.float32)])


def test_the_module_never_imports_torch() -> None:
    code = "import sys, wtal_blocks.evaluation.wtalc; assert 'torch' not in sys.modules"
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env=env)


# ---------------------------------------------------------------------------------------------
# wtal-eval --protocol wtalc


def _scores_file(tmp_path: Path, ann: WtalcAnnotations, scores: list[np.ndarray]) -> Path:
    path = tmp_path / "scores.npz"
    names = ann.test_video_names()
    np.savez(path, **dict(zip(names, scores, strict=True)))
    return path


def test_cli_wtalc_json_is_the_api_result(
    real: WtalcAnnotations, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from wtal_blocks.cli.eval import main

    scores = ground_truth_cas(real, np.random.default_rng(8), noise=1.5)
    path = _scores_file(tmp_path, real, scores)
    assert main([str(DATA), str(path), "--protocol", "wtalc", "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    expected = evaluate_wtalc(real, scores)
    assert doc["tiou_thresholds"] == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert doc["mAP"] == expected.mAP.tolist() and 0 < doc["mAP"][0] < 1  # fractions
    assert doc["ap"] == {
        n: r for n, r in zip(expected.class_names, expected.ap.tolist(), strict=True)
    }
    assert "activitynet" not in doc and captured.err == ""


def test_cli_wtalc_side_by_side_adds_the_activitynet_algorithm(
    real: WtalcAnnotations, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from wtal_blocks.cli.eval import main

    scores = ground_truth_cas(real, np.random.default_rng(9), noise=1.0)
    path = _scores_file(tmp_path, real, scores)
    argv = [str(DATA), str(path), "--protocol", "wtalc", "--side-by-side"]
    assert main([*argv, "--json", "--feature-type", "I3D"]) == 0
    doc = json.loads(capsys.readouterr().out)
    anet = evaluate_detection(wtalc_ground_truth(real), wtalc_proposals(real, scores), THRESHOLDS)
    assert doc["activitynet"]["mAP"] == anet.mAP.tolist()
    assert doc["mAP"] == evaluate_wtalc(real, scores).mAP.tolist()
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "W-TALC" in table and "ActivityNet" in table
    assert f"{100 * anet.average_mAP:11.2f}" in table


def test_cli_wtalc_empty_class_warning_names_the_class(
    real: WtalcAnnotations, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from wtal_blocks.cli.eval import main

    scores = ground_truth_cas(real, np.random.default_rng(10), noise=0.5)
    pole = real.class_names.index("PoleVault")
    for cas in scores:
        cas[:, pole] = -5.0  # a constant column: no proposal for PoleVault anywhere
    path = _scores_file(tmp_path, real, scores)
    assert main([str(DATA), str(path), "--protocol", "wtalc", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["mAP"] == [0.0] * 5
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(
        "wtal-eval: warning: W-TALC protocol: no proposal left for class(es) PoleVault; "
    )
    argv = [str(DATA), str(path), "--protocol", "wtalc", "--json", "--empty-class", "zero_ap"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and json.loads(captured.out)["mAP"][0] > 0


def test_cli_wtalc_errors_are_one_line(
    real: WtalcAnnotations, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wtal_blocks.cli.eval import main

    scores = ground_truth_cas(real, np.random.default_rng(11), noise=0.5)
    scores[3] = scores[3][:, :5]
    path = _scores_file(tmp_path, real, scores)
    assert main([str(DATA), str(path), "--protocol", "wtalc"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(
        f"wtal-eval: error: {path}: video '{real.test_video_names()[3]}'"
    )
    assert "must have 20 columns" in captured.err
    assert main([str(DATA), str(path), "--protocol", "wtalc", "--plots", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "wtal-eval: error: --plots is not available with --protocol wtalc\n"
    )
