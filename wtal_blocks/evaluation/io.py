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
and the field. Parsing is built for speed: the JSON is decoded once (with the cyclic garbage
collector paused, which otherwise rescans the young dicts over and over), then each field is
pulled out with one list comprehension and converted by numpy in bulk; per-item checks only run
to locate an error once the bulk conversion has found one. JSON is decoded with the standard
library; ``orjson`` is used instead when it happens to be installed (it is not a dependency),
and any document it refuses is handed to the standard library, so results and error messages
are the same either way.
"""

from __future__ import annotations

import gc
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._files import check_json_depth, read_bytes, resolve_ground_truth
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
_NUMERIC = (int, float)


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _fast_loads() -> Any:
    """``orjson.loads`` when orjson is installed (optional, 3x faster), else None."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads


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
    check_json_depth(data, p)
    with _gc_paused():
        fast = _fast_loads()
        if fast is not None:
            try:
                return fast(data)
            except ValueError:  # orjson refused it: the stdlib parser decides and explains
                pass
        # stdlib json also accepts NaN/Infinity literals (reported later by field) and gives the
        # line and column of a syntax error
        try:
            return json.loads(data)
        except UnicodeDecodeError as exc:
            raise EvaluationInputError(
                f"malformed JSON: not UTF-8 text ({exc.reason} at byte {exc.start})", path=p
            ) from None
        except json.JSONDecodeError as exc:
            raise EvaluationInputError(
                f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path=p
            ) from None
        except RecursionError:
            raise EvaluationInputError(
                "malformed JSON: nested too deeply (an ActivityNet file is 4 levels deep)",
                path=p,
            ) from None
        except ValueError as exc:  # e.g. an integer beyond Python's digit limit
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid number"
            raise EvaluationInputError(f"malformed JSON: {reason}", path=p) from None


def _number(value: Any, path: Path, video: str, index: int | None, field: str) -> float:
    """One numeric value; strings that parse as numbers are accepted, bools are not."""
    if isinstance(value, bool) or value is None:
        raise EvaluationInputError(
            f"expected a number, got {json.dumps(value)}",
            path=path,
            video=video,
            index=index,
            field=field,
        )
    if isinstance(value, _NUMERIC):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            raise EvaluationInputError(
                f"expected a number, got {value!r}",
                path=path,
                video=video,
                index=index,
                field=field,
            ) from None
    else:
        raise EvaluationInputError(
            f"expected a number, got {type(value).__name__} {json.dumps(value)}",
            path=path,
            video=video,
            index=index,
            field=field,
        )
    if not math.isfinite(out):
        raise EvaluationInputError(
            f"value {value!r} is not finite (NaN or inf)",
            path=path,
            video=video,
            index=index,
            field=field,
        )
    return out


def _segment(value: Any, path: Path, video: str, index: int) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise EvaluationInputError(
            f"expected [start, end], got {json.dumps(value)}",
            path=path,
            video=video,
            index=index,
            field="segment",
        )
    start = _number(value[0], path, video, index, "segment")
    end = _number(value[1], path, video, index, "segment")
    if end < start:
        raise EvaluationInputError(
            f"segment [{start}, {end}] ends before it starts (end < start)",
            path=path,
            video=video,
            index=index,
            field="segment",
        )
    return start, end


def _item(value: Any, path: Path, video: str, index: int, *, scored: bool) -> None:
    """Check one annotation/prediction dict thoroughly (used to locate an error)."""
    if not isinstance(value, dict):
        raise EvaluationInputError(
            f"expected an object, got {json.dumps(value)[:80]}", path=path, video=video, index=index
        )
    keys = ("label", "segment", "score") if scored else ("label", "segment")
    for key in keys:
        if key not in value:
            raise EvaluationInputError("missing", path=path, video=video, index=index, field=key)
    if not isinstance(value["label"], str):
        raise EvaluationInputError(
            f"expected a class name (string), got {json.dumps(value['label'])}",
            path=path,
            video=video,
            index=index,
            field="label",
        )
    _segment(value["segment"], path, video, index)
    if scored:
        _number(value["score"], path, video, index, "score")


def _locate(
    per_video: Sequence[tuple[str, Any]], path: Path, *, scored: bool, container: str
) -> EvaluationInputError:
    """Find and describe the first bad item (slow path, only after a bulk check failed)."""
    for video, items in per_video:
        if not isinstance(items, list):
            return EvaluationInputError(
                f"expected a list of {container}, got {type(items).__name__}",
                path=path,
                video=video,
            )
        for i, item in enumerate(items):
            try:
                _item(item, path, video, i, scored=scored)
            except EvaluationInputError as exc:
                return exc
    return EvaluationInputError(f"invalid {container}", path=path)


def _bulk_segments(segments: list[Any]) -> NDArray[np.float64] | None:
    """``(N, 2)`` float64 from a list of ``[start, end]``; None if anything is off."""
    if not segments:
        return np.zeros((0, 2), dtype=np.float64)
    try:
        if set(map(len, segments)) != {2}:
            return None
        flat = list(chain.from_iterable(segments))
    except TypeError:  # a segment that is not a list
        return None
    if not set(map(type, flat)) <= {float, int, str}:  # bool and None would convert silently
        return None
    try:
        arr = np.fromiter(flat, dtype=np.float64, count=len(flat)).reshape(-1, 2)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(arr).all() or (arr[:, 1] < arr[:, 0]).any():
        return None
    return arr


def _bulk_scores(scores: list[Any]) -> NDArray[np.float64] | None:
    kinds = set(map(type, scores))
    if not kinds <= {float, int, str}:
        return None
    try:
        arr = np.array(scores, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 1 or not np.isfinite(arr).all():
        return None
    return arr


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
        EvaluationInputError: unreadable or malformed file, missing ``database``, a bad
            annotation (named by video, index and field), or a subset with no videos.
    """
    p, builtin_subset = resolve_ground_truth(path)
    if subset == "auto" and builtin_subset is not None:
        subset = builtin_subset
    doc = read_json(p, "ground-truth")
    if not isinstance(doc, dict) or "database" not in doc:
        raise EvaluationInputError(
            'missing "database": not an ActivityNet ground-truth file', path=p
        )
    database = doc["database"]
    if not isinstance(database, dict):
        raise EvaluationInputError(
            f'"database" must be an object, got {type(database).__name__}', path=p
        )
    sizes: dict[str, int] = {}
    annotated: dict[str, int] = {}
    for video, entry in database.items():
        if not isinstance(entry, dict):
            raise EvaluationInputError(
                f"expected an object, got {type(entry).__name__}", path=p, video=video
            )
        name = str(entry.get("subset", ""))
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
        video: _number(entry["duration"], p, video, None, "duration")
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
        raise _locate(per_video, p, scored=False, container="annotations") from None
    seg_arr = _bulk_segments(segs)
    if seg_arr is None or (labels and set(map(type, labels)) != {str}):
        raise _locate(per_video, p, scored=False, container="annotations")
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

    An empty ``results`` object, or an empty (whitespace-only) file, is valid: no predictions,
    so every AP is 0.

    Raises:
        EvaluationInputError: unreadable or malformed file, missing ``results``, or a bad
            prediction (non-numeric or non-finite score or segment, ``end < start``, a label
            that is not a string, a missing field), named by video, index and field.
    """
    p = Path(path)
    # The collector stays off until the decoded document is freed: every collection would
    # otherwise traverse the ~3 container objects per prediction that json creates.
    with _gc_paused():
        doc = read_json(p, "results", empty={"results": {}})
        if not isinstance(doc, dict) or "results" not in doc:
            raise EvaluationInputError('missing "results": not an ActivityNet results file', path=p)
        results = doc["results"]
        if not isinstance(results, dict):
            raise EvaluationInputError(
                f'"results" must be an object, got {type(results).__name__}', path=p
            )
        out = _results_arrays(results, p)
        del doc, results
    return out


def _results_arrays(results: dict[str, Any], p: Path) -> Predictions:
    video_ids = tuple(results)
    lists = list(results.values())
    if not all(type(x) is list for x in lists):
        raise _locate(list(results.items()), p, scored=True, container="predictions")
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    try:
        labels = [d["label"] for lst in lists for d in lst]
        scores = [d["score"] for lst in lists for d in lst]
        segs = [d["segment"] for lst in lists for d in lst]
    except (KeyError, TypeError):
        raise _locate(list(results.items()), p, scored=True, container="predictions") from None
    seg_arr = _bulk_segments(segs)
    score_arr = _bulk_scores(scores)
    if seg_arr is None or score_arr is None or (labels and set(map(type, labels)) != {str}):
        raise _locate(list(results.items()), p, scored=True, container="predictions")
    names, codes = _vocabulary(labels)
    return Predictions(
        video_ids=video_ids,
        label_names=names,
        segments=seg_arr,
        scores=score_arr,
        labels=codes,
        videos=np.repeat(np.arange(len(video_ids), dtype=np.int64), counts),
    )


def _vocabulary(values: list[str]) -> tuple[tuple[str, ...], NDArray[np.int64]]:
    """Distinct values in first-seen order, and the index of each value (C-speed passes)."""
    names = tuple(dict.fromkeys(values))
    index = {name: i for i, name in enumerate(names)}
    return names, np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))


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
