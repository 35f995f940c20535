"""What the synthetic data is made of, and what trained UM models do with each kind of segment.

Usage::

    python benchmarks/synthetic_diagnostics.py --preset demo [RUN_DIR ...]

Without run folders: per :class:`~wtal_blocks.data.synthetic.SegmentKind`, the share of test
segments and their mean raw feature norm. With run folders (``wtal-um train`` / ``ablation``
outputs holding ``config.json`` and ``model_final.pkl``): per kind, the mean embedded
magnitude (relative to the video's largest), the share of the action_k pseudo-action and background_k
pseudo-background selections, and the mean segment softmax of the video's class. This is how
``benchmarks/ablation_synthetic.md`` explains its ablation rows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from wtal_blocks.data.synthetic import SegmentKind, SyntheticWTAL
from wtal_blocks.models.um import load_official_checkpoint

KINDS = list(SegmentKind)


def _row(label: str, values: np.ndarray, fmt: str) -> str:
    return f"  {label:<22}" + "".join(f"{format(v, fmt):>9}" for v in values)


def data_summary(ds: SyntheticWTAL, videos: range) -> str:
    norms: list[list[np.ndarray]] = [[] for _ in KINDS]
    for i in videos:
        feats, kinds = ds.load_features(i), ds.segment_kinds(i)
        norm = np.linalg.norm(feats, axis=1)
        for k in KINDS:
            norms[k].append(norm[kinds == k])
    counts = np.asarray([sum(len(a) for a in n) for n in norms], dtype=np.float64)
    lines = [
        f"{ds!r}, {len(videos)} test videos",
        "  " + " " * 22 + "".join(f"{k.name.lower():>9}" for k in KINDS),
    ]
    lines.append(_row("share of segments (%)", 100 * counts / counts.sum(), ".1f"))
    lines.append(
        _row("raw feature norm", np.asarray([np.concatenate(n).mean() for n in norms]), ".2f")
    )
    return "\n".join(lines)


@torch.no_grad()
def model_summary(ds: SyntheticWTAL, run: Path, videos: range) -> str:
    config = json.loads((run / "config.json").read_text())
    model = load_official_checkpoint(
        run / "model_final.pkl",
        action_ratio=config["action_ratio"],
        background_ratio=config["background_ratio"],
    ).eval()
    mags: list[list[np.ndarray]] = [[] for _ in KINDS]
    probs: list[list[np.ndarray]] = [[] for _ in KINDS]
    act_sel, bkg_sel = np.zeros(len(KINDS)), np.zeros(len(KINDS))
    for i in videos:
        out = model(torch.from_numpy(np.array(ds.load_features(i)))[None])
        kinds = ds.segment_kinds(i)
        mag = out.magnitudes[0].numpy()
        prob = out.segment_probs[0].numpy()[:, ds.labels[i] > 0].max(axis=1)
        for k in KINDS:
            mags[k].append(mag[kinds == k] / mag.max())
            probs[k].append(prob[kinds == k])
        np.add.at(act_sel, kinds[out.pseudo.action_index[0].numpy()], 1)
        np.add.at(bkg_sel, kinds[out.pseudo.background_index[0].numpy()], 1)
    lines = [f"{run} (alpha {config['alpha']}, beta {config['beta']})"]
    lines.append(
        _row("magnitude / video max", np.asarray([np.concatenate(m).mean() for m in mags]), ".2f")
    )
    lines.append(_row("pseudo action (%)", 100 * act_sel / act_sel.sum(), ".1f"))
    lines.append(_row("pseudo background (%)", 100 * bkg_sel / bkg_sel.sum(), ".1f"))
    lines.append(
        _row("softmax of its class", np.asarray([np.concatenate(p).mean() for p in probs]), ".2f")
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "runs", nargs="*", type=Path, help="run folders (config.json + model_final.pkl)"
    )
    parser.add_argument("--preset", default="demo", choices=["demo", "thumos"])
    parser.add_argument("--videos", type=int, default=60, help="first N test videos")
    args = parser.parse_args()
    ds = SyntheticWTAL("test", preset=args.preset)
    videos = range(min(args.videos, len(ds)))
    print(data_summary(ds, videos))
    for run in args.runs:
        modal = json.loads((run / "config.json").read_text())["modal"]
        print(model_summary(SyntheticWTAL("test", preset=args.preset, modal=modal), run, videos))


if __name__ == "__main__":
    main()
