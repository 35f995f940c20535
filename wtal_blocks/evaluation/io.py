"""Thin readers and writers of the evaluation file formats (stdlib ``json`` and numpy only).

* ActivityNet JSON ground truth: ``{"database": {video: {"subset": str, "duration": float?,
  "annotations": [{"label": str, "segment": [start, end]}]}}}``. Segment values may be numbers
  or strings that parse as numbers (THUMOS'14 ``gt.json`` stores strings).
* ActivityNet JSON results: ``{"results": {video: [{"label": str, "score": float,
  "segment": [start, end]}]}}``.
* Official THUMOS'14 text files: ``detclasslist.txt`` (``ucf101_id name``), per-class
  annotations ``CLASS_<subset>.txt`` and ``Ambiguous_<subset>.txt`` (``video start end``), and
  detection results (``video start end ucf101_class_id score``).

Every problem raises :class:`EvaluationInputError` naming the file, the video, the item index
and the field. Results are read by :mod:`.results_io` (streaming, three formats); this module
reads the ground truth (a small file, decoded whole with the cyclic garbage collector paused)
and writes both. JSON is decoded with the standard library, or ``orjson`` when it is installed
(an optional extra); any document orjson refuses is handed to the standard library, so results
and error messages are the same either way. A video key repeated in ``database`` is refused
(JSON parsers would silently keep only the last entry).
"""

from __future__ import annotations

import gc
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from . import _jsonfields
from ._files import read_bytes, resolve_ground_truth
from ._jsonfields import line_col
from ._jsonscan import scan
from .annotations import GroundTruth, Predictions
from .errors import EvaluationInputError

__all__ = [
    "choose_subset",
    "load_activitynet_ground_truth",
    "load_activitynet_results",
    "read_json",
    "write_activitynet_ground_truth",
    "write_activitynet_results",
]

PathLike = str | os.PathLike[str]


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_json(path: PathLike, what: str, *, empty: Any = None) -> Any:
    """Decode a JSON file (``.gz`` too); ``empty`` (if not None) stands for a blank file.

    Raises:
        EvaluationInputError: unreadable, not UTF-8, malformed, nested too deeply, or holding
            a number too long to convert; the message names the file.
    """
    p = Path(path)
    data = read_bytes(p, what)
    if empty is not None and not data.strip():
        return empty
    scan(data, p, member=None)  # nesting deeper than the limit is refused before parsing
    with _gc_paused():
        return _jsonfields.decode(data, p)


def choose_subset(subset_sizes: Mapping[str, int], annotated: Mapping[str, int]) -> str:
    """The subset evaluated when none is named.

    The only subset of the file; otherwise ``test`` if it has annotations (THUMOS'14
    ``gt.json``), otherwise ``validation`` if it has annotations (ActivityNet).
    """
    if len(subset_sizes) == 1:
        return next(iter(subset_sizes))
    for name in ("test", "validation"):
        if annotated.get(name, 0) > 0:
            return name
    listing = ", ".join(f"{s} ({n} videos)" for s, n in sorted(subset_sizes.items()))
    raise EvaluationInputError(f"cannot choose a subset: name one of {listing}", field="subset")


def _database(path: PathLike) -> tuple[Path, str | None, dict[str, Any]]:
    """The ``database`` object of a ground-truth file; a repeated video key is refused."""
    p, builtin_subset = resolve_ground_truth(path)
    data = read_bytes(p, "ground-truth")
    outline = scan(data, p, member="database")
    if not outline.top_is_object or "database" not in outline.members:
        raise EvaluationInputError(
            'missing "database": not an ActivityNet ground-truth file', path=p
        )
    with _gc_paused():
        doc = _jsonfields.decode(data, p)
    database = doc["database"]
    if not isinstance(database, dict):
        raise EvaluationInputError(
            f'"database" must be an object, got {type(database).__name__}', path=p
        )
    if len(database) != outline.entry_key.shape[0] or "database" in outline.repeated:
        seen: set[str] = set()
        for a, b in outline.entry_key.tolist():
            name = json.loads(data[a:b])
            if name in seen:
                line, col = line_col(data, a)
                raise EvaluationInputError(
                    f'appears twice in "database" (again at line {line} column {col}): JSON '
                    "readers keep only the last entry; write each video once",
                    path=p,
                    video=name,
                )
            seen.add(name)
        raise EvaluationInputError('"database" appears twice in the file', path=p)
    return p, builtin_subset, database


def load_activitynet_ground_truth(path: PathLike, subset: str | None = "auto") -> GroundTruth:
    """Read ActivityNet JSON ground truth.

    Args:
        path: the JSON file (``{"database": {...}}``, ``.gz`` too), or a built-in name:
            ``"thumos14"`` (the THUMOS'14 ``gt.json`` of the official UM code; 210 test videos)
            or ``"anet12"`` (ActivityNet v1.2 validation).
        subset: the ``subset`` value to keep; ``"auto"`` chooses with :func:`choose_subset`;
            ``None`` keeps every video.

    Returns:
        :class:`GroundTruth` with classes in sorted name order (classes that have at least one
        instance in the subset).

    Raises:
        EvaluationInputError: unreadable or malformed file, missing ``database``, a video key
            that occurs twice, a ``subset`` that is not a string, a bad annotation (named by
            video, index and field), or a subset with no videos.
    """
    if subset is not None and not isinstance(subset, str):
        raise TypeError(f"subset must be a string, 'auto' or None, got {type(subset).__name__}")
    p, builtin_subset, database = _database(path)
    if subset == "auto" and builtin_subset is not None:
        subset = builtin_subset
    sizes: dict[str, int] = {}
    annotated: dict[str, int] = {}
    for video, entry in database.items():
        if not isinstance(entry, dict):
            raise EvaluationInputError(
                f"expected an object, got {type(entry).__name__}", path=p, video=video
            )
        name = entry.get("subset", "")
        if not isinstance(name, str):
            raise EvaluationInputError(
                f"expected a subset name (string), got {json.dumps(name)[:80]}",
                path=p,
                video=video,
                field="subset",
            )
        sizes[name] = sizes.get(name, 0) + 1
        anns = entry.get("annotations", [])
        annotated[name] = annotated.get(name, 0) + (len(anns) if isinstance(anns, list) else 0)
    if subset == "auto":
        try:
            subset = choose_subset(sizes, annotated)
        except EvaluationInputError as exc:
            raise EvaluationInputError(exc.reason, path=p, field="subset") from None
    if subset is not None and subset not in sizes:
        listing = ", ".join(f"{s!r} ({n} videos)" for s, n in sorted(sizes.items())) or "none"
        raise EvaluationInputError(
            f"subset {subset!r} has no videos; subsets present: {listing}", path=p, field="subset"
        )

    chosen = [
        (video, entry)
        for video, entry in database.items()
        if subset is None or entry.get("subset", "") == subset
    ]
    video_ids = [video for video, _ in chosen]
    durations = {
        video: _jsonfields.number(entry["duration"], p, video, None, "duration")
        for video, entry in chosen
        if "duration" in entry
    }
    per_video = [(video, entry.get("annotations", [])) for video, entry in chosen]
    anns = [a for _, lst in per_video if isinstance(lst, list) for a in lst]
    try:
        if not all(isinstance(lst, list) for _, lst in per_video):
            raise TypeError
        labels = [a["label"] for a in anns]
        segs = [a["segment"] for a in anns]
    except (KeyError, TypeError):
        raise _jsonfields.locate(per_video, p, scored=False, container="annotations") from None
    seg_arr = _jsonfields.bulk_segments(segs)
    if seg_arr is None or (labels and set(map(type, labels)) != {str}):
        raise _jsonfields.locate(per_video, p, scored=False, container="annotations")
    counts = np.fromiter((len(lst) for _, lst in per_video), dtype=np.int64, count=len(per_video))
    class_names = tuple(sorted(set(labels)))
    index = {c: i for i, c in enumerate(class_names)}
    return GroundTruth(
        video_ids=tuple(video_ids),
        class_names=class_names,
        segments=seg_arr,
        labels=np.fromiter(map(index.__getitem__, labels), dtype=np.int64, count=len(labels)),
        videos=np.repeat(np.arange(len(video_ids), dtype=np.int64), counts),
        subset=subset,
        durations=durations,
    )


def load_activitynet_results(path: PathLike) -> Predictions:
    """Read ActivityNet JSON results (``{"results": {video: [{label, score, segment}]}}``).

    Read in pieces (see :mod:`.results_io`): memory follows the arrays, not the decoded
    document. An empty ``results`` object, or an empty (whitespace-only) file, is valid: no
    predictions, so every AP is 0.

    Raises:
        EvaluationInputError: unreadable or malformed file, missing ``results``, a video key
            that occurs twice, or a bad prediction (non-numeric or non-finite score or
            segment, ``end < start``, a label that is not a string, a missing field), named by
            video, index and field.
    """
    from .results_io import load_predictions

    with _gc_paused():
        return load_predictions(path, format="activitynet")


def _write_json_atomic(path: PathLike, payload: Any) -> None:
    """Write JSON via a temporary file in the same folder and ``os.replace`` (atomic).

    Readers see the old file or the new one, never half of it. The new file gets the mode of
    the file it replaces, else the usual ``0o666 & ~umask`` (``mkstemp`` alone would leave 0o600).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_activitynet_results(
    path: PathLike, predictions: Predictions, *, version: str = ""
) -> None:
    """Write :class:`Predictions` as ActivityNet JSON results, atomically.

    Every video of ``predictions.video_ids`` gets an entry (possibly an empty list).
    """
    out: dict[str, list[dict[str, Any]]] = {v: [] for v in predictions.video_ids}
    segs = predictions.segments.tolist()
    scores = predictions.scores.tolist()
    labels = predictions.labels.tolist()
    vids = predictions.videos.tolist()
    names = predictions.label_names
    for seg, score, lab, vid in zip(segs, scores, labels, vids, strict=True):
        out[predictions.video_ids[vid]].append(
            {"label": names[lab], "score": score, "segment": seg}
        )
    _write_json_atomic(path, {"version": version, "results": out, "external_data": {}})


def write_activitynet_ground_truth(
    path: PathLike, ground_truth: GroundTruth, *, version: str = ""
) -> None:
    """Write :class:`GroundTruth` as ActivityNet JSON (``{"database": ...}``), atomically."""
    subset = ground_truth.subset if ground_truth.subset is not None else "test"
    database: dict[str, dict[str, Any]] = {}
    for v in ground_truth.video_ids:
        entry: dict[str, Any] = {"subset": subset, "annotations": []}
        if v in ground_truth.durations:
            entry["duration"] = ground_truth.durations[v]
        database[v] = entry
    for seg, lab, vid in zip(
        ground_truth.segments.tolist(),
        ground_truth.labels.tolist(),
        ground_truth.videos.tolist(),
        strict=True,
    ):
        database[ground_truth.video_ids[vid]]["annotations"].append(
            {"label": ground_truth.class_names[lab], "segment": seg}
        )
    _write_json_atomic(path, {"version": version, "database": database})
