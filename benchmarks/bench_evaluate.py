"""``wtal evaluate`` (UM) end to end against an official-style test, both as whole processes.

Both read the same official-layout folder, use the same checkpoint, write ActivityNet results
and score them at tIoU 0.1:0.7:0.1. Each process reports the seconds of its stages (ours through
``wtal evaluate --timings``), and this script adds what happens outside them: interpreter
start and imports before the first stage, and exit after the last. The baseline
(``_official_test.py``) has the structure of the authors' ``test()``, written by us: one video at
a time, ``np.load``, a batch-1 ``conv1d`` forward, per-class / per-threshold proposal loops with
numpy NMS, ``json.dump``, and a plain-loop evaluator (faster than the official pandas one, so
the baseline is flattered). Detections of the two are compared both ways.

The forward is the same convolution on both sides: it is a shared floor, as are the
interpreter start and ``import torch``, both measured here in the same run. The table gives
every stage of both, the forward apart, and the ratio of everything else.

Two workloads:

* default: THUMOS-like lengths (300–1,600 segments, sampled to at most 750), random features
  and a randomly initialised checkpoint (F = ``--feature-dim``, D = ``--embed-dim``) — a
  stress test: an untrained network's class activations are noise, with many more threshold
  crossings (runs) than a trained one's;
* ``--synthetic-demo CKPT``: the synthetic demo test set written in the official layout, and a
  trained checkpoint (e.g. ``runs/demo/model_final.pkl`` from ``wtal demo``) — realistic
  class activations.

    python benchmarks/bench_evaluate.py [--videos 210] [--feature-dim 1024] [--embed-dim 2048]
    wtal demo && python benchmarks/bench_evaluate.py --synthetic-demo runs/demo/model_final.pkl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from _timing import print_table

from wtal_blocks import THUMOS14_CLASSES, UncertaintyModelingNet

HERE = Path(__file__).resolve().parent
STAGES = ("load", "read", "forward", "post", "evaluate", "write")


def make_dataset(root: Path, videos: int, feature_dim: int, seed: int = 0) -> list[str]:
    """Official layout: 210 test videos, THUMOS-like lengths and instances, random features."""
    rng = np.random.default_rng(seed)
    db: dict[str, dict[str, object]] = {}
    names = [f"video_test_{i:07d}" for i in range(videos)]
    (root / "features" / "test" / "rgb").mkdir(parents=True)
    for name in names:
        length = int(rng.integers(300, 1600))
        feats = rng.gamma(1.0, 0.4, size=(length, feature_dim)).astype(np.float32)
        c = int(rng.integers(20))
        anns = []
        for _ in range(int(rng.integers(2, 25))):
            s = int(rng.integers(0, length - 20))
            e = s + int(rng.integers(3, 20))
            feats[s:e, (c * 37) % feature_dim :: 20] += 2.0
            anns.append(
                {"label": THUMOS14_CLASSES[c], "segment": [f"{s * 0.64:.1f}", f"{e * 0.64:.1f}"]}
            )
        np.save(root / "features" / "test" / "rgb" / f"{name}.npy", feats)
        db[name] = {"subset": "test", "annotations": anns}
    (root / "split_test.txt").write_text("\n".join(names) + "\n")
    (root / "split_train.txt").write_text("")
    (root / "gt.json").write_text(json.dumps({"database": db}))
    return names


def run_process(cmd: list[str], timings: Path) -> dict[str, Any]:
    """Run ``cmd``; its stage seconds plus ``start + imports`` and ``exit``, all wall time."""
    launched = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    ended = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[1:3]} failed:\n{proc.stderr[-2000:]}")
    t = json.loads(timings.read_text())
    t["seconds"]["start + imports"] = t["started_at"] - launched
    t["seconds"]["exit"] = ended - t["finished_at"]
    t["wall"] = ended - launched
    return t


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The last run, with every stage's seconds and the wall time replaced by their medians."""
    out = dict(runs[-1])
    out["seconds"] = {
        name: float(np.median([r["seconds"].get(name, 0.0) for r in runs]))
        for name in runs[-1]["seconds"]
    }
    out["wall"] = float(np.median([r["wall"] for r in runs]))
    return out


def best_wall(cmd: list[str], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def compare(ours: dict[str, Any], base: dict[str, Any]) -> tuple[int, int, int]:
    """Detections matched both ways (label, segment within 1e-4 s, score within 1e-5)."""
    matched = total_o = total_b = 0
    for vid, dets in ours.items():
        mine = [(d["label"], d["segment"][0], d["segment"][1], d["score"]) for d in dets]
        theirs = [
            (d["label"], d["segment"][0], d["segment"][1], d["score"]) for d in base.get(vid, [])
        ]
        total_o, total_b = total_o + len(mine), total_b + len(theirs)
        pool = list(theirs)
        for m in mine:
            for i, b in enumerate(pool):
                if (
                    m[0] == b[0]
                    and abs(m[1] - b[1]) <= 1e-4
                    and abs(m[2] - b[2]) <= 1e-4
                    and abs(m[3] - b[3]) <= 1e-5
                ):
                    matched += 1
                    pool.pop(i)
                    break
    return matched, total_o, total_b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=210)
    parser.add_argument("--feature-dim", type=int, default=1024, help="F (modal rgb)")
    parser.add_argument("--embed-dim", type=int, default=2048, help="D (2048 official)")
    parser.add_argument(
        "--synthetic-demo", metavar="CKPT", default=None, help="trained demo checkpoint"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each process, alternating; medians shown"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.synthetic_demo:
            from wtal_blocks import load_official_checkpoint
            from wtal_blocks.data import write_official_layout

            write_official_layout(root, preset="demo")
            ckpt = Path(args.synthetic_demo).resolve()
            net = load_official_checkpoint(ckpt)
            streams, modal = ["rgb", "flow"], "all"
            args.feature_dim, args.embed_dim = net.feature_dim, net.embed_dim
            args.videos = len((root / "split_test.txt").read_text().split())
        else:
            make_dataset(root, args.videos, args.feature_dim)
            torch.manual_seed(0)
            net = UncertaintyModelingNet(args.feature_dim, 20, embed_dim=args.embed_dim)
            ckpt = root / "model.pkl"
            torch.save(net.state_dict(), ckpt)
            streams, modal = ["rgb"], "rgb"
        py = sys.executable
        # the floor is starting and importing, not the interpreter's teardown (which our
        # commands skip and the official script pays): both measured ending with os._exit
        bare = best_wall([py, "-c", "import os; os._exit(0)"])
        with_torch = best_wall([py, "-c", "import os, torch; os._exit(0)"])
        base_cmd = [
            py,
            str(HERE / "_official_test.py"),
            str(root),
            str(ckpt),
            str(root / "base.json"),
            str(root / "base_t.json"),
            "--streams",
            *streams,
        ]
        ours_cmd = [
            py,
            "-m",
            "wtal_blocks.cli.wtal",
            "evaluate",
            "--data-root",
            str(root),
            "--modal",
            modal,
            "--device",
            "cpu",
            "--checkpoint",
            str(ckpt),
            "--output",
            str(root / "ours.json"),
            "--timings",
            str(root / "ours_t.json"),
        ]
        # one official-style process first, so that both read features from a warm page cache
        subprocess.run(base_cmd, check=True, capture_output=True)
        base_runs, ours_runs = [], []
        for _ in range(max(args.repeat, 1)):
            base_runs.append(run_process(base_cmd, root / "base_t.json"))
            ours_runs.append(run_process(ours_cmd, root / "ours_t.json"))
        base, ours = median_run(base_runs), median_run(ours_runs)
        ours_results = json.loads((root / "ours.json").read_text())["results"]
        base_results = json.loads((root / "base.json").read_text())["results"]
        matched, total_o, total_b = compare(ours_results, base_results)

    print(
        f"{args.videos} videos, F={args.feature_dim}, D={args.embed_dim}, "
        f"torch threads {torch.get_num_threads()}; each process run {args.repeat}x, "
        "alternating, medians"
    )
    print(
        f"detections: ours {total_o}, official-style {total_b}, matched both ways {matched} "
        f"({100 * matched / max(total_o, 1):.2f}% of ours, "
        f"{100 * matched / max(total_b, 1):.2f}% of theirs)"
    )
    so, sb = ours["seconds"], base["seconds"]
    counts = ours["counts"]
    waste = 1 - counts["segments"] / max(counts["padded_segments"], 1)
    rows: list[list[Any]] = []
    for name in ("start + imports", *STAGES, "exit"):
        b, o = sb.get(name, 0.0), so.get(name, 0.0)
        rows.append([name, b, o, b / o if o > 0 else float("inf")])
    rows.append(["whole process", base["wall"], ours["wall"], base["wall"] / ours["wall"]])
    other_b = base["wall"] - sb["forward"]
    other_o = ours["wall"] - so["forward"]
    rows.append(["all but the forward", other_b, other_o, other_b / other_o])
    rest_b, rest_o = other_b - with_torch, other_o - with_torch  # net of the shared start
    rows.append(
        [
            "all but forward, python, import torch",
            rest_b,
            rest_o,
            rest_b / rest_o if rest_o > 0 else float("inf"),
        ]
    )
    print_table(["stage (seconds)", "official-style", "wtal evaluate", "speed-up"], rows)
    print(
        f"padding: the forward computed {counts['padded_segments']} segment rows for "
        f"{counts['segments']} real ones ({100 * waste:.1f}% padding, about "
        f"{waste * so['forward']:.3f} s of our forward)"
    )
    floor = with_torch + min(so["forward"], sb["forward"])
    print(
        f"floor: python start {bare:.3f} s, + import torch {with_torch:.3f} s, + the faster "
        f"forward {min(so['forward'], sb['forward']):.3f} s = {floor:.3f} s; "
        f"wtal evaluate {ours['wall']:.3f} s is {ours['wall'] / floor:.2f}x the floor "
        f"({ours['wall'] - floor:.3f} s above it), official-style {base['wall'] / floor:.2f}x"
    )
    print(
        f"average mAP: ours {ours['average_mAP']:.6f}, official-style {base['average_mAP']:.6f} "
        f"(|diff| {abs(ours['average_mAP'] - base['average_mAP']):.2e})"
    )


if __name__ == "__main__":
    main()
