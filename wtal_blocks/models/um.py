"""The UM network (paper Sec. 3.1-3.2), assembled from the library's blocks.

Architecture, as in the official code (which differs from the paper in the embedding size):

* embedding: ``Conv1d(F, 2048, kernel 3, padding 1)`` + ReLU over time → features ``(B, T, 2048)``
  (:func:`~wtal_blocks.layers.temporal_conv`);
* classifier: Dropout(0.7) then ``Conv1d(2048, C, kernel 1, bias=False)`` → CAS logits ``(B, T, C)``;
* magnitudes ``||f_t||``; pseudo action / background selection on them
  (:class:`~wtal_blocks.snippets.PseudoSegmentSelector`);
* video probabilities: top-``action_k`` MIL pooling of the CAS, then softmax (Eqs. 1-2);
* background probabilities: softmax of the mean CAS over the pseudo background segments
  (official), or the mean of per-segment softmax over them (paper Eq. 8), chosen by
  ``background_score``;
* segment probabilities: softmax over classes of the CAS (the first factor of Eq. 3).

Module names mirror the official ``state_dict`` keys (``cas_module.conv.0.weight``,
``cas_module.conv.0.bias``, ``cas_module.classifier.0.weight``), so official checkpoints
load directly and our checkpoints load in the official code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ..layers import pointwise_conv, temporal_conv
from ..pooling import topk_mil_pooling, video_class_probabilities
from ..snippets import PseudoSegments, PseudoSegmentSelector, gather_segments, mean_at
from ..uncertainty import feature_magnitude
from .checkpoint import build_with_weights, check_state_dict, load_weights
from .dropout import DropoutMultipliers, MultiplierSpec
from .inputs import prepare_features

__all__ = ["UMOutput", "UncertaintyModelingNet", "load_official_checkpoint"]

BackgroundScore = Literal["official", "paper"]


@dataclass(frozen=True)
class UMOutput:
    """Everything the UM forward pass produces (``K_act``/``K_bkg`` = max k over the batch).

    Attributes:
        video_probs: ``(B, C)`` video-level action probabilities (Eq. 2).
        background_probs: ``(B, C)`` class probabilities of the pseudo background.
        action_features: ``(B, K_act, D)`` embedded features of the pseudo action segments.
        background_features: ``(B, K_bkg, D)`` same for pseudo background.
        features: ``(B, T, D)`` embedded features.
        cas: ``(B, T, C)`` class activation sequence (logits).
        segment_probs: ``(B, T, C)`` segment-level softmax over classes.
        magnitudes: ``(B, T)`` feature magnitudes ``||f_t||``.
        pseudo: the selected pseudo segments (indices and validity).
        mask: the ``(B, T)`` validity mask, or None for an unpadded batch.
    """

    video_probs: Tensor
    background_probs: Tensor
    action_features: Tensor
    background_features: Tensor
    features: Tensor
    cas: Tensor
    segment_probs: Tensor
    magnitudes: Tensor
    pseudo: PseudoSegments
    mask: Tensor | None

    @property
    def action_magnitude(self) -> Tensor:
        """``(B,)`` mean magnitude of the pseudo action segments (mean of norms)."""
        return mean_at(self.magnitudes, self.pseudo.action)

    @property
    def background_magnitude(self) -> Tensor:
        """``(B,)`` mean magnitude of the pseudo background segments (mean of norms)."""
        return mean_at(self.magnitudes, self.pseudo.background)


class _CASModule(nn.Module):
    """Embedding + classifier; attribute names match the official checkpoint keys."""

    def __init__(self, feature_dim: int, num_classes: int, embed_dim: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(feature_dim, embed_dim, kernel_size=3, stride=1, padding=1), nn.ReLU()
        )
        self.classifier = nn.Sequential(
            nn.Conv1d(embed_dim, num_classes, kernel_size=1, bias=False)
        )
        self.drop_out = nn.Dropout(p=dropout)

    def forward(self, x: Tensor, multiplier: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x (B, T, F)`` -> ``(cas (B, T, C), features (B, T, D))``."""
        conv = self.conv[0]
        classifier = self.classifier[0]
        assert isinstance(conv, nn.Conv1d) and isinstance(classifier, nn.Conv1d)
        h = torch.relu(temporal_conv(x, conv))
        dropped = h * multiplier if multiplier is not None else self.drop_out(h)
        return pointwise_conv(dropped, classifier.weight), h


class UncertaintyModelingNet(nn.Module):
    """The UM reference network.

    Args:
        feature_dim: input feature size ``F`` (1024 for one I3D modality, 2048 for RGB+flow).
        num_classes: ``C`` (20 for THUMOS'14, 100 / 200 for ActivityNet 1.2 / 1.3).
        embed_dim: embedded size ``D`` (2048 in the official code for any ``F``).
        action_ratio, background_ratio: ``action_k = T // action_ratio`` and
            ``background_k = T // background_ratio`` (9, 4).
        dropout: dropout of the classifier input and of the selection (0.7).
        background_score: ``"official"`` (softmax of the mean background logits) or
            ``"paper"`` (mean of per-segment softmax, Eq. 8).

    Shape:
        ``x (B, T, F)``, optional ``mask (B, T)`` bool -> :class:`UMOutput`. With a mask, padded
        inputs are zeroed first, so every valid output equals that of the video run alone (up to
        float rounding: batched reductions sum in another order, ~1e-7 in float32).
    """

    def __init__(
        self,
        feature_dim: int = 2048,
        num_classes: int = 20,
        *,
        embed_dim: int = 2048,
        action_ratio: float = 9.0,
        background_ratio: float = 4.0,
        dropout: float = 0.7,
        background_score: BackgroundScore = "official",
    ) -> None:
        super().__init__()
        if feature_dim < 1 or num_classes < 2 or embed_dim < 1:
            raise ValueError(
                "feature_dim, embed_dim must be >= 1 and num_classes >= 2, got "
                f"{feature_dim}, {embed_dim}, {num_classes}"
            )
        if background_score not in ("official", "paper"):
            raise ValueError(
                f"background_score must be 'official' or 'paper', got {background_score!r}"
            )
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.dropout = dropout
        self.background_score = background_score
        self.cas_module = _CASModule(feature_dim, num_classes, embed_dim, dropout)
        self.selector = PseudoSegmentSelector(action_ratio, background_ratio, dropout)

    @property
    def action_ratio(self) -> float:
        return self.selector.action_ratio

    @property
    def background_ratio(self) -> float:
        return self.selector.background_ratio

    def multiplier_spec(self, batch: int, time: int) -> MultiplierSpec:
        """The dropout multipliers of a training step: classifier input, then selection."""
        return {
            "features": ((batch, time, self.embed_dim), self.dropout),
            "selection": ((batch, time), self.dropout),
        }

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        *,
        multipliers: DropoutMultipliers | None = None,
    ) -> UMOutput:
        """Run the network; ``multipliers`` (training only) replace the internally drawn dropout."""
        x = prepare_features(x, mask, self.feature_dim)
        b, t = x.shape[:2]
        feature_mult = selection_mult = None
        if multipliers is not None and self.training:
            feature_mult = multipliers.get("features", (b, t, self.embed_dim))
            selection_mult = multipliers.get("selection", (b, t))

        cas, features = self.cas_module(x, feature_mult)
        magnitudes = feature_magnitude(features)
        pseudo = self.selector(magnitudes, mask, selection_mult)
        pooled = topk_mil_pooling(cas, ratio=self.selector.action_ratio, mask=mask)
        return UMOutput(
            video_probs=video_class_probabilities(pooled),
            background_probs=self._background_probs(cas, pseudo),
            action_features=gather_segments(features, pseudo.action_index),
            background_features=gather_segments(features, pseudo.background_index),
            features=features,
            cas=cas,
            segment_probs=torch.softmax(cas, dim=2),
            magnitudes=magnitudes,
            pseudo=pseudo,
            mask=mask,
        )

    def _background_probs(self, cas: Tensor, pseudo: PseudoSegments) -> Tensor:
        """``p_c(s_bkg)`` of Eq. 8: the official softmax of the mean background logits, or the
        paper's mean of per-segment softmax."""
        if self.background_score == "official":
            return torch.softmax(mean_at(cas, pseudo.background), dim=1)
        return mean_at(torch.softmax(cas, dim=2), pseudo.background)

    @classmethod
    def from_official_checkpoint(
        cls,
        path: str | os.PathLike[str],
        *,
        map_location: str | torch.device = "cpu",
        **kwargs: object,
    ) -> UncertaintyModelingNet:
        """See :func:`load_official_checkpoint`."""
        return load_official_checkpoint(path, map_location=map_location, **kwargs)  # type: ignore[arg-type]


OFFICIAL_LAYOUT = {
    "cas_module.conv.0.weight": ("D", "F", 3),
    "cas_module.conv.0.bias": ("D",),
    "cas_module.classifier.0.weight": ("C", "D", 1),
}
"""The official UM ``state_dict``: key -> shape."""


def load_official_checkpoint(
    path: str | os.PathLike[str],
    *,
    feature_dim: int | None = None,
    num_classes: int | None = None,
    map_location: str | torch.device = "cpu",
    **model_kwargs: object,
) -> UncertaintyModelingNet:
    """Build a :class:`UncertaintyModelingNet` from an official-format ``state_dict`` file.

    The file is read with ``torch.load(..., weights_only=True)`` (no code execution). The
    feature size and class count are read from the weights; when given, they are checked.

    Args:
        path: a ``torch.save``-d ``state_dict`` with keys ``cas_module.conv.0.weight (D, F, 3)``,
            ``cas_module.conv.0.bias (D,)``, ``cas_module.classifier.0.weight (C, D, 1)``.
        feature_dim, num_classes: expected ``F`` and ``C`` (optional).
        map_location: device to load onto.
        **model_kwargs: further :class:`UncertaintyModelingNet` arguments (``action_ratio`` …).

    Raises:
        CheckpointError: an unreadable file, missing or unexpected keys, or shapes that
            contradict the layout, each other, ``feature_dim`` or ``num_classes``.
    """
    bound = {k: v for k, v in (("F", feature_dim), ("C", num_classes)) if v is not None}
    state, sizes = check_state_dict(
        load_weights(path, map_location), path, OFFICIAL_LAYOUT, what="UM", bound=bound
    )
    if sizes["C"] < 2:
        raise ValueError(f"{path}: the classifier has {sizes['C']} class(es), expected >= 2")
    model = build_with_weights(
        lambda: UncertaintyModelingNet(
            sizes["F"],
            sizes["C"],
            embed_dim=sizes["D"],
            **model_kwargs,  # type: ignore[arg-type]
        ),
        state,
    )
    return model.to(map_location)
