"""The CoLA network (Zhang et al., CVPR 2021, Sec. 3.1-3.2), assembled from the library's blocks.

Architecture, as in the official code:

* embedding: ``Conv1d(F, 2048, kernel 3, padding 1)`` + ReLU over time → embeddings
  ``(B, T, 2048)`` (:func:`~wtal_blocks.layers.temporal_conv`), kept *before* dropout for the
  SniCo loss;
* classifier: Dropout(0.7) then ``Conv1d(2048, C, kernel 1, bias=False)`` + **ReLU** → the CAS
  ``(B, T, C)``, non-negative (:func:`~wtal_blocks.layers.pointwise_conv`);
* actionness ``Σ_c CAS`` (:func:`~wtal_blocks.actionness.actionness`);
* easy segments: the ``T // 5`` largest of ``actionness × M`` (easy action, EA) and of
  ``(max_t actionness − actionness) × M`` (easy background, EB), with ``M`` a Dropout(0.6)
  applied to ones in training (:func:`~wtal_blocks.snippets.select_pseudo_segments`);
* hard segments: the ``T // 20`` most action-like segments of the inner (``m = 3``, ``M = 6``)
  erosion band (hard action, HA) and of the outer dilation band (hard background, HB) of the
  median-binarised actionness (:func:`~wtal_blocks.snippets.select_hard_segments`);
* video probabilities: top-``T // 5`` MIL pooling of the CAS, then softmax over classes
  (:func:`~wtal_blocks.pooling.topk_mil_pooling`, :func:`~wtal_blocks.pooling.video_class_probabilities`).

Module names mirror the official ``state_dict`` keys (``actionness_module.f_embed.0.weight``,
``actionness_module.f_embed.0.bias``, ``actionness_module.f_cls.0.weight``), so official
checkpoints load directly and ours load in the official code.

Differences from the official forward, none of which reaches the test-time outputs of a video
of 5 segments or more:

* ties among equal selection scores are broken by the earlier segment first (``stable=True``);
  the official ``torch.sort(descending=True)`` leaves their order to the sort implementation
  (on CPU it is not the stable order, and the official code runs it on CUDA). Ties are common
  in CoLA's selections (zero actionness, zero-valued band fills), so the training-time picks
  among equal values may differ; the set of values picked does not;
* ``k = max(1, T // ratio)``: the official ``T // ratio`` is 0 for videos shorter than the
  ratio (T < 5 makes the video scores NaN, T < 20 the SniCo loss NaN);
* the selections are computed on the device, without the official NumPy/SciPy round trip
  (identical values: NumPy's median, SciPy's erosion/dilation windows).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..actionness import actionness
from ..layers import pointwise_conv, temporal_conv
from ..pooling import topk_mil_pooling, video_class_probabilities
from ..snippets import (
    PseudoSegments,
    SelectedSegments,
    gather_segments,
    select_hard_segments,
    select_pseudo_segments,
)
from .checkpoint import CheckpointError, build_with_weights, check_state_dict, load_weights
from .dropout import DropoutMultipliers, MultiplierSpec
from .inputs import prepare_features

__all__ = ["COLA_OFFICIAL_LAYOUT", "CoLA", "CoLAOutput", "load_cola_checkpoint"]


@dataclass(frozen=True)
class CoLAOutput:
    """Everything the CoLA forward pass produces.

    Attributes:
        video_probs: ``(B, C)`` video-level class probabilities (softmax of the top-``T//5``
            mean of the CAS).
        cas: ``(B, T, C)`` class activation sequence, ReLU'd (non-negative).
        actionness: ``(B, T)`` ``Σ_c cas`` (0 on padding).
        embeddings: ``(B, T, D)`` segment embeddings, before dropout.
        easy: the easy action (EA) / easy background (EB) segments, ``k_easy`` each.
        hard_action: the hard action segments (HA), ``k_hard``.
        hard_background: the hard background segments (HB), ``k_hard``.
        mask: the ``(B, T)`` validity mask, or None for an unpadded batch.
    """

    video_probs: Tensor
    cas: Tensor
    actionness: Tensor
    embeddings: Tensor
    easy: PseudoSegments
    hard_action: SelectedSegments
    hard_background: SelectedSegments
    mask: Tensor | None

    @property
    def easy_action(self) -> SelectedSegments:
        """EA: the most action-like segments."""
        return self.easy.action

    @property
    def easy_background(self) -> SelectedSegments:
        """EB: the least action-like segments."""
        return self.easy.background

    def contrast_pairs(self) -> dict[str, Tensor]:
        """The embeddings of the four selections, ``(B, k, D)`` each, under the official
        ``contrast_pairs`` keys ``EA``, ``EB``, ``HA``, ``HB`` (padding entries, where ``k``
        varies per video, are copies of segment 0; see each selection's ``valid``)."""
        return {
            "EA": gather_segments(self.embeddings, self.easy.action_index),
            "EB": gather_segments(self.embeddings, self.easy.background_index),
            "HA": gather_segments(self.embeddings, self.hard_action.index),
            "HB": gather_segments(self.embeddings, self.hard_background.index),
        }


class _ActionnessModule(nn.Module):
    """Embedding + classifier; attribute names match the official checkpoint keys."""

    def __init__(self, feature_dim: int, num_classes: int, embed_dim: int, dropout: float) -> None:
        super().__init__()
        self.f_embed = nn.Sequential(
            nn.Conv1d(feature_dim, embed_dim, kernel_size=3, stride=1, padding=1), nn.ReLU()
        )
        self.f_cls = nn.Sequential(
            nn.Conv1d(embed_dim, num_classes, kernel_size=1, stride=1, padding=0, bias=False),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor, multiplier: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x (B, T, F)`` -> ``(embeddings (B, T, D), cas (B, T, C))``."""
        embed = self.f_embed[0]
        classifier = self.f_cls[0]
        assert isinstance(embed, nn.Conv1d) and isinstance(classifier, nn.Conv1d)
        embeddings = torch.relu(temporal_conv(x, embed))
        dropped = embeddings * multiplier if multiplier is not None else self.dropout(embeddings)
        return embeddings, torch.relu(pointwise_conv(dropped, classifier.weight))


class CoLA(nn.Module):
    """The CoLA network.

    Args:
        feature_dim: input feature size ``F`` (2048 for I3D RGB + flow).
        num_classes: ``C`` (20 for THUMOS'14).
        embed_dim: embedded size ``D`` (2048).
        easy_ratio: ``k_easy = T // easy_ratio`` easy action and easy background segments, and
            the top-k of the video scores (5).
        hard_ratio: ``k_hard = T // hard_ratio`` hard action and hard background segments (20).
        dropout: dropout of the classifier input (0.7).
        selection_dropout: drop probability of the easy-segment selection multiplier (0.6).
        inner, outer: the erosion/dilation windows ``m`` and ``M`` of the hard bands (3, 6).

    Shape:
        ``x (B, T, F)``, optional ``mask (B, T)`` bool -> :class:`CoLAOutput`. With a mask,
        padded inputs are zeroed first and every video uses its own ``k``, so every valid
        output equals that of the video run alone (up to float rounding of batched sums).
    """

    def __init__(
        self,
        feature_dim: int = 2048,
        num_classes: int = 20,
        *,
        embed_dim: int = 2048,
        easy_ratio: float = 5.0,
        hard_ratio: float = 20.0,
        dropout: float = 0.7,
        selection_dropout: float = 0.6,
        inner: int = 3,
        outer: int = 6,
    ) -> None:
        super().__init__()
        if feature_dim < 1 or num_classes < 2 or embed_dim < 1:
            raise ValueError(
                "feature_dim, embed_dim must be >= 1 and num_classes >= 2, got "
                f"{feature_dim}, {embed_dim}, {num_classes}"
            )
        if not (easy_ratio >= 1 and hard_ratio >= 1):
            raise ValueError(
                f"easy_ratio and hard_ratio must be >= 1, got {easy_ratio}, {hard_ratio}"
            )
        for name, p in (("dropout", dropout), ("selection_dropout", selection_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        if not 1 <= inner < outer:
            raise ValueError(f"need 1 <= inner < outer, got inner={inner}, outer={outer}")
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.easy_ratio = float(easy_ratio)
        self.hard_ratio = float(hard_ratio)
        self.dropout = float(dropout)
        self.selection_dropout = float(selection_dropout)
        self.inner = int(inner)
        self.outer = int(outer)
        self.actionness_module = _ActionnessModule(feature_dim, num_classes, embed_dim, dropout)

    def multiplier_spec(self, batch: int, time: int) -> MultiplierSpec:
        """The dropout multipliers of a training step: classifier input, then selection."""
        return {
            "features": ((batch, time, self.embed_dim), self.dropout),
            "selection": ((batch, time), self.selection_dropout),
        }

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        *,
        multipliers: DropoutMultipliers | None = None,
    ) -> CoLAOutput:
        """Run the network; ``multipliers`` (training only) replace the internally drawn dropout."""
        x = prepare_features(x, mask, self.feature_dim)
        b, t = x.shape[:2]
        feature_mult = selection_mult = None
        if self.training:
            if multipliers is not None:
                feature_mult = multipliers.get("features", (b, t, self.embed_dim))
                selection_mult = multipliers.get("selection", (b, t))
            elif self.selection_dropout > 0:
                selection_mult = F.dropout(
                    x.new_ones((b, t)), p=self.selection_dropout, training=True
                )

        embeddings, cas = self.actionness_module(x, feature_mult)
        aness = actionness(cas, mask)
        # the selections carry no gradient in the official code (indices only)
        ranking = aness.detach()
        easy = select_pseudo_segments(
            ranking,
            action_ratio=self.easy_ratio,
            background_ratio=self.easy_ratio,
            mask=mask,
            multiplier=selection_mult,
            stable=True,
        )
        hard_action, hard_background = select_hard_segments(
            ranking, hard_ratio=self.hard_ratio, inner=self.inner, outer=self.outer, mask=mask
        )
        pooled = topk_mil_pooling(cas, ratio=self.easy_ratio, mask=mask)
        return CoLAOutput(
            video_probs=video_class_probabilities(pooled),
            cas=cas,
            actionness=aness,
            embeddings=embeddings,
            easy=easy,
            hard_action=hard_action,
            hard_background=hard_background,
            mask=mask,
        )

    def extra_repr(self) -> str:
        return (
            f"easy_ratio={self.easy_ratio}, hard_ratio={self.hard_ratio}, "
            f"selection_dropout={self.selection_dropout}, inner={self.inner}, outer={self.outer}"
        )


COLA_OFFICIAL_LAYOUT = {
    "actionness_module.f_embed.0.weight": ("D", "F", 3),
    "actionness_module.f_embed.0.bias": ("D",),
    "actionness_module.f_cls.0.weight": ("C", "D", 1),
}
"""The official CoLA ``state_dict``: key -> shape."""


def load_cola_checkpoint(
    path: str | os.PathLike[str],
    *,
    feature_dim: int | None = None,
    num_classes: int | None = None,
    map_location: str | torch.device = "cpu",
    **model_kwargs: object,
) -> CoLA:
    """Build a :class:`CoLA` from an official-format ``state_dict`` file.

    The file is read with ``torch.load(..., weights_only=True)`` (no code execution). The
    feature size, embedded size and class count are read from the weights; when given,
    ``feature_dim`` and ``num_classes`` are checked.

    Args:
        path: a ``torch.save``-d ``state_dict`` with keys
            ``actionness_module.f_embed.0.weight (D, F, 3)``,
            ``actionness_module.f_embed.0.bias (D,)``,
            ``actionness_module.f_cls.0.weight (C, D, 1)`` (the official
            ``model_best.pth.tar``), or one of this library's training checkpoints.
        feature_dim, num_classes: expected ``F`` and ``C`` (optional).
        map_location: device to load onto.
        **model_kwargs: further :class:`CoLA` arguments (``easy_ratio`` …).

    Raises:
        CheckpointError: an unreadable file, missing or unexpected keys, or shapes that
            contradict the layout, each other, ``feature_dim`` or ``num_classes``; one line
            naming the file and the key.
    """
    bound = {k: v for k, v in (("F", feature_dim), ("C", num_classes)) if v is not None}
    state, sizes = check_state_dict(
        load_weights(path, map_location), path, COLA_OFFICIAL_LAYOUT, what="CoLA", bound=bound
    )
    if sizes["C"] < 2:
        raise CheckpointError(
            f"{os.fspath(path)}: key 'actionness_module.f_cls.0.weight' has "
            f"{sizes['C']} class(es), expected >= 2"
        )
    model = build_with_weights(
        lambda: CoLA(sizes["F"], sizes["C"], embed_dim=sizes["D"], **model_kwargs),  # type: ignore[arg-type]
        state,
    )
    return model.to(map_location)
