"""The exception type of the evaluator, and its warnings.

Every problem with evaluation input (a file that does not parse, a field of the wrong type, a
segment with ``end < start``, a label outside the ground truth, an empty subset, ...) raises
:class:`EvaluationInputError`. Its message names where the problem is: the file, the video, the
index of the item inside that video, and the field. The command-line tool prints that message
as one line and exits with status 2, without a traceback.
"""

from __future__ import annotations

__all__ = ["EvaluationInputError", "UnmatchedVideosWarning"]


class EvaluationInputError(ValueError):
    """Invalid evaluation input.

    Attributes:
        path: the file the problem was found in, if any.
        video: the video id, if the problem belongs to one video.
        index: the 0-based index of the item (prediction or annotation) inside that video.
        field: the field name (``"segment"``, ``"score"``, ``"label"``, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        path: object = None,
        video: str | None = None,
        index: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.video = video
        self.index = index
        self.field = field
        self.reason = message
        where = []
        if video is not None:
            where.append(f"video {video!r}")
        if index is not None:
            where.append(f"item {index}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = f"{self.path}: " if self.path is not None else ""
        location = ", ".join(where)
        super().__init__(f"{prefix}{location}: {message}" if location else f"{prefix}{message}")


class UnmatchedVideosWarning(UserWarning):
    """No prediction is on a video of the ground truth, so every AP is 0.

    Usually a naming mismatch (a ``.mp4`` suffix, ActivityNet's ``v_`` prefix) or the wrong
    ground-truth subset; the message names the first unmatched videos and, when a common
    renaming would make them match, says which. ``strict=True`` (``wtal-eval --strict``) makes
    it an :class:`EvaluationInputError`.
    """
