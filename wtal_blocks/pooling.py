"""Top-k multiple-instance-learning (MIL) pooling — UM paper Eq. 1 — and Eq. 2's softmax.

For every video ``n`` and class ``c`` the video-level raw score is the mean of the ``k``
largest segment scores along time::

    a_c(v_n) = 1/k * max_{A ⊂ A_n[c, :], |A| = k} Σ_{a ∈ A} a

``k`` is given directly or as a ratio ``r`` of the video length, ``k = max(1, ⌊T_n / r⌋)``
(the official code uses ``T // r``; the clamp to 1 only matters for videos shorter than ``r``,
where the official code would average an empty set and return NaN).

Padded batches are supported through a boolean ``mask (B, T)`` (True = real segment): each
video then uses its own valid length, and padding never enters a result.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import torch
from torch import Tensor, nn

from ._validation import check_finite_where, check_mask, check_rank, shape_str, valid_lengths
from .kernels.dispatch import BACKEND_ENV_VAR, Backend, resolve_backend, topk_backend_for

__all__ = [
    "TopKMILPooling",
    "TopKResult",
    "k_from_ratio",
    "masked_topk",
    "topk_mil_pooling",
    "topk_mil_pooling_with_indices",
    "video_class_probabilities",
]


class TopKResult(NamedTuple):
    """Result of :func:`topk_mil_pooling_with_indices`.

    Attributes:
        values: ``(B, C)`` mean of the top-k scores per video and class.
        indices: ``(B, K, C)`` int64 time indices of the selected segments, in descending
            score order, ``K = max_n k_n``. Entries at ``j >= k_n`` are padding (index 0).
        valid: ``(B, K)`` bool, ``valid[n, j] = j < k_n``.
        k: ``(B,)`` int64, the k used for each video.
    """

    values: Tensor
    indices: Tensor
    valid: Tensor
    k: Tensor


def k_from_ratio(lengths: Tensor | int, ratio: float) -> Tensor:
    """``k = max(1, length // ratio)`` per video (Eq. 1's ``action_k = T / action_ratio``).

    ``//`` is Python's floor division, as in the official ``T // r`` (for a non-integer ratio it
    differs from ``floor(T / r)`` when ``T / r`` rounds up to an integer: ``11 // 2.2 == 4``).

    Args:
        lengths: ``(B,)`` int64 valid lengths, or one length.
        ratio: ``r >= 1`` (``action_ratio = 9``, ``background_ratio = 4`` in UM), so that ``k <= length``.

    Returns:
        ``(B,)`` int64 (a 0-d tensor for an int ``lengths``).

    Example:
        >>> import torch
        >>> k_from_ratio(torch.tensor([750, 11]), 9), k_from_ratio(11, 2.2)
        (tensor([83,  1]), tensor(4))
    """
    if not ratio >= 1:
        raise ValueError(
            f"ratio must be >= 1 (k = length // ratio must not exceed the length), got {ratio}"
        )
    lengths_t = torch.as_tensor(lengths, dtype=torch.long)
    if float(ratio).is_integer():
        k = torch.div(lengths_t, int(ratio), rounding_mode="floor")
    else:  # CPython's float floor division: from the exact remainder, then the nearest integer
        a = lengths_t.double()
        b = float(ratio)
        mod = torch.fmod(a, b)
        div = (a - mod) / b
        k = torch.floor(div)
        k = (k + (div - k > 0.5).double()).long()
    return k.clamp(min=1)


def _check_k_args(name: str, k: int | Tensor | None, ratio: float | None) -> None:
    if (k is None) == (ratio is None):
        raise ValueError(f"{name}: give exactly one of k and ratio, got k={k!r}, ratio={ratio!r}")
    if isinstance(k, Tensor) and (k.is_floating_point() or k.is_complex()):
        raise ValueError(f"{name}: k must hold integers, got dtype {k.dtype}")


def _uniform_k(name: str, k: int | Tensor | None, ratio: float | None, time: int) -> int | None:
    """The one ``k`` of an unmasked batch (every video has ``time`` segments) given as an
    int, a 0-d tensor or a ratio, checked on the host; ``None`` for a per-video ``k``."""
    _check_k_args(name, k, ratio)
    if ratio is not None:
        if not ratio >= 1:
            raise ValueError(
                f"ratio must be >= 1 (k = length // ratio must not exceed the length), got {ratio}"
            )
        return max(1, int(time // ratio))  # Python's own floor division, which k_from_ratio mirrors
    if isinstance(k, int) or (isinstance(k, Tensor) and k.dim() == 0):
        k_int = int(k)
        if k_int < 1:
            raise ValueError(f"{name}: k must be >= 1, got {k_int}")
        if k_int > time:
            raise ValueError(f"{name}: k={k_int} is larger than the number of segments T={time}")
        return k_int
    return None


def _resolve_k(
    name: str,
    k: int | Tensor | None,
    ratio: float | None,
    lengths: Tensor,
    time: int,
    masked: bool,
) -> tuple[Tensor, int]:
    """Per-video ``k (B,)`` and ``K = max k`` (a host int: ``topk`` needs it).

    Without a mask and with one ``k`` (an int or a ratio) the checks stay on the host, so the
    common training call costs no device synchronisation.
    """
    batch = lengths.shape[0]
    if not masked:
        k_one = _uniform_k(name, k, ratio, time)
        if k_one is not None:
            return lengths.new_full((batch,), k_one), k_one
    else:
        _check_k_args(name, k, ratio)
    if ratio is not None:
        k_t = k_from_ratio(lengths, ratio).to(lengths.device)
        return k_t, int(k_t.max()) if batch else 0
    if isinstance(k, int) or (isinstance(k, Tensor) and k.dim() == 0):
        k_int = int(k)
        if k_int < 1:
            raise ValueError(f"{name}: k must be >= 1, got {k_int}")
        k_t = lengths.new_full((batch,), k_int)
    else:
        k_t = torch.as_tensor(k, dtype=torch.long, device=lengths.device)
        if k_t.shape != lengths.shape:
            raise ValueError(
                f"{name}: k must be an int or have shape (B,) = {tuple(lengths.shape)}, "
                f"got {tuple(k_t.shape)}"
            )
        if k_t.numel() and int(k_t.min()) < 1:
            raise ValueError(f"{name}: k must be >= 1, got minimum {int(k_t.min())}")
    too_long = k_t > lengths
    if bool(too_long.any()):
        n = int(torch.nonzero(too_long)[0, 0])
        raise ValueError(
            f"{name}: k={int(k_t[n])} is larger than the number of valid segments "
            f"({int(lengths[n])} of T={time}) of video {n}"
        )
    return k_t, int(k_t.max()) if batch else 0


_TRITON_MAX_TIME = (
    8192  # kernels.topk_triton.MAX_TIME, inlined so the torch path never imports triton
)


def _requested(backend: str | None) -> str:
    return backend if backend is not None else os.environ.get(BACKEND_ENV_VAR, "auto")


def _explicit_triton(backend: str | None) -> bool:
    return _requested(backend) == "triton"


def masked_topk(
    x: Tensor,
    k: Tensor,
    mask: Tensor | None = None,
    *,
    largest: bool = True,
    k_max: int | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Per-video top-k along time of ``x (B, T, C)`` with a per-video ``k (B,)``.

    Padded positions (``mask == False``) are never selected. Returns ``values (B, K, C)``
    (0 where ``j >= k_n``), ``indices (B, K, C)`` int64 and ``valid (B, K)``, with
    ``K = max(k)`` (pass ``k_max`` to avoid reading it from the device). This is the shared
    selection core of MIL pooling and of the pseudo action/background selection.
    """
    if k_max is None:
        k_max = int(k.max()) if k.numel() else 0
    if mask is not None:
        fill = float("-inf") if largest else float("inf")
        x_sel = x.masked_fill(~mask[:, :, None], fill)
    else:
        x_sel = x
    values, indices = torch.topk(x_sel, k_max, dim=1, largest=largest, sorted=True)
    valid = torch.arange(k_max, device=x.device)[None, :] < k[:, None]
    # torch.where (not a product) keeps -inf padding from turning into NaN values/gradients
    values = torch.where(valid[:, :, None], values, values.new_zeros(()))
    indices = torch.where(valid[:, :, None], indices, indices.new_zeros(()))
    return values, indices, valid


def _check_scores(scores: Tensor, mask: Tensor | None) -> int:
    """Shape, dtype, mask and finiteness checks; returns ``T``."""
    check_rank("scores", scores, 3, "(B, T, C)")
    if not scores.is_floating_point():
        raise ValueError(f"scores must be a floating-point tensor, got dtype {scores.dtype}")
    b, t, _ = scores.shape
    if t == 0:
        raise ValueError(f"scores has no segments (T = 0), shape {shape_str(scores)}")
    check_mask(mask, b, t)
    check_finite_where("scores", scores, mask)
    return t


def _pool(
    scores: Tensor,
    k: int | Tensor | None,
    ratio: float | None,
    mask: Tensor | None,
    backend: Backend | None,
    with_indices: bool,
) -> TopKResult | Tensor:
    """Both public ops: the values alone skip the index bookkeeping (and, on the Triton
    path, the sort of the selection), and a batch with one ``k`` never reads the device."""
    name = "topk_mil_pooling"
    t = _check_scores(scores, mask)
    b = scores.shape[0]
    k_one = _uniform_k(name, k, ratio, t) if mask is None else None
    k_t: Tensor | None = None
    if k_one is None:
        lengths = valid_lengths(mask, b, t, scores.device)
        k_t, k_max = _resolve_k(name, k, ratio, lengths, t, mask is not None)
    else:
        k_max = k_one
    chosen = resolve_backend(backend, scores.device)
    if chosen == "triton" and _requested(backend) == "auto":  # the measured crossover
        training = torch.is_grad_enabled() and scores.requires_grad
        chosen = topk_backend_for(scores.numel(), scores.element_size(), training)
    # "auto" falls back to torch beyond the kernel's length limit; an explicit "triton" raises
    if chosen == "triton" and (t <= _TRITON_MAX_TIME or _explicit_triton(backend)):
        from .kernels.topk_triton import topk_mean_triton, topk_mean_values_triton

        k_arg: int | Tensor = k_max if k_t is None else k_t
        if not with_indices:
            return topk_mean_values_triton(scores, k_arg, k_max, mask)
        values, indices = topk_mean_triton(scores, k_arg, k_max, mask)
    else:
        if k_t is None:
            top = torch.topk(scores, k_max, dim=1)  # sorted: the sum's order is the official one
            values = top.values.sum(dim=1) / k_max
            if not with_indices:
                return values
            indices = top.indices
        else:
            top_v, indices, _ = masked_topk(scores, k_t, mask, k_max=k_max)
            values = top_v.sum(dim=1) / k_t[:, None].to(top_v.dtype)
            if not with_indices:
                return values
    if k_t is None:
        k_t = torch.full((b,), k_max, dtype=torch.long, device=scores.device)
    valid = torch.arange(k_max, device=scores.device)[None, :] < k_t[:, None]
    return TopKResult(values, indices, valid, k_t)


def topk_mil_pooling_with_indices(
    scores: Tensor,
    k: int | Tensor | None = None,
    *,
    ratio: float | None = None,
    mask: Tensor | None = None,
    backend: Backend | None = None,
) -> TopKResult:
    """Top-k MIL pooling (Eq. 1) that also returns the selected time indices.

    Args:
        scores: ``(B, T, C)`` float segment scores (the CAS).
        k: number of segments to average, an int or ``(B,)`` per video; ``1 <= k <= T_n``.
        ratio: alternatively ``r``, giving ``k_n = max(1, ⌊T_n / r⌋)``.
        mask: optional ``(B, T)`` bool, True for real segments of a padded batch.
        backend: ``"auto" | "torch" | "triton"`` (see :mod:`wtal_blocks.kernels.dispatch`);
            ``"auto"`` takes the Triton kernel on CUDA from the measured crossover size on
            (:func:`~wtal_blocks.kernels.dispatch.topk_backend_for`).

    Returns:
        :class:`TopKResult` ``(values (B, C), indices (B, K, C), valid (B, K), k (B,))``.

    Raises:
        ValueError: wrong rank, NaN/inf scores, a video with no valid segment, ``k`` larger
            than a video's length, or both/neither of ``k`` and ``ratio``.
    """
    result = _pool(scores, k, ratio, mask, backend, with_indices=True)
    assert isinstance(result, TopKResult)
    return result


def topk_mil_pooling(
    scores: Tensor,
    k: int | Tensor | None = None,
    *,
    ratio: float | None = None,
    mask: Tensor | None = None,
    backend: Backend | None = None,
) -> Tensor:
    """Top-k MIL pooling (Eq. 1): mean of the ``k`` largest values along time, per class.

    Args:
        scores: ``(B, T, C)`` float segment scores (the CAS logits in UM).
        k: number of segments averaged, an int or ``(B,)``; ``1 <= k <= T_n``.
        ratio: alternatively ``r``: ``k_n = max(1, ⌊T_n / r⌋)`` (UM: ``action_ratio = 9``).
        mask: optional ``(B, T)`` bool validity mask for padded batches.
        backend: ``"auto" | "torch" | "triton"``; ``"auto"`` takes the Triton kernel on CUDA
            from the measured crossover size on, separately for a call with a gradient
            (training) and without (inference)
            (:func:`~wtal_blocks.kernels.dispatch.topk_backend_for`).

    Returns:
        ``(B, C)`` video-level raw class scores ``a_c(v_n)`` (apply a softmax for Eq. 2).

    Example:
        >>> import torch
        >>> from wtal_blocks import topk_mil_pooling
        >>> cas = torch.tensor([[[1.0], [3.0], [2.0], [0.0]]])  # (B=1, T=4, C=1)
        >>> topk_mil_pooling(cas, k=2)
        tensor([[2.5000]])
    """
    result = _pool(scores, k, ratio, mask, backend, with_indices=False)
    assert isinstance(result, Tensor)
    return result


class TopKMILPooling(nn.Module):
    """Module form of :func:`topk_mil_pooling` (Eq. 1) with a fixed ``k`` or ``ratio``.

    Args:
        k: fixed number of segments, or
        ratio: ``r`` with ``k_n = max(1, ⌊T_n / r⌋)`` (default behaviour of UM, ``action_ratio = 9``).
        backend: ``"auto" | "torch" | "triton"``.

    Shape:
        ``scores (B, T, C)``, optional ``mask (B, T)`` -> ``(B, C)``.
    """

    def __init__(
        self, k: int | None = None, *, ratio: float | None = None, backend: Backend | None = None
    ) -> None:
        super().__init__()
        if (k is None) == (ratio is None):
            raise ValueError(f"give exactly one of k and ratio, got k={k!r}, ratio={ratio!r}")
        if k is not None and k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if ratio is not None and not ratio >= 1:
            raise ValueError(f"ratio must be >= 1, got {ratio}")
        self.k = k
        self.ratio = ratio
        self.backend = backend

    def forward(self, scores: Tensor, mask: Tensor | None = None) -> Tensor:
        return topk_mil_pooling(scores, self.k, ratio=self.ratio, mask=mask, backend=self.backend)

    def extra_repr(self) -> str:
        return f"k={self.k}" if self.k is not None else f"ratio={self.ratio}"


def video_class_probabilities(video_scores: Tensor) -> Tensor:
    """Eq. 2: the video-level class probabilities ``p_c(v) = softmax_c(a_c(v))``.

    Args:
        video_scores: ``(B, C)`` pooled class scores ``a_c(v)`` (:func:`topk_mil_pooling` of
            the CAS logits; with a background class, ``C + 1`` columns as in BaS-Net).

    Returns:
        ``(B, C)`` probabilities; each row sums to 1.

    Example:
        >>> import torch
        >>> video_class_probabilities(torch.tensor([[0.0, 0.0, 1.0]]))
        tensor([[0.2119, 0.2119, 0.5761]])
    """
    check_rank("video_scores", video_scores, 2, "(B, C)")
    return torch.softmax(video_scores, dim=1)
