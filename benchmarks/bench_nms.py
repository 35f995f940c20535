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

Usage (from the repository root)::

    python benchmarks/bench_nms.py            # CPU table
    python benchmarks/bench_nms.py --quick    # fewer repeats
    python benchmarks/bench_nms.py --gpu      # Triton kernel vs a per-group torch loop (CUDA)

``gpu_benchmark()`` is the entry point for ``benchmarks/gpu_check.sh``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from _timing import best_of, print_table  # noqa: E402

from wtal_blocks.nms import batched_temporal_nms, temporal_nms  # noqa: E402

UPSAMPLE = 24
THRESHOLDS = np.linspace(0.05, 0.65, 19)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


def um_like_proposals(
    snippets: int, rng: np.random.Generator, smoothness: float = 1.5
) -> tuple[np.ndarray, np.ndarray]:
    """Proposals ``(N, 2)`` seconds and scores ``(N,)`` from one random video's score curve."""
    pad = int(6 * smoothness) + 1
    kernel = np.exp(-0.5 * (np.arange(-pad, pad + 1) / smoothness) ** 2)
    raw = np.convolve(rng.standard_normal(snippets + 2 * pad), kernel / kernel.sum(), "valid")
    raw = (raw - raw.min()) / (raw.max() - raw.min())
    cas = np.interp(np.arange(0, snippets, 1 / UPSAMPLE), np.arange(snippets), raw)
    length = cas.size
    frames = snippets * 16 * rng.uniform(0.8, 1.6)  # the video's feature length, in frames
    f = 16 * frames / 16 / (UPSAMPLE * snippets * 25)  # seconds per upsampled position
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


def batch(groups: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``groups`` classes (or video x class pairs) of ``size`` proposals each."""
    parts = [proposals(size, seed + g) for g in range(groups)]
    seg = torch.cat([p[0] for p in parts])
    sc = torch.cat([p[1] for p in parts])
    idxs = torch.arange(groups).repeat_interleave(size)
    return seg, sc, idxs


# ---------------------------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------------------------


def numpy_loop_nms(segments: np.ndarray, scores: np.ndarray, thresh: float, offset: float) -> list[int]:
    """The official formulation: ``areas = x2 - x1 + 1``, keep ``iou < thresh`` (stable sort)."""
    x1, x2 = segments[:, 0], segments[:, 1]
    areas = x2 - x1 + offset
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        xx1 = np.maximum(x1[i], x1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1 + offset)
        iou = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.flatnonzero(iou < thresh) + 1]
    return keep


def torch_loop_nms(segments: torch.Tensor, scores: torch.Tensor, thresh: float, offset: float) -> torch.Tensor:
    """The same greedy loop with torch ops (one step per kept proposal)."""
    x1, x2 = segments[:, 0].double(), segments[:, 1].double()
    areas = x2 - x1 + offset
    order = torch.sort(scores, descending=True, stable=True).indices
    keep = []
    while order.numel() > 0:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        inter = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest]) + offset).clamp(min=0)
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


def cpu_benchmark(repeat: int = 7) -> None:
    threshold = 0.6
    rows = []
    for offset in (1.0, 0.0):
        for n in (100, 1000, 5000, 20000):
            seg, sc = proposals(n, seed=n)
            seg_np, sc_np = seg.numpy(), sc.numpy()
            ours = temporal_nms(seg, sc, threshold, offset=offset).tolist()
            assert ours == numpy_loop_nms(seg_np, sc_np, threshold, offset)
            assert ours == torch_loop_nms(seg, sc, threshold, offset).tolist()
            slow = 2 if n >= 5000 else repeat
            t_ours = best_of(lambda: temporal_nms(seg, sc, threshold, offset=offset), repeat=repeat * 3)
            t_np = best_of(lambda: numpy_loop_nms(seg_np, sc_np, threshold, offset), repeat=slow)
            t_tl = best_of(lambda: torch_loop_nms(seg, sc, threshold, offset), repeat=slow)
            rows.append(_row(f"1 class x {n}", offset, n, len(ours), t_ours, t_np, t_tl))

        seg, sc, idxs = batch(20, 1000, seed=7)
        seg_np, sc_np = seg.numpy(), sc.numpy()
        ours = batched_temporal_nms(seg, sc, idxs, threshold, offset=offset).tolist()

        def numpy_per_class(s: torch.Tensor, p: torch.Tensor) -> list[int]:
            return numpy_loop_nms(s.numpy(), p.numpy(), threshold, offset)

        def torch_per_class(s: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
            return torch_loop_nms(s, p, threshold, offset)

        assert ours == per_group(numpy_per_class, seg, sc, idxs)
        assert ours == per_group(torch_per_class, seg, sc, idxs)
        t_ours = best_of(lambda: batched_temporal_nms(seg, sc, idxs, threshold, offset=offset), repeat=repeat * 3)
        t_np = best_of(lambda: per_group(numpy_per_class, seg, sc, idxs), repeat=repeat)
        t_tl = best_of(lambda: per_group(torch_per_class, seg, sc, idxs), repeat=2)
        rows.append(_row("20 classes x 1000", offset, len(sc), len(ours), t_ours, t_np, t_tl))

    # adversarial inputs: the cost drivers of the torch path at their worst
    n = 2000
    chain = torch.stack([torch.arange(n) * 1.0, torch.arange(n) * 1.0 + 5.0], 1).double()
    chain_scores = 1.0 - torch.arange(n, dtype=torch.float64) / n
    same = torch.tensor([[1.0, 5.0]], dtype=torch.float64).repeat(n, 1)
    same_scores = torch.rand(n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for name, seg, sc in [("chain (depth N)", chain, chain_scores), ("all identical", same, same_scores)]:
        ours = temporal_nms(seg, sc, threshold).tolist()
        assert ours == numpy_loop_nms(seg.numpy(), sc.numpy(), threshold, 0.0)
        t_ours = best_of(lambda: temporal_nms(seg, sc, threshold), repeat=3)  # noqa: B023
        t_np = best_of(lambda: numpy_loop_nms(seg.numpy(), sc.numpy(), threshold, 0.0), repeat=3)  # noqa: B023
        t_tl = best_of(lambda: torch_loop_nms(seg, sc, threshold, 0.0), repeat=2)  # noqa: B023
        rows.append(_row(name, 0.0, n, len(ours), t_ours, t_np, t_tl))

    print(f"temporal NMS at IoU >= {threshold}, best of several runs, torch threads: {torch.get_num_threads()}")
    print_table(
        ["case", "offset", "N", "kept", "ours ms", "numpy loop ms", "torch loop ms", "x numpy", "x torch loop"],
        rows,
    )


def _row(name: str, offset: float, n: int, kept: int, ours: float, np_loop: float, torch_loop: float) -> list:
    return [name, offset, n, kept, ours * 1e3, np_loop * 1e3, torch_loop * 1e3, np_loop / ours, torch_loop / ours]


# ---------------------------------------------------------------------------------------------
# GPU check
# ---------------------------------------------------------------------------------------------


def gpu_benchmark(repeat: int = 5) -> bool:
    """Triton batched NMS vs a per-group loop of the torch path, on CUDA.

    Times 20 x 1k and 200 x 4k proposals (offset 1, IoU 0.6), checks that both give the same
    indices as the CPU torch path, prints a table and returns True; without CUDA (or
    triton) prints why and returns False.
    """
    from wtal_blocks.kernels import triton_available

    if not torch.cuda.is_available():
        print("gpu_benchmark: skipped, no CUDA device")
        return False
    if not triton_available():
        print("gpu_benchmark: skipped, triton is not installed")
        return False
    device = torch.device("cuda")
    threshold, offset = 0.6, 1.0
    sync = torch.cuda.synchronize
    rows = []
    for groups, size in [(20, 1000), (200, 4096)]:
        seg, sc, idxs = batch(groups, size, seed=groups)
        expected = batched_temporal_nms(seg, sc, idxs, threshold, offset=offset)
        seg_d, sc_d, idxs_d = seg.to(device), sc.to(device), idxs.to(device)

        def triton_run() -> torch.Tensor:
            return batched_temporal_nms(seg_d, sc_d, idxs_d, threshold, offset=offset, backend="triton")  # noqa: B023

        def torch_single(s: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
            return temporal_nms(s, p, threshold, offset=offset, backend="torch")

        def loop_run() -> list[int]:
            return per_group(torch_single, seg_d, sc_d, idxs_d)  # noqa: B023

        assert triton_run().cpu().tolist() == expected.tolist()
        assert loop_run() == expected.tolist()
        t_triton = best_of(triton_run, repeat=repeat, sync=sync)
        t_loop = best_of(loop_run, repeat=2, sync=sync)
        t_cpu = best_of(lambda: batched_temporal_nms(seg, sc, idxs, threshold, offset=offset), repeat=2)  # noqa: B023
        rows.append([f"{groups} x {size}", len(expected), t_triton * 1e3, t_loop * 1e3, t_cpu * 1e3, t_loop / t_triton])
    print(f"batched temporal NMS on {torch.cuda.get_device_name(device)} (IoU >= {threshold}, offset {offset})")
    print_table(["batch", "kept", "triton ms", "torch per-group loop ms", "torch CPU batched ms", "x loop"], rows)
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
