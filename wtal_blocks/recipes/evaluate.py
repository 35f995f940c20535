"""Evaluating a model on a test set: detections, the ActivityNet-protocol mAP and the accuracy.

Videos are batched by similar length (padded, with a mask) and post-processed by the method's
batched pipeline; under ``torch.distributed`` every rank evaluates a shard and the detections
are gathered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import set_validation
from ..data.base import BatchReader, FeatureDataset, PaddedBatch
from ..evaluation import DetectionMAP, video_label_accuracy
from .build import build_dataset, resolve_device
from .clock import StageClock
from .config import RecipeConfig
from .distributed import Dist
from .methods import PostProcessor, method_of
from .rundir import Log, atomic_write_bytes

__all__ = [
    "Detections",
    "EvalReport",
    "evaluate_checkpoint",
    "evaluate_model",
    "model_and_test_set",
    "predict",
    "results_json",
]

Detections = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
"""Video id -> (segments (N, 2) seconds, scores (N,), class indices (N,))."""


@dataclass(frozen=True)
class EvalReport:
    """Metrics of one evaluation of the test set.

    Attributes:
        step: training iteration the weights come from.
        tiou_thresholds: the tIoU thresholds.
        mAP: detection mAP at each threshold (ActivityNet protocol).
        average_mAP: their mean.
        accuracy: the fraction of videos whose thresholded video probabilities equal their
            labels on every class (the accuracy the official codes report).
        ap: per-class AP (class -> list over thresholds).
        label: ``"final"``, ``"best"`` or ``"eval"``.
    """

    step: int
    tiou_thresholds: list[float]
    mAP: list[float]
    average_mAP: float
    accuracy: float
    ap: dict[str, list[float]] = field(default_factory=dict)
    label: str = "eval"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``metrics.json``)."""
        return {
            "step": self.step,
            "tiou_thresholds": self.tiou_thresholds,
            "mAP": self.mAP,
            "average_mAP": self.average_mAP,
            "accuracy": self.accuracy,
            "ap": self.ap,
        }

    def table(self, title: str | None = None) -> str:
        """The mAP per threshold, the average and the accuracy as a small text table."""
        head = title or f"{self.label} model (step {self.step})"
        thr = "  ".join(f"{t:>6g}" for t in self.tiou_thresholds)
        val = "  ".join(f"{100 * v:6.2f}" for v in self.mAP)
        return (
            f"{head}\n  tIoU     {thr}     avg\n  mAP (%)  {val}  {100 * self.average_mAP:6.2f}\n"
            f"  video classification accuracy: {100 * self.accuracy:.2f}%"
        )

    def csv_row(self) -> dict[str, str]:
        """The per-threshold columns of ``eval_log.csv``."""
        return {
            f"mAP@{t:g}": f"{v:.6f}" for t, v in zip(self.tiou_thresholds, self.mAP, strict=True)
        }


def ground_truth_metric(dataset: FeatureDataset, tiou: str) -> DetectionMAP:
    """A :class:`DetectionMAP` holding the dataset's ground truth."""
    metric = DetectionMAP(dataset.class_names, tiou_thresholds=tiou)
    database = dataset.ground_truth()["database"]
    vids, segs, labs = [], [], []
    for vid in dataset.video_ids:
        for ann in database[vid].get("annotations", []):
            vids.append(vid)
            segs.append([float(ann["segment"][0]), float(ann["segment"][1])])
            labs.append(ann["label"])
    metric.add_ground_truth(vids, np.asarray(segs, dtype=np.float64).reshape(-1, 2), labs)
    return metric


@torch.no_grad()
def predict(
    model: nn.Module,
    dataset: FeatureDataset,
    post: PostProcessor,
    device: torch.device,
    *,
    batch_size: int = 16,
    indices: Sequence[int] | None = None,
    clock: StageClock | None = None,
    prefetch: bool | None = None,
) -> tuple[Detections, np.ndarray, np.ndarray]:
    """Detections of the given videos (all by default), their video probabilities and labels.

    Videos are batched by similar length (padded, with a mask), so a batch costs about what
    its longest video does. With ``prefetch`` a background thread reads the next batch while
    the current one is in the network and the post-processing (two reused buffers take
    turns); by default it is on for an accelerator and off on the CPU, where the reads would
    take cores from the forward's threads (measured on 2 cores: 12% slower overall).

    Returns ``(detections, video_probs (V, C), labels (V, C))`` in the order of ``indices``.
    ``clock`` (optional) receives the seconds of the ``read`` (the wait for a batch),
    ``forward`` and ``post`` stages and the counts ``segments`` (real) and
    ``padded_segments`` (what the forward computed, padding included).
    """
    clock = clock or StageClock(enabled=False)
    if prefetch is None:
        prefetch = device.type != "cpu"
    model.eval()
    order = list(range(len(dataset))) if indices is None else list(indices)
    order.sort(key=lambda i: int(dataset.lengths[i]))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    detections: Detections = {}
    probs, labels = [], []
    readers = [BatchReader(dataset), BatchReader(dataset)]  # a batch is used before its reuse
    with ThreadPoolExecutor(1) if prefetch else nullcontext() as pool:

        def fetch(k: int) -> Future[PaddedBatch] | PaddedBatch:
            read = readers[k % 2]
            return pool.submit(read, chunks[k]) if pool is not None else read(chunks[k])

        pending = fetch(0) if chunks else None
        for k in range(len(chunks)):
            with clock.stage("read"):
                batch = pending.result() if isinstance(pending, Future) else pending
                if batch is None:  # unreachable: there is a chunk k, so it was fetched
                    raise RuntimeError("predict: no batch was fetched")
                if k + 1 < len(chunks):
                    pending = fetch(k + 1)  # the other buffer: this one is still in use
                clock.count("videos", len(batch.video_ids))
                clock.count("segments", int(batch.mask.sum()))  # on the host: no device sync
                clock.count("padded_segments", batch.mask.numel())
                uniform = batch.uniform_length
                batch = batch.to(device)
                mask = None if uniform else batch.mask
                lengths = batch.lengths.to(device)
                durations = batch.durations.to(device) if dataset.time_from_duration else None
            with clock.stage("forward"), set_validation(False):  # the dataset checked the data
                out = model(batch.features, mask)
            with clock.stage("post"):
                for vid, det in zip(batch.video_ids, post(out, lengths, durations), strict=True):
                    detections[vid] = (
                        det.segments.cpu().numpy(),
                        det.scores.cpu().numpy(),
                        det.labels.cpu().numpy(),
                    )
                probs.append(out.video_probs.float().cpu().numpy())
                labels.append(batch.labels.cpu().numpy())
    back = np.argsort(np.argsort(order, kind="stable"), kind="stable")  # restore input order
    empty = np.zeros((0, dataset.num_classes))
    video_probs = np.concatenate(probs)[back] if probs else empty
    video_labels = np.concatenate(labels)[back] if labels else empty
    return detections, video_probs, video_labels


def results_json(
    detections: Detections, class_names: Sequence[str], method: str = "wtal_blocks"
) -> dict[str, Any]:
    """ActivityNet-format results, ``{"results": {vid: [{"label", "score", "segment"}]}}``.

    The file carries the keys every official evaluator of UM, BaS-Net and CoLA requires
    (``version``, ``results``, ``external_data``; CoLA's also ``method``).
    """
    results = {
        vid: [
            {"label": class_names[int(lab)], "score": float(s), "segment": [float(a), float(b)]}
            for (a, b), s, lab in zip(seg.tolist(), sc.tolist(), lb.tolist(), strict=True)
        ]
        for vid, (seg, sc, lb) in detections.items()
    }
    return {
        "version": "VERSION 1.3",
        "method": method,
        "results": results,
        "external_data": {"used": True, "details": "wtal_blocks"},
    }


def dump_json(obj: Any) -> bytes:
    """Compact JSON bytes: ``orjson`` when it is installed (the ``fast-json`` extra, ~10x
    faster on large result files), else the standard library with the same separators."""
    try:
        import orjson
    except ImportError:
        return json.dumps(obj, separators=(",", ":")).encode()
    return orjson.dumps(obj)


def evaluate_model(
    model: nn.Module,
    dataset: FeatureDataset,
    config: RecipeConfig,
    device: torch.device,
    *,
    step: int = 0,
    label: str = "eval",
    dist: Dist | None = None,
    clock: StageClock | None = None,
) -> tuple[EvalReport, dict[str, Any]]:
    """Detect on the whole test set and score it (ActivityNet protocol + accuracy).

    Under torch.distributed every rank evaluates a shard and the detections are gathered, so
    every rank returns the same report. Returns ``(report, results_json)``. ``clock``
    (optional) receives the stages of :func:`predict` and ``evaluate`` (scoring).
    """
    clock = clock or StageClock(enabled=False)
    dist = dist or Dist()
    method = method_of(config)
    shard = list(range(dist.rank, len(dataset), dist.world))
    post = method.build_post_processor(config)
    detections, probs, labels = predict(
        model,
        dataset,
        post,
        device,
        batch_size=config.eval_batch_for(device.type),
        indices=shard,
        clock=clock,
    )
    if dist.active:
        import torch.distributed as tdist

        gathered: list[Any] = [None] * dist.world
        tdist.all_gather_object(gathered, (detections, probs, labels))
        detections = {k: v for part in gathered for k, v in part[0].items()}
        probs = np.concatenate([part[1] for part in gathered])
        labels = np.concatenate([part[2] for part in gathered])
    with clock.stage("evaluate"):
        metric = ground_truth_metric(dataset, config.tiou_thresholds)
        for vid, (seg, sc, lab) in detections.items():
            metric.update(vid, seg, sc, lab)
        result = metric.compute()
        accuracy = (
            video_label_accuracy(probs, labels, config.class_threshold) if len(probs) else 0.0
        )
    report = EvalReport(
        step=step,
        tiou_thresholds=[float(t) for t in result.tiou_thresholds],
        mAP=[float(v) for v in result.mAP],
        average_mAP=float(result.average_mAP),
        accuracy=float(accuracy),
        ap=result.to_dict()["ap"],
        label=label,
    )
    return report, results_json(detections, dataset.class_names, method=method.title)


def model_and_test_set(
    config: RecipeConfig, checkpoint: str | os.PathLike[str], device: torch.device
) -> tuple[nn.Module, FeatureDataset]:
    """The test dataset of ``config`` and the checkpoint's network, checked against each other."""
    method = method_of(config)
    test_set = build_dataset(config, train=False, test_sampling=method.test_sampling(config))
    model = method.load_checkpoint(
        checkpoint, config, test_set.feature_dim, test_set.num_classes, device
    )
    return model.to(device), test_set


def evaluate_checkpoint(
    config: RecipeConfig,
    checkpoint: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    log: Log = print,
    clock: StageClock | None = None,
) -> EvalReport:
    """The method's official test pipeline from a checkpoint: detect, write results, score.

    Loads an official-format ``state_dict`` (or one of our training checkpoints) with
    ``weights_only=True``, checks it against the dataset's feature size and class count, runs
    the batched forward and post-processing on the test set, writes the ActivityNet-format
    results to ``output`` atomically and returns the report. ``clock`` (optional) receives
    the seconds of every stage: ``load`` (test set index, ground truth, checkpoint), ``read``,
    ``forward``, ``post``, ``evaluate`` and ``write``.
    """
    clock = clock or StageClock(enabled=False)
    device = resolve_device(config.device)
    with clock.stage("load"):
        model, test_set = model_and_test_set(config, checkpoint, device)
    report, results = evaluate_model(
        model, test_set, config, device, label="checkpoint", clock=clock
    )
    with clock.stage("write"):
        atomic_write_bytes(Path(output), dump_json(results))
    n_det = sum(len(v) for v in results["results"].values())
    log(f"wrote {n_det} detections of {len(results['results'])} videos to {output}")
    return report
