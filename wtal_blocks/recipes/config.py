"""The settings every recipe run shares, as one frozen dataclass; each method extends it.

A method's configuration (:class:`~wtal_blocks.recipes.methods.um.UMConfig` …) is a subclass
of :class:`RecipeConfig` that adds the method's hyper-parameters and sets the official
defaults. It is printed at the start of a run and saved next to every checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

__all__ = ["DatasetName", "DeviceDataMode", "FastStepMode", "RecipeConfig"]

DatasetName = Literal["thumos14", "wtalc", "anet12", "anet13", "synthetic"]
FastStepMode = Literal["auto", "off", "eager", "compile", "graph"]
"""How the training step runs (:func:`~wtal_blocks.recipes.fast_step.resolve_fast_step`)."""
DeviceDataMode = Literal["auto", "off", "on"]
"""Whether the training set lives on the device (:class:`~wtal_blocks.data.device_dataset.DeviceFeatures`)."""

_DEFAULT_SEGMENTS = {"thumos14": 750, "wtalc": 750, "anet12": 50, "anet13": 50, "synthetic": 750}
_DEFAULT_TIOU = {
    "thumos14": "0.1:0.7:0.1",
    "wtalc": "0.1:0.7:0.1",
    "synthetic": "0.1:0.7:0.1",
    "anet12": "0.5:0.95:0.05",
    "anet13": "0.5:0.95:0.05",
}

C = TypeVar("C", bound="RecipeConfig")


@dataclass(frozen=True)
class RecipeConfig:
    """Settings shared by every method: data, optimisation, evaluation, outputs.

    Optimiser: Adam (``lr``, betas (0.9, 0.999), L2 ``weight_decay``), ``batch_size`` videos
    per iteration for ``iterations`` iterations. ``num_segments`` is ``T``, the number of
    segments sampled per training video (default: 750 for THUMOS'14, 50 for ActivityNet).
    """

    method: ClassVar[str] = ""
    help: ClassVar[dict[str, str]] = {
        "data_root": "data directory (thumos14: gt.json, split_*.txt, features/; wtalc: "
        "Thumos14reduced-I3D-JOINTFeatures.npy and Thumos14reduced-Annotations/)",
        "dataset": "dataset layout: thumos14 (UM/BaS-Net/CoLA), wtalc (W-TALC's Thumos14reduced), "
        "anet12, anet13, synthetic",
        "modal": "feature stream(s): rgb, flow or all (concatenated)",
        "num_segments": "T, sampled segments per video (default: 750 THUMOS'14, 50 ActivityNet)",
        "iterations": "training iterations",
        "batch_size": "videos per iteration (global batch)",
        "lr": "Adam learning rate",
        "weight_decay": "Adam weight decay (L2 added to the gradient, as the official codes)",
        "class_threshold": "video probability threshold of the classes to localise",
        "seed": "random seed",
        "eval_every": "evaluate the test set every K iterations (0: only the final model)",
        "eval_batch_size": "videos per evaluation batch (default: 16; 4 on the CPU of a Python "
        "process that has not called recipes.memory.reuse_freed_memory())",
        "tiou": "tIoU thresholds LO:HI:STEP (default 0.1:0.7:0.1 THUMOS'14, 0.5:0.95:0.05 ActivityNet)",
        "num_workers": "data-loader worker processes",
        "device": "auto, cpu, cuda, cuda:1 ...",
        "fast_step": "training step: off (auto), eager (no host synchronisation per step), "
        "compile (torch.compile) or graph (the whole step in a CUDA graph); the fast modes "
        "have not yet been run on a GPU, so auto stays off",
        "device_data": "the training set resident on the device, for a fast step: on, or off "
        "(auto)",
        "output_dir": "where checkpoints, logs and metrics go",
        "synthetic_size": "synthetic dataset preset: demo (small, fast) or thumos (THUMOS'14-sized)",
    }
    """Command-line help of each field (a method adds its own)."""
    training_only: ClassVar[frozenset[str]] = frozenset(
        {"iterations", "batch_size", "lr", "weight_decay", "eval_every", "output_dir", "seed",
         "num_workers", "fast_step", "device_data"}
    )  # fmt: skip
    """Fields that only matter for training (``evaluate`` takes no flag for them)."""

    data_root: str = ""
    dataset: DatasetName = "thumos14"
    modal: Literal["all", "rgb", "flow"] = "all"
    num_segments: int | None = None
    iterations: int = 10_000
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 5e-4
    class_threshold: float = 0.2
    seed: int = 0
    eval_every: int = 100
    eval_batch_size: int | None = None
    tiou: str | None = None
    num_workers: int = 2
    device: str = "auto"
    fast_step: FastStepMode = "auto"
    device_data: DeviceDataMode = "auto"
    output_dir: str = "runs/um"
    synthetic_size: Literal["demo", "thumos"] = "thumos"

    def eval_batch_for(self, device_type: str) -> int:
        """Videos per evaluation batch on a device of this type (``"cpu"``, ``"cuda"`` ...).

        ``eval_batch_size`` when set; else 16, except on the CPU of a process whose allocator
        returns freed memory to the system (see :mod:`~wtal_blocks.recipes.memory`; the command
        line tools keep it): there a 16-video batch's ~100 MB of activations are mapped and
        zeroed afresh every time, and 4 videos per batch are faster (measured on 2 cores, UM,
        210 videos: 9.8-10.6 s at 16, 8.8-8.9 s at 4, and 8.1-8.7 s at 16 with freed memory
        kept).
        """
        if self.eval_batch_size is not None:
            return self.eval_batch_size
        from .memory import reusing_freed_memory

        return 4 if device_type == "cpu" and not reusing_freed_memory() else 16

    def __post_init__(self) -> None:
        self._check_numbers()
        if self.tiou is not None:
            from ..evaluation import parse_tiou_thresholds  # numpy only

            # a malformed or oversized list fails now, not after training
            parse_tiou_thresholds(self.tiou)

    def _check_numbers(self) -> None:
        """Every field has its type, and numbers are finite and in range (one line names it)."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            _check_type(f.name, value, hints[f.name])
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, got {value}")
        positive_int = ("iterations", "batch_size", "eval_batch_size")
        for name in positive_int:
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("eval_every", "num_workers", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not 0 <= self.class_threshold <= 1:
            raise ValueError(f"class_threshold must be in [0, 1], got {self.class_threshold}")
        if self.num_segments is not None and self.num_segments < 1:
            raise ValueError(f"num_segments must be >= 1, got {self.num_segments}")

    @property
    def segments(self) -> int:
        """``T``, the number of sampled segments."""
        if self.num_segments is not None:
            return self.num_segments
        return _DEFAULT_SEGMENTS[self.dataset]

    @property
    def tiou_thresholds(self) -> str:
        """The tIoU thresholds as ``LO:HI:STEP`` (the dataset's default when ``tiou`` is None)."""
        return self.tiou if self.tiou is not None else _DEFAULT_TIOU[self.dataset]

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict, with the method's name under ``"method"``."""
        return {"method": self.method, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls: type[C], values: dict[str, Any]) -> C:
        """Inverse of :meth:`to_dict`; unknown keys and another method's settings are errors."""
        values = dict(values)
        method = values.pop("method", cls.method)
        if method != cls.method:
            raise ValueError(f"the settings are those of method {method!r}, not {cls.method!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown configuration keys {unknown} for method {cls.method!r}")
        return cls(**values)

    @classmethod
    def load(cls: type[C], path: str | Path) -> C:
        """Read a configuration written by :meth:`save`.

        Raises:
            ValueError: an unreadable file, or the settings of another method.
        """
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a readable configuration ({exc})") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path}: a configuration is a JSON object")
        return cls.from_dict(values)

    def save(self, path: str | Path) -> None:
        """Write ``config.json`` atomically."""
        from .rundir import atomic_write_text

        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        atomic_write_text(Path(path), text)

    def __str__(self) -> str:
        rows = [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]
        rows += [("(T)", self.segments), ("(tIoU)", self.tiou_thresholds)]
        width = max(len(k) for k, _ in rows)
        name = type(self).__name__
        lines = [name, "-" * (width + 24)]
        lines += [f"{k.ljust(width)}  {v}" for k, v in rows]
        return "\n".join(lines)


def _check_type(name: str, value: Any, hint: Any) -> None:
    """``value`` must be of the annotated type: a bool is not a number, an int is a float."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Literal:
        if value not in args:
            raise ValueError(f"{name} must be one of {list(args)}, got {value!r}")
        return
    allowed = tuple(a for a in (args or (hint,)) if isinstance(a, type))
    if value is None and type(None) in allowed:
        return
    if bool in allowed:
        ok = isinstance(value, bool)
    elif float in allowed:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif int in allowed:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = not allowed or isinstance(value, allowed)
    if not ok:
        expected = " or ".join("None" if a is type(None) else a.__name__ for a in allowed)
        raise ValueError(f"{name} must be {expected}, got {value!r}")
