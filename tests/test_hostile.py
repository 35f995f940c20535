"""Hostile input to the recipe, the models and the blocks: a clear error every time.

Each case asserts the exact behaviour: the message names the problem and its location, the
commands exit 2 with one line on stderr (no traceback), nothing is written on failure, and no
message suggests turning ``weights_only`` off. (The evaluator's cases are in
``test_hostile_evaluation.py``.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import wtal_blocks as wb
from tests.conftest import REPO_ROOT
from tests.helpers import write_thumos_layout
from wtal_blocks.cli.wtal import main as wtal
from wtal_blocks.models import CheckpointError

LENGTHS = {"train_0": 24, "train_1": 30, "test_0": 20, "test_1": 26}


class Payload:
    """A Python object where a checkpoint should hold tensors."""


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_thumos_layout(tmp_path_factory.mktemp("data"), LENGTHS, instances=True)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "m.pkl"
    torch.manual_seed(0)
    torch.save(wb.UncertaintyModelingNet(8, 20, embed_dim=16).state_dict(), path)
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "weights_only=False" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _evaluate(data_root: Path, checkpoint: Path, output: Path | str, *extra: str) -> int:
    return wtal(
        ["evaluate", "--data-root", str(data_root), "--modal", "rgb", "--num-segments", "20",
         "--checkpoint", str(checkpoint), "--output", str(output), "--device", "cpu", *extra]
    )  # fmt: skip


# ----------------------------------------------------------------------------- data loss


def test_output_that_is_the_checkpoint_is_refused(
    data_root: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "m.pkl"
    copy.write_bytes(checkpoint.read_bytes())
    assert _evaluate(data_root, copy, copy) == 2
    _one_line_error(capsys, "--output", "same file as --checkpoint")
    assert copy.read_bytes() == checkpoint.read_bytes()  # the weights are intact


def test_a_results_file_loaded_as_a_checkpoint_gives_no_unsafe_advice(tmp_path: Path) -> None:
    path = tmp_path / "m.pkl"
    path.write_text(json.dumps({"results": {}}))
    with pytest.raises(CheckpointError, match=r"m\.pkl: .*a JSON or text file") as info:
        wb.load_official_checkpoint(path)
    assert "weights_only=False" not in str(info.value) and "\n" not in str(info.value)

    torch.save({"cas_module.conv.0.weight": Payload()}, path)
    with pytest.raises(CheckpointError, match="holds a Python object") as info:
        wb.load_official_checkpoint(path)
    assert "weights_only=False" not in str(info.value)


@pytest.mark.parametrize(
    ("output", "message"),
    [("folder", "is a folder"), ("file/under", "is a file, not a folder")],
)
def test_bad_output_paths_fail_before_the_work(
    data_root: Path,
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    output: str,
    message: str,
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    assert _evaluate(data_root, checkpoint, tmp_path / output) == 2
    line = _one_line_error(capsys, "--output", message)
    assert "wrote" not in capsys.readouterr().out and "error" in line


def test_output_dir_that_is_a_file(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "run").write_text("not a folder")
    argv = ["train", "--data-root", str(data_root), "--modal", "rgb", "--num-segments", "20",
            "--iterations", "1", "--embed-dim", "8", "--num-workers", "0",
            "--output-dir", str(tmp_path / "run")]  # fmt: skip
    assert wtal(argv) == 2
    _one_line_error(capsys, "run: the output directory is a file")


def test_a_stray_temporary_file_is_removed_on_the_next_start(
    data_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    stray = out / ".checkpoint_last.pt.abc123.tmp"  # what a kill -9 during a write leaves
    stray.write_bytes(b"half a checkpoint")
    messages: list[str] = []
    cfg = wb.UMConfig(
        data_root=str(data_root), modal="rgb", num_segments=20, iterations=1, embed_dim=8,
        eval_every=0, num_workers=0, device="cpu", output_dir=str(out),
    )  # fmt: skip
    wb.train(cfg, log=messages.append, progress=False)
    assert not stray.exists()
    assert any("removed 1 temporary file" in m for m in messages)


# ----------------------------------------------------------------------------- checkpoints


def _state() -> dict[str, Any]:
    torch.manual_seed(0)
    return dict(wb.UncertaintyModelingNet(8, 20, embed_dim=16).state_dict())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update({"cas_module.conv.0.bias": [0.0] * 16}), "holds a list, expected a tensor"),
        (lambda s: s.update({"extra.weight": torch.zeros(1)}), r"unexpected \['extra.weight'\]"),
        (lambda s: s.update({"cas_module.conv.0.bias": torch.zeros(15)}), r"has shape \(15\)"),
        (lambda s: s.update({3: torch.zeros(1)}), "keys must be strings"),
        (lambda s: s.pop("cas_module.classifier.0.weight"), r"missing \['cas_module.classifier"),
        (lambda s: s.update({"cas_module.conv.0.weight": torch.zeros(16, 24)}), r"expected \(D, F, 3\)"),
        (lambda s: s["cas_module.conv.0.weight"].__setitem__((0, 0, 0), float("nan")), "NaN or inf"),
        (lambda s: s.update({"cas_module.conv.0.weight": torch.zeros(16, 8, 3, dtype=torch.long)}), "expected floats"),
    ],
)  # fmt: skip
def test_bad_checkpoints_name_the_file_and_the_key(
    tmp_path: Path,
    data_root: Path,
    capsys: pytest.CaptureFixture[str],
    change: Any,
    message: str,
) -> None:
    state = _state()
    change(state)
    path = tmp_path / "bad.pkl"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=message) as info:
        wb.load_official_checkpoint(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert _evaluate(data_root, path, tmp_path / "out.json") == 2
    _one_line_error(capsys, str(path))
    assert not (tmp_path / "out.json").exists()


def test_a_damaged_resume_checkpoint(data_root: Path, tmp_path: Path) -> None:
    cfg = wb.UMConfig(
        data_root=str(data_root), modal="rgb", num_segments=20, iterations=2, embed_dim=8,
        eval_every=1, num_workers=0, device="cpu", output_dir=str(tmp_path / "run"),
    )  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        wb.train(cfg, log=lambda _: None, progress=False, stop_after=1)
    ckpt = tmp_path / "run" / "checkpoint_last.pt"
    state = torch.load(ckpt, weights_only=True)
    broken = dict(state, torch_rng=torch.zeros(3, dtype=torch.uint8))
    torch.save(broken, ckpt)
    with pytest.raises(ValueError, match=r"checkpoint_last\.pt: a damaged training checkpoint"):
        wb.train(cfg, resume=True, log=lambda _: None, progress=False)
    torch.save({k: v for k, v in state.items() if k != "optimizer"}, ckpt)
    with pytest.raises(ValueError, match=r"not a resumable checkpoint \(missing \['optimizer'\]\)"):
        wb.train(cfg, resume=True, log=lambda _: None, progress=False)


# ----------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--lr", "inf", "lr must be a finite number, got inf"),
        ("--class-threshold", "nan", "class_threshold must be a finite number, got nan"),
        ("--tiou", "0:1:1e-9", "more than 1000 values"),
        ("--tiou", "", "an empty value"),
        ("--num-segments", "0", "num_segments must be >= 1"),
        ("--iterations", "-3", "iterations must be >= 1"),
        ("--method", "umm", "is not a method"),
    ],
)
def test_bad_settings_fail_before_any_work(
    data_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
    message: str,
) -> None:
    argv = [
        "train",
        "--data-root",
        str(data_root),
        "--output-dir",
        str(tmp_path / "run"),
        flag,
        value,
    ]
    assert wtal(argv) == 2
    _one_line_error(capsys, message)
    assert not (tmp_path / "run").exists()


def test_settings_of_the_api_are_checked() -> None:
    with pytest.raises(ValueError, match="class_threshold must be a finite number, got nan"):
        wb.UMConfig(class_threshold=float("nan"))
    with pytest.raises(ValueError, match="class_threshold must be a finite number, got nan"):
        wb.UMInferenceConfig(class_threshold=float("nan"))
    with pytest.raises(ValueError, match=r"num_segments must be int or None, got 2\.7"):
        wb.UMConfig(num_segments=2.7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nms_threshold must be in"):
        wb.CoLAInferenceConfig(nms_threshold=1.5)


# ----------------------------------------------------------------------------- data


def test_nan_features_with_worker_processes_give_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_thumos_layout(tmp_path / "data", LENGTHS, instances=True)
    bad = root / "features" / "train" / "rgb" / "train_1.npy"
    arr = np.load(bad)
    arr[5, 2] = np.nan
    np.save(bad, arr)
    argv = ["train", "--data-root", str(root), "--modal", "rgb", "--num-segments", "20",
            "--iterations", "2", "--batch-size", "2", "--embed-dim", "8", "--num-workers", "2",
            "--output-dir", str(tmp_path / "run")]  # fmt: skip
    assert wtal(argv) == 2
    _one_line_error(capsys, str(bad), "NaN or inf", "train_1")


@pytest.mark.parametrize("kind", ["deep", "long_number"])
def test_hostile_gt_json_in_the_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    root = write_thumos_layout(tmp_path / "data", LENGTHS, instances=True)
    if kind == "deep":  # the stdlib parser recurses; orjson (optional) parses it
        text = '{"database": ' + '{"x": ' * 100_000 + "{}" + "}" * 100_000 + "}"
    else:
        text = '{"database": ' + "1" * 5000 + "}"
    (root / "gt.json").write_text(text)
    argv = ["train", "--data-root", str(root), "--output-dir", str(tmp_path / "run")]
    assert wtal(argv) == 2
    line = _one_line_error(capsys, "gt.json")
    if kind == "deep":  # refused before any parser sees it
        assert "malformed JSON at line 1 column" in line and "nested deeper than 64 levels" in line
    else:
        assert "malformed JSON" in line or "not in the annotations" in line


# ----------------------------------------------------------------------------- blocks


def test_blocks_refuse_wrong_types_and_values() -> None:
    with pytest.raises(TypeError, match=r"scores must be a torch\.Tensor, got list"):
        wb.topk_mil_pooling([[[1.0]]], k=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"segments must be a torch\.Tensor, got list"):
        wb.temporal_nms([[0.0, 1.0]], torch.ones(1), 0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"ranking must be a torch\.Tensor"):
        wb.select_pseudo_segments([[1.0, 2.0]], 1, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty batch"):
        wb.video_classification_loss(torch.zeros(0, 20), torch.zeros(0, 20))
    with pytest.raises(ValueError, match="empty batch"):
        wb.snico_loss(torch.zeros(0, 4, 3), *[None] * 4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, "):
        wb.UMPostProcessor()(
            wb.UncertaintyModelingNet(4, 3, embed_dim=8).eval()(torch.rand(1, 12, 4)), [2**62]
        )
    with pytest.raises(ValueError, match="lengths must be whole numbers"):
        wb.UMPostProcessor()(
            wb.UncertaintyModelingNet(4, 3, embed_dim=8).eval()(torch.rand(1, 12, 4)), [2.7]
        )


def test_an_impossible_allocation_gives_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from wtal_blocks.cli._common import run_command

    def allocate() -> int:  # e.g. --embed-dim 10000000000: a layer the machine cannot hold
        torch.empty(1 << 50)
        return 0

    assert run_command("wtal", allocate) == 2
    _one_line_error(capsys, "wtal: error: out of memory")


def test_the_python_api_names_the_argument_of_a_bad_label() -> None:
    metric = wb.DetectionMAP(["A", "B"], "0.5")
    with pytest.raises(wb.EvaluationInputError, match=r"labels\[0\] = 7 is not a class index"):
        metric.update("v", [[0.0, 1.0]], [0.5], [7])


def test_wtal_um_shortcut_has_the_same_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "wtal_blocks.cli.um", "train", "--lr", "inf",
         "--output-dir", str(tmp_path / "r")],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip() == "wtal-um: error: lr must be a finite number, got inf"
