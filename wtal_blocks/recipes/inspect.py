"""What the plots show, computed in the recipe layer: a model's test-time curves, magnitudes
of action and background segments, and the best and worst videos of an evaluation.

These functions run models and read datasets; they return plain numpy data, which the figures
of :mod:`wtal_blocks.viz` draw.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from ..data.base import FeatureDataset, pad_collate
from ..evaluation import (
    DetectionMAP,
    DetectionResult,
    EvaluationInputError,
    load_activitynet_results,
)
from ..inference import UMInferenceConfig, UMPostProcessor, select_classes
from ..models.um import UncertaintyModelingNet

__all__ = [
    "LocalizationCase",
    "VideoCurves",
    "ground_truth_mask",
    "localization_cases",
    "seconds_per_segment",
    "segment_magnitudes",
    "video_curves",
]


def seconds_per_segment(
    length: int,
    num_segments: int,
    *,
    duration: float | None = None,
    frames_per_segment: int = 16,
    fps: float = 25.0,
) -> float:
    """Seconds covered by one sampled segment, as the proposal times count them.

    The UM pipeline places upsampled position ``j`` at ``j * frames_per_segment * L /
    (24 * T * fps)`` seconds (docs/official-code.md, proposal times), so sampled segment ``i``
    starts at ``i * frames_per_segment * L / (T * fps)``. With a ``duration`` (ActivityNet
    datasets, ``time_from_duration``) it is ``duration / T``.

    Args:
        length: ``L``, the video's original number of feature segments.
        num_segments: ``T``, the number of segments the network saw.
        duration: the video's duration in seconds, for duration-based times.
        frames_per_segment, fps: the feature rate (16 frames at 25 fps for I3D).
    """
    if length < 1 or num_segments < 1:
        raise ValueError(f"length and num_segments must be >= 1, got {length}, {num_segments}")
    if duration is not None:
        return float(duration) / num_segments
    return frames_per_segment * length / (num_segments * fps)


def ground_truth_mask(intervals: ArrayLike, num_segments: int, seconds: float) -> NDArray[np.bool_]:
    """Which sampled segments are action: ``(T,)`` bool, True where the segment's centre
    ``(i + 0.5) * seconds`` lies inside a ground-truth interval ``[start, end]``.

    Args:
        intervals: ``(G, 2)`` ``[start, end]`` in seconds (any classes).
        num_segments: ``T``.
        seconds: seconds per sampled segment (:func:`seconds_per_segment`).
    """
    seg = np.asarray(intervals, dtype=np.float64).reshape(-1, 2)
    centre = (np.arange(num_segments, dtype=np.float64) + 0.5) * seconds
    if seg.shape[0] == 0:
        return np.zeros(num_segments, dtype=bool)
    inside = (centre[:, None] >= seg[None, :, 0]) & (centre[:, None] <= seg[None, :, 1])
    return np.asarray(inside.any(axis=1), dtype=bool)


@dataclass(frozen=True, eq=False)
class VideoCurves:
    """Test-time sequences of one video (numpy, on the CPU).

    Attributes:
        cas: ``(T, C)`` fused CAS (``segment_softmax × u``, min-max normalised over time).
        magnitude: ``(T,)`` normalised magnitude ``u`` in ``[0, 1]``.
        magnitudes: ``(T,)`` raw feature magnitudes ``||f_t||``.
        video_probs: ``(C,)`` video-level class probabilities.
    """

    cas: NDArray[np.float64]
    magnitude: NDArray[np.float64]
    magnitudes: NDArray[np.float64]
    video_probs: NDArray[np.float64]


def video_curves(
    model: UncertaintyModelingNet, features: Any, *, inference: UMInferenceConfig | None = None
) -> VideoCurves:
    """Run ``model`` (eval mode, no gradient) on one video's ``(T, F)`` features.

    The fused CAS and ``u`` are those the UM post-processing localises on
    (:meth:`~wtal_blocks.UMPostProcessor.scores`).
    """
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
        video_probs=out.video_probs[0].double().cpu().numpy(),
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


@dataclass(frozen=True, eq=False)
class LocalizationCase:
    """One test video chosen for a localization plot (:func:`localization_cases`).

    Attributes:
        kind: ``"worst"`` or ``"best"``.
        rank: 1 for the worst (best) video, 2 for the next ...
        video_id: the video.
        class_name: its most frequent ground-truth class, the one drawn.
        average_mAP: the video's own average mAP (its ground truth and detections alone).
        curves: the model's test-time curves of the video.
        class_index: index of ``class_name`` in the dataset's classes.
        detections: ``(N, 2)`` seconds of the class's detections in the results file.
        detection_scores: ``(N,)`` their scores.
        ground_truth: ``(G, 2)`` seconds of the class's ground-truth instances.
        seconds: seconds per sampled segment.
        localised: the classes the post-processing localises in this video.
    """

    kind: str
    rank: int
    video_id: str
    class_name: str
    average_mAP: float
    curves: VideoCurves
    class_index: int
    detections: NDArray[np.float64]
    detection_scores: NDArray[np.float64]
    ground_truth: NDArray[np.float64]
    seconds: float
    localised: tuple[str, ...]


def _instances(database: dict[str, Any], vid: str) -> list[tuple[str, float, float]]:
    anns = database[vid].get("annotations", [])
    return [(a["label"], float(a["segment"][0]), float(a["segment"][1])) for a in anns]


def _video_scores(
    dataset: FeatureDataset,
    tiou_thresholds: str,
    predictions: Any,
) -> tuple[list[tuple[float, int, str]], DetectionResult]:
    """Each annotated video's own average mAP, and the overall result."""
    database = dataset.ground_truth()["database"]
    names = dataset.class_names
    rows_of = {
        v: np.flatnonzero(predictions.videos == i) for i, v in enumerate(predictions.video_ids)
    }
    label_of = [predictions.label_names[int(i)] for i in predictions.labels]
    overall = DetectionMAP(names, tiou_thresholds, ignore_unknown_labels=True)
    scored: list[tuple[float, int, str]] = []
    for vid in dataset.video_ids:
        gts = _instances(database, vid)
        rows = rows_of.get(vid, np.zeros(0, dtype=np.int64))
        args = (
            vid,
            predictions.segments[rows],
            predictions.scores[rows],
            [label_of[r] for r in rows],
        )
        overall.update(*args)
        if not gts:
            continue
        gt_args = (vid, np.asarray([[s, e] for _, s, e in gts]), [lab for lab, _, _ in gts])
        overall.add_ground_truth(*gt_args)
        metric = DetectionMAP(names, tiou_thresholds, ignore_unknown_labels=True)
        metric.add_ground_truth(*gt_args)
        metric.update(*args)
        try:
            scored.append((float(metric.compute().average_mAP), len(gts), vid))
        except EvaluationInputError:  # pragma: no cover - a video whose instances are all unknown
            continue
    return scored, overall.compute()


def localization_cases(
    model: UncertaintyModelingNet,
    dataset: FeatureDataset,
    results: str | os.PathLike[str],
    *,
    tiou_thresholds: str,
    inference: UMInferenceConfig,
    num_videos: int = 3,
) -> tuple[list[LocalizationCase], DetectionResult]:
    """The ``num_videos`` worst and best test videos of an evaluation, with what to draw.

    Each annotated test video is scored by its own average mAP (the ActivityNet protocol on
    that video alone, over ``tiou_thresholds``); ties go to videos with more instances, then
    by name. For each chosen video the model runs once (:func:`video_curves`).

    Returns:
        ``(cases, overall)``: the chosen videos (worst first, then best) and the result of
        the whole results file.
    """
    predictions = load_activitynet_results(results)
    database = dataset.ground_truth()["database"]
    names = dataset.class_names
    scored, overall = _video_scores(dataset, tiou_thresholds, predictions)
    worst = sorted(scored, key=lambda x: (x[0], -x[1], x[2]))
    best = sorted(scored, key=lambda x: (-x[0], -x[1], x[2]))
    k = min(num_videos, len(scored) // 2) if len(scored) > 1 else len(scored)
    chosen = [("worst", i + 1, s, v) for i, (s, _, v) in enumerate(worst[:k])]
    chosen += [("best", i + 1, s, v) for i, (s, _, v) in enumerate(best[:k])]
    index = {v: i for i, v in enumerate(dataset.video_ids)}
    label_of = [predictions.label_names[int(i)] for i in predictions.labels]
    cases = []
    for kind, rank, score, vid in chosen:
        i = index[vid]
        curves = video_curves(model, dataset[i].features, inference=inference)
        gts = _instances(database, vid)
        labels = [lab for lab, _, _ in gts]
        cls = max(sorted(set(labels), key=names.index), key=labels.count)
        rows = np.flatnonzero(
            (predictions.videos == predictions.video_ids.index(vid))
            if vid in predictions.video_ids
            else np.zeros(len(predictions), dtype=bool)
        )
        rows = rows[[label_of[r] == cls for r in rows.tolist()]]
        chosen_classes = select_classes(
            torch.as_tensor(curves.video_probs)[None], inference.class_threshold
        )[0].numpy()
        cases.append(
            LocalizationCase(
                kind=kind,
                rank=rank,
                video_id=vid,
                class_name=cls,
                average_mAP=score,
                curves=curves,
                class_index=names.index(cls),
                detections=predictions.segments[rows],
                detection_scores=predictions.scores[rows],
                ground_truth=np.asarray([[s, e] for lab, s, e in gts if lab == cls]).reshape(-1, 2),
                seconds=_video_seconds(dataset, i, curves.cas.shape[0], inference),
                localised=tuple(names[j] for j in np.flatnonzero(chosen_classes)),
            )
        )
    return cases, overall
