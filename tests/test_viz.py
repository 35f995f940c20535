"""Plots: the PNGs are written and non-empty, and the data each figure draws equals its inputs.

Checks read the drawn artists back (``Line2D.get_ydata``, bar heights, histogram patches), found
by the ``gid`` the plotting functions give them; no pixel is compared. Precision-recall curves
are checked against the evaluators: their area must equal the AP of the class and threshold.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tests.reference import detection_reference, thumos14_reference
from wtal_blocks.evaluation import (
    DetectionMAP,
    EvaluationInputError,
    GroundTruth,
    Predictions,
    Thumos14Annotations,
    evaluate_detection,
    evaluate_thumos14,
    load_activitynet_ground_truth,
    load_activitynet_results,
    load_thumos14_annotations,
    load_thumos14_results,
    precision_recall,
    precision_recall_thumos14,
)
from wtal_blocks.recipes.inspect import ground_truth_mask, seconds_per_segment

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
needs_matplotlib = pytest.mark.skipif(
    not HAS_MATPLOTLIB, reason="the viz extra (matplotlib) is not installed"
)
if HAS_MATPLOTLIB:
    from wtal_blocks.viz import (
        Plot,
        plot_class_ap,
        plot_localization,
        plot_magnitude_histograms,
        plot_precision_recall,
    )

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _artists(plot: Plot, gid: str) -> list[Any]:
    return plot.figure.findobj(lambda a: a.get_gid() == gid)


def _saved_png(plot: Plot, path: Path) -> None:
    out = plot.save(path, dpi=40)
    data = out.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000


# ---------------------------------------------------------------------------------------
# optional dependency


def test_import_error_names_the_extra_when_matplotlib_is_missing() -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import wtal_blocks, wtal_blocks.cli.eval\n"
        "try:\n    import wtal_blocks.viz\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert "pip install 'wtal_blocks[viz]'" in out.stdout


@needs_matplotlib
def test_viz_does_not_import_torch() -> None:
    code = "import sys, wtal_blocks.viz; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


# ---------------------------------------------------------------------------------------
# Figure 4


@needs_matplotlib
def test_localization_plot_draws_its_inputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cas, u = rng.random(40), rng.random(40)
    det = np.array([[1.0, 3.0], [4.0, 9.5], [0.5, 2.0]])
    scores = np.array([0.3, 0.9, 0.6])
    gt = np.array([[1.2, 2.9], [4.5, 9.0]])
    plot = plot_localization(
        cas, u, det, scores, gt, seconds=0.5, class_name="HighJump", max_detections=2
    )
    np.testing.assert_array_equal(plot.data["cas"], cas)
    np.testing.assert_array_equal(plot.data["magnitude"], u)
    np.testing.assert_array_equal(plot.data["times"], np.arange(40) * 0.5)
    # the two best detections, in descending score order
    np.testing.assert_array_equal(plot.data["detections"], det[[1, 2]])
    np.testing.assert_array_equal(plot.data["detection_scores"], [0.9, 0.6])
    np.testing.assert_array_equal(plot.data["ground_truth"], gt)

    (line,) = _artists(plot, "cas")
    np.testing.assert_array_equal(line.get_ydata(), cas)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(40) * 0.5)
    (mline,) = _artists(plot, "magnitude")
    np.testing.assert_array_equal(mline.get_ydata(), u)
    bars = _artists(plot, "detections")
    assert [(b.get_x(), b.get_x() + b.get_width(), b.get_height()) for b in bars] == [
        (4.0, 9.5, 0.9),
        (0.5, 2.0, 0.6),
    ]
    (gt_bars,) = _artists(plot, "ground_truth")
    drawn = [(p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in gt_bars.get_paths()]
    np.testing.assert_allclose(drawn, gt)
    _saved_png(plot, tmp_path / "video.png")


@needs_matplotlib
def test_localization_plot_without_detections_or_magnitude(tmp_path: Path) -> None:
    plot = plot_localization(np.linspace(0, 1, 10), None, None, None, [[0.0, 1.0]], seconds=1.0)
    assert "magnitude" not in plot.data and plot.data["detections"].shape == (0, 2)
    assert not _artists(plot, "detections")
    _saved_png(plot, tmp_path / "empty.png")


@needs_matplotlib
def test_localization_plot_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="magnitude must have shape"):
        plot_localization(np.zeros(5), np.zeros(4), None, None, None, seconds=1.0)
    with pytest.raises(ValueError, match="detections must have shape"):
        plot_localization(np.zeros(5), None, np.zeros(3), np.zeros(3), None, seconds=1.0)
    with pytest.raises(ValueError, match="seconds must be > 0"):
        plot_localization(np.zeros(5), None, None, None, None, seconds=0.0)


@needs_matplotlib
def test_seconds_per_segment_and_ground_truth_mask() -> None:
    # the official time scale: 16 frames per segment at 25 fps; L = 100 segments sampled to T = 50
    assert seconds_per_segment(100, 50) == pytest.approx(16 * 100 / (50 * 25))
    assert seconds_per_segment(100, 50, duration=30.0) == pytest.approx(0.6)
    mask = ground_truth_mask([[1.0, 2.0], [4.1, 4.4]], 6, 1.0)  # centres 0.5, 1.5, ..., 5.5
    np.testing.assert_array_equal(mask, [False, True, False, False, False, False])
    assert not ground_truth_mask(np.zeros((0, 2)), 3, 1.0).any()


# ---------------------------------------------------------------------------------------
# Figure 2


@needs_matplotlib
def test_magnitude_histograms_draw_their_inputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    stages = {
        "before training": (rng.normal(5, 1, 300), rng.normal(5, 1, 900)),
        "after training": (rng.normal(60, 10, 300), rng.normal(20, 8, 900)),
    }
    plot = plot_magnitude_histograms(stages, bins=20)
    for stage, (act, bkg) in stages.items():
        drawn = plot.data[stage]
        np.testing.assert_array_equal(drawn["action"], act)
        np.testing.assert_array_equal(drawn["background"], bkg)
        edges = drawn["bins"]
        assert edges[0] == min(act.min(), bkg.min()) and edges[-1] == max(act.max(), bkg.max())
        for name, values in (("action", act), ("background", bkg)):
            expected, _ = np.histogram(values, bins=edges, density=True)
            np.testing.assert_allclose(drawn[f"{name}_density"], expected)
            heights = [p.get_height() for p in _artists(plot, f"{stage}/{name}")]
            np.testing.assert_allclose(heights, expected)
    _saved_png(plot, tmp_path / "magnitudes.png")
    with pytest.raises(ValueError, match="stages is empty"):
        plot_magnitude_histograms({})


# ---------------------------------------------------------------------------------------
# per-class AP and precision-recall


def _random_detection_problem(seed: int) -> tuple[GroundTruth, Predictions]:
    """Few videos and classes, predictions near the ground truth, with tied scores."""
    rng = np.random.default_rng(seed)
    classes = ("A", "B", "C")
    videos = tuple(f"v{i}" for i in range(5))
    g = 14
    g_start = rng.uniform(0, 50, g)
    gt = GroundTruth(
        video_ids=videos,
        class_names=classes,
        segments=np.stack([g_start, g_start + rng.uniform(1, 10, g)], axis=1),
        labels=rng.integers(0, 3, g),
        videos=rng.integers(0, 5, g),
    )
    n = 80
    src = rng.integers(0, g, n)
    jitter = rng.normal(0, 2.0, (n, 2))
    seg = np.sort(gt.segments[src] + jitter, axis=1)
    labels = np.where(rng.random(n) < 0.8, gt.labels[src], rng.integers(0, 3, n))
    vids = np.where(
        rng.random(n) < 0.85, gt.videos[src], rng.integers(0, 6, n)
    )  # id 5: no ground truth
    preds = Predictions(
        video_ids=(*videos, "v_extra"),
        label_names=classes,
        segments=seg,
        scores=np.round(rng.random(n), 1),  # many ties
        labels=labels.astype(np.int64),
        videos=vids.astype(np.int64),
    )
    return gt, preds


@pytest.mark.parametrize("seed", range(6))
def test_activitynet_pr_curve_is_the_reference_ranking(seed: int) -> None:
    gt, preds = _random_detection_problem(seed)
    thresholds = [0.1, 0.3, 0.5, 0.7]
    result = evaluate_detection(gt, preds, thresholds)
    for ci, name in enumerate(result.class_names):
        c = gt.class_names.index(name)
        gts = [
            (gt.video_ids[v], s, e)
            for (s, e), lab, v in zip(gt.segments.tolist(), gt.labels, gt.videos, strict=True)
            if lab == c
        ]
        mine = [
            (preds.video_ids[v], s, e, sc)
            for (s, e), sc, lab, v in zip(
                preds.segments.tolist(), preds.scores, preds.labels, preds.videos, strict=True
            )
            if preds.label_names[lab] == name
        ]
        ranked_scores, flags = detection_reference.class_ranking(gts, mine, thresholds)
        for ti, t in enumerate(thresholds):
            curve = precision_recall(gt, preds, name, t)
            np.testing.assert_array_equal(curve.scores, ranked_scores)
            np.testing.assert_array_equal(curve.is_tp, np.asarray(flags[ti], dtype=bool))
            assert curve.ap == pytest.approx(result.ap[ci, ti], abs=1e-12)
            n = curve.scores.shape[0]
            np.testing.assert_allclose(
                curve.precision, np.cumsum(curve.is_tp) / np.arange(1, n + 1)
            )
            np.testing.assert_allclose(
                curve.recall, np.cumsum(curve.is_tp) / curve.num_ground_truth
            )


@needs_matplotlib
def test_activitynet_pr_by_hand() -> None:
    gt = GroundTruth(
        ("v",), ("A",), np.array([[0.0, 10.0], [20.0, 30.0]]), np.array([0, 0]), np.array([0, 0])
    )
    # 0.9: hits GT 1 (tIoU 0.9); 0.8: same GT again, already taken -> FP; 0.7: GT 2 at tIoU 0.5
    preds = Predictions(
        ("v",),
        ("A",),
        np.array([[0.0, 9.0], [1.0, 10.0], [20.0, 25.0]]),
        np.array([0.9, 0.8, 0.7]),
        np.array([0, 0, 0]),
        np.array([0, 0, 0]),
    )
    curve = precision_recall(gt, preds, "A", 0.5)
    np.testing.assert_array_equal(curve.is_tp, [True, False, True])
    np.testing.assert_allclose(curve.precision, [1.0, 0.5, 2 / 3])
    np.testing.assert_allclose(curve.interpolated_precision, [1.0, 2 / 3, 2 / 3])
    assert curve.ap == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    with pytest.raises(EvaluationInputError, match="not a ground-truth class"):
        precision_recall(gt, preds, "Z", 0.5)


def test_thumos14_pr_curve_is_the_reference_ranking() -> None:
    rng = np.random.default_rng(3)
    base_gt, preds = _random_detection_problem(3)
    annotations = Thumos14Annotations(
        class_names=base_gt.class_names,
        class_ids=(7, 9, 12),
        video_ids=base_gt.video_ids,
        segments=base_gt.segments,
        labels=base_gt.labels,
        videos=base_gt.videos,
        ambiguous_segments=np.sort(rng.uniform(0, 60, (6, 2)), axis=1),
        ambiguous_videos=rng.integers(0, 5, 6),
    )
    thresholds = [0.1, 0.3, 0.5]
    result = evaluate_thumos14(annotations, preds, thresholds)
    for ci, name in enumerate(result.class_names):
        for ti, t in enumerate(thresholds):
            curve = precision_recall_thumos14(annotations, preds, name, t)
            assert curve.ap == pytest.approx(result.ap[ci, ti], abs=1e-12)
            c = annotations.class_names.index(name)
            gts = [
                (annotations.video_ids[v], s, e)
                for (s, e), lab, v in zip(
                    annotations.segments.tolist(),
                    annotations.labels,
                    annotations.videos,
                    strict=True,
                )
                if lab == c
            ]
            mine = [
                (preds.video_ids[v], s, e, sc)
                for (s, e), sc, lab, v in zip(
                    preds.segments.tolist(), preds.scores, preds.labels, preds.videos, strict=True
                )
                if preds.label_names[lab] == name
            ]
            amb = [
                (annotations.video_ids[v], s, e)
                for (s, e), v in zip(
                    annotations.ambiguous_segments.tolist(),
                    annotations.ambiguous_videos,
                    strict=True,
                )
            ]
            ranked = thumos14_reference.class_ranking(gts, mine, amb, t)
            np.testing.assert_array_equal(curve.scores, [r[0] for r in ranked])
            np.testing.assert_array_equal(curve.is_tp, [r[1] for r in ranked])


@needs_matplotlib
def test_pr_on_the_real_files(real_data: Path, thumos14_annotation_dir: Path) -> None:
    gt = load_activitynet_ground_truth(real_data / "thumos14_gt.json.gz")
    preds = load_activitynet_results(real_data / "autoloc_thumos14_test.json.gz")
    result = evaluate_detection(gt, preds, [0.3, 0.5])
    for name in ("BaseballPitch", "HighJump", "TennisSwing"):
        ci = result.class_names.index(name)
        for ti, t in enumerate((0.3, 0.5)):
            assert precision_recall(gt, preds, name, t).ap == pytest.approx(
                result.ap[ci, ti], abs=1e-12
            )
    ann = load_thumos14_annotations(thumos14_annotation_dir)
    turn = load_thumos14_results(real_data / "turn_flow_scnn_thumos14_test.txt.gz")
    result = evaluate_thumos14(ann, turn, [0.5])
    for ci, name in enumerate(result.class_names):
        assert precision_recall_thumos14(ann, turn, name, 0.5).ap == pytest.approx(
            result.ap[ci, 0], abs=1e-12
        )


@needs_matplotlib
def test_class_ap_and_pr_plots_draw_their_inputs(tmp_path: Path) -> None:
    gt, preds = _random_detection_problem(0)
    result = evaluate_detection(gt, preds, [0.3, 0.5])
    plot = plot_class_ap(result)
    mean = result.ap.mean(axis=1)
    order = np.argsort(-mean, kind="stable")
    assert plot.data["class_names"] == [result.class_names[i] for i in order]
    np.testing.assert_array_equal(plot.data["ap"], mean[order])
    widths = [b.get_width() for b in sorted(_artists(plot, "ap"), key=lambda b: -b.get_y())]
    np.testing.assert_allclose(widths, mean[order])  # top to bottom
    at = plot_class_ap(result, tiou=0.5, sort=False)
    np.testing.assert_array_equal(at.data["ap"], result.ap[:, 1])
    with pytest.raises(ValueError, match="not one of"):
        plot_class_ap(result, tiou=0.9)
    _saved_png(plot, tmp_path / "ap.png")

    curves = [precision_recall(gt, preds, name, 0.5) for name in result.class_names]
    pr = plot_precision_recall(curves)
    for curve in curves:
        drawn = pr.data[curve.class_name]
        np.testing.assert_array_equal(drawn["precision"], curve.precision)
        np.testing.assert_array_equal(drawn["recall"], curve.recall)
        (raw,) = _artists(pr, f"{curve.class_name}/precision")
        np.testing.assert_array_equal(raw.get_ydata(), curve.precision)
        np.testing.assert_array_equal(raw.get_xdata(), curve.recall)
        (env,) = _artists(pr, f"{curve.class_name}/interpolated")
        np.testing.assert_array_equal(env.get_ydata()[1:], curve.interpolated_precision)
    _saved_png(pr, tmp_path / "pr.png")


@needs_matplotlib
def test_pr_plot_of_a_class_without_predictions(tmp_path: Path) -> None:
    gt = GroundTruth(
        ("v",), ("A", "B"), np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([0, 1]), np.array([0, 0])
    )
    preds = Predictions(
        ("v",), ("A",), np.array([[0.0, 1.0]]), np.array([0.5]), np.array([0]), np.array([0])
    )
    empty = precision_recall(gt, preds, "B", 0.5)
    assert empty.scores.shape == (0,) and empty.ap == 0.0
    pr = plot_precision_recall([precision_recall(gt, preds, "A", 0.5), empty])
    assert pr.data["B"]["precision"].shape == (0,) and pr.data["A"]["ap"] == 1.0
    _saved_png(pr, tmp_path / "pr.png")


# ---------------------------------------------------------------------------------------
# the command-line hooks


def _write_json_inputs(tmp_path: Path) -> tuple[Path, Path, GroundTruth, Predictions]:
    gt, preds = _random_detection_problem(5)
    database: dict[str, Any] = {v: {"subset": "test", "annotations": []} for v in gt.video_ids}
    for seg, lab, vid in zip(
        gt.segments.tolist(), gt.labels.tolist(), gt.videos.tolist(), strict=True
    ):
        database[gt.video_ids[vid]]["annotations"].append(
            {"label": gt.class_names[lab], "segment": seg}
        )
    results: dict[str, list[Any]] = {}
    for seg, sc, lab, vid in zip(
        preds.segments.tolist(),
        preds.scores.tolist(),
        preds.labels.tolist(),
        preds.videos.tolist(),
        strict=True,
    ):
        results.setdefault(preds.video_ids[vid], []).append(
            {"label": preds.label_names[lab], "score": sc, "segment": seg}
        )
    gt_path, pred_path = tmp_path / "gt.json", tmp_path / "pred.json"
    gt_path.write_text(json.dumps({"database": database}))
    pred_path.write_text(json.dumps({"results": results}))
    return gt_path, pred_path, gt, preds


@needs_matplotlib
def test_wtal_eval_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wtal_blocks.cli.eval import main

    gt_path, pred_path, _, _ = _write_json_inputs(tmp_path)
    plots = tmp_path / "plots"
    assert (
        main(
            [str(gt_path), str(pred_path), "--tiou", "0.3:0.7:0.2", "--json", "--plots", str(plots)]
        )
        == 0
    )
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout is still exactly one JSON object
    assert "wrote 2 plots" in captured.err
    for name in ("class_ap.png", "pr_tiou0.5.png"):
        data = (plots / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000


@needs_matplotlib
def test_wtal_eval_plots_thumos14_protocol(
    real_data: Path,
    thumos14_annotation_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from wtal_blocks.cli.eval import main

    plots = tmp_path / "plots"
    args = [
        str(thumos14_annotation_dir),
        str(real_data / "turn_flow_scnn_thumos14_test.txt.gz"),
        "--protocol", "thumos14", "--plots", str(plots),
    ]  # fmt: skip
    assert main(args) == 0
    assert "wrote 2 plots" in capsys.readouterr().err
    assert (plots / "class_ap.png").stat().st_size > 1000 and (
        plots / "pr_tiou0.5.png"
    ).stat().st_size > 1000


def test_wtal_eval_plots_without_matplotlib(tmp_path: Path) -> None:
    gt_path, pred_path, _, _ = _write_json_inputs(tmp_path)
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from wtal_blocks.cli.eval import main\n"
        f"sys.exit(main([{str(gt_path)!r}, {str(pred_path)!r}, '--plots', {str(tmp_path / 'p')!r}]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert out.returncode == 2 and "pip install 'wtal_blocks[viz]'" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert out.stdout == ""  # refused before the evaluation, which would have been wasted


# ---------------------------------------------------------------------------------------
# from a model: video curves, magnitudes, and wtal-um evaluate --plots


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import torch

    from tests.helpers import write_thumos_layout
    from wtal_blocks import UncertaintyModelingNet

    root = tmp_path_factory.mktemp("viz_data")
    lengths = {
        **{f"train_{i}": 30 for i in range(2)},
        **{f"test_{i}": 26 + 6 * i for i in range(4)},
    }
    write_thumos_layout(root, lengths, instances=True)
    torch.manual_seed(0)
    ckpt = root / "model.pkl"
    torch.save(UncertaintyModelingNet(8, 20, embed_dim=16).state_dict(), ckpt)
    return {"root": root, "checkpoint": ckpt}


@needs_matplotlib
def test_video_curves_are_the_post_processors_scores(tiny_run: dict[str, Any]) -> None:
    import torch

    from wtal_blocks import UMPostProcessor, load_official_checkpoint
    from wtal_blocks.data import ThumosFeatures
    from wtal_blocks.recipes.inspect import video_curves

    model = load_official_checkpoint(tiny_run["checkpoint"])
    sample = ThumosFeatures(tiny_run["root"], "test", modal="rgb", num_segments=30)[2]
    curves = video_curves(model, sample.features)
    with torch.no_grad():
        out = model.eval()(sample.features[None])
    cas, u = UMPostProcessor().scores(out)
    np.testing.assert_allclose(curves.cas, cas[0].double().numpy())
    np.testing.assert_allclose(curves.magnitude, u[0].double().numpy())
    np.testing.assert_allclose(curves.magnitudes, out.magnitudes[0].double().numpy())
    assert curves.cas.shape == (30, 20) and model.training is False


@needs_matplotlib
def test_segment_magnitudes_split_by_ground_truth(tiny_run: dict[str, Any]) -> None:
    import torch

    from wtal_blocks import load_official_checkpoint
    from wtal_blocks.data import ThumosFeatures
    from wtal_blocks.recipes.inspect import segment_magnitudes

    model = load_official_checkpoint(tiny_run["checkpoint"])
    dataset = ThumosFeatures(tiny_run["root"], "test", modal="rgb", num_segments=30)
    action, background = segment_magnitudes(model, dataset, batch_size=3)
    expected_act, expected_bkg = [], []
    database = dataset.ground_truth()["database"]
    for i in range(len(dataset)):  # one video at a time, unpadded
        sample = dataset[i]
        with torch.no_grad():
            mags = model.eval()(sample.features[None]).magnitudes[0].double().numpy()
        t = mags.shape[0]
        intervals = [
            [float(a["segment"][0]), float(a["segment"][1])]
            for a in database[sample.video_id]["annotations"]
        ]
        inside = ground_truth_mask(intervals, t, seconds_per_segment(sample.length, t))
        expected_act.append(mags[inside])
        expected_bkg.append(mags[~inside])
    np.testing.assert_allclose(np.sort(action), np.sort(np.concatenate(expected_act)), rtol=1e-5)
    np.testing.assert_allclose(
        np.sort(background), np.sort(np.concatenate(expected_bkg)), rtol=1e-5
    )
    assert action.size > 0 and background.size > 0


@needs_matplotlib
def test_wtal_um_evaluate_plots(
    tiny_run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wtal_blocks.cli.um import main

    plots = tmp_path / "plots"
    args = [
        "evaluate", "--data-root", str(tiny_run["root"]), "--checkpoint", str(tiny_run["checkpoint"]),
        "--output", str(tmp_path / "results.json"), "--modal", "rgb", "--num-segments", "30",
        "--plots", str(plots),
    ]  # fmt: skip
    assert main(args) == 0
    assert "wrote 5 plots" in capsys.readouterr().out  # 2 worst + 2 best of 4 videos, and class_ap
    summary = json.loads((plots / "plots.json").read_text())
    kinds = [(v["kind"], v["rank"]) for v in summary["videos"]]
    assert kinds == [("worst", 1), ("worst", 2), ("best", 1), ("best", 2)]
    worst = [v["average_mAP"] for v in summary["videos"][:2]]
    best = [v["average_mAP"] for v in summary["videos"][2:]]
    assert worst == sorted(worst) and best == sorted(best, reverse=True) and max(worst) <= min(best)
    for entry in summary["videos"]:
        data = (plots / entry["file"]).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert (plots / "class_ap.png").stat().st_size > 1000


@needs_matplotlib
def test_plot_evaluation_videos_are_scored_like_the_evaluator(
    tiny_run: dict[str, Any], tmp_path: Path
) -> None:
    """The per-video score of a plotted video is that video's own average mAP."""
    import torch

    from wtal_blocks.recipes import UMConfig, evaluate_checkpoint
    from wtal_blocks.recipes.evaluate import model_and_test_set
    from wtal_blocks.recipes.inspect import localization_cases
    from wtal_blocks.recipes.methods.um import inference_config
    from wtal_blocks.viz import write_localization_plots

    config = UMConfig(data_root=str(tiny_run["root"]), modal="rgb", num_segments=30, device="cpu")
    results = tmp_path / "results.json"
    evaluate_checkpoint(config, tiny_run["checkpoint"], results, log=lambda _: None)
    model, test_set = model_and_test_set(config, tiny_run["checkpoint"], torch.device("cpu"))
    cases, overall = localization_cases(
        model,
        test_set,
        results,
        tiou_thresholds=config.tiou_thresholds,
        inference=inference_config(config),
        num_videos=1,
    )
    paths = write_localization_plots(cases, overall, tmp_path / "p")
    assert [p.name for p in paths][-1] == "class_ap.png" and len(paths) == 3
    summary = json.loads((tmp_path / "p" / "plots.json").read_text())
    gt = json.loads((tiny_run["root"] / "gt.json").read_text())["database"]
    preds = json.loads(results.read_text())["results"]
    for entry in summary["videos"]:
        vid = entry["video"]
        metric = DetectionMAP(None, config.tiou_thresholds, ignore_unknown_labels=True)
        anns = gt[vid]["annotations"]
        metric.add_ground_truth(
            vid, [[float(x) for x in a["segment"]] for a in anns], [a["label"] for a in anns]
        )
        mine = preds.get(vid, [])
        metric.update(
            vid,
            np.asarray([p["segment"] for p in mine]).reshape(-1, 2),
            [p["score"] for p in mine],
            [p["label"] for p in mine],
        )
        assert entry["average_mAP"] == pytest.approx(metric.compute().average_mAP)
