"""Timing helpers shared by the benchmark scripts (not part of the package).

Benchmarks time our code and a baseline *in the same run* and print ratios; tests never
assert timings.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def best_of(
    fn: Callable[[], Any],
    *,
    repeat: int = 5,
    number: int = 1,
    sync: Callable[[], None] | None = None,
) -> float:
    """Best wall-clock seconds per call over ``repeat`` rounds of ``number`` calls.

    ``sync`` (e.g. ``torch.cuda.synchronize``) is called before reading the clock so that
    asynchronous device work is included.
    """
    fn()  # warm-up: JIT compilation, caches, allocator
    if sync is not None:
        sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if sync is not None:
            sync()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def median_of(
    fn: Callable[[], Any], *, repeat: int = 5, sync: Callable[[], None] | None = None
) -> float:
    fn()
    if sync is not None:
        sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    """Print a fixed-width text table."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    return str(value)
