"""Evaluation of temporal action localization (numpy only; never imports torch).

* :mod:`.detection`: the ActivityNet detection protocol (:func:`evaluate_detection`,
  :func:`average_precision_detection`); :mod:`.metric`: the same as a metric object
  (:class:`DetectionMAP`: ``update`` / ``compute`` / ``reset``).
* :mod:`.thumos14`: the official THUMOS'14 protocol (per-class files + ``Ambiguous``).
* :mod:`.result`: :class:`DetectionResult`, what every protocol returns.
* :mod:`.curves`: precision–recall curves from the protocols' own matching.
* :mod:`.classification`: video-level classification mAP and the UM accuracy.
* :mod:`.io`: ActivityNet JSON and THUMOS'14 text readers/writers.
* :mod:`.tiou`: the segment tIoU and the threshold lists.
"""

from __future__ import annotations

from .annotations import GroundTruth, Predictions, Thumos14Annotations
from .classification import (
    ClassificationMetrics,
    classification_average_precision,
    classification_map,
    video_label_accuracy,
)
from .curves import PrecisionRecall, precision_recall, precision_recall_thumos14
from .detection import (
    ACTIVITYNET_TIOU_THRESHOLDS,
    THUMOS14_TIOU_THRESHOLDS,
    average_precision_detection,
    evaluate_detection,
)
from .errors import EvaluationInputError
from .io import (
    load_activitynet_ground_truth,
    load_activitynet_results,
    load_thumos14_annotations,
    load_thumos14_class_list,
    load_thumos14_results,
    write_activitynet_ground_truth,
    write_activitynet_results,
)
from .metric import DetectionMAP
from .result import DetectionResult
from .thumos14 import (
    THUMOS14_OFFICIAL_TIOU_THRESHOLDS,
    average_precision_thumos14,
    evaluate_thumos14,
)
from .tiou import parse_tiou_thresholds, segment_tiou

__all__ = [
    "ACTIVITYNET_TIOU_THRESHOLDS",
    "THUMOS14_OFFICIAL_TIOU_THRESHOLDS",
    "THUMOS14_TIOU_THRESHOLDS",
    "ClassificationMetrics",
    "DetectionMAP",
    "DetectionResult",
    "EvaluationInputError",
    "GroundTruth",
    "PrecisionRecall",
    "Predictions",
    "Thumos14Annotations",
    "average_precision_detection",
    "average_precision_thumos14",
    "classification_average_precision",
    "classification_map",
    "evaluate_detection",
    "evaluate_thumos14",
    "load_activitynet_ground_truth",
    "load_activitynet_results",
    "load_thumos14_annotations",
    "load_thumos14_class_list",
    "load_thumos14_results",
    "parse_tiou_thresholds",
    "precision_recall",
    "precision_recall_thumos14",
    "segment_tiou",
    "video_label_accuracy",
    "write_activitynet_ground_truth",
    "write_activitynet_results",
]
