"""W-TALC's data layout: the dataset class, and the converter in both directions."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DATA
from wtal_blocks.data import DataError, ThumosFeatures, WtalcFeatures, synthetic
from wtal_blocks.data.convert import um_to_wtalc, wtalc_to_um
from wtal_blocks.data.wtalc import read_joint_features, wtalc_paths
from wtal_blocks.evaluation import load_wtalc_annotations

TINY = synthetic.SyntheticSpec(
    num_train=6, num_test=5, rgb_dim=8, flow_dim=8, median_duration=30.0, max_duration=60.0
)


@pytest.fixture(scope="module")
def um_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("um")
    return synthetic.write_official_layout(root / "data", preset=TINY)


def _features(root: Path, split: str, vid: str) -> np.ndarray:
    rgb = np.load(root / "features" / split / "rgb" / f"{vid}.npy")
    flow = np.load(root / "features" / split / "flow" / f"{vid}.npy")
    return np.concatenate([rgb, flow], axis=1)


def _instances(database: dict) -> dict[str, list[tuple[str, float, float]]]:
    return {
        vid: sorted(
            (a["label"], float(a["segment"][0]), float(a["segment"][1]))
            for a in entry["annotations"]
        )
        for vid, entry in database.items()
    }


def test_round_trip_keeps_features_and_states_the_annotation_diff(
    um_layout: Path, tmp_path: Path
) -> None:
    forward = um_to_wtalc(um_layout, tmp_path / "wtalc")
    assert forward.videos == {"validation": 6, "test": 5}
    assert any("labels_all.npy derived" in n for n in forward.notes)
    assert any("Ambiguous_test.txt written empty" in n for n in forward.notes)
    back = wtalc_to_um(tmp_path / "wtalc", tmp_path / "um_again")
    assert back.videos == {"train": 6, "test": 5}
    assert back.label_differences == []  # labels_all was derived from the segments
    assert back.instances == forward.instances
    # features: identical, bit for bit, in both streams
    for split in ("train", "test"):
        for vid in (um_layout / f"split_{split}.txt").read_text().split():
            for stream in ("rgb", "flow"):
                a = np.load(um_layout / "features" / split / stream / f"{vid}.npy")
                b = np.load(tmp_path / "um_again" / "features" / split / stream / f"{vid}.npy")
                assert a.dtype == b.dtype and np.array_equal(a, b)
    # annotations: the same (label, start, end) multiset per video; durations added
    before = json.loads((um_layout / "gt.json").read_text())["database"]
    after = json.loads((tmp_path / "um_again" / "gt.json").read_text())["database"]
    assert _instances(before) == _instances(after)
    assert {v: e["subset"] for v, e in before.items()} == {v: e["subset"] for v, e in after.items()}
    # the datasets read from both layouts give the same samples
    a = ThumosFeatures(um_layout, "test", num_segments=16)
    b = ThumosFeatures(tmp_path / "um_again", "test", num_segments=16)
    assert np.array_equal(a[2].features.numpy(), b[2].features.numpy())


def test_wtalc_dataset_reads_the_joint_file(um_layout: Path, tmp_path: Path) -> None:
    um_to_wtalc(um_layout, tmp_path / "w")
    train = WtalcFeatures(tmp_path / "w", "train", num_segments=12)
    test = WtalcFeatures(tmp_path / "w", "test", num_segments=12)
    assert len(train) == 6 and len(test) == 5 and train.feature_dim == 16
    vid = test.video_ids[1]
    assert np.array_equal(test.load_features(1), _features(um_layout, "test", vid))
    rgb = WtalcFeatures(tmp_path / "w", "test", modal="rgb", num_segments=12)
    assert np.array_equal(rgb.load_features(1), _features(um_layout, "test", vid)[:, :8])
    um_test = ThumosFeatures(um_layout, "test", num_segments=12)
    np.testing.assert_array_equal(test.lengths, um_test.lengths)
    np.testing.assert_array_equal(test.labels, um_test.labels)
    gt = test.ground_truth()["database"]
    assert _instances(gt) == _instances(
        {v: e for v, e in um_test.ground_truth()["database"].items() if v in gt}
    )


def test_the_recipe_trains_on_the_wtalc_layout(um_layout: Path, tmp_path: Path) -> None:
    from wtal_blocks.recipes import UMConfig, train

    um_to_wtalc(um_layout, tmp_path / "w")
    cfg = UMConfig(
        data_root=str(tmp_path / "w"), dataset="wtalc", num_segments=16, iterations=2,
        batch_size=2, embed_dim=8, eval_every=0, num_workers=0, device="cpu",
        output_dir=str(tmp_path / "run"),
    )  # fmt: skip
    result = train(cfg, log=lambda _: None, progress=False)
    assert result.final.step == 2 and (tmp_path / "run" / "model_final.pkl").is_file()


def test_real_weak_labels_differ_from_segment_labels() -> None:
    ann = load_wtalc_annotations(DATA / "thumos14-reduced")
    differ = [
        ann.video_names[i]
        for i in range(len(ann.video_names))
        if set(ann.video_labels[i])
        != {ann.class_names[c] for c in ann.labels[ann.videos == i].tolist()}
    ]
    assert len(differ) == 28  # 8 validation + 20 test videos (the layout README's count)
    assert "video_test_0001496" in differ and "video_validation_0000316" in differ


def test_converter_refuses_to_overwrite_or_write_into_the_source(
    um_layout: Path, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match="is the source or inside it"):
        um_to_wtalc(um_layout, um_layout / "inside")
    (tmp_path / "taken").mkdir()
    with pytest.raises(DataError, match="already exists; pass --overwrite"):
        um_to_wtalc(um_layout, tmp_path / "taken")
    assert list((tmp_path / "taken").iterdir()) == []  # nothing written on failure


def test_joint_features_refuse_a_hostile_pickle(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (Path.mkdir, (tmp_path / "pwned",))

    bad = np.empty(1, dtype=object)
    bad[0] = Payload()
    path = tmp_path / "Thumos14reduced-I3D-JOINTFeatures.npy"
    with path.open("wb") as fh:  # np.save with a hostile object inside
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "|O", "fortran_order": False, "shape": (1,)}
        )
        pickle.dump(bad, fh, protocol=3)
    with pytest.raises(DataError, match="refusing to load the global"):
        read_joint_features(path)
    assert not (tmp_path / "pwned").exists()


def test_cli_convert(um_layout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wtal_blocks.cli.convert import main

    assert main(["--to", "wtalc", str(um_layout), str(tmp_path / "w")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("um -> wtalc: 6 validation, 5 test videos")
    feature_file, annotation_dir = wtalc_paths(tmp_path / "w")
    assert feature_file.is_file() and (annotation_dir / "labels_all.npy").is_file()
    assert main(["--to", "wtalc", str(um_layout), str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0]


def test_the_two_ground_truths_differ_as_the_docs_say(real_data: Path) -> None:
    from collections import Counter

    from wtal_blocks.evaluation import load_activitynet_ground_truth

    w = load_wtalc_annotations(DATA / "thumos14-reduced")
    g = load_activitynet_ground_truth(real_data / "thumos14_gt.json.gz", subset=None)

    def instances(names: tuple[str, ...], segments, labels, videos, classes, vid):  # type: ignore[no-untyped-def]
        rows = np.flatnonzero(videos == names.index(vid))
        return Counter((classes[labels[r]], *segments[r].tolist()) for r in rows)

    only_w = sorted(set(w.video_names) - set(g.video_ids))
    assert only_w == ["video_test_0000270", "video_test_0001496"]
    assert not set(g.video_ids) - set(w.video_names)
    for vid in g.video_ids:  # identical multisets on the 410 common videos
        assert instances(w.video_names, w.segments, w.labels, w.videos, w.class_names, vid) == (
            instances(g.video_ids, g.segments, g.labels, g.videos, g.class_names, vid)
        )
    w_test = np.isin(w.videos, w.test_rows())
    assert int(w_test.sum()) == 3358 and len(g) - 3007 == 3311
