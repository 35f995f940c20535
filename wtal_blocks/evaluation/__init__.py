"""Evaluation of temporal action localization (numpy only; never imports torch)."""

from __future__ import annotations

from .annotations import GroundTruth, Predictions, Thumos14Annotations
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
from .tiou import parse_tiou_thresholds, segment_tiou

__all__ = [
    "ACTIVITYNET_TIOU_THRESHOLDS",
    "THUMOS14_TIOU_THRESHOLDS",
    "DetectionMAP",
    "DetectionResult",
    "EvaluationInputError",
    "GroundTruth",
    "Predictions",
    "Thumos14Annotations",
    "average_precision_detection",
    "evaluate_detection",
    "load_activitynet_ground_truth",
    "load_activitynet_results",
    "load_thumos14_annotations",
    "parse_tiou_thresholds",
    "read_thumos14_class_list",
    "read_thumos14_results",
    "segment_tiou",
    "write_activitynet_ground_truth",
    "write_activitynet_results",
]
