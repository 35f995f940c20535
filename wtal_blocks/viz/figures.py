"""The figures: the paper's Figures 2 and 4, per-class AP and precision–recall curves.

Every ``plot_*`` function returns a :class:`Plot`: the matplotlib
:class:`~matplotlib.figure.Figure` and, in ``Plot.data``, the very arrays that were handed to
matplotlib, so that a test (or a notebook) can check *what* is drawn without looking at
pixels. Figures are built with :class:`matplotlib.figure.Figure` directly, not with
``pyplot``: no display, no global figure registry, nothing to close, and the Agg renderer
writes the PNGs. The functions draw what they are given (evaluator results, curves, arrays);
they compute no match, no metric and run no model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
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

from ..evaluation.curves import PrecisionRecall

if TYPE_CHECKING:
    from ..evaluation.result import DetectionResult

__all__ = [
    "Plot",
    "plot_class_ap",
    "plot_localization",
    "plot_magnitude_histograms",
    "plot_precision_recall",
]

# one colour per role, used by every figure
_CAS = "#1f77b4"
_MAGNITUDE = "#ff7f0e"
_DETECTION = "#d62728"
_GROUND_TRUTH = "#2ca02c"
_ACTION = "#d62728"
_BACKGROUND = "#7f7f7f"


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
