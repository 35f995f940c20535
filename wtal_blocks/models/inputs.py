"""The input check every reference model starts its forward pass with."""

from __future__ import annotations

from torch import Tensor

from .._validation import check_finite, check_mask, check_rank, shape_str

__all__ = ["prepare_features"]


def prepare_features(x: Tensor, mask: Tensor | None, feature_dim: int) -> Tensor:
    """``x (B, T, F)`` checked against the model and its ``mask``, with padding set to 0.

    Zeroing the padded segments makes every valid output of a padded batch equal that of the
    video run alone (a temporal convolution would otherwise see the padding's values).

    Raises:
        ValueError: not ``(B, T, F)`` with ``F = feature_dim``, no segments, a mask of another
            shape, or a NaN/inf value (with checks on).
    """
    check_rank("x", x, 3, "(B, T, F)")
    if x.shape[2] != feature_dim:
        raise ValueError(
            f"x must have F = feature_dim = {feature_dim} channels, got shape {shape_str(x)}"
        )
    if x.shape[1] == 0:
        raise ValueError(f"x has no segments (T = 0), shape {shape_str(x)}")
    check_mask(mask, x.shape[0], x.shape[1])
    if mask is not None:
        x = x.masked_fill(~mask[:, :, None], 0.0)
    check_finite("x", x)
    return x
