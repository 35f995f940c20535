"""The BaS-Net network (Lee, Uh, Byun, AAAI 2020), assembled from the library's blocks.

Architecture, as in the official code:

* filtering module (:class:`~wtal_blocks.attention.ForegroundFilter`): ``Conv1d(F, 512, 1)`` →
  LeakyReLU(0.01) → ``Conv1d(512, 1, 1)`` → sigmoid: a foreground weight ``w_t`` per segment;
* CAS module, shared by both branches: ``Conv1d(F, 2048, 3, padding 1)`` → LeakyReLU →
  ``Conv1d(2048, 2048, 3, padding 1)`` → LeakyReLU → Dropout(0.7) →
  ``Conv1d(2048, C + 1, 1, bias=False)``: CAS logits ``(B, T, C + 1)``, the last class
  background (:func:`~wtal_blocks.layers.temporal_conv`);
* base branch on ``x``, suppression branch on ``w · x``
  (:func:`~wtal_blocks.attention.suppress_background`,
  :func:`~wtal_blocks.attention.shared_branches`), with independent dropout in training;
* video probabilities per branch: softmax over the ``C + 1`` classes of the top-``k`` mean of
  the CAS over time (:func:`~wtal_blocks.pooling.topk_mil_pooling`,
  :func:`~wtal_blocks.pooling.video_class_probabilities`), ``k = T // 8``.

``k`` comes from the input length here; the official code computes it once from the
configured ``T = 750`` (``750 // 8 = 93``). Training batches and the official test always
have exactly ``T`` segments (the test stretches short videos to ``T``), so the two agree on
every input the official code sees. In a padded batch each video uses its own valid length.

Module names mirror the official ``state_dict`` keys (``filter_module.conv_1.0.weight``,
``cas_module.conv_3.0.weight``, ...), so official checkpoints load directly
(:func:`load_basnet_checkpoint`) and ours load in the official code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..attention import LEAKY_SLOPE, ForegroundFilter, shared_branches, suppress_background
from ..layers import temporal_conv
from ..pooling import topk_mil_pooling, video_class_probabilities
from .checkpoint import CheckpointError, build_with_weights, check_state_dict, load_weights
from .dropout import DropoutMultipliers, MultiplierSpec
from .inputs import prepare_features

__all__ = ["BASNET_LAYOUT", "BaSNet", "BaSNetOutput", "load_basnet_checkpoint"]


@dataclass(frozen=True)
class BaSNetOutput:
    """Everything the BaS-Net forward pass produces (``C`` action classes, background last).

    Attributes:
        foreground_weights: ``(B, T)`` filtering-module weights ``w`` (0 at padding); None
            without the filter.
        cas_base: ``(B, T, C + 1)`` CAS logits of the base branch (input ``x``).
        cas_supp: ``(B, T, C + 1)`` CAS logits of the suppression branch (input ``w · x``);
            None without the filter.
        video_probs_base: ``(B, C + 1)`` base-branch video probabilities.
        video_probs_supp: ``(B, C + 1)`` suppression-branch video probabilities; None without
            the filter.
        video_probs: ``(B, C)`` the tested branch's first ``C`` probabilities (background
            dropped, not renormalised): the suppression branch's, or the base branch's without
            the filter. The official test thresholds these for the accuracy and the classes.
        mask: the ``(B, T)`` validity mask, or None for an unpadded batch.
    """

    foreground_weights: Tensor | None
    cas_base: Tensor
    cas_supp: Tensor | None
    video_probs_base: Tensor
    video_probs_supp: Tensor | None
    video_probs: Tensor
    mask: Tensor | None

    @property
    def cas(self) -> Tensor:
        """``(B, T, C + 1)`` the tested branch's CAS logits (suppression, or base without the
        filter)."""
        return self.cas_supp if self.cas_supp is not None else self.cas_base


class _CASModule(nn.Module):
    """The CAS network both branches share; attribute names match the official keys."""

    def __init__(self, feature_dim: int, num_classes: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.conv_1 = nn.Sequential(
            nn.Conv1d(feature_dim, hidden, kernel_size=3, stride=1, padding=1),
            nn.LeakyReLU(LEAKY_SLOPE),
        )
        self.conv_2 = nn.Sequential(
            nn.Conv1d(hidden, hidden, kernel_size=3, stride=1, padding=1),
            nn.LeakyReLU(LEAKY_SLOPE),
        )
        self.conv_3 = nn.Sequential(
            nn.Conv1d(hidden, num_classes + 1, kernel_size=1, stride=1, padding=0, bias=False)
        )
        self.drop_out = nn.Dropout(p=dropout)

    def forward(
        self, x: Tensor, multiplier: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        """``x (B, T, F)`` -> CAS logits ``(B, T, C + 1)``; ``multiplier (B, T, D)`` replaces
        the dropout; with ``mask (B, T)`` the hidden features of padded segments are zeroed,
        so that the second kernel-3 convolution sees the zero padding a video alone has."""
        h = x
        for block in (self.conv_1, self.conv_2):
            conv, act = block[0], block[1]
            assert isinstance(conv, nn.Conv1d)
            h = act(temporal_conv(h, conv))
            if mask is not None:
                h = h.masked_fill(~mask[:, :, None], 0.0)
        h = h * multiplier if multiplier is not None else self.drop_out(h)
        conv_3 = self.conv_3[0]
        assert isinstance(conv_3, nn.Conv1d)
        return temporal_conv(h, conv_3)


class BaSNet(nn.Module):
    """The BaS-Net network: filtering module and a CAS module shared by two branches.

    Args:
        feature_dim: input feature size ``F`` (1024 for one I3D stream, 2048 for RGB + flow).
        num_classes: ``C`` action classes (the CAS has ``C + 1``, background last).
        topk_ratio: ``k = T // topk_ratio`` segments are averaged for the video scores (8).
        dropout: dropout before the classifier (0.7).
        hidden: the CAS module's hidden size ``D`` (2048 in the official code).
        filter_hidden: the filtering module's hidden size (512 in the official code).
        use_filter: False runs the base branch alone (BaS-Net without the filter, the paper's
            ablation); the filtering module keeps its (unused) weights, so the checkpoint
            layout is the official one.

    Shape:
        ``x (B, T, F)``, optional ``mask (B, T)`` bool -> :class:`BaSNetOutput`. With a mask,
        padded inputs are zeroed first, so every valid output equals that of the video run
        alone (up to float rounding of batched reductions, ~1e-7 in float32).
    """

    def __init__(
        self,
        feature_dim: int,
        num_classes: int,
        *,
        topk_ratio: float = 8,
        dropout: float = 0.7,
        hidden: int = 2048,
        filter_hidden: int = 512,
        use_filter: bool = True,
    ) -> None:
        super().__init__()
        if feature_dim < 1 or num_classes < 1 or hidden < 1 or filter_hidden < 1:
            raise ValueError(
                "feature_dim, num_classes, hidden and filter_hidden must be >= 1, got "
                f"{feature_dim}, {num_classes}, {hidden}, {filter_hidden}"
            )
        if not topk_ratio >= 1:
            raise ValueError(f"topk_ratio must be >= 1, got {topk_ratio}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.topk_ratio = float(topk_ratio)
        self.dropout = float(dropout)
        self.hidden = hidden
        self.use_filter = bool(use_filter)
        self.filter_module = ForegroundFilter(feature_dim, filter_hidden)
        self.cas_module = _CASModule(feature_dim, num_classes, hidden, dropout)

    def multiplier_spec(self, batch: int, time: int) -> MultiplierSpec:
        """The dropout multipliers of a training step: the base branch's classifier input,
        then the suppression branch's (drawn independently, in the official order)."""
        spec = {"base": ((batch, time, self.hidden), self.dropout)}
        if self.use_filter:
            spec["supp"] = ((batch, time, self.hidden), self.dropout)
        return spec

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        *,
        multipliers: DropoutMultipliers | None = None,
    ) -> BaSNetOutput:
        """Run both branches; ``multipliers`` (training only) replace the drawn dropout."""
        x = prepare_features(x, mask, self.feature_dim)
        b, t = x.shape[:2]
        names = list(self.multiplier_spec(b, t))
        mults: list[Tensor | None] | None = None
        if multipliers is not None and self.training:
            mults = [multipliers.get(name, (b, t, self.hidden)) for name in names]

        weights: Tensor | None = None
        inputs = [x]
        if self.use_filter:
            weights = self.filter_module(x, mask)
            inputs.append(suppress_background(x, weights, mask))
        cas = shared_branches(self.cas_module, inputs, mults, mask)
        probs = [
            video_class_probabilities(topk_mil_pooling(c, ratio=self.topk_ratio, mask=mask))
            for c in cas
        ]
        return BaSNetOutput(
            foreground_weights=weights,
            cas_base=cas[0],
            cas_supp=cas[1] if self.use_filter else None,
            video_probs_base=probs[0],
            video_probs_supp=probs[1] if self.use_filter else None,
            video_probs=probs[-1][:, : self.num_classes],
            mask=mask,
        )

    def extra_repr(self) -> str:
        return f"topk_ratio={self.topk_ratio}, use_filter={self.use_filter}"


BASNET_LAYOUT = {
    "filter_module.conv_1.0.weight": ("H", "F", 1),
    "filter_module.conv_1.0.bias": ("H",),
    "filter_module.conv_2.0.weight": (1, "H", 1),
    "filter_module.conv_2.0.bias": (1,),
    "cas_module.conv_1.0.weight": ("D", "F", 3),
    "cas_module.conv_1.0.bias": ("D",),
    "cas_module.conv_2.0.weight": ("D", "D", 3),
    "cas_module.conv_2.0.bias": ("D",),
    "cas_module.conv_3.0.weight": ("C+1", "D", 1),
}
"""The official BaS-Net ``state_dict``: key -> shape (``H`` = 512 and ``D`` = 2048 in the
official network, ``C+1`` classes with background)."""


def load_basnet_checkpoint(
    path: str | os.PathLike[str],
    *,
    feature_dim: int | None = None,
    num_classes: int | None = None,
    map_location: str | torch.device = "cpu",
    **model_kwargs: object,
) -> BaSNet:
    """Build a :class:`BaSNet` from an official-format ``state_dict`` file.

    The file is read with ``torch.load(..., weights_only=True)`` (no code execution). Layer
    sizes are read from the weights; ``feature_dim`` and ``num_classes`` (``C``, without the
    background class), when given, are checked.

    Args:
        path: a ``torch.save``-d ``state_dict`` with the keys of :data:`BASNET_LAYOUT` (the
            official ``BaS_Net_model_seed_*.pkl``), or a training checkpoint of this library.
        feature_dim, num_classes: expected ``F`` and ``C`` (optional).
        map_location: device to load onto.
        **model_kwargs: further :class:`BaSNet` arguments (``topk_ratio``, ``use_filter`` ...).

    Raises:
        CheckpointError: an unreadable file, missing or unexpected keys, or shapes that
            contradict the layout, each other, ``feature_dim`` or ``num_classes``.
    """
    bound = {"F": feature_dim} if feature_dim is not None else {}
    if num_classes is not None:
        bound["C+1"] = num_classes + 1
    state, sizes = check_state_dict(
        load_weights(path, map_location), path, BASNET_LAYOUT, what="BaS-Net", bound=bound
    )
    if sizes["C+1"] < 2:
        raise CheckpointError(
            f"{os.fspath(path)}: key 'cas_module.conv_3.0.weight' has {sizes['C+1']} output "
            "class(es), expected C + 1 >= 2 (the action classes and background)"
        )
    model = build_with_weights(
        lambda: BaSNet(
            sizes["F"],
            sizes["C+1"] - 1,
            hidden=sizes["D"],
            filter_hidden=sizes["H"],
            **model_kwargs,  # type: ignore[arg-type]
        ),
        state,
    )
    return model.to(map_location)
