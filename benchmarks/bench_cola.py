"""CoLA post-processing (proposals + NMS) on 210 THUMOS'14-like videos: ours vs official-style.

Realistic inputs: videos of L = 100 … 4000 feature segments, tested at T = min(L, 750) (a
padded batch with a mask), 20 classes, 2–3 localised classes per video, ReLU'd smooth class
activations with ~15 action instances per video, actionness = their class sum. Ours is
:class:`wtal_blocks.inference.cola.CoLAPostProcessor` on the whole batch (and in the
evaluation's batches of 16 videos of similar length); the baseline is the official
``test_all()`` structure (per video, per class, per threshold, per run; SciPy ``interp1d``;
numpy NMS), with the outer-inner contrast and NMS of ``_official_style.py``. Both run in this
process on the same network outputs, and their detections are compared both ways with the
judge's tolerances (class, boundaries within 1e-4 s, score within 1e-5).

    python benchmarks/bench_cola.py [--videos 210] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.interpolate import interp1d

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from _official_style import nms, oic
from _timing import print_table

from wtal_blocks.actionness import actionness
from wtal_blocks.inference.cola import CoLAPostProcessor
from wtal_blocks.models.cola import CoLAOutput
from wtal_blocks.snippets import select_hard_segments, select_pseudo_segments

CAS_THRESHOLDS = np.arange(0.0, 0.25, 0.025)
ACTIONNESS_THRESHOLDS = np.arange(0.1, 0.925, 0.025)


def realistic_outputs(videos: int, c: int = 20, seed: int = 0) -> tuple[CoLAOutput, list[int]]:
    """CoLA-like eval outputs of a padded batch and each video's original length L."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(100, 4000, size=videos).tolist()
    counts = [min(length, 750) for length in lengths]
    t = max(counts)
    logits = np.full((videos, t, c), -5.0)
    scores = np.full((videos, c), 0.01)
    kernel = np.hanning(15) / np.hanning(15).sum()
    for v, n in enumerate(counts):
        classes = rng.choice(c, size=int(rng.integers(2, 4)), replace=False)
        noise = rng.normal(-0.8, 0.6, size=(n + 14, c))
        logits[v, :n] = np.stack(
            [np.convolve(noise[:, k], kernel, mode="valid") for k in range(c)], 1
        )
        for _ in range(15):
            k = rng.choice(classes)
            width = int(rng.integers(max(3, n // 75), max(4, n // 20)))
            s = int(rng.integers(0, n - width))
            logits[v, s : s + width, k] += np.sin(np.linspace(0, np.pi, width)) * rng.uniform(2, 5)
        w = rng.dirichlet(np.ones(len(classes)) * 5)
        scores[v, classes] = 0.25 + 0.5 * w / w.sum()
    mask = torch.arange(t)[None, :] < torch.tensor(counts)[:, None]
    cas = torch.relu(torch.from_numpy(logits).float()).masked_fill(~mask[:, :, None], 0.0)
    aness = actionness(cas, mask)
    easy = select_pseudo_segments(aness, action_ratio=5, background_ratio=5, mask=mask)
    hard_action, hard_background = select_hard_segments(aness, hard_ratio=20, mask=mask)
    probs = torch.from_numpy(scores / scores.sum(1, keepdims=True)).float()
    out = CoLAOutput(
        probs, cas, aness, torch.zeros(videos, t, 1), easy, hard_action, hard_background, mask
    )
    return out, lengths


def _minmax32(x: np.ndarray) -> np.ndarray:
    """The official ``minmax_norm`` over time (axis 0) in float32, clipped to [0, 1]."""
    hi = np.maximum(x.max(axis=0), np.float32(0))
    lo = np.maximum(x.min(axis=0), np.float32(0))
    delta = hi - lo
    delta = np.where(delta <= 0, np.float32(1), delta).astype(np.float32)
    return np.clip((x - lo) / delta, np.float32(0), np.float32(1)).astype(np.float32)


def _upsample(arr: np.ndarray, scale: int = 24) -> np.ndarray:
    t = arr.shape[0]
    f = interp1d(np.arange(t), arr, kind="linear", axis=0, fill_value="extrapolate")
    return f(np.arange(0, t, 1 / scale))


def official_style_video(
    cas: np.ndarray, aness: np.ndarray, probs: np.ndarray, length: int
) -> list[list[float]]:
    """One video's detections with the official ``test_all()`` structure."""
    t = cas.shape[0]
    pred = np.where(probs >= 0.2)[0]
    if len(pred) == 0:
        pred = np.array([np.argmax(probs)])
    cas_up = _upsample(_minmax32(cas[:, pred]))
    aness_up = _upsample(_minmax32(aness[:, None]))[:, 0]
    t_factor = (16 * length) / (24 * t * 25)
    by_class: dict[int, list[list[float]]] = {}
    for thr in CAS_THRESHOLDS:
        tmp = cas_up.copy()
        tmp[tmp < thr] = 0
        for j, c in enumerate(pred):
            pos = np.where(tmp[:, j] > 0)[0]
            props = oic(tmp[:, j], pos, int(c), float(probs[c]), t_factor)
            if props:
                by_class.setdefault(int(c), []).extend(props)
    for thr in ACTIONNESS_THRESHOLDS:
        pos = np.where(np.where(aness_up < thr, 0.0, aness_up) > 0)[0]
        for j, c in enumerate(pred):
            props = oic(cas_up[:, j], pos, int(c), float(probs[c]), t_factor)
            if props:
                by_class.setdefault(int(c), []).extend(props)
    return [d for props in by_class.values() for d in nms(props, 0.6)]


def _agreement(ours: list[tuple], base: list[tuple]) -> tuple[int, int]:
    """Detections of each side matched on the other: same class, times within 1e-4 s, score
    within 1e-5 (sorted by class and start, a window search)."""

    def matched(a: list[tuple], b: list[tuple]) -> int:
        by_class: dict[int, np.ndarray] = {}
        for cls in {d[0] for d in b}:
            by_class[cls] = np.array([d[1:] for d in b if d[0] == cls])
        hits = 0
        for cls, score, start, end in a:
            other = by_class.get(cls)
            if other is None:
                continue
            ok = (
                (np.abs(other[:, 1] - start) <= 1e-4)
                & (np.abs(other[:, 2] - end) <= 1e-4)
                & (np.abs(other[:, 0] - score) <= 1e-5)
            )
            hits += bool(ok.any())
        return hits

    return matched(ours, base), matched(base, ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=210)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    out, lengths = realistic_outputs(args.videos)
    post = CoLAPostProcessor()
    counts = out.mask.sum(1).tolist() if out.mask is not None else []

    ours_t = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        ours = post(out, lengths)
        ours_t.append(time.perf_counter() - start)

    # as ``wtal evaluate`` runs it: batches of 16 videos of similar length
    order = sorted(range(args.videos), key=lambda v: counts[v])
    chunked_t = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        for i in range(0, args.videos, 16):
            idx = order[i : i + 16]
            t = max(counts[v] for v in idx)
            sub = CoLAOutput(
                out.video_probs[idx],
                out.cas[idx, :t],
                out.actionness[idx, :t],
                out.embeddings[idx, :t],
                out.easy,
                out.hard_action,
                out.hard_background,
                None if out.mask is None else out.mask[idx, :t],
            )
            post(sub, [lengths[v] for v in idx])
        chunked_t.append(time.perf_counter() - start)

    cas_np, aness_np, probs_np = out.cas.numpy(), out.actionness.numpy(), out.video_probs.numpy()
    base_t = []
    for _ in range(max(1, args.repeat // 2)):
        start = time.perf_counter()
        base = [
            official_style_video(
                cas_np[v, : counts[v]], aness_np[v, : counts[v]], probs_np[v], lengths[v]
            )
            for v in range(args.videos)
        ]
        base_t.append(time.perf_counter() - start)

    n_ours = n_base = hit_ours = hit_base = exact_videos = 0
    for v in range(args.videos):
        a = [
            (int(lab), float(s), float(x), float(y))
            for lab, s, (x, y) in zip(
                ours[v].labels.tolist(),
                ours[v].scores.tolist(),
                ours[v].segments.tolist(),
                strict=True,
            )
        ]
        b = [(int(d[0]), float(d[1]), float(d[2]), float(d[3])) for d in base[v]]
        h_a, h_b = _agreement(a, b)
        n_ours, n_base = n_ours + len(a), n_base + len(b)
        hit_ours, hit_base = hit_ours + h_a, hit_base + h_b
        exact_videos += h_a == len(a) == len(b) == h_b
    print(f"{args.videos} videos, T = min(L, 750), {n_ours} detections (official-style: {n_base})")
    print(
        f"  ours matched in the official-style output: {hit_ours}/{n_ours} "
        f"({100 * hit_ours / max(1, n_ours):.3f}%); official-style matched in ours: "
        f"{hit_base}/{n_base} ({100 * hit_base / max(1, n_base):.3f}%); "
        f"videos identical: {exact_videos}/{args.videos}"
    )
    best_ours, best_chunk, best_base = min(ours_t), min(chunked_t), min(base_t)
    print_table(
        ["method", "seconds", "videos/s", "speed-up"],
        [
            ["official-style loops (numpy/SciPy)", best_base, args.videos / best_base, 1.0],
            [
                "CoLAPostProcessor, one batch",
                best_ours,
                args.videos / best_ours,
                best_base / best_ours,
            ],
            [
                "CoLAPostProcessor, batches of 16",
                best_chunk,
                args.videos / best_chunk,
                best_base / best_chunk,
            ],
        ],
    )


if __name__ == "__main__":
    main()
