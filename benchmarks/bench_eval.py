"""Benchmark of the detection evaluator against the plain-loop reference, in the same run.

Predictions are generated from the real ground truth (``tests/data``): THUMOS'14-scale files
(15k and 90k predictions over the 210 test videos, 7 tIoUs) and an ActivityNet-scale file
(1M predictions over ActivityNet 1.2 validation, 10 tIoUs). Half of the predictions are jittered
copies of a ground truth of the same video, half are background segments; scores are rounded to
1e-4 and stored as float32 values (17-digit decimals in the JSON), so ties occur as in real outputs.

Three tables:

1. In-process evaluation (arrays already in memory): ours vs the plain-loop reference of
   ``tests/reference``; the reference runs on every prediction up to 100k, and beyond that on a
   random subset of the videos, extrapolated linearly in the number of predictions (labelled).
2. The official THUMOS'14 protocol on TURN + S-CNN's real file, ours vs its reference.
3. The whole ``wtal-eval`` process (interpreter start-up, imports, JSON parsing, evaluation,
   printing), with the stdlib ``json`` only and, when installed, with ``orjson``.

Usage: ``python benchmarks/bench_eval.py [--quick]`` (``--quick`` skips the 1M case).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import best_of, print_table  # noqa: E402

from tests.reference.detection_reference import detection_map  # noqa: E402
from tests.reference.thumos14_reference import thumos14_map  # noqa: E402
from wtal_blocks.evaluation import (  # noqa: E402
    GroundTruth,
    Predictions,
    evaluate_detection,
    evaluate_thumos14,
    load_activitynet_ground_truth,
    load_thumos14_annotations,
    load_thumos14_results,
    parse_tiou_thresholds,
    write_activitynet_results,
)

DATA = ROOT / "tests" / "data"
CACHE = Path(tempfile.gettempdir()) / "wtal_bench_eval"
REFERENCE_MAX = 100_000  # above this many predictions the reference runs on a subset


def generate_predictions(gt: GroundTruth, n: int, seed: int = 0) -> Predictions:
    """``n`` predictions spread evenly over the videos of ``gt`` (vectorised, deterministic)."""
    rng = np.random.default_rng(seed)
    n_videos = len(gt.video_ids)
    counts = np.full(n_videos, n // n_videos)
    counts[: n - counts.sum()] += 1
    video = np.repeat(np.arange(n_videos), counts)
    order = np.argsort(gt.videos, kind="stable")
    gt_count = np.bincount(gt.videos, minlength=n_videos)
    gt_first = np.concatenate([[0], np.cumsum(gt_count)[:-1]])
    seg = gt.segments[order]
    lab = gt.labels[order]
    ends = np.zeros(n_videos)
    np.maximum.at(ends, gt.videos, gt.segments[:, 1])
    duration = np.array([gt.durations.get(v, 0.0) for v in gt.video_ids])
    duration = np.where(duration > 0, duration, ends * 1.1 + 10.0)

    has_gt = gt_count[video] > 0
    pick = gt_first[video] + np.floor(rng.random(n) * np.maximum(gt_count[video], 1)).astype(
        np.int64
    )
    pick = np.minimum(pick, len(seg) - 1)
    near = has_gt & (rng.random(n) < 0.5)
    g_len = seg[pick, 1] - seg[pick, 0]
    center = seg[pick].mean(axis=1) + rng.normal(0, 0.25, n) * g_len
    length = g_len * np.exp(rng.normal(0, 0.3, n))
    bg_len = np.exp(
        rng.normal(np.log(max(np.median(gt.segments[:, 1] - gt.segments[:, 0]), 0.5)), 0.8, n)
    )
    bg_start = rng.random(n) * duration[video]
    start = np.where(near, center - length / 2, bg_start)
    end = np.where(near, center + length / 2, bg_start + bg_len)
    start = np.clip(start, 0, None)
    end = np.maximum(np.minimum(end, duration[video]), start)
    other = rng.integers(0, len(gt.class_names), n)
    label = np.where(near | (has_gt & (rng.random(n) < 0.7)), lab[pick], other)
    # float32 network outputs quantised to 1e-4: ties occur, and the JSON carries 17-digit
    # decimals (0.6123000979423523) as real result files do
    score = (
        np.round(np.where(near, rng.beta(4, 2, n), rng.beta(2, 4, n)), 4)
        .astype(np.float32)
        .astype(np.float64)
    )
    return Predictions(
        video_ids=gt.video_ids,
        label_names=gt.class_names,
        segments=np.stack([start, end], axis=1),
        scores=score,
        labels=label.astype(np.int64),
        videos=video.astype(np.int64),
    )


def prediction_file(gt: GroundTruth, n: int, name: str) -> tuple[Path, Predictions]:
    preds = generate_predictions(gt, n)
    path = CACHE / f"{name}_{n}.json"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        write_activitynet_results(path, preds, version="wtal_blocks benchmark")
    return path, preds


def time_reference(
    gt: GroundTruth, preds: Predictions, thresholds: list[float], seed: int = 0
) -> tuple[float, str]:
    """Seconds of the plain-loop reference (on a subset of videos above REFERENCE_MAX)."""
    keep_video = np.ones(len(gt.video_ids), dtype=bool)
    note = "measured"
    if len(preds) > REFERENCE_MAX:
        fraction = REFERENCE_MAX / len(preds)
        keep_video = np.random.default_rng(seed).random(len(gt.video_ids)) < fraction
        note = ""
    gt_rows = [
        (gt.video_ids[v], gt.class_names[c], s, e)
        for (s, e), c, v in zip(
            gt.segments.tolist(), gt.labels.tolist(), gt.videos.tolist(), strict=True
        )
        if keep_video[v]
    ]
    mask = keep_video[preds.videos]
    pred_rows = [
        (preds.video_ids[v], preds.label_names[c], s, e, sc)
        for (s, e), c, v, sc in zip(
            preds.segments[mask].tolist(),
            preds.labels[mask].tolist(),
            preds.videos[mask].tolist(),
            preds.scores[mask].tolist(),
            strict=True,
        )
    ]
    start = time.perf_counter()
    detection_map(gt_rows, pred_rows, thresholds)
    seconds = time.perf_counter() - start
    if len(pred_rows) < len(preds):
        scale = len(preds) / max(len(pred_rows), 1)
        note = f"extrapolated x{scale:.1f} from {len(pred_rows)} preds"
        seconds *= scale
    return seconds, note


def time_cli(args: list[str], *, block_orjson: bool, repeat: int) -> float:
    """Best wall-clock seconds of the whole ``wtal-eval`` process."""
    if block_orjson:
        code = "import sys; sys.modules['orjson'] = None; from wtal_blocks.cli.eval import main; sys.exit(main())"
    else:
        code = "import sys; from wtal_blocks.cli.eval import main; sys.exit(main())"
    cmd = [sys.executable, "-c", code, *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        best = min(best, time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="skip the 1M-prediction ActivityNet case"
    )
    parser.add_argument("--repeat", type=int, default=5, help="repeats for best-of timings")
    args = parser.parse_args()
    try:
        import orjson  # noqa: F401

        has_orjson = True
    except ImportError:
        has_orjson = False
    print(
        f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, numpy {np.__version__}, "
        f"orjson {'installed' if has_orjson else 'absent'}; load average {os.getloadavg()[0]:.2f}"
    )

    thumos_gt_path = DATA / "thumos14_gt.json.gz"
    anet_gt_path = DATA / "anet12_val_gt.json.gz"
    thumos_gt = load_activitynet_ground_truth(thumos_gt_path, subset="test")
    anet_gt = load_activitynet_ground_truth(anet_gt_path, subset="validation")
    thumos_tiou = "0.1:0.7:0.1"
    anet_tiou = "0.5:0.95:0.05"
    cases = [
        ("THUMOS'14", thumos_gt, thumos_gt_path, 15_000, thumos_tiou),
        ("THUMOS'14", thumos_gt, thumos_gt_path, 90_000, thumos_tiou),
    ]
    if not args.quick:
        cases.append(("ActivityNet 1.2", anet_gt, anet_gt_path, 1_000_000, anet_tiou))

    rows = []
    files = []
    for name, gt, gt_path, n, tiou in cases:
        path, preds = prediction_file(gt, n, "thumos14" if gt is thumos_gt else "anet12")
        files.append((name, gt_path, path, n, tiou))
        thr = parse_tiou_thresholds(tiou)
        ours = best_of(
            lambda gt=gt, preds=preds, tiou=tiou: evaluate_detection(gt, preds, tiou),
            repeat=args.repeat,
        )
        ref, note = time_reference(gt, preds, thr.tolist())
        rows.append(
            [
                f"{name} {n // 1000}k",
                n,
                len(thr),
                ours,
                ref,
                f"{ref / ours:.0f}x",
                f"{n / ours:.3g}",
                note,
            ]
        )
    print(
        "\n1. ActivityNet protocol, in-process evaluation of arrays in memory (seconds, best of "
        f"{args.repeat})"
    )
    print_table(
        [
            "case",
            "predictions",
            "tIoUs",
            "ours s",
            "reference s",
            "speed-up",
            "ours pred/s",
            "reference",
        ],
        rows,
    )

    ann = load_thumos14_annotations("thumos14")
    turn = load_thumos14_results(DATA / "turn_flow_scnn_thumos14_test.txt.gz")
    ours = best_of(lambda: evaluate_thumos14(ann, turn, "0.1:0.7:0.1"), repeat=args.repeat)
    by_id = dict(zip(map(str, ann.class_ids), ann.class_names, strict=True))
    gt_rows = [
        (ann.video_ids[v], ann.class_names[c], s, e)
        for (s, e), c, v in zip(
            ann.segments.tolist(), ann.labels.tolist(), ann.videos.tolist(), strict=True
        )
    ]
    det_rows = [
        (turn.video_ids[v], by_id[turn.label_names[c]], s, e, sc)
        for (s, e), c, v, sc in zip(
            turn.segments.tolist(),
            turn.labels.tolist(),
            turn.videos.tolist(),
            turn.scores.tolist(),
            strict=True,
        )
    ]
    amb = [
        (ann.video_ids[v], s, e)
        for (s, e), v in zip(
            ann.ambiguous_segments.tolist(), ann.ambiguous_videos.tolist(), strict=True
        )
    ]
    start = time.perf_counter()
    thumos14_map(
        gt_rows, det_rows, amb, list(ann.class_names), parse_tiou_thresholds("0.1:0.7:0.1").tolist()
    )
    ref = time.perf_counter() - start
    print("\n2. Official THUMOS'14 protocol on TURN + S-CNN (real file), in-process (seconds)")
    print_table(
        ["case", "predictions", "tIoUs", "ours s", "reference s", "speed-up", "ours pred/s"],
        [
            [
                "TURN + S-CNN",
                len(turn),
                7,
                ours,
                ref,
                f"{ref / ours:.0f}x",
                f"{len(turn) / ours:.3g}",
            ]
        ],
    )

    cli_rows = []
    goals = {90_000: 0.6, 1_000_000: 5.0}
    for name, gt_path, path, n, tiou in files:
        argv = [str(gt_path), str(path), "--tiou", tiou]
        stdlib = time_cli(argv, block_orjson=True, repeat=args.repeat)
        row = [
            f"{name} {n // 1000}k",
            n,
            f"{path.stat().st_size / 1e6:.1f}",
            stdlib,
            f"{n / stdlib:.3g}",
        ]
        row.append(time_cli(argv, block_orjson=False, repeat=args.repeat) if has_orjson else "n/a")
        row.append(f"< {goals[n]} s" if n in goals else "")
        cli_rows.append(row)
    print(
        f"\n3. Whole `wtal-eval` process: start-up, imports, JSON parsing, evaluation, printing (best of {args.repeat})"
    )
    print_table(
        ["case", "predictions", "JSON MB", "stdlib json s", "pred/s", "with orjson s", "goal"],
        cli_rows,
    )


if __name__ == "__main__":
    main()
