"""BaS-Net training objective (Lee, Uh, Byun, AAAI 2020), in the official code's form.

``L = L_base + L_supp + α · L_norm`` with ``α = 1e-4`` (the paper's overall loss; equation
numbers not verified):

* ``L_base``: the base branch's video probabilities (softmax over ``C + 1`` classes, the last
  one background) against ``[y, 1] / (Σy + 1)``: every training video contains background;
* ``L_supp``: the suppression branch's against ``[y, 0] / Σy``: the filtered video contains
  none;
* ``L_norm``: the L1 norm over time of the foreground weights, averaged over the videos,
  which keeps the filter from letting every segment through.

Both branch losses are ``torch.nn.BCELoss`` in the official code: the mean over ``B × (C+1)``
of ``-(t log p + (1 - t) log(1 - p))`` (logarithms clamped at -100). The paper writes a
cross-entropy ``-Σ t log p`` (not verified against its text); the code's form is the one
implemented.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import (
    check_finite,
    check_mask,
    check_probabilities,
    check_rank,
    shape_str,
    validation_enabled,
)
from .common import check_nonempty_batch, normalize_labels

__all__ = [
    "AttentionNormLoss",
    "BaSNetObjective",
    "BranchClassificationLoss",
    "attention_norm_loss",
    "background_class_targets",
    "basnet_total_loss",
    "branch_classification_loss",
]


def background_class_targets(labels: Tensor, *, background: bool) -> Tensor:
    """The ``C + 1``-class targets of a BaS-Net branch, normalised to sum 1 per video.

    Base branch (``background=True``): ``[y, 1] / (Σy + 1)``, the background class present in
    every video. Suppression branch (``background=False``): ``[y, 0] / Σy``, background
    absent. (The paper's branch labels; equation number not verified.)

    Args:
        labels: ``(B, C)`` multi-hot (non-negative) video labels.
        background: whether the background class is present.

    Returns:
        ``(B, C + 1)`` targets, the dtype of ``labels``.

    Raises:
        ValueError: wrong rank, negative labels, or (``background=False``) a video without
            any positive class.
    """
    check_rank("labels", labels, 2, "(B, C)")
    check_finite("labels", labels)
    if validation_enabled() and labels.numel() and bool((labels < 0).any()):
        raise ValueError(
            f"labels must be non-negative (multi-hot), got minimum {float(labels.min())}"
        )
    fill = torch.full_like(labels[:, :1], 1.0 if background else 0.0)
    return normalize_labels(torch.cat([labels, fill], dim=1))


def branch_classification_loss(video_probs: Tensor, labels: Tensor, *, background: bool) -> Tensor:
    """``L_base`` (``background=True``) or ``L_supp`` (``background=False``).

    ``BCELoss(p, t)`` with ``t`` = :func:`background_class_targets`: the mean over
    ``B × (C+1)`` of ``-(t log p + (1-t) log(1-p))``, logarithms clamped at -100 (the
    official code; the paper's branch losses, equation numbers not verified).

    Args:
        video_probs: ``(B, C + 1)`` the branch's video probabilities (softmax, background last).
        labels: ``(B, C)`` multi-hot video labels.
        background: the branch's background target (True: base, False: suppression).

    Returns:
        Scalar loss.
    """
    check_rank("video_probs", video_probs, 2, "(B, C + 1)")
    check_nonempty_batch("video_probs", video_probs)
    check_rank("labels", labels, 2, "(B, C)")
    if labels.shape[0] != video_probs.shape[0] or labels.shape[1] + 1 != video_probs.shape[1]:
        raise ValueError(
            "video_probs must have shape (B, C + 1) for labels (B, C) (the last class is "
            f"background), got {shape_str(video_probs)} and {shape_str(labels)}"
        )
    check_probabilities("video_probs", video_probs)
    targets = background_class_targets(labels.to(video_probs.dtype), background=background)
    return F.binary_cross_entropy(video_probs, targets)


def attention_norm_loss(weights: Tensor, mask: Tensor | None = None) -> Tensor:
    """``L_norm``: the L1 norm over time of the foreground weights, averaged over videos.

    ``L_norm = 1/B Σ_b Σ_t |w_{b,t}|`` (the paper's normalisation loss; equation number not
    verified). As in the official code it is a sum over time, not a mean: with ``T = 750`` it
    lies in ``[0, 750]``, which the small weight ``α = 1e-4`` compensates.

    Args:
        weights: ``(B, T)`` foreground weights.
        mask: optional ``(B, T)`` bool validity mask; padded segments do not count.

    Returns:
        Scalar loss.
    """
    check_rank("weights", weights, 2, "(B, T)")
    check_nonempty_batch("weights", weights)
    check_mask(mask, weights.shape[0], weights.shape[1])
    check_finite("weights", weights)
    magnitude = weights.abs()
    if mask is not None:
        magnitude = magnitude.masked_fill(~mask, 0.0)
    return magnitude.sum(dim=1).mean()


def basnet_total_loss(
    loss_base: Tensor, loss_supp: Tensor, loss_norm: Tensor, alpha: float = 1e-4
) -> Tensor:
    """BaS-Net's overall loss ``L_base + L_supp + α L_norm`` (equation number not verified).

    Args:
        loss_base: :func:`branch_classification_loss` of the base branch.
        loss_supp: the same of the suppression branch.
        loss_norm: :func:`attention_norm_loss`.
        alpha: ``α`` (1e-4).
    """
    return loss_base + loss_supp + alpha * loss_norm


class BranchClassificationLoss(nn.Module):
    """Module form of :func:`branch_classification_loss`.

    Shape: ``video_probs (B, C + 1)``, ``labels (B, C)`` -> scalar.
    """

    def __init__(self, *, background: bool) -> None:
        super().__init__()
        self.background = bool(background)

    def forward(self, video_probs: Tensor, labels: Tensor) -> Tensor:
        return branch_classification_loss(video_probs, labels, background=self.background)

    def extra_repr(self) -> str:
        return f"background={self.background}"


class AttentionNormLoss(nn.Module):
    """Module form of :func:`attention_norm_loss`.

    Shape: ``weights (B, T)``, optional ``mask (B, T)`` -> scalar.
    """

    def forward(self, weights: Tensor, mask: Tensor | None = None) -> Tensor:
        return attention_norm_loss(weights, mask)


class BaSNetObjective(nn.Module):
    """Module form of BaS-Net's overall loss (:func:`basnet_total_loss`).

    Args:
        alpha: ``α``, the weight of ``L_norm`` (1e-4).

    ``forward(video_probs_base, video_probs_supp, foreground_weights, labels, mask=None)``
    returns ``(total, terms)`` with ``terms = {"loss_base", "loss_supp", "loss_norm",
    "loss_total"}`` (detached, for logging). With ``video_probs_supp`` and
    ``foreground_weights`` both None (BaS-Net without the filter: the base branch alone) the
    total is ``L_base`` and the other two terms are logged as 0.
    """

    def __init__(self, alpha: float = 1e-4) -> None:
        super().__init__()
        if not alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.alpha = float(alpha)
        self.base = BranchClassificationLoss(background=True)
        self.supp = BranchClassificationLoss(background=False)
        self.norm = AttentionNormLoss()

    def forward(
        self,
        video_probs_base: Tensor,
        video_probs_supp: Tensor | None,
        foreground_weights: Tensor | None,
        labels: Tensor,
        mask: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``(total, terms)`` for ``(B, C + 1)`` probabilities, ``(B, T)`` weights and
        ``(B, C)`` labels."""
        if (video_probs_supp is None) != (foreground_weights is None):
            raise ValueError(
                "video_probs_supp and foreground_weights must both be given (BaS-Net) or both "
                "be None (the base branch alone)"
            )
        loss_base = self.base(video_probs_base, labels)
        if video_probs_supp is None or foreground_weights is None:
            zero = loss_base.new_zeros(())
            total = loss_base
            loss_supp = loss_norm = zero
        else:
            loss_supp = self.supp(video_probs_supp, labels)
            loss_norm = self.norm(foreground_weights, mask)
            total = basnet_total_loss(loss_base, loss_supp, loss_norm, self.alpha)
        terms = {
            "loss_base": loss_base.detach(),
            "loss_supp": loss_supp.detach(),
            "loss_norm": loss_norm.detach(),
            "loss_total": total.detach(),
        }
        return total, terms

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"
