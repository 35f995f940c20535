"""Uncertainty from feature magnitudes (UM paper Sec. 3.2).

* Eq. 3: the probability of class ``c`` factorises into the in-distribution class probability
  and the probability of being action, ``P(y = c | s) = P(y = c | d = 1, s) P(d = 1 | s)``
  (:func:`fused_action_probability`).
* Eq. 4, training-time form: ``P(d = 1 | s_t) = min(m, ||f_t||) / m``
  (:func:`magnitude_action_probability`).
* Official test-time form of ``P(d = 1)``: a min-max normalisation of the magnitudes between
  the mean magnitude of the pseudo background segments and that of the pseudo action
  segments, ``u_t = clip((||f_t|| - mag_bkg) / (mag_act - mag_bkg), 0, 1)`` (denominator
  ``<= 0`` → 1) (:func:`minmax_action_probability`).

The pseudo action/background segments themselves are chosen by
:func:`wtal_blocks.snippets.select_pseudo_segments`, on the magnitudes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._validation import check_finite, check_rank, shape_str

__all__ = [
    "FeatureMagnitudeUncertainty",
    "feature_magnitude",
    "fused_action_probability",
    "magnitude_action_probability",
    "minmax_action_probability",
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


def fused_action_probability(segment_probs: Tensor, action_probability: Tensor) -> Tensor:
    """Eq. 3: ``P(y = c | s_t) = P(y = c | d = 1, s_t) · P(d = 1 | s_t)``.

    Args:
        segment_probs: ``(B, T, C)`` in-distribution class probabilities (softmax over the
            classes of the CAS logits).
        action_probability: ``(B, T)`` probability of being action, ``P(d = 1 | s_t)``
            (Eq. 4 in training; :func:`minmax_action_probability` at test time).

    Returns:
        ``(B, T, C)`` the posterior class probabilities (UM's fused CAS before min-max).
    """
    check_rank("segment_probs", segment_probs, 3, "(B, T, C)")
    if tuple(action_probability.shape) != tuple(segment_probs.shape[:2]):
        raise ValueError(
            f"action_probability must have shape (B, T) = {tuple(segment_probs.shape[:2])}, "
            f"got {shape_str(action_probability)}"
        )
    return segment_probs * action_probability[:, :, None]
