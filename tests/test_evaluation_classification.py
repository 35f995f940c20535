"""Video-level classification mAP and the UM accuracy, against plain-loop references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.classification_reference import class_ap, um_accuracy
from wtal_blocks.evaluation import EvaluationInputError
from wtal_blocks.evaluation.classification import (
    ClassificationMetrics,
    classification_average_precision,
    classification_map,
    video_label_accuracy,
)


@st.composite
def scores_labels(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    num_videos = draw(st.integers(1, 12))
    num_classes = draw(st.integers(1, 4))
    values = st.sampled_from([0.0, 0.1, 0.2, 0.5, 0.9, 1.0])  # ties and the 0.2 boundary
    scores = np.array(
        draw(st.lists(values, min_size=num_videos * num_classes, max_size=num_videos * num_classes))
    )
    labels = np.array(
        draw(
            st.lists(
                st.booleans(), min_size=num_videos * num_classes, max_size=num_videos * num_classes
            )
        )
    )
    return scores.reshape(num_videos, num_classes), labels.reshape(num_videos, num_classes)


@given(scores_labels())
def test_classification_ap_matches_reference(case: tuple[np.ndarray, np.ndarray]) -> None:
    scores, labels = case
    ap = classification_average_precision(scores, labels)
    for c in range(scores.shape[1]):
        ref = class_ap(scores[:, c].tolist(), labels[:, c].tolist())
        if ref is None:
            assert np.isnan(ap[c])
        else:
            assert ap[c] == pytest.approx(ref, abs=1e-12)


@given(scores_labels(), st.integers(0, 2**32 - 1))
def test_classification_ap_ignores_video_order(
    case: tuple[np.ndarray, np.ndarray], seed: int
) -> None:
    scores, labels = case
    perm = np.random.default_rng(seed).permutation(scores.shape[0])
    np.testing.assert_allclose(
        classification_average_precision(scores[perm], labels[perm]),
        classification_average_precision(scores, labels),
        atol=1e-12,
    )


@given(scores_labels())
def test_um_accuracy_matches_reference(case: tuple[np.ndarray, np.ndarray]) -> None:
    scores, labels = case
    assert video_label_accuracy(scores, labels) == um_accuracy(
        scores.tolist(), labels.astype(int).tolist()
    )


def test_um_accuracy_threshold_is_inclusive_and_all_classes_must_agree() -> None:
    scores = np.array([[0.2, 0.1], [0.19, 0.0], [0.9, 0.3]])
    labels = np.array([[1, 0], [1, 0], [1, 0]])
    # video 0: 0.2 >= 0.2 -> right; video 1: misses its class; video 2: extra class 1
    assert video_label_accuracy(scores, labels) == pytest.approx(1 / 3)


def test_known_values_and_map() -> None:
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.1, 0.2]])
    labels = np.array([[1, 0], [0, 0], [1, 0]])
    ap = classification_average_precision(scores, labels)
    assert ap[0] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert np.isnan(ap[1])  # no positive video
    assert classification_map(scores, labels) == pytest.approx(ap[0])


def test_metric_object_accumulates_batches() -> None:
    rng = np.random.default_rng(3)
    scores = rng.random((20, 5))
    labels = rng.random((20, 5)) < 0.3
    labels[0] = True
    metric = ClassificationMetrics()
    metric.update(scores[:7], labels[:7])
    metric.update(scores[7:], labels[7:].astype(int))
    out = metric.compute()
    assert out["mAP"] == pytest.approx(classification_map(scores, labels))
    assert out["accuracy"] == video_label_accuracy(scores, labels)
    metric.reset()
    with pytest.raises(EvaluationInputError):
        metric.compute()


def test_accepts_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    scores = torch.tensor([[0.9, 0.1], [0.1, 0.8]], requires_grad=True)
    labels = torch.tensor([[1, 0], [0, 1]])
    assert classification_map(scores, labels) == 1.0
    assert video_label_accuracy(scores, labels) == 1.0


@pytest.mark.parametrize(
    ("scores", "labels", "match"),
    [
        ([[0.1, 0.2]], [[1, 0, 0]], "shape"),
        ([0.1, 0.2], [1, 0], r"\(V, C\)"),
        ([[float("nan"), 0.2]], [[1, 0]], "not finite"),
        ([[0.1, 0.2]], [[2, 0]], "multi-hot"),
    ],
)
def test_bad_input_is_a_clear_error(scores: list, labels: list, match: str) -> None:
    with pytest.raises(EvaluationInputError, match=match):
        classification_average_precision(scores, labels)
