"""Reading W-TALC's data layout for evaluation: the annotation directory and dense scores.

* :func:`load_wtalc_annotations`: the ``Thumos14reduced-Annotations`` files (``videoname.npy``,
  ``subset.npy``, ``classlist.npy``, ``segments.npy``, ``labels.npy``, ``duration.npy``,
  ``Ambiguous_test.txt``) as one :class:`WtalcAnnotations`.
* :func:`load_wtalc_scores`: a ``SCORES.npz`` of one ``(L_i, C)`` float array per test video.

Reading the files: ``segments.npy`` and ``labels.npy`` are pickled object arrays. They are read
by :func:`load_wtalc_annotations` with a restricted unpickler that can only rebuild a numpy
array of Python lists, strings and numbers (the globals ``numpy.ndarray``, ``numpy.dtype`` and
numpy's array ``_reconstruct``), never with ``np.load(allow_pickle=True)``, which would run
any code a crafted file contains; every row is then checked for the expected types.
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ._arrays import as_numpy
from .errors import EvaluationInputError

__all__ = [
    "FeatureType",
    "WtalcAnnotations",
    "load_wtalc_annotations",
    "load_wtalc_scores",
    "read_object_array",
]

FeatureType = Literal["I3D", "UNT"]
ScoresInput = Mapping[str, Any] | Sequence[Any]

_FEATURE_RATE = {"I3D": 25.0 / 16.0, "UNT": 10.0 / 4.0}
_SCORE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_I64 = np.int64
PathLike = str | os.PathLike[str]


# --------------------------------------------------------------------------------------------
# annotations


@dataclass(frozen=True, eq=False)
class WtalcAnnotations:
    """W-TALC's annotation directory (``Thumos14reduced-Annotations/`` layout).

    Row ``i`` of every per-video field is video ``i`` of the files.

    Attributes:
        video_names: ``(V,)`` every video of the files, in file order.
        subsets: ``(V,)`` the subset of each video (``"validation"`` or ``"test"``).
        class_names: ``(C,)`` ``classlist.npy``: the column order of every score array.
        segments: ``(G, 2)`` float64 ``[start, end]`` in seconds, every video's instances in
            video order, then file order.
        labels: ``(G,)`` int64 index into ``class_names``.
        videos: ``(G,)`` int64 index into ``video_names``.
        durations: ``(V,)`` float64 video durations in seconds (unused by the protocol).
        ambiguous_names: ``(A,)`` the video name of each ``Ambiguous_test.txt`` interval, as
            written (it may name a video absent from ``video_names``).
        ambiguous_segments: ``(A, 2)`` float64 ``[start, end]`` in seconds.
        path: the directory the files were read from, if any.
        video_labels: per video, its video-level class names from ``labels_all.npy`` (the
            weak labels W-TALC-style training uses; not derived from ``labels.npy``), or
            ``()`` when the file is absent.
    """

    video_names: tuple[str, ...]
    subsets: tuple[str, ...]
    class_names: tuple[str, ...]
    segments: NDArray[np.float64]
    labels: NDArray[np.int64]
    videos: NDArray[np.int64]
    durations: NDArray[np.float64]
    ambiguous_names: tuple[str, ...] = ()
    ambiguous_segments: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 2)))
    path: str | None = None
    video_labels: tuple[tuple[str, ...], ...] = ()

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        """``C``, the number of columns of every score array."""
        return len(self.class_names)

    def test_rows(self) -> NDArray[np.int64]:
        """Row indices of the test-subset videos, in file order (W-TALC's prediction order)."""
        return np.asarray(
            [i for i, s in enumerate(self.subsets) if s == "test"], dtype=_I64
        ).reshape(-1)

    def test_video_names(self) -> tuple[str, ...]:
        """Names of the test-subset videos, in file order."""
        return tuple(self.video_names[i] for i in self.test_rows().tolist())

    def evaluated_rows(self) -> NDArray[np.int64]:
        """Rows of the test videos that have at least one segment (those W-TALC evaluates)."""
        rows = self.test_rows()
        has = np.zeros(len(self.video_names), dtype=bool)
        has[self.videos] = True
        return rows[has[rows]]


def _feature_rate(feature_type: str) -> float:
    rate = _FEATURE_RATE.get(feature_type)
    if rate is None:
        raise EvaluationInputError(
            f"feature_type must be 'I3D' (25/16 features per second) or 'UNT' (10/4), "
            f"got {feature_type!r}",
            field="feature_type",
        )
    return rate


def _read_plain_npy(path: Path) -> NDArray[Any]:
    """A non-object ``.npy`` array (``allow_pickle=False``)."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise EvaluationInputError("annotation file not found", path=path) from None
    except (OSError, ValueError, EOFError) as exc:
        raise EvaluationInputError(f"not a readable .npy array: {exc}", path=path) from None
    if not isinstance(arr, np.ndarray):
        raise EvaluationInputError("expected a single .npy array", path=path)
    return arr


def _restricted_globals() -> dict[tuple[str, str], Any]:
    # what np.save writes into the pickle of an object array, under numpy 1 and 2 names
    reconstruct = np.empty(0, dtype=object).__reduce__()[0]
    return {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class _ObjectArrayUnpickler(pickle.Unpickler):
    """Unpickles an ``ndarray`` of builtins only: any other global is refused before use."""

    _allowed = _restricted_globals()

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")
        return found


def read_object_array(path: Path, what: str = "annotation") -> NDArray[Any]:
    """A 1-D pickled object array (``segments.npy``, ``labels.npy``, W-TALC's joint feature
    file), read with a restricted unpickler instead of ``np.load(allow_pickle=True)``: only
    numpy arrays of numbers and Python lists, strings and numbers can come out of it."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as fp:
            version = fmt.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, _, dtype = fmt.read_array_header_2_0(fp)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
            if dtype != np.dtype(object):
                raise ValueError(f"expected a pickled object array, got dtype {dtype}")
            if len(shape) != 1:
                raise ValueError(f"expected a 1-D array (one row per video), got shape {shape}")
            # numpy's own reader passes the same options (py2 compat off by default: ASCII)
            arr = _ObjectArrayUnpickler(fp, encoding="ASCII").load()
    except FileNotFoundError:
        raise EvaluationInputError(f"{what} file not found", path=path) from None
    except Exception as exc:  # anything a malformed or hostile pickle raises
        raise EvaluationInputError(f"not a W-TALC object array: {exc}", path=path) from None
    if not isinstance(arr, np.ndarray) or arr.dtype != np.dtype(object) or arr.shape != shape:
        raise EvaluationInputError(
            f"the pickle does not hold an object array of shape {shape}", path=path
        )
    return arr


def _strings(path: Path, arr: NDArray[Any], n: int | None) -> tuple[str, ...]:
    """A 1-D ``|S`` (decoded as UTF-8) or ``<U`` array as Python strings."""
    if arr.ndim != 1:
        raise EvaluationInputError(f"expected a 1-D array, got shape {arr.shape}", path=path)
    if n is not None and arr.shape[0] != n:
        raise EvaluationInputError(
            f"expected {n} rows (one per video of videoname.npy), got {arr.shape[0]}", path=path
        )
    if arr.dtype.kind == "S":
        try:
            return tuple(b.decode("utf-8") for b in arr.tolist())
        except UnicodeDecodeError as exc:
            raise EvaluationInputError(f"not UTF-8 text: {exc.reason}", path=path) from None
    if arr.dtype.kind == "U":
        return tuple(str(s) for s in arr.tolist())
    raise EvaluationInputError(f"expected an array of strings, got dtype {arr.dtype}", path=path)


def _is_number(x: object) -> bool:
    return isinstance(x, (float, int)) and not isinstance(x, bool) and math.isfinite(x)


def _segment_rows(
    path: Path, rows: NDArray[Any], names: tuple[str, ...]
) -> tuple[list[list[float]], list[int]]:
    """Check every row of ``segments.npy`` (a list of ``[start, end]`` number lists)."""
    flat: list[list[float]] = []
    counts: list[int] = []
    for i, row in enumerate(rows.tolist()):
        if not isinstance(row, (list, tuple)):
            raise EvaluationInputError(
                f"row {i}: expected a list of [start, end] lists, got {type(row).__name__}",
                path=path,
                video=names[i],
                field="segments",
            )
        for j, seg in enumerate(row):
            ok = isinstance(seg, (list, tuple)) and len(seg) == 2 and all(map(_is_number, seg))
            if not ok:
                raise EvaluationInputError(
                    f"row {i}: expected [start, end] with two finite numbers, got {seg!r}",
                    path=path,
                    video=names[i],
                    index=j,
                    field="segments",
                )
            if seg[1] < seg[0]:
                raise EvaluationInputError(
                    f"row {i}: segment {list(seg)} ends before it starts",
                    path=path,
                    video=names[i],
                    index=j,
                    field="segments",
                )
            flat.append([float(seg[0]), float(seg[1])])
        counts.append(len(row))
    return flat, counts


def _video_label_rows(
    path: Path, names: tuple[str, ...], classes: set[str]
) -> tuple[tuple[str, ...], ...]:
    """Check every row of ``labels_all.npy`` (a list of the video's class names)."""
    rows = read_object_array(path)
    if rows.shape[0] != len(names):
        raise EvaluationInputError(
            f"expected {len(names)} rows (one per video of videoname.npy), got {rows.shape[0]}",
            path=path,
        )
    out = []
    for i, row in enumerate(rows.tolist()):
        if not isinstance(row, (list, tuple)) or any(type(x) is not str for x in row):
            raise EvaluationInputError(
                f"row {i}: expected a list of class names", path=path, video=names[i]
            )
        unknown = [x for x in row if x not in classes]
        if unknown:
            raise EvaluationInputError(
                f"row {i}: label {unknown[0]!r} is not in classlist.npy", path=path, video=names[i]
            )
        out.append(tuple(row))
    return tuple(out)


def _label_rows(
    path: Path,
    rows: NDArray[Any],
    names: tuple[str, ...],
    counts: list[int],
    class_index: dict[str, int],
) -> list[int]:
    """Check every row of ``labels.npy`` (a list of class names, one per segment)."""
    codes: list[int] = []
    for i, row in enumerate(rows.tolist()):
        if not isinstance(row, (list, tuple)):
            raise EvaluationInputError(
                f"row {i}: expected a list of class names, got {type(row).__name__}",
                path=path,
                video=names[i],
                field="labels",
            )
        if len(row) != counts[i]:
            raise EvaluationInputError(
                f"row {i}: {len(row)} labels for {counts[i]} segments",
                path=path,
                video=names[i],
                field="labels",
            )
        for j, label in enumerate(row):
            if type(label) is not str:
                raise EvaluationInputError(
                    f"row {i}: expected a class name (str), got {label!r}",
                    path=path,
                    video=names[i],
                    index=j,
                    field="labels",
                )
            code = class_index.get(label)
            if code is None:
                raise EvaluationInputError(
                    f"row {i}: label {label!r} is not in classlist.npy",
                    path=path,
                    video=names[i],
                    index=j,
                    field="labels",
                )
            codes.append(code)
    return codes


def _read_ambiguous(path: Path) -> tuple[tuple[str, ...], NDArray[np.float64]]:
    """``Ambiguous_test.txt`` parsed as W-TALC does: fields 0, 2, 3 of ``line.split(' ')``.

    The file is ``VIDEO  START END`` with two spaces after the name, so field 1 is empty.
    Line ends are those of Python's text mode (``\\n``, ``\\r\\n``, ``\\r``), so the CRLF copies
    of later repositories read the same. Blank lines are skipped.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise EvaluationInputError("ambiguous-interval file not found", path=path) from None
    except OSError as exc:
        raise EvaluationInputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EvaluationInputError(f"not UTF-8 text ({exc.reason})", path=path) from None
    names: list[str] = []
    spans: list[tuple[float, float]] = []
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if not line.strip():
            continue
        fields = line.split(" ")
        where = f"line {number}"
        if len(fields) < 4:
            raise EvaluationInputError(
                f"{where}: expected 'VIDEO  START END' (W-TALC reads fields 0, 2 and 3 of the "
                f"line split on single spaces), got {line!r}",
                path=path,
                field="ambiguous",
            )
        try:
            start, end = float(fields[2]), float(fields[3])
        except ValueError:
            raise EvaluationInputError(
                f"{where}: fields 2 and 3 must be numbers, got {fields[2]!r} and {fields[3]!r}",
                path=path,
                video=fields[0],
                field="ambiguous",
            ) from None
        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise EvaluationInputError(
                f"{where}: [{start}, {end}] is not a finite interval with start <= end",
                path=path,
                video=fields[0],
                field="ambiguous",
            )
        names.append(fields[0])
        spans.append((start, end))
    return tuple(names), np.asarray(spans, dtype=np.float64).reshape(-1, 2)


def load_wtalc_annotations(
    directory: PathLike, *, ambiguous_file: str | None = "Ambiguous_test.txt"
) -> WtalcAnnotations:
    """Read a W-TALC annotation directory (``Thumos14reduced-Annotations/`` layout).

    Reads ``videoname.npy``, ``subset.npy``, ``classlist.npy`` (byte or unicode strings),
    ``duration.npy`` (``(V,)`` or ``(V, 1)`` seconds), ``segments.npy`` and ``labels.npy``
    (pickled object arrays: read with a restricted unpickler, see the module docstring),
    ``labels_all.npy`` when present (the weak video-level labels) and ``Ambiguous_test.txt``.

    Args:
        directory: the annotation folder.
        ambiguous_file: the ambiguous-interval file inside it; ``None`` reads none (no
            proposal is ever deleted). W-TALC requires the file.

    Returns:
        :class:`WtalcAnnotations`.

    Raises:
        EvaluationInputError: a missing or malformed file, a row of the wrong type, a segment
            with ``end < start`` or a non-finite value, a label that is not in
            ``classlist.npy``, duplicate class names, or per-video files of different lengths.
    """
    root = Path(directory)
    if not root.is_dir():
        raise EvaluationInputError("W-TALC annotation folder not found", path=root)
    names = _strings(root / "videoname.npy", _read_plain_npy(root / "videoname.npy"), None)
    n = len(names)
    if len(set(names)) != n:
        raise EvaluationInputError("video names repeat", path=root / "videoname.npy")
    subsets = _strings(root / "subset.npy", _read_plain_npy(root / "subset.npy"), n)
    classes = _strings(root / "classlist.npy", _read_plain_npy(root / "classlist.npy"), None)
    if len(set(classes)) != len(classes):
        raise EvaluationInputError("class names repeat", path=root / "classlist.npy")
    dur_path = root / "duration.npy"
    duration = _read_plain_npy(dur_path)
    if duration.dtype.kind not in "fiu" or duration.ndim not in (1, 2) or duration.size != n:
        raise EvaluationInputError(
            f"expected ({n},) or ({n}, 1) numbers, got {duration.dtype} {duration.shape}",
            path=dur_path,
        )
    seg_path, lab_path = root / "segments.npy", root / "labels.npy"
    seg_rows = read_object_array(seg_path)
    lab_rows = read_object_array(lab_path)
    for p, rows in ((seg_path, seg_rows), (lab_path, lab_rows)):
        if rows.shape[0] != n:
            raise EvaluationInputError(
                f"expected {n} rows (one per video of videoname.npy), got {rows.shape[0]}", path=p
            )
    flat, counts = _segment_rows(seg_path, seg_rows, names)
    codes = _label_rows(lab_path, lab_rows, names, counts, {c: i for i, c in enumerate(classes)})
    video_labels: tuple[tuple[str, ...], ...] = ()
    if (root / "labels_all.npy").exists():
        video_labels = _video_label_rows(root / "labels_all.npy", names, set(classes))
    if ambiguous_file is None:
        amb_names: tuple[str, ...] = ()
        amb_segments = np.zeros((0, 2), dtype=np.float64)
    else:
        amb_names, amb_segments = _read_ambiguous(root / ambiguous_file)
    return WtalcAnnotations(
        video_names=names,
        subsets=subsets,
        class_names=classes,
        segments=np.asarray(flat, dtype=np.float64).reshape(-1, 2),
        labels=np.asarray(codes, dtype=_I64).reshape(-1),
        videos=np.repeat(np.arange(n, dtype=_I64), counts),
        durations=np.asarray(duration, dtype=np.float64).reshape(-1),
        ambiguous_names=amb_names,
        ambiguous_segments=amb_segments,
        path=str(root),
        video_labels=video_labels,
    )


# --------------------------------------------------------------------------------------------
# scores


def _check_cas(arr: Any, name: str, num_classes: int | None, path: object = None) -> NDArray[Any]:
    """One video's ``(L, C)`` float32/float64 scores, finite, ``L >= 1`` (layout kept)."""
    try:
        out = np.asarray(as_numpy(arr))
    except (TypeError, ValueError) as exc:
        raise EvaluationInputError(
            f"scores must be an (L, C) array: {exc}", path=path, video=name, field="scores"
        ) from None
    if out.ndim != 2:
        raise EvaluationInputError(
            f"scores must be a 2-D (L, C) array, got shape {out.shape}",
            path=path,
            video=name,
            field="scores",
        )
    if out.dtype not in _SCORE_DTYPES:
        raise EvaluationInputError(
            f"scores must be float32 or float64 (W-TALC computes in the array's dtype), "
            f"got {out.dtype}",
            path=path,
            video=name,
            field="scores",
        )
    if num_classes is not None and out.shape[1] != num_classes:
        raise EvaluationInputError(
            f"scores must have {num_classes} columns (classlist order), got shape {out.shape}",
            path=path,
            video=name,
            field="scores",
        )
    if out.shape[0] == 0:
        raise EvaluationInputError(
            "scores have no snippet (L = 0)", path=path, video=name, field="scores"
        )
    finite = np.isfinite(out)
    if not finite.all():
        row, col = (int(v) for v in np.argwhere(~finite)[0])
        raise EvaluationInputError(
            f"scores[{row}, {col}] = {out[row, col]} is not finite",
            path=path,
            video=name,
            index=row,
            field="scores",
        )
    return out


def _evaluated_scores(
    annotations: WtalcAnnotations, scores: ScoresInput, rows: NDArray[np.int64]
) -> list[NDArray[Any]]:
    """The score array of each row in ``rows`` (validated), from a mapping or a sequence."""
    names = annotations.video_names
    c = annotations.num_classes
    if isinstance(scores, Mapping):
        test = set(annotations.test_video_names())
        for key in scores:
            if key not in test:
                raise EvaluationInputError(
                    "not a test-subset video of the annotations", video=str(key), field="scores"
                )
        out = []
        for r in rows.tolist():
            if names[r] not in scores:
                raise EvaluationInputError(
                    "no scores for this test video (W-TALC evaluates every test video with "
                    "segments)",
                    video=names[r],
                    field="scores",
                )
            out.append(_check_cas(scores[names[r]], names[r], c))
        return out
    if isinstance(scores, (str, bytes)) or not isinstance(scores, (Sequence, np.ndarray)):
        raise EvaluationInputError(
            "scores must map video names to (L, C) arrays, or be a sequence of arrays in "
            f"test-subset order, got {type(scores).__name__}",
            field="scores",
        )
    test_rows = annotations.test_rows()
    if len(scores) != test_rows.shape[0]:
        raise EvaluationInputError(
            f"scores must hold one array per test video ({test_rows.shape[0]}, in annotation "
            f"order), got {len(scores)}",
            field="scores",
        )
    position = np.full(len(names), -1, dtype=_I64)
    position[test_rows] = np.arange(test_rows.shape[0], dtype=_I64)
    return [_check_cas(scores[int(position[r])], names[r], c) for r in rows.tolist()]


def load_wtalc_scores(
    path: PathLike, annotations: WtalcAnnotations | None = None
) -> dict[str, NDArray[Any]]:
    """Read ``SCORES.npz``: one ``(L_i, C)`` float array per video, keyed by video name.

    Loaded with ``allow_pickle=False``. Every array must be 2-D, float32 or float64, finite,
    with ``L_i >= 1``. With ``annotations``, every key must be a test video, every test video
    that W-TALC evaluates (those with segments) must be present, and every array must have
    ``C`` columns.

    Returns:
        ``{video name: (L, C) array}`` in the file's dtype and layout.

    Raises:
        EvaluationInputError: naming the file and the video.
    """
    p = Path(path)
    try:
        npz = np.load(p, allow_pickle=False)
    except FileNotFoundError:
        raise EvaluationInputError("scores file not found", path=p) from None
    except (OSError, ValueError, EOFError) as exc:
        raise EvaluationInputError(f"not a readable .npz archive: {exc}", path=p) from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise EvaluationInputError(
            "expected an .npz archive of (L, C) arrays keyed by video name", path=p
        )
    c = None if annotations is None else annotations.num_classes
    out: dict[str, NDArray[Any]] = {}
    with npz:
        for name in npz.files:
            try:
                arr = npz[name]
            except (OSError, ValueError, EOFError) as exc:  # object arrays, truncated members
                raise EvaluationInputError(
                    f"cannot read this member: {exc}", path=p, video=name, field="scores"
                ) from None
            out[name] = _check_cas(arr, name, c, path=p)
    if annotations is not None:
        test = set(annotations.test_video_names())
        for name in out:
            if name not in test:
                raise EvaluationInputError(
                    "not a test-subset video of the annotations", path=p, video=name
                )
        for r in annotations.evaluated_rows().tolist():
            name = annotations.video_names[r]
            if name not in out:
                raise EvaluationInputError(
                    "no scores for this test video", path=p, video=name, field="scores"
                )
    return out
