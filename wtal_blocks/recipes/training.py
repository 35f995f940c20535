"""The training loop of every method: deterministic, resumable, data-parallel.

Design points (what the official codes lack):

* evaluation every ``eval_every`` iterations, and always of the final model; both the final
  and the best-step numbers are reported and labelled;
* determinism: the data order is a function of ``(seed, epoch)``, the random segment
  sampling of ``(seed, epoch, video)``, and the dropout multipliers are drawn for the *global*
  batch from a generator seeded by ``seed``; the same seed gives the same run on one process or
  on N data-parallel processes, with any number of data-loader workers (bit-identical on the
  CPU, tested; on CUDA cuDNN is set to deterministic kernels, but other GPU kernels may still
  sum in a varying order);
* atomic checkpoints holding model, optimiser, RNG state and step; ``resume`` continues a run
  so that it ends with the same weights as an uninterrupted one;
* data-parallel training through ``torchrun`` (gradients all-reduced, evaluation sharded and
  gathered on every rank);
* on request, the fast step (:mod:`~wtal_blocks.recipes.fast_step`: no host synchronisation
  per step, optionally the whole step captured in a CUDA graph) fed by the training set
  resident on the device (:class:`~wtal_blocks.data.device_dataset.DeviceFeatures`). There the
  same official sampling rule is drawn from a device generator seeded by ``seed`` (its state is
  checkpointed, so a resumed run still ends as an uninterrupted one), not per
  ``(seed, epoch, video)``: the samples differ from the host loader's. They are tested on the
  CPU but not yet on a GPU, so ``"auto"`` keeps the eager step and the host loader.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from .._validation import set_validation
from ..data.base import DataError, FeatureDataset, PaddedBatch
from ..data.device_dataset import CachedSamples, DeviceFeatures
from ..models.dropout import DropoutMultipliers
from .batches import BatchOrder, EpochIndexed, StepBatchSampler, collate_or_none
from .build import build_datasets, resolve_device
from .config import RecipeConfig
from .distributed import (
    all_reduce_gradients,
    barrier,
    broadcast_parameters,
    dist_context,
)
from .evaluate import EvalReport, dump_json, evaluate_model
from .fast_step import (
    DeviceDataMode,
    FastStep,
    FastStepMode,
    LossLog,
    resolve_device_data,
    resolve_fast_step,
    set_capturable,
)
from .methods import method_of
from .rundir import (
    Log,
    TrainLogger,
    atomic_save,
    atomic_write_bytes,
    atomic_write_text,
    load_checkpoint,
    prepare_output,
    truncate_log,
)

__all__ = ["TrainResult", "official_state_dict", "train"]

# settings that do not change the computation; the device does (its generator's stream)
_RESUME_MAY_CHANGE = {
    "iterations", "eval_every", "eval_batch_size", "num_workers", "output_dir", "fast_step",
    "device_data",
}  # fmt: skip
_TEST_CACHE_BYTES = 2 * 2**30  # the fast path keeps test samples in host memory up to this
Batch = PaddedBatch | tuple[Tensor, Tensor] | None
"""What a step trains on: a host loader's batch (None: this rank idles), or device-resident
``(features, labels)``."""


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train`: the final model's numbers and the best evaluated step's."""

    final: EvalReport
    best: EvalReport
    output_dir: Path
    history: list[EvalReport]


def official_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights under the official key names, on the CPU."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _check_resumable(saved: dict[str, Any], config: RecipeConfig, path: Path) -> None:
    now = config.to_dict()
    if not isinstance(saved, dict):
        raise ValueError(f"{path}: the checkpoint's configuration is not a mapping")
    diff = sorted(k for k in now if k not in _RESUME_MAY_CHANGE and saved.get(k) != now[k])
    if diff:
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in diff)
        raise ValueError(f"{path}: cannot resume with a different configuration ({detail})")


def _check_labels(train_set: FeatureDataset) -> None:
    unlabelled = np.flatnonzero(train_set.labels.sum(axis=1) == 0)
    if unlabelled.size:
        names = [train_set.video_ids[i] for i in unlabelled[:3]]
        raise DataError(
            f"{unlabelled.size} training video(s) have no action label (e.g. {names}): weak "
            "supervision needs at least one class per training video; fix the annotations or "
            "the split"
        )


class _Training:
    """The state of one run: built by ``__init__``, advanced by :meth:`step`."""

    def __init__(
        self,
        config: RecipeConfig,
        resume: bool,
        overwrite: bool,
        log: Log,
        fast_step: str = "off",
        device_data: str = "off",
    ) -> None:
        self.config = config
        self.method = method_of(config)
        self.log = log
        self.device = resolve_device(config.device)
        self.dist = dist_context(self.device)
        self.fast_mode = resolve_fast_step(fast_step, self.device, self.dist.active)
        want_device_data = resolve_device_data(device_data, self.fast_mode, self.device)
        self.out = Path(config.output_dir)
        if self.dist.is_main:
            prepare_output(self.out, resume, overwrite, log)
        barrier(self.dist)
        self.train_set, self.test_set = build_datasets(
            config, test_sampling=self.method.test_sampling(config)
        )
        _check_labels(self.train_set)
        if self.fast_mode != "off" and CachedSamples.nbytes(self.test_set) <= _TEST_CACHE_BYTES:
            self.test_set = CachedSamples(self.test_set)  # read the files at one evaluation only
        if self.device.type == "cuda":  # reproducible kernels where cuDNN offers them
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        torch.manual_seed(config.seed)
        self.model = self.method.build_model(
            config, self.train_set.feature_dim, self.train_set.num_classes
        ).to(self.device)
        self.optimiser = torch.optim.Adam(
            self.model.parameters(),
            lr=config.lr,
            betas=(0.9, 0.999),
            weight_decay=config.weight_decay,
            capturable=self.fast_mode == "graph",  # a CUDA graph replays the step counter too
        )
        self.objective = self.method.build_objective(config)
        self.dropout_gen = torch.Generator(device=self.device).manual_seed(config.seed)
        self.fast: FastStep | None = None
        self.losses: LossLog | None = None
        if self.fast_mode != "off":
            self.fast = FastStep(
                self.model,
                self.objective,
                self.optimiser,
                self.dropout_gen,
                self.method.loss_terms,
                self.fast_mode,
            )
            self.losses = LossLog(self.method.loss_terms, self.device)
        self.data = self._device_data(device_data, want_device_data)
        # the device sampler's own stream (not the dropout generator's: the same seed would
        # correlate the two)
        self.sampling_gen = torch.Generator(device=self.device).manual_seed(
            int(np.random.SeedSequence([config.seed, 1]).generate_state(1)[0])
        )
        self.step_done = 0
        self.history: list[EvalReport] = []
        self.ckpt_path = self.out / "checkpoint_last.pt"

    def _device_data(self, mode: str, wanted: bool) -> DeviceFeatures | None:
        """The training set on the device when wanted and it fits (half the free memory)."""
        if not wanted:
            return None
        gib = DeviceFeatures.nbytes(self.train_set) / 2**30
        if not DeviceFeatures.fits(self.train_set, self.device):
            free = torch.cuda.mem_get_info(self.device)[0] / 2**30
            message = (
                f"the training set takes {gib:.2f} GiB, more than half of the {free:.2f} GiB "
                f"free on {self.device}"
            )
            if mode == "on":
                raise ValueError(f"device_data='on': {message}; use device_data 'auto' or 'off'")
            if self.dist.is_main:
                self.log(f"{message}: training batches come from the host loader")
            return None
        return DeviceFeatures.from_dataset(self.train_set, self.device)

    def describe(self) -> str:
        """One line: the step and where its batches come from."""
        where = "the host loader" if self.data is None else f"{self.device} (the device sampler)"
        gib = DeviceFeatures.nbytes(self.train_set) / 2**30
        held = "" if self.data is None else f", {gib:.2f} GiB"
        return f"training step: {self.fast_mode}; batches from {where}{held}"

    def restore(self) -> None:
        """Continue from ``checkpoint_last.pt`` (same configuration, same RNG streams)."""
        if not self.ckpt_path.exists():
            raise FileNotFoundError(f"{self.ckpt_path}: no checkpoint to resume from")
        state = load_checkpoint(self.ckpt_path, map_location=self.device)
        missing = [k for k in ("optimizer", "dropout_rng", "torch_rng", "config") if k not in state]
        if missing:
            raise ValueError(f"{self.ckpt_path}: not a resumable checkpoint (missing {missing})")
        _check_resumable(state["config"], self.config, self.ckpt_path)
        sampled_on = state.get("data_path", "host")
        if sampled_on != ("host" if self.data is None else "device"):
            raise ValueError(
                f"{self.ckpt_path}: the run sampled its batches on the {sampled_on}; resume it "
                f"with device_data {'off' if sampled_on == 'host' else 'on'}"
            )
        try:
            self.model.load_state_dict(state["model"])
            self.optimiser.load_state_dict(state["optimizer"])
            set_capturable(self.optimiser, self.fast_mode == "graph")  # as saved, else
            self.dropout_gen.set_state(state["dropout_rng"].cpu())  # CPU byte tensors
            if self.data is not None:
                self.sampling_gen.set_state(state["sampling_rng"].cpu())
            torch.set_rng_state(state["torch_rng"].cpu())
            self.step_done = int(state["step"])
            self.history = [EvalReport(**h) for h in state.get("history", [])]
        except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as exc:
            reason = (
                str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            )
            raise ValueError(
                f"{self.ckpt_path}: a damaged training checkpoint ({reason})"
            ) from None
        if not 0 <= self.step_done <= self.config.iterations:
            raise ValueError(
                f"{self.ckpt_path}: step {self.step_done} is outside 0..{self.config.iterations}"
            )
        if self.dist.is_main:
            truncate_log(self.out / "train_log.csv", self.step_done)
            truncate_log(self.out / "eval_log.csv", self.step_done)

    def checkpoint(self) -> None:
        if self.dist.is_main:
            state = {
                "model": official_state_dict(self.model),
                "optimizer": self.optimiser.state_dict(),
                "step": self.step_done,
                "dropout_rng": self.dropout_gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "data_path": "host" if self.data is None else "device",
                "config": self.config.to_dict(),
                "history": [h.to_dict() | {"label": h.label} for h in self.history],
            }
            if self.data is not None:
                state["sampling_rng"] = self.sampling_gen.get_state()
            atomic_save(state, self.ckpt_path)

    def sampler(self) -> StepBatchSampler:
        c = self.config
        order: BatchOrder = getattr(c, "batch_order", "epochs")
        return StepBatchSampler(
            len(self.train_set),
            c.batch_size,
            c.seed,
            self.step_done,
            c.iterations,
            self.dist,
            order,
        )

    def batches(self, sampler: StepBatchSampler) -> Iterator[Batch]:
        """The remaining steps' batches: from the host loader, or built on the device."""
        if self.data is None:
            yield from DataLoader(
                EpochIndexed(self.train_set),
                batch_sampler=sampler,
                collate_fn=collate_or_none,
                num_workers=self.config.num_workers,
                pin_memory=self.device.type == "cuda",
                persistent_workers=False,
            )
            return
        assert self.fast is not None  # device data feeds the fast step, in one process
        for step in range(sampler.start, sampler.stop):
            videos, _ = sampler.global_batch(step)
            # a captured step's static inputs are written in place (no copy)
            out = self.fast.input_buffers(len(videos), self.config.segments)
            yield self.data.batch(self.data.videos_tensor(videos), self.sampling_gen, out=out)

    def step(self, batch: Batch, sampler: StepBatchSampler) -> dict[str, float] | None:
        """One optimiser step on this rank's share of the global batch; the global terms (None
        on the fast path, whose terms wait in ``self.losses`` until :meth:`flush_losses`)."""
        if self.fast is not None:
            self._fast_step(batch)
            return None
        local_batch = batch
        assert not isinstance(local_batch, tuple)
        self.model.train()
        global_size = len(sampler.global_batch(self.step_done)[0])
        lo, hi = sampler.local_range(global_size)
        # every rank draws the global batch's multipliers, so the generator stays in step
        spec = self.model.multiplier_spec(global_size, self.config.segments)  # type: ignore[operator]
        multipliers = DropoutMultipliers.sample(spec, self.dropout_gen, device=self.device)
        self.optimiser.zero_grad(set_to_none=False)
        if local_batch is None:  # fewer videos than processes in this batch: this rank idles
            terms = {k: torch.zeros((), device=self.device) for k in self.method.loss_terms}
            for p in self.model.parameters():
                p.grad = torch.zeros_like(p) if p.grad is None else p.grad.zero_()
        else:
            terms = self._backward(local_batch, multipliers.slice(lo, hi), hi - lo, global_size)
        if self.dist.active:
            all_reduce_gradients(self.model, self.dist.world)
        self.optimiser.step()
        self.step_done += 1
        if self.dist.active:  # log the global-batch losses, identical to a single-process run
            import torch.distributed as tdist

            stacked = torch.stack(list(terms.values())) * ((hi - lo) / global_size)
            tdist.all_reduce(stacked)
            terms = dict(zip(terms, stacked, strict=True))
        values = {k: float(v) for k, v in terms.items()}  # one sync per step, for logging
        if not all(math.isfinite(v) for v in values.values()):
            raise FloatingPointError(f"training diverged at step {self.step_done}: losses {values}")
        return values

    def _fast_step(self, batch: Batch) -> None:
        assert self.fast is not None and self.losses is not None and batch is not None
        if isinstance(batch, PaddedBatch):
            # the host mask (no device read); pinned host tensors go to the step as they are
            if not batch.uniform_length or batch.features.shape[1] != self.config.segments:
                raise AssertionError("training batches are sampled to exactly T segments")
            features, labels = batch.features, batch.labels
        else:
            features, labels = batch
        terms = self.fast(features, labels, step=self.step_done + 1)
        self.step_done += 1
        self.losses.append(self.step_done, terms)

    def flush_losses(self, emit: Callable[[int, dict[str, float]], None]) -> None:
        """Hand the waiting steps' loss terms to ``emit(step, terms)`` (fast path; one read)."""
        if self.losses is not None:
            self.losses.flush(emit)

    def _backward(
        self, local_batch: PaddedBatch, multipliers: DropoutMultipliers, size: int, global_size: int
    ) -> dict[str, Tensor]:
        batch = local_batch.to(self.device)
        if not batch.uniform_length or batch.features.shape[1] != self.config.segments:
            raise AssertionError("training batches are sampled to exactly T segments")
        with set_validation(False):  # inputs are checked by the dataset; the loss below
            output = self.model(batch.features, multipliers=multipliers)
            try:
                total, terms = self.objective(output, batch.labels)
            except RuntimeError as exc:  # BCE refuses the NaN probabilities of diverged weights
                if "between 0 and 1" not in str(exc):
                    raise
                raise FloatingPointError(
                    f"training diverged at step {self.step_done + 1}: the video probabilities "
                    "are not finite"
                ) from None
        # scale so that averaging over ranks gives the global-batch mean exactly
        (total * (size * self.dist.world / global_size)).backward()
        return terms

    def evaluate(self, label: str = "eval") -> tuple[EvalReport, dict[str, Any]]:
        return evaluate_model(
            self.model,
            self.test_set,
            self.config,
            self.device,
            step=self.step_done,
            label=label,
            dist=self.dist,
        )

    def finish(self, final: EvalReport, results: dict[str, Any]) -> EvalReport:
        """Write the final outputs; the best evaluated step's report."""
        best = max(self.history, key=lambda r: r.average_mAP)
        best = EvalReport(**(best.to_dict() | {"label": "best"}))
        if self.dist.is_main:
            state = official_state_dict(self.model)
            atomic_save(state, self.out / "model_final.pkl")
            if best.step == final.step:
                atomic_save(state, self.out / "model_best.pkl")
            atomic_write_bytes(self.out / "results_final.json", dump_json(results))
            metrics = final.to_dict() | {
                "model": "final",
                "method": self.method.name,
                "best": best.to_dict(),
                "seed": self.config.seed,
                "world_size": self.dist.world,
            }
            atomic_write_text(self.out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
            self.log(final.table(f"FINAL model (step {final.step}) - report this number"))
            self.log(
                best.table(
                    f"BEST evaluated step ({best.step}) - selected on the test set, optimistic"
                )
            )
        return best


def train(
    config: RecipeConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    log: Log = print,
    progress: bool = True,
    stop_after: int | None = None,
    fast_step: FastStepMode | None = None,
    device_data: DeviceDataMode | None = None,
) -> TrainResult:
    """Train ``config``'s method and evaluate the final (and best) model.

    Writes to ``config.output_dir``: ``config.json``, ``train_log.csv``, ``eval_log.csv``,
    ``checkpoint_last.pt`` (model, optimiser, RNG states, step), ``model_final.pkl`` and
    ``model_best.pkl`` (official-format ``state_dict``), ``results_final.json`` and
    ``metrics.json`` (``average_mAP``/``mAP`` of the final model, and a ``best`` entry).

    Args:
        config: the run's settings; its class names the method (``UMConfig`` ...).
        resume: continue from ``checkpoint_last.pt``.
        overwrite: replace an existing run in the output directory.
        log: where messages go (``print``).
        progress: show a progress bar when tqdm is installed and stderr is a terminal.
        stop_after: stop (as if interrupted) once this global step is done; for tests.
        fast_step: ``"auto"`` (off for now), ``"off"``, ``"eager"``, ``"compile"`` or
            ``"graph"`` (:func:`~wtal_blocks.recipes.fast_step.resolve_fast_step`); default:
            the configuration's ``fast_step``, else ``"auto"``.
        device_data: ``"auto"`` (off for now), ``"off"`` or ``"on"`` (the training set on the
            device for a fast step, when it takes at most half the free memory); default: the
            configuration's ``device_data``, else ``"auto"``.

    Raises:
        RunRefused: the output directory holds a run and neither flag is given.
    """
    if fast_step is None:
        fast_step = getattr(config, "fast_step", "auto")
    if device_data is None:
        device_data = getattr(config, "device_data", "auto")
    run = _Training(config, resume, overwrite, log, str(fast_step), str(device_data))
    if resume:
        run.restore()
    elif run.dist.active:
        broadcast_parameters(run.model)
    if run.dist.is_main:
        config.save(run.out / "config.json")
        log(str(config))
        if run.fast_mode != "off":
            log(run.describe())
    sampler = run.sampler()
    logger = TrainLogger(run.out, run.dist.is_main, config.iterations, run.step_done, log, progress)
    save_every = config.eval_every if config.eval_every > 0 else max(1, config.iterations // 10)
    try:
        for batch in run.batches(sampler):
            terms = run.step(batch, sampler)
            step = run.step_done
            evaluate = config.eval_every > 0 and step % config.eval_every == 0
            evaluate = evaluate and step < config.iterations
            save = step % save_every == 0 or step == config.iterations
            stop = stop_after is not None and step >= stop_after and step < config.iterations
            if terms is not None:
                logger.step(step, terms)
            elif evaluate or save or stop or (run.losses is not None and run.losses.due()):
                run.flush_losses(logger.step)  # the fast path's one read of the device
            if evaluate:
                report, _ = run.evaluate()
                run.history.append(report)
                logger.evaluation(step, report.average_mAP, report.accuracy, report.csv_row())
                # the first step reaching the best value is the best (as ``max`` picks below)
                earlier = max((h.average_mAP for h in run.history[:-1]), default=-1.0)
                if run.dist.is_main and report.average_mAP > earlier:
                    atomic_save(official_state_dict(run.model), run.out / "model_best.pkl")
            if save:
                run.checkpoint()
            if stop:
                run.checkpoint()
                raise KeyboardInterrupt(f"stopped after step {step} (stop_after)")
        final, results = run.evaluate("final")
        run.history.append(final)
        logger.evaluation(final.step, final.average_mAP, final.accuracy, final.csv_row())
    finally:
        logger.close()
    best = run.finish(final, results)
    barrier(run.dist)  # every rank returns once rank 0 has written the outputs
    return TrainResult(final=final, best=best, output_dir=run.out, history=run.history)
