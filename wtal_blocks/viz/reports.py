"""Sets of figures written to a folder: what ``wtal-eval --plots`` and ``wtal-um evaluate
--plots`` produce. They draw evaluator results and the cases that the recipe layer computed
(:func:`wtal_blocks.recipes.inspect.localization_cases`); they run no model.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..evaluation.annotations import GroundTruth, Predictions, Thumos14Annotations
from ..evaluation.curves import precision_recall, precision_recall_thumos14
from ..evaluation.result import DetectionResult
from .figures import plot_class_ap, plot_localization, plot_precision_recall

if TYPE_CHECKING:
    from ..recipes.inspect import LocalizationCase

__all__ = ["write_evaluation_plots", "write_localization_plots"]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def write_localization_plots(
    cases: Sequence[LocalizationCase],
    result: DetectionResult,
    directory: str | os.PathLike[str],
    *,
    dpi: int = 100,
) -> list[Path]:
    """The plots of ``wtal-um evaluate --plots DIR``: one localization figure per case.

    Writes ``{kind}_{rank}_{video}.png`` per case (:func:`~.figures.plot_localization` of
    the case's class), ``class_ap.png`` (:func:`~.figures.plot_class_ap` of ``result``) and
    ``plots.json`` (the videos, their scores and the files).

    Returns:
        The written PNG paths.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    summary: list[dict[str, Any]] = []
    for case in cases:
        c = case.class_index
        title = (
            f"{case.kind} #{case.rank}: {case.video_id}, {case.class_name} "
            f"(video average mAP {100 * case.average_mAP:.1f}%)\n"
            f"video probability of {case.class_name}: {case.curves.video_probs[c]:.2f}; "
            f"classes localised: {', '.join(case.localised)}"
        )
        plot = plot_localization(
            case.curves.cas[:, c],
            case.curves.magnitude,
            case.detections,
            case.detection_scores,
            case.ground_truth,
            seconds=case.seconds,
            class_name=case.class_name,
            title=title,
        )
        path = plot.save(out / f"{case.kind}_{case.rank}_{_safe(case.video_id)}.png", dpi=dpi)
        written.append(path)
        summary.append(
            {
                "kind": case.kind,
                "rank": case.rank,
                "video": case.video_id,
                "class": case.class_name,
                "average_mAP": case.average_mAP,
                "file": path.name,
            }
        )
    written.append(plot_class_ap(result).save(out / "class_ap.png", dpi=dpi))
    (out / "plots.json").write_text(
        json.dumps({"videos": summary, "class_ap": "class_ap.png"}, indent=2) + "\n"
    )
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
