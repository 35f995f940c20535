"""``wtal-um demo``: its configuration, and a smoke run on a tiny synthetic preset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wtal_blocks.data import synthetic
from wtal_blocks.recipes import UMConfig
from wtal_blocks.recipes.demo import DEMO_ITERATIONS, demo_config, run_demo


def test_demo_config_keeps_the_official_um_hyper_parameters(tmp_path: Path) -> None:
    config = demo_config(tmp_path, seed=3)
    official = UMConfig()
    for name in (
        "alpha",
        "beta",
        "margin",
        "action_ratio",
        "background_ratio",
        "dropout",
        "lr",
        "weight_decay",
        "batch_size",
        "embed_dim",
        "loss_form",
        "background_score",
        "scoring",
        "class_threshold",
    ):
        assert getattr(config, name) == getattr(official, name), name
    assert config.dataset == "synthetic" and config.synthetic_size == "demo"
    assert config.iterations == DEMO_ITERATIONS and config.seed == 3
    assert config.output_dir == str(tmp_path)
    assert config.tiou_thresholds == "0.1:0.7:0.1"
    assert demo_config(tmp_path, iterations=7, device="cpu").iterations == 7


@pytest.fixture
def tiny_demo_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    tiny = synthetic.SyntheticSpec(
        num_train=6, num_test=5, rgb_dim=8, flow_dim=8, median_duration=30.0, max_duration=60.0
    )
    monkeypatch.setitem(synthetic.PRESETS, "demo", tiny)


@pytest.mark.usefixtures("tiny_demo_preset")
def test_run_demo_trains_evaluates_and_reports(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(
        tmp_path / "run", iterations=4, device="cpu", log=lines.append, progress=False
    )
    text = "\n".join(lines)
    assert "synthetic" in text and "demo finished in" in text and str(tmp_path / "run") in text
    assert "FINAL model" in text  # the mAP table
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["average_mAP"] == pytest.approx(result.final.average_mAP)
    assert result.final.step == 4 and 0.0 <= result.final.average_mAP <= 1.0
    assert (tmp_path / "run" / "model_final.pkl").is_file()


@pytest.mark.usefixtures("tiny_demo_preset")
def test_cli_demo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wtal_blocks.cli.um import main

    assert (
        main(
            ["demo", "--output-dir", str(tmp_path / "cli"), "--iterations", "2", "--device", "cpu"]
        )
        == 0
    )
    assert "demo finished in" in capsys.readouterr().out
    assert (tmp_path / "cli" / "metrics.json").is_file()
