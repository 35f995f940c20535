"""Checks shared by the evaluators: argument types, and results that match no ground truth."""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection, Sequence
from typing import Any

from .errors import EvaluationInputError, UnmatchedVideosWarning

__all__ = ["check_source", "check_video_coverage"]

_SUFFIXES = (".mp4", ".mkv", ".avi", ".webm", ".mov", ".mpeg", ".mpg", ".npy")


def check_source(name: str, value: Any, container: type, what: str) -> None:
    """Refuse an argument that is neither a ``container`` nor a path (e.g. a decoded JSON dict).

    Raises:
        TypeError: naming the argument and what it is.
    """
    if isinstance(value, (container, str, os.PathLike)):
        return
    hint = ""
    if isinstance(value, dict):
        hint = (
            " (a decoded JSON document? write it to a file and pass the path, or build the "
            f"{container.__name__} with the loaders)"
        )
    raise TypeError(
        f"{name} must be a {container.__name__}, a path to {what} or a built-in name, got "
        f"{type(value).__name__}{hint}"
    )


def _renamings(name: str) -> list[tuple[str, str]]:
    """``(candidate, how)`` renamings that often explain a mismatch."""
    out = []
    lower = name.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix):
            out.append((name[: -len(suffix)], f"without the {name[-len(suffix) :]!r} suffix"))
    if name.startswith("v_"):
        out.append((name[2:], "without the 'v_' prefix"))
    else:
        out.append(("v_" + name, "with ActivityNet's 'v_' prefix"))
    return out


def check_video_coverage(
    pred_videos: Sequence[str],
    gt_videos: Collection[str],
    *,
    subset: str | None,
    strict: bool,
    stacklevel: int = 3,
) -> None:
    """Warn (or raise, when ``strict``) when no prediction is on a ground-truth video.

    ``pred_videos`` are the videos that hold at least one prediction.

    Raises:
        EvaluationInputError: with ``strict``.

    Warns:
        UnmatchedVideosWarning: otherwise.
    """
    if not pred_videos:
        return
    gt: set[str] | frozenset[str] = (
        gt_videos if isinstance(gt_videos, (set, frozenset)) else set(gt_videos)
    )
    if not gt.isdisjoint(pred_videos):
        return
    shown = ", ".join(repr(v) for v in list(pred_videos)[:3])
    more = ", ..." if len(pred_videos) > 3 else ""
    hint = ""
    counts: dict[str, int] = {}
    for v in list(pred_videos)[:1000]:
        for candidate, how in _renamings(v):
            if candidate in gt:
                counts[how] = counts.get(how, 0) + 1
    if counts:
        how, n = max(counts.items(), key=lambda kv: kv[1])
        hint = f"; {n} would match {how}"
    where = f" of subset {subset!r}" if subset else ""
    message = (
        f"none of the {len(pred_videos)} videos of the predictions is one of the "
        f"{len(gt)} ground-truth videos{where} (first: {shown}{more}){hint}; every AP is 0"
    )
    if strict:
        raise EvaluationInputError(message)
    warnings.warn(message, UnmatchedVideosWarning, stacklevel=stacklevel)
