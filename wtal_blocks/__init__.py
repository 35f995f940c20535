"""wtal_blocks: building blocks for weakly-supervised temporal action localization.

The public API is re-exported here and loaded lazily (PEP 562): ``import wtal_blocks`` is
cheap, and the numpy-only evaluator (``wtal_blocks.evaluation``, the ``wtal-eval`` command)
never pays for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    "topk_mil_pooling": "pooling",
    "topk_mil_pooling_with_indices": "pooling",
    "k_from_ratio": "pooling",
    "TopKMILPooling": "pooling",
    "video_class_probabilities": "pooling",
    "feature_magnitude": "uncertainty",
    "magnitude_action_probability": "uncertainty",
    "minmax_action_probability": "uncertainty",
    "fused_action_probability": "uncertainty",
    "FeatureMagnitudeUncertainty": "uncertainty",
    "PseudoSegments": "snippets",
    "SelectedSegments": "snippets",
    "select_pseudo_segments": "snippets",
    "PseudoSegmentSelector": "snippets",
    "hard_segment_bands": "snippets",
    "select_hard_segments": "snippets",
    "gather_segments": "snippets",
    "mean_at": "snippets",
    "temporal_conv": "layers",
    "pointwise_conv": "layers",
    "video_classification_loss": "losses",
    "uncertainty_modeling_loss": "losses",
    "background_entropy_loss": "losses",
    "um_total_loss": "losses",
    "normalize_labels": "losses",
    "VideoClassificationLoss": "losses",
    "UncertaintyModelingLoss": "losses",
    "BackgroundEntropyLoss": "losses",
    "UMObjective": "losses",
    "UncertaintyModelingNet": "models",
    "UMOutput": "models",
    "load_official_checkpoint": "models",
    "DropoutMultipliers": "models",
    "CheckpointError": "models",
    "temporal_nms": "nms",
    "batched_temporal_nms": "nms",
    "soft_nms": "nms",
    "batched_soft_nms": "nms",
    "TemporalNMS": "nms",
    "segment_voting": "nms",
    "upsample_linear": "segments",
    "find_runs": "segments",
    "ProposalGenerator": "proposals",
    "ProposalBatch": "proposals",
    "VideoProposals": "proposals",
    "UMInferenceConfig": "inference",
    "UMPostProcessor": "inference",
    "select_classes": "inference",
    "minmax_over_time": "inference",
    "ThumosFeatures": "data",
    "ActivityNetFeatures": "data",
    "SyntheticWTAL": "data",
    "pad_collate": "data",
    "THUMOS14_CLASSES": "data",
    "RecipeConfig": "recipes",
    "UMConfig": "recipes",
    "train": "recipes",
    "evaluate_checkpoint": "recipes",
    "get_method": "recipes",
    "available_methods": "recipes",
    "register_method": "recipes",
    "DetectionMAP": "evaluation",
    "DetectionResult": "evaluation",
    "evaluate_detection": "evaluation",
    "iter_predictions": "evaluation",
    "load_predictions": "evaluation",
    "UnmatchedVideosWarning": "evaluation",
    "average_precision_detection": "evaluation",
    "evaluate_thumos14": "evaluation",
    "average_precision_thumos14": "evaluation",
    "ClassificationMetrics": "evaluation",
    "classification_average_precision": "evaluation",
    "classification_map": "evaluation",
    "video_label_accuracy": "evaluation",
    "EvaluationInputError": "evaluation",
    "parse_tiou_thresholds": "evaluation",
    "segment_tiou": "evaluation",
    "precision_recall": "evaluation",
    "precision_recall_thumos14": "evaluation",
    "load_activitynet_ground_truth": "evaluation",
    "load_activitynet_results": "evaluation",
    "write_activitynet_results": "evaluation",
    "load_thumos14_annotations": "evaluation",
    "load_thumos14_results": "evaluation",
    "ForegroundFilter": "attention",
    "suppress_background": "attention",
    "shared_branches": "attention",
    "background_class_targets": "losses",
    "branch_classification_loss": "losses",
    "attention_norm_loss": "losses",
    "basnet_total_loss": "losses",
    "BranchClassificationLoss": "losses",
    "AttentionNormLoss": "losses",
    "BaSNetObjective": "losses",
    "CoLAObjective": "losses",
    "info_nce": "losses",
    "snico_loss": "losses",
    "cola_total_loss": "losses",
    "BaSNet": "models",
    "BaSNetOutput": "models",
    "load_basnet_checkpoint": "models",
    "CoLA": "models",
    "CoLAOutput": "models",
    "load_cola_checkpoint": "models",
    "BaSNetInferenceConfig": "inference",
    "BaSNetPostProcessor": "inference",
    "CoLAInferenceConfig": "inference",
    "CoLAPostProcessor": "inference",
    "BaSNetConfig": "recipes",
    "CoLAConfig": "recipes",
    "evaluate_wtalc": "evaluation",
    "load_wtalc_annotations": "evaluation",
    "load_wtalc_scores": "evaluation",
    "wtalc_proposals": "evaluation",
    "evaluate_proposals": "evaluation",
    "evaluate_topkx_recall": "evaluation",
    "segment_iop": "evaluation",
    "deduplicate_ground_truth": "evaluation",
    "WtalcFeatures": "data",
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
    from .attention import (
        ForegroundFilter,
        shared_branches,
        suppress_background,
    )
    from .data import (
        THUMOS14_CLASSES,
        ActivityNetFeatures,
        SyntheticWTAL,
        ThumosFeatures,
        WtalcFeatures,
        pad_collate,
    )
    from .evaluation import (
        ClassificationMetrics,
        DetectionMAP,
        DetectionResult,
        EvaluationInputError,
        UnmatchedVideosWarning,
        average_precision_detection,
        average_precision_thumos14,
        classification_average_precision,
        classification_map,
        deduplicate_ground_truth,
        evaluate_detection,
        evaluate_proposals,
        evaluate_thumos14,
        evaluate_topkx_recall,
        evaluate_wtalc,
        iter_predictions,
        load_activitynet_ground_truth,
        load_activitynet_results,
        load_predictions,
        load_thumos14_annotations,
        load_thumos14_results,
        load_wtalc_annotations,
        load_wtalc_scores,
        parse_tiou_thresholds,
        precision_recall,
        precision_recall_thumos14,
        segment_iop,
        segment_tiou,
        video_label_accuracy,
        write_activitynet_results,
        wtalc_proposals,
    )
    from .inference import (
        BaSNetInferenceConfig,
        BaSNetPostProcessor,
        CoLAInferenceConfig,
        CoLAPostProcessor,
        UMInferenceConfig,
        UMPostProcessor,
        minmax_over_time,
        select_classes,
    )
    from .layers import (
        pointwise_conv,
        temporal_conv,
    )
    from .losses import (
        AttentionNormLoss,
        BackgroundEntropyLoss,
        BaSNetObjective,
        BranchClassificationLoss,
        CoLAObjective,
        UMObjective,
        UncertaintyModelingLoss,
        VideoClassificationLoss,
        attention_norm_loss,
        background_class_targets,
        background_entropy_loss,
        basnet_total_loss,
        branch_classification_loss,
        cola_total_loss,
        info_nce,
        normalize_labels,
        snico_loss,
        um_total_loss,
        uncertainty_modeling_loss,
        video_classification_loss,
    )
    from .models import (
        BaSNet,
        BaSNetOutput,
        CheckpointError,
        CoLA,
        CoLAOutput,
        DropoutMultipliers,
        UMOutput,
        UncertaintyModelingNet,
        load_basnet_checkpoint,
        load_cola_checkpoint,
        load_official_checkpoint,
    )
    from .nms import (
        TemporalNMS,
        batched_soft_nms,
        batched_temporal_nms,
        segment_voting,
        soft_nms,
        temporal_nms,
    )
    from .pooling import (
        TopKMILPooling,
        k_from_ratio,
        topk_mil_pooling,
        topk_mil_pooling_with_indices,
        video_class_probabilities,
    )
    from .proposals import (
        ProposalBatch,
        ProposalGenerator,
        VideoProposals,
    )
    from .recipes import (
        BaSNetConfig,
        CoLAConfig,
        RecipeConfig,
        UMConfig,
        available_methods,
        evaluate_checkpoint,
        get_method,
        register_method,
        train,
    )
    from .segments import (
        find_runs,
        upsample_linear,
    )
    from .snippets import (
        PseudoSegments,
        PseudoSegmentSelector,
        SelectedSegments,
        gather_segments,
        hard_segment_bands,
        mean_at,
        select_hard_segments,
        select_pseudo_segments,
    )
    from .uncertainty import (
        FeatureMagnitudeUncertainty,
        feature_magnitude,
        fused_action_probability,
        magnitude_action_probability,
        minmax_action_probability,
    )
