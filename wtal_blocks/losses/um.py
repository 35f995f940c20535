"""UM training objectives (paper Eqs. 5-8), in the official code's form by default.

Where the official code and the paper differ, ``form="official" | "paper"`` selects one:

============================  ==========================================  ====================================
term                          official code (default)                     paper
============================  ==========================================  ====================================
classification (Eq. 6)        ``BCE(p, y/Σy)`` averaged over B×C:         ``1/N Σ_n Σ_c -y_nc log p_c(v_n)``
                              ``-(y log p + (1-y) log(1-p))``
background entropy (Eq. 8)    ``BCE(p_bkg, 1/C)`` averaged over B×C       ``-1/(NC) Σ_n Σ_c log p_c(bkg_n)``
uncertainty modelling (Eq. 7) identical: ``mean_n (max(0, m - ||f̄_act||) + ||f̄_bkg||)²``
============================  ==========================================  ====================================

(How the background probabilities are formed also differs — softmax of the mean background
logits in the code, mean of per-segment softmax in the paper; that choice lives in the model,
:class:`wtal_blocks.models.UncertaintyModelingNet`.)

Logarithms are clamped at -100, as ``torch.nn.BCELoss`` does, so every loss stays finite.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import (
    check_finite,
    check_probabilities,
    check_rank,
    shape_str,
    validation_enabled,
)
from .common import LossForm, _check_form, _clamped_log, check_nonempty_batch, normalize_labels

__all__ = [
    "BackgroundEntropyLoss",
    "UMObjective",
    "UncertaintyModelingLoss",
    "VideoClassificationLoss",
    "background_entropy_loss",
    "um_total_loss",
    "uncertainty_modeling_loss",
    "video_classification_loss",
]


def video_classification_loss(
    video_probs: Tensor, labels: Tensor, form: LossForm = "official"
) -> Tensor:
    """Video-level classification loss ``L_cls`` (Eq. 6).

    Args:
        video_probs: ``(B, C)`` video-level class probabilities ``p_c(v_n)`` (softmax, Eq. 2).
        labels: ``(B, C)`` multi-hot video labels (normalised internally to ``y / Σy``).
        form: ``"official"``: ``BCELoss`` mean over B×C of ``-(y log p + (1-y) log(1-p))``;
            ``"paper"``: ``1/B Σ_n Σ_c -y log p``.

    Returns:
        Scalar loss.
    """
    _check_form(form)
    check_rank("video_probs", video_probs, 2, "(B, C)")
    check_nonempty_batch("video_probs", video_probs)
    if labels.shape != video_probs.shape:
        raise ValueError(
            f"labels must have the shape of video_probs {shape_str(video_probs)}, got {shape_str(labels)}"
        )
    check_probabilities("video_probs", video_probs)
    check_finite("labels", labels)
    if validation_enabled() and labels.numel() and bool((labels < 0).any()):
        raise ValueError(
            f"labels must be non-negative (multi-hot), got minimum {float(labels.min())}"
        )
    y = normalize_labels(labels.to(video_probs.dtype))
    if form == "official":
        return F.binary_cross_entropy(video_probs, y)
    return -(y * _clamped_log(video_probs)).sum(dim=1).mean()


def uncertainty_modeling_loss(
    action_features: Tensor,
    background_features: Tensor,
    margin: float = 100.0,
    *,
    action_valid: Tensor | None = None,
    background_valid: Tensor | None = None,
) -> Tensor:
    """Uncertainty modelling loss ``L_um`` (Eq. 7).

    ``L_um = 1/N Σ_n (max(0, m - ||f̄_act,n||) + ||f̄_bkg,n||)²`` with ``f̄`` the mean embedded
    feature of the pseudo action / background segments (norm of the mean, as in the paper and
    the code).

    Args:
        action_features: ``(B, action_k, D)`` features of the pseudo action segments.
        background_features: ``(B, background_k, D)`` features of the pseudo background segments.
        margin: ``m`` (100).
        action_valid, background_valid: optional ``(B, k)`` bool, False for padding entries
            when ``k`` varies per video.

    Returns:
        Scalar loss. Finite, with finite gradients, also for all-zero features.
    """
    check_rank("action_features", action_features, 3, "(B, action_k, D)")
    check_rank("background_features", background_features, 3, "(B, background_k, D)")
    check_nonempty_batch("action_features", action_features)
    if (
        action_features.shape[0] != background_features.shape[0]
        or action_features.shape[2] != background_features.shape[2]
    ):
        raise ValueError(
            "action_features (B, action_k, D) and background_features (B, background_k, D) must agree on B "
            f"and D, got {shape_str(action_features)} and {shape_str(background_features)}"
        )
    if action_features.shape[1] == 0 or background_features.shape[1] == 0:
        raise ValueError(
            f"need at least one pseudo segment, got {shape_str(action_features)} and {shape_str(background_features)}"
        )
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    check_finite("action_features", action_features)
    check_finite("background_features", background_features)
    mean_act = _masked_mean(action_features, action_valid, "action_valid")
    mean_bkg = _masked_mean(background_features, background_valid, "background_valid")
    loss_act = margin - torch.linalg.vector_norm(mean_act, ord=2, dim=1)
    # the official code zeroes negative entries in place, which keeps the gradient at exactly 0
    loss_act = torch.where(loss_act < 0, torch.zeros_like(loss_act), loss_act)
    loss_bkg = torch.linalg.vector_norm(mean_bkg, ord=2, dim=1)
    return ((loss_act + loss_bkg) ** 2).mean()


def _masked_mean(x: Tensor, valid: Tensor | None, name: str) -> Tensor:
    if valid is None:
        return x.mean(dim=1)
    if tuple(valid.shape) != tuple(x.shape[:2]):
        raise ValueError(f"{name} must have shape {tuple(x.shape[:2])}, got {shape_str(valid)}")
    w = valid.to(x.dtype)
    return (x * w[:, :, None]).sum(dim=1) / w.sum(dim=1, keepdim=True).clamp(min=1)


def background_entropy_loss(background_probs: Tensor, form: LossForm = "official") -> Tensor:
    """Background entropy loss ``L_be`` (Eq. 8): push pseudo background towards uniform.

    Args:
        background_probs: ``(B, C)`` action-class probabilities of the pseudo background
            segments (each row sums to 1).
        form: ``"official"``: ``BCELoss(p, 1/C)``, the mean over B×C of
            ``-(1/C log p + (1 - 1/C) log(1 - p))``; ``"paper"``: ``-1/(BC) Σ log p``.

    Returns:
        Scalar loss.
    """
    _check_form(form)
    check_rank("background_probs", background_probs, 2, "(B, C)")
    check_nonempty_batch("background_probs", background_probs)
    if background_probs.shape[1] < 2:
        raise ValueError(
            f"background_probs needs at least 2 classes, got shape {shape_str(background_probs)}"
        )
    check_probabilities("background_probs", background_probs)
    if validation_enabled() and background_probs.numel():
        sums = background_probs.sum(dim=1)
        tol = 1e-2 if background_probs.dtype in (torch.float16, torch.bfloat16) else 1e-4
        if bool(((sums - 1).abs() > tol).any()):
            raise ValueError(
                "background_probs rows must sum to 1 (class probabilities), got row sums in "
                f"[{float(sums.min())}, {float(sums.max())}]"
            )
    num_classes = background_probs.shape[1]
    if form == "official":
        target = torch.full_like(background_probs, 1.0 / num_classes)
        return F.binary_cross_entropy(background_probs, target)
    return -_clamped_log(background_probs).mean()


class VideoClassificationLoss(nn.Module):
    """Module form of :func:`video_classification_loss` (Eq. 6).

    Shape: ``video_probs (B, C)``, ``labels (B, C)`` -> scalar.
    """

    def __init__(self, form: LossForm = "official") -> None:
        super().__init__()
        _check_form(form)
        self.form: LossForm = form

    def forward(self, video_probs: Tensor, labels: Tensor) -> Tensor:
        return video_classification_loss(video_probs, labels, self.form)

    def extra_repr(self) -> str:
        return f"form={self.form!r}"


class UncertaintyModelingLoss(nn.Module):
    """Module form of :func:`uncertainty_modeling_loss` (Eq. 7).

    Example:
        >>> import torch, wtal_blocks
        >>> act, bkg = torch.zeros(2, 83, 2048), torch.zeros(2, 187, 2048)
        >>> wtal_blocks.UncertaintyModelingLoss(margin=100.0)(act, bkg)
        tensor(10000.)

    Shape: ``action_features (B, action_k, D)``, ``background_features (B, background_k, D)`` -> scalar.
    """

    def __init__(self, margin: float = 100.0) -> None:
        super().__init__()
        if not margin > 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        self.margin = float(margin)

    def forward(
        self,
        action_features: Tensor,
        background_features: Tensor,
        action_valid: Tensor | None = None,
        background_valid: Tensor | None = None,
    ) -> Tensor:
        return uncertainty_modeling_loss(
            action_features,
            background_features,
            self.margin,
            action_valid=action_valid,
            background_valid=background_valid,
        )

    def extra_repr(self) -> str:
        return f"margin={self.margin}"


class BackgroundEntropyLoss(nn.Module):
    """Module form of :func:`background_entropy_loss` (Eq. 8).

    Shape: ``background_probs (B, C)`` (rows sum to 1) -> scalar.
    """

    def __init__(self, form: LossForm = "official") -> None:
        super().__init__()
        _check_form(form)
        self.form: LossForm = form

    def forward(self, background_probs: Tensor) -> Tensor:
        return background_entropy_loss(background_probs, self.form)

    def extra_repr(self) -> str:
        return f"form={self.form!r}"


def um_total_loss(
    loss_cls: Tensor, loss_um: Tensor, loss_be: Tensor, alpha: float = 5e-4, beta: float = 1.0
) -> Tensor:
    """Eq. 5: the total UM objective ``L_total = L_cls + α L_um + β L_be``.

    Args:
        loss_cls: ``L_cls`` (Eq. 6, :func:`video_classification_loss`).
        loss_um: ``L_um`` (Eq. 7, :func:`uncertainty_modeling_loss`).
        loss_be: ``L_be`` (Eq. 8, :func:`background_entropy_loss`).
        alpha, beta: the balancing weights (official: 5e-4 and 1; both 0: the baseline).

    Returns:
        Scalar loss.
    """
    return loss_cls + alpha * loss_um + beta * loss_be


class UMObjective(nn.Module):
    """Module form of the total UM objective (Eq. 5, :func:`um_total_loss`).

    Args:
        alpha: weight of ``L_um`` (5e-4).
        beta: weight of ``L_be`` (1.0).
        margin: ``m`` of Eq. 7 (100).
        form: ``"official"`` or ``"paper"`` form of ``L_cls`` and ``L_be``.

    ``forward(video_probs, background_probs, action_features, background_features, labels)``
    returns ``(total, terms)`` with ``terms = {"loss_cls", "loss_um", "loss_be", "loss_total"}``
    (detached copies, for logging). With ``alpha = beta = 0`` it is the paper's baseline.
    """

    def __init__(
        self,
        alpha: float = 5e-4,
        beta: float = 1.0,
        margin: float = 100.0,
        form: LossForm = "official",
    ) -> None:
        super().__init__()
        if alpha < 0 or beta < 0:
            raise ValueError(f"alpha and beta must be >= 0, got {alpha}, {beta}")
        self.cls = VideoClassificationLoss(form)
        self.um = UncertaintyModelingLoss(margin)
        self.be = BackgroundEntropyLoss(form)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def forward(
        self,
        video_probs: Tensor,
        background_probs: Tensor,
        action_features: Tensor,
        background_features: Tensor,
        labels: Tensor,
        action_valid: Tensor | None = None,
        background_valid: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``(total, terms)`` for probabilities ``(B, C)``, pseudo features ``(B, k, D)`` and labels ``(B, C)``."""
        loss_cls = self.cls(video_probs, labels)
        loss_um = self.um(action_features, background_features, action_valid, background_valid)
        loss_be = self.be(background_probs)
        total = um_total_loss(loss_cls, loss_um, loss_be, self.alpha, self.beta)
        terms = {
            "loss_cls": loss_cls.detach(),
            "loss_um": loss_um.detach(),
            "loss_be": loss_be.detach(),
            "loss_total": total.detach(),
        }
        return total, terms

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}"
