"""ActivityNet 1.2 / 1.3 features with ActivityNet JSON annotations.

Annotation file: the standard ActivityNet JSON::

    {"database": {VIDEO: {"subset": "training" | "validation" | "testing",
                          "duration": seconds,
                          "annotations": [{"label": NAME, "segment": [start, end]}, ...]}}}

Feature layout (``feature_dir``), one of:

* ``feature_dir/VIDEO.npy`` — ``(L, F)`` float features, streams already concatenated
  (e.g. ``F = 2048`` for I3D RGB+flow); use ``modal="all"``;
* ``feature_dir/rgb/VIDEO.npy`` and ``feature_dir/flow/VIDEO.npy`` — ``(L, 1024)`` each;
  ``modal`` selects ``"rgb"``, ``"flow"`` or ``"all"`` (concatenated).

A file named ``v_VIDEO.npy`` (the YouTube-id convention) is found too. ``L`` may vary per
video; ``T = 50`` segments are sampled (paper). Segment times come from each video's
``duration`` (``L`` segments span the whole video), so any feature rate works.

:meth:`ActivityNetFeatures.from_root` reads the recipe layout ``DIR/gt.json`` +
``DIR/features/...``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .base import (
    DataError,
    FileFeatureDataset,
    Sampling,
    labels_from_annotations,
    read_annotations,
)

__all__ = ["ActivityNetFeatures"]

Modal = Literal["all", "rgb", "flow"]


class ActivityNetFeatures(FileFeatureDataset):
    """ActivityNet 1.2/1.3 features (see the module docstring for the layout).

    Args:
        annotation_file: ActivityNet JSON with ``database``.
        feature_dir: the feature folder.
        subset: ``"training"`` or ``"validation"`` (the evaluated subset in the paper).
        modal: ``"all"``, ``"rgb"`` or ``"flow"``.
        num_segments: ``T`` (50).
        sampling: default random for training, uniform otherwise.
        seed: seed of the random sampling.
        class_names: class order; default: sorted labels of the whole annotation file (so the
            training and validation datasets agree).
        skip_missing: drop videos without a feature file (ActivityNet features are commonly
            incomplete) instead of raising; ``missing`` lists them.
        video_ids: restrict to these videos (in this order).
    """

    time_from_duration = True

    def __init__(
        self,
        annotation_file: str | os.PathLike[str],
        feature_dir: str | os.PathLike[str],
        subset: str = "training",
        *,
        modal: Modal = "all",
        num_segments: int = 50,
        sampling: Sampling | None = None,
        seed: int = 0,
        class_names: list[str] | tuple[str, ...] | None = None,
        skip_missing: bool = False,
        video_ids: list[str] | None = None,
    ) -> None:
        super().__init__(
            num_segments, sampling or ("random" if subset == "training" else "uniform"), seed
        )
        if modal not in ("all", "rgb", "flow"):
            raise ValueError(f"modal must be 'all', 'rgb' or 'flow', got {modal!r}")
        self.annotation_file = Path(annotation_file)
        self.feature_dir = Path(feature_dir)
        self.subset = subset
        self.modal: Modal = modal
        self.annotations: dict[str, Any] = read_annotations(self.annotation_file)
        database = self.annotations["database"]
        all_labels = sorted(
            {
                a["label"]
                for v in database.values()
                for a in v.get("annotations", [])
                if "label" in a
            }
        )
        self.class_names = list(class_names) if class_names is not None else all_labels
        if video_ids is None:
            video_ids = [vid for vid, v in database.items() if v.get("subset") == subset]
        if not video_ids:
            subsets = sorted({str(v.get("subset")) for v in database.values()})
            raise DataError(
                f"{self.annotation_file}: subset {subset!r} has no videos (subsets: {subsets})"
            )

        layout_split = (self.feature_dir / "rgb").is_dir() or (self.feature_dir / "flow").is_dir()
        if modal != "all" and not layout_split:
            raise DataError(f"{self.feature_dir}: modal={modal!r} needs rgb/ and flow/ sub-folders")
        streams = (("rgb", "flow") if modal == "all" else (modal,)) if layout_split else ("",)
        kept, paths, missing = [], [], []
        for vid in video_ids:
            found = [self._find(stream, vid) for stream in streams]
            if any(p is None for p in found):
                missing.append(vid)
                continue
            kept.append(vid)
            paths.append([p for p in found if p is not None])
        if missing and not skip_missing:
            stream = streams[0]
            example = (
                (self.feature_dir / stream / f"{missing[0]}.npy")
                if stream
                else self.feature_dir / f"{missing[0]}.npy"
            )
            raise DataError(
                f"{example}: feature file not found ({len(missing)} of {len(video_ids)} videos of subset "
                f"{subset!r} have no features; pass skip_missing=True to drop them)"
            )
        if not kept:
            raise DataError(f"{self.feature_dir}: no feature files for subset {subset!r}")
        self.missing = missing
        self.video_ids = kept
        self._paths = paths
        self.labels = labels_from_annotations(
            self.annotation_file, kept, database, self.class_names
        )
        self.lengths = self._scan()
        durations = []
        for vid in kept:
            d = database[vid].get("duration")
            try:
                durations.append(float(d))
            except (TypeError, ValueError):
                raise DataError(
                    f"{self.annotation_file}: video {vid!r} has no numeric 'duration' (got {d!r})"
                ) from None
        self.durations = np.asarray(durations, dtype=np.float64)

    def _find(self, stream: str, vid: str) -> Path | None:
        folder = self.feature_dir / stream if stream else self.feature_dir
        for name in (f"{vid}.npy", f"v_{vid}.npy"):
            if (folder / name).is_file():
                return folder / name
        return None

    @classmethod
    def from_root(
        cls,
        root: str | os.PathLike[str],
        subset: str,
        version: str = "anet12",
        **kwargs: Any,
    ) -> ActivityNetFeatures:
        """The recipe layout: ``root/gt.json`` and ``root/features/...`` (``version`` is informative)."""
        root = Path(root)
        return cls(root / "gt.json", root / "features", subset, **kwargs)

    def __repr__(self) -> str:
        return (
            f"ActivityNetFeatures({str(self.annotation_file)!r}, subset={self.subset!r}, videos={len(self)}, "
            f"classes={self.num_classes}, num_segments={self.num_segments}, missing={len(self.missing)})"
        )
