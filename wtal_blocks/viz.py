"""Plots of localization results: the paper's Figures 2 and 4, per-class AP and precision–recall.

Install the optional extra first: ``pip install 'wtal_blocks[viz]'`` (matplotlib).

Every ``plot_*`` function returns a :class:`Plot`: the matplotlib :class:`~matplotlib.figure.Figure`
and, in ``Plot.data``, the very arrays that were handed to matplotlib, so that a test (or a
notebook) can check *what* is drawn without looking at pixels. Figures are built with
:class:`matplotlib.figure.Figure` directly, not with ``pyplot``: no display, no global figure
registry, nothing to close, and the Agg renderer writes the PNGs.

========================================  ==========================================================
function                                  draws
========================================  ==========================================================
:func:`plot_localization`                 one video and class: fused CAS, normalised magnitude ``u``,
                                          detections as bars of their score, ground truth beneath
                                          (paper Fig. 4)
:func:`plot_magnitude_histograms`         feature magnitudes of action vs background segments, for
                                          one or more models, e.g. before / after training (Fig. 2)
:func:`plot_class_ap`                     per-class AP as a bar chart
:func:`plot_precision_recall`             precision–recall curves (:func:`precision_recall`,
                                          :func:`precision_recall_thumos14`)
========================================  ==========================================================

Helpers that produce their inputs from a model (they import torch when called, never at import
time, so the torch-free ``wtal-eval`` can use this module): :func:`video_curves`,
:func:`segment_magnitudes`. :func:`plot_evaluation` writes the plots of ``wtal-um evaluate
--plots DIR`` and :func:`write_evaluation_plots` those of ``wtal-eval --plots DIR``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

try:
    from matplotlib.figure import Figure
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "wtal_blocks.viz needs matplotlib, an optional dependency: pip install 'wtal_blocks[viz]'"
    ) from _exc

from .evaluation.annotations import GroundTruth, Predictions, Thumos14Annotations

if TYPE_CHECKING:
    from .data.base import FeatureDataset
    from .evaluation.detection import DetectionResult
    from .inference import UMInferenceConfig
    from .models.um import UncertaintyModelingNet
    from .recipes.config import UMConfig

__all__ = [
    "Plot",
    "PrecisionRecall",
    "VideoCurves",
    "ground_truth_mask",
    "plot_class_ap",
    "plot_evaluation",
    "plot_localization",
    "plot_magnitude_histograms",
    "plot_precision_recall",
    "precision_recall",
    "precision_recall_thumos14",
    "seconds_per_segment",
    "segment_magnitudes",
    "video_curves",
    "write_evaluation_plots",
]

# one colour per role, used by every figure
_CAS = "#1f77b4"
_MAGNITUDE = "#ff7f0e"
_DETECTION = "#d62728"
_GROUND_TRUTH = "#2ca02c"
_ACTION = "#d62728"
_BACKGROUND = "#7f7f7f"

Log = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class Plot:
    """A figure and the data drawn in it.

    Attributes:
        figure: the :class:`matplotlib.figure.Figure`.
        data: name -> the array (or value) given to matplotlib for that element. Each drawn
            artist that shows one of these arrays carries the same name as its ``gid``.
    """

    figure: Figure
    data: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | os.PathLike[str], *, dpi: int = 100) -> Path:
        """Write the figure (format from the suffix, e.g. ``.png``); returns the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        self.figure.savefig(out, dpi=dpi)
        return out


def _tag(artists: Any, gid: str) -> None:
    """Name every artist of a container (bars, histogram patches) for :attr:`Plot.data` lookups."""
    for artist in artists:
        artist.set_gid(gid)


def _vector(name: str, value: ArrayLike, length: int | None = None) -> NDArray[np.float64]:
    arr = (
        np.asarray(value, dtype=np.float64).reshape(-1)
        if np.ndim(value)
        else np.asarray([value], dtype=np.float64)
    )
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name} must have shape ({length},), got ({arr.shape[0]},)")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    return arr


def _segments(name: str, value: ArrayLike | None) -> NDArray[np.float64]:
    if value is None:
        return np.zeros((0, 2), dtype=np.float64)
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2) [start, end], got {arr.shape}")
    if not np.isfinite(arr).all() or bool((arr[:, 1] < arr[:, 0]).any()):
        raise ValueError(f"{name} must be finite with end >= start")
    return arr


# ---------------------------------------------------------------------------------------
# Figure 4: one video and class


def seconds_per_segment(
    num_segments: int,
    sampled: int,
    *,
    duration: float | None = None,
    frames_per_segment: int = 16,
    fps: float = 25.0,
) -> float:
    """Seconds covered by one sampled segment, as the proposal times count them.

    The UM pipeline places upsampled position ``j`` at ``j * frames_per_segment * L /
    (24 * T * fps)`` seconds (official-behaviour.md, Inference step 8), so sampled segment ``i``
    starts at ``i * frames_per_segment * L / (T * fps)``. With a ``duration`` (ActivityNet
    datasets, ``time_from_duration``) it is ``duration / T``.

    Args:
        num_segments: ``L``, the video's original number of feature segments.
        sampled: ``T``, the number of segments the network saw.
        duration: the video's duration in seconds, for duration-based times.
        frames_per_segment, fps: the feature rate (16 frames at 25 fps for I3D).
    """
    if num_segments < 1 or sampled < 1:
        raise ValueError(f"num_segments and sampled must be >= 1, got {num_segments}, {sampled}")
    if duration is not None:
        return float(duration) / sampled
    return frames_per_segment * num_segments / (sampled * fps)


def ground_truth_mask(intervals: ArrayLike, sampled: int, seconds: float) -> NDArray[np.bool_]:
    """Which sampled segments are action: ``(T,)`` bool, True where the segment's centre
    ``(i + 0.5) * seconds`` lies inside a ground-truth interval ``[start, end]``.

    Args:
        intervals: ``(G, 2)`` ``[start, end]`` in seconds (any classes).
        sampled: ``T``.
        seconds: seconds per sampled segment (:func:`seconds_per_segment`).
    """
    seg = _segments("intervals", intervals)
    centre = (np.arange(sampled, dtype=np.float64) + 0.5) * seconds
    if seg.shape[0] == 0:
        return np.zeros(sampled, dtype=bool)
    inside = (centre[:, None] >= seg[None, :, 0]) & (centre[:, None] <= seg[None, :, 1])
    return np.asarray(inside.any(axis=1), dtype=bool)


def plot_localization(
    cas: ArrayLike,
    magnitude: ArrayLike | None,
    detections: ArrayLike | None,
    detection_scores: ArrayLike | None,
    ground_truth: ArrayLike | None,
    *,
    seconds: float,
    class_name: str = "",
    title: str | None = None,
    max_detections: int | None = 10,
) -> Plot:
    """One video and class as in the paper's Figure 4.

    Three stacked panels on a shared time axis (seconds): the fused CAS of the class and the
    normalised magnitude ``u`` (both in ``[0, 1]``); the detections of the class as bars whose
    height is the detection score; the ground-truth instances.

    Args:
        cas: ``(T,)`` fused (min-max normalised) CAS of the class, per sampled segment.
        magnitude: ``(T,)`` normalised magnitude ``u`` (``P(d=1)`` at test time), or None.
        detections: ``(N, 2)`` ``[start, end]`` seconds of the class's detections.
        detection_scores: ``(N,)`` their scores.
        ground_truth: ``(G, 2)`` ``[start, end]`` seconds of the class's ground truth.
        seconds: seconds per sampled segment (:func:`seconds_per_segment`); segment ``i`` is
            drawn at ``i * seconds``.
        class_name: shown in the legend.
        title: figure title.
        max_detections: draw only the highest-scored ones (None: all); the axis label then
            says how many of how many are shown.

    Returns:
        :class:`Plot` with ``data``: ``times (T,)``, ``cas (T,)``, ``magnitude (T,)`` (if
        given), ``detections (K, 2)`` and ``detection_scores (K,)`` (the drawn ones, in
        descending score order), ``ground_truth (G, 2)``.
    """
    cas_arr = _vector("cas", cas)
    t = cas_arr.shape[0]
    if t == 0:
        raise ValueError("cas has no segments")
    mag_arr = None if magnitude is None else _vector("magnitude", magnitude, t)
    det = _segments("detections", detections)
    det_scores = _vector(
        "detection_scores",
        np.zeros(0) if detection_scores is None else detection_scores,
        det.shape[0],
    )
    gt = _segments("ground_truth", ground_truth)
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    order = np.argsort(-det_scores, kind="stable")
    n_all = order.shape[0]
    if max_detections is not None:
        order = order[:max_detections]
    det, det_scores = det[order], det_scores[order]
    times = np.arange(t, dtype=np.float64) * seconds
    end_time = max(
        t * seconds,
        float(det[:, 1].max()) if det.size else 0.0,
        float(gt[:, 1].max()) if gt.size else 0.0,
    )

    fig = Figure(figsize=(10, 4.6), layout="constrained")
    ax_cas, ax_det, ax_gt = fig.subplots(
        3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.6, 0.55]}
    )
    label = f"fused CAS ({class_name})" if class_name else "fused CAS"
    (line,) = ax_cas.plot(times, cas_arr, color=_CAS, lw=1.4, label=label)
    line.set_gid("cas")
    data: dict[str, Any] = {"times": times, "cas": cas_arr}
    if mag_arr is not None:
        (mline,) = ax_cas.plot(
            times, mag_arr, color=_MAGNITUDE, lw=1.1, ls="--", label="normalised magnitude u"
        )
        mline.set_gid("magnitude")
        data["magnitude"] = mag_arr
    ax_cas.set_ylim(-0.02, 1.05)
    ax_cas.set_ylabel("score")
    ax_cas.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8, frameon=False)
    ax_cas.grid(alpha=0.3)

    bars = ax_det.bar(
        det[:, 0],
        det_scores,
        width=det[:, 1] - det[:, 0],
        align="edge",
        color=_DETECTION,
        alpha=0.45,
        edgecolor=_DETECTION,
        linewidth=0.8,
    )
    _tag(bars, "detections")
    for (start, end), score in zip(det.tolist(), det_scores.tolist(), strict=True):
        ax_det.text((start + end) / 2, score, f"{score:.2f}", ha="center", va="bottom", fontsize=7)
    if not det_scores.size:
        ax_det.text(
            0.5,
            0.5,
            "no detection of this class",
            transform=ax_det.transAxes,
            ha="center",
            va="center",
            fontsize=8,
            color="0.4",
        )
    top = max(1.0, float(det_scores.max()) * 1.25) if det_scores.size else 1.0
    low = min(0.0, float(det_scores.min()) * 1.25) if det_scores.size else 0.0
    ax_det.set_ylim(low, top)
    shown = f"top {det.shape[0]} of {n_all}" if det.shape[0] < n_all else "score"
    ax_det.set_ylabel(f"detections\n({shown})", fontsize=8)
    ax_det.grid(alpha=0.3, axis="y")

    ranges = [(float(s), float(e - s)) for s, e in gt]
    gt_bars = ax_gt.broken_barh(ranges, (0.15, 0.7), facecolors=_GROUND_TRUTH)
    gt_bars.set_gid("ground_truth")
    ax_gt.set_ylim(0, 1)
    ax_gt.set_yticks([])
    ax_gt.set_ylabel("ground\ntruth", fontsize=8)
    ax_gt.set_xlim(0, end_time)
    ax_gt.set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=10)
    data.update(detections=det, detection_scores=det_scores, ground_truth=gt)
    return Plot(fig, data)


# ---------------------------------------------------------------------------------------
# Figure 2: feature magnitudes of action vs background segments


def plot_magnitude_histograms(
    stages: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    bins: int = 50,
    title: str | None = None,
) -> Plot:
    """Histograms of feature magnitudes ``||f_t||`` of action vs background segments (Fig. 2).

    One panel per stage (e.g. ``{"before training": (act, bkg), "after training": (act, bkg)}``),
    each with its own bins (magnitudes grow by orders of magnitude during training) shared by
    its two histograms. Heights are densities, so the two classes of segments compare
    although background segments are more numerous.

    Args:
        stages: panel title -> ``(action_magnitudes (N_a,), background_magnitudes (N_b,))``
            (see :func:`segment_magnitudes`).
        bins: number of bins per panel.
        title: figure title.

    Returns:
        :class:`Plot` with ``data[stage]`` = ``{"action", "background", "bins",
        "action_density", "background_density"}`` (the histogram inputs, the bin edges and the
        drawn bar heights).
    """
    if not stages:
        raise ValueError("stages is empty: give at least one (action, background) pair")
    fig = Figure(figsize=(4.6 * len(stages), 3.4), layout="constrained")
    axes = fig.subplots(1, len(stages), squeeze=False)[0]
    data: dict[str, Any] = {}
    for ax, (stage, (action, background)) in zip(axes, stages.items(), strict=True):
        act = _vector(f"{stage} action", action)
        bkg = _vector(f"{stage} background", background)
        both = np.concatenate([act, bkg])
        if both.size == 0:
            raise ValueError(f"{stage}: no magnitudes")
        lo, hi = float(both.min()), float(both.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        drawn: dict[str, Any] = {"action": act, "background": bkg, "bins": edges}
        for name, values, colour in (("background", bkg, _BACKGROUND), ("action", act, _ACTION)):
            if values.size == 0:
                drawn[f"{name}_density"] = np.zeros(bins)
                continue
            heights, _, patches = ax.hist(
                values,
                bins=edges,
                density=True,
                alpha=0.55,
                color=colour,
                label=f"{name} (n={values.size}, mean {values.mean():.3g})",
            )
            _tag(patches, f"{stage}/{name}")
            drawn[f"{name}_density"] = np.asarray(heights, dtype=np.float64)
        ax.set_title(stage, fontsize=10)
        ax.set_xlabel("feature magnitude ||f||")
        ax.set_ylabel("density")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        data[stage] = drawn
    if title:
        fig.suptitle(title, fontsize=10)
    return Plot(fig, data)


# ---------------------------------------------------------------------------------------
# per-class AP


def plot_class_ap(
    result: DetectionResult,
    *,
    tiou: float | None = None,
    sort: bool = True,
    title: str | None = None,
) -> Plot:
    """Per-class AP as a horizontal bar chart.

    Args:
        result: a :class:`~wtal_blocks.DetectionResult` (either protocol).
        tiou: one of ``result.tiou_thresholds``; default: AP averaged over the thresholds.
        sort: best class at the top (else class order).
        title: figure title (default: protocol, threshold and mAP).

    Returns:
        :class:`Plot` with ``data``: ``class_names`` (drawn order, top to bottom), ``ap``
        (their values), ``tiou`` (None for the average).
    """
    ap = np.asarray(result.ap, dtype=np.float64)
    thresholds = np.asarray(result.tiou_thresholds, dtype=np.float64)
    if tiou is None:
        values = ap.mean(axis=1)
        what = f"average over tIoU {thresholds.min():g}–{thresholds.max():g}"
    else:
        hit = np.flatnonzero(np.isclose(thresholds, tiou))
        if hit.size == 0:
            raise ValueError(
                f"tiou {tiou} is not one of the result's thresholds {thresholds.tolist()}"
            )
        values = ap[:, int(hit[0])]
        what = f"tIoU {tiou:g}"
    names = list(result.class_names)
    order = np.argsort(-values, kind="stable") if sort else np.arange(len(names))
    names = [names[i] for i in order]
    values = values[order]
    fig = Figure(figsize=(7, 1.0 + 0.24 * len(names)), layout="constrained")
    ax = fig.subplots()
    positions = np.arange(len(names))[::-1]  # first entry at the top
    bars = ax.barh(positions, values, color=_CAS, alpha=0.8)
    _tag(bars, "ap")
    for y, v in zip(positions.tolist(), values.tolist(), strict=True):
        ax.text(v + 0.005, y, f"{100 * v:.1f}", va="center", fontsize=7)
    ax.set_yticks(positions, names, fontsize=8)
    ax.set_xlim(0, max(1.0, float(values.max()) * 1.1) if values.size else 1.0)
    ax.set_xlabel("AP (bar labels in %)")
    ax.grid(alpha=0.3, axis="x")
    m_ap = float(values.mean()) if values.size else 0.0
    ax.set_title(title or f"{result.protocol} protocol, {what}: mAP {100 * m_ap:.2f}%", fontsize=10)
    return Plot(fig, {"class_names": names, "ap": values, "tiou": tiou})


# ---------------------------------------------------------------------------------------
# precision–recall


@dataclass(frozen=True, eq=False)
class PrecisionRecall:
    """Precision and recall of one class at one tIoU, one point per ranked prediction.

    Attributes:
        class_name: the class.
        tiou: the threshold.
        protocol: ``"activitynet"`` or ``"thumos14"``.
        scores: ``(N,)`` the class's predictions' scores, in ranking order (THUMOS'14: the
            predictions removed as ambiguous are not listed).
        is_tp: ``(N,)`` bool, true positive at ``tiou``.
        precision: ``(N,)`` ``cumsum(is_tp) / (1..N)``.
        recall: ``(N,)`` ``cumsum(is_tp) / n_ground_truth``.
        n_ground_truth: instances of the class.
        ap: the area the protocol defines: all-point interpolated (ActivityNet) or the sum of
            the precision at each true positive over ``n_ground_truth`` (THUMOS'14). It equals
            the evaluator's AP for the class and threshold.
    """

    class_name: str
    tiou: float
    protocol: str
    scores: NDArray[np.float64]
    is_tp: NDArray[np.bool_]
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    n_ground_truth: int
    ap: float

    @property
    def interpolated_precision(self) -> NDArray[np.float64]:
        """``(N,)`` precision made monotone non-increasing from the right (ActivityNet AP)."""
        return (
            np.maximum.accumulate(self.precision[::-1])[::-1]
            if self.precision.size
            else self.precision
        )


def _curve(
    class_name: str,
    tiou: float,
    protocol: str,
    scores: NDArray[np.float64],
    is_tp: NDArray[np.bool_],
    npos: int,
) -> PrecisionRecall:
    if npos == 0:
        raise ValueError(
            f"class {class_name!r} has no ground truth: its precision-recall curve is undefined"
        )
    hits = np.cumsum(is_tp).astype(np.float64)
    precision = hits / np.arange(1, is_tp.shape[0] + 1, dtype=np.float64)
    recall = hits / npos
    if protocol == "activitynet":
        # all-point interpolation: envelope of the precision, summed over recall steps (1/npos each)
        envelope = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision
        ap = float(envelope[is_tp].sum() / npos)
    else:  # THUMOS'14: non-interpolated
        ap = float(precision[is_tp].sum() / npos)
    return PrecisionRecall(
        class_name, float(tiou), protocol, scores, is_tp, precision, recall, npos, ap
    )


def _activitynet_tiou(p: NDArray[np.float64], g: NDArray[np.float64]) -> NDArray[np.float64]:
    """tIoU of one segment ``p (2,)`` with ``g (G, 2)``; a zero union gives 0 (the evaluator's rule)."""
    inter = np.maximum(np.minimum(p[1], g[:, 1]) - np.maximum(p[0], g[:, 0]), 0.0)
    union = (g[:, 1] - g[:, 0]) + (p[1] - p[0]) - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def _labels_of(predictions: Predictions, accept: Callable[[str], bool]) -> NDArray[np.bool_]:
    """``(N,)`` bool: the predictions whose label name is accepted."""
    names = np.asarray([accept(n) for n in predictions.label_names], dtype=bool)
    return names[predictions.labels] if names.size else np.zeros(len(predictions), dtype=bool)


def precision_recall(
    ground_truth: GroundTruth, predictions: Predictions, class_name: str, tiou: float
) -> PrecisionRecall:
    """Precision–recall of ``class_name`` at ``tiou`` under the ActivityNet protocol.

    The same rules as :func:`~wtal_blocks.evaluate_detection`, written as a plain loop over the
    class's predictions: descending score (ties in input order); each prediction takes, among
    the unmatched ground truths of its class in its video, the one of highest tIoU (ties in
    input order) and is a true positive when that tIoU is ``>= tiou``. Its :attr:`~PrecisionRecall.ap`
    equals the evaluator's AP for the class and threshold.

    Args:
        ground_truth: from :func:`~wtal_blocks.load_activitynet_ground_truth`.
        predictions: from :func:`~wtal_blocks.load_activitynet_results`.
        class_name: a class of ``ground_truth``.
        tiou: threshold in ``(0, 1]``.
    """
    if class_name not in ground_truth.class_names:
        raise ValueError(f"class {class_name!r} is not a ground-truth class")
    if not 0 < tiou <= 1:
        raise ValueError(f"tiou must be in (0, 1], got {tiou}")
    c = ground_truth.class_names.index(class_name)
    gt_rows = np.flatnonzero(ground_truth.labels == c)
    by_video: dict[str, NDArray[np.float64]] = {}
    for vid_code in np.unique(ground_truth.videos[gt_rows]).tolist():
        rows = gt_rows[ground_truth.videos[gt_rows] == vid_code]  # input order kept
        by_video[ground_truth.video_ids[vid_code]] = ground_truth.segments[rows]
    matched = {v: np.zeros(s.shape[0], dtype=bool) for v, s in by_video.items()}
    rows = np.flatnonzero(_labels_of(predictions, lambda n: n == class_name))
    rows = rows[np.argsort(-predictions.scores[rows], kind="stable")]
    is_tp = np.zeros(rows.shape[0], dtype=bool)
    for k, r in enumerate(rows.tolist()):
        vid = predictions.video_ids[int(predictions.videos[r])]
        gts = by_video.get(vid)
        if gts is None:
            continue
        overlap = _activitynet_tiou(predictions.segments[r], gts)
        for j in np.argsort(-overlap, kind="stable").tolist():
            if overlap[j] < tiou:
                break
            if matched[vid][j]:
                continue
            matched[vid][j] = True
            is_tp[k] = True
            break
    return _curve(
        class_name, tiou, "activitynet", predictions.scores[rows], is_tp, int(gt_rows.shape[0])
    )


def _thumos_overlap(g: NDArray[np.float64], d: NDArray[np.float64]) -> NDArray[np.float64]:
    """THUMOS'14 overlap of one segment ``g (2,)`` with ``d (N, 2)``: intersection over hull when positive."""
    inter = np.minimum(g[1], d[:, 1]) - np.maximum(g[0], d[:, 0])
    hull = np.maximum(g[1], d[:, 1]) - np.minimum(g[0], d[:, 0])
    out = np.zeros_like(inter)
    np.divide(inter, hull, out=out, where=inter > 0)
    return out


def precision_recall_thumos14(
    annotations: Thumos14Annotations, predictions: Predictions, class_name: str, tiou: float
) -> PrecisionRecall:
    """Precision–recall of ``class_name`` at ``tiou`` under the official THUMOS'14 protocol.

    The rules of :func:`~wtal_blocks.evaluate_thumos14`, as a plain loop: per video, each
    ground truth (file order) takes the still-free detection of largest overlap (the more
    confident on ties) when that overlap is ``> tiou``; a detection that is not a true
    positive and intersects an ``Ambiguous`` segment is removed; the rest are ranked by
    descending confidence (ties: video name order, then the video's own confidence order).
    Its :attr:`~PrecisionRecall.ap` (non-interpolated) equals the evaluator's AP.

    Args:
        annotations: from :func:`~wtal_blocks.load_thumos14_annotations`.
        predictions: from :func:`~wtal_blocks.read_thumos14_results` (labels are UCF101 class
            ids) or :func:`~wtal_blocks.load_activitynet_results` (class names).
        class_name: a class of ``annotations``.
        tiou: threshold in ``[0, 1]`` (a match needs ``>``).
    """
    if class_name not in annotations.class_names:
        raise ValueError(f"class {class_name!r} is not a THUMOS'14 annotation class")
    c = annotations.class_names.index(class_name)
    class_id = str(annotations.class_ids[c])

    def accept(label: str) -> bool:
        text = label.strip()
        if label == class_name:
            return True
        return text.lstrip("+-").isdigit() and str(int(text)) == class_id

    rows = np.flatnonzero(_labels_of(predictions, accept))
    rows = rows[np.argsort(-predictions.scores[rows], kind="stable")]  # confidence order
    det_video = [predictions.video_ids[int(predictions.videos[r])] for r in rows.tolist()]
    gt_rows = np.flatnonzero(annotations.labels == c)
    gt_by_video: dict[str, list[int]] = {}
    for g in gt_rows.tolist():  # annotation-file order
        gt_by_video.setdefault(annotations.video_ids[int(annotations.videos[g])], []).append(g)
    amb_by_video: dict[str, list[int]] = {}
    for a, v in enumerate(annotations.ambiguous_videos.tolist()):
        amb_by_video.setdefault(annotations.video_ids[int(v)], []).append(a)
    det_by_video: dict[str, list[int]] = {}
    for k, vid in enumerate(det_video):  # each video's detections in confidence order
        det_by_video.setdefault(vid, []).append(k)
    is_tp = np.zeros(rows.shape[0], dtype=bool)
    for vid, local_list in det_by_video.items():
        local = np.asarray(local_list, dtype=np.int64)
        segs = predictions.segments[rows[local]]
        free = np.ones(local.shape[0], dtype=bool)
        for g in gt_by_video.get(vid, []):
            overlap = np.where(free, _thumos_overlap(annotations.segments[g], segs), -1.0)
            best = int(np.argmax(overlap))  # the first (more confident) on ties
            if overlap[best] > tiou:
                free[best] = False
                is_tp[local[best]] = True
    kept = np.ones(rows.shape[0], dtype=bool)
    for k, r in enumerate(rows.tolist()):
        amb_rows = amb_by_video.get(det_video[k])
        if is_tp[k] or not amb_rows:
            continue
        amb = annotations.ambiguous_segments[amb_rows]
        seg = predictions.segments[r]
        # a false positive that intersects an ambiguous segment is neither true nor false
        kept[k] = not bool(
            (np.minimum(seg[1], amb[:, 1]) - np.maximum(seg[0], amb[:, 0]) > 0).any()
        )
    idx = np.flatnonzero(kept)
    scores = predictions.scores[rows[idx]]
    # ranking: confidence, then video name, then the video's own (confidence) order
    order = sorted(range(idx.shape[0]), key=lambda i: (-scores[i], det_video[idx[i]], idx[i]))
    return _curve(
        class_name, tiou, "thumos14", scores[order], is_tp[idx][order], int(gt_rows.shape[0])
    )


def plot_precision_recall(
    curves: PrecisionRecall | Sequence[PrecisionRecall], *, title: str | None = None
) -> Plot:
    """Precision–recall curves (one line per :class:`PrecisionRecall`).

    The raw precision is drawn as a thin line; for the ActivityNet protocol the interpolated
    precision whose area is the AP is drawn as a step line on top.

    Returns:
        :class:`Plot` with ``data[class_name]`` = ``{"recall", "precision",
        "interpolated_precision", "ap", "tiou"}`` (``interpolated_precision`` only for the
        ActivityNet protocol).
    """
    items = [curves] if isinstance(curves, PrecisionRecall) else list(curves)
    if not items:
        raise ValueError("no curve to plot")
    fig = Figure(figsize=(5.4, 4.2), layout="constrained")
    ax = fig.subplots()
    data: dict[str, Any] = {}
    for n, curve in enumerate(items):
        colour = f"C{n % 10}"
        label = f"{curve.class_name}: AP {100 * curve.ap:.1f} @ tIoU {curve.tiou:g}"
        entry: dict[str, Any] = {
            "recall": curve.recall,
            "precision": curve.precision,
            "ap": curve.ap,
            "tiou": curve.tiou,
        }
        if curve.precision.size == 0:  # a class nobody predicted: a legend entry, no line
            label += " (no prediction)"
        if curve.protocol == "activitynet":
            (raw,) = ax.plot(curve.recall, curve.precision, color=colour, lw=0.8, alpha=0.45)
            interp = curve.interpolated_precision
            # the step line starts at recall 0 with the first interpolated precision
            (env,) = ax.step(
                np.concatenate([[0.0], curve.recall]) if interp.size else interp,
                np.concatenate([interp[:1], interp]) if interp.size else interp,
                where="pre",
                color=colour,
                lw=1.6,
                label=label,
            )
            env.set_gid(f"{curve.class_name}/interpolated")
            entry["interpolated_precision"] = interp
        else:
            (raw,) = ax.plot(curve.recall, curve.precision, color=colour, lw=1.4, label=label)
        raw.set_gid(f"{curve.class_name}/precision")
        data[curve.class_name] = entry
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    protocol = items[0].protocol
    ax.set_title(title or f"precision–recall ({protocol} protocol)", fontsize=10)
    return Plot(fig, data)


# ---------------------------------------------------------------------------------------
# from a model (torch is imported only here)


@dataclass(frozen=True, eq=False)
class VideoCurves:
    """Test-time sequences of one video (numpy, on the CPU).

    Attributes:
        cas: ``(T, C)`` fused CAS (``segment_softmax × u``, min-max normalised over time).
        magnitude: ``(T,)`` normalised magnitude ``u`` in ``[0, 1]``.
        magnitudes: ``(T,)`` raw feature magnitudes ``||f_t||``.
        video_scores: ``(C,)`` video-level class probabilities.
    """

    cas: NDArray[np.float64]
    magnitude: NDArray[np.float64]
    magnitudes: NDArray[np.float64]
    video_scores: NDArray[np.float64]


def video_curves(
    model: UncertaintyModelingNet, features: Any, *, inference: UMInferenceConfig | None = None
) -> VideoCurves:
    """Run ``model`` (eval mode, no gradient) on one video's ``(T, F)`` features.

    The fused CAS and ``u`` are those the UM post-processing localises on
    (:meth:`~wtal_blocks.UMPostProcessor.scores`).
    """
    import torch

    from .inference import UMPostProcessor

    param = next(model.parameters())
    x = torch.as_tensor(np.asarray(features), dtype=param.dtype, device=param.device)
    if x.dim() != 2:
        raise ValueError(f"features must have shape (T, F), got {tuple(x.shape)}")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x[None])
            cas, u = UMPostProcessor(inference).scores(out)
    finally:
        model.train(was_training)
    return VideoCurves(
        cas=cas[0].double().cpu().numpy(),
        magnitude=u[0].double().cpu().numpy(),
        magnitudes=out.magnitudes[0].double().cpu().numpy(),
        video_scores=out.video_scores[0].double().cpu().numpy(),
    )


def _video_seconds(
    dataset: FeatureDataset, index: int, sampled: int, inference: UMInferenceConfig | None
) -> float:
    fps_kwargs: dict[str, Any] = {}
    if inference is not None:
        fps_kwargs = {
            "frames_per_segment": inference.frames_per_segment,
            "fps": inference.feature_fps,
        }
    duration = float(dataset.durations[index]) if dataset.time_from_duration else None
    return seconds_per_segment(
        int(dataset.lengths[index]), sampled, duration=duration, **fps_kwargs
    )


def segment_magnitudes(
    model: UncertaintyModelingNet,
    dataset: FeatureDataset,
    *,
    indices: Sequence[int] | None = None,
    batch_size: int = 16,
    inference: UMInferenceConfig | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Feature magnitudes of the action and of the background segments of ``dataset`` (Fig. 2).

    The model runs in eval mode on each video as the dataset samples it; a segment is action
    when its centre lies inside a ground-truth instance of any class (:func:`ground_truth_mask`).

    Returns:
        ``(action (N_a,), background (N_b,))`` float64 magnitudes ``||f_t||``.
    """
    import torch

    from .data.base import pad_collate

    param = next(model.parameters())
    database = dataset.ground_truth()["database"]
    order = list(range(len(dataset))) if indices is None else list(indices)
    action: list[NDArray[np.float64]] = []
    background: list[NDArray[np.float64]] = []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            batch = pad_collate([dataset[i] for i in order[start : start + batch_size]])
            with torch.no_grad():
                mags = model(
                    batch.features.to(param.device), batch.mask.to(param.device)
                ).magnitudes
            lengths = batch.mask.sum(dim=1).tolist()
            for row, (idx, sampled) in enumerate(zip(batch.indices.tolist(), lengths, strict=True)):
                m = mags[row, :sampled].double().cpu().numpy()
                anns = database[dataset.video_ids[idx]].get("annotations", [])
                intervals = np.asarray(
                    [[float(a["segment"][0]), float(a["segment"][1])] for a in anns]
                ).reshape(-1, 2)
                inside = ground_truth_mask(
                    intervals, sampled, _video_seconds(dataset, idx, sampled, inference)
                )
                action.append(m[inside])
                background.append(m[~inside])
    finally:
        model.train(was_training)
    empty = np.zeros(0, dtype=np.float64)
    return (
        np.concatenate(action) if action else empty,
        np.concatenate(background) if background else empty,
    )


# ---------------------------------------------------------------------------------------
# the command-line hooks


def _selected(video_scores: NDArray[np.float64], threshold: float) -> NDArray[np.bool_]:
    """The classes UM localises: video score ``>= threshold``, else the arg-max class."""
    chosen = video_scores >= threshold
    if not chosen.any():
        chosen[int(np.argmax(video_scores))] = True
    return chosen


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def plot_evaluation(
    config: UMConfig,
    checkpoint: str | os.PathLike[str],
    results: str | os.PathLike[str],
    directory: str | os.PathLike[str],
    *,
    n_videos: int = 3,
    dpi: int = 100,
    log: Log = print,
) -> list[Path]:
    """The plots of ``wtal-um evaluate --plots DIR``: the worst and the best videos.

    Each test video is scored by its own average mAP (the ActivityNet protocol on that video
    alone, over ``config.tiou_thresholds``, classes of its ground truth); the ``n_videos``
    lowest and highest get a :func:`plot_localization` figure of their most frequent
    ground-truth class, from a forward pass of ``checkpoint``. Also writes ``class_ap.png``
    (:func:`plot_class_ap`) and ``plots.json`` (the videos, their scores and the files).

    Args:
        config: the evaluation's configuration (dataset, T, device, scoring ...).
        checkpoint: the official-format ``state_dict`` that produced ``results``.
        results: the ActivityNet-format result JSON written by the evaluation.
        directory: where the PNGs go (created).
        n_videos: how many worst and how many best videos.
        dpi: resolution of the PNGs.
        log: where the summary line goes.

    Returns:
        The written PNG paths.
    """
    from .evaluation import DetectionMAP, EvaluationInputError, load_activitynet_results
    from .recipes.engine import inference_config, model_and_test_set, resolve_device

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    model, dataset = model_and_test_set(config, checkpoint, device)
    inference = inference_config(config)
    predictions = load_activitynet_results(results)
    database = dataset.ground_truth()["database"]
    names = dataset.class_names
    pred_video = {
        v: np.flatnonzero(predictions.videos == i) for i, v in enumerate(predictions.video_ids)
    }
    pred_label = [predictions.label_names[int(i)] for i in predictions.labels]

    def instances(vid: str) -> list[tuple[str, float, float]]:
        anns = database[vid].get("annotations", [])
        return [(a["label"], float(a["segment"][0]), float(a["segment"][1])) for a in anns]

    overall = DetectionMAP(names, config.tiou_thresholds, ignore_unknown_labels=True)
    scored: list[tuple[float, int, str]] = []
    for vid in dataset.video_ids:
        gts = instances(vid)
        rows = pred_video.get(vid, np.zeros(0, dtype=np.int64))
        args = (
            vid,
            predictions.segments[rows],
            predictions.scores[rows],
            [pred_label[r] for r in rows.tolist()],
        )
        overall.update(*args)
        if not gts:
            continue
        gt_args = (vid, np.asarray([[s, e] for _, s, e in gts]), [lab for lab, _, _ in gts])
        overall.add_ground_truth(*gt_args)
        metric = DetectionMAP(names, config.tiou_thresholds, ignore_unknown_labels=True)
        metric.add_ground_truth(*gt_args)
        metric.update(*args)
        try:
            scored.append((float(metric.compute().average_mAP), len(gts), vid))
        except EvaluationInputError:  # pragma: no cover - a video whose instances are all unknown
            continue
    # ties (many videos score 0 or 1): the videos with more instances first, then by name
    worst = sorted(scored, key=lambda x: (x[0], -x[1], x[2]))
    best = sorted(scored, key=lambda x: (-x[0], -x[1], x[2]))
    k = min(n_videos, len(scored) // 2) if len(scored) > 1 else len(scored)
    chosen = [("worst", i + 1, s, v) for i, (s, _, v) in enumerate(worst[:k])]
    chosen += [("best", i + 1, s, v) for i, (s, _, v) in enumerate(best[:k])]

    index = {v: i for i, v in enumerate(dataset.video_ids)}
    written: list[Path] = []
    summary: list[dict[str, Any]] = []
    for kind, rank, score, vid in chosen:
        i = index[vid]
        sample = dataset[i]
        curves = video_curves(model, sample.features, inference=inference)
        gts = instances(vid)
        labels = [lab for lab, _, _ in gts]
        cls = max(sorted(set(labels), key=names.index), key=labels.count)
        c = names.index(cls)
        rows = pred_video.get(vid, np.zeros(0, dtype=np.int64))
        rows = rows[[pred_label[r] == cls for r in rows.tolist()]]
        localised = [
            names[j] for j in np.flatnonzero(_selected(curves.video_scores, config.class_threshold))
        ]
        plot = plot_localization(
            curves.cas[:, c],
            curves.magnitude,
            predictions.segments[rows],
            predictions.scores[rows],
            np.asarray([[s, e] for lab, s, e in gts if lab == cls]).reshape(-1, 2),
            seconds=_video_seconds(dataset, i, curves.cas.shape[0], inference),
            class_name=cls,
            title=(
                f"{kind} #{rank}: {vid}, {cls} (video average mAP {100 * score:.1f}%)\n"
                f"video score of {cls}: {curves.video_scores[c]:.2f}; classes localised: {', '.join(localised)}"
            ),
        )
        path = plot.save(out / f"{kind}_{rank}_{_safe(vid)}.png", dpi=dpi)
        written.append(path)
        summary.append(
            {
                "kind": kind,
                "rank": rank,
                "video": vid,
                "class": cls,
                "average_mAP": score,
                "file": path.name,
            }
        )
    result = overall.compute()
    written.append(plot_class_ap(result).save(out / "class_ap.png", dpi=dpi))
    (out / "plots.json").write_text(
        json.dumps({"videos": summary, "class_ap": "class_ap.png"}, indent=2) + "\n"
    )
    log(f"wrote {len(written)} plots to {out}")
    return written


def write_evaluation_plots(
    result: DetectionResult,
    ground_truth: GroundTruth | Thumos14Annotations,
    predictions: Predictions,
    directory: str | os.PathLike[str],
    *,
    tiou: float | None = None,
    dpi: int = 100,
) -> list[Path]:
    """The plots of ``wtal-eval --plots DIR``.

    Writes ``class_ap.png`` (AP averaged over the thresholds) and ``pr_tiou<t>.png``: the
    precision–recall curves of the best, the median and the worst class at ``tiou`` (default:
    0.5 when evaluated, else the middle threshold), under the result's protocol.

    Returns:
        The written paths.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    thresholds = np.asarray(result.tiou_thresholds, dtype=np.float64)
    if tiou is None:
        near = np.flatnonzero(np.isclose(thresholds, 0.5))
        column = int(near[0]) if near.size else thresholds.shape[0] // 2
    else:
        hit = np.flatnonzero(np.isclose(thresholds, tiou))
        if hit.size == 0:
            raise ValueError(
                f"tiou {tiou} is not one of the evaluated thresholds {thresholds.tolist()}"
            )
        column = int(hit[0])
    t = float(thresholds[column])
    written = [plot_class_ap(result).save(out / "class_ap.png", dpi=dpi)]
    ap = np.asarray(result.ap, dtype=np.float64)[:, column]
    order = np.argsort(-ap, kind="stable")
    picks = list(dict.fromkeys(int(i) for i in (order[0], order[len(order) // 2], order[-1])))
    curves = []
    for i in picks:
        name = result.class_names[i]
        if isinstance(ground_truth, Thumos14Annotations):
            curves.append(precision_recall_thumos14(ground_truth, predictions, name, t))
        else:
            curves.append(precision_recall(ground_truth, predictions, name, t))
    plot = plot_precision_recall(
        curves, title=f"best, median and worst class at tIoU {t:g} ({result.protocol})"
    )
    written.append(plot.save(out / f"pr_tiou{t:g}.png", dpi=dpi))
    return written
