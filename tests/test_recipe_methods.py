"""The recipe guarantees hold for every registered method: seeds, resume and DDP."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.helpers import write_thumos_layout
from wtal_blocks.recipes import RecipeConfig, available_methods, get_method, train

LENGTHS = {
    **{f"train_{i}": 24 + 3 * i for i in range(6)},
    **{f"test_{i}": 20 + 5 * i for i in range(3)},
}

# the smallest network of each method (training-only sizes)
TINY: dict[str, dict[str, Any]] = {
    "um": {"embed_dim": 16},
    "basnet": {"hidden": 16, "filter_hidden": 8},
    "cola": {"embed_dim": 16},
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_thumos_layout(tmp_path_factory.mktemp("thumos"), LENGTHS, instances=True)


def _config(method: str, root: Path, out: Path, **kw: Any) -> RecipeConfig:
    base: dict[str, Any] = dict(
        data_root=str(root), modal="rgb", num_segments=20, iterations=5, batch_size=4,
        eval_every=2, eval_batch_size=3, output_dir=str(out), lr=1e-3, num_workers=0,
        device="cpu",  # the same path on every machine (CUDA would pick the fast step)
    )  # fmt: skip
    return get_method(method).config_type(**(base | TINY[method] | kw))


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def _losses(run: Path) -> list[float]:
    return [float(r["loss_total"]) for r in csv.DictReader((run / "train_log.csv").open())]


def test_every_method_is_registered() -> None:
    assert available_methods() == ("um", "basnet", "cola")


@pytest.mark.parametrize("method", ["basnet", "cola"])
def test_same_seed_same_run_and_resume_equals_uninterrupted(
    method: str, data_root: Path, tmp_path: Path
) -> None:
    quiet: dict[str, Any] = {"progress": False, "log": lambda _: None}
    train(_config(method, data_root, tmp_path / "a"), **quiet)
    train(_config(method, data_root, tmp_path / "b"), **quiet)
    wa, wb = (
        _weights(tmp_path / "a" / "model_final.pkl"),
        _weights(tmp_path / "b" / "model_final.pkl"),
    )
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")

    part = _config(method, data_root, tmp_path / "c")
    with pytest.raises(KeyboardInterrupt):
        train(part, stop_after=3, **quiet)
    train(part, resume=True, **quiet)
    wc = _weights(tmp_path / "c" / "model_final.pkl")
    assert all(torch.equal(wa[k], wc[k]) for k in wa), "the resumed run differs"
    assert _losses(tmp_path / "c") == _losses(tmp_path / "a")

    other = _config(method, data_root, tmp_path / "d", seed=1)
    train(other, **quiet)
    wd = _weights(tmp_path / "d" / "model_final.pkl")
    assert not all(torch.equal(wa[k], wd[k]) for k in wa)


def _ddp_worker(rank: int, world: int, rendezvous: str, cfg: RecipeConfig) -> None:
    import os

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


@pytest.mark.parametrize("method", ["basnet", "cola"])
def test_two_process_ddp_equals_single_process(
    method: str, data_root: Path, tmp_path: Path
) -> None:
    import torch.multiprocessing as mp

    # 6 videos in batches of 5: some global batches hold 1 video, so one rank idles
    single = _config(method, data_root, tmp_path / "single", iterations=3, batch_size=5)
    train(single, progress=False, log=lambda _: None)
    ddp = _config(method, data_root, tmp_path / "ddp", iterations=3, batch_size=5)
    rendezvous = (tmp_path / "rendezvous").as_uri()
    mp.spawn(_ddp_worker, args=(2, rendezvous, ddp), nprocs=2, join=True)
    ws, wd = (
        _weights(tmp_path / "single" / "model_final.pkl"),
        _weights(tmp_path / "ddp" / "model_final.pkl"),
    )
    for k in ws:
        torch.testing.assert_close(wd[k], ws[k], rtol=1e-5, atol=1e-6)
    assert _losses(tmp_path / "ddp") == pytest.approx(_losses(tmp_path / "single"), rel=1e-5)
    md = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert md["world_size"] == 2 and md["method"] == method
