"""Datasets: THUMOS'14 and ActivityNet features in their usual layouts, and built-in synthetic data."""

from .activitynet import ActivityNetFeatures
from .base import DataError, FeatureDataset, PaddedBatch, VideoSample, pad_collate
from .device_dataset import CachedSamples, DeviceFeatures, random_perturb_batch
from .sampling import random_perturb, uniform_sampling
from .synthetic import SegmentKind, SyntheticSpec, SyntheticWTAL, write_official_layout
from .thumos14 import THUMOS14_CLASSES, ThumosFeatures
from .wtalc import WtalcFeatures

__all__ = [
    "THUMOS14_CLASSES",
    "ActivityNetFeatures",
    "CachedSamples",
    "DataError",
    "DeviceFeatures",
    "FeatureDataset",
    "PaddedBatch",
    "SegmentKind",
    "SyntheticSpec",
    "SyntheticWTAL",
    "ThumosFeatures",
    "VideoSample",
    "WtalcFeatures",
    "pad_collate",
    "random_perturb",
    "random_perturb_batch",
    "uniform_sampling",
    "write_official_layout",
]
