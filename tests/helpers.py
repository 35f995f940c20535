"""Builders of small on-disk datasets for tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from wtal_blocks.data import THUMOS14_CLASSES


def write_thumos_layout(
    root: Path,
    lengths: dict[str, int],
    *,
    feature_dim: int = 8,
    labels: dict[str, str] | None = None,
    instances: bool = False,
) -> Path:
    """Official THUMOS'14 layout with random features; video names start with their split.

    With ``instances=True`` every video gets a few annotated instances whose features carry a
    class-specific bump, so that training has something to learn.
    """
    root.mkdir(parents=True, exist_ok=True)
    db = {}
    for split in ("train", "test"):
        vids = [v for v in lengths if v.startswith(split)]
        (root / f"split_{split}.txt").write_text("\n".join(vids) + "\n")
        for stream in ("rgb", "flow"):
            (root / "features" / split / stream).mkdir(parents=True, exist_ok=True)
        for n, vid in enumerate(vids):
            rng = np.random.default_rng([n, len(vid), 0 if split == "train" else 1])
            length = lengths[vid]
            label = (labels or {}).get(vid, THUMOS14_CLASSES[n % 3])
            anns = [{"label": label, "segment": ["1.0", "2.5"]}]
            streams = {
                s: rng.random((length, feature_dim), dtype=np.float32) * 0.2
                for s in ("rgb", "flow")
            }
            if instances:
                anns = []
                c = THUMOS14_CLASSES.index(label)
                for s0 in range(2, length - 6, 12):
                    for s in streams.values():
                        s[s0 : s0 + 4, c % feature_dim] += 3.0
                    anns.append(
                        {"label": label, "segment": [f"{s0 * 0.64:.2f}", f"{(s0 + 4) * 0.64:.2f}"]}
                    )
            for stream, arr in streams.items():
                np.save(root / "features" / split / stream / f"{vid}.npy", arr)
            db[vid] = {"subset": split, "annotations": anns}
    (root / "gt.json").write_text(json.dumps({"database": db}))
    return root


def run_without_triton_interpreter(source: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -c source`` from the repository root in a fresh process without
    ``TRITON_INTERPRET`` (the interpreter replaces ``@triton.jit``, so ahead-of-time
    compilation needs a process where it was never enabled)."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # silences a deprecation warning
    return subprocess.run(
        [sys.executable, "-c", source],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
    )
