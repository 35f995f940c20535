"""The outline of a large JSON document, found without decoding it (numpy over the bytes).

An ActivityNet file is ``{"results": {video: [prediction, ...], ...}, ...}``: decoding it whole
creates about ten Python objects per prediction (gigabytes for millions of predictions). This
module finds, with a few vectorised passes over the bytes, where each member of the top-level
object is, where each entry of one member's object is (its key and the span of its value), and
points where a long array value can be cut between two elements. The caller then decodes the
document piece by piece, each piece a small valid JSON text.

The scan tracks strings (a quote preceded by an odd run of backslashes is escaped) and the
nesting depth of the structural characters outside strings. Nesting deeper than
:data:`MAX_DEPTH` is refused here, before any parser sees it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ._jsonfields import decode, malformed

__all__ = ["MAX_DEPTH", "Outline", "decode_key", "first_non_space", "scan"]

MAX_DEPTH = 64
"""Deepest nesting accepted (an ActivityNet file is 5 levels deep; extra fields may add some)."""
_BLOCK = 1 << 22  # bytes scanned at once
_EXPLAIN_LIMIT = 1 << 26  # malformed documents up to this size get the parser's own message
_I64 = np.int64
_QUOTE, _BACKSLASH = 34, 92
_STRUCT = np.zeros(256, dtype=bool)
_STRUCT[[ord(c) for c in "{}[],:"]] = True
_DELTA = np.zeros(256, dtype=np.int8)
_DELTA[[ord("{"), ord("[")]] = 1
_DELTA[[ord("}"), ord("]")]] = -1
_WHITESPACE = b" \t\r\n"
_NON_SPACE = re.compile(rb"[^ \t\r\n]")
_KEY_END = re.compile(rb'"[ \t\r\n]*\Z')


@dataclass(frozen=True, eq=False)
class Outline:
    """Where things are in the document (byte offsets).

    Attributes:
        members: top-level member name -> ``(value_start, value_end)`` (end exclusive), for
            the members of the top-level object, in file order.
        repeated: top-level member names that occur more than once.
        entry_key: ``(E, 2)`` int64 ``[start, end)`` of each entry's key string (quotes
            included) in the scanned member's object, in file order.
        entry_value: ``(E, 2)`` int64 ``[start, end)`` of each entry's value (whitespace
            trimmed).
        cuts: ``(K,)`` int64 offsets of commas between two elements of an entry's array value
            (level 3), at least ``cut_every`` bytes apart: where a long array may be split.
        top_is_object: whether the document is a JSON object.
        open, close: offsets of the braces of the scanned member's object (-1: the member is
            absent or its value is not an object).
    """

    members: dict[str, tuple[int, int]]
    repeated: tuple[str, ...]
    entry_key: NDArray[np.int64]
    entry_value: NDArray[np.int64]
    cuts: NDArray[np.int64]
    top_is_object: bool
    open: int
    close: int


def _escaped(data: bytes, buf: NDArray[np.uint8], quotes: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Which quotes are escaped (preceded by an odd number of backslashes)."""
    out = np.zeros(quotes.shape[0], dtype=bool)
    cand = np.flatnonzero(quotes > 0)
    cand = cand[buf[quotes[cand] - 1] == _BACKSLASH]
    run = np.zeros(cand.shape[0], dtype=_I64)
    pos = quotes[cand] - 1
    active = np.ones(cand.shape[0], dtype=bool)
    for _ in range(64):  # the usual runs: one or two backslashes
        if not active.any():
            break
        run[active] += 1
        pos[active] -= 1
        active &= pos >= 0
        active[active] = buf[pos[active]] == _BACKSLASH
    for i in np.flatnonzero(active).tolist():  # long runs (rare): measure them backwards
        end = int(pos[i]) + 1
        window = 1024
        while True:
            lo = max(0, end - window)
            kept = len(data[lo:end].rstrip(b"\\"))
            if kept or lo == 0:
                run[i] += end - lo - kept
                break
            window *= 2
    out[cand] = run % 2 == 1
    return out


def scan(data: bytes, path: Path, *, member: str | None, cut_every: int = 1 << 24) -> Outline:
    """Outline ``data``: top-level members, and the entries of ``member``'s object value.

    Raises:
        EvaluationInputError: nesting deeper than :data:`MAX_DEPTH`, or brackets that do not
            balance, with the line and column.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    n = buf.shape[0]
    first = len(data) - len(data.lstrip(_WHITESPACE))
    top_is_object = first < n and data[first] == ord("{")
    depth = 0
    odd = 0  # parity of the real quotes before the block
    kept_pos: list[NDArray[np.int64]] = []
    kept_level: list[NDArray[np.int64]] = []
    cut_list: list[NDArray[np.int64]] = []
    next_cut = 0
    for b0 in range(0, n, _BLOCK):
        blk = buf[b0 : b0 + _BLOCK]
        is_quote = blk == _QUOTE
        if data.find(b"\\", max(0, b0 - 1), b0 + _BLOCK) >= 0:
            quotes = np.flatnonzero(is_quote).astype(_I64) + b0
            is_quote[quotes[_escaped(data, buf, quotes)] - b0] = False
        parity = np.bitwise_xor.accumulate(is_quote.view(np.uint8))  # odd quotes so far
        struct = np.flatnonzero(_STRUCT[blk]).astype(_I64)
        struct = struct[(parity[struct] ^ odd) == 0] + b0  # outside strings
        if parity.size:
            odd ^= int(parity[-1])
        del parity, is_quote
        ch = buf[struct]
        delta = _DELTA[ch]
        after = depth + np.cumsum(delta, dtype=_I64)
        level = after - (delta > 0)
        if after.size:
            if int(after.min()) < 0:
                at = int(struct[int(np.argmax(after < 0))])
                _explain(data, path)
                raise malformed(data, at, f"unexpected {chr(data[at])!r}", path)
            if int(after.max()) > MAX_DEPTH:
                at = int(struct[int(np.argmax(after > MAX_DEPTH))])
                raise malformed(
                    data,
                    at,
                    f"nested deeper than {MAX_DEPTH} levels (an ActivityNet file is 5)",
                    path,
                )
            depth = int(after[-1])
        shallow = level <= 2
        kept_pos.append(struct[shallow])
        kept_level.append(level[shallow])
        commas = struct[(level == 3) & (ch == ord(","))]
        if commas.size and int(commas[-1]) >= next_cut:
            marks = np.arange(next_cut, int(commas[-1]) + 1, cut_every, dtype=_I64)
            picked = np.unique(commas[np.searchsorted(commas, marks)])
            cut_list.append(picked)
            next_cut = int(picked[-1]) + cut_every
    if depth != 0 or odd:
        _explain(data, path)
        raise malformed(data, n, "the document ends inside an object, array or string", path)
    pos = np.concatenate(kept_pos) if kept_pos else np.zeros(0, dtype=_I64)
    lev = np.concatenate(kept_level) if kept_level else np.zeros(0, dtype=_I64)
    cuts = np.concatenate(cut_list) if cut_list else np.zeros(0, dtype=_I64)
    return _outline(data, path, pos, lev, cuts, member, top_is_object)


def _key_span(data: bytes, colon: int, path: Path) -> tuple[int, int]:
    """``[open, close + 1)`` of the key string before the ``:`` at ``colon``."""
    close = colon - 1
    window = 64
    while True:  # the key's closing quote: the last non-whitespace byte before the colon
        lo = max(0, colon - window)
        found = _KEY_END.search(data, lo, colon)
        if found is not None or lo == 0:
            break
        window *= 8
    if found is None:
        raise malformed(data, colon, "expected a string key before ':'", path)
    close = found.start()
    opening = data.rfind(b'"', 0, close)
    while opening > 0 and data[opening - 1] == _BACKSLASH:  # an escaped quote inside the key?
        run = len(data[:opening]) - len(data[:opening].rstrip(b"\\"))
        if run % 2 == 0:
            break
        opening = data.rfind(b'"', 0, opening)
    if opening < 0:
        raise malformed(data, colon, "expected a string key before ':'", path)
    return opening, close + 1


def _explain(data: bytes, path: Path) -> None:
    """Let the JSON parser describe a malformed document, when it is small enough to decode."""
    if len(data) <= _EXPLAIN_LIMIT:
        decode(data, path)


def decode_key(data: bytes, start: int, end: int, path: Path) -> str:
    try:
        out = json.loads(data[start:end])
    except (ValueError, UnicodeDecodeError):
        raise malformed(data, start, "invalid key string", path) from None
    if not isinstance(out, str):
        raise malformed(data, start, "expected a string key", path)
    return out


def first_non_space(data: bytes, start: int, end: int) -> int:
    """Offset of the first byte in ``[start, end)`` that is not JSON whitespace, else ``end``."""
    found = _NON_SPACE.search(data, start, end)
    return found.start() if found else end


def _outline(
    data: bytes,
    path: Path,
    pos: NDArray[np.int64],
    lev: NDArray[np.int64],
    cuts: NDArray[np.int64],
    member: str | None,
    top_is_object: bool,
) -> Outline:
    n = len(data)
    ch = np.frombuffer(data, dtype=np.uint8)[pos] if pos.size else np.zeros(0, dtype=np.uint8)
    colon = ch == ord(":")
    closer = (ch == ord("}")) | (ch == ord("]"))
    comma = ch == ord(",")
    top_end = pos[(lev == 0) & closer]
    if top_end.size:
        extra = first_non_space(data, int(top_end[0]) + 1, n)
        if extra < n:
            raise malformed(data, extra, "extra data after the end of the document", path)
    members: dict[str, tuple[int, int]] = {}
    repeated: list[str] = []
    if top_is_object:
        ends = np.sort(pos[((lev == 1) & comma) | ((lev == 0) & closer)])
        for c in pos[(lev == 1) & colon].tolist():
            name = decode_key(data, *_key_span(data, c, path), path)
            stop = int(ends[np.searchsorted(ends, c)]) if ends.size else n
            if name in members:
                repeated.append(name)
            members[name] = (c + 1, stop)
    empty = np.zeros((0, 2), dtype=_I64)
    none = Outline(members, tuple(repeated), empty, empty, cuts[:0], top_is_object, -1, -1)
    if member is None or member not in members:
        return none
    v0, v1 = members[member]
    p0 = first_non_space(data, v0, v1)
    if p0 >= v1 or data[p0] != ord("{"):
        return none
    inside = (pos > p0) & (pos < v1)
    c1_all = pos[inside & (lev == 1) & closer]
    if not c1_all.size:
        raise malformed(data, p0, f"the {member!r} object is not closed", path)
    c1 = int(c1_all[0])
    tail = first_non_space(data, c1 + 1, v1)
    if tail < v1:
        raise malformed(data, tail, f"unexpected data after the {member!r} object", path)
    inside = (pos > p0) & (pos < c1)
    e_colon = pos[inside & (lev == 2) & colon]
    e_sep = np.append(pos[inside & (lev == 2) & comma], c1)
    keys = np.asarray([_key_span(data, c, path) for c in e_colon.tolist()], dtype=_I64).reshape(
        -1, 2
    )
    lead = first_non_space(data, p0 + 1, c1)
    if lead != (int(keys[0, 0]) if keys.shape[0] else c1):
        raise malformed(data, lead, f"unexpected data in the {member!r} object", path)
    stops = e_sep[np.searchsorted(e_sep, e_colon)]
    values = np.stack([e_colon + 1, stops], axis=1) if e_colon.size else empty
    cuts = cuts[(cuts > p0) & (cuts < c1)]
    return Outline(members, tuple(repeated), keys, values, cuts, top_is_object, p0, c1)
