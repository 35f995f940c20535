"""Uncertainty from feature magnitudes (paper Sec. 3.2) and pseudo segment selection.

* Eq. 4, training-time form: ``P(d = 1 | s_t) = min(m, ||f_t||) / m``.
* Official test-time form: a min-max normalisation of the magnitudes between the mean
  magnitude of the pseudo background segments and that of the pseudo action segments,
  ``u_t = clip((||f_t|| - mag_bkg) / (mag_act - mag_bkg), 0, 1)`` (denominator ``<= 0`` → 1).
* MIL selection: the ``action_k`` segments of largest magnitude are pseudo action, the ``background_k``
  of smallest magnitude pseudo background. The official code selects during training on
  ``magnitude * M`` and ``(max_t magnitude - magnitude) * M`` where ``M`` is a Dropout(0.7)
  applied to ones (kept entries become 1/0.3, dropped ones 0), so a random 70 % of the
  segments are demoted to score 0 at every step; in eval mode ``M`` is the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import repeat
from torch import Tensor, nn

from ._validation import check_finite, check_mask, check_rank, shape_str, valid_lengths
from .pooling import _resolve_k, masked_topk

__all__ = [
    "FeatureMagnitudeUncertainty",
    "PseudoSegmentSelector",
    "PseudoSegments",
    "feature_magnitude",
    "gather_segments",
    "magnitude_action_probability",
    "masked_mean_magnitude",
    "minmax_action_probability",
    "select_pseudo_segments",
]


def feature_magnitude(features: Tensor) -> Tensor:
    """L2 norm of every embedded feature vector: ``(B, T, D) -> (B, T)``."""
    check_rank("features", features, 3, "(B, T, D)")
    return torch.linalg.vector_norm(features, ord=2, dim=2)


def magnitude_action_probability(features: Tensor, margin: float = 100.0) -> Tensor:
    """Eq. 4: ``P(d=1 | s_t) = min(m, ||f_t||) / m``, the probability of being action.

    Args:
        features: ``(B, T, D)`` embedded features.
        margin: ``m``, the pre-defined maximum feature magnitude (100 in UM).

    Returns:
        ``(B, T)`` probabilities in ``[0, 1]``.
    """
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    check_finite("features", features)
    return feature_magnitude(features).clamp(max=margin) / margin


def minmax_action_probability(
    magnitudes: Tensor, action_magnitude: Tensor, background_magnitude: Tensor
) -> Tensor:
    """Official test-time ``P(d=1)``: magnitudes min-max normalised per video (Inference step 2).

    ``u = clip((mag - mag_bkg) / (mag_act - mag_bkg), 0, 1)``, where a denominator ``<= 0``
    is replaced by 1 (the official ``minmax_norm``).

    Args:
        magnitudes: ``(B, T)`` feature magnitudes.
        action_magnitude: ``(B,)`` mean magnitude of the pseudo action segments.
        background_magnitude: ``(B,)`` mean magnitude of the pseudo background segments.

    Returns:
        ``(B, T)`` in ``[0, 1]``.
    """
    check_rank("magnitudes", magnitudes, 2, "(B, T)")
    b = magnitudes.shape[0]
    for name, v in (
        ("action_magnitude", action_magnitude),
        ("background_magnitude", background_magnitude),
    ):
        if tuple(v.shape) != (b,):
            raise ValueError(f"{name} must have shape (B,) = ({b},), got {shape_str(v)}")
    delta = action_magnitude - background_magnitude
    delta = torch.where(delta <= 0, torch.ones_like(delta), delta)
    return ((magnitudes - background_magnitude[:, None]) / delta[:, None]).clamp(0.0, 1.0)


class FeatureMagnitudeUncertainty(nn.Module):
    """Probability of a segment being action from its feature magnitude (Eq. 4).

    ``forward(features)`` gives Eq. 4, ``min(m, ||f||) / m``; :meth:`test_time` gives the
    official code's test-time form (min-max between pseudo background and action magnitudes).
    The uncertainty (probability of being background) is ``1 - P(d=1)``.

    Args:
        margin: ``m``, the maximum feature magnitude (default 100, as in the paper).

    Shape:
        ``features (B, T, D) -> (B, T)``.
    """

    def __init__(self, margin: float = 100.0) -> None:
        super().__init__()
        if not margin > 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        self.margin = float(margin)

    def forward(self, features: Tensor) -> Tensor:
        return magnitude_action_probability(features, self.margin)

    @staticmethod
    def test_time(
        magnitudes: Tensor, action_magnitude: Tensor, background_magnitude: Tensor
    ) -> Tensor:
        """See :func:`minmax_action_probability`."""
        return minmax_action_probability(magnitudes, action_magnitude, background_magnitude)

    def extra_repr(self) -> str:
        return f"margin={self.margin}"


@dataclass(frozen=True)
class PseudoSegments:
    """Indices of the pseudo action / background segments of each video.

    Attributes:
        action_index: ``(B, K_act)`` int64 time indices, in descending selection score.
        action_valid: ``(B, K_act)`` bool; False marks padding when ``k`` varies per video.
        background_index: ``(B, K_bkg)`` int64.
        background_valid: ``(B, K_bkg)`` bool.
        action_k: ``(B,)`` int64 number of pseudo action segments per video.
        background_k: ``(B,)`` int64 number of pseudo background segments per video.
    """

    action_index: Tensor
    action_valid: Tensor
    background_index: Tensor
    background_valid: Tensor
    action_k: Tensor
    background_k: Tensor


def select_pseudo_segments(
    magnitudes: Tensor,
    action_k: int | Tensor | None = None,
    background_k: int | Tensor | None = None,
    *,
    action_ratio: float | None = None,
    background_ratio: float | None = None,
    mask: Tensor | None = None,
    multiplier: Tensor | None = None,
) -> PseudoSegments:
    """Top-``action_k`` / bottom-``background_k`` segments by feature magnitude (Sec. 3.2, MIL step).

    Selection follows the official code exactly: pseudo action = the ``action_k`` largest of
    ``magnitude * M``, pseudo background = the ``background_k`` largest of
    ``(max_t magnitude - magnitude) * M``, with ``M = multiplier`` (ones when omitted). The
    maximum is taken over the valid segments.

    Args:
        magnitudes: ``(B, T)`` feature magnitudes.
        action_k, background_k: counts (int or ``(B,)``), or give the ratios instead:
        action_ratio, background_ratio: ``k = max(1, ⌊T_n / r⌋)`` (UM: 9 and 4).
        mask: optional ``(B, T)`` bool validity mask; padding is never selected.
        multiplier: optional ``(B, T)`` non-negative multiplier ``M`` (training-time dropout).

    Returns:
        :class:`PseudoSegments`.
    """
    check_rank("magnitudes", magnitudes, 2, "(B, T)")
    b, t = magnitudes.shape
    if t == 0:
        raise ValueError("magnitudes has no segments (T = 0)")
    check_mask(mask, b, t)
    check_finite(
        "magnitudes", magnitudes if mask is None else magnitudes[mask]
    )  # padding is ignored
    lengths = valid_lengths(mask, b, t, magnitudes.device)
    ka, action_k_max = _resolve_k(
        "select_pseudo_segments(action_k)", action_k, action_ratio, lengths, t, mask is not None
    )
    kb, background_k_max = _resolve_k(
        "select_pseudo_segments(background_k)",
        background_k,
        background_ratio,
        lengths,
        t,
        mask is not None,
    )
    if multiplier is not None and tuple(multiplier.shape) != (b, t):
        raise ValueError(
            f"multiplier must have shape (B, T) = ({b}, {t}), got {shape_str(multiplier)}"
        )

    mag = magnitudes if mask is None else magnitudes.masked_fill(~mask, float("-inf"))
    peak = mag.max(dim=1, keepdim=True).values
    act_score = magnitudes
    bkg_score = peak - magnitudes
    if multiplier is not None:
        act_score = act_score * multiplier
        bkg_score = bkg_score * multiplier
    _, act_idx, act_valid = masked_topk(act_score[:, :, None], ka, mask, k_max=action_k_max)
    _, bkg_idx, bkg_valid = masked_topk(bkg_score[:, :, None], kb, mask, k_max=background_k_max)
    return PseudoSegments(act_idx[:, :, 0], act_valid, bkg_idx[:, :, 0], bkg_valid, ka, kb)


def gather_segments(x: Tensor, index: Tensor) -> Tensor:
    """Gather segments along time: ``x (B, T, D)``, ``index (B, K)`` -> ``(B, K, D)``."""
    return torch.gather(x, 1, repeat(index, "b k -> b k d", d=x.shape[2]))


def masked_mean_magnitude(magnitudes: Tensor, index: Tensor, valid: Tensor) -> Tensor:
    """Mean magnitude of the selected segments (mean of norms), ``(B,)``."""
    picked = torch.gather(magnitudes, 1, index)
    picked = torch.where(valid, picked, picked.new_zeros(()))
    return picked.sum(dim=1) / valid.sum(dim=1).to(picked.dtype)


class PseudoSegmentSelector(nn.Module):
    """Pseudo action / background selection by feature magnitude, as in the official code.

    In training mode a Dropout(``dropout``) mask applied to ones multiplies the selection
    scores (official behaviour: a random subset of segments is demoted at every step); in
    eval mode the selection is a plain top/bottom-k.

    Args:
        action_ratio: ratio for ``action_k = max(1, ⌊T / action_ratio⌋)`` (9).
        background_ratio: ratio for ``background_k = max(1, ⌊T / background_ratio⌋)`` (4).
        dropout: drop probability of the selection mask (0.7).

    Shape:
        ``magnitudes (B, T)``, optional ``mask (B, T)`` -> :class:`PseudoSegments`.
    """

    def __init__(
        self, action_ratio: float = 9.0, background_ratio: float = 4.0, dropout: float = 0.7
    ) -> None:
        super().__init__()
        if not (action_ratio >= 1 and background_ratio >= 1):
            raise ValueError(
                f"action_ratio and background_ratio must be >= 1, got {action_ratio}, {background_ratio}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.action_ratio = action_ratio
        self.background_ratio = background_ratio
        self.dropout = dropout

    def forward(
        self, magnitudes: Tensor, mask: Tensor | None = None, multiplier: Tensor | None = None
    ) -> PseudoSegments:
        """Select; in training mode ``multiplier`` (``(B, T)``) replaces the internally drawn mask."""
        if not self.training:
            multiplier = None
        elif multiplier is None and self.dropout > 0:
            multiplier = F.dropout(torch.ones_like(magnitudes), p=self.dropout, training=True)
        return select_pseudo_segments(
            magnitudes,
            action_ratio=self.action_ratio,
            background_ratio=self.background_ratio,
            mask=mask,
            multiplier=multiplier,
        )

    def extra_repr(self) -> str:
        return f"action_ratio={self.action_ratio}, background_ratio={self.background_ratio}, dropout={self.dropout}"
