"""The UM recipe's configuration: one frozen dataclass, saved next to every checkpoint."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["DatasetName", "UMConfig"]

DatasetName = Literal["thumos14", "anet12", "anet13", "synthetic"]

_DEFAULT_SEGMENTS = {"thumos14": 750, "anet12": 50, "anet13": 50, "synthetic": 750}
_DEFAULT_TIOU = {
    "thumos14": "0.1:0.7:0.1",
    "synthetic": "0.1:0.7:0.1",
    "anet12": "0.5:0.95:0.05",
    "anet13": "0.5:0.95:0.05",
}


@dataclass(frozen=True)
class UMConfig:
    """Every setting of a UM run. Defaults are the official hyper-parameters.

    Optimiser: Adam (lr 1e-4, betas (0.9, 0.999), weight decay 5e-4), batch 16, 10k
    iterations. Loss: ``L_cls + α L_um + β L_be`` with α = 5e-4, β = 1, m = 100. Selection
    ratios action_ratio = 9, background_ratio = 4. ``alpha = beta = 0`` is the paper's baseline (with fused
    scoring unless ``scoring="softmax"``).
    """

    data_root: str = ""
    dataset: DatasetName = "thumos14"
    modal: Literal["all", "rgb", "flow"] = "all"
    num_segments: int | None = None  # None: 750 for THUMOS'14, 50 for ActivityNet
    iterations: int = 10_000
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 5e-4
    alpha: float = 5e-4
    beta: float = 1.0
    margin: float = 100.0
    action_ratio: float = 9.0
    background_ratio: float = 4.0
    dropout: float = 0.7
    embed_dim: int = 2048
    loss_form: Literal["official", "paper"] = "official"
    background_score: Literal["official", "paper"] = "official"
    scoring: Literal["fused", "softmax"] = "fused"
    class_threshold: float = 0.2
    seed: int = 0
    eval_every: int = 100
    eval_batch_size: int = 16
    tiou: str | None = None  # None: 0.1:0.7:0.1 (THUMOS'14) or 0.5:0.95:0.05 (ActivityNet)
    num_workers: int = 2
    device: str = "auto"
    output_dir: str = "runs/um"
    synthetic_size: Literal["demo", "thumos"] = "thumos"

    def __post_init__(self) -> None:
        if (
            self.iterations < 1
            or self.batch_size < 1
            or self.eval_every < 0
            or self.eval_batch_size < 1
        ):
            raise ValueError(
                f"iterations, batch_size, eval_batch_size must be >= 1 and eval_every >= 0, got "
                f"{self.iterations}, {self.batch_size}, {self.eval_batch_size}, {self.eval_every}"
            )
        if (
            self.lr <= 0
            or self.weight_decay < 0
            or self.alpha < 0
            or self.beta < 0
            or self.margin <= 0
        ):
            raise ValueError("lr and margin must be > 0; weight_decay, alpha, beta must be >= 0")
        if self.action_ratio < 1 or self.background_ratio < 1:
            raise ValueError(
                f"action_ratio and background_ratio must be >= 1, got {self.action_ratio}, {self.background_ratio}"
            )
        if self.num_segments is not None and self.num_segments < 1:
            raise ValueError(f"num_segments must be >= 1, got {self.num_segments}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.tiou is not None:
            from ..evaluation import parse_tiou_thresholds  # numpy only

            parse_tiou_thresholds(self.tiou)  # a malformed value fails now, not after training

    @property
    def segments(self) -> int:
        """``T``, the number of sampled segments."""
        return (
            self.num_segments if self.num_segments is not None else _DEFAULT_SEGMENTS[self.dataset]
        )

    @property
    def tiou_thresholds(self) -> str:
        """The tIoU thresholds as ``LO:HI:STEP`` (the dataset's default when ``tiou`` is None)."""
        return self.tiou if self.tiou is not None else _DEFAULT_TIOU[self.dataset]

    def replace(self, **changes: Any) -> UMConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> UMConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown configuration keys {unknown}")
        return cls(**values)

    def save(self, path: str | Path) -> None:
        """Write ``config.json`` atomically."""
        from .checkpoint import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> UMConfig:
        """Read a configuration written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def __str__(self) -> str:
        rows = [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]
        rows += [("(T)", self.segments), ("(tIoU)", self.tiou_thresholds)]
        width = max(len(k) for k, _ in rows)
        lines = ["UMConfig", "-" * (width + 24)]
        lines += [f"{k.ljust(width)}  {v}" for k, v in rows]
        return "\n".join(lines)
