"""Evaluation of temporal action localization (numpy only; never imports torch).

* :mod:`.detection`: the ActivityNet detection protocol (:func:`evaluate_detection`,
  :func:`average_precision_detection`); :mod:`.metric`: the same as a metric object
  (:class:`DetectionMAP`: ``update`` / ``compute`` / ``reset``).
* :mod:`.thumos14`: the official THUMOS'14 protocol (per-class files + ``Ambiguous``).
* :mod:`.result`: :class:`DetectionResult`, what every protocol returns.
* :mod:`.curves`: precision–recall curves from the protocols' own matching.
* :mod:`.classification`: video-level classification mAP and the UM accuracy.
* :mod:`.results_io`: streaming results readers (ActivityNet JSON, JSON Lines, text lines:
  :func:`iter_predictions`, :func:`load_predictions`); :mod:`.io`: the ActivityNet JSON ground
  truth and the writers; :mod:`.thumos14_io`: the THUMOS'14 annotation files.
* :mod:`.tiou`: the segment tIoU and the threshold lists.
* :mod:`.proposal_metrics`: ActivityNet AR@AN (and its AUC); :mod:`.topkx_recall`: top-k×
  recall.
* :mod:`.wtalc`: W-TALC's ``detectionMAP`` protocol on dense per-segment scores.
* :mod:`.segment_ops`: intersection over the candidate's length (IoP), ground-truth
  deduplication (ActionFormer/OpenTAD).
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
from .errors import EvaluationInputError, UnmatchedVideosWarning
from .io import (
    load_activitynet_ground_truth,
    load_activitynet_results,
    write_activitynet_ground_truth,
    write_activitynet_results,
)
from .metric import DetectionMAP
from .proposal_metrics import (
    PROPOSAL_TIOU_THRESHOLDS,
    AverageRecallCurve,
    average_recall_vs_avg_nr_proposals,
    evaluate_proposals,
)
from .result import DetectionResult
from .results_io import iter_predictions, load_predictions
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
from .thumos14_io import (
    load_thumos14_annotations,
    load_thumos14_class_list,
    load_thumos14_results,
)
from .tiou import parse_tiou_thresholds, segment_tiou
from .topkx_recall import TopKxRecallResult, evaluate_topkx_recall, topkx_recall
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
    "PROPOSAL_TIOU_THRESHOLDS",
    "THUMOS14_OFFICIAL_TIOU_THRESHOLDS",
    "THUMOS14_TIOU_THRESHOLDS",
    "WTALC_TIOU_THRESHOLDS",
    "AverageRecallCurve",
    "ClassificationMetrics",
    "DeduplicationReport",
    "DetectionMAP",
    "DetectionResult",
    "EvaluationInputError",
    "GroundTruth",
    "PrecisionRecall",
    "Predictions",
    "Thumos14Annotations",
    "TopKxRecallResult",
    "UnmatchedVideosWarning",
    "WtalcAnnotations",
    "WtalcEmptyClassWarning",
    "WtalcResult",
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
    "evaluate_wtalc",
    "find_duplicate_instances",
    "iter_predictions",
    "load_activitynet_ground_truth",
    "load_activitynet_results",
    "load_predictions",
    "load_thumos14_annotations",
    "load_thumos14_class_list",
    "load_thumos14_results",
    "load_wtalc_annotations",
    "load_wtalc_scores",
    "parse_tiou_thresholds",
    "precision_recall",
    "precision_recall_thumos14",
    "segment_iop",
    "segment_tiou",
    "topkx_recall",
    "video_label_accuracy",
    "write_activitynet_ground_truth",
    "write_activitynet_results",
    "wtalc_ground_truth",
    "wtalc_proposals",
]
