"""The UM recipe end to end on tiny datasets: train, resume, determinism, evaluate, DDP."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from tests.helpers import write_thumos_layout
from wtal_blocks import load_official_checkpoint
from wtal_blocks.cli.um import main
from wtal_blocks.recipes import UMConfig, train
from wtal_blocks.recipes.rundir import RunRefused

LENGTHS = {
    **{f"train_{i}": 24 + 3 * i for i in range(6)},
    **{f"test_{i}": 20 + 5 * i for i in range(4)},
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_thumos_layout(tmp_path_factory.mktemp("thumos"), LENGTHS, instances=True)


def _config(root: Path, out: Path, **kw: object) -> UMConfig:
    base: dict[str, object] = dict(
        data_root=str(root),
        modal="rgb",
        num_segments=20,
        embed_dim=16,
        iterations=6,
        batch_size=4,
        eval_every=3,
        eval_batch_size=3,
        output_dir=str(out),
        lr=1e-3,
        num_workers=0,
        device="cpu",  # the same path on every machine (CUDA would pick the fast step)
    )
    base.update(kw)
    return UMConfig(**base)  # type: ignore[arg-type]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def test_train_writes_everything_and_reports_final_and_best(
    data_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    logs: list[str] = []
    result = train(_config(data_root, out), log=logs.append, progress=False)
    for name in (
        "config.json",
        "train_log.csv",
        "eval_log.csv",
        "checkpoint_last.pt",
        "model_final.pkl",
        "model_best.pkl",
        "results_final.json",
        "metrics.json",
    ):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "final" and metrics["step"] == 6 and len(metrics["mAP"]) == 7
    assert metrics["average_mAP"] == pytest.approx(sum(metrics["mAP"]) / 7)
    assert metrics["best"]["average_mAP"] >= metrics["average_mAP"]
    assert result.final.step == 6 and result.best.label == "best"
    assert [h.step for h in result.history] == [3, 6]
    rows = list(csv.DictReader((out / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert {"loss_cls", "loss_um", "loss_be", "loss_total"} <= set(rows[0])
    evals = list(csv.DictReader((out / "eval_log.csv").open()))
    assert [int(r["step"]) for r in evals] == [3, 6]
    assert any("FINAL model (step 6)" in line for line in logs) and any(
        "BEST evaluated step" in line for line in logs
    )
    model = load_official_checkpoint(out / "model_final.pkl", feature_dim=8, num_classes=20)
    assert model.embed_dim == 16
    results = json.loads((out / "results_final.json").read_text())
    assert set(results["results"]) == {f"test_{i}" for i in range(4)}
    assert UMConfig.load(out / "config.json") == _config(data_root, out)


def test_existing_run_is_refused_unless_asked(data_root: Path, tmp_path: Path) -> None:
    cfg = _config(data_root, tmp_path / "run", iterations=1, eval_every=0)
    train(cfg, progress=False, log=lambda _: None)
    before = (tmp_path / "run" / "model_final.pkl").read_bytes()
    with pytest.raises(RunRefused, match=r"already holds a run .*--resume.*--overwrite"):
        train(cfg, progress=False, log=lambda _: None)
    assert (tmp_path / "run" / "model_final.pkl").read_bytes() == before  # nothing overwritten
    train(cfg, overwrite=True, progress=False, log=lambda _: None)


def test_same_seed_same_run_and_interrupted_resume_equals_uninterrupted(
    data_root: Path, tmp_path: Path
) -> None:
    full = _config(data_root, tmp_path / "a")
    train(full, progress=False, log=lambda _: None)
    again = _config(data_root, tmp_path / "b")
    train(again, progress=False, log=lambda _: None)
    wa, wb = (
        _weights(tmp_path / "a" / "model_final.pkl"),
        _weights(tmp_path / "b" / "model_final.pkl"),
    )
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (
        json.loads((tmp_path / "a" / "metrics.json").read_text())["mAP"]
        == json.loads((tmp_path / "b" / "metrics.json").read_text())["mAP"]
    )

    part = _config(data_root, tmp_path / "c", eval_every=2)
    with pytest.raises(KeyboardInterrupt):
        train(part, progress=False, log=lambda _: None, stop_after=3)
    assert not (tmp_path / "c" / "model_final.pkl").exists()
    train(part, resume=True, progress=False, log=lambda _: None)
    wc = _weights(tmp_path / "c" / "model_final.pkl")
    assert all(torch.equal(wa[k], wc[k]) for k in wa), (
        "resumed run differs from the uninterrupted one"
    )
    steps = [int(r["step"]) for r in csv.DictReader((tmp_path / "c" / "train_log.csv").open())]
    assert steps == [1, 2, 3, 4, 5, 6]

    other = _config(data_root, tmp_path / "c", alpha=0.0, eval_every=2)
    with pytest.raises(ValueError, match=r"cannot resume with a different configuration \(alpha"):
        train(other, resume=True, progress=False, log=lambda _: None)


def test_different_seed_differs(data_root: Path, tmp_path: Path) -> None:
    train(
        _config(data_root, tmp_path / "a", iterations=2, eval_every=0),
        progress=False,
        log=lambda _: None,
    )
    train(
        _config(data_root, tmp_path / "b", iterations=2, eval_every=0, seed=1),
        progress=False,
        log=lambda _: None,
    )
    wa, wb = (
        _weights(tmp_path / "a" / "model_final.pkl"),
        _weights(tmp_path / "b" / "model_final.pkl"),
    )
    assert not torch.equal(wa["cas_module.conv.0.weight"], wb["cas_module.conv.0.weight"])


def test_cli_train_and_evaluate(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    code = main(
        [
            "train",
            "--data-root",
            str(data_root),
            "--modal",
            "rgb",
            "--iterations",
            "3",
            "--batch-size",
            "2",
            "--seed",
            "4",
            "--output-dir",
            str(out),
            "--num-segments",
            "20",
            "--embed-dim",
            "16",
            "--eval-every",
            "0",
            "--alpha",
            "0.001",
            "--beta",
            "0.5",
            "--margin",
            "50",
            "--action-ratio",
            "5",
            "--background-ratio",
            "3",
            "--lr",
            "0.0002",
            "--weight-decay",
            "0",
        ]
    )
    assert code == 0
    cfg = UMConfig.load(out / "config.json")
    assert (
        cfg.alpha,
        cfg.beta,
        cfg.margin,
        cfg.action_ratio,
        cfg.background_ratio,
        cfg.lr,
        cfg.weight_decay,
        cfg.seed,
    ) == (0.001, 0.5, 50.0, 5.0, 3.0, 0.0002, 0.0, 4)
    result = tmp_path / "result.json"
    capsys.readouterr()
    code = main(
        [
            "evaluate",
            "--data-root",
            str(data_root),
            "--checkpoint",
            str(out / "model_final.pkl"),
            "--output",
            str(result),
            "--modal",
            "rgb",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "mAP (%)" in printed and "video classification accuracy" in printed
    assert set(json.loads(result.read_text())["results"]) == {f"test_{i}" for i in range(4)}


def test_cli_evaluate_random_official_checkpoint_and_bad_checkpoint(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wtal_blocks import UncertaintyModelingNet

    ckpt = tmp_path / "model_seed_0.pkl"
    torch.save(UncertaintyModelingNet(16, 20, embed_dim=32).state_dict(), ckpt)  # modal all: F = 16
    assert (
        main(
            [
                "evaluate",
                "--data-root",
                str(data_root),
                "--checkpoint",
                str(ckpt),
                "--output",
                str(tmp_path / "r.json"),
            ]
        )
        == 0
    )
    assert "mAP (%)" in capsys.readouterr().out
    bad = tmp_path / "r_bad.json"
    assert (
        main(
            [
                "evaluate",
                "--data-root",
                str(data_root),
                "--checkpoint",
                str(ckpt),
                "--output",
                str(bad),
                "--modal",
                "rgb",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "checkpoint has feature size F = 16" in err and str(ckpt) in err
    assert not bad.exists()


def test_cli_evaluate_timings(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wtal_blocks import UncertaintyModelingNet

    ckpt = tmp_path / "model.pkl"
    torch.save(UncertaintyModelingNet(16, 20, embed_dim=32).state_dict(), ckpt)
    base = ["evaluate", "--data-root", str(data_root), "--checkpoint", str(ckpt)]
    base += ["--batch-size", "3"]
    assert main([*base, "--output", str(tmp_path / "plain.json")]) == 0
    timings = tmp_path / "timings.json"
    args = [*base, "--output", str(tmp_path / "timed.json"), "--timings", str(timings)]
    assert main(args) == 0
    assert "stages (wrote" in capsys.readouterr().out
    # timing the stages changes nothing in the results
    assert (tmp_path / "plain.json").read_text() == (tmp_path / "timed.json").read_text()
    t = json.loads(timings.read_text())
    assert set(t["seconds"]) == {"load", "read", "forward", "post", "evaluate", "write"}
    assert all(v >= 0 for v in t["seconds"].values())
    assert t["counts"]["videos"] == 4
    # batches of 3 and 1 videos of different lengths: padding is counted, never negative
    assert 0 < t["counts"]["segments"] <= t["counts"]["padded_segments"]
    assert t["started_at"] <= t["finished_at"]
    assert 0.0 <= t["average_mAP"] <= 1.0
    same = [*base, "--output", str(tmp_path / "x.json"), "--timings", str(tmp_path / "x.json")]
    assert main(same) == 2
    assert "--timings" in capsys.readouterr().err and not (tmp_path / "x.json").exists()


def test_cli_reports_data_errors_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            ["train", "--data-root", str(tmp_path / "missing"), "--output-dir", str(tmp_path / "o")]
        )
        == 2
    )
    assert "gt.json: annotation file not found" in capsys.readouterr().err


def _ddp_worker(rank: int, world: int, rendezvous: str, cfg: UMConfig) -> None:
    import os

    # a file rendezvous: no TCP port to collide with other processes on the machine
    os.environ.update(
        WTAL_DIST_INIT_METHOD=rendezvous,
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    try:
        train(cfg, progress=False, log=lambda _: None)
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def test_two_process_ddp_equals_single_process(data_root: Path, tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    # 6 videos in batches of 5: every other global batch holds 1 video, so one rank idles
    single = _config(data_root, tmp_path / "single", iterations=4, eval_every=2, batch_size=5)
    train(single, progress=False, log=lambda _: None)
    ddp = _config(data_root, tmp_path / "ddp", iterations=4, eval_every=2, batch_size=5)
    mp.spawn(_ddp_worker, args=(2, (tmp_path / "rendezvous").as_uri(), ddp), nprocs=2, join=True)
    ws, wd = (
        _weights(tmp_path / "single" / "model_final.pkl"),
        _weights(tmp_path / "ddp" / "model_final.pkl"),
    )
    for k in ws:
        torch.testing.assert_close(wd[k], ws[k], rtol=1e-5, atol=1e-6)
    loss_s = [
        float(r["loss_total"])
        for r in csv.DictReader((tmp_path / "single" / "train_log.csv").open())
    ]
    loss_d = [
        float(r["loss_total"]) for r in csv.DictReader((tmp_path / "ddp" / "train_log.csv").open())
    ]
    assert loss_d == pytest.approx(loss_s, rel=1e-5)
    ms = json.loads((tmp_path / "single" / "metrics.json").read_text())
    md = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert md["mAP"] == pytest.approx(ms["mAP"], abs=1e-4)
    assert (ms["world_size"], md["world_size"]) == (1, 2)


def test_multi_seed_mean_std_and_cli(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import statistics

    from wtal_blocks.recipes.seeds import run_seeds

    cfg = _config(data_root, tmp_path / "seeds", iterations=2, eval_every=0)
    summary = run_seeds(cfg, [0, 1], log=lambda _: None, progress=False)
    per_seed = [
        json.loads((tmp_path / "seeds" / f"seed_{s}" / "metrics.json").read_text()) for s in (0, 1)
    ]
    for i in range(7):
        values = [m["mAP"][i] for m in per_seed]
        assert summary.mAP_mean[i] == pytest.approx(statistics.fmean(values))
        assert summary.mAP_std[i] == pytest.approx(statistics.stdev(values))
    assert summary.average_mAP_mean == pytest.approx(
        statistics.fmean(m["average_mAP"] for m in per_seed)
    )
    saved = json.loads((tmp_path / "seeds" / "seeds_summary.json").read_text())
    assert saved["seeds"] == [0, 1] and len(saved["runs"]) == 2
    assert "±" in summary.table()
    capsys.readouterr()
    assert (
        main(
            [
                "train",
                "--data-root",
                str(data_root),
                "--modal",
                "rgb",
                "--iterations",
                "1",
                "--batch-size",
                "2",
                "--num-segments",
                "20",
                "--embed-dim",
                "16",
                "--eval-every",
                "0",
                "--seeds",
                "3",
                "4",
                "--output-dir",
                str(tmp_path / "cli_seeds"),
            ]
        )
        == 0
    )
    assert "mean ± std over seeds" in capsys.readouterr().out


def test_ablation_rows(data_root: Path, tmp_path: Path) -> None:
    from wtal_blocks.recipes import get_method
    from wtal_blocks.recipes.seeds import run_ablation

    cfg = _config(data_root, tmp_path / "abl", iterations=2, eval_every=0)
    summaries = run_ablation(cfg, [0], log=lambda _: None, progress=False)
    assert list(summaries) == [name for name, _, _ in get_method("um").ablation]
    base_cfg = UMConfig.load(tmp_path / "abl" / "baseline" / "seed_0" / "config.json")
    assert (base_cfg.alpha, base_cfg.beta) == (0.0, 0.0)
    um_cfg = UMConfig.load(tmp_path / "abl" / "um_loss" / "seed_0" / "config.json")
    assert (um_cfg.alpha, um_cfg.beta) == (cfg.alpha, 0.0)
    fused = summaries["baseline, fused scoring"].runs[0]
    soft = summaries["baseline, softmax scoring"].runs[0]
    assert fused.step == soft.step == 2
    assert (tmp_path / "abl" / "ablation.txt").read_text().count("±") >= 4 * 8


def test_data_loader_workers_do_not_change_the_run(data_root: Path, tmp_path: Path) -> None:
    train(
        _config(data_root, tmp_path / "w0", iterations=3, eval_every=0, num_workers=0),
        progress=False,
        log=lambda _: None,
    )
    train(
        _config(data_root, tmp_path / "w2", iterations=3, eval_every=0, num_workers=2),
        progress=False,
        log=lambda _: None,
    )
    w0, w2 = (
        _weights(tmp_path / "w0" / "model_final.pkl"),
        _weights(tmp_path / "w2" / "model_final.pkl"),
    )
    assert all(torch.equal(w0[k], w2[k]) for k in w0)


def test_padded_evaluation_batches_equal_one_video_at_a_time(
    data_root: Path, tmp_path: Path
) -> None:
    from wtal_blocks import UncertaintyModelingNet
    from wtal_blocks.recipes.build import build_dataset
    from wtal_blocks.recipes.evaluate import evaluate_model

    torch.manual_seed(0)
    net = UncertaintyModelingNet(8, 20, embed_dim=16).eval()
    results = []
    for batch in (1, 4):
        cfg = _config(data_root, tmp_path / "e", modal="rgb", eval_batch_size=batch)
        report, res = evaluate_model(net, build_dataset(cfg, train=False), cfg, torch.device("cpu"))
        results.append((report, res["results"]))
    (r1, d1), (r4, d4) = results
    assert r1.mAP == pytest.approx(r4.mAP, abs=1e-6)
    for vid in d1:
        a = sorted((d["label"], d["segment"][0], d["segment"][1], d["score"]) for d in d1[vid])
        b = sorted((d["label"], d["segment"][0], d["segment"][1], d["score"]) for d in d4[vid])
        assert len(a) == len(b), vid
        for x, y in zip(a, b, strict=True):  # float32 batched sums differ in the last bits only
            assert (
                x[0] == y[0]
                and x[1] == pytest.approx(y[1], abs=1e-9)
                and x[2] == pytest.approx(y[2], abs=1e-9)
            )
            assert x[3] == pytest.approx(y[3], abs=1e-5)


def test_best_model_is_the_first_step_with_the_best_score(data_root: Path, tmp_path: Path) -> None:
    # tIoU 1.0 can never be reached by these detections: every evaluation scores 0, a tie
    cfg = _config(data_root, tmp_path / "tie", iterations=4, eval_every=1, tiou="1.0")
    result = train(cfg, progress=False, log=lambda _: None)
    assert [h.average_mAP for h in result.history] == [0.0] * 4
    assert result.best.step == 1
    step1 = _config(data_root, tmp_path / "one", iterations=1, eval_every=0, tiou="1.0")
    train(step1, progress=False, log=lambda _: None)
    best, first = (
        _weights(tmp_path / "tie" / "model_best.pkl"),
        _weights(tmp_path / "one" / "model_final.pkl"),
    )
    assert all(torch.equal(best[k], first[k]) for k in best)


def test_resume_drops_log_rows_after_the_checkpoint(data_root: Path, tmp_path: Path) -> None:
    cfg = _config(data_root, tmp_path / "r", eval_every=2)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=False, log=lambda _: None, stop_after=3)
    with (tmp_path / "r" / "train_log.csv").open(
        "a"
    ) as handle:  # a row written after the checkpoint
        handle.write("4,9,9,9,9\n")
    train(cfg, resume=True, progress=False, log=lambda _: None)
    steps = [int(r["step"]) for r in csv.DictReader((tmp_path / "r" / "train_log.csv").open())]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_overwrite_removes_the_previous_outputs(data_root: Path, tmp_path: Path) -> None:
    cfg = _config(data_root, tmp_path / "o", iterations=1, eval_every=0)
    train(cfg, progress=False, log=lambda _: None)
    (tmp_path / "o" / "model_best.pkl").unlink()
    with pytest.raises(KeyboardInterrupt):
        train(
            cfg.replace(iterations=3, eval_every=1),
            overwrite=True,
            progress=False,
            log=lambda _: None,
            stop_after=1,
        )
    assert (
        not (tmp_path / "o" / "model_final.pkl").exists()
        and not (tmp_path / "o" / "metrics.json").exists()
    )


def test_unlabelled_training_video_is_a_data_error(tmp_path: Path) -> None:
    from wtal_blocks.data import DataError

    root = write_thumos_layout(tmp_path / "d", LENGTHS)
    gt = json.loads((root / "gt.json").read_text())
    gt["database"]["train_2"]["annotations"] = []
    (root / "gt.json").write_text(json.dumps(gt))
    with pytest.raises(
        DataError, match=r"1 training video\(s\) have no action label \(e.g. \['train_2'\]\)"
    ):
        train(_config(root, tmp_path / "o"), progress=False, log=lambda _: None)


def test_bad_configuration_fails_before_training(data_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"0.1-0.7"):
        _config(data_root, tmp_path / "o", tiou="0.1-0.7")
    with pytest.raises(ValueError, match=r"seed must be >= 0"):
        _config(data_root, tmp_path / "o", seed=-1)
    with pytest.raises(ValueError, match=r"data_root \(--data-root DIR\) is required"):
        train(UMConfig(output_dir=str(tmp_path / "o")), progress=False, log=lambda _: None)


def test_official_defaults() -> None:
    c = UMConfig()
    assert (c.lr, c.weight_decay, c.batch_size, c.iterations) == (1e-4, 5e-4, 16, 10_000)
    assert (
        c.alpha,
        c.beta,
        c.margin,
        c.action_ratio,
        c.background_ratio,
        c.dropout,
        c.embed_dim,
    ) == (
        5e-4,
        1.0,
        100.0,
        9,
        4,
        0.7,
        2048,
    )
    assert (c.class_threshold, c.segments, c.tiou_thresholds, c.eval_every) == (
        0.2,
        750,
        "0.1:0.7:0.1",
        100,
    )
    assert (c.loss_form, c.background_score, c.scoring) == ("official", "official", "fused")
    assert (
        UMConfig(dataset="anet12").segments == 50
        and UMConfig(dataset="anet13").tiou_thresholds == "0.5:0.95:0.05"
    )


def test_corrupt_or_foreign_checkpoint_gives_a_clear_error(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "garbage.pkl"
    bad.write_bytes(b"not a checkpoint at all")
    assert (
        main(
            [
                "evaluate",
                "--data-root",
                str(data_root),
                "--checkpoint",
                str(bad),
                "--output",
                str(tmp_path / "r.json"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"{bad}: not a readable weights-only checkpoint" in err and "Traceback" not in err


def test_multi_seed_resume_starts_seeds_that_had_not_started(
    data_root: Path, tmp_path: Path
) -> None:
    from wtal_blocks.recipes.seeds import run_seeds

    cfg = _config(data_root, tmp_path / "s", iterations=2, eval_every=0)
    train(
        cfg.replace(seed=0, output_dir=str(tmp_path / "s" / "seed_0")),
        progress=False,
        log=lambda _: None,
    )
    summary = run_seeds(cfg, [0, 1], resume=True, log=lambda _: None, progress=False)
    assert [r.step for r in summary.runs] == [2, 2]


def test_prefetching_reads_change_nothing(data_root: Path, tmp_path: Path) -> None:
    """Reading the next batch in a thread (two buffers taking turns) gives the same detections,
    and an error in a prefetched batch reaches the caller as itself."""
    import numpy as np

    from wtal_blocks import UncertaintyModelingNet
    from wtal_blocks.data import DataError, ThumosFeatures
    from wtal_blocks.recipes.evaluate import predict
    from wtal_blocks.recipes.methods import method_of

    cfg = _config(data_root, tmp_path / "unused")
    torch.manual_seed(0)
    model = UncertaintyModelingNet(8, 20, embed_dim=16)
    test = ThumosFeatures(data_root, "test", modal="rgb", num_segments=750)
    post = method_of(cfg).build_post_processor(cfg)
    cpu = torch.device("cpu")
    runs = [
        predict(model, test, post, cpu, batch_size=b, prefetch=p)
        for b in (1, 3)
        for p in (False, True)
    ]
    for plain, prefetched in (runs[0:2], runs[2:4]):
        assert plain[0].keys() == prefetched[0].keys()
        for vid in plain[0]:
            for a, b in zip(plain[0][vid], prefetched[0][vid], strict=True):
                assert np.array_equal(a, b)
        assert np.array_equal(plain[1], prefetched[1]) and np.array_equal(plain[2], prefetched[2])
    bad = data_root / "features/test/rgb/test_3.npy"
    saved = bad.read_bytes()
    try:
        feats = np.load(bad)
        feats[2, 1] = np.nan
        np.save(bad, feats)
        with pytest.raises(DataError, match=r"test_3\.npy: the features of video 'test_3'"):
            predict(model, test, post, cpu, batch_size=1, prefetch=True)
    finally:
        bad.write_bytes(saved)


def test_freed_memory_is_reused_and_sets_the_cpu_batch() -> None:
    import sys

    from wtal_blocks.recipes import memory

    cfg = UMConfig()
    assert cfg.eval_batch_for("cuda") == 16
    assert UMConfig(eval_batch_size=5).eval_batch_for("cpu") == 5
    applied = memory.reuse_freed_memory()
    assert applied == memory.reusing_freed_memory()
    if sys.platform.startswith("linux") and "glibc" in " ".join(__import__("platform").libc_ver()):
        assert applied  # glibc has mallopt
    assert cfg.eval_batch_for("cpu") == (16 if applied else 4)
    assert memory.reuse_freed_memory() == applied  # idempotent
    with pytest.raises(ValueError, match="eval_batch_size must be >= 1"):
        UMConfig(eval_batch_size=0)
