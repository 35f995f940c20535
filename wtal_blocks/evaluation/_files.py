"""Reading evaluation files: plain or gzip-compressed, and the built-in ground truths.

A path ending in ``.gz`` is decompressed on the fly (with a cap, so a small compressed file
cannot expand without bound). A *built-in name* (``"thumos14"``, ``"anet12"``) stands for a
ground-truth file shipped inside the package, used when no file of that name exists.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import EvaluationInputError

__all__ = [
    "BUILTIN_GROUND_TRUTH",
    "MAX_JSON_DEPTH",
    "builtin_thumos14_files",
    "check_json_depth",
    "decode_utf8",
    "read_bytes",
    "resolve_ground_truth",
]

PathLike = str | os.PathLike[str]

BUILTIN_GROUND_TRUTH: dict[str, tuple[str, str, str]] = {
    "thumos14": (
        "thumos14_gt.json.gz",
        "test",
        "THUMOS'14 in ActivityNet JSON, as used by the official UM, BaS-Net and CoLA code: 200 "
        "validation videos (subset 'train') and 210 test videos (subset 'test', 3,311 instances)",
    ),
    "anet12": (
        "anet12_val_gt.json.gz",
        "validation",
        "ActivityNet v1.2 validation: 2,304 videos, 3,457 instances, 100 classes",
    ),
}
"""Built-in ActivityNet-JSON ground truths: name -> (package file, default subset, what it is)."""

_THUMOS14_OFFICIAL = "thumos14_official_test_annotations.tar.gz"
_EXPANSION_CAP = 256 * 1024 * 1024  # bytes a .gz may expand to, at least
_EXPANSION_RATIO = 200  # ... or this many times its compressed size


def _package_file(name: str) -> Path:
    return Path(str(resources.files("wtal_blocks.evaluation") / "data" / name))


def resolve_ground_truth(source: PathLike) -> tuple[Path, str | None]:
    """The file behind ``source`` and, for a built-in name, its default subset.

    An existing path is used as is; otherwise a built-in name (``"thumos14"``, ``"anet12"``)
    selects the ground truth shipped with the package.
    """
    path = Path(source)
    if not path.exists() and str(source) in BUILTIN_GROUND_TRUTH:
        file, subset, _ = BUILTIN_GROUND_TRUTH[str(source)]
        return _package_file(file), subset
    return path, None


def read_bytes(path: Path, what: str) -> bytes:
    """The bytes of ``path`` (decompressed when it ends in ``.gz``); errors name the file.

    Raises:
        EvaluationInputError: missing, a folder, unreadable, a corrupt ``.gz``, or a ``.gz``
            that expands beyond ``max(256 MiB, 200 x its size)``.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise EvaluationInputError(f"{what} file not found", path=path) from None
    except IsADirectoryError:
        raise EvaluationInputError(f"expected a {what} file, got a folder", path=path) from None
    except OSError as exc:
        raise EvaluationInputError(
            f"cannot read {what} file: {exc.strerror or exc}", path=path
        ) from None
    if path.suffix != ".gz":
        return data
    cap = max(_EXPANSION_CAP, _EXPANSION_RATIO * len(data))
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(cap + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise EvaluationInputError(f"not a readable .gz file ({exc})", path=path) from None
    if len(out) > cap:
        raise EvaluationInputError(
            f"the .gz file expands to more than {cap} bytes; decompress it first if it is genuine",
            path=path,
        )
    return out


def decode_utf8(data: bytes, path: Path) -> str:
    """``data`` as UTF-8 text; an undecodable byte is an error naming its line (never replaced).

    Raises:
        EvaluationInputError: the first undecodable byte, with its line and byte offset.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise EvaluationInputError(
            f"line {line}: byte {data[exc.start]:#04x} at offset {exc.start} is not UTF-8 text "
            f"({exc.reason}); the file must be UTF-8",
            path=path,
        ) from None


def builtin_thumos14_files() -> dict[str, bytes]:
    """The official THUMOS'14 test annotation files shipped with the package, by file name."""
    out: dict[str, bytes] = {}
    with tarfile.open(_package_file(_THUMOS14_OFFICIAL), "r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    out[Path(member.name).name] = handle.read()
    return out


MAX_JSON_DEPTH = 256
"""The deepest JSON nesting accepted (an ActivityNet file is 4 or 5 levels deep). Deeper input is
refused before any parser sees it: the standard library's parser recurses, and some builds of
orjson crash the process on a few hundred thousand levels."""


def check_json_depth(data: bytes, path: Path) -> None:
    """Refuse JSON nested more than :data:`MAX_JSON_DEPTH` levels, before parsing it.

    Every bracket counts first (one vectorised pass); only when that bound exceeds the limit are
    the brackets inside strings told apart, by a walk over the quotes, backslashes and brackets.

    Raises:
        EvaluationInputError: the nesting is deeper than the limit (the message names the file).
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    step = np.zeros(buf.shape[0], dtype=np.int8)
    step[(buf == _OPEN_ARRAY) | (buf == _OPEN_OBJECT)] = 1
    step[(buf == _CLOSE_ARRAY) | (buf == _CLOSE_OBJECT)] = -1
    if int(np.cumsum(step, dtype=np.int64).max(initial=0)) <= MAX_JSON_DEPTH:
        return
    depth = 0
    in_string = escaped = False
    previous = -2
    for pos in np.flatnonzero((step != 0) | (buf == _QUOTE) | (buf == _BACKSLASH)).tolist():
        char = data[pos]
        if escaped and pos == previous + 1:  # the character a backslash escapes
            escaped = False
        elif char == _BACKSLASH:
            escaped = in_string
        elif char == _QUOTE:
            in_string, escaped = not in_string, False
        elif not in_string:
            escaped = False
            depth += 1 if char in (_OPEN_ARRAY, _OPEN_OBJECT) else -1
            if depth > MAX_JSON_DEPTH:
                raise EvaluationInputError(
                    f"malformed JSON: nested more than {MAX_JSON_DEPTH} levels deep", path=path
                )
        previous = pos


_OPEN_ARRAY, _CLOSE_ARRAY, _OPEN_OBJECT, _CLOSE_OBJECT = b"[]{}"
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
