"""Test-time steps the WTAL methods share: min-max over time, the choice of classes, and the
per-class NMS that ends every method's pipeline."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from .._validation import check_mask, check_rank
from ..kernels.dispatch import Backend
from ..nms import batched_temporal_nms
from ..proposals import ProposalBatch, ProposalGenerator, VideoProposals

__all__ = [
    "check_inference_config",
    "detections_per_video",
    "minmax_over_time",
    "proposal_generator",
    "select_classes",
]

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


_UNIT = ("class_threshold", "nms_threshold")
_NON_NEGATIVE = ("outer_ratio", "video_score_weight", "nms_offset")
_POSITIVE = ("frames_per_segment", "feature_fps")
_COUNTS = ("scale", "min_length")


def check_inference_config(config: object) -> None:
    """The settings every post-processing configuration shares, each checked by name when the
    configuration has it: probabilities and IoU thresholds in ``[0, 1]``, weights and offsets
    finite and ``>= 0``, rates ``> 0``, counts whole and ``>= 1``, threshold lists finite (an empty list turns a family off).

    Raises:
        ValueError: one line naming the field and the value.
    """
    for name, value in vars(config).items():
        if name in _COUNTS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
            continue
        if isinstance(value, tuple) and name.endswith("thresholds"):
            bad = [v for v in value if not isinstance(v, (int, float)) or not math.isfinite(v)]
            if bad or not value:
                raise ValueError(
                    f"{name} must be a non-empty list of finite numbers, got {value!r}"
                )
            continue
        if name not in _UNIT + _NON_NEGATIVE + _POSITIVE:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        if name in _UNIT and not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
        if name in _NON_NEGATIVE and value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
        if name in _POSITIVE and value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")


def detections_per_video(
    batch: ProposalBatch,
    num_classes: int,
    threshold: float,
    *,
    offset: float,
    backend: Backend | None = None,
) -> list[VideoProposals]:
    """Greedy NMS within each (video, class) of a batch's proposals, then one
    :class:`VideoProposals` per video in descending score order (the last step of UM, BaS-Net
    and CoLA alike).

    Args:
        batch: every proposal of the batch (flat, with video and class indices).
        num_classes: ``C``, to number the (video, class) groups.
        threshold: suppress at ``IoU >= threshold``.
        offset: the length convention (1 for the official "+1" on seconds).
        backend: the NMS backend.
    """
    groups = batch.video * num_classes + batch.labels
    keep = batched_temporal_nms(
        batch.segments, batch.scores, groups, threshold, offset=offset, backend=backend
    )
    return batch.select(keep).split()


def proposal_generator(
    config: Any, thresholds: Sequence[float], auxiliary_thresholds: Sequence[float] = ()
) -> ProposalGenerator:
    """The :class:`~wtal_blocks.ProposalGenerator` of a method's inference configuration.

    Every method's configuration names the generator's settings alike (``scale``,
    ``outer_ratio``, ``video_score_weight``, ``min_length``, ``frames_per_segment``,
    ``feature_fps``, ``faithful``); the thresholds are the method's own.
    """
    return ProposalGenerator(
        thresholds,
        auxiliary_thresholds,
        scale=config.scale,
        outer_ratio=config.outer_ratio,
        video_score_weight=config.video_score_weight,
        min_length=config.min_length,
        frames_per_segment=config.frames_per_segment,
        feature_fps=config.feature_fps,
        faithful=config.faithful,
    )
