"""The BaS-Net inference pipeline (the official ``test()``, docs/official-code.md), batched.

From a :class:`~wtal_blocks.models.BaSNetOutput` of a batch of test videos (each sampled to
exactly ``T`` segments, short videos stretched) to detections; only the suppression branch is
used (the base branch without the filter):

1. classes to localise: the first ``C`` video probabilities (background dropped, not
   renormalised) ``>= 0.25``; no arg-max fallback, so a video with none gets no detection;
2. the video scores binarised (1 for a localised class), so the proposal score term
   ``0.2 · s`` is the constant 0.2;
3. per-class min-max over time of the CAS *logits* (``max = relu(max_t)``,
   ``min = relu(min_t)``, denominator ``<= 0`` → 1), not clipped: values below the minimum's
   ``relu`` stay negative;
4. proposals from 10 thresholds ``0, 0.025, …, 0.225`` (NumPy ``arange`` values) on the ×24
   upsampled sequence, runs of every length (single positions too), scored by outer-inner
   contrast on the thresholded sequence (:class:`~wtal_blocks.proposals.ProposalGenerator`);
5. per-class greedy NMS at 0.7 with the "+1" convention on seconds
   (:func:`~wtal_blocks.nms.batched_temporal_nms`), all videos and classes in one call.

``faithful=True`` (the default) reproduces the official code's quirks; ``faithful=False``
fixes each of them:

* a video whose only localised class is index 0 (BaseballPitch on THUMOS'14) gets no detection
  (the official ``pred.any()`` tests the class *indices*); fixed: it is localised;
* a (class, threshold) whose only candidate is upsampled position 0 yields nothing (``any()``
  of ``[0]`` is false); fixed: it yields its one-position proposal;
* past the last segment the upsampled sequence is extrapolated linearly (23 positions that may
  leave ``[0, 1]``); fixed: the last value is held.

Where the official code raises (``IndexError``, aborting the whole test) we never do: a
localised class without any proposal at some threshold (no candidate, or only position 0)
simply contributes nothing at that threshold, and the other classes and thresholds go on.

Settings that are design choices rather than quirks have their own fields (official values by
default): ``class_fallback`` (``"none"``; ``"argmax"`` localises the most probable class of a
video with none above the threshold), ``clip`` (False; True clips the min-max to [0, 1]) and
``video_score`` (``"binarised"``; ``"probability"`` uses ``0.2 · p_c(v)`` as UM does).

Arithmetic notes: the score term is computed in float64, as the official code does under
NumPy 1.x (NumPy >= 2 rounds it to float32, ~3e-9 apart).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from .._validation import check_finite, set_validation
from ..kernels.dispatch import Backend
from ..models.basnet import BaSNetOutput
from ..proposals import ProposalBatch, VideoProposals
from ..segments import numpy_arange
from .common import (
    ClassFallback,
    check_inference_config,
    detections_per_video,
    minmax_over_time,
    proposal_generator,
    select_classes,
)

__all__ = ["BASNET_CAS_THRESHOLDS", "BaSNetInferenceConfig", "BaSNetPostProcessor"]

VideoScore = Literal["binarised", "probability"]

BASNET_CAS_THRESHOLDS: tuple[float, ...] = numpy_arange(0.0, 0.25, 0.025)
"""The 10 official CAS thresholds ``0, 0.025, …, 0.225`` (NumPy ``arange`` values, e.g.
``0.07500000000000001``)."""


@dataclass(frozen=True)
class BaSNetInferenceConfig:
    """Test-time settings of BaS-Net (defaults = the official code).

    Attributes:
        class_threshold: classes with video probability ``>=`` this are localised (0.25).
        cas_thresholds: thresholds on the min-max normalised CAS (NumPy
            ``arange(0, 0.25, 0.025)``).
        scale: temporal upsampling factor (24).
        outer_ratio: ``λ``, the outer region's length relative to the run (0.25).
        video_score_weight: ``γ`` of the score term ``γ · s`` (0.2).
        video_score: ``s``: ``"binarised"`` (official: 1 for a localised class, so the term is
            the constant ``γ``) or ``"probability"`` (``p_c(v)``).
        min_length: runs shorter than this many upsampled positions are dropped (1: none).
        nms_threshold: greedy NMS suppresses at ``IoU >= 0.7``.
        nms_offset: the "+1" length convention of the official NMS on seconds (1.0).
        frames_per_segment, feature_fps: the time scale (16 frames per segment at 25 fps).
        class_fallback: ``"none"`` (official) or ``"argmax"`` for a video with no class above
            the threshold.
        clip: clip the min-max normalised CAS to [0, 1] (official: False).
        faithful: reproduce the official quirks (module docstring); False fixes each.
    """

    class_threshold: float = 0.25
    cas_thresholds: tuple[float, ...] = field(default=BASNET_CAS_THRESHOLDS)
    scale: int = 24
    outer_ratio: float = 0.25
    video_score_weight: float = 0.2
    video_score: VideoScore = "binarised"
    min_length: int = 1
    nms_threshold: float = 0.7
    nms_offset: float = 1.0
    frames_per_segment: int = 16
    feature_fps: float = 25.0
    class_fallback: ClassFallback = "none"
    clip: bool = False
    faithful: bool = True

    def __post_init__(self) -> None:
        check_inference_config(self)
        if not 0.0 <= self.class_threshold <= 1.0:
            raise ValueError(f"class_threshold must be in [0, 1], got {self.class_threshold}")
        if not 0.0 <= self.nms_threshold <= 1.0:
            raise ValueError(f"nms_threshold must be in [0, 1], got {self.nms_threshold}")
        if self.video_score not in ("binarised", "probability"):
            raise ValueError(
                f"video_score must be 'binarised' or 'probability', got {self.video_score!r}"
            )
        if self.class_fallback not in ("none", "argmax"):
            raise ValueError(
                f"class_fallback must be 'none' or 'argmax', got {self.class_fallback!r}"
            )


class BaSNetPostProcessor:
    """BaS-Net's test-time pipeline from network outputs to detections, for a batch of videos.

    Args:
        config: :class:`BaSNetInferenceConfig` (official defaults).
        backend: NMS backend (``"auto" | "torch" | "triton"``).

    Call:
        ``post(output, lengths, durations=None)`` with ``output`` the eval-mode
        :class:`~wtal_blocks.models.BaSNetOutput` of a (padded) batch and ``lengths (B,)``
        each video's original number of feature segments ``L`` (times are
        ``position · 16 L / (24 · T · 25)`` seconds; with ``durations (B,)`` seconds,
        ``position · duration / (24 · T)``). Returns one
        :class:`~wtal_blocks.proposals.VideoProposals` of detections per video (seconds,
        float64 scores, class indices), in descending score order; a video without a
        localised class has none.
    """

    def __init__(
        self, config: BaSNetInferenceConfig | None = None, *, backend: Backend | None = None
    ) -> None:
        self.config = config or BaSNetInferenceConfig()
        c = self.config
        self.generator = proposal_generator(c, c.cas_thresholds)
        self.backend = backend

    def classes(self, video_probs: Tensor) -> Tensor:
        """The classes to localise, ``(B, C)`` probabilities -> ``(B, C)`` bool.

        ``p >= class_threshold`` (with ``class_fallback``); in faithful mode a video whose
        only chosen class is index 0 gets none (the official ``pred.any()`` on the indices).
        """
        chosen = select_classes(
            video_probs, self.config.class_threshold, fallback=self.config.class_fallback
        )
        if self.config.faithful:
            chosen = chosen & chosen[:, 1:].any(dim=1, keepdim=True)
        return chosen

    def scores(self, output: BaSNetOutput) -> Tensor:
        """``(B, T, C)``: the tested branch's CAS logits, min-max normalised per class over
        time (not clipped by default), background dropped."""
        c = output.video_probs.shape[1]
        return minmax_over_time(output.cas[:, :, :c], output.mask, clip=self.config.clip)

    def proposals(
        self,
        output: BaSNetOutput,
        lengths: Tensor | Sequence[int],
        durations: Tensor | Sequence[float] | None = None,
    ) -> ProposalBatch:
        """All proposals before NMS (flat, for the whole batch)."""
        cas = output.cas
        check_finite("cas", cas if output.mask is None else cas[output.mask])
        check_finite("video_probs", output.video_probs)
        with set_validation(False):  # everything below is derived from the checked tensors
            classes = self.classes(output.video_probs)
            if self.config.video_score == "binarised":
                # the official scores binarised in place: 1 where localised (>= threshold)
                passed = output.video_probs >= self.config.class_threshold
                video_scores = passed.to(torch.float64)
            else:
                video_scores = output.video_probs
            return self.generator(
                self.scores(output),
                video_scores,
                lengths,
                classes=classes,
                mask=output.mask,
                durations=durations,
            )

    def __call__(
        self,
        output: BaSNetOutput,
        lengths: Tensor | Sequence[int],
        durations: Tensor | Sequence[float] | None = None,
    ) -> list[VideoProposals]:
        """Detections per video; ``durations`` (seconds) switches to duration-based times."""
        return detections_per_video(
            self.proposals(output, lengths, durations),
            output.video_probs.shape[1],
            self.config.nms_threshold,
            offset=self.config.nms_offset,
            backend=self.backend,
        )
