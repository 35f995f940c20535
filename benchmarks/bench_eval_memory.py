"""Peak memory of ``wtal-eval`` on adversarial overlapping predictions next to realistic ones.

Three files of the same number of predictions ``N``, all ActivityNet JSON, evaluated against the
built-in THUMOS'14 ground truth at tIoU 0.1:0.7:0.1 (the whole process: start-up, reading,
evaluation, printing; wall time and peak resident memory from ``wait4``):

* **adversarial**: every prediction spans ``[0, 700]`` on ``video_test_0000716``, the video with
  218 ``BasketballDunk`` instances, with random scores. Each prediction overlaps every
  instance; none reaches tIoU 0.1 (the longest instance is 4.5 s), so every AP is exactly 0.
  An evaluator that forms all overlapping pairs before filtering them needs ``218 N`` pairs
  (2.3 GiB for N = 150k, ~30 GiB for 2M);
* **dense**: jittered copies of those 218 instances, all on that video: most pairs pass the
  thresholds, so the matching itself works through ``~N`` admissible pairs competing for 218
  instances;
* **realistic**: predictions generated from the ground truth as in ``bench_eval.py`` (spread
  over the 210 test videos).

Every file holds one JSON list per video, so the adversarial and dense files are one list of
``N`` predictions: the reader decodes it in pieces. The mAP of each run is checked: the
adversarial one against the closed form (all zeros), the others against the in-memory
evaluation of the same predictions (bit for bit).

Usage: ``python benchmarks/bench_eval_memory.py [--n 2000000 150000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import print_table  # noqa: E402
from bench_eval import generate_predictions, time_cli  # noqa: E402

from wtal_blocks.evaluation import (  # noqa: E402
    Predictions,
    evaluate_detection,
    load_activitynet_ground_truth,
)

CACHE = Path(tempfile.gettempdir()) / "wtal_bench_eval"
VIDEO = "video_test_0000716"
TIOU = "0.1:0.7:0.1"


def adversarial(n: int, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    return Predictions(
        video_ids=(VIDEO,),
        label_names=("BasketballDunk",),
        segments=np.tile([0.0, 700.0], (n, 1)),
        scores=np.round(rng.random(n), 4),
        labels=np.zeros(n, dtype=np.int64),
        videos=np.zeros(n, dtype=np.int64),
    )


def dense(n: int, seed: int = 0) -> Predictions:
    gt = load_activitynet_ground_truth("thumos14")
    mine = gt.segments[gt.videos == gt.video_ids.index(VIDEO)]
    rng = np.random.default_rng(seed)
    base = mine[rng.integers(0, mine.shape[0], n)]
    length = base[:, 1] - base[:, 0]
    seg = np.sort(base + rng.normal(0.0, 0.15, (n, 2)) * length[:, None], axis=1)
    return Predictions(
        video_ids=(VIDEO,),
        label_names=("BasketballDunk",),
        segments=np.maximum(seg, 0.0),
        scores=np.round(rng.random(n), 4),
        labels=np.zeros(n, dtype=np.int64),
        videos=np.zeros(n, dtype=np.int64),
    )


def write_results(path: Path, preds: Predictions) -> None:
    """ActivityNet JSON, one list per video, written piece by piece (never one big dict)."""
    tmp = path.with_suffix(".partial")
    order = np.argsort(preds.videos, kind="stable")
    videos = preds.videos[order]
    bounds = np.flatnonzero(np.diff(videos)) + 1
    with open(tmp, "w") as fh:
        fh.write('{"version": "wtal_blocks benchmark", "results": {')
        for k, (a, b) in enumerate(
            zip([0, *bounds.tolist()], [*bounds.tolist(), len(order)], strict=True)
        ):
            rows = order[a:b]
            fh.write(("," if k else "") + json.dumps(preds.video_ids[int(videos[a])]) + ": [")
            for c0 in range(0, rows.shape[0], 200_000):
                part = rows[c0 : c0 + 200_000]
                fh.write(
                    ("," if c0 else "")
                    + ",".join(
                        json.dumps({"label": preds.label_names[c], "score": sc, "segment": s})
                        for c, sc, s in zip(
                            preds.labels[part].tolist(),
                            preds.scores[part].tolist(),
                            preds.segments[part].tolist(),
                            strict=True,
                        )
                    )
                )
            fh.write("]")
        fh.write("}}")
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[2_000_000, 150_000])
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} CPU(s), numpy {np.__version__}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    gt = load_activitynet_ground_truth("thumos14")
    rows = []
    CACHE.mkdir(parents=True, exist_ok=True)
    for n in args.n:
        peaks = {}
        for kind, make in (
            ("adversarial", adversarial),
            ("dense", dense),
            ("realistic", lambda n: generate_predictions(gt, n)),
        ):
            preds = make(n)
            path = CACHE / f"memory_{kind}_{n}.json"
            if not path.exists():
                write_results(path, preds)
            if kind == "adversarial":
                expected = [[0.0] * 7] * len(gt.class_names)
            else:
                expected = evaluate_detection(gt, preds, TIOU).ap.tolist()
            del preds
            wall, peak, doc = time_cli(
                ["thumos14", str(path), "--tiou", TIOU], block_orjson=False, repeat=1
            )
            same = [doc["ap"][c] for c in gt.class_names] == expected
            peaks[kind] = peak
            rows.append(
                [
                    n,
                    kind,
                    f"{path.stat().st_size / 1e6:.0f}",
                    wall,
                    f"{peak / 2**20:.0f}",
                    f"{peak / peaks['adversarial']:.2f}" if kind != "adversarial" else "1",
                    "yes" if same else "NO",
                ]
            )
    print(
        f"\nWhole `wtal-eval thumos14 FILE --tiou {TIOU}` process, ActivityNet JSON, orjson when "
        f"installed; load average now {os.getloadavg()[0]:.2f}"
    )
    print_table(
        ["predictions", "file", "MB", "wall s", "peak RSS MiB", "vs adversarial", "mAP exact"],
        rows,
    )


if __name__ == "__main__":
    main()
