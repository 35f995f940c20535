"""Evaluation of temporal action localization (numpy only; never imports torch).

* :mod:`.detection`: the ActivityNet detection protocol (:class:`DetectionMAP`,
  :func:`evaluate_detection`, :func:`average_precision_detection`).
* :mod:`.thumos14`: the official THUMOS'14 protocol (per-class files + ``Ambiguous``).
* :mod:`.classification`: video-level classification mAP and the UM accuracy.
* :mod:`.proposal_metrics`: ActivityNet AR@AN (and its AUC), top-k× recall.
* :mod:`.segment_ops`: strict tIoU, IoP, ground-truth deduplication (ActionFormer/OpenTAD).
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
from .proposal_metrics import (
    PROPOSAL_TIOU_THRESHOLDS,
    AverageRecallCurve,
    TopKxRecallResult,
    average_recall_vs_avg_nr_proposals,
    evaluate_proposals,
    evaluate_topkx_recall,
    topkx_recall,
)
from .segment_ops import (
    DeduplicationReport,
    deduplicate_ground_truth,
    find_duplicate_instances,
    segment_iop,
)
from .thumos14 import (
    THUMOS14_OFFICIAL_TIOU_THRESHOLDS,
    average_precision_thumos14,
    evaluate_thumos14,
)
from .tiou import parse_tiou_thresholds, segment_tiou

__all__ = [
    "ACTIVITYNET_TIOU_THRESHOLDS",
    "PROPOSAL_TIOU_THRESHOLDS",
    "THUMOS14_OFFICIAL_TIOU_THRESHOLDS",
    "THUMOS14_TIOU_THRESHOLDS",
    "AverageRecallCurve",
    "ClassificationMetrics",
    "DeduplicationReport",
    "DetectionMAP",
    "DetectionResult",
    "EvaluationInputError",
    "GroundTruth",
    "Predictions",
    "Thumos14Annotations",
    "TopKxRecallResult",
    "average_precision_detection",
    "average_precision_thumos14",
    "average_recall_vs_avg_nr_proposals",
    "classification_average_precision",
    "classification_map",
    "deduplicate_ground_truth",
    "evaluate_detection",
    "evaluate_proposals",
    "evaluate_thumos14",
    "evaluate_topkx_recall",
    "find_duplicate_instances",
    "load_activitynet_ground_truth",
    "load_activitynet_results",
    "load_thumos14_annotations",
    "parse_tiou_thresholds",
    "read_thumos14_class_list",
    "read_thumos14_results",
    "segment_iop",
    "segment_tiou",
    "topkx_recall",
    "um_classification_accuracy",
    "write_activitynet_ground_truth",
    "write_activitynet_results",
]
