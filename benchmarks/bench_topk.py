"""Top-k MIL pooling (Eq. 1): the Triton kernel against ``torch.topk`` + mean, in one run.

Usage::

    python benchmarks/bench_topk.py [--crossover] [--sweep]

Shapes: THUMOS14-like ``(16, 750, 20)`` and ActivityNet-scale ``(16, 4096, 200)``, with UM's
``k = T // 9``. Goals (issue 6): within 1.5x of torch at the small shape, faster at the large
one. Rows time the kernel path ``topk_mil_pooling(x, ratio=9, backend="triton")`` with the
value checks off (they read the device and cost the same for every backend; the last column
shows the default, checks on) against the bare ``torch.topk(x, k, dim=1).values.mean(1)``,
forward and forward+backward. Without CUDA only the torch baseline is timed: the Triton
interpreter is a correctness tool, not a performance path.

``--crossover`` (CUDA) times both paths over a sweep of sizes ``B·T·C`` (``B = 16``,
``T`` 256-4096, ``C`` 20 and 200), float32 and float16, with and without the backward; prints
which one ``backend="auto"`` takes (:func:`~wtal_blocks.kernels.dispatch.topk_backend_for`)
against the faster one measured, and the measured crossover next to the table
:data:`~wtal_blocks.kernels.dispatch.TOPK_TRITON_MIN_ELEMENTS`. ``--sweep`` times the kernel's
launch heuristics.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

try:  # imported from the repository root (``import benchmarks.bench_topk``)
    from benchmarks._timing import best_of, print_table
except ModuleNotFoundError:  # run as a script: benchmarks/ is sys.path[0], the repo root is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks._timing import best_of, print_table

from wtal_blocks._validation import set_validation
from wtal_blocks.kernels.dispatch import TOPK_TRITON_MIN_ELEMENTS, topk_backend_for
from wtal_blocks.pooling import k_from_ratio, topk_mil_pooling, topk_mil_pooling_with_indices

SHAPES = [(16, 750, 20), (16, 4096, 200)]
DTYPES = [torch.float32, torch.float16]
RATIO = 9
HEADERS = [
    "shape (B,T,C)",
    "k",
    "dtype",
    "pass",
    "torch ms",
    "triton ms",
    "triton/torch",
    "triton+checks ms",
    "with indices ms",
]


def _forward_backward(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> None:
    out = fn(x)
    torch.autograd.grad(out, x, torch.ones_like(out))


def run_gpu_benchmark(*, repeat: int = 10, number: int = 20) -> list[list[Any]]:
    """Time both paths on every shape and dtype, print the table and return its rows.

    Rows follow :data:`HEADERS`; times are the best of ``repeat`` rounds of ``number`` calls,
    in milliseconds. Without CUDA the Triton columns are ``None``.
    """
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    sync = torch.cuda.synchronize if cuda else None
    if not cuda:
        print("bench_topk: the Triton kernel needs CUDA; timing the torch baseline only (CPU)")
        repeat, number = 3, 1
    rows: list[list[Any]] = []
    for shape in SHAPES:
        k = int(k_from_ratio(shape[1], RATIO))
        for dtype in DTYPES:
            if not cuda and dtype == torch.float16:
                continue  # CPU half top-k says nothing about the GPU
            x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)

            def torch_path(s: torch.Tensor, k: int = k) -> torch.Tensor:
                return torch.topk(s, k, dim=1).values.mean(1)

            def triton_path(s: torch.Tensor) -> torch.Tensor:
                return topk_mil_pooling(s, ratio=RATIO, backend="triton")

            def triton_indices(s: torch.Tensor) -> torch.Tensor:
                res = topk_mil_pooling_with_indices(s, ratio=RATIO, backend="triton")
                return res.values

            for name, run in (
                ("fwd", lambda fn, x=x: fn(x.detach())),
                ("fwd+bwd", lambda fn, x=x: _forward_backward(fn, x)),
            ):

                def timed(fn: Callable[[torch.Tensor], torch.Tensor], run: Any = run) -> float:
                    return best_of(lambda: run(fn), repeat=repeat, number=number, sync=sync) * 1e3

                base = timed(torch_path)
                ours = checked = indexed = None
                if cuda:
                    with set_validation(False):
                        ours = timed(triton_path)
                        indexed = timed(triton_indices)  # + the score-ordered indices
                    checked = timed(triton_path)
                ratio = ours / base if ours is not None else None
                rows.append(
                    [
                        shape,
                        k,
                        str(dtype).removeprefix("torch."),
                        name,
                        base,
                        ours,
                        ratio,
                        checked,
                        indexed,
                    ]
                )
    print_table(HEADERS, rows)
    return rows


def sweep_launch_config() -> None:
    """Forward time of the kernel under other launch heuristics (keys per thread, keys per
    program), float32, both shapes: the data behind the defaults in ``topk_triton``."""
    from wtal_blocks.kernels import topk_triton

    defaults = (topk_triton._KEYS_PER_THREAD, topk_triton._KEYS_PER_PROGRAM)
    rows: list[list[Any]] = []
    xs = [torch.randn(shape, device="cuda") for shape in SHAPES]
    for per_thread, per_program in [(16, 1024), (8, 1024), (32, 1024), (16, 2048)]:
        topk_triton._KEYS_PER_THREAD, topk_triton._KEYS_PER_PROGRAM = per_thread, per_program
        row: list[Any] = [per_thread, per_program]
        with set_validation(False):
            for x in xs:
                t = best_of(
                    lambda x=x: topk_mil_pooling(x, ratio=RATIO, backend="triton"),
                    repeat=10,
                    number=20,
                    sync=torch.cuda.synchronize,
                )
                row.append(t * 1e3)
        rows.append(row)
    topk_triton._KEYS_PER_THREAD, topk_triton._KEYS_PER_PROGRAM = defaults
    print_table(["keys/thread", "keys/program", *(f"{s} fwd ms" for s in SHAPES)], rows)


CROSSOVER_T = (256, 512, 750, 1024, 1536, 2048, 3072, 4096)
CROSSOVER_C = (20, 200)


def measured_crossover(
    rows: list[tuple[int, float, float]],
) -> int | None:
    """The smallest size from which the kernel is faster at every larger measured size
    (``rows``: ``(numel, torch ms, triton ms)``); None if it never is."""
    rows = sorted(rows)
    for i, (n, _, _) in enumerate(rows):
        if all(tri < tor for _, tor, tri in rows[i:]):
            return n
    return None


def crossover_sweep(*, repeat: int = 5, number: int = 20) -> None:
    """Both paths over a sweep of sizes; where ``auto`` goes against where it should."""
    sync = torch.cuda.synchronize
    table: list[list[Any]] = []
    found: dict[tuple[str, int], list[tuple[int, float, float]]] = {}
    for dtype in (torch.float32, torch.float16):
        for c in CROSSOVER_C:
            for t in CROSSOVER_T:
                shape = (16, t, c)
                k = int(k_from_ratio(t, RATIO))
                x = torch.randn(shape, device="cuda", dtype=dtype, requires_grad=True)
                for name, training in (("fwd", False), ("fwd+bwd", True)):

                    def call(backend: str, x: torch.Tensor = x, training: bool = training) -> None:
                        if training:
                            out = topk_mil_pooling(x, ratio=RATIO, backend=backend)  # type: ignore[arg-type]
                            torch.autograd.grad(out, x, torch.ones_like(out))
                        else:
                            topk_mil_pooling(x.detach(), ratio=RATIO, backend=backend)  # type: ignore[arg-type]

                    with set_validation(False):
                        tor = best_of(
                            lambda: call("torch"), repeat=repeat, number=number, sync=sync
                        )
                        tri = best_of(
                            lambda: call("triton"), repeat=repeat, number=number, sync=sync
                        )
                    numel = 16 * t * c
                    auto = topk_backend_for(numel, x.element_size(), training)
                    faster = "triton" if tri < tor else "torch"
                    loss = (tri if auto == "triton" else tor) / min(tri, tor)
                    key = ("training" if training else "forward", x.element_size())
                    found.setdefault(key, []).append((numel, tor * 1e3, tri * 1e3))
                    table.append(
                        [shape, k, str(dtype).removeprefix("torch."), name, numel, tor * 1e3,
                         tri * 1e3, tri / tor, auto, faster, loss]
                    )  # fmt: skip
    print_table(
        ["shape", "k", "dtype", "pass", "B*T*C", "torch ms", "triton ms", "triton/torch",
         "auto takes", "faster", "auto/best"],
        table,
    )  # fmt: skip
    rows = []
    for key, measured in found.items():
        rows.append([*key, TOPK_TRITON_MIN_ELEMENTS[key], measured_crossover(measured)])
    print_table(["pass", "bytes/elem", "table (auto)", "measured crossover"], rows)
    worst = max(r[-1] for r in table)
    right = sum(r[8] == r[9] for r in table)
    print(
        f"auto takes the faster path in {right} of {len(table)} cases; worst auto/best {worst:.2f}"
    )


if __name__ == "__main__":
    run_gpu_benchmark()
    if "--crossover" in sys.argv and torch.cuda.is_available():
        crossover_sweep()
    if "--sweep" in sys.argv and torch.cuda.is_available():
        sweep_launch_config()
