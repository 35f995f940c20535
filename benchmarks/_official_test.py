"""Official-style UM test as a whole process (not part of the package), for bench_evaluate.py.

The structure of the authors' ``test()``, written by us: one video at a time, ``np.load`` of
each stream, the official test sampling, a batch-1 ``conv1d`` forward from the checkpoint's
weights, per-class / per-threshold proposal loops with numpy NMS (``_official_style.py``),
``json.dump`` of the results, then the results file read back and scored at tIoU 0.1:0.7
by a plain-loop ActivityNet evaluator (``tests/reference``; the official pandas evaluator is
slower still, so this baseline flatters the official code). It does not import wtal_blocks.

    python benchmarks/_official_test.py DATA_ROOT CHECKPOINT OUTPUT.json TIMINGS.json [--streams rgb flow]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from _official_style import postprocess_video

from tests.reference.detection_reference import detection_map

NUM_SEGMENTS = 750
TIOUS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
CLASSES = (
    "BaseballPitch BasketballDunk Billiards CleanAndJerk CliffDiving CricketBowling CricketShot "
    "Diving FrisbeeCatch GolfSwing HammerThrow HighJump JavelinThrow LongJump PoleVault Shotput "
    "SoccerPenalty TennisSwing ThrowDiscus VolleyballSpiking"
).split()


class Stages:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.started_at = time.time()
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._t
        self._t = now


def sampling(length: int) -> np.ndarray:
    if length <= NUM_SEGMENTS:
        return np.arange(length)
    return np.floor(np.arange(NUM_SEGMENTS) * length / NUM_SEGMENTS).astype(np.int64)


@torch.no_grad()
def forward(w: dict[str, torch.Tensor], x: torch.Tensor) -> dict[str, np.ndarray]:
    """The official eval forward of one video (full sorts for the top-k)."""
    t = x.shape[1]
    h = torch.relu(
        torch.nn.functional.conv1d(
            x.transpose(1, 2), w["cas_module.conv.0.weight"], w["cas_module.conv.0.bias"], padding=1
        )
    )
    feats = h.transpose(1, 2)[0]
    cas = torch.nn.functional.conv1d(h, w["cas_module.classifier.0.weight"]).transpose(1, 2)[0]
    mags = feats.norm(dim=1)
    action_k, background_k = max(1, t // 9), max(1, t // 4)
    act = mags.sort(descending=True).indices[:action_k]
    bkg = (mags.max() - mags).sort(descending=True).indices[:background_k]
    scores = cas.sort(dim=0, descending=True).values[:action_k].mean(0).softmax(0)
    return {
        "cas": cas.softmax(1).numpy(),
        "mag": mags.numpy(),
        "act": act.numpy(),
        "bkg": bkg.numpy(),
        "vs": scores.numpy(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_root")
    parser.add_argument("checkpoint")
    parser.add_argument("output")
    parser.add_argument("timings")
    parser.add_argument("--streams", nargs="+", default=["rgb"])
    args = parser.parse_args()
    clock = Stages()
    root = Path(args.data_root)
    weights = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    gt = json.loads((root / "gt.json").read_text())["database"]
    names = (root / "split_test.txt").read_text().split()
    clock.lap("load")
    results: dict[str, list[dict[str, object]]] = {}
    for name in names:
        parts = [np.load(root / "features" / "test" / s / f"{name}.npy") for s in args.streams]
        feats = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        x = torch.from_numpy(feats[sampling(feats.shape[0])])[None]
        clock.lap("read")
        o = forward(weights, x)
        clock.lap("forward")
        dets = postprocess_video(o["cas"], o["mag"], o["act"], o["bkg"], o["vs"], feats.shape[0])
        results[name] = [
            {"label": CLASSES[int(d[0])], "score": float(d[1]), "segment": [d[2], d[3]]}
            for d in dets
        ]
        clock.lap("post")
    with open(args.output, "w") as f:
        json.dump({"version": "VERSION 1.3", "results": results, "external_data": {}}, f)
    clock.lap("write")
    loaded = json.loads(Path(args.output).read_text())["results"]
    gts = [
        (v, a["label"], float(a["segment"][0]), float(a["segment"][1]))
        for v, e in gt.items()
        if v in loaded
        for a in e["annotations"]
    ]
    preds = [
        (v, d["label"], d["segment"][0], d["segment"][1], d["score"])
        for v, ds in loaded.items()
        for d in ds
    ]
    _, m_ap = detection_map(gts, preds, TIOUS)
    clock.lap("evaluate")
    payload = {
        "seconds": clock.seconds,
        "counts": {"videos": len(names)},
        "average_mAP": sum(m_ap) / len(m_ap),
        "started_at": clock.started_at,
        "finished_at": time.time(),
    }
    Path(args.timings).write_text(json.dumps(payload))


if __name__ == "__main__":
    main()
