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

from .errors import EvaluationInputError

__all__ = [
    "BUILTIN_GROUND_TRUTH",
    "builtin_thumos14_files",
    "decode_utf8",
    "expansion_cap",
    "read_bytes",
    "resolve_ground_truth",
    "thumos14_class_ids",
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


def expansion_cap(path: Path) -> int | None:
    """The most bytes a ``.gz`` file may expand to (None for other files)."""
    if path.suffix != ".gz":
        return None
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return max(_EXPANSION_CAP, _EXPANSION_RATIO * size)


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


_CLASS_IDS: dict[int, str] = {}


def thumos14_class_ids() -> dict[int, str]:
    """UCF101 class id -> THUMOS'14 detection class name (the built-in ``detclasslist.txt``)."""
    if not _CLASS_IDS:
        text = builtin_thumos14_files()["detclasslist.txt"].decode("utf-8")
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2:
                _CLASS_IDS[int(parts[0])] = parts[1]
    return _CLASS_IDS
