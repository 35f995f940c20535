"""The training step without host synchronisations: value checks off, losses kept on the device,
and optionally the whole step captured in a CUDA graph or compiled.

On a GPU a WTAL training step is a few milliseconds of kernels, so what the host does between
them shows: every value check that reads the device (NaN/inf, probability ranges) waits for the
queue to drain, and so does reading the losses for the log. :class:`FastStep` runs forward,
objective, backward and the optimiser step

* with the value checks off (:class:`~wtal_blocks._validation.set_validation`) inside the step
  only: they stay on for every user call, and the datasets check the features when they read
  them;
* with the dropout multipliers drawn on the device from the run's generator
  (:class:`~wtal_blocks.models.dropout.DropoutMultipliers`), the same draws as the eager step;
* returning the loss terms as a device tensor, which :class:`LossLog` collects; the log is read,
  and the losses checked to be finite, every :data:`FLUSH_EVERY` steps and before every
  evaluation or checkpoint: one synchronisation per flush instead of one per step;
* in one of three modes: ``"eager"`` (the above, kernel by kernel), ``"compile"``
  (``torch.compile`` of forward + objective, with its backward) or ``"graph"`` (the whole step,
  optimiser included, captured once per batch shape in a CUDA graph and replayed: one launch per
  step; Adam must be ``capturable``).

The recipe picks the mode with ``fast_step`` (:func:`resolve_fast_step`): ``"auto"`` is
``"graph"`` on a CUDA device in one process and ``"off"`` (the eager step of
:mod:`~wtal_blocks.recipes.training`, which reads the losses every step) otherwise, so CPU runs stay
bit-identical to what they were.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from .._validation import set_validation
from ..models.dropout import DropoutMultipliers, MultiplierSpec
from .config import DeviceDataMode, FastStepMode

__all__ = [
    "DEVICE_DATA_MODES",
    "FAST_STEP_MODES",
    "FLUSH_EVERY",
    "DeviceDataMode",
    "FastStep",
    "FastStepMode",
    "LossLog",
    "resolve_device_data",
    "resolve_fast_step",
    "sample_multipliers_into",
    "set_capturable",
]

FAST_STEP_MODES = ("auto", "off", "eager", "compile", "graph")
DEVICE_DATA_MODES = ("auto", "off", "on")
FLUSH_EVERY = 100
"""Steps between two reads of the device-side loss log (one synchronisation each)."""


def resolve_fast_step(
    mode: str, device: torch.device, distributed: bool
) -> Literal["off", "eager", "compile", "graph"]:
    """The step a run uses; ``"auto"`` is ``"off"`` for now.

    The fast modes are tested on the CPU (the eager and compiled steps against the old step,
    the graph mode's bookkeeping with capture and replay stood in for), but no GPU has run them
    yet: until ``benchmarks/gpu_check.sh`` has checked them on one, ``"auto"`` keeps the step
    whose GPU behaviour was measured, and ``"eager"``, ``"compile"`` or ``"graph"`` are chosen
    explicitly.

    Raises:
        ValueError: an unknown mode, ``"graph"`` without CUDA, or a fast mode under
            ``torchrun`` (the fast step runs one process).
    """
    if mode not in FAST_STEP_MODES:
        raise ValueError(f"fast_step must be one of {list(FAST_STEP_MODES)}, got {mode!r}")
    if mode == "auto":
        return "off"
    if mode != "off" and distributed:
        raise ValueError(
            f"fast_step={mode!r} runs in one process; under torchrun use fast_step 'off' or 'auto'"
        )
    if mode == "graph" and device.type != "cuda":
        raise ValueError(
            f"fast_step='graph' captures the step in a CUDA graph and needs a CUDA device, got "
            f"{device}; use 'eager' or 'compile'"
        )
    return mode  # type: ignore[return-value]


def resolve_device_data(mode: str, fast: str, device: torch.device) -> bool:
    """Whether the training set should live on the device (before the memory check):
    ``"on"`` with a fast step; ``"auto"`` is off for now (not yet run on a GPU, as the fast
    step; see :func:`resolve_fast_step`).

    Raises:
        ValueError: an unknown mode, or ``"on"`` with the fast step off.
    """
    if mode not in DEVICE_DATA_MODES:
        raise ValueError(f"device_data must be one of {list(DEVICE_DATA_MODES)}, got {mode!r}")
    if mode == "off":
        return False
    if fast == "off":
        if mode == "on":
            raise ValueError(
                "device_data='on' feeds the fast step: use fast_step 'eager', 'compile' or 'graph'"
            )
        return False
    return mode == "on"


def sample_multipliers_into(
    buffers: Mapping[str, Tensor], spec: MultiplierSpec, generator: torch.Generator
) -> DropoutMultipliers:
    """:meth:`DropoutMultipliers.sample` written into existing ``buffers`` (a captured step's
    static inputs): the same draws from ``generator``, in the spec's order."""
    for name, (shape, p) in spec.items():
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability of {name!r} must be in [0, 1], got {p}")
        buffer = buffers[name]
        if tuple(buffer.shape) != tuple(shape):
            raise ValueError(f"buffer {name!r} has shape {tuple(buffer.shape)}, expected {shape}")
        scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
        buffer.bernoulli_(1.0 - p, generator=generator).mul_(scale)
    return DropoutMultipliers(dict(buffers))


def set_capturable(optimiser: torch.optim.Optimizer, capturable: bool) -> None:
    """Switch an Adam-style optimiser's ``capturable`` flag (a CUDA graph needs it), moving its
    step counters to the parameters' device (capturable) or to the host (not), as torch keeps
    them. Needed after ``load_state_dict``, which restores the saved flag."""
    for group in optimiser.param_groups:
        group["capturable"] = capturable
        for p in group["params"]:
            state = optimiser.state.get(p)
            if state and isinstance(state.get("step"), Tensor):
                target = p.device if capturable else torch.device("cpu")
                state["step"] = state["step"].to(target, torch.float32)


class LossLog:
    """The loss terms of the steps since the last flush, kept on the device.

    :meth:`append` copies a step's terms into a device buffer (no synchronisation);
    :meth:`flush` reads them all at once, hands each step's terms to a callback and raises at the
    first step whose losses are not finite.
    """

    def __init__(self, names: tuple[str, ...], device: torch.device) -> None:
        self.names = tuple(names)
        self.device = device
        self._buffer = torch.empty((FLUSH_EVERY, len(names)), dtype=torch.float64, device=device)
        self._steps: list[int] = []

    def __len__(self) -> int:
        return len(self._steps)

    def due(self) -> bool:
        """True when :data:`FLUSH_EVERY` steps are waiting."""
        return len(self._steps) >= FLUSH_EVERY

    def append(self, step: int, terms: Tensor) -> None:
        """Record ``terms`` (``(len(names),)``, on the device) as global step ``step``."""
        n = len(self._steps)
        if n == self._buffer.shape[0]:  # flushed late: grow rather than read the device
            self._buffer = torch.cat([self._buffer, torch.empty_like(self._buffer)])
        self._buffer[n].copy_(terms)
        self._steps.append(step)

    def flush(self, emit: Callable[[int, dict[str, float]], None]) -> None:
        """``emit(step, terms)`` for every waiting step, in order (one synchronisation).

        Raises:
            FloatingPointError: a step's losses are not finite (the steps before it are
                emitted first).
        """
        if not self._steps:
            return
        rows = self._buffer[: len(self._steps)].cpu().tolist()
        steps, self._steps = self._steps, []
        for step, row in zip(steps, rows, strict=True):
            values = dict(zip(self.names, row, strict=True))
            if not all(math.isfinite(v) for v in row):
                raise FloatingPointError(f"training diverged at step {step}: losses {values}")
            emit(step, values)


@dataclass
class _Captured:
    """One batch shape's CUDA graph and its static inputs and output."""

    graph: Any  # torch.cuda.CUDAGraph
    features: Tensor
    labels: Tensor
    multipliers: dict[str, Tensor]
    terms: Tensor


class FastStep:
    """One optimiser step of a WTAL model with no host synchronisation.

    Args:
        model: the method's network (``forward(x, *, multipliers=...)``, ``multiplier_spec``).
        objective: ``objective(output, labels) -> (total, terms)``.
        optimiser: its optimiser; ``capturable=True`` for ``mode="graph"``.
        generator: the dropout generator, on the model's device.
        loss_terms: the names of the terms, in the order returned.
        mode: ``"eager"``, ``"compile"`` or ``"graph"`` (see the module docstring).
        compile_backend: the ``torch.compile`` backend of ``mode="compile"``.

    Calling it with ``features (B, T, F)`` and ``labels (B, C)`` (on the device, or pinned on
    the host) runs the step and returns the ``(len(loss_terms),)`` loss terms on the device. In
    ``"graph"`` mode the first step of each batch size runs eagerly (on a side stream, which
    also initialises the optimiser state) and the graph is captured after it; the returned
    tensor is then the graph's output, valid until the next call.
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Callable[[Any, Tensor], tuple[Tensor, dict[str, Tensor]]],
        optimiser: torch.optim.Optimizer,
        generator: torch.Generator,
        loss_terms: tuple[str, ...],
        mode: Literal["eager", "compile", "graph"],
        *,
        compile_backend: str = "inductor",
    ) -> None:
        if mode not in ("eager", "compile", "graph"):
            raise ValueError(f"mode must be 'eager', 'compile' or 'graph', got {mode!r}")
        self.device = next(model.parameters()).device
        if mode == "graph":
            if self.device.type != "cuda":
                raise ValueError(f"mode='graph' needs a model on a CUDA device, got {self.device}")
            if not all(g.get("capturable", False) for g in optimiser.param_groups):
                raise ValueError("mode='graph' needs an optimiser built with capturable=True")
        self.model = model
        self.objective = objective
        self.optimiser = optimiser
        self.generator = generator
        self.loss_terms = tuple(loss_terms)
        self.mode = mode
        self._forward_loss: Callable[..., tuple[Tensor, Tensor]] = self._forward_loss_eager
        if mode == "compile":
            self._forward_loss = torch.compile(
                self._forward_loss_eager, backend=compile_backend, dynamic=False
            )
        self._graphs: dict[tuple[int, ...], _Captured] = {}
        self._pool: Any = None

    def _forward_loss_eager(
        self, features: Tensor, labels: Tensor, multipliers: dict[str, Tensor]
    ) -> tuple[Tensor, Tensor]:
        """Forward and objective: ``(total, terms (len(loss_terms),))``."""
        output = self.model(features, multipliers=DropoutMultipliers(multipliers))
        total, terms = self.objective(output, labels)
        return total, torch.stack([terms[k] for k in self.loss_terms])

    def _run(
        self,
        features: Tensor,
        labels: Tensor,
        multipliers: dict[str, Tensor],
        scale: float,
        after_backward: Callable[[], None] | None,
        step: int | None,
    ) -> Tensor:
        """zero grad, forward, objective, backward, (hook), optimiser step."""
        self.optimiser.zero_grad(set_to_none=False)
        try:
            with set_validation(False):  # inputs are checked by the dataset
                total, terms = self._forward_loss(features, labels, multipliers)
        except RuntimeError as exc:  # CPU BCE refuses the NaN probabilities of diverged weights
            if "between 0 and 1" not in str(exc):
                raise
            where = f" at step {step}" if step is not None else ""
            raise FloatingPointError(
                f"training diverged{where}: the video probabilities are not finite"
            ) from None
        # the same scaling as the eager step (exact: a product with 1.0 changes nothing)
        (total * scale).backward()
        if after_backward is not None:
            after_backward()
        self.optimiser.step()
        return terms

    def __call__(
        self,
        features: Tensor,
        labels: Tensor,
        *,
        global_size: int | None = None,
        lo: int = 0,
        scale: float = 1.0,
        after_backward: Callable[[], None] | None = None,
        step: int | None = None,
    ) -> Tensor:
        """Run one step on ``features (B, T, F)``, ``labels (B, C)``; the loss terms.

        Args:
            global_size: the global batch this rank's ``B`` videos belong to (default ``B``):
                the dropout multipliers are drawn for it, and rows ``lo : lo + B`` are used.
            scale: the factor of the total loss before the backward (data parallelism).
            after_backward: called between backward and optimiser step (gradient all-reduce).
            step: the global step number, for error messages.
        """
        self.model.train()
        b, t = features.shape[0], features.shape[1]
        if self.mode == "graph":
            if global_size not in (None, b) or lo != 0 or scale != 1.0 or after_backward:
                raise ValueError("mode='graph' runs whole batches in one process")
            return self._replay(features, labels)
        features = features.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        spec = self.model.multiplier_spec(b if global_size is None else global_size, t)  # type: ignore[operator]
        mult = DropoutMultipliers.sample(spec, self.generator, device=self.device)
        mult = mult.slice(lo, lo + b)
        return self._run(features, labels, dict(mult.tensors), scale, after_backward, step)

    def input_buffers(self, batch: int, time: int) -> tuple[Tensor, Tensor] | None:
        """The static ``(features, labels)`` of the graph of batch shape ``(batch, time)``, for
        the data pipeline to write into (None before its capture, or in another mode)."""
        captured = self._graphs.get((batch, time))
        return None if captured is None else (captured.features, captured.labels)

    def _replay(self, features: Tensor, labels: Tensor) -> Tensor:
        b, t = features.shape[0], features.shape[1]
        captured = self._graphs.get((b, t))
        if captured is None:
            return self._capture(features, labels)
        if features is not captured.features:
            captured.features.copy_(features, non_blocking=True)
        if labels is not captured.labels:
            captured.labels.copy_(labels, non_blocking=True)
        spec = self.model.multiplier_spec(b, t)  # type: ignore[operator]
        sample_multipliers_into(captured.multipliers, spec, self.generator)
        captured.graph.replay()
        return captured.terms

    def _capture(self, features: Tensor, labels: Tensor) -> Tensor:
        """Run this step eagerly (the warm-up a capture needs: library handles, the optimiser's
        state, Triton's compilation), then capture the next ones: one graph per batch shape."""
        b, t = features.shape[0], features.shape[1]
        static_x = torch.empty(features.shape, dtype=features.dtype, device=self.device)
        static_y = torch.empty(labels.shape, dtype=labels.dtype, device=self.device)
        static_x.copy_(features, non_blocking=True)
        static_y.copy_(labels, non_blocking=True)
        spec = self.model.multiplier_spec(b, t)  # type: ignore[operator]
        mult = {  # float32, as DropoutMultipliers.sample draws them
            n: torch.empty(shape, device=self.device, dtype=torch.float32)
            for n, (shape, _) in spec.items()
        }

        def body() -> Tensor:
            return self._run(static_x, static_y, mult, 1.0, None, None)

        def warm_up() -> Tensor:
            sample_multipliers_into(mult, spec, self.generator)
            return body()

        terms = self._warm_up(warm_up)
        graph, static_terms = self._record(body)
        self._graphs[(b, t)] = _Captured(graph, static_x, static_y, mult, static_terms)
        return terms

    def _warm_up(self, fn: Callable[[], Tensor]) -> Tensor:
        """``fn()`` on a side stream, as CUDA graph captures require of their warm-up."""
        main = torch.cuda.current_stream(self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(main)
        with torch.cuda.stream(side):
            out = fn()
        main.wait_stream(side)
        out.record_stream(main)
        return out

    def _record(self, body: Callable[[], Tensor]) -> tuple[Any, Tensor]:
        """Capture ``body`` in a CUDA graph (sharing one memory pool with the other shapes'
        graphs: they never run concurrently, and each output is read before the next replay);
        ``(graph, its output)``."""
        graph = torch.cuda.CUDAGraph()
        # thread_local: the data loader's pinning thread may use CUDA during the capture
        with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
            out = body()
        self._pool = graph.pool()
        return graph, out
