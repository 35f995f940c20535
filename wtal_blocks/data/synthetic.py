"""Built-in synthetic WTAL dataset: THUMOS'14-like I3D features, generated on the fly.

No download: every video is generated deterministically from ``(data_seed, split, index)``.
The generator follows the measured recipe of ``shared/docs/synthetic-data-notes.md`` so that
the data carries the phenomenon UM is about:

* **actions**: the class pattern plus a *motion* component shared by all classes (stronger in
  the flow stream), with ramps in and out, occlusion dips and boundary jitter;
* **context** before/after actions (preparing, celebrating) and **replays**: the class pattern
  with little of the shared motion — these make top-k MIL fire on background;
* **inconsistent background**: venue scenes shared by related classes (athletics field, pool,
  cricket ground, court …), many unrelated generic scenes, *dynamic* high-energy background
  unique to each video (more raw energy than the actions), and near-zero static frames;
* smooth temporal noise, then a softplus for non-negative, I3D-like features.

Lengths and instance counts are THUMOS'14-like (``preset="thumos"``: 200 training and 210 test
videos, 1024-d RGB and flow, ~15 instances per video). ``preset="demo"`` keeps the structure but
uses shorter videos and 128-d streams so that a full train + evaluate fits in a few CPU minutes.

The ground truth is exported as ActivityNet JSON (:meth:`SyntheticWTAL.ground_truth`), so every
tool works on it; :func:`write_official_layout` writes the dataset in the official THUMOS'14
folder layout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .base import FeatureDataset
from .thumos14 import THUMOS14_CLASSES

__all__ = ["PRESETS", "SyntheticSpec", "SyntheticWTAL", "write_official_layout"]

Split = Literal["train", "test"]


@dataclass(frozen=True)
class SyntheticSpec:
    """Sizes and difficulty knobs of the generator (see :data:`PRESETS`)."""

    num_train: int = 200
    num_test: int = 210
    rgb_dim: int = 1024
    flow_dim: int = 1024
    median_duration: float = 170.0  # seconds; lognormal
    duration_sigma: float = 0.6
    min_duration: float = 20.0
    max_duration: float = 900.0
    instances_per_minute: float = 4.0
    action_coverage: float = 0.3  # upper bound on the fraction of the video that is action
    motion_strength: float = 1.0
    context_prob: float = 0.7
    replay_prob: float = 0.25
    dynamic_energy: float = 1.6
    static_prob: float = 0.08
    noise: float = 0.35
    frames_per_segment: int = 16
    fps: float = 25.0


PRESETS: dict[str, SyntheticSpec] = {
    "thumos": SyntheticSpec(),
    "demo": SyntheticSpec(
        rgb_dim=128,
        flow_dim=128,
        median_duration=75.0,
        duration_sigma=0.45,
        min_duration=15.0,
        max_duration=240.0,
        instances_per_minute=5.0,
    ),
}

# related classes share a venue (the "scene" of their videos)
_VENUES: tuple[tuple[str, ...], ...] = (
    ("HammerThrow", "HighJump", "JavelinThrow", "LongJump", "PoleVault", "Shotput", "ThrowDiscus"),
    ("CliffDiving", "Diving"),
    ("CricketBowling", "CricketShot"),
    ("BasketballDunk", "VolleyballSpiking"),
    ("TennisSwing",),
    ("SoccerPenalty", "FrisbeeCatch"),
    ("BaseballPitch",),
    ("CleanAndJerk",),
    ("Billiards",),
    ("GolfSwing",),
)
_COOCCUR = {"CricketBowling": "CricketShot", "CricketShot": "CricketBowling", "CliffDiving": "Diving", "Diving": "CliffDiving"}
_GENERIC_SCENES = 40


@dataclass(frozen=True)
class _World:
    """Latent patterns shared by all videos (drawn once from the data seed)."""

    class_rgb: np.ndarray  # (C, R)
    class_flow: np.ndarray  # (C, Fl)
    motion_rgb: np.ndarray  # (R,)
    motion_flow: np.ndarray  # (Fl,)
    venue_rgb: np.ndarray  # (V, R)
    venue_flow: np.ndarray  # (V, Fl)
    generic_rgb: np.ndarray  # (G, R)
    generic_flow: np.ndarray  # (G, Fl)
    venue_of_class: np.ndarray  # (C,)
    mean_duration: np.ndarray  # (C,) seconds, per-class typical instance length


def _sparse_pattern(rng: np.random.Generator, n: int, dim: int, density: float, scale: float) -> np.ndarray:
    active = rng.random((n, dim)) < density
    return (active * rng.gamma(2.0, scale / 2.0, size=(n, dim))).astype(np.float32)


@lru_cache(maxsize=8)
def _world(data_seed: int, spec: SyntheticSpec) -> _World:
    rng = np.random.default_rng([data_seed, 7919])
    c, r, f = len(THUMOS14_CLASSES), spec.rgb_dim, spec.flow_dim
    venue_index = {name: v for v, group in enumerate(_VENUES) for name in group}
    return _World(
        class_rgb=_sparse_pattern(rng, c, r, 0.12, 1.6),
        class_flow=_sparse_pattern(rng, c, f, 0.12, 1.4),
        motion_rgb=_sparse_pattern(rng, 1, r, 0.15, 0.8)[0] * spec.motion_strength,
        motion_flow=_sparse_pattern(rng, 1, f, 0.35, 1.8)[0] * spec.motion_strength,
        venue_rgb=_sparse_pattern(rng, len(_VENUES), r, 0.2, 1.4),
        venue_flow=_sparse_pattern(rng, len(_VENUES), f, 0.05, 0.4),
        generic_rgb=_sparse_pattern(rng, _GENERIC_SCENES, r, 0.2, 1.4),
        generic_flow=_sparse_pattern(rng, _GENERIC_SCENES, f, 0.05, 0.4),
        venue_of_class=np.asarray([venue_index[n] for n in THUMOS14_CLASSES], dtype=np.int64),
        mean_duration=rng.uniform(1.5, 9.0, size=c),
    )


@dataclass(frozen=True)
class _Video:
    length: int
    duration: float
    classes: tuple[int, ...]
    instances: tuple[tuple[int, int, int], ...]  # (class, start segment, end segment exclusive)
    jittered: tuple[tuple[int, float, float], ...]  # (class, start s, end s) as annotated


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Two passes of a box filter along time (≈ Gaussian), vectorised with cumulative sums."""
    if width <= 1:
        return x
    for _ in range(2):
        c = np.cumsum(np.pad(x, ((width // 2 + 1, width - width // 2 - 1), (0, 0)), mode="edge"), axis=0)
        x = (c[width:] - c[:-width]) / width
    return x


class SyntheticWTAL(FeatureDataset):
    """The built-in synthetic THUMOS'14-like dataset (see the module docstring).

    Args:
        split: ``"train"`` or ``"test"``.
        preset: ``"thumos"`` (THUMOS'14-sized) or ``"demo"`` (small and fast), or a
            :class:`SyntheticSpec`.
        num_segments: ``T``.
        sampling: default random for train, uniform for test.
        seed: seed of the random segment sampling.
        data_seed: seed of the data itself (the same for train and test of one dataset).
        modal: ``"all"``, ``"rgb"`` or ``"flow"``.
    """

    def __init__(
        self,
        split: Split = "train",
        *,
        preset: str | SyntheticSpec = "demo",
        num_segments: int = 750,
        sampling: Literal["random", "uniform"] | None = None,
        seed: int = 0,
        data_seed: int = 0,
        modal: Literal["all", "rgb", "flow"] = "all",
    ) -> None:
        super().__init__(num_segments, sampling or ("random" if split == "train" else "uniform"), seed)
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if modal not in ("all", "rgb", "flow"):
            raise ValueError(f"modal must be 'all', 'rgb' or 'flow', got {modal!r}")
        if isinstance(preset, str):
            if preset not in PRESETS:
                raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
            spec = PRESETS[preset]
        else:
            spec = preset
        self.spec = spec
        self.split: Split = split
        self.modal = modal
        self.data_seed = data_seed
        self.class_names = list(THUMOS14_CLASSES)
        n = spec.num_train if split == "train" else spec.num_test
        self.video_ids = [f"synthetic_{split}_{i:04d}" for i in range(n)]
        self._videos = [self._layout(i) for i in range(n)]
        self.lengths = np.asarray([v.length for v in self._videos], dtype=np.int64)
        self.durations = np.asarray([v.duration for v in self._videos], dtype=np.float64)
        self.labels = np.zeros((n, len(self.class_names)), dtype=np.float32)
        for i, v in enumerate(self._videos):
            self.labels[i, list(v.classes)] = 1.0

    # -- layout: lengths, classes, instances ------------------------------------------
    def _rng(self, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.data_seed, 0 if self.split == "train" else 1, index, stream])

    def _layout(self, index: int) -> _Video:
        spec = self.spec
        world = _world(self.data_seed, spec)
        rng = self._rng(index, 0)
        sec = spec.frames_per_segment / spec.fps
        duration = float(np.clip(spec.median_duration * np.exp(spec.duration_sigma * rng.standard_normal()), spec.min_duration, spec.max_duration))
        length = max(8, round(duration / sec))
        first = int(rng.integers(len(THUMOS14_CLASSES)))
        classes = [first]
        partner = _COOCCUR.get(THUMOS14_CLASSES[first])
        if partner is not None and rng.random() < 0.5:
            classes.append(THUMOS14_CLASSES.index(partner))
        elif rng.random() < 0.1:
            classes.append(int(rng.integers(len(THUMOS14_CLASSES))))
        classes = sorted(set(classes))
        want = max(1, rng.poisson(spec.instances_per_minute * duration / 60.0))
        occupied = np.zeros(length, dtype=bool)
        budget = spec.action_coverage * length
        instances: list[tuple[int, int, int]] = []
        for _ in range(want * 3):  # rejection sampling of non-overlapping instances
            if len(instances) >= want or occupied.sum() >= budget:
                break
            c = int(rng.choice(classes))
            dur = max(2, round(world.mean_duration[c] * np.exp(0.35 * rng.standard_normal()) / sec))
            if dur >= length - 2:
                continue
            s = int(rng.integers(1, length - dur))
            lo, hi = max(0, s - 2), min(length, s + dur + 2)
            if occupied[lo:hi].any():
                continue
            occupied[s : s + dur] = True
            instances.append((c, s, s + dur))
        if not instances:  # every video has at least one instance of its label
            c = classes[0]
            dur = max(2, min(length // 3, round(world.mean_duration[c] / sec)))
            s = (length - dur) // 2
            instances.append((c, s, s + dur))
        instances.sort(key=lambda x: x[1])
        classes = sorted({c for c, _, _ in instances})
        # annotations: boundaries in seconds with human-like jitter (~0.3 s)
        jittered = tuple(
            (c, max(0.0, round(s * sec + 0.3 * rng.standard_normal(), 1)), round(min(length * sec, e * sec + 0.3 * rng.standard_normal()), 1))
            for c, s, e in instances
        )
        jittered = tuple((c, a, max(b, a + 0.1)) for c, a, b in jittered)
        return _Video(length, length * sec, tuple(classes), tuple(instances), jittered)

    # -- features ---------------------------------------------------------------------
    def load_features(self, index: int) -> np.ndarray:
        rgb, flow = self._generate(index)
        if self.modal == "rgb":
            return rgb
        if self.modal == "flow":
            return flow
        return np.concatenate([rgb, flow], axis=1)

    def _generate(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        spec = self.spec
        world = _world(self.data_seed, spec)
        video = self._videos[index]
        rng = self._rng(index, 1)
        length = video.length
        c_all = len(THUMOS14_CLASSES)
        # time courses of every latent component: (L, K) weights, then one matmul per stream
        cls_w = np.zeros((length, c_all), dtype=np.float32)
        motion_w = np.zeros(length, dtype=np.float32)
        for c, s, e in video.instances:
            n = e - s
            ramp = np.minimum(1.0, np.minimum(np.arange(1, n + 1), np.arange(n, 0, -1)) / max(1.0, 0.15 * n))
            dips = 1.0 - 0.6 * (rng.random(n) < 0.08)
            cls_w[s:e, c] += (0.8 + 0.4 * rng.random()) * ramp * dips
            motion_w[s:e] += (0.7 + 0.6 * rng.random()) * ramp * dips
            # context before / after: class pattern, little shared motion
            for side in (-1, 1):
                if rng.random() < spec.context_prob:
                    m = int(rng.integers(2, max(3, n)))
                    lo, hi = (max(0, s - m), s) if side < 0 else (e, min(length, e + m))
                    cls_w[lo:hi, c] += 0.55 + 0.3 * rng.random()
                    motion_w[lo:hi] += 0.1 * rng.random()
            if rng.random() < spec.replay_prob:  # a replay somewhere later in the video
                r0 = int(rng.integers(0, max(1, length - n)))
                cls_w[r0 : r0 + n, c] += 0.6 * ramp[: length - r0]
                motion_w[r0 : r0 + n] += 0.12
        # scenes: the venue of the video's classes for most of the time, generic scenes elsewhere
        venue = int(world.venue_of_class[video.classes[0]])
        n_cuts = max(1, int(rng.poisson(length / 60)))
        cuts = np.sort(rng.integers(0, length, size=n_cuts))
        scene_id = np.searchsorted(cuts, np.arange(length), side="right")
        n_shots = scene_id.max() + 1
        shot_kind = rng.random(n_shots)  # < .55 venue, < .85 generic, < .85+ dynamic, else static
        shot_generic = rng.integers(_GENERIC_SCENES, size=n_shots)
        kind = shot_kind[scene_id]
        venue_w = (kind < 0.55).astype(np.float32)
        generic_w = np.zeros((length, _GENERIC_SCENES), dtype=np.float32)
        is_generic = (kind >= 0.55) & (kind < 0.8)
        generic_w[np.arange(length)[is_generic], shot_generic[scene_id][is_generic]] = 1.0
        dynamic_w = ((kind >= 0.8) & (kind < 1.0 - spec.static_prob)).astype(np.float32)
        static = kind >= 1.0 - spec.static_prob
        action = cls_w.sum(axis=1) > 0
        venue_w = np.where(action, 0.7, venue_w)  # actions happen in their venue
        dynamic_w[action] = 0.0
        static &= ~action
        # dynamic background: unique to this video, high raw energy, moving
        dyn_rgb = _sparse_pattern(rng, 1, spec.rgb_dim, 0.3, 1.5)[0] * spec.dynamic_energy
        dyn_flow = _sparse_pattern(rng, 1, spec.flow_dim, 0.4, 1.6)[0] * spec.dynamic_energy
        dyn_t = dynamic_w * (0.8 + 0.6 * _smooth(rng.random((length, 1)), 5)[:, 0])

        out = []
        for stream, (cls_p, mot_p, ven_p, gen_p, dyn_p) in enumerate(
            (
                (world.class_rgb, world.motion_rgb, world.venue_rgb, world.generic_rgb, dyn_rgb),
                (world.class_flow, world.motion_flow, world.venue_flow, world.generic_flow, dyn_flow),
            )
        ):
            z = cls_w @ cls_p + motion_w[:, None] * mot_p[None, :]
            z += venue_w[:, None] * ven_p[venue][None, :] + generic_w @ gen_p + dyn_t[:, None] * dyn_p[None, :]
            dim = z.shape[1]
            z += spec.noise * _smooth(rng.standard_normal((length, dim)).astype(np.float32), 3) * 2.0
            z += 0.15 * spec.noise * rng.standard_normal((length, dim)).astype(np.float32)
            z[static] *= 0.05
            feats = np.log1p(np.exp(np.clip(z - 1.0, -30.0, 30.0)))  # softplus(z - 1): sparse, non-negative
            del stream
            out.append(feats.astype(np.float32))
        return out[0], out[1]

    # -- annotations ------------------------------------------------------------------
    def ground_truth(self) -> dict[str, Any]:
        database = {
            vid: {
                "subset": self.split,
                "duration": round(v.duration, 3),
                "annotations": [{"label": THUMOS14_CLASSES[c], "segment": [a, b]} for c, a, b in v.jittered],
            }
            for vid, v in zip(self.video_ids, self._videos, strict=True)
        }
        return {"version": "synthetic", "database": database}

    def __repr__(self) -> str:
        return (
            f"SyntheticWTAL(split={self.split!r}, videos={len(self)}, feature_dim={self.spec.rgb_dim + self.spec.flow_dim}"
            f" ({self.modal}), num_segments={self.num_segments}, data_seed={self.data_seed})"
        )


def write_official_layout(
    root: str | os.PathLike[str], *, preset: str | SyntheticSpec = "thumos", data_seed: int = 0
) -> Path:
    """Write the synthetic dataset in the official THUMOS'14 layout (gt.json, splits, features/).

    The result is readable by :class:`~wtal_blocks.data.ThumosFeatures` and ``wtal-um train
    --data-root DIR``.
    """
    root = Path(root)
    database: dict[str, Any] = {}
    for split in ("train", "test"):
        ds = SyntheticWTAL(split, preset=preset, data_seed=data_seed)
        database.update(ds.ground_truth()["database"])
        for stream in ("rgb", "flow"):
            (root / "features" / split / stream).mkdir(parents=True, exist_ok=True)
        for i, vid in enumerate(ds.video_ids):
            rgb, flow = ds._generate(i)
            np.save(root / "features" / split / "rgb" / f"{vid}.npy", rgb)
            np.save(root / "features" / split / "flow" / f"{vid}.npy", flow)
        (root / f"split_{split}.txt").write_text("\n".join(ds.video_ids) + "\n")
    (root / "gt.json").write_text(json.dumps({"database": database}))
    return root
