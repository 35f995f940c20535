"""BaS-Net post-processing (proposals + NMS) on 210 THUMOS'14-like videos: ours vs official-style.

Realistic inputs: T = 750 segments, 20 classes + background, 2-3 localised classes per video,
smooth CAS logits with ~15 action instances per video. Ours is
:class:`wtal_blocks.inference.basnet.BaSNetPostProcessor` on the whole batch; the baseline is
the official test's structure (per video: min-max, SciPy upsampling of the localised classes;
per threshold, per class: NumPy thresholding and the per-run outer-inner contrast loop; per
class: NumPy greedy NMS), built from the plain-loop reference's helpers where they are the
official code's own NumPy/SciPy calls. Both run in this process and must agree.

    python benchmarks/bench_basnet.py [--videos 210] [--repeat 3] [--threads N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from _official_style import numpy_loop_nms
from _timing import print_table

from tests.reference import basnet_reference as ref
from wtal_blocks.inference.basnet import BaSNetPostProcessor
from wtal_blocks.models.basnet import BaSNetOutput

Det = tuple[int, float, float, float]


def realistic_outputs(
    videos: int, t: int = 750, c: int = 20, seed: int = 0
) -> tuple[BaSNetOutput, list[int]]:
    """Smooth random CAS logits ``(V, T, C + 1)`` with bumps of 2-3 classes per video, and
    video probabilities that localise exactly those classes (>= 0.25)."""
    rng = np.random.default_rng(seed)
    logits = np.zeros((videos, t, c + 1), dtype=np.float32)
    probs = np.zeros((videos, c + 1))
    kernel = np.hanning(15) / np.hanning(15).sum()
    for v in range(videos):
        classes = rng.choice(c, size=int(rng.integers(2, 4)), replace=False)
        noise = rng.normal(0, 0.6, size=(t + 14, c + 1))
        logits[v] = np.stack(
            [np.convolve(noise[:, k], kernel, mode="valid") for k in range(c + 1)], 1
        )
        for _ in range(15):
            k = rng.choice(classes)
            s = int(rng.integers(0, t - 40))
            n = int(rng.integers(10, 40))
            logits[v, s : s + n, k] += np.sin(np.linspace(0, np.pi, n)) * rng.uniform(2, 5)
        rest = rng.dirichlet(np.ones(c + 1 - len(classes)))
        probs[v, [k for k in range(c + 1) if k not in classes]] = rest * 0.1
        probs[v, classes] = 0.9 / len(classes)
    cas = torch.from_numpy(logits)
    p = torch.from_numpy(probs).float()
    out = BaSNetOutput(None, cas, cas, p, p, p[:, :c], None)
    return out, rng.integers(200, 4000, size=videos).tolist()


def official_style_video(
    cas: np.ndarray, video_probs: np.ndarray, length: int, class_threshold: float = 0.25
) -> list[Det]:
    """One video through the official test's structure (float32 min-max as the torch code)."""
    scores = np.asarray(video_probs[:-1], dtype=np.float32).copy()
    scores[scores < class_threshold] = 0
    scores[scores >= class_threshold] = 1
    pred = np.where(scores >= class_threshold)[0]
    if not pred.any():
        return []
    hi = np.maximum(cas.max(axis=0), np.float32(0))
    lo = np.maximum(cas.min(axis=0), np.float32(0))
    delta = hi - lo
    delta[delta <= 0] = 1
    norm = ((cas - lo) / delta).astype(np.float32)
    t = cas.shape[0]
    up = np.stack([ref.upsample(norm[:, c]) for c in pred], axis=1)  # SciPy interp1d
    t_factor = ref.seconds_per_position(length, t)
    by_class: dict[int, list[Det]] = {}
    for thr in ref.BASNET_CAS_THRESHOLDS:
        kept = up.copy()
        kept[kept < thr] = 0
        for j, c in enumerate(pred):
            positions = np.where(kept[:, j] > 0)[0]
            if positions.any():
                term = 0.2 * float(scores[c])
                props = ref.oic_proposals(
                    int(c), kept[:, j], positions.tolist(), term, t_factor, min_run_length=1
                )
                by_class.setdefault(int(c), []).extend(props)
    out: list[Det] = []
    for props in by_class.values():
        arr = np.asarray(props, dtype=np.float64)
        out.extend(props[i] for i in numpy_loop_nms(arr[:, 2:4], arr[:, 1], 0.7, 1.0))
    return out


def unmatched(got: list[Det], want: list[Det]) -> tuple[int, int]:
    """Detections without a partner: same class, boundaries within 1e-4 s, score within 1e-5."""
    left = sorted(want)
    missing = 0
    for d in got:
        for i, w in enumerate(left):
            same = w[0] == d[0] and abs(w[2] - d[2]) <= 1e-4 and abs(w[3] - d[3]) <= 1e-4
            if same and abs(w[1] - d[1]) <= 1e-5:
                left.pop(i)
                break
        else:
            missing += 1
    return missing, len(left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=210)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    out, lengths = realistic_outputs(args.videos)
    post = BaSNetPostProcessor()

    ours_t, base_t = [], []
    ours = post(out, lengths)
    for _ in range(args.repeat):
        start = time.perf_counter()
        ours = post(out, lengths)
        ours_t.append(time.perf_counter() - start)
    cas_np, probs_np = out.cas.numpy(), out.video_probs_supp.numpy()  # type: ignore[union-attr]
    base: list[list[Det]] = []
    for _ in range(max(1, args.repeat // 2)):
        start = time.perf_counter()
        base = [
            official_style_video(cas_np[v], probs_np[v], lengths[v]) for v in range(args.videos)
        ]
        base_t.append(time.perf_counter() - start)

    n_ours = sum(len(d) for d in ours)
    n_base = sum(len(d) for d in base)
    miss_ours = miss_base = videos_differ = 0
    for v in range(args.videos):
        got = [
            (int(lab), float(s), float(a), float(b))
            for lab, s, (a, b) in zip(
                ours[v].labels.tolist(),
                ours[v].scores.tolist(),
                ours[v].segments.tolist(),
                strict=True,
            )
        ]
        a, b = unmatched(got, base[v])
        miss_ours += a
        miss_base += b
        videos_differ += bool(a or b or len(got) != len(base[v]))
    print(f"{args.videos} videos, T=750, 20 classes + background")
    print(f"  detections: ours {n_ours}, official-style {n_base}")
    print(
        f"  unmatched (class, boundaries 1e-4 s, score 1e-5): ours {miss_ours}, "
        f"official-style {miss_base}; videos that differ: {videos_differ}"
    )
    best_ours, best_base = min(ours_t), min(base_t)
    print_table(
        ["method", "seconds", "videos/s", "speed-up"],
        [
            ["official-style loops (numpy/scipy)", best_base, args.videos / best_base, 1.0],
            [
                "wtal_blocks BaSNetPostProcessor",
                best_ours,
                args.videos / best_ours,
                best_base / best_ours,
            ],
        ],
    )


if __name__ == "__main__":
    main()
