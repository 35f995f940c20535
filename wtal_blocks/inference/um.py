"""The UM inference pipeline (the official ``test()``, docs/official-code.md), batched.

From a :class:`~wtal_blocks.models.UMOutput` of a batch of test videos to detections:

1. ``u``: the feature magnitudes min-max normalised between the mean magnitudes of the pseudo
   background and pseudo action segments (:func:`minmax_action_probability`);
2. fused score ``segment_softmax × u``, then a per-class min-max over time
   (``max = relu(max_t)``, ``min = relu(min_t)``, denominator ``<= 0`` → 1, clipped to [0, 1]);
3. classes to localise: video score ``>= 0.2``, or the arg-max class when none is;
4. proposals from 10 thresholds on the fused CAS and 9 on ``u`` (:class:`ProposalGenerator`);
5. per-class greedy NMS at 0.6 with the official "+1" convention on seconds
   (:func:`batched_temporal_nms`), all videos and classes in one call.

Arithmetic notes: the proposal score's ``γ · p_c(v)`` is computed in float64, as the official
code does under NumPy 1.x (NumPy ≥ 2 would round it in float32, ~3e-9 apart).

``scoring="softmax"`` gives the paper's baseline scoring (Table 3, first row): the min-max
normalised segment softmax alone, with no magnitude thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from torch import Tensor

from .._validation import check_finite, set_validation
from ..kernels.dispatch import Backend
from ..models.um import UMOutput
from ..proposals import (
    UM_CAS_THRESHOLDS,
    UM_MAGNITUDE_THRESHOLDS,
    ProposalBatch,
    VideoProposals,
)
from ..uncertainty import fused_action_probability, minmax_action_probability
from .common import (
    check_inference_config,
    detections_per_video,
    minmax_over_time,
    proposal_generator,
    select_classes,
)

__all__ = ["UMInferenceConfig", "UMPostProcessor"]

Scoring = Literal["fused", "softmax"]


@dataclass(frozen=True)
class UMInferenceConfig:
    """Test-time settings of UM (defaults = the official code)."""

    class_threshold: float = 0.2
    cas_thresholds: tuple[float, ...] = field(default=UM_CAS_THRESHOLDS)
    magnitude_thresholds: tuple[float, ...] = field(default=UM_MAGNITUDE_THRESHOLDS)
    scale: int = 24
    outer_ratio: float = 0.25
    video_score_weight: float = 0.2
    min_length: int = 2
    nms_threshold: float = 0.6
    nms_offset: float = 1.0
    frames_per_segment: int = 16
    feature_fps: float = 25.0
    scoring: Scoring = "fused"
    faithful: bool = True

    def __post_init__(self) -> None:
        check_inference_config(self)
        if self.scoring not in ("fused", "softmax"):
            raise ValueError(f"scoring must be 'fused' or 'softmax', got {self.scoring!r}")
        if not 0.0 <= self.nms_threshold <= 1.0:
            raise ValueError(f"nms_threshold must be in [0, 1], got {self.nms_threshold}")


class UMPostProcessor:
    """UM's test-time pipeline from network outputs to detections, for a batch of videos.

    Args:
        config: :class:`UMInferenceConfig` (official defaults).
        backend: NMS backend (``"auto" | "torch" | "triton"``).

    Call:
        ``post(output, lengths)`` with ``output`` the eval-mode :class:`UMOutput` of a
        (padded) batch and ``lengths (B,)`` each video's original number of feature
        segments. Returns one :class:`VideoProposals` of detections per video (seconds,
        scores, class indices), in descending score order.
    """

    def __init__(
        self, config: UMInferenceConfig | None = None, *, backend: Backend | None = None
    ) -> None:
        self.config = config or UMInferenceConfig()
        c = self.config
        self.generator = proposal_generator(c, c.cas_thresholds, c.magnitude_thresholds)
        self.backend = backend

    def scores(self, output: UMOutput) -> tuple[Tensor, Tensor]:
        """Fused (or softmax) CAS ``(B, T, C)`` and the normalised magnitude ``u (B, T)``."""
        u = minmax_action_probability(
            output.magnitudes, output.action_magnitude, output.background_magnitude
        )
        if output.mask is not None:
            u = u.masked_fill(~output.mask, 0.0)
        if self.config.scoring == "softmax":
            return minmax_over_time(output.segment_probs, output.mask), u
        return minmax_over_time(fused_action_probability(output.segment_probs, u), output.mask), u

    def proposals(
        self,
        output: UMOutput,
        lengths: Tensor | Sequence[int],
        durations: Tensor | Sequence[float] | None = None,
    ) -> ProposalBatch:
        """All proposals before NMS (flat, for the whole batch)."""
        for name in ("segment_probs", "magnitudes", "video_probs"):
            value = getattr(output, name)
            check_finite(
                name,
                value
                if output.mask is None or (value.dim() == 2 and name == "video_probs")
                else value[output.mask],
            )
        with set_validation(False):  # everything below is derived from the checked tensors
            cas, u = self.scores(output)
            classes = select_classes(output.video_probs, self.config.class_threshold)
            aux = u if self.config.scoring == "fused" else None
            return self.generator(
                cas,
                output.video_probs,
                lengths,
                auxiliary=aux,
                classes=classes,
                mask=output.mask,
                durations=durations,
            )

    def __call__(
        self,
        output: UMOutput,
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
