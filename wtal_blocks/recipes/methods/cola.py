"""CoLA (Zhang et al., CVPR 2021) as a recipe method: configuration and builders."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from ...inference.cola import CoLAInferenceConfig, CoLAPostProcessor
from ...losses.cola import CoLAObjective
from ...models.cola import CoLA, CoLAOutput, load_cola_checkpoint
from ..config import RecipeConfig
from . import Method, register_method

__all__ = ["COLA_METHOD", "CoLAConfig"]


@dataclass(frozen=True)
class CoLAConfig(RecipeConfig):
    """Every setting of a CoLA run. Defaults are the official THUMOS'14 hyper-parameters.

    Optimiser: Adam (lr 1e-4 constant, betas (0.9, 0.999), weight decay 5e-4), batch 16,
    6,000 iterations, the test set evaluated every 100. Loss: ``L_cls + λ (L_HA + L_HB)`` with
    λ = 0.01 and InfoNCE temperature 0.07. Selections: ``T // 5`` easy action and easy
    background segments (ranked by actionness × a Dropout(0.6) multiplier), ``T // 20`` hard
    action and hard background segments from the ``m = 3`` / ``M = 6`` erosion and dilation
    bands. Seeded by default (seed 0), as the official code. ``snico_weight = 0`` is the
    ``L_cls``-only baseline.
    """

    method: ClassVar[str] = "cola"
    help: ClassVar[dict[str, str]] = RecipeConfig.help | {
        "snico_weight": "λ, weight of the SniCo loss L_HA + L_HB (0: L_cls only)",
        "temperature": "τ, temperature of the InfoNCE terms",
        "easy_ratio": "k_easy = T // easy_ratio easy action / background segments and video top-k",
        "hard_ratio": "k_hard = T // hard_ratio hard action / background segments",
        "inner": "m, the smaller erosion/dilation window of the hard-segment bands",
        "outer": "M, the larger erosion/dilation window of the hard-segment bands",
        "dropout": "dropout of the classifier input",
        "selection_dropout": "drop probability of the easy-segment selection multiplier",
        "embed_dim": "embedded feature size D (2048 in the official code)",
        "faithful": "reproduce the official test-time quirks (1) or fix them (0)",
    }
    training_only: ClassVar[frozenset[str]] = RecipeConfig.training_only | {
        "snico_weight", "temperature", "hard_ratio", "inner", "outer", "dropout",
        "selection_dropout", "embed_dim",
    }  # fmt: skip

    iterations: int = 6_000
    eval_every: int = 100
    snico_weight: float = 0.01
    temperature: float = 0.07
    easy_ratio: float = 5.0
    hard_ratio: float = 20.0
    inner: int = 3
    outer: int = 6
    dropout: float = 0.7
    selection_dropout: float = 0.6
    embed_dim: int = 2048
    faithful: bool = True
    output_dir: str = "runs/cola"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.snico_weight < 0:
            raise ValueError(f"snico_weight must be >= 0, got {self.snico_weight}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.easy_ratio < 1 or self.hard_ratio < 1:
            raise ValueError(
                f"easy_ratio and hard_ratio must be >= 1, got {self.easy_ratio}, {self.hard_ratio}"
            )
        if not 1 <= self.inner < self.outer:
            raise ValueError(f"need 1 <= inner < outer, got {self.inner}, {self.outer}")
        for name in ("dropout", "selection_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.embed_dim < 1:
            raise ValueError(f"embed_dim must be >= 1, got {self.embed_dim}")


def build_model(config: CoLAConfig, feature_dim: int, num_classes: int) -> CoLA:
    return CoLA(
        feature_dim,
        num_classes,
        embed_dim=config.embed_dim,
        easy_ratio=config.easy_ratio,
        hard_ratio=config.hard_ratio,
        dropout=config.dropout,
        selection_dropout=config.selection_dropout,
        inner=config.inner,
        outer=config.outer,
    )


def inference_config(config: CoLAConfig) -> CoLAInferenceConfig:
    """CoLA's test-time settings of ``config``."""
    return CoLAInferenceConfig(class_threshold=config.class_threshold, faithful=config.faithful)


class _CoLALoss:
    """CoLA's objective on a model output."""

    def __init__(self, config: CoLAConfig) -> None:
        self.objective = CoLAObjective(config.snico_weight, config.temperature)

    def __call__(self, output: CoLAOutput, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return self.objective(
            output.video_probs,
            labels,
            output.embeddings,
            output.easy_action,
            output.easy_background,
            output.hard_action,
            output.hard_background,
        )


def _load(
    path: str | os.PathLike[str],
    config: CoLAConfig,
    feature_dim: int,
    num_classes: int,
    device: torch.device,
) -> CoLA:
    return load_cola_checkpoint(
        path,
        feature_dim=feature_dim,
        num_classes=num_classes,
        map_location=device,
        easy_ratio=config.easy_ratio,
        hard_ratio=config.hard_ratio,
        inner=config.inner,
        outer=config.outer,
    )


def _post(config: CoLAConfig) -> Any:
    return CoLAPostProcessor(inference_config(config))


COLA_METHOD = register_method(
    Method(
        name="cola",
        title=(
            "CoLA: Weakly-Supervised Temporal Action Localization with Snippet Contrastive "
            "Learning (CVPR 2021)"
        ),
        config_type=CoLAConfig,
        build_model=build_model,
        build_objective=_CoLALoss,
        build_post_processor=_post,
        load_checkpoint=_load,
        test_sampling=lambda config: "uniform",
        loss_terms=("loss_cls", "loss_ha", "loss_hb", "loss_snico", "loss_total"),
        ablation=(
            ("CoLA", "cola", {}),
            ("without SniCo (L_cls only)", "no_snico", {"snico_weight": 0.0}),
        ),
    )
)
