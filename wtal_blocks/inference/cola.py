"""The CoLA inference pipeline (the official ``test_all()``, docs/official-code.md), batched.

From a :class:`~wtal_blocks.models.cola.CoLAOutput` of a batch of test videos to detections:

1. classes to localise: video probability ``>= 0.2``, or the arg-max class when none is
   (:func:`~wtal_blocks.inference.common.select_classes`);
2. the CAS of every class min-max normalised over time (``max = relu(max_t)``,
   ``min = relu(min_t)``, denominator ``<= 0`` → 1, clipped to [0, 1]), no fusion with any
   other signal; the actionness normalised the same way, one curve per video shared by all its
   classes (:func:`~wtal_blocks.inference.common.minmax_over_time`);
3. proposals (:class:`~wtal_blocks.proposals.ProposalGenerator`), pooled per class, from two
   threshold families on the x24 upsampled sequences:

   * 10 CAS thresholds ``0, 0.025, …, 0.225``: candidates where the thresholded CAS is
     ``> 0``, scored on the *thresholded* CAS;
   * 33 actionness thresholds ``0.1, 0.125, …, 0.9``: candidates where the normalised
     actionness is ``>= thr`` (and ``> 0``), scored on the *un-thresholded* normalised CAS;

   runs of at least 2 upsampled positions, outer-inner contrast ``inner − outer + 0.2 · p_c``;
   times ``a · f`` and ``(b + 1) · f`` with ``f = 16 L / (24 T · 25)``, ``T = min(L, 750)``;
4. per-class greedy NMS at 0.6 with the official "+1" convention on seconds
   (:func:`~wtal_blocks.nms.batched_temporal_nms`), all videos and classes in one call.

Faithful mode (``faithful=True``, the default) reproduces the official code's quirks; each
has a non-faithful fix (``faithful=False``):

* thresholds: the float64 values of NumPy's ``arange`` (``0.19999999999999998`` …) vs the
  decimal values ``i / 40``;
* past the last segment the upsampled sequences are extrapolated linearly (SciPy's
  ``fill_value="extrapolate"``; they may leave [0, 1]) vs holding the last value;
* a (class, threshold) whose only candidate position is 0 yields nothing (the official
  ``positions.any()``); with the minimum run length of 2 such a candidate is dropped either way.

Where the official code cannot produce an answer, this pipeline still does, in both modes
(the faithful path never raises): a predicted class whose candidates at some threshold are
all isolated single positions would make the official ``test_all()`` raise ``IndexError``
(here that (class, threshold) yields no proposal). On CoLA's clipped min-max sequences this
cannot happen: a sequence with candidates has its maximum normalised to exactly 1, and the
upsampled run around it is at least 2 positions long at every threshold ``<= 0.9``. A
one-segment video (SciPy cannot interpolate one point) gets a constant sequence. A video
shorter than 5 segments gets ``k = 1`` for its video score (officially ``T // 5 = 0``: NaN
probabilities; see :class:`~wtal_blocks.models.cola.CoLA`).

Arithmetic notes: the proposal score's ``0.2 · p_c`` is computed in float64 from the
float32 probability, as the official code does under NumPy 1.x (NumPy ≥ 2 rounds it in
float32, ~3e-9 apart). Order only: the official result lists a video's classes in order of
first appearance among the pooled proposals and each class in NMS keep order (equal scores in
NumPy's ``argsort`` order); here detections come in descending score order (equal scores in
pooled order), which is the same set of detections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from .._validation import check_finite, set_validation
from ..kernels.dispatch import Backend
from ..models.cola import CoLAOutput
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

__all__ = [
    "COLA_ACTIONNESS_THRESHOLDS",
    "COLA_CAS_THRESHOLDS",
    "CoLAInferenceConfig",
    "CoLAPostProcessor",
]

COLA_CAS_THRESHOLDS: tuple[float, ...] = numpy_arange(0.0, 0.25, 0.025)
"""The 10 official CAS thresholds ``0, 0.025, …, 0.225`` (NumPy ``arange`` values)."""
COLA_ACTIONNESS_THRESHOLDS: tuple[float, ...] = numpy_arange(0.1, 0.925, 0.025)
"""The 33 official actionness thresholds ``0.1, 0.125, …, 0.9`` (NumPy ``arange`` values,
e.g. ``0.19999999999999998`` and ``0.8999999999999998``)."""


@dataclass(frozen=True)
class CoLAInferenceConfig:
    """Test-time settings of CoLA (defaults = the official code).

    Attributes:
        class_threshold: classes with ``p_c >= class_threshold`` are localised (0.2); with
            none, the arg-max class (``class_fallback="argmax"``).
        cas_thresholds: thresholds on the normalised CAS (``None``: the 10 official ones,
            NumPy ``arange`` values when ``faithful``, ``i / 40`` otherwise).
        actionness_thresholds: thresholds on the normalised actionness (``None``: the 33
            official ones, likewise).
        scale: upsampling factor (24).
        outer_ratio: ``λ`` of the outer-inner contrast (0.25).
        video_score_weight: ``γ`` of the ``γ · p_c`` score term (0.2).
        min_length: shortest run kept, in upsampled positions (2).
        nms_threshold: per-class NMS threshold (0.6), suppression at ``IoU >= threshold``.
        nms_offset: NMS length convention (1.0: the official "+1" on seconds).
        frames_per_segment, feature_fps: time scale, ``f = 16 L / (scale · T · 25)``.
        class_fallback: ``"argmax"`` (official) or ``"none"``.
        faithful: reproduce the official quirks (module docstring).
    """

    class_threshold: float = 0.2
    cas_thresholds: tuple[float, ...] | None = None
    actionness_thresholds: tuple[float, ...] | None = None
    scale: int = 24
    outer_ratio: float = 0.25
    video_score_weight: float = 0.2
    min_length: int = 2
    nms_threshold: float = 0.6
    nms_offset: float = 1.0
    frames_per_segment: int = 16
    feature_fps: float = 25.0
    class_fallback: ClassFallback = "argmax"
    faithful: bool = True

    def __post_init__(self) -> None:
        check_inference_config(self)
        if self.class_fallback not in ("argmax", "none"):
            raise ValueError(
                f"class_fallback must be 'argmax' or 'none', got {self.class_fallback!r}"
            )
        if not 0.0 <= self.nms_threshold <= 1.0:
            raise ValueError(f"nms_threshold must be in [0, 1], got {self.nms_threshold}")
        if not 0.0 <= self.class_threshold <= 1.0:
            raise ValueError(f"class_threshold must be in [0, 1], got {self.class_threshold}")

    @property
    def resolved_cas_thresholds(self) -> tuple[float, ...]:
        """The CAS thresholds in use."""
        if self.cas_thresholds is not None:
            return tuple(self.cas_thresholds)
        return COLA_CAS_THRESHOLDS if self.faithful else tuple(i / 40 for i in range(10))

    @property
    def resolved_actionness_thresholds(self) -> tuple[float, ...]:
        """The actionness thresholds in use."""
        if self.actionness_thresholds is not None:
            return tuple(self.actionness_thresholds)
        if self.faithful:
            return COLA_ACTIONNESS_THRESHOLDS
        return tuple(i / 40 for i in range(4, 37))


class CoLAPostProcessor:
    """CoLA's test-time pipeline from network outputs to detections, for a batch of videos.

    Args:
        config: :class:`CoLAInferenceConfig` (official defaults).
        backend: NMS backend (``"auto" | "torch" | "triton"``).

    Call:
        ``post(output, lengths, durations=None)`` with ``output`` the eval-mode
        :class:`~wtal_blocks.models.cola.CoLAOutput` of a (padded) batch and ``lengths (B,)``
        each video's original number of feature segments ``L``. Returns one
        :class:`~wtal_blocks.proposals.VideoProposals` of detections per video (seconds,
        scores, class indices), in descending score order. ``durations (B,)`` (seconds)
        switches to duration-based times (features of any rate).
    """

    def __init__(
        self, config: CoLAInferenceConfig | None = None, *, backend: Backend | None = None
    ) -> None:
        self.config = config or CoLAInferenceConfig()
        c = self.config
        self.generator = proposal_generator(
            c, c.resolved_cas_thresholds, c.resolved_actionness_thresholds
        )
        self.backend = backend

    def scores(self, output: CoLAOutput) -> tuple[Tensor, Tensor]:
        """The normalised CAS ``(B, T, C)`` and the normalised actionness ``(B, T)``
        (clipped min-max over time; 0 on padding)."""
        cas = minmax_over_time(output.cas, output.mask)
        aness = minmax_over_time(output.actionness[:, :, None], output.mask)[:, :, 0]
        return cas, aness

    def proposals(
        self,
        output: CoLAOutput,
        lengths: Tensor | Sequence[int],
        durations: Tensor | Sequence[float] | None = None,
    ) -> ProposalBatch:
        """All proposals before NMS (flat, for the whole batch)."""
        mask = output.mask
        check_finite("cas", output.cas if mask is None else output.cas[mask])
        check_finite("actionness", output.actionness if mask is None else output.actionness[mask])
        check_finite("video_probs", output.video_probs)
        with set_validation(False):  # everything below is derived from the checked tensors
            cas, aness = self.scores(output)
            classes = select_classes(
                output.video_probs,
                self.config.class_threshold,
                fallback=self.config.class_fallback,
            )
            return self.generator(
                cas,
                output.video_probs,
                lengths,
                auxiliary=aness,
                classes=classes,
                mask=mask,
                durations=durations,
            )

    def __call__(
        self,
        output: CoLAOutput,
        lengths: Tensor | Sequence[int],
        durations: Tensor | Sequence[float] | None = None,
    ) -> list[VideoProposals]:
        """Detections per video."""
        return detections_per_video(
            self.proposals(output, lengths, durations),
            output.video_probs.shape[1],
            self.config.nms_threshold,
            offset=self.config.nms_offset,
            backend=self.backend,
        )
