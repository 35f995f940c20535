"""Official THUMOS'14 protocol: against the plain-loop reference, documented rules, TURN's published 25.6."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.thumos14_reference import thumos14_map
from wtal_blocks.evaluation import (
    EvaluationInputError,
    _matching,
    load_thumos14_annotations,
    load_thumos14_results,
)
from wtal_blocks.evaluation.thumos14 import average_precision_thumos14, evaluate_thumos14


def _ap(gt: list, dets: list, thresholds: list[float], ambiguous: list | None = None) -> np.ndarray:
    """gt: (video, class, s, e); dets: (video, class, s, e, score); ambiguous: (video, s, e)."""
    ambiguous = ambiguous or []
    return average_precision_thumos14(
        [[s, e] for _, _, s, e in gt],
        [g[1] for g in gt],
        [g[0] for g in gt],
        np.array([[s, e] for _, _, s, e, _ in dets]).reshape(-1, 2),
        [d[4] for d in dets],
        [d[1] for d in dets],
        [d[0] for d in dets],
        thresholds,
        ambiguous_segments=np.array([[s, e] for _, s, e in ambiguous]).reshape(-1, 2),
        ambiguous_videos=[a[0] for a in ambiguous],
    )


def test_overlap_must_be_strictly_above_threshold() -> None:
    ap = _ap([(0, 0, 0.0, 10.0)], [(0, 0, 0.0, 5.0, 1.0)], [0.4, 0.5])  # overlap exactly 0.5
    assert ap.tolist() == [[1.0, 0.0]]


def test_ap_is_not_interpolated() -> None:
    # ranking FP, TP with two ground truths: precision 1/2 at the only TP, AP = 0.5 / 2
    ap = _ap(
        [(0, 0, 0.0, 10.0), (0, 0, 50.0, 60.0)],
        [(0, 0, 20.0, 30.0, 0.9), (0, 0, 0.0, 10.0, 0.5)],
        [0.5],
    )
    assert ap[0, 0] == 0.25


def test_ground_truth_takes_the_best_overlap_not_the_best_score() -> None:
    # the more confident detection overlaps less; the ground truth takes the better-aligned one
    gt = [(0, 0, 0.0, 10.0)]
    dets = [(0, 0, 0.0, 6.0, 0.9), (0, 0, 0.0, 9.0, 0.5)]
    ap = _ap(gt, dets, [0.5])
    assert ap[0, 0] == 0.5  # ranking FP (0.9), TP (0.5): precision 1/2


def test_ambiguous_segments_remove_false_positives_only() -> None:
    gt = [(0, 0, 0.0, 10.0)]
    fp_in_ambiguous = (0, 0, 20.0, 30.0, 0.9)
    tp = (0, 0, 0.0, 10.0, 0.5)
    assert _ap(gt, [fp_in_ambiguous, tp], [0.5])[0, 0] == 0.5
    assert _ap(gt, [fp_in_ambiguous, tp], [0.5], ambiguous=[(0, 25.0, 26.0)])[0, 0] == 1.0
    # touching an ambiguous segment (zero-length intersection) does not remove it
    assert _ap(gt, [fp_in_ambiguous, tp], [0.5], ambiguous=[(0, 30.0, 31.0)])[0, 0] == 0.5
    # ambiguous segments of another video do not count
    assert _ap(gt, [fp_in_ambiguous, tp], [0.5], ambiguous=[(1, 25.0, 26.0)])[0, 0] == 0.5
    # a true positive inside an ambiguous segment stays a true positive
    assert _ap(gt, [tp], [0.5], ambiguous=[(0, 0.0, 10.0)])[0, 0] == 1.0


def test_confidence_ties_keep_video_order_with_tp_and_fp_interleaved() -> None:
    # equal confidences: video 0 (an FP) is listed before video 1 (a TP)
    gt = [(1, 0, 0.0, 10.0)]
    dets = [(1, 0, 0.0, 10.0, 0.5), (0, 0, 0.0, 10.0, 0.5)]
    assert _ap(gt, dets, [0.5])[0, 0] == 0.5
    # with video ranks that put video 1 first, the TP comes first
    ap = average_precision_thumos14(
        [[0.0, 10.0]],
        [0],
        [1],
        [[0.0, 10.0], [0.0, 10.0]],
        [0.5, 0.5],
        [0, 0],
        [1, 0],
        [0.5],
        video_rank=[1, 0],
    )
    assert ap[0, 0] == 1.0


coordinate = st.integers(0, 24).map(lambda v: v / 2)
length = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0])
score = st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9])


@st.composite
def thumos_case(draw: st.DrawFn) -> tuple[list, list, list, list[float]]:
    num_videos = draw(st.integers(1, 4))
    num_classes = draw(st.integers(1, 3))
    gts = [
        (v, c, s, s + ln)
        for v, c, s, ln in draw(
            st.lists(
                st.tuples(
                    st.integers(0, num_videos - 1),
                    st.integers(0, num_classes - 1),
                    coordinate,
                    length,
                ),
                min_size=1,
                max_size=14,
            )
        )
    ]
    dets = [
        (v, c, s, s + ln, sc)
        for v, c, s, ln, sc in draw(
            st.lists(
                st.tuples(
                    st.integers(0, num_videos),
                    st.integers(0, num_classes - 1),
                    coordinate,
                    length,
                    score,
                ),
                max_size=40,
            )
        )
    ]
    if dets and draw(st.booleans()):
        dets = dets + dets[: draw(st.integers(1, len(dets)))]
    amb = [
        (v, s, s + ln)
        for v, s, ln in draw(
            st.lists(st.tuples(st.integers(0, num_videos), coordinate, length), max_size=4)
        )
    ]
    thresholds = draw(
        st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7]), min_size=1, max_size=4, unique=True)
    )
    return gts, dets, amb, thresholds


@given(thumos_case())
def test_matches_plain_loop_reference(case: tuple[list, list, list, list[float]]) -> None:
    gts, dets, amb, thresholds = case
    num_classes = max(g[1] for g in gts) + 1
    ap = _ap(gts, dets, thresholds, amb)
    names = {i: f"video_{i}" for i in range(5)}  # sorted names follow the integer ids
    classes = sorted({str(g[1]) for g in gts})  # the reference needs ground truth per class
    ref_ap, _ = thumos14_map(
        [(names[v], str(c), s, e) for v, c, s, e in gts],
        [(names[v], str(c), s, e, sc) for v, c, s, e, sc in dets],
        [(names[v], s, e) for v, s, e in amb],
        classes,
        thresholds,
    )
    for c in range(num_classes):
        if any(g[1] == c for g in gts):
            np.testing.assert_allclose(ap[c], ref_ap[str(c)], rtol=0, atol=1e-12)
        else:
            assert np.isnan(ap[c]).all()


@given(thumos_case())
def test_matches_plain_loop_reference_in_tiny_chunks(
    case: tuple[list, list, list, list[float]],
) -> None:
    gts, dets, amb, thresholds = case
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_matching, "PAIR_BUDGET", 3)
        mp.setattr(_matching, "_MATCH_BUDGET", 5)
        mp.setattr(_matching, "AGENT_SLICE", 4)
        ap = _ap(gts, dets, thresholds, amb)
    np.testing.assert_array_equal(ap, _ap(gts, dets, thresholds, amb))


def test_many_ground_truths_compete_for_many_detections() -> None:
    # only the k + 1 preferred candidates of the k-th ground truth of a video can be its match:
    # a nested, tie-heavy case where most ground truths lose their first choices
    rng = np.random.default_rng(4)
    gts = [(0, 0, float(k), 40.0 - k) for k in range(15)] + [(1, 0, 0.0, 5.0)] * 3
    dets = [
        (int(rng.integers(0, 2)), 0, float(s), float(s) + float(ln), float(sc))
        for s, ln, sc in zip(
            rng.integers(0, 20, 500), rng.integers(1, 40, 500), rng.integers(0, 5, 500), strict=True
        )
    ]
    thresholds = [0.0, 0.2, 0.5, 0.8]
    names = {0: "video_0", 1: "video_1"}
    ref_ap, _ = thumos14_map(
        [(names[v], "0", s, e) for v, _, s, e in gts],
        [(names[v], "0", s, e, sc) for v, _, s, e, sc in dets],
        [],
        ["0"],
        thresholds,
    )
    np.testing.assert_allclose(_ap(gts, dets, thresholds)[0], ref_ap["0"], rtol=0, atol=1e-12)


def test_unknown_class_id_is_an_error_or_skipped(tmp_path: Path) -> None:
    ann_dir = tmp_path / "ann"
    ann_dir.mkdir()
    (ann_dir / "detclasslist.txt").write_text("7 BaseballPitch\n9 BasketballDunk\n")
    (ann_dir / "BaseballPitch_test.txt").write_text("video_test_1  0.0 10.0\n")
    (ann_dir / "BasketballDunk_test.txt").write_text(
        "video_test_2  5.0 8.0\nvideo_test_2  9.0 12.0\n"
    )
    (ann_dir / "Ambiguous_test.txt").write_text("video_test_1  20.0 30.0\n")
    results = tmp_path / "res.txt"
    results.write_text(
        "video_test_1.mpeg 0 10 7 0.9\nvideo_test_1 25 26 7 0.95\nvideo_test_2 5 8 9 0.5\nvideo_test_2 0 1 3 0.7\n"
    )
    ann = load_thumos14_annotations(ann_dir)
    preds = load_thumos14_results(results)
    assert ann.class_ids == (7, 9) and len(ann.ambiguous_segments) == 1
    assert preds.video_ids == ("video_test_1", "video_test_2")  # .mpeg dropped
    with pytest.raises(EvaluationInputError, match="'3' is not a ground-truth class") as info:
        evaluate_thumos14(ann, preds)
    assert info.value.video == "video_test_2" and info.value.index == 1
    result = evaluate_thumos14(ann, preds, "0.5", ignore_unknown_labels=True)
    assert result.num_skipped == 1
    # BaseballPitch: the 0.95 detection lies in the ambiguous segment and is dropped -> AP 1
    # BasketballDunk: one of two instances found -> AP 0.5
    assert result.ap[:, 0].tolist() == [1.0, 0.5]
    assert result.mAP.tolist() == [0.75]


def test_turn_scnn_reproduces_published_map_at_05(
    real_data: Path, thumos14_annotation_dir: Path
) -> None:
    ann = load_thumos14_annotations(thumos14_annotation_dir)
    preds = load_thumos14_results(real_data / "turn_flow_scnn_thumos14_test.txt.gz")
    assert len(ann.class_names) == 20 and len(preds) == 16565
    result = evaluate_thumos14(ann, preds, "0.1:0.5:0.1")
    assert abs(100 * result.mAP[4] - 25.6) <= 0.05
    # class names (ActivityNet JSON style) are accepted in place of UCF101 ids
    by_id = dict(zip(map(str, ann.class_ids), ann.class_names, strict=True))
    named = dataclasses.replace(preds, label_names=tuple(by_id[x] for x in preds.label_names))
    assert evaluate_thumos14(ann, named, "0.1:0.5:0.1").ap.tolist() == result.ap.tolist()


def test_turn_scnn_matches_reference_at_every_threshold(
    real_data: Path, thumos14_annotation_dir: Path
) -> None:
    ann = load_thumos14_annotations(thumos14_annotation_dir)
    preds = load_thumos14_results(real_data / "turn_flow_scnn_thumos14_test.txt.gz")
    by_id = dict(zip(map(str, ann.class_ids), ann.class_names, strict=True))
    thresholds = [0.1, 0.3, 0.5, 0.7]
    ref_ap, ref_map = thumos14_map(
        [
            (ann.video_ids[v], ann.class_names[c], s, e)
            for (s, e), c, v in zip(
                ann.segments.tolist(), ann.labels.tolist(), ann.videos.tolist(), strict=True
            )
        ],
        [
            (preds.video_ids[v], by_id[preds.label_names[c]], s, e, sc)
            for (s, e), c, v, sc in zip(
                preds.segments.tolist(),
                preds.labels.tolist(),
                preds.videos.tolist(),
                preds.scores.tolist(),
                strict=True,
            )
        ],
        [
            (ann.video_ids[v], s, e)
            for (s, e), v in zip(
                ann.ambiguous_segments.tolist(), ann.ambiguous_videos.tolist(), strict=True
            )
        ],
        list(ann.class_names),
        thresholds,
    )
    result = evaluate_thumos14(ann, preds, thresholds)
    np.testing.assert_allclose(result.mAP, ref_map, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        result.ap, [ref_ap[c] for c in result.class_names], rtol=0, atol=1e-12
    )
