"""Proposal generation by thresholding and outer-inner contrast (OIC) scoring.

Steps 2-5 of the official test pipeline (docs/official-code.md), batched: every video, class and
threshold is handled at once, with no Python loop over thresholds, classes or runs.

How: each position's *level* (how many thresholds it reaches) encodes all thresholds at once;
runs start and end where a ``diff`` of the level map changes, and inner/outer means come from
prefix sums. The x``scale`` upsampled sequences are not even materialised: between two
segments they are linear, so values (bit-identical to SciPy's interpolation), level changes
and range sums are computed per segment piece (:mod:`wtal_blocks._piecewise`). Work is
O(pairs × T + runs) instead of the O(thresholds × pairs × scale × T) of a dense
``(thresholds, pairs, time)`` mask, which is what makes this faster than the official loops.

For a run ``[a, b]`` (positions on the upsampled grid, ``n = b - a + 1 >= min_length``)::

    inner = mean(s[a..b])
    outer = mean(s[max(0, int(a - λn)) .. a-1] ∪ s[b+1 .. min(L-1, int(b + λn))])   (0 if empty)
    score = inner - outer + γ * p_c(v)                                  (Liu et al. 2019)
    start = a * f,  end = (b + 1) * f,   f = frames_per_segment * L_orig / (scale * T * fps)

with ``λ = 0.25``, ``γ = 0.2``, ``L`` the upsampled length and ``p_c(v)`` the video score.

Two kinds of thresholds, as in UM:

* ``thresholds`` apply to the scored sequence itself: values below the threshold are set to 0,
  candidates are the positions still ``> 0``, and proposals are scored on the *thresholded*
  sequence (the official code's behaviour);
* ``auxiliary_thresholds`` apply to a second sequence (UM: the normalised magnitude ``u``):
  candidates are positions with ``aux >= threshold`` (and ``> 0``), and proposals are scored on
  the *un-thresholded* sequence.

``faithful=True`` (default) reproduces the official code's quirks:

1. thresholds are the float64 values of NumPy's ``arange`` (``0.45000000000000007``), see
   :func:`wtal_blocks.segments.numpy_arange` (only the defaults; given thresholds are used as is);
2. past the last segment the upsampled sequences are extrapolated linearly (they may leave
   ``[0, 1]``); ``faithful=False`` holds the last value instead;
3. a (class, threshold) whose only candidate is position 0 yields no proposal (the official
   ``if positions.any()`` test is False for ``[0]``). This only matters with ``min_length=1``.

Where the official code would crash (a class whose candidate runs are all shorter than
``min_length`` raises ``IndexError`` there; a one-segment video cannot be interpolated by
SciPy), we return no proposal / a constant sequence instead.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ._piecewise import PiecewiseLinear
from ._validation import check_finite, check_mask, check_rank, shape_str
from .segments import numpy_arange

__all__ = [
    "UM_CAS_THRESHOLDS",
    "UM_MAGNITUDE_THRESHOLDS",
    "ProposalBatch",
    "ProposalGenerator",
    "VideoProposals",
]

UM_CAS_THRESHOLDS: tuple[float, ...] = numpy_arange(0.0, 0.25, 0.025)
"""The 10 official CAS thresholds ``0, 0.025, …, 0.225`` (NumPy ``arange`` values)."""
UM_MAGNITUDE_THRESHOLDS: tuple[float, ...] = numpy_arange(0.4, 0.625, 0.025)
"""The 9 official magnitude thresholds ``0.4, 0.425, …, 0.6`` (NumPy ``arange`` values)."""


@dataclass(frozen=True)
class VideoProposals:
    """Proposals (or detections) of one video.

    Attributes:
        segments: ``(N, 2)`` float64 ``[start, end]`` in seconds.
        scores: ``(N,)`` float64.
        labels: ``(N,)`` int64 class indices.
    """

    segments: Tensor
    scores: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@dataclass(frozen=True)
class ProposalBatch:
    """Flat proposals of a batch of videos (the form batched NMS consumes).

    Attributes:
        segments: ``(N, 2)`` float64 seconds.
        scores: ``(N,)`` float64.
        labels: ``(N,)`` int64.
        video: ``(N,)`` int64 index of the video in the batch.
        num_videos: ``B``.
    """

    segments: Tensor
    scores: Tensor
    labels: Tensor
    video: Tensor
    num_videos: int

    def split(self) -> list[VideoProposals]:
        """Per-video proposals, keeping the current order within each video."""
        order = torch.sort(self.video, stable=True).indices
        counts = torch.bincount(self.video, minlength=self.num_videos).tolist()
        parts = zip(
            torch.split(self.segments[order], counts),
            torch.split(self.scores[order], counts),
            torch.split(self.labels[order], counts),
            strict=True,
        )
        return [VideoProposals(s, c, lab) for s, c, lab in parts]

    def select(self, index: Tensor) -> ProposalBatch:
        """The proposals at ``index`` (e.g. those kept by NMS), in that order."""
        return ProposalBatch(
            self.segments[index],
            self.scores[index],
            self.labels[index],
            self.video[index],
            self.num_videos,
        )


MAX_LENGTH = 2**31 - 1
"""The largest original length ``L`` accepted (far beyond any video; guards int overflow)."""


def _check_lengths(lengths: Tensor | Sequence[int], batch: int, device: torch.device) -> Tensor:
    """``(B,)`` int64 original lengths ``L``: integers (not floats, not bools) in
    ``[1, MAX_LENGTH]``, one per video."""
    if isinstance(lengths, Tensor):
        if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
            raise ValueError(f"lengths must hold integers, got dtype {lengths.dtype}")
        values = lengths.reshape(-1).to(device=device, dtype=torch.long)
    else:
        items = list(lengths)
        bad = [v for v in items if isinstance(v, bool) or not isinstance(v, numbers.Integral)]
        if bad:
            raise ValueError(f"lengths must be whole numbers of feature segments, got {bad[0]!r}")
        if any(not 1 <= int(v) <= MAX_LENGTH for v in items):
            raise ValueError(f"lengths must lie in [1, {MAX_LENGTH}], got {items}")
        values = torch.tensor([int(v) for v in items], dtype=torch.long, device=device)
    if values.shape[0] != batch:
        raise ValueError(
            f"lengths must have one entry per video (B = {batch}), got {values.shape[0]}"
        )
    if values.numel() and (int(values.min()) < 1 or int(values.max()) > MAX_LENGTH):
        raise ValueError(f"lengths must lie in [1, {MAX_LENGTH}], got {values.tolist()}")
    return values


def _as_batch(x: Tensor, name: str) -> Tensor:
    check_rank(name, x, (2, 3), "(B, T, C) or (T, C)")
    return x[None] if x.dim() == 2 else x


class ProposalGenerator:
    """Batched multi-threshold proposal generation with OIC scoring (UM defaults).

    Args:
        thresholds: thresholds on the scored sequence (default: the 10 UM CAS thresholds).
        auxiliary_thresholds: thresholds on the auxiliary sequence (default: the 9 UM
            magnitude thresholds; they are used only when ``auxiliary`` is passed).
        scale: temporal upsampling factor (24).
        outer_ratio: ``λ``, the outer region's length relative to the run (0.25).
        video_score_weight: ``γ``, weight of the video-level class score (0.2).
        min_length: runs shorter than this many upsampled positions are dropped (2).
        frames_per_segment: frames per feature segment (16 for I3D).
        feature_fps: frame rate of the feature extraction (25).
        faithful: reproduce the official quirks (see the module docstring).
        chunk_elements: memory bound: (video, class) pairs are processed in chunks so that
            about ``16 × pairs × T`` stays below this many elements.

    Call:
        ``generator(scores, video_probs, lengths, *, auxiliary=None, classes=None,
        mask=None)`` with

        * ``scores``: ``(B, T, C)`` (or ``(T, C)``) the sequence proposals are scored on (UM:
          the fused CAS, already min-max normalised);
        * ``video_probs``: ``(B, C)`` (or ``(C,)``) video-level class probabilities;
        * ``lengths``: ``(B,)`` ints, each video's *original* number of feature segments
          ``L`` before sampling (sets the time scale);
        * ``auxiliary``: optional ``(B, T)`` or ``(B, T, C)`` second candidate source (UM: ``u``);
        * ``classes``: optional ``(B, C)`` bool, the classes to localise (default all);
        * ``mask``: optional ``(B, T)`` bool validity mask of a padded batch;
        * ``durations``: optional ``(B,)`` seconds; when given, times are
          ``position × duration / (scale × T)`` (the sampled segments span the video), which
          suits features of any rate (ActivityNet); otherwise the official
          ``frames_per_segment × L / (scale × T × fps)``.

        Returns a :class:`ProposalBatch` (use ``.split()`` for per-video proposals).
    """

    def __init__(
        self,
        thresholds: Sequence[float] | None = None,
        auxiliary_thresholds: Sequence[float] | None = None,
        *,
        scale: int = 24,
        outer_ratio: float = 0.25,
        video_score_weight: float = 0.2,
        min_length: int = 2,
        frames_per_segment: int = 16,
        feature_fps: float = 25.0,
        faithful: bool = True,
        chunk_elements: int = 20_000_000,
    ) -> None:
        if thresholds is None:
            thresholds = UM_CAS_THRESHOLDS if faithful else tuple(i / 40 for i in range(10))
        if auxiliary_thresholds is None:
            auxiliary_thresholds = (
                UM_MAGNITUDE_THRESHOLDS if faithful else tuple((16 + i) / 40 for i in range(9))
            )
        for name, values in (
            ("thresholds", thresholds),
            ("auxiliary_thresholds", auxiliary_thresholds),
        ):
            if any(
                not (isinstance(v, (int, float)) and v == v and abs(v) != float("inf"))
                for v in values
            ):
                raise ValueError(f"{name} must be finite numbers, got {list(values)}")
        if not isinstance(scale, int) or scale < 1:
            raise ValueError(f"scale must be a positive int, got {scale!r}")
        if outer_ratio < 0:
            raise ValueError(f"outer_ratio must be >= 0, got {outer_ratio}")
        if min_length < 1:
            raise ValueError(f"min_length must be >= 1, got {min_length}")
        if frames_per_segment <= 0 or feature_fps <= 0:
            raise ValueError(
                f"frames_per_segment and feature_fps must be > 0, got {frames_per_segment}, {feature_fps}"
            )
        self.thresholds = tuple(float(v) for v in thresholds)
        self.auxiliary_thresholds = tuple(float(v) for v in auxiliary_thresholds)
        self.scale = scale
        self.outer_ratio = float(outer_ratio)
        self.video_score_weight = float(video_score_weight)
        self.min_length = int(min_length)
        self.frames_per_segment = frames_per_segment
        self.feature_fps = float(feature_fps)
        self.faithful = faithful
        self.chunk_elements = int(chunk_elements)

    def __repr__(self) -> str:
        return (
            f"ProposalGenerator(thresholds={len(self.thresholds)}, auxiliary_thresholds="
            f"{len(self.auxiliary_thresholds)}, scale={self.scale}, outer_ratio={self.outer_ratio}, "
            f"video_score_weight={self.video_score_weight}, min_length={self.min_length}, faithful={self.faithful})"
        )

    def __call__(
        self,
        scores: Tensor,
        video_probs: Tensor,
        lengths: Tensor | Sequence[int],
        *,
        auxiliary: Tensor | None = None,
        classes: Tensor | None = None,
        mask: Tensor | None = None,
        durations: Tensor | Sequence[float] | None = None,
    ) -> ProposalBatch:
        single = scores.dim() == 2
        scores = _as_batch(scores, "scores")
        b, t, c = scores.shape
        if t == 0:
            raise ValueError(f"scores has no segments (T = 0), shape {shape_str(scores)}")
        if single and video_probs.dim() == 1:
            video_probs = video_probs[None]
        if tuple(video_probs.shape) != (b, c):
            raise ValueError(
                f"video_probs must have shape (B, C) = ({b}, {c}), got {shape_str(video_probs)}"
            )
        n_seg = _check_lengths(lengths, b, scores.device)
        check_mask(mask, b, t)
        check_finite("scores", scores if mask is None else scores[mask])
        check_finite("video_probs", video_probs)
        if auxiliary is not None:
            if single:
                auxiliary = auxiliary[None]
            if (
                tuple(auxiliary.shape[:2]) != (b, t)
                or auxiliary.dim() not in (2, 3)
                or (auxiliary.dim() == 3 and auxiliary.shape[2] != c)
            ):
                raise ValueError(
                    f"auxiliary must have shape (B, T) = ({b}, {t}) or (B, T, C) = ({b}, {t}, {c}), "
                    f"got {shape_str(auxiliary)}"
                )
            check_finite("auxiliary", auxiliary if mask is None else auxiliary[mask])
        if classes is None:
            classes = torch.ones(b, c, dtype=torch.bool, device=scores.device)
        elif classes.dtype != torch.bool or tuple(classes.shape) != (b, c):
            raise ValueError(
                f"classes must be a (B, C) = ({b}, {c}) boolean tensor, got {classes.dtype} {shape_str(classes)}"
            )

        dur = None
        if durations is not None:
            dur = torch.as_tensor(durations, dtype=torch.float64, device=scores.device).reshape(-1)
            if dur.shape[0] != b or not bool(torch.isfinite(dur).all()) or bool((dur <= 0).any()):
                raise ValueError(
                    f"durations must be {b} finite positive seconds, got {dur.tolist()}"
                )
        # T_b, each video's number of valid (sampled) segments
        counts = torch.full((b,), t, device=scores.device) if mask is None else mask.sum(dim=1)
        pair_video, pair_class = torch.nonzero(classes, as_tuple=True)
        per_pair = max(1, 16 * t)  # a handful of (pairs, T) arrays
        chunk = max(1, self.chunk_elements // per_pair)
        parts = [
            self._generate(
                scores,
                video_probs,
                n_seg,
                dur,
                counts,
                auxiliary,
                mask,
                pair_video[i : i + chunk],
                pair_class[i : i + chunk],
            )
            for i in range(0, int(pair_video.shape[0]), chunk)
        ]
        if not parts:
            empty = scores.new_zeros((0,), dtype=torch.float64)
            long_empty = torch.zeros(0, dtype=torch.long, device=scores.device)
            return ProposalBatch(empty.reshape(0, 2), empty, long_empty, long_empty, b)
        return ProposalBatch(
            torch.cat([p[0] for p in parts]),
            torch.cat([p[1] for p in parts]),
            torch.cat([p[2] for p in parts]),
            torch.cat([p[3] for p in parts]),
            b,
        )

    def _generate(
        self,
        scores: Tensor,
        video_probs: Tensor,
        n_seg: Tensor,
        durations: Tensor | None,
        counts: Tensor,
        auxiliary: Tensor | None,
        mask: Tensor | None,
        pair_video: Tensor,
        pair_class: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Proposals of a chunk of (video, class) pairs.

        The x``scale`` upsampled sequences are never materialised: :class:`PiecewiseLinear`
        gives exact point values, threshold runs and range sums from one piece per segment,
        and sums over a *thresholded* sequence come from its runs (:class:`_RunIndex`). Work is
        O(pairs × T + runs), not O(thresholds × pairs × scale × T).
        """
        f64 = torch.float64
        pair_len = counts[pair_video]
        seq = scores[pair_video, :, pair_class]  # (P, T)
        curve = PiecewiseLinear(seq, pair_len, self.scale, extrapolate=self.faithful)
        length_up = self.scale * pair_len

        parts: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []
        if self.thresholds:
            # thresholds on the scored sequence: candidates ``x >= thr`` (and > 0), scored on the
            # thresholded sequence, whose range sums are answered from the runs of that threshold
            runs = curve.runs(self.thresholds)
            index = _RunIndex(runs, curve, len(self.thresholds))
            keep = self._keep(runs, len(self.thresholds))
            p, h, a, b = (x[keep] for x in runs)
            n = b - a + 1
            outer_s, outer_e = self._outer(a, b, n, length_up[p])
            own_before, own_mass = index.before[keep], index.mass[keep]
            group = p * len(self.thresholds) + h
            left = own_before - index.cumulative(group, p, outer_s)
            right = index.cumulative(group, p, outer_e + 1) - (own_before + own_mass)
            parts.append((p, a, b, self._oic(own_mass, left + right, n, a - outer_s + outer_e - b)))
        if auxiliary is not None and self.auxiliary_thresholds:
            # thresholds on the auxiliary sequence (per video when it has no class axis)
            if auxiliary.dim() == 2:
                videos, inverse = torch.unique_consecutive(pair_video, return_inverse=True)
                aux_curve = PiecewiseLinear(
                    auxiliary[videos], counts[videos], self.scale, extrapolate=self.faithful
                )
                v_runs = aux_curve.runs(self.auxiliary_thresholds)
                runs = _runs_to_pairs(v_runs, inverse)
            else:
                aux_curve = PiecewiseLinear(
                    auxiliary[pair_video, :, pair_class],
                    pair_len,
                    self.scale,
                    extrapolate=self.faithful,
                )
                runs = aux_curve.runs(self.auxiliary_thresholds)
            keep = self._keep(runs, len(self.auxiliary_thresholds))
            p, _, a, b = (x[keep] for x in runs)
            n = b - a + 1
            outer_s, outer_e = self._outer(a, b, n, length_up[p])
            s_a, s_b1 = curve.cumulative(p, a), curve.cumulative(p, b + 1)
            outer_sum = (s_a - curve.cumulative(p, outer_s)) + (
                curve.cumulative(p, outer_e + 1) - s_b1
            )
            parts.append((p, a, b, self._oic(s_b1 - s_a, outer_sum, n, a - outer_s + outer_e - b)))

        empty = pair_video.new_zeros(0)
        p = torch.cat([x[0] for x in parts]) if parts else empty
        a = torch.cat([x[1] for x in parts]) if parts else empty
        b = torch.cat([x[2] for x in parts]) if parts else empty
        contrast = torch.cat([x[3] for x in parts]) if parts else empty.to(f64)
        vid, cls = pair_video[p], pair_class[p]
        score = contrast + self.video_score_weight * video_probs[vid, cls].to(f64)
        if durations is not None:  # the video's T sampled segments span its whole duration
            t_factor = durations[vid] / (self.scale * counts[vid]).to(f64)
        else:  # seconds per upsampled position, as the official code computes it (one division)
            num = self.frames_per_segment * n_seg[vid].to(f64)
            den = (self.scale * counts[vid]).to(f64) * self.feature_fps
            t_factor = num / den
        segments = torch.stack([a.to(f64) * t_factor, (b + 1).to(f64) * t_factor], dim=1)
        return segments, score, cls, vid

    def _keep(self, runs: tuple[Tensor, Tensor, Tensor, Tensor], count: int) -> Tensor:
        p, h, a, b = runs
        keep = (b - a + 1) >= self.min_length
        if self.faithful and keep.numel():
            # quirk 3: a (class, threshold) whose only candidate position is 0 gives nothing
            group = p * count + h
            lone = torch.bincount(group, minlength=int(group.max()) + 1)[group] == 1
            keep &= ~(lone & (a == 0) & (b == 0))
        return keep

    def _outer(self, a: Tensor, b: Tensor, n: Tensor, length_up: Tensor) -> tuple[Tensor, Tensor]:
        """Outer region ``[int(a - λn), a)`` and ``(b, int(b + λn)]``, clipped (official ``int``)."""
        lam_n = self.outer_ratio * n.to(torch.float64)
        outer_s = torch.clamp(torch.trunc(a.to(torch.float64) - lam_n).long(), min=0)
        outer_e = torch.minimum(torch.trunc(b.to(torch.float64) + lam_n).long(), length_up - 1)
        return outer_s, outer_e

    @staticmethod
    def _oic(inner_sum: Tensor, outer_sum: Tensor, n: Tensor, n_outer: Tensor) -> Tensor:
        inner = inner_sum / n.to(inner_sum.dtype)
        outer = torch.where(
            n_outer > 0,
            outer_sum / n_outer.clamp(min=1).to(outer_sum.dtype),
            torch.zeros_like(outer_sum),
        )
        return inner - outer


class _RunIndex:
    """Range sums of a thresholded sequence from its runs.

    For the runs of one (pair, threshold) group, ``cumulative(g, p, i)`` is
    ``Σ_{j < i, x_j >= thr} x_j``: the masses of the runs that start before ``i``, the last one
    cut at ``i``. One ``searchsorted`` over the sorted run keys answers all queries.
    """

    def __init__(
        self, runs: tuple[Tensor, Tensor, Tensor, Tensor], curve: PiecewiseLinear, count: int
    ) -> None:
        p, h, a, b = runs
        self.curve = curve
        self.width = curve.scale * curve.a.shape[1] + 2
        self.group = p * count + h
        self.pair = p
        self.start = a
        self.end = b
        self.keys = self.group * self.width + a
        self.mass = curve.cumulative(p, b + 1) - curve.cumulative(p, a)
        total = torch.cumsum(self.mass, 0)
        first = torch.searchsorted(self.keys, self.group * self.width)  # first run of each group
        self.before = (total - self.mass) - (
            total[first] - self.mass[first]
        )  # masses of earlier runs

    def cumulative(self, group: Tensor, pair: Tensor, pos: Tensor) -> Tensor:
        k = (
            torch.searchsorted(self.keys, group * self.width + pos) - 1
        )  # last run starting before pos
        has = k >= 0
        k = k.clamp(min=0)
        has &= self.group[k] == group
        stop = torch.minimum(pos, self.end[k] + 1)
        partial = self.curve.cumulative(pair, stop) - self.curve.cumulative(pair, self.start[k])
        return torch.where(has, self.before[k] + partial, torch.zeros_like(partial))


def _runs_to_pairs(
    runs: tuple[Tensor, Tensor, Tensor, Tensor], pair_video_rank: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per-video runs -> the same runs for every pair (class) of that video.

    ``pair_video_rank`` is, per pair, the rank of its video among the chunk's videos (pairs are
    sorted by video). The result stays sorted by (pair, threshold, start).
    """
    v, h, a, b = runs
    pairs_per_video = torch.bincount(
        pair_video_rank, minlength=int(pair_video_rank.max()) + 1 if pair_video_rank.numel() else 0
    )
    first_pair = torch.cumsum(pairs_per_video, 0) - pairs_per_video
    # group the runs of each video, then repeat the whole group once per pair of the video
    n_runs = torch.bincount(v, minlength=pairs_per_video.shape[0])
    run_first = torch.cumsum(n_runs, 0) - n_runs
    copies = pairs_per_video[v]
    rep = torch.repeat_interleave(torch.arange(v.shape[0], device=v.device), copies)
    # k-th copy of run i belongs to pair first_pair[v_i] + k; order: by video, pair, then run
    copy_rank = (
        torch.arange(rep.shape[0], device=v.device) - (torch.cumsum(copies, 0) - copies)[rep]
    )
    # copies are laid out run-major; reorder to pair-major inside each video
    within = rep - run_first[v[rep]]
    pair = first_pair[v[rep]] + copy_rank
    order = torch.argsort(pair * (v.shape[0] + 1) + within)
    return pair[order], h[rep][order], a[rep][order], b[rep][order]
