"""Vectorised parsing of text results lines ``video start end label score`` (numpy only).

A block of whole lines is parsed with a fixed number of numpy passes, whatever its number of
lines: fields are found from the whitespace edges of the bytes; numbers are gathered into a
fixed-width byte matrix and converted by numpy's string-to-float cast (correctly rounded, as
Python's ``float``); video names and labels are coded by comparing each line with the previous
one (results are grouped by video) and hashing the rest, with every hash class checked byte for
byte (a collision falls back to sorting). Python runs once per distinct name, never per line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from . import _jsonfields
from .annotations import Predictions
from .errors import EvaluationInputError

__all__ = ["MAX_NUMBER_CHARS", "parse_block"]

MAX_NUMBER_CHARS = 64
"""Longest numeric field accepted (a float64 needs at most 24 characters)."""
_I64 = np.int64
_MIX = np.uint64(0x9E3779B97F4A7C15)
_ROWS = 1 << 16  # rows gathered at once (the index temporary is 8 x rows x width bytes)


def _bytes_matrix(
    buf: NDArray[np.uint8],
    start: NDArray[np.int64],
    length: NDArray[np.int64],
    *,
    pad: int = 0,
    tail: int | None = None,
) -> NDArray[np.uint8]:
    """``(n, w)`` uint8: row ``i`` is ``buf[start[i]:start[i]+length[i]]`` padded with ``pad``.

    With ``tail``, one more column holding that byte (a separator).
    """
    n = start.shape[0]
    width = max(int(length.max()) if n else 1, 1)
    out = np.empty((n, width + (tail is not None)), dtype=np.uint8)
    if tail is not None:
        out[:, width] = tail
    cols = np.arange(width, dtype=_I64)
    if n and int(start.max()) + width <= buf.shape[0]:
        # every field's window lies in the buffer: copy whole rows of a strided view of it
        # (no (rows, width) int64 index; 3x faster for number fields)
        windows = sliding_window_view(buf, width)
        for a in range(0, n, _ROWS):
            rows = windows[start[a : a + _ROWS]]
            np.putmask(rows, cols[None, :] >= length[a : a + _ROWS, None], pad)
            out[a : a + _ROWS, :width] = rows
        return out
    for a in range(0, n, _ROWS):
        idx = start[a : a + _ROWS, None] + cols
        rows = np.take(buf, idx, mode="clip")
        np.putmask(rows, cols[None, :] >= length[a : a + _ROWS, None], pad)
        out[a : a + _ROWS, :width] = rows
    return out


def _matrix(
    buf: NDArray[np.uint8], start: NDArray[np.int64], length: NDArray[np.int64]
) -> NDArray[np.void]:
    """The fields ``buf[start:start+length]`` as a fixed-width ``S{w}`` array (NUL padded)."""
    mat = _bytes_matrix(buf, start, length)
    return mat.view(f"S{mat.shape[1]}").reshape(-1)


def _distinct_fixed(x: NDArray[np.void]) -> tuple[list[bytes], NDArray[np.int64]]:
    """Distinct values of a fixed-width bytes array and the code of each element."""
    n = x.shape[0]
    if n == 0:
        return [], np.zeros(0, dtype=_I64)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(x[1:], x[:-1], out=new[1:])
    reps = x[new]
    run = np.cumsum(new) - 1
    if reps.shape[0] <= 4096:
        uniq, inv = np.unique(reps, return_inverse=True)
    else:
        width = reps.dtype.itemsize
        pad = (-width) % 8
        raw = reps.view(np.uint8).reshape(-1, width)
        if pad:
            raw = np.concatenate([raw, np.zeros((raw.shape[0], pad), dtype=np.uint8)], axis=1)
        words = np.ascontiguousarray(raw).view(np.uint64)
        h = np.zeros(words.shape[0], dtype=np.uint64)
        for k in range(words.shape[1]):
            h = (h ^ words[:, k]) * _MIX
            h ^= h >> np.uint64(29)
        _, first, inv = np.unique(h, return_index=True, return_inverse=True)
        uniq = reps[first]
        if not np.array_equal(uniq[inv.reshape(-1)], reps):  # a collision: sort the bytes
            uniq, inv = np.unique(reps, return_inverse=True)
    return [bytes(u) for u in uniq.tolist()], inv.reshape(-1).astype(_I64)[run]


def _distinct(
    buf: NDArray[np.uint8], start: NDArray[np.int64], end: NDArray[np.int64]
) -> tuple[list[bytes], NDArray[np.int64]]:
    """Distinct byte strings ``buf[start:end]`` and each field's code.

    Fields are grouped by length class (powers of two) so that one long name cannot widen the
    matrix of every line.
    """
    length = end - start
    if length.shape[0] == 0:
        return [], np.zeros(0, dtype=_I64)
    if int(length.max()) <= 64:
        return _distinct_fixed(_matrix(buf, start, length))
    bucket = np.ceil(np.log2(np.maximum(length, 1))).astype(_I64)
    names: list[bytes] = []
    codes = np.empty(length.shape[0], dtype=_I64)
    for b in np.unique(bucket).tolist():
        rows = np.flatnonzero(bucket == b)
        got, c = _distinct_fixed(_matrix(buf, start[rows], length[rows]))
        codes[rows] = c + len(names)
        names += got
    return names, codes


class _Block:
    """Line bookkeeping of one block, for error messages."""

    def __init__(self, block: bytes, first_line: int, path: Path, class_ids: bool) -> None:
        self.block = block
        self.first_line = first_line
        self.path = path
        self.layout = (
            "video start end class_id score" if class_ids else "video start end label score"
        )
        self.newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)

    def line_of(self, offset: int) -> int:
        return self.first_line + int(np.searchsorted(self.newlines, offset))

    def text_of_line(self, index: int) -> str:
        lo = int(self.newlines[index - 1]) + 1 if index else 0
        return self.block[lo : int(self.newlines[index])].decode("utf-8", "replace").strip()

    def error(
        self, offset: int, message: str, *, video: str | None = None, field: str | None = None
    ) -> EvaluationInputError:
        return EvaluationInputError(
            f"line {self.line_of(offset)}: {message}", path=self.path, video=video, field=field
        )


def _fast_numbers(mat: NDArray[np.uint8]) -> NDArray[np.float64] | None:
    """Rows of a space-padded byte matrix whose last column is a comma, as numbers.

    The matrix is one JSON array text once its last comma is dropped: orjson parses
    correctly rounded decimals about three times faster than numpy's string cast. None when
    orjson is absent or refuses the text (numpy then decides, e.g. on ``+1`` or ``.5``).
    """
    loads = _jsonfields.fast_loads()
    if loads is None or mat.shape[0] == 0:
        return None
    try:
        values = loads(b"[" + mat.tobytes()[:-1] + b"]")
        return np.array(values, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        return None


def _numbers(
    buf: NDArray[np.uint8],
    start: NDArray[np.int64],
    end: NDArray[np.int64],
    name: str,
    ctx: _Block,
    video_of: object,
) -> NDArray[np.float64]:
    length = end - start
    too_long = length > MAX_NUMBER_CHARS
    if too_long.any():
        r = int(np.argmax(too_long))
        raise ctx.error(
            int(start[r]),
            f"a {int(length[r])}-character {name}: not a number of at most "
            f"{MAX_NUMBER_CHARS} characters",
            video=video_of(r),  # type: ignore[operator]
            field=name,
        )
    mat = _bytes_matrix(buf, start, length, pad=32, tail=44)
    out = _fast_numbers(mat)
    text = np.ascontiguousarray(mat[:, :-1]).view(f"S{mat.shape[1] - 1}").reshape(-1)
    if out is None:
        try:
            out = text.astype(np.float64)
        except ValueError:
            out = None
    bad = np.ones(1, dtype=bool) if out is None else ~np.isfinite(out)
    if out is not None and not bad.any():
        return out
    for r, raw in enumerate(text.tolist()):  # error path only: find the first bad row
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
        if value is None or not np.isfinite(value):
            shown = raw.strip().decode("utf-8", "replace")
            problem = "is not a number" if value is None else "is not finite"
            raise ctx.error(int(start[r]), f"{shown!r} {problem}", video=video_of(r), field=name)  # type: ignore[operator]
    raise ctx.error(int(start[0]), f"invalid {name}", field=name)  # pragma: no cover


def parse_block(
    block: bytes,
    first_line: int,
    path: Path,
    *,
    class_ids: bool = False,
    strip_suffix: str | None = None,
) -> Predictions:
    """Parse whole lines ``video start end label score`` into :class:`Predictions`.

    Blank lines are skipped. The label is everything between the third field and the last one
    (a class name may contain spaces). With ``class_ids``, labels must be integers (THUMOS'14
    results) and are normalised (``"07"`` reads ``"7"``).

    Raises:
        EvaluationInputError: a NUL byte or text that is not UTF-8, a line with fewer than five
            fields, a field that is not a number (or not finite, or longer than
            :data:`MAX_NUMBER_CHARS`), ``end < start``, a class id that is not an integer;
            naming the file, the line, the video and the field.
    """
    # spaces after the block: the window of every number field lies inside the buffer
    buf = np.frombuffer(block + b" " * MAX_NUMBER_CHARS, dtype=np.uint8)
    ctx = _Block(block, first_line, path, class_ids)
    if buf.size and int(buf.max()) >= 0x80:
        try:
            block.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = exc.start - (block.rfind(b"\n", 0, exc.start) + 1) + 1
            raise ctx.error(
                exc.start,
                f"column {column}: byte {block[exc.start]:#04x} is not UTF-8 text "
                f"({exc.reason}); the file must be UTF-8",
            ) from None
    if not buf.all():
        raise ctx.error(int(np.argmin(buf)), "a NUL byte: the file must be text")
    # fields: runs of bytes above the space character (tabs, spaces, CR, control bytes split)
    solid = buf > 32
    edges = np.flatnonzero(solid[1:] != solid[:-1]).astype(_I64) + 1
    if buf.size and solid[0]:
        edges = np.concatenate([np.zeros(1, dtype=_I64), edges])
    del solid
    t_start, t_end = edges[0::2], edges[1::2]
    bounds = np.searchsorted(t_start, ctx.newlines).astype(_I64)  # first field after each line
    counts = np.diff(bounds, prepend=_I64(0))
    short = np.flatnonzero((counts > 0) & (counts < 5))
    if short.size:
        i = int(short[0])
        raise EvaluationInputError(
            f"line {first_line + i}: expected '{ctx.layout}', got {ctx.text_of_line(i)[:200]!r}",
            path=path,
        )
    rows = np.flatnonzero(counts >= 5)
    k = counts[rows]
    first = (bounds - counts)[rows]
    v_names, v_codes = _distinct(buf, t_start[first], t_end[first])
    videos = [v.decode("utf-8") for v in v_names]
    if strip_suffix:
        videos = [v[: -len(strip_suffix)] if v.endswith(strip_suffix) else v for v in videos]

    def video_of(r: int) -> str:
        return videos[int(v_codes[r])]

    num = {}
    for name, tok in (("start", first + 1), ("end", first + 2), ("score", first + k - 1)):
        num[name] = _numbers(buf, t_start[tok], t_end[tok], name, ctx, video_of)
    bad = np.flatnonzero(num["end"] < num["start"])
    if bad.size:
        r = int(bad[0])
        raise ctx.error(
            int(t_start[first[r]]),
            f"segment [{num['start'][r]}, {num['end'][r]}] ends before it starts (end < start)",
            video=video_of(r),
            field="segment",
        )
    l_names, l_codes = _distinct(buf, t_start[first + 3], t_end[first + k - 2])
    labels = [name.decode("utf-8") for name in l_names]
    if class_ids:
        for c, text in enumerate(labels):
            try:
                labels[c] = str(int(text))
            except ValueError:
                r = int(np.argmax(l_codes == c))
                raise ctx.error(
                    int(t_start[first[r] + 3]),
                    f"class id {text!r} is not an integer",
                    video=video_of(r),
                    field="class_id",
                ) from None
    video_ids, v_remap = _dedupe(videos)
    label_names, l_remap = _dedupe(labels)
    return Predictions(
        video_ids=video_ids,
        label_names=label_names,
        segments=np.stack([num["start"], num["end"]], axis=1),
        scores=num["score"],
        labels=l_remap[l_codes],
        videos=v_remap[v_codes],
    )


def _dedupe(names: list[str]) -> tuple[tuple[str, ...], NDArray[np.int64]]:
    """Distinct names (first-seen order) and the new code of each old code."""
    index: dict[str, int] = {}
    remap = np.fromiter(
        (index.setdefault(n, len(index)) for n in names), dtype=_I64, count=len(names)
    )
    return tuple(index), remap
