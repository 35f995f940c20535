"""Readers of the official THUMOS'14 text files (standard library and numpy only).

* ``detclasslist.txt``: ``ucf101_id name`` per line;
* per-class annotations ``CLASS_<subset>.txt`` and ``Ambiguous_<subset>.txt``:
  ``video start end`` per line, in seconds;
* detection results: ``video start end ucf101_class_id score`` per line (read by
  :mod:`.results_io`, vectorised).

Every problem raises :class:`EvaluationInputError` naming the file, the line and the field.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ._files import builtin_thumos14_files, decode_utf8, read_bytes
from .annotations import Predictions, Thumos14Annotations
from .errors import EvaluationInputError

__all__ = ["load_thumos14_annotations", "load_thumos14_class_list", "load_thumos14_results"]

PathLike = str | os.PathLike[str]


def _lines(data: bytes, path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank lines as ``(line number, fields)``; the bytes must be UTF-8."""
    text = decode_utf8(data, path)
    return [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _text_lines(path: Path, what: str) -> list[tuple[int, list[str]]]:
    return _lines(read_bytes(path, what.removesuffix(" file")), path)


class _Folder:
    """The files of an annotation folder: on disk, or the built-in THUMOS'14 test annotations."""

    def __init__(self, directory: PathLike) -> None:
        self.root = Path(directory)
        self.builtin: dict[str, bytes] | None = None
        if not self.root.exists() and str(directory) == "thumos14":
            self.builtin = builtin_thumos14_files()
        elif not self.root.is_dir():
            raise EvaluationInputError(
                "annotation folder not found (expected a folder with detclasslist.txt, or the "
                "built-in name 'thumos14')",
                path=self.root,
            )

    def exists(self, name: str) -> bool:
        if self.builtin is not None:
            return name in self.builtin
        return (self.root / name).exists()

    def lines(self, name: str, what: str) -> list[tuple[int, list[str]]]:
        path = self.root / name
        if self.builtin is None:
            return _text_lines(path, what)
        if name not in self.builtin:
            raise EvaluationInputError(f"{what} not found", path=path)
        return _lines(self.builtin[name], path)


def _text_number(text: str, path: Path, video: str, line: int, field: str) -> float:
    try:
        out = float(text)
    except ValueError:
        raise EvaluationInputError(
            f"line {line}: {text!r} is not a number", path=path, video=video, field=field
        ) from None
    if not math.isfinite(out):
        raise EvaluationInputError(
            f"line {line}: {text!r} is not finite", path=path, video=video, field=field
        )
    return out


def _strip_video(name: str) -> str:
    # the official kit accepts "video_test_0000004.mpeg" for "video_test_0000004"
    return name[:-5] if name.endswith(".mpeg") else name


def load_thumos14_class_list(path: PathLike) -> tuple[tuple[int, str], ...]:
    """``detclasslist.txt``: ``(ucf101_id, class_name)`` per line, in file order."""
    p = Path(path)
    return _class_list(_text_lines(p, "class list"), p)


def _class_list(lines: list[tuple[int, list[str]]], p: Path) -> tuple[tuple[int, str], ...]:
    out = []
    for n, parts in lines:
        if len(parts) != 2:
            raise EvaluationInputError(
                f"line {n}: expected 'ucf101_id name', got {' '.join(parts)!r}", path=p
            )
        try:
            out.append((int(parts[0]), parts[1]))
        except ValueError:
            raise EvaluationInputError(
                f"line {n}: class id {parts[0]!r} is not an integer", path=p
            ) from None
    if not out:
        raise EvaluationInputError("no class in the class list", path=p)
    return tuple(out)


def _read_segments_file(
    lines: list[tuple[int, list[str]]], path: Path
) -> tuple[list[str], list[tuple[float, float]]]:
    videos, segs = [], []
    for n, parts in lines:
        if len(parts) != 3:
            raise EvaluationInputError(
                f"line {n}: expected 'video start end', got {' '.join(parts)!r}", path=path
            )
        video = _strip_video(parts[0])
        start = _text_number(parts[1], path, video, n, "start")
        end = _text_number(parts[2], path, video, n, "end")
        if end < start:
            raise EvaluationInputError(
                f"line {n}: segment [{start}, {end}] ends before it starts (end < start)",
                path=path,
                video=video,
                field="segment",
            )
        videos.append(video)
        segs.append((start, end))
    return videos, segs


def load_thumos14_annotations(directory: PathLike, subset: str = "test") -> Thumos14Annotations:
    """Read the official THUMOS'14 annotation folder.

    Args:
        directory: folder with ``detclasslist.txt``, ``CLASS_<subset>.txt`` for every listed
            class and ``Ambiguous_<subset>.txt`` (when that file is absent, no segment is
            ambiguous); or the built-in name ``"thumos14"``: the official test annotations
            shipped with the package (212 videos, 3,358 instances, 20 classes).
        subset: ``"test"`` or ``"val"`` (the file-name suffix).
    """
    folder = _Folder(directory)
    root = folder.root
    classes = _class_list(folder.lines("detclasslist.txt", "class list"), root / "detclasslist.txt")
    video_index: dict[str, int] = {}
    segs: list[tuple[float, float]] = []
    labels: list[int] = []
    vids: list[int] = []
    for c, (_, name) in enumerate(classes):
        file = f"{name}_{subset}.txt"
        lines = folder.lines(file, f"annotation file of class {name!r}")
        videos, s = _read_segments_file(lines, root / file)
        if not s:
            raise EvaluationInputError(
                f"class {name!r} has no annotated instance", path=root / f"{name}_{subset}.txt"
            )
        segs += s
        labels += [c] * len(s)
        vids += [video_index.setdefault(v, len(video_index)) for v in videos]
    amb_file = f"Ambiguous_{subset}.txt"
    amb_videos: list[str] = []
    amb_segs: list[tuple[float, float]] = []
    if folder.exists(amb_file):
        amb_lines = folder.lines(amb_file, "ambiguous-segment file")
        amb_videos, amb_segs = _read_segments_file(amb_lines, root / amb_file)
    amb_vids = [video_index.setdefault(v, len(video_index)) for v in amb_videos]
    return Thumos14Annotations(
        class_names=tuple(n for _, n in classes),
        class_ids=tuple(i for i, _ in classes),
        video_ids=tuple(video_index),
        segments=np.array(segs, dtype=np.float64).reshape(-1, 2),
        labels=np.array(labels, dtype=np.int64),
        videos=np.array(vids, dtype=np.int64),
        ambiguous_segments=np.array(amb_segs, dtype=np.float64).reshape(-1, 2),
        ambiguous_videos=np.array(amb_vids, dtype=np.int64),
        subset=subset,
    )


def load_thumos14_results(path: PathLike) -> Predictions:
    """Read official THUMOS'14 detection results: ``video start end ucf101_class_id score``.

    ``label_names`` hold the class ids as text (``"7"``; ``"07"`` reads ``"7"``); ``.mpeg``
    suffixes of video names are dropped as the official kit does. An empty file gives zero
    predictions. Parsed without a Python step per line (see :mod:`.results_io`).

    Raises:
        EvaluationInputError: naming the file, the line, the video and the field.
    """
    from .results_io import load_predictions

    return load_predictions(path, format="text", class_ids=True, strip_suffix=".mpeg")
