"""Hostile input to the evaluator and ``wtal-eval``: every case is refused (or warned about) with
one line that names the problem and where it is; the command exits 2 with exactly one line on
stderr and nothing on stdout; memory stays bounded by the input."""

from __future__ import annotations

import json
import os
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.reference.detection_reference import detection_map
from wtal_blocks.cli.eval import main
from wtal_blocks.evaluation import (
    EvaluationInputError,
    GroundTruth,
    Predictions,
    Thumos14Annotations,
    UnmatchedVideosWarning,
    _jsonfields,
    _matching,
    evaluate_detection,
    evaluate_thumos14,
    load_activitynet_ground_truth,
    load_activitynet_results,
    load_predictions,
    load_thumos14_annotations,
    load_thumos14_results,
    results_io,
)

DUNK_VIDEO = "video_test_0000716"  # 218 BasketballDunk instances in the built-in "thumos14"


@pytest.fixture(params=["stdlib json", "orjson when installed"])
def json_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "stdlib json":
        monkeypatch.setattr(_jsonfields, "fast_loads", lambda: None)
    return str(request.param)


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``wtal-eval``; it must exit 2 with one stderr line and no stdout. Returns the line."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("wtal-eval: error: ")
    return captured.err.removeprefix("wtal-eval: error: ").rstrip("\n")


def _results(path: Path, results: dict[str, list[Any]]) -> Path:
    path.write_text(json.dumps({"results": results}))
    return path


def _pred(label: str, score: float, segment: list[float]) -> dict[str, Any]:
    return {"label": label, "score": score, "segment": segment}


# ----------------------------------------------------------------------------- all-overlapping


def _all_overlapping(n: int, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    return Predictions(
        video_ids=(DUNK_VIDEO,),
        label_names=("BasketballDunk",),
        segments=np.tile([0.0, 700.0], (n, 1)),
        scores=rng.random(n),
        labels=np.zeros(n, dtype=np.int64),
        videos=np.zeros(n, dtype=np.int64),
    )


def test_all_overlapping_predictions_never_materialise_all_pairs() -> None:
    gt = load_activitynet_ground_truth("thumos14")
    preds = _all_overlapping(20_000)
    # 20k x 218 overlapping pairs would be ~40 MB per int64 column (the old evaluator built
    # about a dozen such columns); the chunked evaluator stays far below one column.
    tracemalloc.start()
    result = evaluate_detection(gt, preds, "0.1:0.7:0.1")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 24 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    # a [0, 700] segment has tIoU <= 4.5 / 700 with every instance: all false positives
    assert result.num_predictions == 20_000
    assert result.ap.tolist() == [[0.0] * 7] * 20 and result.mAP.tolist() == [0.0] * 7


def test_all_overlapping_passing_predictions_are_matched_in_bounded_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # at tIoU 0.001 every [0, 700] prediction passes with most of the 218 instances: the
    # matching works through every pair, a chunk at a time, and equals the plain loop
    gt = load_activitynet_ground_truth("thumos14")
    preds = _all_overlapping(300, seed=1)
    sizes: list[int] = []
    original = _matching.iter_candidate_pairs

    def recording(*args: Any, **kwargs: Any) -> Any:
        for agent, item in original(*args, **kwargs):
            sizes.append(agent.shape[0])
            yield agent, item

    monkeypatch.setattr(_matching, "PAIR_BUDGET", 5_000)
    monkeypatch.setattr(_matching, "_MATCH_BUDGET", 777)
    monkeypatch.setattr("wtal_blocks.evaluation.detection.iter_candidate_pairs", recording)
    thresholds = [0.001, 0.0015, 0.002]
    result = evaluate_detection(gt, preds, thresholds)
    assert max(sizes) <= 5_000 and sum(sizes) == 300 * 218
    dunk = gt.class_names.index("BasketballDunk")
    g = gt.labels == dunk
    ref_ap, _ = detection_map(
        [
            (gt.video_ids[v], "d", s, e)
            for (s, e), v in zip(gt.segments[g].tolist(), gt.videos[g], strict=True)
        ],
        [(DUNK_VIDEO, "d", 0.0, 700.0, float(s)) for s in preds.scores],
        thresholds,
    )
    row = result.class_names.index("BasketballDunk")
    np.testing.assert_allclose(result.ap[row], ref_ap["d"], rtol=0, atol=1e-12)
    assert result.ap[row, 0] > 0


def test_all_overlapping_file_through_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "overlap.txt"
    rng = np.random.default_rng(3)
    path.write_text(
        "".join(f"{DUNK_VIDEO} 0 700 BasketballDunk {float(s)!r}\n" for s in rng.random(5000))
    )
    assert main(["thumos14", str(path), "--tiou", "0.1:0.7:0.1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mAP"] == [0.0] * 7 and doc["ap"]["BasketballDunk"] == [0.0] * 7


# ----------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("0:1:1e-9", "--tiou '0:1:1e-9': more than 1000 values (the limit)"),
        ("", "--tiou '': an empty value (expected LO:HI:STEP or a comma list such as 0.3,0.5)"),
        (
            "0,0.5",
            "--tiou '0,0.5': thresholds must be > 0 for the ActivityNet protocol (a pair that "
            "does not overlap has tIoU 0), got [0.0, 0.5]",
        ),
    ],
)
def test_bad_tiou_is_refused_before_reading_anything(
    spec: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "not_read.json"  # the thresholds are checked first
    assert _refused(["thumos14", str(missing), "--tiou", spec], capsys) == message


def test_zero_threshold_names_the_wtalc_protocol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused(
        [str(tmp_path), str(tmp_path / "s.npz"), "--protocol", "wtalc", "--tiou", "0,0.5"], capsys
    )
    assert line.startswith("--tiou '0,0.5': thresholds must be > 0 for the W-TALC protocol")


# ----------------------------------------------------------------------------- no match


@pytest.mark.parametrize(
    ("gt", "rename", "hint"),
    [
        ("thumos14", lambda v: v + ".mp4", "2 would match without the '.mp4' suffix"),
        ("anet12", lambda v: "v_" + v, "2 would match without the 'v_' prefix"),
    ],
)
def test_results_on_no_ground_truth_video_warn_with_the_first_ids(
    gt: str,
    rename: Any,
    hint: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    truth = load_activitynet_ground_truth(gt)
    videos = [rename(v) for v in truth.video_ids[:2]]
    label = truth.class_names[0]
    path = _results(tmp_path / "r.json", {v: [_pred(label, 0.5, [1.0, 2.0])] for v in videos})
    assert main([gt, str(path), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["mAP"] == [0.0] * 10
    assert captured.err.count("\n") == 1
    line = captured.err.rstrip("\n")
    assert line == (
        "wtal-eval: warning: none of the 2 videos of the predictions is one of the "
        f"{len(truth.video_ids)} ground-truth videos of subset {truth.subset!r} "
        f"(first: {videos[0]!r}, {videos[1]!r}); {hint}; every AP is 0"
    )
    refused = _refused([gt, str(path), "--strict"], capsys)
    assert refused == f"{path}: " + line.removeprefix("wtal-eval: warning: ")
    with pytest.warns(UnmatchedVideosWarning, match=hint):
        evaluate_detection(truth, load_activitynet_results(path))
    with pytest.raises(EvaluationInputError, match="none of the 2 videos"):
        evaluate_detection(truth, load_activitynet_results(path), strict=True)


def test_a_ground_truth_subset_without_the_results_videos_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # THUMOS'14 gt.json, validation subset ('train'), with results on test videos
    path = _results(
        tmp_path / "r.json", {"video_test_0000004": [_pred("CricketBowling", 0.5, [1.0, 2.0])]}
    )
    assert main(["thumos14", str(path), "--subset", "train", "--tiou", "0.5"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert (
        "none of the 1 videos of the predictions is one of the 200 ground-truth videos of " in err
    )
    assert "subset 'train' (first: 'video_test_0000004')" in err


def test_thumos14_protocol_warns_too(thumos14_annotation_dir: Path) -> None:
    ann = load_thumos14_annotations(thumos14_annotation_dir)
    preds = Predictions(
        ("v_video_test_0000004",), ("7",), np.array([[0.0, 1.0]]), np.array([0.5]),
        np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64),
    )  # fmt: skip
    with pytest.warns(UnmatchedVideosWarning, match="1 would match without the 'v_' prefix"):
        evaluate_thumos14(ann, preds)
    with pytest.raises(EvaluationInputError, match="none of the 1 videos"):
        evaluate_thumos14(ann, preds, strict=True)


def test_partly_matching_results_do_not_warn() -> None:
    gt = load_activitynet_ground_truth("thumos14")
    preds = Predictions(
        ("video_test_0000004", "elsewhere"), ("CricketBowling",), np.array([[0.0, 1.0]] * 2),
        np.array([0.5, 0.4]), np.zeros(2, dtype=np.int64), np.array([0, 1]),
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate_detection(gt, preds, "0.5")


# ----------------------------------------------------------------------------- duplicates


def test_a_repeated_video_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_backend: str
) -> None:
    path = tmp_path / "dup.json"
    one = json.dumps([_pred("CricketBowling", 0.5, [0.0, 1.0])])
    path.write_text(
        '{"results": {\n"video_test_0000004": ' + one + ',\n"video_test_0000006": [],\n'
        '"video_test_0000004": ' + one + "\n}}"
    )
    expected = (
        f"{path}: video 'video_test_0000004': appears twice in \"results\" (again at line 4 "
        "column 1); JSON readers keep only the last list (the official evaluator drops the "
        "earlier predictions without a word): write each video once"
    )
    with pytest.raises(EvaluationInputError) as info:
        load_activitynet_results(path)
    assert str(info.value) == expected and info.value.video == "video_test_0000004"
    assert _refused(["thumos14", str(path)], capsys) == expected


def test_a_repeated_video_key_in_different_pieces_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(results_io, "_PIECE_BYTES", 64)  # one video per decoded piece
    path = _results(
        tmp_path / "r.json",
        {f"v{i}": [_pred("a", 0.5, [0.0, 1.0])] * 3 for i in range(5)},
    )
    text = path.read_text().replace('"v3"', '"v1"')
    path.write_text(text)
    with pytest.raises(EvaluationInputError, match=r"video 'v1': appears twice in \"results\""):
        load_activitynet_results(path)


def test_a_repeated_video_key_in_the_ground_truth_is_refused(tmp_path: Path) -> None:
    entry = json.dumps({"subset": "test", "annotations": [{"label": "a", "segment": [0, 1]}]})
    path = tmp_path / "gt.json"
    path.write_text('{"database": {"v1": ' + entry + ', "v1": ' + entry + "}}")
    with pytest.raises(EvaluationInputError) as info:
        load_activitynet_ground_truth(path)
    assert str(info.value).startswith(
        f"{path}: video 'v1': appears twice in \"database\" (again at line 1 column "
    )


# ----------------------------------------------------------------------------- bytes


def test_undecodable_bytes_in_text_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.txt"
    path.write_bytes(b"video_test_0000004 0 1 7 0.5\nvideo_test_\xff0000004 0 1 7 0.5\n")
    message = f"{path}: line 2: column 12: byte 0xff is not UTF-8 text (invalid start byte); the file must be UTF-8"
    with pytest.raises(EvaluationInputError) as info:
        load_thumos14_results(path)
    assert str(info.value) == message
    assert _refused(["thumos14", str(path)], capsys) == message
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_bytes(b'{"video": "a\xff", "label": "x", "score": 1, "segment": [0, 1]}\n')
    with pytest.raises(EvaluationInputError, match=r"r.jsonl: line 1: malformed JSON: not UTF-8"):
        load_predictions(jsonl)


def test_a_nul_byte_in_text_results(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_bytes(b"a 0 1 7 0.5\na 0 1 7\x00 0.5\n")
    with pytest.raises(EvaluationInputError, match=r"r.txt: line 2: a NUL byte"):
        load_predictions(path)


# ----------------------------------------------------------------------------- containers


def _preds(**over: Any) -> Predictions:
    fields: dict[str, Any] = {
        "video_ids": ("v",),
        "label_names": ("a",),
        "segments": np.array([[0.0, 1.0], [2.0, 3.0]]),
        "scores": np.array([0.9, 0.1]),
        "labels": np.array([0, 0]),
        "videos": np.array([0, 0]),
    }
    fields.update(over)
    return Predictions(**fields)


@pytest.mark.parametrize(
    ("over", "error", "message"),
    [
        ({"scores": np.array([0.9, np.nan])}, EvaluationInputError, r"Predictions.scores\[1\] = nan is not finite"),
        ({"segments": np.array([[0.0, 1.0], [3.0, 2.0]])}, EvaluationInputError, r"Predictions.segments\[1\] = \[3.0, 2.0\] ends before it starts"),
        ({"segments": np.array([[0.0, 1.0], [2.0, np.inf]])}, EvaluationInputError, r"Predictions.segments\[1\] = \[2.0, inf\] is not finite"),
        ({"segments": np.array([0.0, 1.0, 2.0, 3.0])}, EvaluationInputError, r"Predictions.segments must have shape \(N, 2\), got \(4,\)"),
        ({"scores": np.array([0.9])}, EvaluationInputError, "Predictions.scores has 1 rows, the segments 2"),
        ({"labels": np.array([0, 1])}, EvaluationInputError, r"Predictions.labels\[1\] = 1 is not an index into label_names \(1 entries\)"),
        ({"videos": np.array([0, -1])}, EvaluationInputError, r"Predictions.videos\[1\] = -1 is not an index into video_ids"),
        ({"labels": np.array([0.0, 0.0])}, TypeError, "Predictions.labels must hold integers, got dtype float64"),
        ({"scores": [0.9, 0.1]}, TypeError, r"Predictions.scores must be a numpy array, got list \(wrap it in np.asarray\)"),
        ({"video_ids": "v"}, TypeError, "Predictions.video_ids must be a tuple of strings, got str"),
        ({"label_names": ("a", "a")}, EvaluationInputError, "Predictions.label_names repeats 'a'"),
    ],
)  # fmt: skip
def test_hand_built_predictions_are_validated(over: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        _preds(**over)


def test_a_nan_score_can_no_longer_give_map_one() -> None:
    # before: the NaN-scored false positive ranked last and the AP was 1.0
    with pytest.raises(EvaluationInputError, match=r"Predictions.scores\[1\] = nan"):
        _preds(scores=np.array([0.9, np.nan]))


def test_hand_built_ground_truth_is_validated() -> None:
    ok = {
        "video_ids": ("v",),
        "class_names": ("a",),
        "labels": np.array([0]),
        "videos": np.array([0]),
    }
    with pytest.raises(
        EvaluationInputError,
        match=r"GroundTruth.segments\[0\] = \[5.0, 1.0\] ends before it starts",
    ):
        GroundTruth(segments=np.array([[5.0, 1.0]]), **ok)
    with pytest.raises(TypeError, match=r"GroundTruth\.segments must be a numpy array, got list"):
        GroundTruth(segments=[[0.0, 1.0]], **ok)
    with pytest.raises(EvaluationInputError, match=r"GroundTruth.videos\[0\] = 3 is not an index"):
        GroundTruth(segments=np.array([[0.0, 1.0]]), **{**ok, "videos": np.array([3])})
    with pytest.raises(TypeError, match=r"GroundTruth\.subset must be a string or None"):
        GroundTruth(segments=np.array([[0.0, 1.0]]), subset=5, **ok)  # type: ignore[arg-type]
    gt = GroundTruth(segments=np.array([[0, 1]], dtype=np.int32), **ok)
    assert gt.segments.dtype == np.float64  # integer segments are accepted as numbers


def test_hand_built_thumos14_annotations_are_validated() -> None:
    with pytest.raises(EvaluationInputError, match=r"ambiguous_segments\[0\] = \[2.0, 1.0\]"):
        Thumos14Annotations(
            ("A",), (7,), ("v",), np.array([[0.0, 1.0]]), np.array([0]), np.array([0]),
            np.array([[2.0, 1.0]]), np.array([0]),
        )  # fmt: skip


# ----------------------------------------------------------------------------- JSON limits


def test_deep_nesting_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_backend: str
) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"results": {"v1": ' + "[" * 100_000 + "]" * 100_000 + "}}")
    expected = (
        f"{path}: malformed JSON at line 1 column 82: nested deeper than 64 levels "
        "(an ActivityNet file is 5)"
    )
    with pytest.raises(EvaluationInputError) as info:
        load_activitynet_results(path)
    assert str(info.value) == expected
    assert _refused(["thumos14", str(path)], capsys) == expected
    gt = tmp_path / "gt.json"
    gt.write_text('{"database": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert _refused([str(gt), str(path)], capsys).startswith(
        f"{gt}: malformed JSON at line 1 column 77: nested deeper than 64 levels"
    )


def test_a_5000_digit_number_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_backend: str
) -> None:
    path = tmp_path / "big.json"
    path.write_text(
        '{"results": {"v1": [{"label": "a", "score": ' + "1" * 5000 + ', "segment": [0, 1]}]}}'
    )
    expected = (
        f"{path}: malformed JSON at line 1 column 45: a number with 5000 digits (more than "
        "4300: not a score or a time)"
    )
    with pytest.raises(EvaluationInputError) as info:
        load_activitynet_results(path)
    assert str(info.value) == expected
    assert _refused(["thumos14", str(path)], capsys) == expected


def test_a_5000_digit_number_in_text_results(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("v 0 1 a 0.5\nv 0 " + "1" * 5000 + " a 0.5\n")
    with pytest.raises(EvaluationInputError) as info:
        load_predictions(path)
    assert str(info.value) == (
        f"{path}: video 'v', field 'end': line 2: a 5000-character end: not a number of at "
        "most 64 characters"
    )


# ----------------------------------------------------------------------------- ground truth


def test_a_subset_that_is_not_a_string_blames_the_ground_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"database": {"v1": {"subset": 5, "annotations": []}}}))
    results = _results(tmp_path / "r.json", {"v1": []})
    expected = f"{gt}: video 'v1', field 'subset': expected a subset name (string), got 5"
    assert _refused([str(gt), str(results)], capsys) == expected
    with pytest.raises(EvaluationInputError) as info:
        load_activitynet_ground_truth(gt)
    assert str(info.value) == expected


def test_a_ground_truth_without_instances_blames_the_ground_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"database": {"v1": {"subset": "test", "annotations": []}}}))
    results = _results(tmp_path / "r.json", {"v1": []})
    assert _refused([str(gt), str(results)], capsys) == (
        f"{gt}: the ground truth has no action instance to evaluate against"
    )


# ----------------------------------------------------------------------------- --plots


def test_plots_into_a_file_fails_before_the_evaluation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "plots"
    a_file.write_text("not a folder")
    missing = tmp_path / "never_read.json"  # the folder is checked before any input is read
    assert _refused(["thumos14", str(missing), "--plots", str(a_file)], capsys) == (
        f"--plots {a_file}: exists and is not a folder"
    )
    below = a_file / "sub"
    assert _refused(["thumos14", str(missing), "--plots", str(below)], capsys) == (
        f"--plots {below}: {a_file} is a file, not a folder"
    )


def test_plots_into_a_folder_that_is_not_writable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    target = tmp_path / "plots"
    assert _refused(["thumos14", str(tmp_path / "x.json"), "--plots", str(target)], capsys) == (
        f"--plots {target}: the folder {tmp_path} is not writable"
    )
    assert not target.exists()


# ----------------------------------------------------------------------------- argument types


def test_decoded_json_instead_of_containers_names_the_argument(tmp_path: Path) -> None:
    gt_doc = {"database": {"v": {"subset": "test", "annotations": []}}}
    with pytest.raises(
        TypeError,
        match=r"^gt must be a GroundTruth, a path .* got dict \(a decoded JSON document\?",
    ):
        evaluate_detection(gt_doc, {"results": {}})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^predictions must be a Predictions, a path .* got dict"):
        evaluate_detection("thumos14", {"results": {}})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^predictions must be a Predictions, a path .* got list"):
        evaluate_detection("thumos14", [[0.0, 1.0]])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^annotations must be Thumos14Annotations"):
        evaluate_thumos14("thumos14", _preds())  # type: ignore[arg-type]


def test_options_of_another_protocol_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "r.json")
    assert _refused(["thumos14", missing, "--side-by-side"], capsys) == (
        "--side-by-side applies to --protocol wtalc only"
    )
    assert _refused(["thumos14", missing, "--feature-type", "UNT"], capsys) == (
        "--feature-type applies to --protocol wtalc only"
    )


# ----------------------------------------------------------------------------- JSON structure


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"results": {"v": []}, "results": {}}', '"results" appears twice in the file'),
        ('{"results": [1, 2]}', '"results" must be an object, got list'),
        (
            '{"results": {} junk}',
            "malformed JSON at line 1 column 16: unexpected data after the 'results' object",
        ),
        ('{"results": {"v": []}, "version": tru}', "malformed JSON at line 1 column 35: "),
        ('{"results": {"v": []}} {}', "malformed JSON at line 1 column 24: "),
    ],
)
def test_malformed_structure_is_refused_whole(
    text: str, message: str, tmp_path: Path, json_backend: str
) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(EvaluationInputError) as info:
        load_activitynet_results(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_plots_into_an_input_folder_is_refused(
    thumos14_annotation_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = str(thumos14_annotation_dir)
    line = _refused(
        [folder, str(tmp_path / "r.txt"), "--protocol", "thumos14", "--plots", folder], capsys
    )
    assert line == f"--plots {folder}: is an input; give another folder"
