"""BaS-Net (Lee, Uh, Byun, AAAI 2020) as a recipe method: configuration and builders."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor

from ...inference.basnet import BaSNetInferenceConfig, BaSNetPostProcessor
from ...losses.basnet import BaSNetObjective
from ...models.basnet import BaSNet, BaSNetOutput, load_basnet_checkpoint
from ..config import RecipeConfig
from . import Method, register_method

__all__ = ["BASNET_METHOD", "BaSNetConfig"]


@dataclass(frozen=True)
class BaSNetConfig(RecipeConfig):
    """Every setting of a BaS-Net run. Defaults are the official hyper-parameters.

    Optimiser: Adam (lr 1e-4, betas (0.9, 0.999), weight decay 5e-4), batch 16, 1,500
    iterations, with the official batch order (``batch_order="fresh_shuffle"``: one epoch,
    then the first batch of a fresh shuffle at every step). Loss:
    ``L_base + L_supp + α L_norm`` with α = 1e-4. Video scores: top-``T // 8`` mean, softmax
    over ``C + 1`` classes. Test: every video sampled to exactly ``T`` segments (short ones
    stretched), class threshold 0.25, the suppression branch's CAS.

    ``filter=False`` trains the base branch alone (``L_base`` only) and tests on it: the
    paper's "without the filter" ablation row.

    Evaluation range: the official code averages the mAP over tIoU 0.1:0.1:0.9 (and selects
    its released model on the test set with that average); the default here stays
    0.1:0.1:0.7, the THUMOS'14 convention of the later papers. Pass ``tiou="0.1:0.9:0.1"``
    for the official range.
    """

    method: ClassVar[str] = "basnet"
    help: ClassVar[dict[str, str]] = RecipeConfig.help | {
        "alpha": "weight of the attention norm loss L_norm (the L1 norm of the foreground weights)",
        "topk_ratio": "video scores: the mean of the T // topk_ratio largest CAS logits",
        "dropout": "dropout of the classifier input (independent in each branch)",
        "hidden": "hidden size D of the CAS module (2048 in the official code)",
        "filter_hidden": "hidden size of the filtering module (512 in the official code)",
        "batch_order": "fresh_shuffle (official: after one epoch, the first batch of a fresh "
        "shuffle at every step) or epochs",
        "faithful": "reproduce the official test quirks (true) or fix them (false)",
        "filter": "use the filtering module (false: the base branch alone, trained with L_base "
        "and tested on, the ablation without the filter)",
    }
    training_only: ClassVar[frozenset[str]] = RecipeConfig.training_only | {
        "alpha", "dropout", "hidden", "filter_hidden", "batch_order",
    }  # fmt: skip

    iterations: int = 1500
    class_threshold: float = 0.25
    alpha: float = 1e-4
    topk_ratio: float = 8.0
    dropout: float = 0.7
    hidden: int = 2048
    filter_hidden: int = 512
    batch_order: Literal["fresh_shuffle", "epochs"] = "fresh_shuffle"
    faithful: bool = True
    filter: bool = True
    output_dir: str = "runs/basnet"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if self.topk_ratio < 1:
            raise ValueError(f"topk_ratio must be >= 1, got {self.topk_ratio}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.hidden < 1 or self.filter_hidden < 1:
            raise ValueError(
                f"hidden and filter_hidden must be >= 1, got {self.hidden}, {self.filter_hidden}"
            )
        if self.batch_order not in ("fresh_shuffle", "epochs"):
            raise ValueError(
                f"batch_order must be 'fresh_shuffle' or 'epochs', got {self.batch_order!r}"
            )


def build_model(config: BaSNetConfig, feature_dim: int, num_classes: int) -> BaSNet:
    return BaSNet(
        feature_dim,
        num_classes,
        topk_ratio=config.topk_ratio,
        dropout=config.dropout,
        hidden=config.hidden,
        filter_hidden=config.filter_hidden,
        use_filter=config.filter,
    )


def inference_config(config: BaSNetConfig) -> BaSNetInferenceConfig:
    """BaS-Net's test-time settings of ``config``."""
    return BaSNetInferenceConfig(class_threshold=config.class_threshold, faithful=config.faithful)


class _BaSNetLoss:
    """BaS-Net's objective on a model output."""

    def __init__(self, config: BaSNetConfig) -> None:
        self.objective = BaSNetObjective(config.alpha)

    def __call__(self, output: BaSNetOutput, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return self.objective(
            output.video_probs_base,
            output.video_probs_supp,
            output.foreground_weights,
            labels,
            output.mask,
        )


def _load(
    path: str | os.PathLike[str],
    config: BaSNetConfig,
    feature_dim: int,
    num_classes: int,
    device: torch.device,
) -> BaSNet:
    return load_basnet_checkpoint(
        path,
        feature_dim=feature_dim,
        num_classes=num_classes,
        map_location=device,
        topk_ratio=config.topk_ratio,
        use_filter=config.filter,
    )


def _post(config: BaSNetConfig) -> Any:
    return BaSNetPostProcessor(inference_config(config))


BASNET_METHOD = register_method(
    Method(
        name="basnet",
        title=(
            "Background Suppression Network for Weakly-supervised Temporal Action "
            "Localization (AAAI 2020)"
        ),
        config_type=BaSNetConfig,
        build_model=build_model,
        build_objective=_BaSNetLoss,
        build_post_processor=_post,
        load_checkpoint=_load,
        test_sampling=lambda config: "stretch",
        loss_terms=("loss_base", "loss_supp", "loss_norm", "loss_total"),
        ablation=(
            ("BaS-Net", "basnet", {}),
            ("without the filter (base branch only)", "base_only", {"filter": False}),
        ),
    )
)
