"""W-TALC's "Thumos14reduced" layout: one joint feature file and the annotation ``.npy`` files.

The layout of W-TALC and of the methods built on it (CO2-Net, DELU, DDG-Net, RSKP, FAC-Net,
P-MIL ...)::

    DIR/Thumos14reduced-I3D-JOINTFeatures.npy    object array, one (L_i, 2048) float array
                                                 per video (RGB then flow), in videoname order
    DIR/Thumos14reduced-Annotations/
        videoname.npy subset.npy classlist.npy segments.npy labels.npy labels_all.npy
        duration.npy Ambiguous_test.txt

Training uses the ``validation`` videos and testing the ``test`` videos, as those methods do;
the weak (video-level) labels come from ``labels_all.npy``, not from the segment labels (they
disagree on 28 videos). The pickled files are read with a restricted unpickler (never
``np.load(allow_pickle=True)``). The joint file is one pickle, so it is read whole: about
``Σ L_i × 2048 × 4`` bytes (1.7 GB for THUMOS'14's I3D features).

:class:`WtalcFeatures` is a :class:`~wtal_blocks.data.base.FeatureDataset` like the others: the
recipe of every method (``wtal train --dataset wtalc``) trains and evaluates on it; detection
times follow the features (16 frames at 25 fps per segment), as for the official THUMOS'14
layout, and its ground truth is the test videos' segments (212 videos, 3,358 instances on
THUMOS'14).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..evaluation.errors import EvaluationInputError
from ..evaluation.wtalc_io import WtalcAnnotations, load_wtalc_annotations, read_object_array
from .base import DataError, FeatureDataset, Sampling

__all__ = ["WtalcFeatures", "read_joint_features", "wtalc_paths"]

Modal = Literal["all", "rgb", "flow"]
_SPLIT_SUBSET = {"train": "validation", "test": "test"}


def wtalc_paths(
    root: str | os.PathLike[str], dataset_name: str = "Thumos14reduced", feature_type: str = "I3D"
) -> tuple[Path, Path]:
    """``(joint feature file, annotation folder)`` of a W-TALC data directory."""
    base = Path(root)
    return (
        base / f"{dataset_name}-{feature_type}-JOINTFeatures.npy",
        base / f"{dataset_name}-Annotations",
    )


def read_joint_features(path: Path, num_videos: int | None = None) -> list[np.ndarray]:
    """The per-video ``(L_i, F)`` float arrays of a W-TALC joint feature file.

    Raises:
        DataError: a missing or malformed file, an element that is not a 2-D float array with
            at least one segment, feature sizes that differ, or not ``num_videos`` elements.
    """
    try:
        rows = read_object_array(path, "feature")
    except EvaluationInputError as exc:
        raise DataError(str(exc)) from None
    if num_videos is not None and rows.shape[0] != num_videos:
        raise DataError(
            f"{path}: {rows.shape[0]} feature arrays for {num_videos} videos of videoname.npy"
        )
    out: list[np.ndarray] = []
    width: int | None = None
    for i, arr in enumerate(rows.tolist()):
        if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.shape[0] < 1:
            shape = getattr(arr, "shape", type(arr).__name__)
            raise DataError(f"{path}: element {i} is not an (L, F) array (got {shape})")
        if not np.issubdtype(arr.dtype, np.floating):
            raise DataError(f"{path}: element {i} has dtype {arr.dtype}, expected floats")
        if width is None:
            width = arr.shape[1]
        elif arr.shape[1] != width:
            raise DataError(
                f"{path}: element {i} has {arr.shape[1]} features per segment, the first has {width}"
            )
        out.append(arr)
    return out


class WtalcFeatures(FeatureDataset):
    """A W-TALC-layout dataset (see the module docstring).

    Args:
        root: the data directory holding the joint feature file and the annotation folder.
        split: ``"train"`` (the ``validation`` videos) or ``"test"``.
        dataset_name: the file-name prefix (``"Thumos14reduced"``).
        feature_type: ``"I3D"`` (25 fps, 16 frames per segment) or ``"UNT"``.
        modal: ``"all"`` (the joint 2048-d features), ``"rgb"`` (the first half) or
            ``"flow"`` (the second half).
        num_segments: ``T`` (750).
        sampling: default random for train, uniform for test.
        seed: seed of the random sampling.
        annotations: already loaded annotations (skips reading the folder).
        features: already loaded per-video features, in ``videoname`` order (skips the file).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: Literal["train", "test"] = "train",
        *,
        dataset_name: str = "Thumos14reduced",
        feature_type: str = "I3D",
        modal: Modal = "all",
        num_segments: int = 750,
        sampling: Sampling | None = None,
        seed: int = 0,
        annotations: WtalcAnnotations | None = None,
        features: list[np.ndarray] | None = None,
    ) -> None:
        super().__init__(
            num_segments, sampling or ("random" if split == "train" else "uniform"), seed
        )
        if split not in _SPLIT_SUBSET:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if modal not in ("all", "rgb", "flow"):
            raise ValueError(f"modal must be 'all', 'rgb' or 'flow', got {modal!r}")
        if feature_type not in ("I3D", "UNT"):
            raise ValueError(f"feature_type must be 'I3D' or 'UNT', got {feature_type!r}")
        feature_file, annotation_dir = wtalc_paths(root, dataset_name, feature_type)
        self.root = Path(root)
        self.split = split
        self.modal: Modal = modal
        if annotations is None:
            try:
                annotations = load_wtalc_annotations(annotation_dir)
            except EvaluationInputError as exc:
                raise DataError(str(exc)) from None
        self.wtalc = annotations
        rows = [i for i, s in enumerate(annotations.subsets) if s == _SPLIT_SUBSET[split]]
        if not rows:
            raise DataError(f"{annotation_dir}: no video of subset {_SPLIT_SUBSET[split]!r}")
        self._rows = rows
        self.video_ids = [annotations.video_names[i] for i in rows]
        self.class_names = list(annotations.class_names)
        if features is None:
            features = read_joint_features(feature_file, len(annotations.video_names))
        elif len(features) != len(annotations.video_names):
            raise DataError(
                f"{len(features)} feature arrays for {len(annotations.video_names)} videos"
            )
        self._features = features
        self._width = features[rows[0]].shape[1]
        if modal != "all" and self._width % 2:
            raise DataError(
                f"{feature_file}: {self._width} features cannot split into RGB and flow"
            )
        self.lengths = np.asarray([features[i].shape[0] for i in rows], dtype=np.int64)
        rate = 25.0 / 16.0 if feature_type == "I3D" else 10.0 / 4.0
        self.durations = self.lengths / rate
        # I3D times follow the official 16-frames-at-25-fps rule; other rates use the duration
        self.time_from_duration = feature_type != "I3D"
        self.labels = self._weak_labels(annotations, rows)

    def _weak_labels(self, annotations: WtalcAnnotations, rows: list[int]) -> np.ndarray:
        """Multi-hot ``(V, C)`` video labels from ``labels_all.npy``."""
        if not annotations.video_labels:
            raise DataError(
                f"{annotations.path}: labels_all.npy (the video-level labels) is missing"
            )
        index = {c: k for k, c in enumerate(self.class_names)}
        labels = np.zeros((len(rows), len(self.class_names)), dtype=np.float32)
        for v, i in enumerate(rows):
            for name in annotations.video_labels[i]:
                labels[v, index[name]] = 1.0
        return labels

    def source(self, index: int) -> str:
        file, _ = wtalc_paths(self.root)
        return f"{file} (element {self._rows[index]})"

    def load_features(self, index: int) -> np.ndarray:
        feats = self._features[self._rows[index]]
        half = self._width // 2
        if self.modal == "rgb":
            return feats[:, :half]
        if self.modal == "flow":
            return feats[:, half:]
        return feats

    def ground_truth(self) -> dict[str, Any]:
        """The split's segments as ActivityNet JSON (``subset`` is ``train`` or ``test``)."""
        a = self.wtalc
        database: dict[str, Any] = {}
        for v, i in zip(self.video_ids, self._rows, strict=True):
            database[v] = {
                "subset": self.split,
                "duration": float(a.durations[i]),
                "annotations": [],
            }
        for (start, end), label, row in zip(
            a.segments.tolist(), a.labels.tolist(), a.videos.tolist(), strict=True
        ):
            vid = a.video_names[row]
            if vid in database:
                database[vid]["annotations"].append(
                    {"label": a.class_names[label], "segment": [start, end]}
                )
        return {"database": database}

    def __repr__(self) -> str:
        return (
            f"WtalcFeatures(root={str(self.root)!r}, split={self.split!r}, modal={self.modal!r}, "
            f"videos={len(self)}, num_segments={self.num_segments}, sampling={self.sampling!r})"
        )
