"""Datasets: official sampling, THUMOS'14 layout, ActivityNet layout, padded batches, errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pytest
import torch
from hypothesis import given

from tests.helpers import write_thumos_layout
from wtal_blocks.data import (
    ActivityNetFeatures,
    DataError,
    ThumosFeatures,
    pad_collate,
    random_perturb,
    uniform_sampling,
)


def _official_random_perturb_bounds(length: int, t: int) -> list[tuple[int, int]]:
    """Per index, the inclusive range the official loop draws from (written from the spec)."""
    s = [i * length / t for i in range(t)]
    out = []
    for i in range(t):
        if i < t - 1:
            lo, hi = int(s[i]), int(s[i + 1])
            out.append((lo, hi) if lo != hi else (lo, lo))
        else:
            lo = int(s[i])
            out.append((lo, length - 1) if lo < length - 1 else (lo, lo))
    return out


@given(st.integers(1, 3000), st.integers(1, 800), st.integers(0, 2**31))
def test_random_perturb_draws_within_official_ranges(length: int, t: int, seed: int) -> None:
    idx = random_perturb(length, t, np.random.default_rng(seed))
    assert idx.shape == (t,) and idx.dtype == np.int64
    if length == t:
        assert idx.tolist() == list(range(t))
        return
    for i, (lo, hi) in enumerate(_official_random_perturb_bounds(length, t)):
        assert lo <= idx[i] <= hi


def test_random_perturb_reaches_both_inclusive_ends() -> None:
    rng = np.random.default_rng(0)
    draws = np.stack([random_perturb(10, 5, rng) for _ in range(400)])
    # slices [0,2], [2,4], [4,6], [6,8], last [8,9]
    assert set(draws[:, 0].tolist()) == {0, 1, 2}
    assert set(draws[:, 4].tolist()) == {8, 9}


@given(st.integers(1, 3000), st.integers(1, 800))
def test_uniform_sampling_matches_official(length: int, t: int) -> None:
    idx = uniform_sampling(length, t)
    if length <= t:
        assert idx.tolist() == list(range(length))
    else:
        assert idx.tolist() == [int(np.floor(i * length / t)) for i in range(t)]


def _write_thumos(
    root: Path, lengths: dict[str, int], *, labels: dict[str, str] | None = None
) -> Path:
    return write_thumos_layout(root, lengths, labels=labels)


def test_thumos_layout_sampling_and_modalities(tmp_path: Path) -> None:
    root = _write_thumos(tmp_path, {"train_a": 30, "train_b": 5, "test_a": 12, "test_b": 40})
    train = ThumosFeatures(root, "train", num_segments=20, seed=3)
    assert train.sampling == "random" and train.feature_dim == 16 and train.num_classes == 20
    s = train[1]  # 5 segments stretched to 20 by repetition
    assert s.features.shape == (20, 16) and s.length == 5 and s.video_id == "train_b"
    assert s.label.sum() == 1 and s.label[1] == 1  # the second video's class
    rgb = np.load(root / "features/train/rgb/train_b.npy")
    flow = np.load(root / "features/train/flow/train_b.npy")
    idx = train.sample_indices(1, 0)
    np.testing.assert_array_equal(s.features.numpy(), np.concatenate([rgb, flow], 1)[idx])
    # same (seed, epoch, video) -> same sample; another epoch -> another sample
    assert torch.equal(train.get(0, 0).features, train.get(0, 0).features)
    assert not torch.equal(train.get(0, 0).features, train.get(0, 1).features)
    test = ThumosFeatures(root, "test", modal="flow", num_segments=20)
    assert test.sampling == "uniform" and test.feature_dim == 8
    assert test[0].features.shape == (12, 8) and test[1].features.shape == (20, 8)
    assert test[0].duration == pytest.approx(12 * 16 / 25)


def test_pad_collate_masks_variable_lengths(tmp_path: Path) -> None:
    root = _write_thumos(tmp_path, {"test_a": 3, "test_b": 7, "train_a": 4})
    test = ThumosFeatures(root, "test", num_segments=750)
    batch = pad_collate([test[0], test[1]])
    assert batch.features.shape == (2, 7, 16) and batch.mask.sum(1).tolist() == [3, 7]
    assert float(batch.features[0, 3:].abs().sum()) == 0.0
    assert batch.lengths.tolist() == [3, 7] and batch.video_ids == ["test_a", "test_b"]
    assert not batch.uniform_length
    with pytest.raises(ValueError, match="empty batch"):
        pad_collate([])


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (
            lambda r: (r / "features/train/flow/train_a.npy").unlink(),
            r"features/train/flow/train_a\.npy: feature file not found",
        ),
        (
            lambda r: np.save(r / "features/train/flow/train_a.npy", np.zeros((9, 8), np.float32)),
            r"video train_a: stream lengths differ .*rgb/train_a.npy: 10 segments.*flow/train_a.npy: 9 segments",
        ),
        (
            lambda r: (r / "features/train/rgb/train_a.npy").write_bytes(b"garbage"),
            r"train_a\.npy: not a readable \.npy feature file",
        ),
        (
            lambda r: (r / "features/train/rgb/train_a.npy").write_bytes(
                (r / "features/train/rgb/train_a.npy").read_bytes()[:-4]
            ),
            r"train_a\.npy: truncated \.npy feature file \(316 bytes of data for an array of shape \(10, 8\)\)",
        ),
        (
            lambda r: np.save(
                r / "features/train/rgb/train_a.npy", np.zeros((10, 8, 1), np.float32)
            ),
            r"train_a\.npy: expected a \(L, feature_dim\) array .* got shape \(10, 8, 1\)",
        ),
        (
            lambda r: np.save(r / "features/train/rgb/train_a.npy", np.zeros((10, 8), np.int32)),
            r"train_a\.npy: expected floating-point features, got dtype int32",
        ),
        (
            lambda r: np.save(r / "features/train/rgb/train_a.npy", np.zeros((0, 8), np.float32)),
            r"train_a\.npy: expected a \(L, feature_dim\) array .* got shape \(0, 8\)",
        ),
        (
            lambda r: (r / "split_train.txt").write_text("train_a\nghost\n"),
            r"gt\.json: video 'ghost' is in the split but not in the annotations",
        ),
        (lambda r: (r / "gt.json").write_text("{not json"), r"gt\.json: malformed JSON"),
        (lambda r: (r / "gt.json").write_text("{}"), r"gt\.json: missing the 'database' object"),
    ],
)
def test_thumos_bad_files_name_the_path(tmp_path: Path, damage, match: str) -> None:  # type: ignore[no-untyped-def]
    root = _write_thumos(tmp_path, {"train_a": 10, "test_a": 10})
    damage(root)
    with pytest.raises(DataError, match=match):
        ThumosFeatures(root, "train")


def test_thumos_feature_size_and_duplicate_videos(tmp_path: Path) -> None:
    root = _write_thumos(tmp_path, {"train_a": 10, "train_b": 12, "test_a": 10})
    np.save(root / "features/train/flow/train_b.npy", np.zeros((12, 5), np.float32))
    with pytest.raises(
        DataError,
        match=r"flow/train_b\.npy: feature size 5 differs from the other videos' \[8, 8\]",
    ):
        ThumosFeatures(root, "train")
    root2 = _write_thumos(tmp_path / "dup", {"train_a": 10, "test_a": 10})
    (root2 / "split_train.txt").write_text("train_a\ntrain_a\n")
    with pytest.raises(DataError, match=r"video train_a is listed twice"):
        ThumosFeatures(root2, "train")


def test_thumos_unknown_label(tmp_path: Path) -> None:
    root = _write_thumos(tmp_path, {"train_a": 10, "test_a": 10}, labels={"train_a": "Juggling"})
    with pytest.raises(
        DataError,
        match=r"video 'train_a' annotation 0 has label 'Juggling', which is not in the class list",
    ):
        ThumosFeatures(root, "train")


def test_activitynet_real_annotation_file_with_generated_features(
    real_data: Path, tmp_path: Path
) -> None:
    gt = real_data / "anet12_val_gt.json.gz"
    db = json.loads(gzip.decompress(gt.read_bytes()))["database"]
    vids = sorted(db)[:25]
    feats = tmp_path / "features"
    feats.mkdir()
    rng = np.random.default_rng(0)
    for n, vid in enumerate(vids[:20]):  # five videos have no features
        name = f"v_{vid}.npy" if n % 2 else f"{vid}.npy"  # both naming conventions
        np.save(feats / name, rng.random((10 + n, 6), dtype=np.float32))
    with pytest.raises(DataError, match=r"5 of 25 videos of subset 'validation' have no features"):
        ActivityNetFeatures(gt, feats, "validation", video_ids=vids)
    ds = ActivityNetFeatures(gt, feats, "validation", video_ids=vids, skip_missing=True)
    assert len(ds) == 20 and ds.missing == vids[20:]
    assert ds.num_classes == 100 and ds.sampling == "uniform" and ds.time_from_duration
    s = ds[3]
    assert s.features.shape == (13, 6)  # L = 13 <= T = 50: all segments
    assert s.duration == pytest.approx(float(db[vids[3]]["duration"]))
    for n, vid in enumerate(ds.video_ids):
        want = {a["label"] for a in db[vid]["annotations"]}
        assert {ds.class_names[i] for i in np.flatnonzero(ds.labels[n])} == want
    train = ActivityNetFeatures(gt, feats, "validation", video_ids=vids[:20], sampling="random")
    assert train[0].features.shape == (50, 6)


def test_activitynet_bad_subset_and_json(tmp_path: Path) -> None:
    gt = tmp_path / "gt.json"
    gt.write_text(
        json.dumps({"database": {"a": {"subset": "training", "duration": 5, "annotations": []}}})
    )
    with pytest.raises(
        DataError, match=r"subset 'validation' has no videos \(subsets: \['training'\]\)"
    ):
        ActivityNetFeatures(gt, tmp_path, "validation")
    gt.write_text("[1, 2")
    with pytest.raises(DataError, match="malformed JSON"):
        ActivityNetFeatures(gt, tmp_path, "training")


def test_streams_are_sampled_before_joining(tmp_path: Path) -> None:
    """Reading only the sampled rows of each stream gives the rows of the joined features."""
    from numpy.lib import format as npy_format

    root = _write_thumos(tmp_path, {"train_a": 40, "test_a": 9, "test_b": 31})
    # a version-2.0 header and float16 features read the same way
    flow = np.random.default_rng(0).random((31, 8)).astype(np.float16)
    with open(root / "features/test/flow/test_b.npy", "wb") as f:
        npy_format.write_array(f, flow, version=(2, 0))
    for split, t in (("train", 16), ("test", 16)):
        ds = ThumosFeatures(root, split, num_segments=t, sampling="uniform")
        for i in range(len(ds)):
            full = ds.load_features(i)
            idx = ds.sample_indices(i)
            expected = np.ascontiguousarray(full[idx], dtype=np.float32)
            assert np.array_equal(ds[i].features.numpy(), expected)
            assert ds[i].features.shape == (min(t, int(ds.lengths[i])), 16)


@pytest.mark.parametrize("sampling", ["uniform", "stretch", "random"])
def test_batch_reader_equals_pad_collate(tmp_path: Path, sampling: str) -> None:
    from wtal_blocks.data.base import BatchReader

    lengths = {"train_a": 40, "test_a": 9, "test_b": 31, "test_c": 4, "test_d": 17}
    root = _write_thumos(tmp_path, lengths)
    ds = ThumosFeatures(root, "test", num_segments=12, sampling=sampling, seed=5)  # type: ignore[arg-type]
    read = BatchReader(ds)
    # a large batch, then smaller ones reusing the buffer: stale rows must never show through
    for indices in ([0, 1, 2, 3], [2, 0], [3], [1, 3, 0]):
        for epoch in (0, 3):
            got = read(indices, epoch)
            want = pad_collate([ds.get(i, epoch) for i in indices])
            assert torch.equal(got.features, want.features)
            assert torch.equal(got.mask, want.mask) and torch.equal(got.labels, want.labels)
            assert got.video_ids == want.video_ids
            assert torch.equal(got.lengths, want.lengths)
            assert torch.equal(got.durations, want.durations)
            assert torch.equal(got.indices, want.indices)
    with pytest.raises(ValueError, match="empty batch"):
        read([])


def test_batch_reader_names_non_finite_features(tmp_path: Path) -> None:
    from wtal_blocks.data.base import BatchReader

    root = _write_thumos(tmp_path, {"train_a": 10, "test_a": 9, "test_b": 12})
    flow = np.load(root / "features/test/flow/test_b.npy")
    flow[7, 3] = np.inf
    np.save(root / "features/test/flow/test_b.npy", flow)
    ds = ThumosFeatures(root, "test", num_segments=750)
    with pytest.raises(DataError, match=r"flow/test_b\.npy: the features of video 'test_b' "
                       r"contain NaN or inf \(segment 7, channel 11\)"):  # fmt: skip
        BatchReader(ds)([0, 1])


def test_huge_finite_features_are_accepted_silently(tmp_path: Path) -> None:
    """Values whose sum overflows float32 are finite: no error and no overflow warning."""
    import warnings

    from wtal_blocks.data.base import BatchReader

    root = _write_thumos(tmp_path, {"train_a": 10, "test_a": 9})
    np.save(root / "features/test/rgb/test_a.npy", np.full((9, 8), 3e38, np.float32))
    ds = ThumosFeatures(root, "test", num_segments=750)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(ds[0].features.max()) == pytest.approx(3e38)
        assert float(BatchReader(ds)([0]).features.max()) == pytest.approx(3e38)
