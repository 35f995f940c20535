"""Decoding JSON and converting its fields to arrays in bulk (shared by the JSON readers).

JSON is decoded by ``orjson`` when it is installed (an optional extra, about three times
faster) and by the standard library otherwise; a text that orjson refuses is handed to the
standard library, so results and messages are the same either way. Fields are pulled out of the
decoded objects with C-level iteration (``map`` and ``operator.itemgetter``) and converted by
numpy in bulk; the per-item checks run only to locate an error once a bulk check has failed.
"""

from __future__ import annotations

import gc
import json
import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .annotations import Predictions
from .errors import EvaluationInputError

__all__ = [
    "bulk_scores",
    "bulk_segments",
    "check_item",
    "decode",
    "fast_loads",
    "flat_arrays",
    "gc_paused",
    "line_col",
    "locate",
    "malformed",
    "number",
    "results_arrays",
    "vocabulary",
]

_NUMERIC = (int, float)
_SEGMENT, _SCORE, _LABEL = itemgetter("segment"), itemgetter("score"), itemgetter("label")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: decoding creates millions of young containers, and
    every collection would traverse them all again (no reference cycle is created)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def line_col(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of a byte offset."""
    line = data.count(b"\n", 0, offset) + 1
    col = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, col


def malformed(data: bytes, offset: int, reason: str, path: Path) -> EvaluationInputError:
    """``malformed JSON at line L column C: reason`` for a byte offset of ``data``."""
    line, col = line_col(data, max(0, min(offset, len(data))))
    return EvaluationInputError(f"malformed JSON at line {line} column {col}: {reason}", path=path)


def fast_loads() -> Callable[[bytes], Any] | None:
    """``orjson.loads`` when orjson is installed (optional, 3x faster), else None."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads


def decode(text: bytes, path: Path, *, offset: int = 0, source: bytes | None = None) -> Any:
    """Decode one JSON text; errors name the line and column in the file.

    Args:
        text: the JSON text (possibly a piece of ``source`` wrapped in brackets).
        offset: where ``text[1:]`` starts in ``source`` (``text[0]`` is an added bracket);
            without ``source``, positions are those of ``text``.
    """
    fast = fast_loads()
    if fast is not None:
        try:
            return fast(text)
        except ValueError:  # orjson refused it: the stdlib parser decides and explains
            pass
    try:
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise EvaluationInputError(
            f"malformed JSON: not UTF-8 text ({exc.reason} at byte {offset + exc.start})",
            path=path,
        ) from None
    except json.JSONDecodeError as exc:
        if source is None:
            raise EvaluationInputError(
                f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path=path
            ) from None
        raise malformed(source, offset + exc.pos - 1, exc.msg, path) from None
    except RecursionError:
        raise EvaluationInputError(
            "malformed JSON: nested too deeply (an ActivityNet file is 5 levels deep)", path=path
        ) from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise _number_error(text, exc, path, offset, source) from None


def _number_error(
    text: bytes, exc: ValueError, path: Path, offset: int, source: bytes | None
) -> EvaluationInputError:
    """A number the parser cannot convert (an integer longer than Python's digit limit)."""
    limit = 4300
    getter = getattr(sys, "get_int_max_str_digits", None)
    if getter is not None and getter() > 0:
        limit = getter()
    long = re.search(rb"\d{%d,}" % (limit + 1), text)
    if long is None:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid number"
        return EvaluationInputError(f"malformed JSON: {reason}", path=path)
    digits = len(long.group())
    reason = f"a number with {digits} digits (more than {limit}: not a score or a time)"
    if source is None:
        line = text.count(b"\n", 0, long.start()) + 1
        col = long.start() - (text.rfind(b"\n", 0, long.start()) + 1) + 1
        return EvaluationInputError(
            f"malformed JSON at line {line} column {col}: {reason}", path=path
        )
    return malformed(source, offset + long.start() - 1, reason, path)


def number(value: Any, path: Path, video: str, index: int | None, field: str) -> float:
    """One numeric value; strings that parse as numbers are accepted, bools are not."""
    where: dict[str, Any] = {"path": path, "video": video, "index": index, "field": field}
    if isinstance(value, bool) or value is None:
        raise EvaluationInputError(f"expected a number, got {json.dumps(value)}", **where)
    if isinstance(value, _NUMERIC):
        try:
            out = float(value)
        except OverflowError:
            out = math.inf
    elif isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            raise EvaluationInputError(f"expected a number, got {value!r}", **where) from None
    else:
        shown = json.dumps(value)[:80]
        raise EvaluationInputError(
            f"expected a number, got {type(value).__name__} {shown}", **where
        )
    if not math.isfinite(out):
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."
        raise EvaluationInputError(f"value {shown} is not finite (NaN or inf)", **where)
    return out


def _segment(value: Any, path: Path, video: str, index: int) -> None:
    where: dict[str, Any] = {"path": path, "video": video, "index": index, "field": "segment"}
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise EvaluationInputError(f"expected [start, end], got {json.dumps(value)[:80]}", **where)
    start = number(value[0], path, video, index, "segment")
    end = number(value[1], path, video, index, "segment")
    if end < start:
        raise EvaluationInputError(
            f"segment [{start}, {end}] ends before it starts (end < start)", **where
        )


def check_item(value: Any, path: Path, video: str, index: int, *, scored: bool) -> None:
    """Check one annotation/prediction object thoroughly (used to locate an error)."""
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
            f"expected a class name (string), got {json.dumps(value['label'])[:80]}",
            path=path,
            video=video,
            index=index,
            field="label",
        )
    _segment(value["segment"], path, video, index)
    if scored:
        number(value["score"], path, video, index, "score")


def locate(
    per_video: Sequence[tuple[str, Any]],
    path: Path,
    *,
    scored: bool,
    container: str,
    first_index: int = 0,
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
                check_item(item, path, video, first_index + i, scored=scored)
            except EvaluationInputError as exc:
                return exc
    return EvaluationInputError(f"invalid {container}", path=path)


def bulk_segments(segments: list[Any]) -> NDArray[np.float64] | None:
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
    except (TypeError, ValueError, OverflowError):
        return None
    if not np.isfinite(arr).all() or (arr[:, 1] < arr[:, 0]).any():
        return None
    return arr


def bulk_scores(scores: list[Any]) -> NDArray[np.float64] | None:
    """``(N,)`` float64 from a list of numbers; None if anything is off."""
    if not set(map(type, scores)) <= {float, int, str}:
        return None
    try:
        arr = np.array(scores, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    if arr.ndim != 1 or not np.isfinite(arr).all():
        return None
    return arr


def vocabulary(values: list[str]) -> tuple[tuple[str, ...], NDArray[np.int64]]:
    """Distinct values in first-seen order, and the index of each value (C-speed passes)."""
    names = tuple(dict.fromkeys(values))
    index = {name: i for i, name in enumerate(names)}
    return names, np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))


def flat_arrays(videos: list[Any], items: list[Any]) -> Predictions | None:
    """:class:`Predictions` from parallel lists of video names and prediction objects.

    None when anything is off (the caller then locates the problem).
    """
    if videos and set(map(type, videos)) != {str}:
        return None
    try:
        labels = list(map(_LABEL, items))
        scores = list(map(_SCORE, items))
        segs = list(map(_SEGMENT, items))
    except (KeyError, TypeError):
        return None
    seg_arr = bulk_segments(segs)
    score_arr = bulk_scores(scores)
    if seg_arr is None or score_arr is None or (labels and set(map(type, labels)) != {str}):
        return None
    names, codes = vocabulary(labels)
    video_ids, video_codes = vocabulary(videos)
    return Predictions(
        video_ids=video_ids,
        label_names=names,
        segments=seg_arr,
        scores=score_arr,
        labels=codes,
        videos=video_codes,
    )


def results_arrays(results: dict[str, Any], path: Path, *, first_index: int = 0) -> Predictions:
    """:class:`Predictions` from ``{video: [prediction, ...]}`` (one decoded piece).

    ``first_index`` is the index, in its video's list, of the first prediction of the piece
    (a long list is decoded in pieces); error messages count from it.
    """
    video_ids = tuple(results)
    lists = list(results.values())
    items = list(results.items())
    if not all(type(x) is list for x in lists):
        raise locate(items, path, scored=True, container="predictions", first_index=first_index)
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = list(chain.from_iterable(lists))
    try:
        labels = list(map(_LABEL, flat))
        scores = list(map(_SCORE, flat))
        segs = list(map(_SEGMENT, flat))
    except (KeyError, TypeError):
        raise locate(
            items, path, scored=True, container="predictions", first_index=first_index
        ) from None
    seg_arr = bulk_segments(segs)
    score_arr = bulk_scores(scores)
    if seg_arr is None or score_arr is None or (labels and set(map(type, labels)) != {str}):
        raise locate(items, path, scored=True, container="predictions", first_index=first_index)
    names, codes = vocabulary(labels)
    return Predictions(
        video_ids=video_ids,
        label_names=names,
        segments=seg_arr,
        scores=score_arr,
        labels=codes,
        videos=np.repeat(np.arange(len(video_ids), dtype=np.int64), counts),
    )
