"""UM (Lee et al., AAAI 2021) as a recipe method: configuration and builders."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor

from ...inference.um import UMInferenceConfig, UMPostProcessor
from ...losses.um import UMObjective
from ...models.um import UMOutput, UncertaintyModelingNet, load_official_checkpoint
from ..config import RecipeConfig
from . import Method, register_method

__all__ = ["UM_METHOD", "UMConfig"]


@dataclass(frozen=True)
class UMConfig(RecipeConfig):
    """Every setting of a UM run. Defaults are the official hyper-parameters.

    Optimiser: Adam (lr 1e-4, betas (0.9, 0.999), weight decay 5e-4), batch 16, 10k
    iterations. Loss: ``L_cls + α L_um + β L_be`` with α = 5e-4, β = 1, m = 100. Selection
    ratios 9 (action) and 4 (background). ``alpha = beta = 0`` is the paper's baseline (with
    fused scoring unless ``scoring="softmax"``).
    """

    method: ClassVar[str] = "um"
    help: ClassVar[dict[str, str]] = RecipeConfig.help | {
        "alpha": "weight of the uncertainty modelling loss L_um (0 with --beta 0: the baseline)",
        "beta": "weight of the background entropy loss L_be",
        "margin": "m, the maximum feature magnitude of Eqs. 4 and 7",
        "action_ratio": "action_k = T // action_ratio pseudo action segments",
        "background_ratio": "background_k = T // background_ratio pseudo background segments",
        "dropout": "dropout of the classifier input and of the selection",
        "embed_dim": "embedded feature size D (2048 in the official code)",
        "loss_form": "official (BCE) or paper (Eqs. 6 and 8) loss forms",
        "background_score": "official (softmax of mean logits) or paper (mean of softmax)",
        "scoring": "fused (softmax x uncertainty) or softmax test-time scoring",
    }
    training_only: ClassVar[frozenset[str]] = RecipeConfig.training_only | {
        "alpha", "beta", "margin", "loss_form", "dropout", "embed_dim",
    }  # fmt: skip

    alpha: float = 5e-4
    beta: float = 1.0
    margin: float = 100.0
    action_ratio: float = 9.0
    background_ratio: float = 4.0
    dropout: float = 0.7
    embed_dim: int = 2048
    loss_form: Literal["official", "paper"] = "official"
    background_score: Literal["official", "paper"] = "official"
    scoring: Literal["fused", "softmax"] = "fused"
    output_dir: str = "runs/um"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha < 0 or self.beta < 0:
            raise ValueError(f"alpha and beta must be >= 0, got {self.alpha}, {self.beta}")
        if not self.margin > 0:
            raise ValueError(f"margin must be > 0, got {self.margin}")
        if self.action_ratio < 1 or self.background_ratio < 1:
            raise ValueError(
                "action_ratio and background_ratio must be >= 1, got "
                f"{self.action_ratio}, {self.background_ratio}"
            )
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.embed_dim < 1:
            raise ValueError(f"embed_dim must be >= 1, got {self.embed_dim}")


def build_model(config: UMConfig, feature_dim: int, num_classes: int) -> UncertaintyModelingNet:
    return UncertaintyModelingNet(
        feature_dim,
        num_classes,
        embed_dim=config.embed_dim,
        action_ratio=config.action_ratio,
        background_ratio=config.background_ratio,
        dropout=config.dropout,
        background_score=config.background_score,
    )


def inference_config(config: UMConfig) -> UMInferenceConfig:
    """UM's test-time settings of ``config``."""
    return UMInferenceConfig(class_threshold=config.class_threshold, scoring=config.scoring)


class _UMLoss:
    """UM's objective on a model output."""

    def __init__(self, config: UMConfig) -> None:
        self.objective = UMObjective(
            config.alpha, config.beta, config.margin, form=config.loss_form
        )

    def __call__(self, output: UMOutput, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return self.objective(
            output.video_probs,
            output.background_probs,
            output.action_features,
            output.background_features,
            labels,
            output.pseudo.action_valid,
            output.pseudo.background_valid,
        )


def _load(
    path: str | os.PathLike[str],
    config: UMConfig,
    feature_dim: int,
    num_classes: int,
    device: torch.device,
) -> UncertaintyModelingNet:
    return load_official_checkpoint(
        path,
        feature_dim=feature_dim,
        num_classes=num_classes,
        map_location=device,
        action_ratio=config.action_ratio,
        background_ratio=config.background_ratio,
        background_score=config.background_score,
    )


def _post(config: UMConfig) -> Any:
    return UMPostProcessor(inference_config(config))


UM_METHOD = register_method(
    Method(
        name="um",
        title="Weakly-supervised Temporal Action Localization by Uncertainty Modeling (AAAI 2021)",
        config_type=UMConfig,
        build_model=build_model,
        build_objective=_UMLoss,
        build_post_processor=_post,
        load_checkpoint=_load,
        loss_terms=("loss_cls", "loss_um", "loss_be", "loss_total"),
        ablation=(
            (
                "baseline, softmax scoring",
                "baseline",
                {"alpha": 0.0, "beta": 0.0, "scoring": "softmax"},
            ),
            (
                "baseline, fused scoring",
                "baseline",
                {"alpha": 0.0, "beta": 0.0, "scoring": "fused"},
            ),
            ("+ L_um", "um_loss", {"beta": 0.0, "scoring": "fused"}),
            ("+ L_um + L_be (UM)", "um_full", {"scoring": "fused"}),
        ),
    )
)
