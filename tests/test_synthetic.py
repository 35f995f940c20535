"""The built-in synthetic dataset: determinism, structure, the phenomenon, the official layout."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wtal_blocks.data import THUMOS14_CLASSES, ThumosFeatures
from wtal_blocks.data.synthetic import (
    PRESETS,
    SegmentKind,
    SyntheticSpec,
    SyntheticWTAL,
    write_official_layout,
)
from wtal_blocks.evaluation import load_activitynet_ground_truth

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY = SyntheticSpec(
    num_train=4, num_test=3, rgb_dim=16, flow_dim=8, median_duration=40.0, max_duration=80.0
)


def _digest(ds: SyntheticWTAL, indices: range) -> str:
    h = hashlib.sha256()
    for i in indices:
        h.update(np.ascontiguousarray(ds.load_features(i)).tobytes())
    h.update(json.dumps(ds.ground_truth(), sort_keys=True).encode())
    return h.hexdigest()


# -- determinism ------------------------------------------------------------------------


def test_same_seed_same_data_different_seed_different_data() -> None:
    a = SyntheticWTAL("test", preset="demo")
    b = SyntheticWTAL("test", preset="demo", cache=False)
    c = SyntheticWTAL("test", preset="demo", data_seed=1)
    assert a.ground_truth() == b.ground_truth()
    for i in (0, 7, 101):
        np.testing.assert_array_equal(a.load_features(i), b.load_features(i))
        np.testing.assert_array_equal(a.segment_kinds(i), b.segment_kinds(i))
    assert a.ground_truth() != c.ground_truth()
    assert not np.array_equal(a.load_features(0)[:8], c.load_features(0)[:8])
    # the sampling seed changes the training sampling, never the data
    d = SyntheticWTAL("test", preset="demo", seed=5)
    np.testing.assert_array_equal(a.load_features(3), d.load_features(3))
    # cached arrays are read-only, so a caller cannot corrupt later reads
    with pytest.raises(ValueError):
        a.load_features(0)[0, 0] = 1.0


def test_identical_in_another_process() -> None:
    here = _digest(SyntheticWTAL("train", preset="demo"), range(3))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from tests.test_synthetic import _digest; "
        "from wtal_blocks.data.synthetic import SyntheticWTAL; "
        "print(_digest(SyntheticWTAL('train', preset='demo'), range(3)))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    there = subprocess.run(
        [sys.executable, "-c", code, str(REPO_ROOT)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert there.stdout.strip() == here


def test_train_and_test_are_different_videos() -> None:
    train, test = SyntheticWTAL("train", preset="demo"), SyntheticWTAL("test", preset="demo")
    assert len(train) == 200 and len(test) == 210
    assert not set(train.video_ids) & set(test.video_ids)
    assert not np.array_equal(train.load_features(0)[:8], test.load_features(0)[:8])


# -- structure --------------------------------------------------------------------------


@pytest.mark.parametrize(("preset", "rgb", "flow"), [("demo", 128, 128), ("thumos", 1024, 1024)])
def test_features_are_nonnegative_float32_of_the_preset_size(
    preset: str, rgb: int, flow: int
) -> None:
    sizes = {"all": rgb + flow, "rgb": rgb, "flow": flow}
    for modal, dim in sizes.items():
        ds = SyntheticWTAL("test", preset=preset, modal=modal)  # type: ignore[arg-type]
        feats = ds.load_features(1)
        assert feats.dtype == np.float32 and feats.shape == (ds.lengths[1], dim)
        assert np.isfinite(feats).all() and feats.min() >= 0.0
        assert ds.feature_dim == dim
    both = SyntheticWTAL("test", preset=preset)
    r, f = both.generate(1)
    np.testing.assert_array_equal(both.load_features(1), np.concatenate([r, f], axis=1))


def test_sampling_follows_the_official_rules() -> None:
    train = SyntheticWTAL("train", preset="demo", num_segments=64)
    test = SyntheticWTAL("test", preset="demo", num_segments=64)
    assert train.sampling == "random" and test.sampling == "uniform"
    item = train[0]
    assert tuple(item.features.shape) == (64, 256) and item.length == train.lengths[0]
    assert item.label.sum() >= 1
    short = int(np.argmin(test.lengths))
    assert test[short].features.shape[0] == min(64, int(test.lengths[short]))


def test_thumos_preset_lengths_and_instance_counts_are_realistic() -> None:
    """THUMOS'14: median ~150 s, 30 s-12 min for most videos, ~15 instances a video (median 8-9),
    instances of 1-10 s (median 3 s), about a third of the time inside actions."""
    for split in ("train", "test"):
        ds = SyntheticWTAL(split, preset="thumos")
        db = ds.ground_truth()["database"]
        assert 100 <= np.median(ds.durations) <= 220
        assert np.percentile(ds.durations, 5) >= 15 and np.percentile(ds.durations, 95) <= 900
        counts = np.asarray([len(db[v]["annotations"]) for v in ds.video_ids])
        assert counts.min() >= 1 and 5 <= np.median(counts) <= 15 and 8 <= counts.mean() <= 22
        assert counts.max() >= 40  # a heavy tail, as VolleyballSpiking / CleanAndJerk videos
        lengths = np.asarray(
            [b - a for v in db.values() for a, b in (x["segment"] for x in v["annotations"])]
        )
        assert 2.0 <= np.median(lengths) <= 5.0 and np.percentile(lengths, 95) <= 15.0
        coverage = lengths.sum() / ds.durations.sum()
        assert 0.15 <= coverage <= 0.4


def test_every_video_has_labels_and_instances_inside_it() -> None:
    for preset in ("demo", "thumos"):
        ds = SyntheticWTAL("test", preset=preset)
        db = ds.ground_truth()["database"]
        for i, vid in enumerate(ds.video_ids):
            anns = db[vid]["annotations"]
            assert anns, vid
            assert {THUMOS14_CLASSES.index(a["label"]) for a in anns} == set(
                np.flatnonzero(ds.labels[i]).tolist()
            )
            for a in anns:
                start, end = a["segment"]
                assert 0.0 <= start < end <= db[vid]["duration"] + 1e-9
            assert db[vid]["duration"] == pytest.approx(ds.durations[i], abs=1e-3)
            assert ds.durations[i] == pytest.approx(ds.lengths[i] * 16 / 25)
        # several classes occur, and some videos have two (cricket, diving)
        assert (ds.labels.sum(axis=0) > 0).sum() == 20
        assert (ds.labels.sum(axis=1) >= 2).any()


def test_ground_truth_is_activitynet_json(tmp_path: Path) -> None:
    ds = SyntheticWTAL("test", preset="demo")
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(ds.ground_truth()))
    gt = load_activitynet_ground_truth(path, subset="test")
    db = ds.ground_truth()["database"]
    assert len(gt.segments) == sum(len(v["annotations"]) for v in db.values())
    assert set(gt.video_ids) == set(ds.video_ids)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="preset"):
        SyntheticWTAL("train", preset="huge")
    with pytest.raises(ValueError, match="split"):
        SyntheticWTAL("val")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="modal"):
        SyntheticWTAL("train", modal="depth")  # type: ignore[arg-type]


# -- the phenomenon -----------------------------------------------------------------------


def _features_by_kind(
    ds: SyntheticWTAL, videos: range
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    feats, kinds, classes = [], [], []
    for i in videos:
        feats.append(ds.load_features(i))
        kinds.append(ds.segment_kinds(i))
        classes.append(np.full(ds.lengths[i], int(np.argmax(ds.labels[i]))))
    return np.concatenate(feats), np.concatenate(kinds), np.concatenate(classes)


@pytest.fixture(scope="module")
def demo_test_segments() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ds = SyntheticWTAL("test", preset="demo")
    return _features_by_kind(ds, range(len(ds)))


def test_every_kind_of_segment_occurs(
    demo_test_segments: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    _, kinds, _ = demo_test_segments
    share = np.bincount(kinds, minlength=len(SegmentKind)) / len(kinds)
    assert (share > 0.02).all(), share
    assert 0.15 <= share[SegmentKind.ACTION] <= 0.4


def test_dynamic_background_has_more_raw_energy_than_actions(
    demo_test_segments: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    feats, kinds, _ = demo_test_segments
    norm = np.linalg.norm(feats, axis=1)
    mean = {k: norm[kinds == k].mean() for k in SegmentKind}
    # the inconsistent background: raw energy alone would rank dynamic background first
    assert mean[SegmentKind.DYNAMIC] > 1.2 * mean[SegmentKind.ACTION]
    assert mean[SegmentKind.ACTION] > mean[SegmentKind.CONTEXT] > mean[SegmentKind.STATIC]
    assert mean[SegmentKind.ACTION] > max(mean[SegmentKind.VENUE], mean[SegmentKind.GENERIC])
    assert mean[SegmentKind.STATIC] < 0.1 * mean[SegmentKind.VENUE]  # near-zero frames


def test_actions_share_a_motion_component_across_classes(
    demo_test_segments: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Action minus context of the same class (both carry the class pattern) points the same
    way for every class: the shared motion. Context and action of a class share the class
    pattern: context is closer to its own class's actions than to other classes' actions."""
    feats, kinds, classes = demo_test_segments
    diffs, act_means, ctx_means = [], [], []
    for c in range(20):
        act = feats[(kinds == SegmentKind.ACTION) & (classes == c)]
        ctx = feats[(kinds == SegmentKind.CONTEXT) & (classes == c)]
        if len(act) < 20 or len(ctx) < 20:
            continue
        act_means.append(act.mean(axis=0))
        ctx_means.append(ctx.mean(axis=0))
        diffs.append(act_means[-1] - ctx_means[-1])
    assert len(diffs) >= 15

    def cosine(x: np.ndarray) -> np.ndarray:
        x = x - feats.mean(axis=0)
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        return x @ x.T

    d = np.stack(diffs)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    sim = d @ d.T
    assert sim[~np.eye(len(d), dtype=bool)].mean() > 0.5
    # context -> same-class action is closer than context -> other-class action
    both = cosine(np.concatenate([np.stack(ctx_means), np.stack(act_means)]))
    cross = both[: len(diffs), len(diffs) :]
    assert (np.diag(cross)[:, None] > cross + 1e-6 * np.eye(len(diffs))).sum() >= 0.9 * len(
        diffs
    ) * (len(diffs) - 1)


# -- the official layout ------------------------------------------------------------------


def test_write_official_layout_round_trip(tmp_path: Path) -> None:
    root = write_official_layout(tmp_path / "syn", preset=TINY, data_seed=3)
    gt = json.loads((root / "gt.json").read_text())
    for split in ("train", "test"):
        syn = SyntheticWTAL(split, preset=TINY, data_seed=3)
        for modal in ("all", "rgb", "flow"):
            disk = ThumosFeatures(root, split, modal=modal)  # type: ignore[arg-type]
            mem = SyntheticWTAL(split, preset=TINY, data_seed=3, modal=modal)  # type: ignore[arg-type]
            assert disk.video_ids == mem.video_ids
            np.testing.assert_array_equal(disk.lengths, mem.lengths)
            np.testing.assert_array_equal(disk.labels, mem.labels)
            np.testing.assert_allclose(disk.durations, mem.durations)
            for i in range(len(mem)):
                np.testing.assert_array_equal(
                    np.asarray(disk.load_features(i)), mem.load_features(i)
                )
        for vid, entry in syn.ground_truth()["database"].items():
            assert gt["database"][vid] == entry
    loaded = load_activitynet_ground_truth(root / "gt.json", subset="test")
    assert set(loaded.video_ids) == set(SyntheticWTAL("test", preset=TINY, data_seed=3).video_ids)


def test_presets_are_registered() -> None:
    assert set(PRESETS) == {"demo", "thumos"}
    assert PRESETS["thumos"].rgb_dim == PRESETS["thumos"].flow_dim == 1024


def test_official_layout_trains_with_the_thumos_recipe(tmp_path: Path) -> None:
    """``wtal-um train --data-root DIR --modal rgb`` on the written layout."""
    from wtal_blocks.cli.um import main

    root = write_official_layout(tmp_path / "syn", preset=TINY)
    out = tmp_path / "run"
    argv = [
        "train",
        "--data-root",
        str(root),
        "--modal",
        "rgb",
        "--iterations",
        "2",
        "--batch-size",
        "2",
    ]
    argv += [
        "--num-segments",
        "16",
        "--embed-dim",
        "32",
        "--eval-every",
        "0",
        "--device",
        "cpu",
        "--output-dir",
        str(out),
    ]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["step"] == 2 and 0.0 <= metrics["average_mAP"] <= 1.0
