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
