"""Training and evaluation engine of the UM recipe (single process or torch.distributed).

Design points (what the official code lacks):

* evaluation every ``eval_every`` iterations, and always of the final model; both the final
  and the best-step numbers are reported and labelled;
* determinism: the data order is a function of ``(seed, epoch)``, the random segment
  sampling of ``(seed, epoch, video)``, and the dropout masks are drawn for the *global* batch
  from a generator seeded by ``seed``; the same seed gives the same run on one process or on
  N data-parallel processes, with any number of data-loader workers (bit-identical on the CPU,
  tested; on CUDA cuDNN is set to deterministic kernels, but other GPU kernels may still sum
  in a varying order);
* atomic checkpoints holding model, optimiser, RNG state and step; ``resume`` continues a run
  so that it ends with the same weights as an uninterrupted one;
* data-parallel training through ``torchrun`` (gradients all-reduced, evaluation sharded and
  gathered on every rank).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler

from .._validation import set_validation
from ..data.base import DataError, FeatureDataset, PaddedBatch, pad_collate
from ..inference import UMInferenceConfig, UMPostProcessor
from ..losses import UMObjective
from ..models.um import DropoutMultipliers, UncertaintyModelingNet
from .checkpoint import atomic_save, atomic_write_text, load_checkpoint
from .config import UMConfig

__all__ = [
    "EvalReport",
    "RunRefused",
    "TrainResult",
    "build_dataset",
    "build_datasets",
    "build_model",
    "evaluate_checkpoint",
    "evaluate_model",
    "resolve_device",
    "train_um",
]

Log = Callable[[str], None]


class RunRefused(RuntimeError):
    """The output directory already holds a run (and neither resume nor overwrite was asked)."""


@dataclass(frozen=True)
class EvalReport:
    """Metrics of one evaluation of the test set.

    Attributes:
        step: training iteration the weights come from.
        tiou_thresholds: the tIoU thresholds.
        mAP: detection mAP at each threshold (ActivityNet protocol).
        average_mAP: their mean.
        accuracy: the official "all labels correct at 0.2" video accuracy.
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


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train_um`: the final model's numbers and the best evaluated step's."""

    final: EvalReport
    best: EvalReport
    output_dir: Path
    history: list[EvalReport]


# ---------------------------------------------------------------------------------------
# setup


def resolve_device(spec: str) -> torch.device:
    """``"auto"`` -> CUDA when available; under ``torchrun`` each process takes GPU ``LOCAL_RANK``."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(spec)
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))  # one GPU per process
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def build_dataset(config: UMConfig, train: bool) -> FeatureDataset:
    """The training (random sampling) or test (uniform sampling) dataset of ``config.dataset``."""
    if config.dataset != "synthetic" and not config.data_root:
        raise ValueError(f"data_root (--data-root DIR) is required for dataset {config.dataset!r}")
    if config.dataset == "thumos14":
        from ..data.thumos14 import ThumosFeatures

        return ThumosFeatures(
            config.data_root,
            "train" if train else "test",
            modal=config.modal,
            num_segments=config.segments,
            seed=config.seed,
        )
    if config.dataset in ("anet12", "anet13"):
        from ..data.activitynet import ActivityNetFeatures

        return ActivityNetFeatures.from_root(
            config.data_root,
            "training" if train else "validation",
            config.dataset,
            modal=config.modal,
            num_segments=config.segments,
            seed=config.seed,
        )
    if config.dataset == "synthetic":
        from ..data.synthetic import SyntheticWTAL

        return SyntheticWTAL(
            "train" if train else "test",
            preset=config.synthetic_size,
            num_segments=config.segments,
            seed=config.seed,
            modal=config.modal,
        )
    raise ValueError(f"unknown dataset {config.dataset!r}")


def build_datasets(config: UMConfig) -> tuple[FeatureDataset, FeatureDataset]:
    """Training and test datasets of ``config.dataset``."""
    return build_dataset(config, True), build_dataset(config, False)


def build_model(config: UMConfig, feature_dim: int, num_classes: int) -> UncertaintyModelingNet:
    return UncertaintyModelingNet(
        feature_dim,
        num_classes,
        embed_dim=config.embed_dim,
        action_ratio=config.action_ratio,
        background_ratio=config.background_ratio,
        dropout=config.dropout,
        background_score=config.background_score,
    )


def inference_config(config: UMConfig) -> UMInferenceConfig:
    return UMInferenceConfig(class_threshold=config.class_threshold, scoring=config.scoring)


# ---------------------------------------------------------------------------------------
# distributed helpers (no-ops in a single process)


@dataclass(frozen=True)
class _Dist:
    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _dist_context(device: torch.device) -> _Dist:
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1:
        return _Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        # torchrun's env:// rendezvous by default; WTAL_DIST_INIT_METHOD (e.g. file:///tmp/rdzv)
        # overrides it, which lets tests avoid TCP ports altogether
        dist.init_process_group(
            backend="nccl" if device.type == "cuda" else "gloo",
            init_method=os.environ.get("WTAL_DIST_INIT_METHOD", "env://"),
            rank=int(os.environ.get("RANK", "0")),
            world_size=int(os.environ["WORLD_SIZE"]),
        )
    return _Dist(dist.get_rank(), dist.get_world_size())


def _all_reduce_gradients(model: nn.Module, world: int) -> None:
    import torch.distributed as dist

    grads = [p.grad for p in model.parameters() if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])  # one collective for all parameters
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def _broadcast_parameters(model: nn.Module) -> None:
    import torch.distributed as dist

    for p in model.parameters():
        dist.broadcast(p.data, src=0)


# ---------------------------------------------------------------------------------------
# data order


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """Yields, for global steps ``start .. stop-1``, this rank's ``(video, epoch)`` pairs.

    Epoch ``e`` visits the videos in ``randperm(N)`` seeded by ``(seed, e)``, in batches of
    ``batch_size`` (the last one smaller, as the official ``drop_last=False`` loader). Each
    global batch is cut into ``world`` contiguous parts.
    """

    def __init__(
        self, n_videos: int, batch_size: int, seed: int, start: int, stop: int, dist: _Dist
    ) -> None:
        self.n = n_videos
        self.batch_size = batch_size
        self.seed = seed
        self.start = start
        self.stop = stop
        self.dist = dist
        self.steps_per_epoch = math.ceil(n_videos / batch_size)

    def global_batch(self, step: int) -> tuple[list[int], int]:
        epoch, pos = divmod(step, self.steps_per_epoch)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.n, generator=g).tolist()
        return perm[pos * self.batch_size : (pos + 1) * self.batch_size], epoch

    def local_range(self, global_size: int) -> tuple[int, int]:
        bounds = np.linspace(0, global_size, self.dist.world + 1).round().astype(int)
        return int(bounds[self.dist.rank]), int(bounds[self.dist.rank + 1])

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.stop):
            videos, epoch = self.global_batch(step)
            lo, hi = self.local_range(len(videos))
            yield [(v, epoch) for v in videos[lo:hi]]

    def __len__(self) -> int:
        return self.stop - self.start


def _collate_or_none(samples: list[Any]) -> PaddedBatch | None:
    """``pad_collate``, or None for a rank whose share of a small global batch is empty."""
    return pad_collate(samples) if samples else None


class _EpochIndexed(torch.utils.data.Dataset):
    """Adapter: items are ``(index, epoch)`` so that workers need no shared epoch state."""

    def __init__(self, dataset: FeatureDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, int]) -> Any:
        index, epoch = item
        return self.dataset.get(index, epoch)


# ---------------------------------------------------------------------------------------
# evaluation


def _ground_truth_metric(dataset: FeatureDataset, tiou: str) -> Any:
    from ..evaluation import DetectionMAP

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
    model: UncertaintyModelingNet,
    dataset: FeatureDataset,
    config: UMConfig,
    device: torch.device,
    *,
    indices: Sequence[int] | None = None,
    post: UMPostProcessor | None = None,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """Detections of the given videos (all by default), plus video scores and labels.

    Videos are batched by similar length (padded, with a mask), so a batch costs about what
    its longest video does.
    """
    model.eval()
    post = post or UMPostProcessor(inference_config(config))
    order = list(range(len(dataset))) if indices is None else list(indices)
    order.sort(key=lambda i: int(dataset.lengths[i]))
    detections: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    scores, labels = [], []
    for i in range(0, len(order), config.eval_batch_size):
        batch = pad_collate([dataset[j] for j in order[i : i + config.eval_batch_size]]).to(device)
        mask = None if batch.uniform_length else batch.mask
        with set_validation(False):  # the dataset has checked the features
            out = model(batch.features, mask)
        durations = batch.durations.to(device) if dataset.time_from_duration else None
        dets = post(out, batch.lengths.to(device), durations)
        for vid, det in zip(batch.video_ids, dets, strict=True):
            detections[vid] = (
                det.segments.cpu().numpy(),
                det.scores.cpu().numpy(),
                det.labels.cpu().numpy(),
            )
        scores.append(out.video_probs.float().cpu().numpy())
        labels.append(batch.labels.cpu().numpy())
    back = np.argsort(np.argsort(order, kind="stable"), kind="stable")  # restore dataset order
    video_probs = np.concatenate(scores)[back] if scores else np.zeros((0, dataset.num_classes))
    video_labels = np.concatenate(labels)[back] if labels else np.zeros((0, dataset.num_classes))
    return detections, video_probs, video_labels


def results_json(
    detections: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], class_names: Sequence[str]
) -> dict[str, Any]:
    """ActivityNet-format results: ``{"results": {vid: [{"label", "score", "segment"}]}}``."""
    results = {
        vid: [
            {"label": class_names[int(lab)], "score": float(s), "segment": [float(a), float(b)]}
            for (a, b), s, lab in zip(seg.tolist(), sc.tolist(), lb.tolist(), strict=True)
        ]
        for vid, (seg, sc, lb) in detections.items()
    }
    return {
        "version": "VERSION 1.3",
        "results": results,
        "external_data": {"used": True, "details": "wtal_blocks"},
    }


def evaluate_model(
    model: UncertaintyModelingNet,
    dataset: FeatureDataset,
    config: UMConfig,
    device: torch.device,
    *,
    step: int = 0,
    label: str = "eval",
    dist: _Dist | None = None,
) -> tuple[EvalReport, dict[str, Any]]:
    """Detect on the whole test set and score it (ActivityNet protocol + UM accuracy).

    Under torch.distributed every rank evaluates a shard and the detections are gathered, so
    every rank returns the same report. Returns ``(report, results_json)``.
    """
    from ..evaluation import um_classification_accuracy

    dist = dist or _Dist()
    shard = list(range(dist.rank, len(dataset), dist.world))
    detections, scores, labels = predict(model, dataset, config, device, indices=shard)
    if dist.active:
        import torch.distributed as tdist

        gathered: list[Any] = [None] * dist.world
        tdist.all_gather_object(gathered, (detections, scores, labels))
        detections = {k: v for part in gathered for k, v in part[0].items()}
        scores = np.concatenate([part[1] for part in gathered])
        labels = np.concatenate([part[2] for part in gathered])
    metric = _ground_truth_metric(dataset, config.tiou_thresholds)
    for vid, (seg, sc, lab) in detections.items():
        metric.update(vid, seg, sc, lab)
    result = metric.compute()
    report = EvalReport(
        step=step,
        tiou_thresholds=[float(t) for t in result.tiou_thresholds],
        mAP=[float(v) for v in result.mAP],
        average_mAP=float(result.average_mAP),
        accuracy=float(um_classification_accuracy(scores, labels, config.class_threshold))
        if len(scores)
        else 0.0,
        ap=result.to_dict()["ap"],
        label=label,
    )
    return report, results_json(detections, dataset.class_names)


# ---------------------------------------------------------------------------------------
# logging


class _Logger:
    """CSV logs always; TensorBoard when installed; progress bar (tqdm) or plain lines."""

    def __init__(
        self, out: Path, enabled: bool, total: int, start: int, log: Log, progress: bool
    ) -> None:
        self.enabled = enabled
        self.log = log
        self.train_csv = out / "train_log.csv"
        self.eval_csv = out / "eval_log.csv"
        self.tb: Any = None
        self.bar: Any = None
        self.start_time = time.perf_counter()
        self.start = start
        self.total = total
        self.last_print = 0.0
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tensorboard"))
        except Exception:  # tensorboard is optional
            self.tb = None
        if progress and sys.stderr.isatty():
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, initial=start, dynamic_ncols=True, desc="train")
            except ImportError:
                self.bar = None

    def _append(self, path: Path, row: dict[str, Any]) -> None:
        new = not path.exists()
        with path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def step(self, step: int, terms: dict[str, float]) -> None:
        if not self.enabled:
            return
        self._append(self.train_csv, {"step": step, **{k: f"{v:.6g}" for k, v in terms.items()}})
        if self.tb is not None:
            for k, v in terms.items():
                self.tb.add_scalar(f"train/{k}", v, step)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k.replace("loss_", ""): f"{v:.4f}" for k, v in terms.items()})
            return
        now = time.perf_counter()
        if now - self.last_print >= 10.0 or step == self.total:
            self.last_print = now
            done = step - self.start
            eta = (now - self.start_time) / max(done, 1) * (self.total - step)
            losses = " ".join(f"{k}={v:.4f}" for k, v in terms.items())
            self.log(f"step {step}/{self.total}  {losses}  ETA {eta:.0f}s")

    def evaluation(self, report: EvalReport) -> None:
        if not self.enabled:
            return
        row = {
            "step": report.step,
            "average_mAP": f"{report.average_mAP:.6f}",
            "accuracy": f"{report.accuracy:.6f}",
        }
        row.update(
            {
                f"mAP@{t:g}": f"{v:.6f}"
                for t, v in zip(report.tiou_thresholds, report.mAP, strict=True)
            }
        )
        self._append(self.eval_csv, row)
        if self.tb is not None:
            self.tb.add_scalar("test/average_mAP", report.average_mAP, report.step)
            self.tb.add_scalar("test/accuracy", report.accuracy, report.step)
        msg = f"eval @ step {report.step}: average mAP {100 * report.average_mAP:.2f}%, accuracy {100 * report.accuracy:.2f}%"
        if self.bar is not None:
            self.bar.write(msg)
        else:
            self.log(msg)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()


# ---------------------------------------------------------------------------------------
# training


# settings that do not change the computation; the device does (its generator's stream)
_RESUME_MAY_CHANGE = {"iterations", "eval_every", "eval_batch_size", "num_workers", "output_dir"}


def _prepare_output(out: Path, resume: bool, overwrite: bool) -> None:
    markers = [out / "config.json", out / "checkpoint_last.pt", out / "metrics.json"]
    existing = [m for m in markers if m.exists()]
    if existing and not (resume or overwrite):
        raise RunRefused(
            f"{out}: already holds a run ({', '.join(m.name for m in existing)}); pass --resume to "
            "continue it or --overwrite to replace it"
        )
    if overwrite and not resume:
        for name in _OUTPUTS:
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "tensorboard", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


_OUTPUTS = (
    "config.json", "train_log.csv", "eval_log.csv", "checkpoint_last.pt", "metrics.json",
    "model_final.pkl", "model_best.pkl", "results_final.json",
)  # fmt: skip


def _truncate_log(path: Path, last_step: int) -> None:
    """Drop rows logged after the checkpoint a run resumes from (they will be logged again)."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= last_step]
    atomic_write_text(path, "".join(",".join(r) + "\n" for r in kept))


def _check_resumable(saved: dict[str, Any], config: UMConfig, path: Path) -> None:
    now = config.to_dict()
    diff = sorted(k for k in now if k not in _RESUME_MAY_CHANGE and saved.get(k) != now[k])
    if diff:
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in diff)
        raise ValueError(f"{path}: cannot resume with a different configuration ({detail})")


def official_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights under the official key names, on the CPU."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def train_um(
    config: UMConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    log: Log = print,
    progress: bool = True,
    stop_after: int | None = None,
) -> TrainResult:
    """Train UM with ``config`` and evaluate the final (and best) model.

    Writes to ``config.output_dir``: ``config.json``, ``train_log.csv``, ``eval_log.csv``,
    ``checkpoint_last.pt`` (model, optimiser, RNG states, step), ``model_final.pkl`` and
    ``model_best.pkl`` (official-format ``state_dict``), ``results_final.json`` and
    ``metrics.json`` (``average_mAP``/``mAP`` of the final model, and a ``best`` entry).

    Args:
        config: the run's settings.
        resume: continue from ``checkpoint_last.pt``.
        overwrite: replace an existing run in the output directory.
        log: where messages go (``print``).
        progress: show a progress bar when tqdm is installed and stderr is a terminal.
        stop_after: stop (as if interrupted) once this global step is done; for tests.

    Raises:
        RunRefused: the output directory holds a run and neither flag is given.
    """
    device = resolve_device(config.device)
    dist = _dist_context(device)
    out = Path(config.output_dir)
    if dist.is_main:
        _prepare_output(out, resume, overwrite)
    if dist.active:
        import torch.distributed as tdist

        tdist.barrier()

    train_set, test_set = build_datasets(config)
    unlabelled = [train_set.video_ids[i] for i in np.flatnonzero(train_set.labels.sum(axis=1) == 0)]
    if unlabelled:
        raise DataError(
            f"{len(unlabelled)} training video(s) have no action label (e.g. {unlabelled[:3]}): weak "
            "supervision needs at least one class per training video; fix the annotations or the split"
        )
    if device.type == "cuda":  # reproducible kernels where cuDNN offers them (CPU runs are exact)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    torch.manual_seed(config.seed)
    model = build_model(config, train_set.feature_dim, train_set.num_classes).to(device)
    optimiser = torch.optim.Adam(
        model.parameters(), lr=config.lr, betas=(0.9, 0.999), weight_decay=config.weight_decay
    )
    objective = UMObjective(config.alpha, config.beta, config.margin, form=config.loss_form)
    dropout_gen = torch.Generator(device=device).manual_seed(config.seed)
    start = 0
    history: list[EvalReport] = []
    ckpt_path = out / "checkpoint_last.pt"
    if resume:
        if not ckpt_path.exists():
            raise FileNotFoundError(f"{ckpt_path}: no checkpoint to resume from")
        state = load_checkpoint(ckpt_path, map_location=device)
        _check_resumable(state["config"], config, ckpt_path)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimizer"])
        dropout_gen.set_state(state["dropout_rng"].cpu())  # generator states are CPU byte tensors
        torch.set_rng_state(state["torch_rng"].cpu())
        start = int(state["step"])
        history = [EvalReport(**h) for h in state.get("history", [])]
        if dist.is_main:
            _truncate_log(out / "train_log.csv", start)
            _truncate_log(out / "eval_log.csv", start)
    elif dist.active:
        _broadcast_parameters(model)
    if dist.is_main:
        config.save(out / "config.json")
        log(str(config))

    sampler = StepBatchSampler(
        len(train_set), config.batch_size, config.seed, start, config.iterations, dist
    )
    loader = DataLoader(
        _EpochIndexed(train_set),
        batch_sampler=sampler,
        collate_fn=_collate_or_none,
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    logger = _Logger(out, dist.is_main, config.iterations, start, log, progress)
    save_every = config.eval_every if config.eval_every > 0 else max(1, config.iterations // 10)

    def checkpoint(step: int) -> None:
        if dist.is_main:
            atomic_save(
                {
                    "model": official_state_dict(model),
                    "optimizer": optimiser.state_dict(),
                    "step": step,
                    "dropout_rng": dropout_gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "config": config.to_dict(),
                    "history": [h.to_dict() | {"label": h.label} for h in history],
                },
                ckpt_path,
            )

    step = start
    try:
        for local_batch in loader:
            model.train()
            global_size = len(sampler.global_batch(step)[0])
            lo, hi = sampler.local_range(global_size)
            # every rank draws the global batch's multipliers, so the generator stays in step
            multipliers = DropoutMultipliers.sample(
                global_size,
                config.segments,
                config.embed_dim,
                config.dropout,
                dropout_gen,
                device=device,
            ).slice(lo, hi)
            optimiser.zero_grad(set_to_none=False)
            if local_batch is None:  # fewer videos than processes in this batch: this rank idles
                terms = {
                    k: torch.zeros((), device=device)
                    for k in ("loss_cls", "loss_um", "loss_be", "loss_total")
                }
                for p in model.parameters():
                    p.grad = torch.zeros_like(p) if p.grad is None else p.grad.zero_()
            else:
                batch: PaddedBatch = local_batch.to(device)
                if not batch.uniform_length or batch.features.shape[1] != config.segments:
                    raise AssertionError("training batches are sampled to exactly T segments")
                with set_validation(False):  # inputs are checked by the dataset; the loss below
                    output = model(batch.features, multipliers=multipliers)
                    total, terms = objective(
                        output.video_probs,
                        output.background_probs,
                        output.action_features,
                        output.background_features,
                        batch.labels,
                    )
                # scale so that averaging over ranks gives the global-batch mean exactly
                scale = (hi - lo) * dist.world / global_size
                (total * scale).backward()
            if dist.active:
                _all_reduce_gradients(model, dist.world)
            optimiser.step()
            step += 1
            if dist.active:  # log the global-batch losses, identical to a single-process run
                import torch.distributed as tdist

                stacked = torch.stack(list(terms.values())) * ((hi - lo) / global_size)
                tdist.all_reduce(stacked)
                terms = dict(zip(terms, stacked, strict=True))
            values = {k: float(v) for k, v in terms.items()}  # one sync per step, for logging
            if not math.isfinite(values["loss_total"]):
                raise FloatingPointError(f"training diverged at step {step}: losses {values}")
            logger.step(step, values)
            if config.eval_every > 0 and step % config.eval_every == 0 and step < config.iterations:
                report, _ = evaluate_model(model, test_set, config, device, step=step, dist=dist)
                history.append(report)
                logger.evaluation(report)
                # the first step reaching the best value is the best (as ``max`` picks below)
                if dist.is_main and report.average_mAP > max(
                    (h.average_mAP for h in history[:-1]), default=-1.0
                ):
                    atomic_save(official_state_dict(model), out / "model_best.pkl")
            if step % save_every == 0 or step == config.iterations:
                checkpoint(step)
            if stop_after is not None and step >= stop_after and step < config.iterations:
                checkpoint(step)
                raise KeyboardInterrupt(f"stopped after step {step} (stop_after)")
        final, results = evaluate_model(
            model, test_set, config, device, step=step, label="final", dist=dist
        )
        history.append(final)
        logger.evaluation(final)
    finally:
        logger.close()

    best = max(history, key=lambda r: r.average_mAP)
    best = EvalReport(**(best.to_dict() | {"label": "best"}))
    if dist.is_main:
        state = official_state_dict(model)
        atomic_save(state, out / "model_final.pkl")
        if best.step == final.step:
            atomic_save(state, out / "model_best.pkl")
        atomic_write_text(out / "results_final.json", json.dumps(results))
        metrics = final.to_dict() | {
            "model": "final",
            "best": best.to_dict(),
            "seed": config.seed,
            "world_size": dist.world,
        }
        atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        log(final.table(f"FINAL model (step {final.step}) - report this number"))
        log(best.table(f"BEST evaluated step ({best.step}) - selected on the test set, optimistic"))
    if dist.active:  # every rank returns once rank 0 has written the outputs
        import torch.distributed as tdist

        tdist.barrier()
    return TrainResult(final=final, best=best, output_dir=out, history=history)


def model_and_test_set(
    config: UMConfig, checkpoint: str | os.PathLike[str], device: torch.device
) -> tuple[UncertaintyModelingNet, FeatureDataset]:
    """The test dataset of ``config`` and the checkpoint's network, checked against each other."""
    from ..models.um import load_official_checkpoint

    test_set = build_dataset(config, train=False)
    model = load_official_checkpoint(
        checkpoint,
        feature_dim=test_set.feature_dim,
        num_classes=test_set.num_classes,
        map_location=device,
        action_ratio=config.action_ratio,
        background_ratio=config.background_ratio,
        background_score=config.background_score,
    )
    return model, test_set


def evaluate_checkpoint(
    config: UMConfig,
    checkpoint: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    log: Log = print,
) -> EvalReport:
    """The official test pipeline from a checkpoint: detect, write results, score.

    Loads an official-format ``state_dict`` (or one of our training checkpoints) with
    ``weights_only=True``, checks it against the dataset's feature size and class count, runs
    the batched forward and post-processing on the test set (uniform sampling), writes the
    ActivityNet-format results to ``output`` atomically and returns the report.
    """
    device = resolve_device(config.device)
    model, test_set = model_and_test_set(config, checkpoint, device)
    report, results = evaluate_model(model, test_set, config, device, label="checkpoint")
    atomic_write_text(Path(output), json.dumps(results))
    log(
        f"wrote {sum(len(v) for v in results['results'].values())} detections of {len(results['results'])} videos to {output}"
    )
    return report
