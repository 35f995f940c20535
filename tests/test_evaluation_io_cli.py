"""File formats, input errors and the ``wtal-eval`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wtal_blocks.cli.eval import main
from wtal_blocks.evaluation import (
    DetectionMAP,
    EvaluationInputError,
    GroundTruth,
    Predictions,
    _jsonfields,
    evaluate_detection,
    iter_predictions,
    load_activitynet_ground_truth,
    load_activitynet_results,
    load_predictions,
    load_thumos14_results,
    results_io,
    write_activitynet_ground_truth,
    write_activitynet_results,
)
from wtal_blocks.evaluation.results_io import concatenate_predictions

REPO = Path(__file__).resolve().parents[1]

GT_DOC = {
    "database": {
        "v1": {
            "subset": "test",
            "annotations": [
                {"label": "jump", "segment": ["0.0", "10.0"]},  # strings, as in THUMOS'14 gt.json
                {"label": "run", "segment": [20, 30]},
            ],
        },
        "v2": {
            "subset": "test",
            "duration": 50.0,
            "annotations": [{"label": "jump", "segment": [5.0, 9.0]}],
        },
        "v3": {"subset": "train", "annotations": [{"label": "swim", "segment": [0.0, 1.0]}]},
    }
}


def _pred(label: str, score: Any, segment: Any) -> dict[str, Any]:
    return {"label": label, "score": score, "segment": segment}


GOOD_RESULTS = {
    "results": {
        "v1": [_pred("jump", 0.9, [0.0, 8.0]), _pred("run", 0.8, [21.0, 29.0])],
        "v2": [_pred("jump", 0.6, [5.0, 7.0])],
    }
}


def _write(path: Path, doc: Any) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return _write(tmp_path / "gt.json", GT_DOC), _write(tmp_path / "pred.json", GOOD_RESULTS)


# ----------------------------------------------------------------------------- readers / writers


def test_ground_truth_subset_and_string_segments(files: tuple[Path, Path]) -> None:
    gt = load_activitynet_ground_truth(files[0])  # auto: "test"
    assert gt.subset == "test" and gt.video_ids == ("v1", "v2")
    assert gt.class_names == ("jump", "run")
    assert gt.segments.tolist() == [[0.0, 10.0], [20.0, 30.0], [5.0, 9.0]]
    assert gt.durations == {"v2": 50.0}
    everything = load_activitynet_ground_truth(files[0], subset=None)
    assert everything.class_names == ("jump", "run", "swim")
    with pytest.raises(
        EvaluationInputError,
        match=r"subset 'validation' has no videos; subsets present: 'test' \(2 videos\), 'train' \(1 videos\)",
    ):
        load_activitynet_ground_truth(files[0], subset="validation")


def test_results_round_trip_and_atomic_write(
    tmp_path: Path, files: tuple[Path, Path], json_backend: str
) -> None:
    preds = load_activitynet_results(files[1])
    assert preds.video_ids == ("v1", "v2") and len(preds) == 3
    assert preds.label_names == ("jump", "run")
    out = tmp_path / "sub" / "copy.json"
    write_activitynet_results(out, preds)
    again = load_activitynet_results(out)
    assert again.segments.tolist() == preds.segments.tolist()
    assert again.scores.tolist() == preds.scores.tolist()
    assert [again.label_names[i] for i in again.labels] == [
        preds.label_names[i] for i in preds.labels
    ]
    assert sorted(p.name for p in out.parent.iterdir()) == ["copy.json"]  # no temporary left behind
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0o600
    gt = load_activitynet_ground_truth(files[0])
    write_activitynet_ground_truth(tmp_path / "gt2.json", gt)
    gt2 = load_activitynet_ground_truth(tmp_path / "gt2.json")
    assert gt2.segments.tolist() == gt.segments.tolist() and gt2.class_names == gt.class_names


def test_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _write(tmp_path / "r.json", GOOD_RESULTS)
    preds = load_activitynet_results(target)

    def broken_dump(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    from wtal_blocks.evaluation import io as evaluation_io

    monkeypatch.setattr(evaluation_io.json, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        write_activitynet_results(target, preds)
    assert json.loads(target.read_text()) == GOOD_RESULTS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


BAD_RESULTS = [
    ("{not json", r"malformed JSON at line 1 column 2", None),
    ({"database": {}}, r'missing "results"', None),
    ({"results": []}, r'"results" must be an object', None),
    ({"results": {"v1": {}}}, r"video 'v1': expected a list of predictions", None),
    (
        {"results": {"v1": [_pred("jump", 0.5, [3.0, 1.0])]}},
        r"video 'v1', item 0, field 'segment': .*end < start",
        "segment",
    ),
    (
        {
            "results": {
                "v1": [_pred("jump", 0.5, [0.0, 1.0]), _pred("jump", 0.5, [float("nan"), 1.0])]
            }
        },
        r"item 1, field 'segment': .*not finite",
        "segment",
    ),
    (
        {"results": {"v1": [_pred("jump", 0.5, [0.0, float("inf")])]}},
        r"field 'segment': .*not finite",
        "segment",
    ),
    (
        {"results": {"v1": [_pred("jump", "high", [0.0, 1.0])]}},
        r"field 'score': expected a number, got 'high'",
        "score",
    ),
    (
        {"results": {"v1": [_pred("jump", True, [0.0, 1.0])]}},
        r"field 'score': expected a number, got true",
        "score",
    ),
    (
        {"results": {"v1": [_pred("jump", None, [0.0, 1.0])]}},
        r"field 'score': expected a number, got null",
        "score",
    ),
    (
        {"results": {"v1": [_pred("jump", 0.5, [0.0, True])]}},
        r"field 'segment': expected a number, got true",
        "segment",
    ),
    (
        {"results": {"v1": [_pred("jump", 0.5, [0.0, 1.0, 2.0])]}},
        r"field 'segment': expected \[start, end\]",
        "segment",
    ),
    (
        {"results": {"v1": [{"label": "jump", "segment": [0.0, 1.0]}]}},
        r"field 'score': missing",
        "score",
    ),
    (
        {"results": {"v1": [_pred(3, 0.5, [0.0, 1.0])]}},
        r"field 'label': expected a class name",
        "label",
    ),
    ({"results": {"v1": [[0.0, 1.0]]}}, r"item 0: expected an object", None),
]


@pytest.fixture(params=["stdlib json", "orjson when installed"])
def json_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the stdlib decoder forced, and with the default (orjson if importable)."""
    if request.param == "stdlib json":
        monkeypatch.setattr(_jsonfields, "fast_loads", lambda: None)
    return str(request.param)


@pytest.mark.parametrize(("doc", "message", "field"), BAD_RESULTS)
def test_bad_results_name_file_video_and_field(
    tmp_path: Path, doc: Any, message: str, field: str | None, json_backend: str
) -> None:
    path = _write(tmp_path / "pred.json", doc)
    with pytest.raises(EvaluationInputError, match=message) as info:
        load_activitynet_results(path)
    assert str(info.value).startswith(str(path))
    assert info.value.field == field


def test_numeric_strings_are_accepted_as_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.json", {"results": {"v": [_pred("jump", "0.5", ["1", "2.5"])]}})
    preds = load_activitynet_results(path)
    assert preds.scores.tolist() == [0.5] and preds.segments.tolist() == [[1.0, 2.5]]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"results": {}}, r'missing "database"'),
        (
            {
                "database": {
                    "v": {"subset": "test", "annotations": [{"label": "a", "segment": [2, 1]}]}
                }
            },
            r"video 'v', item 0, field 'segment'.*end < start",
        ),
        (
            {"database": {"v": {"subset": "test", "annotations": [{"segment": [0, 1]}]}}},
            r"field 'label': missing",
        ),
    ],
)
def test_bad_ground_truth(tmp_path: Path, doc: Any, message: str) -> None:
    with pytest.raises(EvaluationInputError, match=message):
        load_activitynet_ground_truth(_write(tmp_path / "gt.json", doc))


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(EvaluationInputError, match="results file not found"):
        load_activitynet_results(tmp_path / "nope.json")
    with pytest.raises(EvaluationInputError, match="results file not found"):
        load_thumos14_results(tmp_path / "nope.txt")


def test_thumos_text_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text("video_test_1 0 10 7 0.9\nvideo_test_1 0 ten 7 0.9\n")
    with pytest.raises(
        EvaluationInputError,
        match=r"r.txt: video 'video_test_1', field 'end': line 2: 'ten' is not a number",
    ):
        load_thumos14_results(path)
    path.write_text("video_test_1 0 10 7\n")
    with pytest.raises(
        EvaluationInputError, match="line 1: expected 'video start end class_id score'"
    ):
        load_thumos14_results(path)
    path.write_text("")
    assert len(load_thumos14_results(path)) == 0


def test_empty_prediction_file_gives_zero_ap(files: tuple[Path, Path], tmp_path: Path) -> None:
    gt = load_activitynet_ground_truth(files[0])
    result = evaluate_detection(
        gt, load_activitynet_results(_write(tmp_path / "e.json", {"results": {}})), "0.5"
    )
    assert result.ap.tolist() == [[0.0], [0.0]] and result.mAP.tolist() == [0.0]


@pytest.mark.parametrize("content", ["", "  \n"])
def test_empty_prediction_file_in_the_cli(
    files: tuple[Path, Path], tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _write(tmp_path / "empty.json", content)
    assert main([str(files[0]), str(empty), "--tiou", "0.5", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["ap"] == {"jump": [0.0], "run": [0.0]}
    assert "holds no prediction" in captured.err


def test_ground_truth_without_instances_is_an_error(tmp_path: Path) -> None:
    gt = load_activitynet_ground_truth(
        _write(tmp_path / "g.json", {"database": {"v": {"subset": "test", "annotations": []}}})
    )
    assert isinstance(gt, GroundTruth) and len(gt) == 0
    with pytest.raises(EvaluationInputError, match="no action instance"):
        evaluate_detection(
            gt, load_activitynet_results(_write(tmp_path / "e.json", {"results": {}}))
        )


# ----------------------------------------------------------------------------- CLI


def test_cli_json_is_one_object_with_the_schema(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(files[0]), str(files[1]), "--tiou", "0.1:0.5:0.2", "--json"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)  # exactly one JSON document
    assert out.count("\n") == 1
    assert list(doc) == ["tiou_thresholds", "mAP", "average_mAP", "ap"]
    assert doc["tiou_thresholds"] == [0.1, 0.3, 0.5]
    expected = evaluate_detection(
        load_activitynet_ground_truth(files[0]), load_activitynet_results(files[1]), "0.1:0.5:0.2"
    )
    assert doc["mAP"] == expected.mAP.tolist() and doc["average_mAP"] == expected.average_mAP
    assert doc["ap"] == {"jump": expected.ap[0].tolist(), "run": expected.ap[1].tolist()}


def test_cli_human_table(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(files[0]), str(files[1]), "--tiou", "0.3,0.5"]) == 0
    out = capsys.readouterr().out
    assert "subset 'test'" in out and "tIoU" in out and "avg" in out
    assert "worst classes" in out and "best classes" in out and "jump" in out


def test_cli_unknown_labels(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = {
        "results": {
            "v1": [
                _pred("jump", 0.9, [0.0, 8.0]),
                _pred("dance", 0.8, [1.0, 2.0]),
                _pred("dance", 0.7, [1.0, 2.0]),
            ]
        }
    }
    pred = _write(tmp_path / "u.json", doc)
    assert main([str(files[0]), str(pred), "--json"]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and str(pred) in err
        and "video 'v1', item 1, field 'label'" in err
        and "'dance'" in err
    )
    assert main([str(files[0]), str(pred), "--json", "--ignore-unknown-labels"]) == 0
    captured = capsys.readouterr()
    assert "skipped 2 prediction(s)" in captured.err
    json.loads(captured.out)


def test_cli_subset_without_videos_lists_subsets(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(files[0]), str(files[1]), "--subset", "validation"]) == 2
    assert "subsets present: 'test' (2 videos), 'train' (1 videos)" in capsys.readouterr().err


def test_cli_thumos14_protocol(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "detclasslist.txt").write_text("7 BaseballPitch\n")
    (ann / "BaseballPitch_test.txt").write_text("video_test_1  0.0 10.0\nvideo_test_1  20.0 30.0\n")
    (ann / "Ambiguous_test.txt").write_text("")
    res = tmp_path / "res.txt"
    res.write_text("video_test_1 0 10 7 0.9\nvideo_test_1 40 50 7 0.8\nvideo_test_1 20 30 7 0.7\n")
    assert main([str(ann), str(res), "--protocol", "thumos14", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tiou_thresholds"] == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert doc["mAP"] == [pytest.approx((1 + 2 / 3) / 2)] * 5


def test_cli_error_exits_2_without_traceback(tmp_path: Path, files: tuple[Path, Path]) -> None:
    bad = _write(tmp_path / "bad.json", '{\n  "results": {"v1": [}\n}')
    proc = subprocess.run(
        [sys.executable, "-m", "wtal_blocks.cli.eval", str(files[0]), str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"wtal-eval: error: {bad}: malformed JSON at line 2")
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_console_process_flushes_everything_before_its_fast_exit(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    """The entry point ends the process without the interpreter's shutdown: what it printed
    into a pipe is complete (both forms), and the status is the command's."""
    runs = {}
    for form in ("--json", "--tiou=0.5"):
        proc = subprocess.run(
            [sys.executable, "-m", "wtal_blocks.cli.eval", *map(str, files), form],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert proc.returncode == 0, proc.stderr
        runs[form] = proc.stdout
    doc = json.loads(runs["--json"])
    assert len(doc["mAP"]) == len(doc["tiou_thresholds"]) > 1
    assert runs["--tiou=0.5"].endswith("\n") and len(runs["--tiou=0.5"].splitlines()) > 2


def test_teardown_needed_while_a_thread_or_child_runs() -> None:
    import threading

    from wtal_blocks.cli._common import teardown_needed

    assert not teardown_needed()
    release = threading.Event()
    worker = threading.Thread(target=release.wait)  # not a daemon: the shutdown would join it
    worker.start()
    try:
        assert teardown_needed()
    finally:
        release.set()
        worker.join()
    assert not teardown_needed()
    daemon = threading.Thread(target=release.wait, daemon=True)
    daemon.start()
    assert not teardown_needed()  # already set: it ends at once; daemons never hold the exit


def test_evaluator_import_path_does_not_import_torch() -> None:
    code = "import sys, wtal_blocks.cli.eval; assert 'torch' not in sys.modules, 'torch imported'"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr


def test_cli_on_real_files(
    real_data: Path, thumos14_annotation_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt = real_data / "anet12_val_gt.json.gz"
    pred = real_data / "autoloc_anet12_val.json.gz"
    assert main([str(gt), str(pred), "--json"]) == 0  # default subset and thresholds
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["tiou_thresholds"]) == 10 and abs(doc["average_mAP"] - 0.160391) < 1e-6
    ann = thumos14_annotation_dir
    turn = real_data / "turn_flow_scnn_thumos14_test.txt.gz"
    assert main([str(ann), str(turn), "--protocol", "thumos14", "--tiou", "0.5", "--json"]) == 0
    assert abs(100 * json.loads(capsys.readouterr().out)["mAP"][0] - 25.6) <= 0.05


# ----------------------------------------------------------------------------- built-in ground truth


def test_builtin_ground_truth_names(real_data: Path) -> None:
    from wtal_blocks.evaluation import evaluate_detection, load_activitynet_results

    preds = load_activitynet_results(real_data / "autoloc_thumos14_test.json.gz")
    by_file = evaluate_detection(real_data / "thumos14_gt.json.gz", preds, "0.1:0.7:0.1")
    by_name = evaluate_detection("thumos14", preds, "0.1:0.7:0.1")
    assert by_name.num_ground_truth == 3311
    np.testing.assert_array_equal(by_name.mAP, by_file.mAP)
    anet = load_activitynet_ground_truth("anet12")
    assert anet.subset == "validation" and len(anet) == 3457 and len(anet.class_names) == 100


def test_wtal_eval_with_a_builtin_name(real_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = str(real_data / "autoloc_thumos14_test.json.gz")
    assert main(["thumos14", results, "--tiou", "0.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mAP"][0] == pytest.approx(0.214741, abs=1e-6)  # AutoLoc's THUMOS'14 mAP@0.5


def test_builtin_thumos14_official_annotations(thumos14_annotation_dir: Path) -> None:
    from wtal_blocks.evaluation import load_thumos14_annotations

    builtin = load_thumos14_annotations("thumos14")
    on_disk = load_thumos14_annotations(thumos14_annotation_dir)
    assert builtin.class_names == on_disk.class_names and len(builtin) == 3358
    np.testing.assert_array_equal(builtin.segments, on_disk.segments)
    np.testing.assert_array_equal(builtin.ambiguous_segments, on_disk.ambiguous_segments)


# ----------------------------------------------------------------------------- streaming readers


def _random_predictions(n: int, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    videos = tuple(f"video_{i:03d}" for i in range(7))
    labels = ("Long jump", "Playing bagpipes", "7", "x")  # names with spaces, an id-like name
    start = np.round(rng.random(n) * 100, int(rng.integers(0, 6)))
    return Predictions(
        video_ids=videos,
        label_names=labels,
        segments=np.stack([start, start + rng.random(n) * 9], axis=1),
        scores=np.where(rng.random(n) < 0.3, np.round(rng.random(n), 2), rng.random(n)),
        labels=rng.integers(0, len(labels), n),
        videos=np.sort(rng.integers(0, len(videos), n)),
    )


def _rows(preds: Predictions) -> list[tuple[str, str, float, float, float]]:
    return sorted(
        (preds.video_ids[v], preds.label_names[c], s, e, sc)
        for (s, e), sc, c, v in zip(
            preds.segments.tolist(),
            preds.scores.tolist(),
            preds.labels.tolist(),
            preds.videos.tolist(),
            strict=True,
        )
    )


def _write_formats(tmp_path: Path, preds: Predictions) -> dict[str, Path]:
    rows = [
        (preds.video_ids[v], preds.label_names[c], s, e, sc)
        for (s, e), sc, c, v in zip(
            preds.segments.tolist(),
            preds.scores.tolist(),
            preds.labels.tolist(),
            preds.videos.tolist(),
            strict=True,
        )
    ]
    paths = {
        "activitynet": tmp_path / "r.json",
        "jsonl": tmp_path / "r.jsonl",
        "tabs": tmp_path / "r.txt",
        "spaces": tmp_path / "r.dat",
    }
    write_activitynet_results(paths["activitynet"], preds)
    paths["jsonl"].write_text(
        "".join(
            json.dumps({"video": v, "label": c, "score": sc, "segment": [s, e]}) + "\n"
            for v, c, s, e, sc in rows
        )
    )
    paths["tabs"].write_text(
        "".join(f"{v}\t{s!r}\t{e!r}\t{c}\t{sc!r}\r\n" for v, c, s, e, sc in rows)
    )
    paths["spaces"].write_text(
        "\n".join(f"  {v}  {s!r} {e!r}   {c} {sc!r}" for v, c, s, e, sc in rows) + "\n\n"
    )
    return paths


def test_the_three_formats_read_the_same_predictions(tmp_path: Path, json_backend: str) -> None:
    preds = _random_predictions(3000)
    expected = _rows(preds)
    for kind, path in _write_formats(tmp_path, preds).items():
        fmt = "text" if kind in ("tabs", "spaces") else "auto"
        got = load_predictions(path, format=fmt)  # type: ignore[arg-type]
        assert _rows(got) == expected, kind  # bit for bit: every decimal correctly rounded


def test_iter_predictions_yields_bounded_pieces_in_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wtal_blocks.evaluation import results_io

    preds = _random_predictions(2000, seed=1)
    paths = _write_formats(tmp_path, preds)
    monkeypatch.setattr(results_io, "_BLOCK_BYTES", 4096)  # many line blocks
    monkeypatch.setattr(results_io, "_PIECE_BYTES", 4096)  # long video lists cut in pieces
    for kind, path in paths.items():
        pieces = list(
            iter_predictions(path, 150, format="text" if kind in ("tabs", "spaces") else "auto")
        )  # type: ignore[arg-type]
        assert len(pieces) > 5 and all(1 <= len(p) <= 150 for p in pieces), kind
        assert sum(len(p) for p in pieces) == 2000
        assert _rows(concatenate_predictions(pieces)) == _rows(preds), kind
    with pytest.raises(TypeError, match="chunk_size must be a positive int"):
        next(iter_predictions(paths["jsonl"], 0))


def test_an_error_in_a_long_video_list_names_its_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wtal_blocks.evaluation import results_io

    monkeypatch.setattr(results_io, "_PIECE_BYTES", 512)
    items = [_pred("jump", 0.5, [float(i), float(i) + 1]) for i in range(100)]
    items[57]["segment"] = [9.0, 3.0]
    path = _write(tmp_path / "r.json", {"results": {"short": [], "long": items}})
    with pytest.raises(
        EvaluationInputError, match=r"video 'long', item 57, field 'segment': .*end < start"
    ):
        load_activitynet_results(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("v 0 1 a 0.5\nv 0 1 0.5\n", r"line 2: expected 'video start end label score', got 'v 0 1 0.5'"),
        ("v 0 1 a 0.5\n\nv 0 ten a 0.5\n", r"video 'v', field 'end': line 3: 'ten' is not a number"),
        ("v 2 1 a 0.5\n", r"video 'v', field 'segment': line 1: segment \[2.0, 1.0\] ends before it starts"),
        ("v 0 1 a inf\n", r"video 'v', field 'score': line 1: 'inf' is not finite"),
    ],
)  # fmt: skip
def test_text_lines_errors_name_the_line_and_field(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "r.txt"
    path.write_text(content)
    with pytest.raises(EvaluationInputError, match=message) as info:
        load_predictions(path)
    assert str(info.value).startswith(f"{path}: ")


def test_thumos14_text_results_normalise_class_ids_and_names(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text("video_test_1.mpeg 0 10 07 0.9\nvideo_test_1 20 30 7 0.8\n")
    preds = load_thumos14_results(path)
    assert preds.video_ids == ("video_test_1",) and preds.label_names == ("7",)
    path.write_text("video_test_1 0 10 BaseballPitch 0.9\n")
    with pytest.raises(
        EvaluationInputError, match=r"field 'class_id': line 1: class id 'BaseballPitch'"
    ):
        load_thumos14_results(path)


def test_ucf101_class_ids_name_thumos14_classes_under_the_activitynet_protocol(
    real_data: Path, tmp_path: Path
) -> None:
    preds = load_activitynet_results(real_data / "autoloc_thumos14_test.json.gz")
    from wtal_blocks.evaluation._files import thumos14_class_ids

    by_name = {n: i for i, n in thumos14_class_ids().items()}
    path = tmp_path / "ids.txt"
    path.write_text(
        "".join(
            f"{preds.video_ids[v]} {s!r} {e!r} {by_name[preds.label_names[c]]} {sc!r}\n"
            for (s, e), sc, c, v in zip(
                preds.segments.tolist(),
                preds.scores.tolist(),
                preds.labels.tolist(),
                preds.videos.tolist(),
                strict=True,
            )
        )
    )
    by_ids = evaluate_detection("thumos14", path, "0.1:0.7:0.1")
    assert by_ids.ap.tolist() == evaluate_detection("thumos14", preds, "0.1:0.7:0.1").ap.tolist()


def test_gzip_results_stream_within_the_expansion_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip

    from wtal_blocks.evaluation import _files

    path = tmp_path / "r.txt.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("v 0 1 a 0.5\n" * 5000)
    assert len(load_predictions(path)) == 5000
    monkeypatch.setattr(_files, "_EXPANSION_CAP", 1000)
    monkeypatch.setattr(_files, "_EXPANSION_RATIO", 2)
    with pytest.raises(EvaluationInputError, match=r"r.txt.gz: the .gz file expands to more than"):
        load_predictions(path)


def test_metric_fed_from_a_file_piece_by_piece_equals_the_one_call_form(
    real_data: Path,
) -> None:
    gt = load_activitynet_ground_truth(real_data / "anet12_val_gt.json.gz")
    path = real_data / "autoloc_anet12_val.json.gz"
    metric = DetectionMAP.from_ground_truth(gt)
    assert metric.update_from_file(path, chunk_size=1000) == 13295
    assert metric.compute().ap.tolist() == evaluate_detection(gt, path).ap.tolist()


def test_cli_reads_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = load_activitynet_ground_truth("thumos14")
    preds = Predictions(
        video_ids=gt.video_ids,
        label_names=gt.class_names,
        segments=gt.segments + 0.25,
        scores=np.linspace(0.1, 0.9, len(gt)),
        labels=gt.labels,
        videos=gt.videos,
    )
    outputs = []
    for kind, path in _write_formats(tmp_path, preds).items():
        extra = ["--format", "text"] if kind == "spaces" else []
        assert main(["thumos14", str(path), "--tiou", "0.3,0.5", "--json", *extra]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert all(o == outputs[0] for o in outputs) and outputs[0]["mAP"][0] > 0.5


def test_escaped_quotes_and_backslashes_across_scan_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, json_backend: str
) -> None:
    from wtal_blocks.evaluation import _jsonscan, results_io

    monkeypatch.setattr(_jsonscan, "_BLOCK", 5)  # every quote and backslash run straddles blocks
    monkeypatch.setattr(results_io, "_PIECE_BYTES", 40)
    names = ['v"1', "v\\", "v\\\\\\", 'say "hi" \\"', "v" + "\\" * 3000 + '"', "é{[,:]}"]
    results = {
        name: [_pred(f'lab"{k}\\', 0.5 + k / 10, [float(k), k + 1.0]) for k in range(3)]
        for name in names
    }
    path = _write(tmp_path / "r.json", {"version": 'a"b\\', "results": results})
    preds = load_activitynet_results(path)
    assert set(preds.video_ids) == set(names)
    got = sorted(
        (preds.video_ids[v], preds.label_names[c], s, e)
        for (s, e), c, v in zip(
            preds.segments.tolist(), preds.labels.tolist(), preds.videos.tolist(), strict=True
        )
    )
    expected = sorted(
        (name, p["label"], *p["segment"]) for name, items in results.items() for p in items
    )
    assert got == expected


@pytest.mark.parametrize("seed", range(4))
def test_text_field_gather_equals_slicing_on_both_paths(seed: int) -> None:
    """The fixed-width field matrix is the fields padded, whether every window fits in the
    buffer (strided rows) or not (the clipped index path): checked against plain slicing."""
    from wtal_blocks.evaluation._textlines import _bytes_matrix

    rng = np.random.default_rng(seed)
    buf = rng.integers(0, 256, size=500, dtype=np.uint8)
    for end_margin in (0, 70):  # 0: some window passes the end; 70: every window fits
        start = np.sort(rng.integers(0, 500 - end_margin, size=60)).astype(np.int64)
        length = rng.integers(0, 40, size=60).astype(np.int64)
        length = np.minimum(length, 500 - start)
        got = _bytes_matrix(buf, start, length, pad=32, tail=44)
        width = max(int(length.max()), 1)
        for row, (s, n) in enumerate(zip(start.tolist(), length.tolist(), strict=True)):
            want = bytes(buf[s : s + n]) + b" " * (width - n) + b","
            assert got[row].tobytes() == want


def test_text_lines_with_long_fields_on_the_last_line(tmp_path: Path) -> None:
    """Names longer than a number's window and a 60-character number at the end of a file."""
    long_video, long_label = "v" * 200, "L" * 90
    number = "0." + "0" * 56 + "25"  # 60 characters: 2.5e-57
    path = tmp_path / "r.txt"
    path.write_text(f"a 1 2 x 0.5\n{long_video} 3 4.5 {long_label} {number}\n")
    got = load_predictions(path)
    assert got.video_ids == ("a", long_video)
    assert got.label_names == ("x", long_label)
    assert got.segments.tolist() == [[1.0, 2.0], [3.0, 4.5]]
    assert got.scores.tolist() == [0.5, float(number)]


def test_text_blocks_parsed_on_two_threads_equal_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many small blocks parsed two at a time give the pieces of the one-thread reader, in the
    same order; the first bad line in file order is the one reported; an abandoned reader
    leaves no thread running."""
    import threading

    rng = np.random.default_rng(0)
    lines = [
        f"video_{i // 7:03d} {s:.3f} {s + d:.3f} class_{int(rng.integers(5))} {rng.random():.4f}"
        for i, (s, d) in enumerate(zip(rng.random(400) * 100, rng.random(400) * 10, strict=True))
    ]
    path = tmp_path / "r.txt"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(results_io, "_BLOCK_BYTES", 512)  # ~60 blocks
    pieces = {}
    for threads in (1, 2):
        monkeypatch.setattr(results_io, "_READ_THREADS", threads)
        pieces[threads] = list(iter_predictions(path))
    assert len(pieces[2]) == len(pieces[1]) > 20
    for a, b in zip(pieces[1], pieces[2], strict=True):
        assert a.video_ids == b.video_ids and a.label_names == b.label_names
        assert np.array_equal(a.segments, b.segments) and np.array_equal(a.scores, b.scores)
        assert np.array_equal(a.labels, b.labels) and np.array_equal(a.videos, b.videos)
    bad = list(lines)
    bad[150] = "video_x 1 oops class_1 0.5"
    bad[300] = "video_y 1 2"
    path.write_text("\n".join(bad) + "\n")
    with pytest.raises(EvaluationInputError, match=r"line 151: 'oops' is not a number"):
        load_predictions(path)
    reader = iter_predictions(path)
    next(reader)
    reader.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("wtal-read")]
