"""Converting a dataset between the UM/BaS-Net/CoLA layout and W-TALC's layout, both ways.

The two layouts hold the same I3D features, arranged differently (see
:mod:`wtal_blocks.data.thumos14` and :mod:`wtal_blocks.data.wtalc`). The conversion is
lossless for the features (the joint W-TALC array is the concatenation ``[rgb | flow]`` of the
two streams, split back exactly) and for the segments and their labels; it reports every
difference the formats force:

* **UM -> W-TALC.** The UM layout has no video-level labels, so ``labels_all.npy`` is derived
  from each video's segment labels (W-TALC's own file disagrees with them on 28 THUMOS'14
  videos); it has no ambiguous intervals, so ``Ambiguous_test.txt`` is written empty; durations
  come from the ground truth's ``duration`` when present, else from ``L * 16 / 25`` seconds.
  Training videos become the ``validation`` subset.
* **W-TALC -> UM.** The weak labels of ``labels_all.npy`` have no place in ``gt.json``: UM-style
  training derives labels from the segments, so the videos whose two label sets differ are
  listed; the ambiguous intervals are dropped (counted); the ``validation`` subset becomes the
  training split. Segment bounds are written as numbers (UM's own ``gt.json`` stores strings that
  parse to the same float64).

Outputs are written to a temporary folder next to the destination and renamed into place, so an
interrupted conversion leaves nothing half-written; the destination must not exist (or pass
``overwrite``) and must not be, or lie inside, the source.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..evaluation.errors import EvaluationInputError
from ..evaluation.wtalc_io import load_wtalc_annotations
from .base import DataError, load_npy, read_annotations
from .thumos14 import THUMOS14_CLASSES, read_split
from .wtalc import read_joint_features, wtalc_paths

__all__ = ["ConversionReport", "um_to_wtalc", "wtalc_to_um"]

_SECONDS_PER_SEGMENT = 16 / 25


@dataclass
class ConversionReport:
    """What a conversion wrote and what the target format could not hold.

    Attributes:
        direction: ``"um -> wtalc"`` or ``"wtalc -> um"``.
        videos: videos written (per split).
        instances: ground-truth instances written.
        notes: each loss or difference the formats force, one line each, with counts.
        label_differences: videos whose weak labels differ from their segment labels.
    """

    direction: str
    videos: dict[str, int] = field(default_factory=dict)
    instances: int = 0
    notes: list[str] = field(default_factory=list)
    label_differences: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        split = ", ".join(f"{n} {s}" for s, n in self.videos.items())
        lines = [f"{self.direction}: {split} videos, {self.instances} instances"]
        lines += [f"  - {note}" for note in self.notes]
        return "\n".join(lines)


def _check_destination(src: Path, dst: Path, overwrite: bool) -> None:
    src_r, dst_r = src.resolve(), dst.resolve()
    if dst_r == src_r or src_r in dst_r.parents:
        raise DataError(f"{dst}: the destination is the source or inside it; choose another folder")
    if dst_r in src_r.parents:
        raise DataError(f"{dst}: the destination contains the source; choose another folder")
    if dst.exists() and not overwrite:
        raise DataError(f"{dst}: already exists; pass --overwrite to replace it")
    if dst.exists() and not dst.is_dir():
        raise DataError(f"{dst}: is a file, not a folder")


def _write_atomically(dst: Path, overwrite: bool, write: Callable[[Path], None]) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent))
    try:
        write(tmp)
        if dst.exists() and overwrite:
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _object_array(rows: list[Any]) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = row
    return out


def _bytes_array(values: list[str]) -> np.ndarray:
    return np.asarray([v.encode("utf-8") for v in values], dtype=f"|S{max(1, *map(len, values))}")


def um_to_wtalc(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    dataset_name: str = "Thumos14reduced",
    feature_type: str = "I3D",
    overwrite: bool = False,
) -> ConversionReport:
    """Convert a UM/BaS-Net/CoLA-layout folder (``gt.json``, splits, ``features/``) to W-TALC's.

    Both streams (``rgb`` and ``flow``) must be present: W-TALC's features are joint.

    Returns:
        :class:`ConversionReport`.

    Raises:
        DataError: a missing or inconsistent input file, or a bad destination.
    """
    src, dst = Path(src), Path(dst)
    _check_destination(src, dst, overwrite)
    database = read_annotations(src / "gt.json")["database"]
    splits = {"validation": sorted(read_split(src / "split_train.txt")),
              "test": sorted(read_split(src / "split_test.txt"))}  # fmt: skip
    report = ConversionReport("um -> wtalc")
    names, subsets, segments, labels, labels_all, durations, features = [], [], [], [], [], [], []
    derived_durations = 0
    for subset, vids in splits.items():
        folder = "train" if subset == "validation" else "test"
        for vid in vids:
            entry = database.get(vid)
            if entry is None:
                raise DataError(
                    f"{src / 'gt.json'}: video {vid!r} is in the split but not annotated"
                )
            rgb = load_npy(src / "features" / folder / "rgb" / f"{vid}.npy", mmap=False)
            flow = load_npy(src / "features" / folder / "flow" / f"{vid}.npy", mmap=False)
            if rgb.shape[0] != flow.shape[0]:
                raise DataError(
                    f"video {vid}: rgb and flow have {rgb.shape[0]} and {flow.shape[0]} segments"
                )
            features.append(np.concatenate([rgb, flow], axis=1))
            anns = entry.get("annotations", [])
            segments.append([[float(a["segment"][0]), float(a["segment"][1])] for a in anns])
            labels.append([str(a["label"]) for a in anns])
            labels_all.append(sorted(set(labels[-1])))
            if "duration" in entry:
                durations.append(float(entry["duration"]))
            else:
                durations.append(rgb.shape[0] * _SECONDS_PER_SEGMENT)
                derived_durations += 1
            names.append(vid)
            subsets.append(subset)
        report.videos[subset] = len(vids)
    used = {lab for row in labels for lab in row}
    # the UM layout has no class list: its readers use the 20 THUMOS'14 classes
    classes = list(THUMOS14_CLASSES) if used <= set(THUMOS14_CLASSES) else sorted(used)
    if used - set(THUMOS14_CLASSES):
        report.notes.append(
            f"classlist.npy holds the {len(classes)} classes found in gt.json (not THUMOS'14's)"
        )
    report.instances = sum(len(r) for r in segments)
    report.notes.append(
        f"labels_all.npy derived from the segment labels of {len(names)} videos (the UM layout "
        "has no video-level labels)"
    )
    report.notes.append(
        "Ambiguous_test.txt written empty (the UM layout has no ambiguous intervals)"
    )
    if derived_durations:
        report.notes.append(
            f"{derived_durations} durations computed as L x 16 / 25 s (no 'duration' in gt.json)"
        )
    feature_file, annotation_dir = wtalc_paths(dst, dataset_name, feature_type)

    def write(tmp: Path) -> None:
        ann = tmp / annotation_dir.name
        ann.mkdir(parents=True)
        np.save(ann / "videoname.npy", _bytes_array(names))
        np.save(ann / "subset.npy", _bytes_array(subsets))
        np.save(ann / "classlist.npy", _bytes_array(classes))
        np.save(ann / "segments.npy", _object_array(segments), allow_pickle=True)
        np.save(ann / "labels.npy", _object_array(labels), allow_pickle=True)
        np.save(ann / "labels_all.npy", _object_array(labels_all), allow_pickle=True)
        np.save(ann / "duration.npy", np.asarray(durations, dtype=np.float64).reshape(-1, 1))
        (ann / "Ambiguous_test.txt").write_text("")
        np.save(tmp / feature_file.name, _object_array(features), allow_pickle=True)

    _write_atomically(dst, overwrite, write)
    return report


def wtalc_to_um(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    dataset_name: str = "Thumos14reduced",
    feature_type: str = "I3D",
    overwrite: bool = False,
) -> ConversionReport:
    """Convert a W-TALC-layout folder to the UM/BaS-Net/CoLA layout.

    The joint features are split in half along channels: the first half is written as
    ``rgb``, the second as ``flow``.

    Returns:
        :class:`ConversionReport`.

    Raises:
        DataError: a missing or malformed input file, or a bad destination.
    """
    src, dst = Path(src), Path(dst)
    _check_destination(src, dst, overwrite)
    feature_file, annotation_dir = wtalc_paths(src, dataset_name, feature_type)
    try:
        ann = load_wtalc_annotations(annotation_dir)
    except EvaluationInputError as exc:
        raise DataError(str(exc)) from None
    features = read_joint_features(feature_file, len(ann.video_names))
    if features[0].shape[1] % 2:
        raise DataError(
            f"{feature_file}: {features[0].shape[1]} channels cannot split into rgb and flow"
        )
    report = ConversionReport("wtalc -> um")
    folder_of = {"validation": "train", "test": "test"}
    database: dict[str, Any] = {}
    splits: dict[str, list[str]] = {"train": [], "test": []}
    for i, vid in enumerate(ann.video_names):
        folder = folder_of.get(ann.subsets[i])
        if folder is None:
            raise DataError(
                f"{annotation_dir / 'subset.npy'}: video {vid!r} has subset {ann.subsets[i]!r}"
            )
        splits[folder].append(vid)
        database[vid] = {"subset": folder, "duration": float(ann.durations[i]), "annotations": []}
    for (start, end), label, row in zip(
        ann.segments.tolist(), ann.labels.tolist(), ann.videos.tolist(), strict=True
    ):
        database[ann.video_names[row]]["annotations"].append(
            {"label": ann.class_names[label], "segment": [start, end]}
        )
    for i, vid in enumerate(ann.video_names):
        from_segments = {a["label"] for a in database[vid]["annotations"]}
        weak = set(ann.video_labels[i]) if ann.video_labels else from_segments
        if weak != from_segments:
            report.label_differences.append(vid)
    report.videos = {"train": len(splits["train"]), "test": len(splits["test"])}
    if tuple(ann.class_names) != THUMOS14_CLASSES:
        report.notes.append(
            "the class list differs from THUMOS'14's: pass class_names to ThumosFeatures "
            f"({len(ann.class_names)} classes, first {ann.class_names[:3]})"
        )
    report.instances = len(ann)
    if report.label_differences:
        report.notes.append(
            f"{len(report.label_differences)} videos have weak labels (labels_all.npy) that differ "
            "from their segment labels; gt.json keeps the segments, so UM-style training uses "
            f"their labels (e.g. {', '.join(report.label_differences[:3])})"
        )
    if ann.ambiguous_segments.shape[0]:
        report.notes.append(
            f"{ann.ambiguous_segments.shape[0]} ambiguous intervals dropped (gt.json has no place "
            "for them)"
        )
    empty = [v for v in ann.video_names if not database[v]["annotations"]]
    if empty:
        report.notes.append(f"{len(empty)} videos without any segment kept with empty annotations")
    half = features[0].shape[1] // 2

    def write(tmp: Path) -> None:
        for folder, vids in splits.items():
            for stream in ("rgb", "flow"):
                (tmp / "features" / folder / stream).mkdir(parents=True)
            (tmp / f"split_{folder}.txt").write_text("\n".join(vids) + "\n")
        for i, vid in enumerate(ann.video_names):
            folder = folder_of[ann.subsets[i]]
            np.save(tmp / "features" / folder / "rgb" / f"{vid}.npy", features[i][:, :half])
            np.save(tmp / "features" / folder / "flow" / f"{vid}.npy", features[i][:, half:])
        (tmp / "gt.json").write_text(json.dumps({"version": "wtal_blocks", "database": database}))

    _write_atomically(dst, overwrite, write)
    return report
