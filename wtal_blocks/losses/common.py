"""Pieces every training objective shares: label normalisation, the clamped logarithm of
``torch.nn.BCELoss``, the official/paper form switch and the empty-batch check."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .._validation import check_rank, validation_enabled

__all__ = ["LossForm", "check_nonempty_batch", "normalize_labels"]

LossForm = Literal["official", "paper"]
_FORMS = ("official", "paper")


def check_nonempty_batch(name: str, x: Tensor) -> None:
    """A loss is a mean over videos: an empty batch has none (and would give NaN)."""
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (B = 0): a loss needs at least one video")


def _check_form(form: str) -> None:
    if form not in _FORMS:
        raise ValueError(f"form must be one of {_FORMS}, got {form!r}")


def _clamped_log(p: Tensor) -> Tensor:
    # clamping p first keeps the gradient finite (0) at p = 0, where log(p) = -inf
    return torch.log(p.clamp(min=torch.finfo(p.dtype).tiny)).clamp(min=-100.0)


def normalize_labels(labels: Tensor) -> Tensor:
    """Per-video normalised labels ``y / Σ_c y`` (Wang et al. 2017), ``(B, C) -> (B, C)``."""
    check_rank("labels", labels, 2, "(B, C)")
    total = labels.sum(dim=1, keepdim=True)
    if validation_enabled() and labels.numel() and bool((total <= 0).any()):
        bad = torch.nonzero(total[:, 0] <= 0).flatten().tolist()
        raise ValueError(
            f"labels has videos with no positive class (batch indices {bad}); "
            "weakly-supervised training needs at least one label per video"
        )
    return labels / total
