"""Wall-clock seconds per named stage of a run, for ``--timings`` and the benchmarks.

A disabled clock (the default everywhere) costs one attribute test per stage and never
synchronises a device; an enabled one synchronises CUDA at every stage boundary once CUDA is in
use, so each stage's seconds include the device work it queued.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = ["StageClock"]


class StageClock:
    """Seconds spent in named stages (summed over repeats) and named counters.

    Args:
        enabled: time the stages; a disabled clock only keeps the counters.

    Example::

        clock = StageClock()
        with clock.stage("read"):
            batch = ...
        clock.count("videos", 16)
        clock.to_dict()  # {"seconds": {"read": ...}, "counts": {"videos": 16}}
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.started_at = time.time()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the wall time of the ``with`` body to stage ``name``."""
        if not self.enabled:
            yield
            return
        sync = torch.cuda.is_available() and torch.cuda.is_initialized()
        if sync:
            torch.cuda.synchronize()
        start = time.perf_counter()
        try:
            yield
        finally:
            if sync or (torch.cuda.is_available() and torch.cuda.is_initialized()):
                torch.cuda.synchronize()
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def count(self, name: str, n: int) -> None:
        """Add ``n`` to counter ``name``."""
        self.counts[name] = self.counts.get(name, 0) + int(n)

    @property
    def total(self) -> float:
        """Seconds of all stages together."""
        return sum(self.seconds.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"seconds", "counts", "started_at", "finished_at"}`` (Unix times)."""
        return {
            "seconds": dict(self.seconds),
            "counts": dict(self.counts),
            "started_at": self.started_at,
            "finished_at": time.time(),
        }

    def table(self) -> str:
        """The stages, their seconds and share of the total, one per line."""
        total = self.total or 1.0
        return "\n".join(
            f"  {name:<10} {sec:8.3f} s  {100 * sec / total:5.1f}%"
            for name, sec in self.seconds.items()
        )
