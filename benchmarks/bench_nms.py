"""Temporal NMS benchmark: the library against greedy-loop baselines, on UM-like proposals.

Proposals are made the way UM's inference makes them: a smooth random score curve
(``T = 750`` snippets upsampled x24, longer for the large cases) is cut at 19 thresholds;
each run of >= 2 consecutive positions above a threshold is a proposal with times on the
grid ``start = a * f``, ``end = (b + 1) * f`` and the outer-inner contrast score. Nested runs
from neighbouring thresholds overlap heavily, so NMS suppresses most of them.

Baselines, timed in the same run and checked to return the same indices:

* ``numpy loop``: the official code's formulation (numpy, one vectorised step per kept
  proposal), re-implemented here from the behaviour spec;
* ``torch loop``: the same greedy loop written with torch ops.

Families: UM-like proposals of long videos (``1 class x N``), UM's own dense regime of many
proposals in one 200 s video in seconds (``dense``) and in frame indices (``frames``), each
also as 20 classes in one batched call, and two adversarial inputs. Every row says whether
the three methods keep the same indices (``same``).

Usage (from the repository root)::

    python benchmarks/bench_nms.py            # CPU table
    python benchmarks/bench_nms.py --quick    # fewer repeats
    python benchmarks/bench_nms.py --gpu      # Triton kernel vs a per-group torch loop (CUDA)

``gpu_benchmark()`` is the entry point for ``benchmarks/gpu_check.sh``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from _official_style import numpy_loop_nms
from _timing import best_of, print_table

from wtal_blocks.nms import batched_temporal_nms, temporal_nms

UPSAMPLE = 24
THRESHOLDS = np.linspace(0.05, 0.65, 19)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


def um_like_proposals(
    snippets: int,
    rng: np.random.Generator,
    smoothness: float = 1.5,
    duration: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Proposals ``(N, 2)`` seconds and scores ``(N,)`` from one random video's score curve
    (``smoothness`` in snippets; the video lasts ``duration`` seconds, or a random length of
    about 0.5 s per snippet)."""
    pad = int(6 * smoothness) + 1
    kernel = np.exp(-0.5 * (np.arange(-pad, pad + 1) / smoothness) ** 2)
    raw = np.convolve(rng.standard_normal(snippets + 2 * pad), kernel / kernel.sum(), "valid")
    raw = (raw - raw.min()) / (raw.max() - raw.min())
    cas = np.interp(np.arange(0, snippets, 1 / UPSAMPLE), np.arange(snippets), raw)
    length = cas.size
    if duration is None:
        frames = snippets * 16 * rng.uniform(0.8, 1.6)  # the video's feature length, in frames
        duration = frames / 25
    f = duration / (UPSAMPLE * snippets)  # seconds per upsampled position
    prefix = np.concatenate([[0.0], np.cumsum(cas)])
    segments, scores = [], []
    for level in THRESHOLDS:
        above = np.concatenate([[0], (cas > level).astype(np.int8), [0]])
        edges = np.diff(above)
        a = np.flatnonzero(edges == 1)
        b = np.flatnonzero(edges == -1) - 1
        a, b = a[b - a >= 1], b[b - a >= 1]  # runs of at least 2 positions
        n = b - a + 1
        inner = (prefix[b + 1] - prefix[a]) / n
        lo = np.maximum(0, (a - n / 4).astype(np.int64))
        hi = np.minimum(length - 1, (b + n / 4).astype(np.int64))
        outer_n = (a - lo) + (hi - b)
        outer_sum = (prefix[a] - prefix[lo]) + (prefix[hi + 1] - prefix[b + 1])
        outer = np.where(outer_n > 0, outer_sum / np.maximum(outer_n, 1), 0.0)
        segments.append(np.stack([a * f, (b + 1) * f], axis=1))
        scores.append(inner - outer + 0.2 * rng.uniform())
    return np.concatenate(segments), np.concatenate(scores)


def proposals(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` proposals (by start) of a video long enough to have them."""
    rng = np.random.default_rng(seed)
    snippets = 750
    while True:
        seg, sc = um_like_proposals(snippets, rng)
        if len(seg) >= n:
            break
        snippets = int(snippets * 1.3 * n / len(seg)) + 1
    first = np.argsort(seg[:, 0], kind="stable")[:n]
    return torch.from_numpy(seg[first]), torch.from_numpy(sc[first])


def dense_proposals(
    n: int, seed: int, duration: float = 200.0, smoothness: float = 6.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """UM's own dense regime: ``n`` proposals of one class in one ``duration``-second video.

    The class fires many times: score curves over UM's ``T = 750`` snippets (a Gaussian
    smoothing of ``smoothness`` snippets, 1.6 s here), upsampled x24 and cut at the 19
    thresholds, are drawn until there are ``n`` proposals; a random ``n`` of them are kept.
    Times are seconds on the x24 grid; with the "+1" convention a 2 s proposal is 3 long,
    so each proposal overlaps dozens of others.
    """
    rng = np.random.default_rng(seed)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    while sum(len(p[0]) for p in parts) < n:
        parts.append(um_like_proposals(750, rng, smoothness, duration))
    seg = np.concatenate([p[0] for p in parts])
    sc = np.concatenate([p[1] for p in parts])
    pick = np.sort(rng.permutation(len(seg))[:n])
    return torch.from_numpy(seg[pick]), torch.from_numpy(sc[pick])


def frame_proposals(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`dense_proposals` with integer frame indices (25 fps) for boundaries: the
    convention the "+1" was made for, where IoUs such as 3/5 land exactly on 0.6."""
    seg, sc = dense_proposals(n, seed)
    return torch.round(seg * 25), sc


def batch(
    groups: int,
    size: int,
    seed: int,
    make: Callable[[int, int], tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``groups`` classes (or video x class pairs) of ``size`` proposals each, made by
    ``make(size, seed)`` (default :func:`proposals`)."""
    make = proposals if make is None else make
    parts = [make(size, seed + g) for g in range(groups)]
    seg = torch.cat([p[0] for p in parts])
    sc = torch.cat([p[1] for p in parts])
    idxs = torch.arange(groups).repeat_interleave(size)
    return seg, sc, idxs


# ---------------------------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------------------------


def torch_loop_nms(
    segments: torch.Tensor, scores: torch.Tensor, thresh: float, offset: float
) -> torch.Tensor:
    """The same greedy loop with torch ops (one step per kept proposal)."""
    x1, x2 = segments[:, 0].double(), segments[:, 1].double()
    areas = x2 - x1 + offset
    order = torch.sort(scores, descending=True, stable=True).indices
    keep = []
    while order.numel() > 0:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        inter = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest]) + offset).clamp(
            min=0
        )
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[iou < thresh]
    return torch.stack(keep) if keep else order


def per_group(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor | list[int]],
    segments: torch.Tensor,
    scores: torch.Tensor,
    idxs: torch.Tensor,
) -> list[int]:
    """Run a single-group NMS per group; merge by descending score (torchvision order)."""
    kept: list[int] = []
    for g in torch.unique(idxs).tolist():
        members = torch.nonzero(idxs == g).flatten()
        local = fn(segments[members], scores[members])
        kept += members[torch.as_tensor(local, dtype=torch.int64, device=members.device)].tolist()
    score_list = scores.tolist()
    return sorted(kept, key=lambda i: (-score_list[i], i))


# ---------------------------------------------------------------------------------------------
# CPU table
# ---------------------------------------------------------------------------------------------


def _numpy_loop_on_tensors(
    segments: torch.Tensor, scores: torch.Tensor, thresh: float, offset: float
) -> list[int]:
    return numpy_loop_nms(segments.numpy(), scores.numpy(), thresh, offset)


def _compare(
    name: str,
    offset: float,
    n: int,
    ours: Callable[[], torch.Tensor],
    numpy_loop: Callable[[], list[int]],
    torch_loop: Callable[[], torch.Tensor | list[int]],
    repeat: int,
    slow_repeat: int,
) -> list:
    """Check whether all three keep the same indices in the same order, time them, and
    return a table row."""
    kept = ours().tolist()
    same = kept == numpy_loop() and kept == torch.as_tensor(torch_loop()).tolist()
    t_ours = best_of(ours, repeat=repeat)
    t_np = best_of(numpy_loop, repeat=slow_repeat)
    t_tl = best_of(torch_loop, repeat=slow_repeat)
    ms = [t * 1e3 for t in (t_ours, t_np, t_tl)]
    return [name, offset, n, len(kept), "yes" if same else "NO", *ms, t_np / t_ours, t_tl / t_ours]


def _single(
    name: str,
    seg: torch.Tensor,
    sc: torch.Tensor,
    t: float,
    offset: float,
    repeat: int,
    slow_repeat: int,
) -> list:
    return _compare(
        name,
        offset,
        len(sc),
        partial(temporal_nms, seg, sc, t, offset=offset),
        partial(numpy_loop_nms, seg.numpy(), sc.numpy(), t, offset),
        partial(torch_loop_nms, seg, sc, t, offset),
        repeat=repeat,
        slow_repeat=slow_repeat,
    )


def _batched(
    name: str,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    t: float,
    offset: float,
    repeat: int,
    slow_repeat: int,
) -> list:
    seg, sc, idxs = data
    return _compare(
        name,
        offset,
        len(sc),
        partial(batched_temporal_nms, seg, sc, idxs, t, offset=offset),
        partial(per_group, partial(_numpy_loop_on_tensors, thresh=t, offset=offset), seg, sc, idxs),
        partial(per_group, partial(torch_loop_nms, thresh=t, offset=offset), seg, sc, idxs),
        repeat=repeat,
        slow_repeat=slow_repeat,
    )


def cpu_benchmark(repeat: int = 7) -> None:
    """Print the CPU table at IoU 0.6, one row per input family and size:

    * ``1 class x N``: UM-like proposals of a long video (each overlaps a few others), both
      length conventions;
    * ``dense x N``: UM's own regime, N proposals of one class in one 200 s video, seconds,
      "+1" (:func:`dense_proposals`);
    * ``frames x N``: the same in integer frame indices (:func:`frame_proposals`);
    * ``20 classes x 1000`` of each family in one batched call;
    * a long suppression chain and thousands of identical proposals.

    ``same`` says whether the library, the numpy loop and the torch loop keep the same
    indices in the same order.
    """
    t = 0.6
    rows = []
    for offset in (1.0, 0.0):
        for n in (100, 1000, 5000, 20000):
            seg, sc = proposals(n, seed=n)
            slow = 2 if n >= 5000 else repeat
            rows.append(_single(f"1 class x {n}", seg, sc, t, offset, 3 * repeat, slow))
        data = batch(20, 1000, seed=7)
        rows.append(_batched("20 classes x 1000", data, t, offset, 3 * repeat, repeat))
    for family, make in (("dense", dense_proposals), ("frames", frame_proposals)):
        for n in (100, 1000, 5000):
            seg, sc = make(n, n)
            slow = 2 if n >= 5000 else repeat
            rows.append(_single(f"{family} x {n}", seg, sc, t, 1.0, 3 * repeat, slow))
        data = batch(20, 1000, seed=7, make=make)
        rows.append(_batched(f"{family} 20 classes x 1000", data, t, 1.0, 3 * repeat, repeat))

    n = 2000
    steps = torch.arange(n, dtype=torch.float64)
    chain = torch.stack([steps, steps + 5.0], 1)  # each suppresses the next: N/2 rounds
    chain_scores = 1.0 - steps / n
    same = torch.tensor([[1.0, 5.0]], dtype=torch.float64).repeat(n, 1)
    same_scores = torch.rand(n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for name, seg, sc in [("chain", chain, chain_scores), ("all identical", same, same_scores)]:
        rows.append(_single(name, seg, sc, t, 0.0, 3 * repeat, 2))

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(
        f"temporal NMS at IoU >= {t}, best of several runs, {torch.get_num_threads()} torch "
        f"threads, {os.cpu_count()} CPUs, load average {load}"
    )
    headers = ["case", "offset", "N", "kept", "same", "ours ms", "numpy loop ms"]
    print_table([*headers, "torch loop ms", "x numpy", "x torch loop"], rows)


# ---------------------------------------------------------------------------------------------
# GPU check
# ---------------------------------------------------------------------------------------------


def gpu_benchmark(
    repeat: int = 5,
    sizes: tuple[tuple[int, int], ...] = ((20, 1000), (200, 4096)),
    device: str = "cuda",
) -> bool:
    """Triton batched NMS vs a per-group loop of the torch path, on CUDA.

    Times ``groups x size`` batches (default 20 x 1k and 200 x 4k; offset 1, IoU 0.6), checks
    that both give the same indices as the CPU torch path, prints a table and returns True.
    Without CUDA (or triton) it prints why and returns False. ``device="cpu"`` runs the same
    code under Triton's interpreter (``TRITON_INTERPRET=1``), for a dry run with small sizes.
    """
    from wtal_blocks.kernels import triton_available

    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_benchmark: skipped, no CUDA device")
        return False
    if not triton_available():
        print("gpu_benchmark: skipped, triton is not installed")
        return False
    dev = torch.device(device)
    threshold, offset = 0.6, 1.0
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    rows = []
    for groups, size in sizes:
        seg, sc, idxs = batch(groups, size, seed=groups)
        expected = batched_temporal_nms(seg, sc, idxs, threshold, offset=offset).tolist()
        on_dev = (seg.to(dev), sc.to(dev), idxs.to(dev))
        kernel = partial(batched_temporal_nms, *on_dev, threshold, offset=offset, backend="triton")
        single = partial(temporal_nms, iou_threshold=threshold, offset=offset, backend="torch")
        loop = partial(per_group, single, *on_dev)
        assert kernel().cpu().tolist() == expected
        assert loop() == expected
        t_kernel = best_of(kernel, repeat=repeat, sync=sync)
        t_loop = best_of(loop, repeat=2, sync=sync)
        t_cpu = best_of(
            partial(batched_temporal_nms, seg, sc, idxs, threshold, offset=offset), repeat=2
        )
        ms = [t * 1e3 for t in (t_kernel, t_loop, t_cpu)]
        rows.append([f"{groups} x {size}", len(expected), *ms, t_loop / t_kernel])
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU (Triton interpreter)"
    print(f"batched temporal NMS on {name} (IoU >= {threshold}, offset {offset})")
    print_table(
        ["batch", "kept", "triton ms", "torch per-group loop ms", "torch CPU batched ms", "x loop"],
        rows,
    )
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gpu", action="store_true", help="run the CUDA comparison instead")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    if args.gpu:
        gpu_benchmark(repeat=2 if args.quick else 5)
    else:
        cpu_benchmark(repeat=2 if args.quick else 7)


if __name__ == "__main__":
    main()
