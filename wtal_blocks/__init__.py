"""wtal_blocks: building blocks for weakly-supervised temporal action localization.

The public API is re-exported here and loaded lazily (PEP 562): ``import wtal_blocks`` is
cheap, and the numpy-only evaluator (``wtal_blocks.evaluation``, the ``wtal-eval`` command)
never pays for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    # pooling (Eq. 1)
    "topk_mil_pooling": "pooling",
    "topk_mil_pooling_with_indices": "pooling",
    "k_from_ratio": "pooling",
    "TopKMILPooling": "pooling",
    # uncertainty (Eq. 4, pseudo action/background selection)
    "feature_magnitude": "uncertainty",
    "magnitude_action_probability": "uncertainty",
    "minmax_action_probability": "uncertainty",
    "FeatureMagnitudeUncertainty": "uncertainty",
    "PseudoSegments": "uncertainty",
    "select_pseudo_segments": "uncertainty",
    "PseudoSegmentSelector": "uncertainty",
    # losses (Eqs. 5-8)
    "video_classification_loss": "losses",
    "uncertainty_modeling_loss": "losses",
    "background_entropy_loss": "losses",
    "VideoClassificationLoss": "losses",
    "UncertaintyModelingLoss": "losses",
    "BackgroundEntropyLoss": "losses",
    "UMObjective": "losses",
    # reference model
    "UncertaintyModelingNet": "models",
    "UMOutput": "models",
    "load_official_checkpoint": "models",
    # evaluation (numpy only; never imports torch)
    "DetectionMAP": "evaluation",
    "DetectionResult": "evaluation",
    "evaluate_detection": "evaluation",
    "average_precision_detection": "evaluation",
    "evaluate_thumos14": "evaluation",
    "average_precision_thumos14": "evaluation",
    "ClassificationMetrics": "evaluation",
    "classification_average_precision": "evaluation",
    "classification_map": "evaluation",
    "um_classification_accuracy": "evaluation",
    "EvaluationInputError": "evaluation",
    "parse_tiou_thresholds": "evaluation",
    "load_activitynet_ground_truth": "evaluation",
    "load_activitynet_results": "evaluation",
    "write_activitynet_results": "evaluation",
    "load_thumos14_annotations": "evaluation",
    "read_thumos14_results": "evaluation",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wtal_blocks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # static view of the lazy exports, for type checkers and IDEs
    from .evaluation import (
        ClassificationMetrics,
        DetectionMAP,
        DetectionResult,
        EvaluationInputError,
        average_precision_detection,
        average_precision_thumos14,
        classification_average_precision,
        classification_map,
        evaluate_detection,
        evaluate_thumos14,
        load_activitynet_ground_truth,
        load_activitynet_results,
        load_thumos14_annotations,
        parse_tiou_thresholds,
        read_thumos14_results,
        um_classification_accuracy,
        write_activitynet_results,
    )
    from .losses import (
        BackgroundEntropyLoss,
        UMObjective,
        UncertaintyModelingLoss,
        VideoClassificationLoss,
        background_entropy_loss,
        uncertainty_modeling_loss,
        video_classification_loss,
    )
    from .models import UMOutput, UncertaintyModelingNet, load_official_checkpoint
    from .pooling import (
        TopKMILPooling,
        k_from_ratio,
        topk_mil_pooling,
        topk_mil_pooling_with_indices,
    )
    from .uncertainty import (
        FeatureMagnitudeUncertainty,
        PseudoSegments,
        PseudoSegmentSelector,
        feature_magnitude,
        magnitude_action_probability,
        minmax_action_probability,
        select_pseudo_segments,
    )
