"""Evaluation of temporal action localization (numpy only; never imports torch).

* :mod:`.detection`: the ActivityNet detection protocol (:class:`DetectionMAP`,
  :func:`evaluate_detection`, :func:`average_precision_detection`).
* :mod:`.thumos14`: the official THUMOS'14 protocol (per-class files + ``Ambiguous``).
* :mod:`.classification`: video-level classification mAP and the UM accuracy.
* :mod:`.io`: ActivityNet JSON and THUMOS'14 text readers/writers.
* :mod:`.cli`: the ``wtal-eval`` command.
"""

from __future__ import annotations

from .annotations import GroundTruth, Predictions, Thumos14Annotations
from .classification import (
    ClassificationMetrics,
    classification_average_precision,
    classification_map,
    um_classification_accuracy,
)
from .detection import (
    ACTIVITYNET_TIOU_THRESHOLDS,
    THUMOS14_TIOU_THRESHOLDS,
    DetectionMAP,
    DetectionResult,
    average_precision_detection,
    evaluate_detection,
)
from .errors import EvaluationInputError
from .io import (
    load_activitynet_ground_truth,
    load_activitynet_results,
    load_thumos14_annotations,
    read_thumos14_class_list,
    read_thumos14_results,
    write_activitynet_ground_truth,
    write_activitynet_results,
)
from .thumos14 import (
    THUMOS14_OFFICIAL_TIOU_THRESHOLDS,
    average_precision_thumos14,
    evaluate_thumos14,
)
from .tiou import parse_tiou_thresholds, segment_tiou
from .wtalc import (
    WTALC_TIOU_THRESHOLDS,
    WtalcAnnotations,
    WtalcEmptyClassWarning,
    WtalcResult,
    evaluate_wtalc,
    load_wtalc_annotations,
    load_wtalc_scores,
    wtalc_ground_truth,
    wtalc_proposals,
)

__all__ = [
    "ACTIVITYNET_TIOU_THRESHOLDS",
    "THUMOS14_OFFICIAL_TIOU_THRESHOLDS",
    "THUMOS14_TIOU_THRESHOLDS",
    "WTALC_TIOU_THRESHOLDS",
    "ClassificationMetrics",
    "DetectionMAP",
    "DetectionResult",
    "EvaluationInputError",
    "GroundTruth",
    "Predictions",
    "Thumos14Annotations",
    "WtalcAnnotations",
    "WtalcEmptyClassWarning",
    "WtalcResult",
    "average_precision_detection",
    "average_precision_thumos14",
    "classification_average_precision",
    "classification_map",
    "evaluate_detection",
    "evaluate_thumos14",
    "evaluate_wtalc",
    "load_activitynet_ground_truth",
    "load_activitynet_results",
    "load_thumos14_annotations",
    "load_wtalc_annotations",
    "load_wtalc_scores",
    "parse_tiou_thresholds",
    "read_thumos14_class_list",
    "read_thumos14_results",
    "segment_tiou",
    "um_classification_accuracy",
    "write_activitynet_ground_truth",
    "write_activitynet_results",
    "wtalc_ground_truth",
    "wtalc_proposals",
]
