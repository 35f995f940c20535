"""End-to-end ``wtal-um evaluate`` vs an official-style pipeline, on 210 test videos.

Both read the same official-layout folder (features memory-mapped by ours, ``np.load`` per video
by the baseline), use the same checkpoint, write ActivityNet results and score them at tIoU
0.1:0.7:0.1. The baseline has the official test loop's structure, written by us: batch-1
``conv1d`` forward, per-class / per-threshold proposal loops with numpy NMS
(``_official_style.py``), and a plain-loop ActivityNet evaluator (``tests/reference``; the
official pandas evaluator is slower still). Detections of the two are compared both ways.

Two workloads:

* default: random features and a randomly initialised checkpoint (F = ``--feature-dim``,
  D = ``--embed-dim``) — a stress test: an untrained network's class activations are noise,
  with many more threshold crossings (runs) than a trained one's;
* ``--synthetic-demo CKPT``: the synthetic demo test set written in the official layout, and a
  trained checkpoint (e.g. ``runs/demo/model_final.pkl`` from ``wtal-um demo``) — realistic
  class activations.

    python benchmarks/bench_evaluate.py [--videos 210] [--feature-dim 1024] [--embed-dim 2048]
    wtal-um demo && python benchmarks/bench_evaluate.py --synthetic-demo runs/demo/model_final.pkl
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from _official_style import postprocess_video
from _timing import print_table

from tests.reference.detection_reference import detection_map
from wtal_blocks import THUMOS14_CLASSES, UncertaintyModelingNet
from wtal_blocks.data.sampling import uniform_sampling
from wtal_blocks.recipes import UMConfig, evaluate_checkpoint


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


class _BatchOneNet(torch.nn.Module):
    """The official eval forward (conv1d, full sorts) on one video, from our weights."""

    def __init__(self, net: UncertaintyModelingNet) -> None:
        super().__init__()
        self.conv = net.cas_module.conv[0]
        self.cls = net.cas_module.classifier[0]

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        t = x.shape[1]
        h = torch.relu(self.conv(x.transpose(1, 2)))
        feats = h.transpose(1, 2)[0]
        cas = self.cls(h).transpose(1, 2)[0]
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


def official_style(
    root: Path,
    ckpt: Path,
    out: Path,
    net: UncertaintyModelingNet,
    streams: tuple[str, ...],
    clock: dict[str, float],
) -> tuple[list[float], dict[str, list[list[float]]]]:
    model = _BatchOneNet(net).eval()
    gt = json.loads((root / "gt.json").read_text())["database"]
    names = (root / "split_test.txt").read_text().split()
    results: dict[str, list[list[float]]] = {}
    for name in names:
        t0 = time.perf_counter()
        parts = [np.load(root / "features" / "test" / s / f"{name}.npy") for s in streams]
        feats = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        idx = uniform_sampling(feats.shape[0], 750)
        o = model(torch.from_numpy(feats[idx])[None])
        t1 = time.perf_counter()
        results[name] = postprocess_video(
            o["cas"], o["mag"], o["act"], o["bkg"], o["vs"], feats.shape[0]
        )
        clock["load + forward"] = clock.get("load + forward", 0.0) + t1 - t0
        clock["proposals + NMS"] = clock.get("proposals + NMS", 0.0) + time.perf_counter() - t1
    t2 = time.perf_counter()
    payload = {
        "results": {
            v: [
                {
                    "label": THUMOS14_CLASSES[int(d[0])],
                    "score": float(d[1]),
                    "segment": [float(d[2]), float(d[3])],
                }
                for d in dets
            ]
            for v, dets in results.items()
        }
    }
    out.write_text(json.dumps(payload))
    loaded = json.loads(out.read_text())["results"]
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
    _, m_ap = detection_map(gts, preds, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    clock["write + evaluate"] = time.perf_counter() - t2
    return m_ap, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=210)
    parser.add_argument("--feature-dim", type=int, default=1024, help="F (modal rgb)")
    parser.add_argument("--embed-dim", type=int, default=2048, help="D (2048 official)")
    parser.add_argument(
        "--synthetic-demo", metavar="CKPT", default=None, help="trained demo checkpoint"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.synthetic_demo:
            from wtal_blocks import load_official_checkpoint
            from wtal_blocks.data import write_official_layout

            write_official_layout(root, preset="demo")
            ckpt = Path(args.synthetic_demo)
            net = load_official_checkpoint(ckpt)
            streams, modal = ("rgb", "flow"), "all"
            args.videos, args.feature_dim, args.embed_dim = 210, net.feature_dim, net.embed_dim
        else:
            make_dataset(root, args.videos, args.feature_dim)
            torch.manual_seed(0)
            net = UncertaintyModelingNet(args.feature_dim, 20, embed_dim=args.embed_dim)
            ckpt = root / "model.pkl"
            torch.save(net.state_dict(), ckpt)
            streams, modal = ("rgb",), "rgb"
        config = UMConfig(data_root=str(root), modal=modal, device="cpu")

        start = time.perf_counter()
        report = evaluate_checkpoint(config, ckpt, root / "ours.json", log=lambda _: None)
        t_ours = time.perf_counter() - start
        start = time.perf_counter()
        clock: dict[str, float] = {}
        base_map, base = official_style(root, ckpt, root / "base.json", net, streams, clock)
        t_base = time.perf_counter() - start

        ours = json.loads((root / "ours.json").read_text())["results"]
        matched = total_o = total_b = 0
        for vid, dets in ours.items():
            mine = [(d["label"], d["segment"][0], d["segment"][1], d["score"]) for d in dets]
            theirs = [(THUMOS14_CLASSES[int(d[0])], d[2], d[3], d[1]) for d in base[vid]]
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
        print(
            f"{args.videos} videos, F={args.feature_dim}, D={args.embed_dim}, torch threads {torch.get_num_threads()}"
        )
        print(
            f"detections: ours {total_o}, official-style {total_b}, matched both ways {matched} "
            f"({100 * matched / max(total_o, 1):.2f}% of ours, {100 * matched / max(total_b, 1):.2f}% of theirs)"
        )
        print(
            f"average mAP: ours {report.average_mAP:.6f}, official-style {sum(base_map) / 7:.6f} "
            f"(|diff| {abs(report.average_mAP - sum(base_map) / 7):.2e})"
        )
        print_table(
            ["pipeline", "seconds", "speed-up"],
            [["official-style", t_base, 1.0], ["wtal-um evaluate", t_ours, t_base / t_ours]],
        )
        print(
            "official-style breakdown: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in clock.items())
            + " (its evaluator is our plain-loop reference, far faster than the official pandas one)"
        )


if __name__ == "__main__":
    main()
