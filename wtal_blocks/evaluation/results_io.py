"""Streaming readers of detection results: ActivityNet JSON, JSON Lines and text lines.

Three formats, read a bounded piece at a time (so memory follows the arrays, not the file):

* **ActivityNet JSON** ``{"results": {video: [{"label", "score", "segment"}, ...]}}`` (``.json``,
  ``.json.gz``). The document is outlined without decoding it (``_jsonscan``), then decoded
  a few megabytes of whole videos at a time; a long list of one video is cut between two
  predictions. A video key that occurs twice is refused: JSON parsers keep only the last list
  (the official evaluator silently drops the earlier predictions), and merging would change
  the numbers of the official evaluator in the other direction.
* **JSON Lines** (``.jsonl``, ``.ndjson``): one prediction per line,
  ``{"video": ..., "label": ..., "score": ..., "segment": [start, end]}``, decoded a block of
  lines at a time (about twice as slow as text lines: every field is a Python object first).
* **Text lines** (any other name): ``video start end label score``, separated by spaces or
  tabs: the THUMOS'14 results layout, where the label is a UCF101 class id, or a class name
  (names with spaces are read whole: the label is everything between the third field and the
  last). Parsed with numpy over the bytes, without a Python step per line.

Every problem raises :class:`EvaluationInputError` naming the file and the line (text formats)
or the video, item and field (JSON). A ``.gz`` file is decompressed while reading, with the cap
of :func:`~._files.read_bytes`.
"""

from __future__ import annotations

import gzip
import itertools
import os
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

from . import _jsonfields, _textlines
from ._files import expansion_cap, read_bytes
from ._jsonfields import line_col
from ._jsonscan import decode_key, first_non_space, scan
from .annotations import Predictions
from .errors import EvaluationInputError

__all__ = [
    "RESULTS_FORMATS",
    "ResultsFormat",
    "concatenate_predictions",
    "detect_format",
    "iter_predictions",
    "load_predictions",
]

PathLike = str | os.PathLike[str]
ResultsFormat = Literal["auto", "activitynet", "jsonl", "text"]
RESULTS_FORMATS = ("auto", "activitynet", "jsonl", "text")
_PIECE_BYTES = 1 << 24  # JSON decoded at once
_BLOCK_BYTES = 1 << 24  # text read at once
_READ_THREADS = 2  # text-line blocks parsed at once (numpy releases the GIL in most passes)
_VIDEO = itemgetter("video")


def detect_format(path: PathLike) -> str:
    """The results format of a file, from its name.

    ``.json`` (``.json.gz``): ActivityNet JSON; ``.jsonl``/``.ndjson``: JSON Lines; anything
    else: text lines.
    """
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(".json"):
        return "activitynet"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return "text"


def iter_predictions(
    path: PathLike,
    chunk_size: int = 1_000_000,
    *,
    format: ResultsFormat = "auto",
    class_ids: bool = False,
    strip_suffix: str | None = None,
) -> Iterator[Predictions]:
    """Read a results file piece by piece, in file order.

    Each piece is a :class:`Predictions` of at most ``chunk_size`` predictions with its own
    vocabularies (the videos and labels it holds). Peak memory is that of one piece, whatever
    the size of the file (an ActivityNet JSON file is held as bytes while it is read).

    Args:
        path: the results file (``.gz`` too).
        chunk_size: the most predictions per piece (``>= 1``).
        format: ``"activitynet"``, ``"jsonl"``, ``"text"``, or ``"auto"`` (from the file
            name: :func:`detect_format`).
        class_ids: text lines only: labels must be integer class ids (THUMOS'14's format),
            normalised (``"07"`` reads ``"7"``).
        strip_suffix: text lines only: drop this suffix from video names (the THUMOS'14 kit
            drops ``".mpeg"``).

    Raises:
        EvaluationInputError: anything malformed, naming the file and where.
    """
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise TypeError(f"chunk_size must be a positive int, got {chunk_size!r}")
    p = Path(path)
    kind = detect_format(p) if format == "auto" else format
    if kind == "activitynet":
        pieces: Iterable[Predictions] = _activitynet_pieces(p)
    elif kind == "jsonl":
        pieces = _jsonl_pieces(p)
    elif kind == "text":
        pieces = _in_order(
            _line_blocks(p),
            lambda block, line: _textlines.parse_block(
                block, line, p, class_ids=class_ids, strip_suffix=strip_suffix
            ),
        )
    else:
        raise ValueError(f"format must be one of {RESULTS_FORMATS}, got {format!r}")
    for piece in pieces:
        n = len(piece)
        for a in range(0, n, chunk_size):
            yield piece if n <= chunk_size else _slice(piece, a, min(a + chunk_size, n))


def _in_order(
    blocks: Iterable[tuple[bytes, int]], parse: Callable[[bytes, int], Predictions]
) -> Iterator[Predictions]:
    """``parse`` of every ``(block, first line)``, yielded in file order.

    With two or more cores, :data:`_READ_THREADS` blocks are parsed at once: the text-lines
    parser spends most of its time in numpy passes that release the GIL, so two threads read
    1M lines in 1.23 s against 1.84 s for one (2 cores). At most ``threads + 1`` blocks are
    held. The first error in file order is the one raised.
    """
    threads = min(_READ_THREADS, os.cpu_count() or 1)
    if threads < 2:
        for block, line in blocks:
            yield parse(block, line)
        return
    pending: deque[Future[Predictions]] = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="wtal-read") as pool:
        try:
            for block, line in blocks:
                pending.append(pool.submit(parse, block, line))
                if len(pending) > threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # an error or an abandoned reader: start nothing more
                future.cancel()


def load_predictions(
    path: PathLike,
    *,
    format: ResultsFormat = "auto",
    class_ids: bool = False,
    strip_suffix: str | None = None,
) -> Predictions:
    """The whole results file as one :class:`Predictions` (any format of :func:`iter_predictions`).

    Memory: the arrays (about 40 bytes per prediction) plus one piece being read.
    """
    return concatenate_predictions(
        iter_predictions(
            path, 1 << 62, format=format, class_ids=class_ids, strip_suffix=strip_suffix
        )
    )


def _slice(p: Predictions, a: int, b: int) -> Predictions:
    return Predictions(
        video_ids=p.video_ids,
        label_names=p.label_names,
        segments=p.segments[a:b],
        scores=p.scores[a:b],
        labels=p.labels[a:b],
        videos=p.videos[a:b],
    )


def concatenate_predictions(pieces: Iterable[Predictions]) -> Predictions:
    """One :class:`Predictions` from several, vocabularies merged in first-seen order."""
    videos: dict[str, int] = {}
    labels: dict[str, int] = {}
    parts: list[tuple[Any, ...]] = []
    for piece in pieces:
        v_map = np.fromiter(
            (videos.setdefault(v, len(videos)) for v in piece.video_ids),
            dtype=np.int64,
            count=len(piece.video_ids),
        )
        l_map = np.fromiter(
            (labels.setdefault(c, len(labels)) for c in piece.label_names),
            dtype=np.int64,
            count=len(piece.label_names),
        )
        parts.append((piece.segments, piece.scores, l_map[piece.labels], v_map[piece.videos]))
    if len(parts) == 1:
        seg, sc, lab, vid = parts[0]
    elif parts:
        seg, sc, lab, vid = (np.concatenate([p[k] for p in parts]) for k in range(4))
    else:
        seg, sc = np.zeros((0, 2)), np.zeros(0)
        lab = vid = np.zeros(0, dtype=np.int64)
    return Predictions(
        video_ids=tuple(videos),
        label_names=tuple(labels),
        segments=np.asarray(seg, dtype=np.float64).reshape(-1, 2),
        scores=np.asarray(sc, dtype=np.float64),
        labels=np.asarray(lab, dtype=np.int64),
        videos=np.asarray(vid, dtype=np.int64),
    )


# ----------------------------------------------------------------------------- ActivityNet JSON


def _kind(data: bytes, start: int, end: int) -> str:
    first = data[first_non_space(data, start, end) : end][:1]
    return {b"[": "list", b"{": "object", b'"': "str", b"t": "bool", b"f": "bool"}.get(
        first, "null" if first == b"n" else "number"
    )


def _activitynet_pieces(p: Path) -> Iterator[Predictions]:
    data = read_bytes(p, "results")
    if not data.strip():
        return
    outline = scan(data, p, member="results", cut_every=_PIECE_BYTES)
    if not outline.top_is_object or "results" not in outline.members:
        raise EvaluationInputError('missing "results": not an ActivityNet results file', path=p)
    if "results" in outline.repeated:
        raise EvaluationInputError('"results" appears twice in the file', path=p)
    for name, (a, b) in outline.members.items():
        if name != "results":  # not evaluated, but a malformed file is refused whole
            _jsonfields.decode(b"[" + data[a:b] + b"]", p, offset=a, source=data)
    if outline.open < 0:
        a, b = outline.members["results"]
        raise EvaluationInputError(f'"results" must be an object, got {_kind(data, a, b)}', path=p)
    keys, values = outline.entry_key, outline.entry_value
    n = keys.shape[0]
    ends = np.cumsum(values[:, 1] - keys[:, 0])
    seen: set[str] = set()
    i = 0
    while i < n:
        done = int(ends[i - 1]) if i else 0
        j = max(int(np.searchsorted(ends, done + _PIECE_BYTES, side="right")), i + 1)
        if j == i + 1 and int(values[i, 1] - keys[i, 0]) > _PIECE_BYTES:
            yield from _long_video(data, p, outline.cuts, keys[i], values[i], seen)
        else:
            start = int(keys[i, 0])
            with _jsonfields.gc_paused():
                doc = _jsonfields.decode(
                    b"{" + data[start : int(values[j - 1, 1])] + b"}",
                    p,
                    offset=start,
                    source=data,
                )
                if len(doc) != j - i or not seen.isdisjoint(doc):
                    raise _duplicate(data, p, keys[i:j], seen)
                seen.update(doc)
                piece = _jsonfields.results_arrays(doc, p)
                del doc
            yield piece
        i = j


def _duplicate(data: bytes, p: Path, keys: Any, seen: set[str]) -> EvaluationInputError:

    local: set[str] = set()
    for a, b in keys.tolist():
        name = decode_key(data, a, b, p)
        if name in seen or name in local:
            line, col = line_col(data, a)
            return EvaluationInputError(
                f'appears twice in "results" (again at line {line} column {col}); JSON '
                "readers keep only the last list (the official evaluator drops the earlier "
                "predictions without a word): write each video once",
                path=p,
                video=name,
            )
        local.add(name)
    return EvaluationInputError('a video appears twice in "results"', path=p)


def _long_video(
    data: bytes, p: Path, cuts: Any, key: Any, value: Any, seen: set[str]
) -> Iterator[Predictions]:
    """The predictions of one video whose list is too long to decode at once, in pieces."""

    video = decode_key(data, int(key[0]), int(key[1]), p)
    if video in seen:
        raise _duplicate(data, p, np.asarray([key]), seen)
    seen.add(video)
    v0, v1 = int(value[0]), int(value[1])
    first = first_non_space(data, v0, v1)
    if data[first : first + 1] != b"[":
        raise EvaluationInputError(
            f"expected a list of predictions, got {_kind(data, v0, v1)}", path=p, video=video
        )
    inner = cuts[(cuts > first) & (cuts < v1)].tolist()
    bounds = [first, *inner, v1]
    done = 0
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        text = (
            (b"" if k == 0 else b"[") + data[a + (k > 0) : b] + (b"" if k == len(inner) else b"]")
        )
        with _jsonfields.gc_paused():
            items = _jsonfields.decode(text, p, offset=a + 1, source=data)
            piece = _jsonfields.results_arrays({video: items}, p, first_index=done)
            done += len(items)
            del items
        yield piece


# ----------------------------------------------------------------------------- line formats


def _open(p: Path, what: str) -> IO[bytes]:
    try:
        raw = open(p, "rb")
    except FileNotFoundError:
        raise EvaluationInputError(f"{what} file not found", path=p) from None
    except IsADirectoryError:
        raise EvaluationInputError(f"expected a {what} file, got a folder", path=p) from None
    except OSError as exc:
        raise EvaluationInputError(
            f"cannot read {what} file: {exc.strerror or exc}", path=p
        ) from None
    if p.suffix != ".gz":
        return raw
    return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]


def _line_blocks(p: Path) -> Iterator[tuple[bytes, int]]:
    """``(block, number of its first line)``: blocks of whole lines, each ending with ``\\n``."""
    block_bytes = _BLOCK_BYTES
    handle = _open(p, "results")
    cap = expansion_cap(p)
    total = 0
    line = 1
    rest = b""
    try:
        while True:
            try:
                chunk = handle.read(block_bytes)
            except (OSError, EOFError, zlib.error) as exc:
                raise EvaluationInputError(f"not a readable .gz file ({exc})", path=p) from None
            total += len(chunk)
            if cap is not None and total > cap:
                raise EvaluationInputError(
                    f"the .gz file expands to more than {cap} bytes; decompress it first if it "
                    "is genuine",
                    path=p,
                )
            if not chunk:
                if rest:
                    yield rest + b"\n", line
                return
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            yield block, line
            line += block.count(b"\n")
    finally:
        handle.close()


def _jsonl_pieces(p: Path) -> Iterator[Predictions]:
    for block, line in _line_blocks(p):
        with _jsonfields.gc_paused():
            piece = _jsonl_piece(block, line, p)
        if piece is not None:
            yield piece


def _jsonl_piece(block: bytes, line: int, p: Path) -> Predictions | None:
    text = b"[" + b",".join(filter(None, map(bytes.strip, block.split(b"\n")))) + b"]"
    try:
        items = _jsonfields.decode(text, p)
    except EvaluationInputError:
        raise _jsonl_error(block, line, p) from None
    if not items:
        return None
    try:
        videos = list(map(_VIDEO, items))
    except (KeyError, TypeError):
        videos = None
    piece = None if videos is None else _jsonfields.flat_arrays(videos, items)
    if piece is None:
        raise _jsonl_item_error(block, line, p, items)
    return piece


def _jsonl_lines(block: bytes, line: int) -> Iterator[tuple[int, bytes]]:
    for k, raw in enumerate(block.split(b"\n")):
        if raw.strip():
            yield line + k, raw


def _jsonl_error(block: bytes, line: int, p: Path) -> EvaluationInputError:
    for number, raw in _jsonl_lines(block, line):
        try:
            _jsonfields.decode(raw, p)
        except EvaluationInputError as exc:
            return EvaluationInputError(f"line {number}: {exc.reason}", path=p)
    return EvaluationInputError(f"malformed JSON Lines near line {line}", path=p)


def _jsonl_item_error(block: bytes, line: int, p: Path, items: list[Any]) -> EvaluationInputError:
    for (number, _), item in zip(_jsonl_lines(block, line), items, strict=False):
        where = f"line {number}"
        if not isinstance(item, dict):
            return EvaluationInputError(f"{where}: expected an object", path=p)
        video = item.get("video")
        if not isinstance(video, str):
            shown = "missing" if "video" not in item else f"expected a string, got {video!r}"
            return EvaluationInputError(f"{where}: {shown}", path=p, field="video")
        try:
            _jsonfields.check_item(item, p, video, 0, scored=True)
        except EvaluationInputError as exc:
            return EvaluationInputError(
                f"{where}: {exc.reason}", path=p, video=video, field=exc.field
            )
    return EvaluationInputError(f"invalid prediction near line {line}", path=p)
