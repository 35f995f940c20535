"""Building a run: the device, and the training and test datasets of a configuration."""

from __future__ import annotations

import os

import torch

from ..data.base import FeatureDataset, Sampling
from .config import RecipeConfig

__all__ = ["build_dataset", "build_datasets", "resolve_device"]


def resolve_device(spec: str) -> torch.device:
    """``"auto"`` -> CUDA when available; under ``torchrun`` each process takes GPU ``LOCAL_RANK``.

    Raises:
        ValueError: a malformed device string, or a CUDA device on a machine without one.
    """
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ValueError(
            f"--device {spec!r} is not a device (auto, cpu, cuda, cuda:1 ...)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {spec!r}: CUDA is not available on this machine")
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))  # one GPU per process
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def build_dataset(
    config: RecipeConfig, train: bool, *, test_sampling: Sampling = "uniform"
) -> FeatureDataset:
    """The training (random sampling) or test (``test_sampling``) dataset of ``config.dataset``."""
    if config.dataset != "synthetic" and not config.data_root:
        raise ValueError(f"data_root (--data-root DIR) is required for dataset {config.dataset!r}")
    sampling: Sampling = "random" if train else test_sampling
    if config.dataset == "thumos14":
        from ..data.thumos14 import ThumosFeatures

        return ThumosFeatures(
            config.data_root,
            "train" if train else "test",
            modal=config.modal,
            num_segments=config.segments,
            sampling=sampling,
            seed=config.seed,
        )
    if config.dataset == "wtalc":
        from ..data.wtalc import WtalcFeatures

        return WtalcFeatures(
            config.data_root,
            "train" if train else "test",
            modal=config.modal,
            num_segments=config.segments,
            sampling=sampling,
            seed=config.seed,
        )
    if config.dataset in ("anet12", "anet13"):
        from ..data.activitynet import ActivityNetFeatures

        return ActivityNetFeatures.from_root(
            config.data_root,
            "training" if train else "validation",
            config.dataset,
            modal=config.modal,
            num_segments=config.segments,
            sampling=sampling,
            seed=config.seed,
        )
    if config.dataset == "synthetic":
        from ..data.synthetic import SyntheticWTAL

        return SyntheticWTAL(
            "train" if train else "test",
            preset=config.synthetic_size,
            num_segments=config.segments,
            sampling=sampling,
            seed=config.seed,
            modal=config.modal,
        )
    raise ValueError(f"unknown dataset {config.dataset!r}")


def build_datasets(
    config: RecipeConfig, *, test_sampling: Sampling = "uniform"
) -> tuple[FeatureDataset, FeatureDataset]:
    """Training and test datasets of ``config.dataset``."""
    return build_dataset(config, True), build_dataset(config, False, test_sampling=test_sampling)
