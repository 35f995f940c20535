"""Test-time steps the WTAL methods share: min-max over time and the choice of classes."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .._validation import check_mask, check_rank

__all__ = ["minmax_over_time", "select_classes"]

ClassFallback = Literal["argmax", "none"]


def minmax_over_time(x: Tensor, mask: Tensor | None = None, *, clip: bool = True) -> Tensor:
    """The official ``minmax_norm`` per video and class over time: ``(B, T, C) -> (B, T, C)``.

    ``max = relu(max_t x)``, ``min = relu(min_t x)``, ``(x - min) / (max - min)`` with a
    denominator ``<= 0`` replaced by 1. Padding (``mask == False``) is ignored and set to 0.

    Args:
        x: ``(B, T, C)`` sequences.
        mask: optional ``(B, T)`` bool validity mask.
        clip: clip the result to ``[0, 1]`` (UM and CoLA). BaS-Net's test does not clip, so
            values of a sequence whose minimum is negative stay negative.

    Example:
        >>> import torch
        >>> minmax_over_time(torch.tensor([[[-1.0], [1.0], [3.0]]]))[0, :, 0]
        tensor([0.0000, 0.3333, 1.0000])
    """
    check_rank("x", x, 3, "(B, T, C)")
    check_mask(mask, x.shape[0], x.shape[1])
    if mask is None:
        hi, lo = x.max(dim=1, keepdim=True).values, x.min(dim=1, keepdim=True).values
    else:
        m = mask[:, :, None]
        hi = x.masked_fill(~m, float("-inf")).max(dim=1, keepdim=True).values
        lo = x.masked_fill(~m, float("inf")).min(dim=1, keepdim=True).values
    hi, lo = torch.relu(hi), torch.relu(lo)
    delta = hi - lo
    delta = torch.where(delta <= 0, torch.ones_like(delta), delta)
    out = (x - lo) / delta
    if clip:
        out = out.clamp(0.0, 1.0)
    return out if mask is None else out.masked_fill(~mask[:, :, None], 0.0)


def select_classes(
    video_probs: Tensor, threshold: float = 0.2, *, fallback: ClassFallback = "argmax"
) -> Tensor:
    """The classes to localise in each video: ``(B, C)`` -> ``(B, C)`` bool.

    A class is chosen when its video probability is ``>= threshold``. When a video has none,
    ``fallback="argmax"`` chooses its most probable class (UM, CoLA) and ``"none"`` leaves the
    video without any (BaS-Net).
    """
    check_rank("video_probs", video_probs, 2, "(B, C)")
    if fallback not in ("argmax", "none"):
        raise ValueError(f"fallback must be 'argmax' or 'none', got {fallback!r}")
    chosen = video_probs >= threshold
    if fallback == "none":
        return chosen
    top = torch.zeros_like(chosen).scatter_(1, video_probs.argmax(dim=1, keepdim=True), True)
    return torch.where(chosen.any(dim=1, keepdim=True), chosen, top)
