"""The UM network (paper Sec. 3.1-3.2), assembled from the library's blocks.

Architecture, as in the official code (which differs from the paper in the embedding size):

* embedding: ``Conv1d(F, 2048, kernel 3, padding 1)`` + ReLU over time → features ``(B, T, 2048)``;
* classifier: Dropout(0.7) then ``Conv1d(2048, C, kernel 1, bias=False)`` → CAS logits ``(B, T, C)``;
* magnitudes ``||f_t||``; pseudo action / background selection (:class:`PseudoSegmentSelector`);
* video score: softmax over classes of top-``action_k`` MIL pooling of the CAS (Eqs. 1-2);
* background score: softmax of the mean CAS over the pseudo background segments (official),
  or the mean of per-segment softmax over them (paper Eq. 8), chosen by ``background_score``;
* segment softmax over classes.

Module names mirror the official ``state_dict`` keys (``cas_module.conv.0.weight``,
``cas_module.conv.0.bias``, ``cas_module.classifier.0.weight``), so official checkpoints
load directly and our checkpoints load in the official code. On the CPU the embedding
convolution runs as one im2col GEMM (several times faster than the oneDNN convolution
there); elsewhere it is ``conv1d``. Both compute the same sums.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from .._validation import check_finite, check_mask, check_rank, shape_str
from ..pooling import topk_mil_pooling
from ..uncertainty import (
    PseudoSegments,
    PseudoSegmentSelector,
    feature_magnitude,
    gather_segments,
    masked_mean_magnitude,
)

__all__ = ["DropoutMultipliers", "UMOutput", "UncertaintyModelingNet", "load_official_checkpoint"]

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
        return masked_mean_magnitude(
            self.magnitudes, self.pseudo.action_index, self.pseudo.action_valid
        )

    @property
    def background_magnitude(self) -> Tensor:
        """``(B,)`` mean magnitude of the pseudo background segments (mean of norms)."""
        return masked_mean_magnitude(
            self.magnitudes, self.pseudo.background_index, self.pseudo.background_valid
        )


@dataclass(frozen=True)
class DropoutMultipliers:
    """Explicit dropout multipliers for one training forward pass.

    By default the network draws its two dropout masks (classifier input, then selection) from
    torch's global generator. A recipe can instead draw them itself (:meth:`sample`) from a dedicated
    generator for the *global* batch and hand each process its slice: training then gives the
    same numbers on one process or on N data-parallel ones.

    Attributes:
        features: ``(B, T, D)`` multiplier of the classifier input (0 or ``1/(1-p)``).
        selection: ``(B, T)`` multiplier of the pseudo segment selection scores.
    """

    features: Tensor
    selection: Tensor

    @staticmethod
    def sample(
        batch: int,
        time: int,
        embed_dim: int,
        p: float,
        generator: torch.Generator,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> DropoutMultipliers:
        """Draw both masks for a batch of ``batch`` videos from ``generator``."""
        scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
        feats = torch.empty(batch, time, embed_dim, device=device, dtype=dtype).bernoulli_(
            1.0 - p, generator=generator
        )
        sel = torch.empty(batch, time, device=device, dtype=dtype).bernoulli_(
            1.0 - p, generator=generator
        )
        return DropoutMultipliers(feats.mul_(scale), sel.mul_(scale))

    def slice(self, start: int, stop: int) -> DropoutMultipliers:
        """The masks of videos ``start:stop`` (one process's share of a global batch)."""
        return DropoutMultipliers(self.features[start:stop], self.selection[start:stop])


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
        if x.device.type == "cpu":
            # im2col + one GEMM: on CPUs this is several times faster than the oneDNN
            # convolution, forward and backward (same arithmetic up to summation order)
            padded = F.pad(x, (0, 0, 1, 1))
            cols = torch.cat([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]], dim=2)  # (B, T, 3F)
            weight = rearrange(conv.weight, "d f k -> d (k f)")
            h = torch.relu(F.linear(cols, weight, conv.bias))
        else:
            h = rearrange(self.conv(rearrange(x, "b t f -> b f t")), "b d t -> b t d")
        dropped = h * multiplier if (multiplier is not None and self.training) else self.drop_out(h)
        cas = F.linear(dropped, classifier.weight[:, :, 0])  # the 1x1 convolution
        return cas, h


class UncertaintyModelingNet(nn.Module):
    """The UM reference network.

    Args:
        feature_dim: input feature size ``F`` (1024 for one I3D modality, 2048 for RGB+flow).
        num_classes: ``C`` (20 for THUMOS'14, 100 / 200 for ActivityNet 1.2 / 1.3).
        embed_dim: embedded size ``D`` (2048 in the official code for any ``F``).
        action_ratio, background_ratio: ratios of ``action_k = T // action_ratio`` and ``background_k = T // background_ratio`` (9, 4).
        dropout: dropout of the classifier input and of the selection mask (0.7).
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
                f"feature_dim, embed_dim must be >= 1 and num_classes >= 2, got {feature_dim}, {embed_dim}, {num_classes}"
            )
        if background_score not in ("official", "paper"):
            raise ValueError(
                f"background_score must be 'official' or 'paper', got {background_score!r}"
            )
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.background_score = background_score
        self.cas_module = _CASModule(feature_dim, num_classes, embed_dim, dropout)
        self.selector = PseudoSegmentSelector(action_ratio, background_ratio, dropout)

    @property
    def action_ratio(self) -> float:
        return self.selector.action_ratio

    @property
    def background_ratio(self) -> float:
        return self.selector.background_ratio

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        *,
        multipliers: DropoutMultipliers | None = None,
    ) -> UMOutput:
        """Run the network; ``multipliers`` (training only) replace the internally drawn dropout."""
        check_rank("x", x, 3, "(B, T, F)")
        if x.shape[2] != self.feature_dim:
            raise ValueError(
                f"x must have F = feature_dim = {self.feature_dim} channels, got shape {shape_str(x)}"
            )
        if x.shape[1] == 0:
            raise ValueError(f"x has no segments (T = 0), shape {shape_str(x)}")
        check_mask(mask, x.shape[0], x.shape[1])
        if mask is not None:
            x = x.masked_fill(~mask[:, :, None], 0.0)
        check_finite("x", x)

        if multipliers is not None and (
            tuple(multipliers.features.shape) != (x.shape[0], x.shape[1], self.embed_dim)
            or tuple(multipliers.selection.shape) != (x.shape[0], x.shape[1])
        ):
            raise ValueError(
                f"multipliers must have shapes (B, T, D) = ({x.shape[0]}, {x.shape[1]}, {self.embed_dim}) and "
                f"(B, T), got {shape_str(multipliers.features)} and {shape_str(multipliers.selection)}"
            )
        train_multipliers = multipliers if self.training else None
        cas, features = self.cas_module(
            x, None if train_multipliers is None else train_multipliers.features
        )
        magnitudes = feature_magnitude(features)
        pseudo = self.selector(
            magnitudes, mask, None if train_multipliers is None else train_multipliers.selection
        )
        action_features = gather_segments(features, pseudo.action_index)
        background_features = gather_segments(features, pseudo.background_index)

        video_probs = torch.softmax(
            topk_mil_pooling(cas, ratio=self.selector.action_ratio, mask=mask), dim=1
        )
        bkg_cas = gather_segments(cas, pseudo.background_index)
        weights = pseudo.background_valid.to(cas.dtype)[:, :, None]
        n_bkg = pseudo.background_k.to(cas.dtype)[:, None]
        if self.background_score == "official":
            background_probs = torch.softmax((bkg_cas * weights).sum(dim=1) / n_bkg, dim=1)
        else:
            background_probs = (torch.softmax(bkg_cas, dim=2) * weights).sum(dim=1) / n_bkg
        return UMOutput(
            video_probs=video_probs,
            background_probs=background_probs,
            action_features=action_features,
            background_features=background_features,
            features=features,
            cas=cas,
            segment_probs=torch.softmax(cas, dim=2),
            magnitudes=magnitudes,
            pseudo=pseudo,
            mask=mask,
        )

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


def _load_weights(path: str | os.PathLike[str], map_location: str | torch.device) -> object:
    """``torch.load(..., weights_only=True)`` with errors that name the file."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: checkpoint file not found")
    try:
        return torch.load(os.fspath(path), map_location=map_location, weights_only=True)
    except Exception as exc:  # unpickling refused, truncated or not a torch file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"{path}: not a readable weights-only checkpoint ({first}); only tensors and plain "
            "containers are loaded, never pickled code"
        ) from None


_OFFICIAL_KEYS = (
    "cas_module.conv.0.weight",
    "cas_module.conv.0.bias",
    "cas_module.classifier.0.weight",
)


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
        ValueError: missing/unexpected keys or shapes that contradict ``feature_dim``/``num_classes``.
    """
    state = _load_weights(path, map_location)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # our training checkpoints wrap the weights
    if not isinstance(state, dict) or any(k not in state for k in _OFFICIAL_KEYS):
        found = sorted(state)[:6] if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            f"{path}: not an official UM state_dict; expected keys {_OFFICIAL_KEYS}, found {found}"
        )
    conv_w = state["cas_module.conv.0.weight"]
    cls_w = state["cas_module.classifier.0.weight"]
    embed, f_dim, kernel = conv_w.shape
    c_dim = cls_w.shape[0]
    if kernel != 3 or tuple(cls_w.shape[1:]) != (embed, 1):
        raise ValueError(
            f"{path}: unexpected weight shapes conv {tuple(conv_w.shape)}, classifier {tuple(cls_w.shape)}"
        )
    if feature_dim is not None and feature_dim != f_dim:
        raise ValueError(f"{path}: checkpoint has feature size F = {f_dim}, expected {feature_dim}")
    if num_classes is not None and num_classes != c_dim:
        raise ValueError(f"{path}: checkpoint has {c_dim} classes, expected {num_classes}")
    model = UncertaintyModelingNet(f_dim, c_dim, embed_dim=embed, **model_kwargs)  # type: ignore[arg-type]
    model.load_state_dict(state, strict=True)
    return model.to(map_location)
