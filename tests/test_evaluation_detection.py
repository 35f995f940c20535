"""ActivityNet-protocol detection mAP: against the plain-loop reference, documented rules, real files."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.detection_reference import detection_map
from tests.reference.detection_reference import tiou as reference_tiou
from wtal_blocks.evaluation import (
    DetectionMAP,
    EvaluationInputError,
    _matching,
    average_precision_detection,
    evaluate_detection,
    load_activitynet_ground_truth,
    load_activitynet_results,
    parse_tiou_thresholds,
    segment_tiou,
)

# ----------------------------------------------------------------------------- thresholds


def test_tiou_ranges_are_exact_decimals() -> None:
    assert parse_tiou_thresholds("0.1:0.7:0.1").tolist() == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    anet = parse_tiou_thresholds("0.5:0.95:0.05").tolist()
    assert anet == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    # a float loop would give 0.30000000000000004 here
    assert 0.1 + 0.1 + 0.1 != 0.3 and parse_tiou_thresholds("0.1:0.3:0.1")[-1] == 0.3
    assert parse_tiou_thresholds("0.3,0.5").tolist() == [0.3, 0.5]
    assert parse_tiou_thresholds("0.5").tolist() == [0.5]
    assert parse_tiou_thresholds("0.1:0.75:0.1").tolist()[-1] == 0.7  # HI off the grid


@pytest.mark.parametrize(
    "spec", ["0.1:0.7", "0.7:0.1:0.1", "0.1:0.7:0", "a:0.7:0.1", "1.5", "", "0.3,0.3"]
)
def test_bad_tiou_spec_is_a_clear_error(spec: str) -> None:
    with pytest.raises(EvaluationInputError, match="tIoU"):
        parse_tiou_thresholds(spec)


def test_zero_threshold_is_refused_by_the_activitynet_protocol() -> None:
    with pytest.raises(EvaluationInputError, match="> 0"):
        average_precision_detection([[0, 1]], [0], [0], [[0, 1]], [1.0], [0], [0], [0.0, 0.5])


def test_segment_tiou_formula_and_zero_union() -> None:
    a = np.array([[0.0, 10.0], [5.0, 5.0], [2.0, 4.0]])
    b = np.array([[5.0, 15.0], [5.0, 5.0]])
    got = segment_tiou(a, b)
    for i in range(3):
        for j in range(2):
            assert got[i, j] == reference_tiou(tuple(a[i]), tuple(b[j]))
    assert got[0, 0] == 5.0 / 15.0
    assert got[1, 1] == 0.0  # two zero-length segments: union 0, defined as 0 (not NaN)


def test_two_zero_length_segments_never_match() -> None:
    ap = average_precision_detection([[5.0, 5.0]], [0], [0], [[5.0, 5.0]], [0.9], [0], [0], [0.1])
    assert ap.tolist() == [[0.0]]


# ----------------------------------------------------------------------------- documented rules


def test_score_ties_keep_input_order() -> None:
    gt = ([[0.0, 10.0]], [0], [0])
    hit, miss = [0.0, 10.0], [20.0, 30.0]
    first_hit = average_precision_detection(*gt, [hit, miss], [0.5, 0.5], [0, 0], [0, 0], [0.5])
    first_miss = average_precision_detection(*gt, [miss, hit], [0.5, 0.5], [0, 0], [0, 0], [0.5])
    assert first_hit[0, 0] == 1.0  # precision 1 at the only recall step
    assert first_miss[0, 0] == 0.5


def test_equal_tiou_ground_truths_are_tried_in_input_order() -> None:
    # the first prediction overlaps both ground truths with tIoU 0.25; the second only the first
    gt_a, gt_b = [0.0, 4.0], [6.0, 10.0]
    preds = ([[2.0, 8.0], [0.0, 4.0]], [0.9, 0.8], [0, 0], [0, 0])
    a_first = average_precision_detection([gt_a, gt_b], [0, 0], [0, 0], *preds, [0.2])
    b_first = average_precision_detection([gt_b, gt_a], [0, 0], [0, 0], *preds, [0.2])
    assert a_first[0, 0] == 0.5  # took gt_a, the second prediction finds it locked
    assert b_first[0, 0] == 1.0


def test_threshold_is_inclusive() -> None:
    # tIoU exactly 0.5
    ap = average_precision_detection(
        [[0.0, 10.0]], [0], [0], [[0.0, 5.0]], [1.0], [0], [0], [0.5, 0.6]
    )
    assert ap.tolist() == [[1.0, 0.0]]


def test_no_predictions_gives_zero_not_nan() -> None:
    ap = average_precision_detection(
        [[0.0, 1.0], [2.0, 3.0]], [0, 1], [0, 0], np.zeros((0, 2)), [], [], [], [0.5]
    )
    assert ap.tolist() == [[0.0], [0.0]]
    metric = DetectionMAP(tiou_thresholds="0.5")
    metric.add_ground_truth("v", [[0.0, 1.0]], ["a"])
    result = metric.compute()
    assert result.mAP.tolist() == [0.0] and result.average_mAP == 0.0


def test_class_without_ground_truth_is_nan_row_and_not_averaged() -> None:
    ap = average_precision_detection(
        [[0.0, 1.0]], [0], [0], [[0.0, 1.0], [0.0, 1.0]], [1, 1], [0, 1], [0, 0], [0.5]
    )
    assert ap[0, 0] == 1.0 and np.isnan(ap[1, 0])


# ----------------------------------------------------------------------------- reference comparison

coordinate = st.integers(0, 24).map(lambda v: v / 2)  # half-seconds: exact ties in tIoU are common
length = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0])
score = st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9, 1.0])


@st.composite
def detection_case(draw: st.DrawFn) -> tuple[list, list, list[float]]:
    num_videos = draw(st.integers(1, 4))
    num_classes = draw(st.integers(1, 3))
    gts = draw(
        st.lists(
            st.tuples(
                st.integers(0, num_videos - 1), st.integers(0, num_classes - 1), coordinate, length
            ),
            min_size=1,
            max_size=14,
        )
    )
    # video num_videos has no ground truth; label num_classes has no ground truth
    preds = draw(
        st.lists(
            st.tuples(
                st.integers(0, num_videos), st.integers(0, num_classes), coordinate, length, score
            ),
            max_size=40,
        )
    )
    if preds and draw(st.booleans()):  # exact duplicates
        preds = preds + preds[: draw(st.integers(1, len(preds)))]
    thresholds = draw(
        st.lists(
            st.sampled_from([0.1, 0.25, 0.3, 0.5, 0.7, 1.0]), min_size=1, max_size=4, unique=True
        )
    )
    return gts, preds, thresholds


def _run_both(
    gts: list, preds: list, thresholds: list[float]
) -> tuple[np.ndarray, dict, list[float]]:
    num_classes = max([g[1] for g in gts] + [p[1] for p in preds]) + 1
    ap = average_precision_detection(
        [[s, s + ln] for _, _, s, ln in gts],
        [g[1] for g in gts],
        [g[0] for g in gts],
        np.array([[s, s + ln] for _, _, s, ln, _ in preds]).reshape(-1, 2),
        [p[4] for p in preds],
        [p[1] for p in preds],
        [p[0] for p in preds],
        thresholds,
        num_classes=num_classes,
    )
    ref_ap, ref_map = detection_map(
        [(str(v), str(c), s, s + ln) for v, c, s, ln in gts],
        [(str(v), str(c), s, s + ln, sc) for v, c, s, ln, sc in preds],
        thresholds,
    )
    return ap, ref_ap, ref_map


@given(detection_case())
def test_matches_plain_loop_reference(case: tuple[list, list, list[float]]) -> None:
    gts, preds, thresholds = case
    ap, ref_ap, ref_map = _run_both(gts, preds, thresholds)
    for c in range(ap.shape[0]):
        if str(c) in ref_ap:
            np.testing.assert_allclose(ap[c], ref_ap[str(c)], rtol=0, atol=1e-12)
        else:
            assert np.isnan(ap[c]).all()
    classes_with_gt = sorted({g[1] for g in gts})
    np.testing.assert_allclose(np.mean(ap[classes_with_gt], axis=0), ref_map, rtol=0, atol=1e-12)


def test_many_predictions_per_ground_truth_match_reference() -> None:
    # long conflict chains: many overlapping predictions compete for a few ground truths
    rng = np.random.default_rng(7)
    gts = [
        (int(rng.integers(0, 2)), 0, float(rng.integers(0, 60)), float(rng.integers(1, 12)))
        for _ in range(25)
    ]
    preds = [
        (
            int(rng.integers(0, 3)),
            0,
            float(rng.integers(0, 60)),
            float(rng.integers(0, 15)),
            float(rng.integers(0, 20)),
        )
        for _ in range(600)
    ]
    thresholds = [0.1, 0.3, 0.5, 0.7, 0.9]
    ap, ref_ap, _ = _run_both(gts, preds, thresholds)
    np.testing.assert_allclose(ap[0], ref_ap["0"], rtol=0, atol=1e-12)
    assert 0 < ap[0, 0] < 1


# ----------------------------------------------------------------------------- bounded chunks


@contextmanager
def tiny_chunks() -> Iterator[None]:
    """Force every chunking path: a few pairs, agents and threshold-pair cells at a time."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_matching, "PAIR_BUDGET", 3)
        mp.setattr(_matching, "_MATCH_BUDGET", 5)
        mp.setattr(_matching, "AGENT_SLICE", 4)
        yield


@given(detection_case())
def test_matches_plain_loop_reference_in_tiny_chunks(case: tuple[list, list, list[float]]) -> None:
    gts, preds, thresholds = case
    with tiny_chunks():
        ap, ref_ap, _ = _run_both(gts, preds, thresholds)
    for c in range(ap.shape[0]):
        if str(c) in ref_ap:
            np.testing.assert_allclose(ap[c], ref_ap[str(c)], rtol=0, atol=1e-12)


def test_identical_predictions_compete_for_every_ground_truth() -> None:
    # the serial dictatorship's worst case for step-by-step matching: 400 identical predictions
    # overlap 12 nested ground truths; each takes the best one still free
    gts = [(0, 0, float(k), 30.0 - 2 * k) for k in range(12)]
    preds = [(0, 0, 0.0, 30.0, float(s)) for s in np.random.default_rng(5).integers(0, 7, 400)]
    preds += [(0, 0, 3.0, 20.0, 3.0)] * 50  # and a second cluster, tied scores included
    thresholds = [0.05, 0.2, 0.4, 0.6]
    for chunks in (nullcontext(), tiny_chunks()):
        with chunks:
            ap, ref_ap, _ = _run_both(gts, preds, thresholds)
        np.testing.assert_allclose(ap[0], ref_ap["0"], rtol=0, atol=1e-12)
    assert ap[0, 0] == 1.0 and 0 < ap[0, 3] < 1  # at 0.6 ten of the twelve can be matched


def test_processing_order_is_class_then_descending_score_stable() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 7, 5000)
    scores = np.round(rng.random(5000), 2)  # many ties
    scores[::50] = -0.0
    scores[1::50] = 0.0
    order, start = _matching.processing_order(labels, scores, 9)
    np.testing.assert_array_equal(order, np.lexsort((-scores, labels)))
    np.testing.assert_array_equal(start, np.searchsorted(np.sort(labels), np.arange(10)))


def test_memory_of_the_matching_does_not_grow_with_the_overlaps() -> None:
    # 3,000 predictions overlapping 150 instances each: 450k pairs, handled 1M pairs at a time
    # by default; with a 5k-pair budget no chunk exceeds it
    gt_seg = np.stack([np.arange(150.0), np.arange(150.0) + 0.9], axis=1)
    preds_seg = np.tile([0.0, 200.0], (3000, 1))
    sizes = []
    index = _matching.ItemIndex.build(np.zeros(150, dtype=np.int64), gt_seg, (0.0, 200.0))
    for agent, _ in _matching.iter_candidate_pairs(
        index, np.zeros(3000, dtype=np.int64), preds_seg, budget=5000
    ):
        sizes.append(agent.shape[0])
    assert sum(sizes) == 3000 * 150 and max(sizes) <= 5000
    # with a threshold, an instance shorter than that fraction of the prediction is never formed
    pruned = list(
        _matching.iter_candidate_pairs(
            index, np.zeros(3000, dtype=np.int64), preds_seg, fraction=0.01
        )
    )
    assert pruned == []


# ----------------------------------------------------------------------------- metric object


def _toy_metric(**kwargs: object) -> DetectionMAP:
    metric = DetectionMAP(["jump", "run"], tiou_thresholds="0.3,0.5", **kwargs)  # type: ignore[arg-type]
    metric.add_ground_truth("v1", [[0.0, 10.0], [20.0, 30.0]], ["jump", "run"])
    metric.add_ground_truth("v2", [[5.0, 9.0]], ["jump"])
    metric.add_ground_truth("v3", np.zeros((0, 2)), [])  # a video without instances
    return metric


PREDS = {
    "v1": ([[0.0, 8.0], [21.0, 29.0], [40.0, 50.0]], [0.9, 0.8, 0.7], ["jump", "run", "run"]),
    "v2": ([[5.0, 7.0], [0.0, 1.0]], [0.6, 0.95], ["jump", "jump"]),
    "v4": ([[0.0, 1.0]], [0.99], ["run"]),  # a video without ground truth
}


def test_metric_object_equals_functional_core() -> None:
    metric = _toy_metric()
    for vid, (seg, sc, lab) in PREDS.items():
        metric.update(vid, seg, sc, lab)
    result = metric.compute()
    gts = [("v1", "jump", 0.0, 10.0), ("v1", "run", 20.0, 30.0), ("v2", "jump", 5.0, 9.0)]
    preds = [
        (v, lab, s, e, sc)
        for v, (seg, scs, labs) in PREDS.items()
        for (s, e), sc, lab in zip(seg, scs, labs, strict=True)
    ]
    ref_ap, ref_map = detection_map(gts, preds, [0.3, 0.5])
    assert result.class_names == ("jump", "run")
    np.testing.assert_allclose(result.ap, [ref_ap["jump"], ref_ap["run"]], atol=1e-12)
    np.testing.assert_allclose(result.mAP, ref_map, atol=1e-12)
    assert result.average_mAP == pytest.approx(float(np.mean(ref_map)))
    assert result.num_predictions == 6 and result.num_ground_truth == 3

    # one batched update with integer labels and torch tensors gives the same numbers
    torch = pytest.importorskip("torch")
    batched = _toy_metric()
    vids = [v for v, (seg, _, _) in PREDS.items() for _ in seg]
    seg = torch.tensor([s for v in PREDS.values() for s in v[0]], dtype=torch.float32)
    sc = torch.tensor([s for v in PREDS.values() for s in v[1]], dtype=torch.float64)
    lab = torch.tensor([["jump", "run"].index(x) for v in PREDS.values() for x in v[2]])
    batched.update(vids, seg.requires_grad_(), sc, lab)
    np.testing.assert_allclose(batched.compute().ap, result.ap, atol=1e-7)  # float32 segments


def test_reset_forgets_predictions_but_keeps_ground_truth() -> None:
    metric = _toy_metric()
    metric.update("v1", [[0.0, 10.0]], [1.0], ["jump"])
    assert metric.compute().ap[0, 0] == 0.5  # one of two "jump" instances
    metric.reset()
    assert metric.compute().ap[0, 0] == 0.0
    metric.reset(ground_truth=True)
    with pytest.raises(EvaluationInputError, match="no ground truth"):
        metric.compute()


def test_unknown_label_is_an_error_or_skipped() -> None:
    metric = _toy_metric()
    metric.update("v1", [[0.0, 10.0], [1.0, 2.0]], [1.0, 0.5], ["jump", "swim"])
    with pytest.raises(EvaluationInputError) as info:
        metric.compute()
    assert "'swim'" in str(info.value) and info.value.video == "v1" and info.value.index == 1
    assert info.value.field == "label"
    skipping = _toy_metric(ignore_unknown_labels=True)
    skipping.update("v1", [[0.0, 10.0], [1.0, 2.0]], [1.0, 0.5], ["jump", "swim"])
    result = skipping.compute()
    assert result.num_skipped == 1 and result.ap[0, 0] == 0.5


@pytest.mark.parametrize(
    ("segments", "scores", "match"),
    [
        ([[3.0, 1.0]], [0.5], "end < start"),
        ([[float("nan"), 1.0]], [0.5], "not finite"),
        ([[0.0, float("inf")]], [0.5], "not finite"),
        ([[0.0, 1.0]], [float("nan")], "not finite"),
        ([[0.0, 1.0, 2.0]], [0.5], r"shape \(N, 2\)"),
        ([[0.0, 1.0]], [0.5, 0.6], "shape"),
    ],
)
def test_bad_update_is_a_clear_error(segments: list, scores: list, match: str) -> None:
    with pytest.raises(EvaluationInputError, match=match):
        _toy_metric().update("v1", segments, scores, ["jump"] * len(scores))


def test_integer_labels_need_class_names() -> None:
    metric = DetectionMAP()
    with pytest.raises(EvaluationInputError, match="class_names"):
        metric.add_ground_truth("v", [[0.0, 1.0]], [0])


def test_to_dict_schema() -> None:
    metric = _toy_metric()
    metric.update("v1", [[0.0, 10.0]], [1.0], ["jump"])
    d = metric.compute().to_dict()
    assert list(d) == ["tiou_thresholds", "mAP", "average_mAP", "ap"]
    assert d["tiou_thresholds"] == [0.3, 0.5]
    assert set(d["ap"]) == {"jump", "run"} and len(d["ap"]["jump"]) == 2


# ----------------------------------------------------------------------------- real files

ANET12_PUBLISHED = [
    0.273302,
    0.249358,
    0.225090,
    0.199033,
    0.174703,
    0.151448,
    0.129738,
    0.100223,
    0.068292,
    0.032721,
]
AUTOLOC_THUMOS = [0.4704, 0.4213, 0.3609, 0.2927, 0.2147, 0.1317, 0.0577, 0.0164, 0.0021]


def test_autoloc_activitynet12_reproduces_published_table(real_data: Path) -> None:
    gt = load_activitynet_ground_truth(real_data / "anet12_val_gt.json.gz")
    preds = load_activitynet_results(real_data / "autoloc_anet12_val.json.gz")
    result = evaluate_detection(gt, preds, "0.5:0.95:0.05")
    assert gt.subset == "validation" and len(gt) == 3457 and len(preds) == 13295
    np.testing.assert_allclose(result.mAP, ANET12_PUBLISHED, rtol=0, atol=1e-6)
    assert result.average_mAP == pytest.approx(0.160391, abs=1e-6)


def test_autoloc_thumos14_reproduces_readme_figures(real_data: Path) -> None:
    gt = load_activitynet_ground_truth(real_data / "thumos14_gt.json.gz", subset="test")
    preds = load_activitynet_results(real_data / "autoloc_thumos14_test.json.gz")
    result = evaluate_detection(gt, preds, "0.1:0.9:0.1")
    assert len(gt) == 3311 and len(preds) == 20763
    np.testing.assert_allclose(result.mAP, AUTOLOC_THUMOS, rtol=0, atol=5e-5)


def test_metric_object_on_real_files_equals_functional_core(real_data: Path) -> None:
    gt = load_activitynet_ground_truth(real_data / "thumos14_gt.json.gz")
    preds = load_activitynet_results(real_data / "autoloc_thumos14_test.json.gz")
    metric = DetectionMAP.from_ground_truth(gt, "0.1:0.7:0.1")
    for v, name in enumerate(preds.video_ids):  # per-video updates, as in a test loop
        m = preds.videos == v
        metric.update(
            name,
            preds.segments[m],
            preds.scores[m],
            [preds.label_names[i] for i in preds.labels[m]],
        )
    expected = evaluate_detection(gt, preds, "0.1:0.7:0.1")
    assert metric.compute().ap.tolist() == expected.ap.tolist()


@pytest.mark.parametrize("offset", [-50.0, 1e6, 1.7e9])
def test_large_or_negative_coordinates_match_reference(offset: float) -> None:
    # the candidate search uses a float key (group * width + start); far from 0 it must stay exact
    rng = np.random.default_rng(11)
    gts = [
        (
            int(rng.integers(0, 3)),
            int(rng.integers(0, 2)),
            offset + float(rng.integers(0, 80)),
            float(rng.integers(0, 9)),
        )
        for _ in range(30)
    ]
    preds = [
        (
            int(rng.integers(0, 4)),
            int(rng.integers(0, 2)),
            offset + float(rng.integers(0, 80)),
            float(rng.integers(0, 12)),
            float(rng.integers(0, 9)),
        )
        for _ in range(300)
    ]
    thresholds = [0.1, 0.5, 0.9]
    ap, ref_ap, _ = _run_both(gts, preds, thresholds)
    for c in (0, 1):
        np.testing.assert_allclose(ap[c], ref_ap[str(c)], rtol=0, atol=1e-12)
