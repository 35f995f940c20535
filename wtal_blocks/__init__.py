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
    # temporal NMS (inference step 9)
    "temporal_nms": "nms",
    "batched_temporal_nms": "nms",
    "soft_nms": "nms",
    "batched_soft_nms": "nms",
    "TemporalNMS": "nms",
    # segments, proposals and the UM inference pipeline (steps 5-10)
    "upsample_linear": "segments",
    "find_runs": "segments",
    "ProposalGenerator": "proposals",
    "ProposalBatch": "proposals",
    "VideoProposals": "proposals",
    "UMInferenceConfig": "inference",
    "UMPostProcessor": "inference",
    "select_classes": "inference",
    "minmax_over_time": "inference",
    # data
    "ThumosFeatures": "data",
    "ActivityNetFeatures": "data",
    "SyntheticWTAL": "data",
    "pad_collate": "data",
    "THUMOS14_CLASSES": "data",
    # recipe
    "UMConfig": "recipes",
    "train_um": "recipes",
    "evaluate_checkpoint": "recipes",
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
    "load_thumos14_results": "evaluation",
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
    from .data import (
        THUMOS14_CLASSES,
        ActivityNetFeatures,
        SyntheticWTAL,
        ThumosFeatures,
        pad_collate,
    )
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
        load_thumos14_results,
        parse_tiou_thresholds,
        um_classification_accuracy,
        write_activitynet_results,
    )
    from .inference import UMInferenceConfig, UMPostProcessor, minmax_over_time, select_classes
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
    from .nms import TemporalNMS, batched_soft_nms, batched_temporal_nms, soft_nms, temporal_nms
    from .pooling import (
        TopKMILPooling,
        k_from_ratio,
        topk_mil_pooling,
        topk_mil_pooling_with_indices,
    )
    from .proposals import ProposalBatch, ProposalGenerator, VideoProposals
    from .recipes import UMConfig, evaluate_checkpoint, train_um
    from .segments import find_runs, upsample_linear
    from .uncertainty import (
        FeatureMagnitudeUncertainty,
        PseudoSegments,
        PseudoSegmentSelector,
        feature_magnitude,
        magnitude_action_probability,
        minmax_action_probability,
        select_pseudo_segments,
    )
