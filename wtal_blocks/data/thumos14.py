"""THUMOS'14 I3D features in the official UM layout.

Layout (``DIR``)::

    gt.json                          ActivityNet-style annotations ("database", "subset")
    split_train.txt, split_test.txt  one video name per line
    features/{train,test}/{rgb,flow}/VIDEO.npy   (L, 1024) float32 I3D features

``modal="all"`` concatenates RGB and flow along channels (F = 2048); ``"rgb"``/``"flow"``
use one stream (F = 1024). Training samples are drawn with the official "random perturb",
test samples with "uniform" sampling (:mod:`wtal_blocks.data.sampling`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from .base import (
    DataError,
    FileFeatureDataset,
    Sampling,
    labels_from_annotations,
    read_annotations,
)

__all__ = ["THUMOS14_CLASSES", "ThumosFeatures", "read_split"]

THUMOS14_CLASSES: tuple[str, ...] = (
    "BaseballPitch", "BasketballDunk", "Billiards", "CleanAndJerk", "CliffDiving",
    "CricketBowling", "CricketShot", "Diving", "FrisbeeCatch", "GolfSwing",
    "HammerThrow", "HighJump", "JavelinThrow", "LongJump", "PoleVault",
    "Shotput", "SoccerPenalty", "TennisSwing", "ThrowDiscus", "VolleyballSpiking",
)  # fmt: skip
"""The 20 THUMOS'14 detection classes in the official index order (alphabetical)."""

Modal = Literal["all", "rgb", "flow"]


def read_split(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: split file not found")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise DataError(f"{path}: split file lists no videos")
    return names


class ThumosFeatures(FileFeatureDataset):
    """THUMOS'14 features in the official layout (see the module docstring).

    Args:
        root: the data directory.
        split: ``"train"`` (the 200 validation videos) or ``"test"``.
        modal: ``"all"`` (RGB+flow), ``"rgb"`` or ``"flow"``.
        num_segments: ``T`` (750).
        sampling: ``"random"`` / ``"uniform"``; default random for train, uniform for test.
        seed: seed of the random sampling.
        class_names: class order (default :data:`THUMOS14_CLASSES`).
        frames_per_segment, fps: time scale of the features (16 frames at 25 fps).

    Every file is checked when the dataset is built (missing or corrupt ``.npy``, RGB/flow
    length mismatch, a video missing from ``gt.json``, a label outside the class list), and
    the error names the path. Features are memory-mapped and read on access.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: Literal["train", "test"] = "train",
        *,
        modal: Modal = "all",
        num_segments: int = 750,
        sampling: Sampling | None = None,
        seed: int = 0,
        class_names: tuple[str, ...] | list[str] = THUMOS14_CLASSES,
        frames_per_segment: int = 16,
        fps: float = 25.0,
    ) -> None:
        super().__init__(
            num_segments, sampling or ("random" if split == "train" else "uniform"), seed
        )
        if modal not in ("all", "rgb", "flow"):
            raise ValueError(f"modal must be 'all', 'rgb' or 'flow', got {modal!r}")
        self.root = Path(root)
        self.split = split
        self.modal: Modal = modal
        self.class_names = list(class_names)
        self.frames_per_segment = frames_per_segment
        self.fps = fps
        gt_path = self.root / "gt.json"
        self.annotations = read_annotations(gt_path)
        self.video_ids = read_split(self.root / f"split_{split}.txt")
        self.labels = labels_from_annotations(
            gt_path, self.video_ids, self.annotations["database"], self.class_names
        )
        streams = ("rgb", "flow") if modal == "all" else (modal,)
        self._paths = [
            [self.root / "features" / split / s / f"{vid}.npy" for s in streams]
            for vid in self.video_ids
        ]
        self.lengths = self._scan()
        self.durations = self.lengths * (frames_per_segment / fps)

    def __repr__(self) -> str:
        return (
            f"ThumosFeatures(root={str(self.root)!r}, split={self.split!r}, modal={self.modal!r}, "
            f"videos={len(self)}, num_segments={self.num_segments}, sampling={self.sampling!r})"
        )
