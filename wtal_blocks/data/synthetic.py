"""Built-in synthetic WTAL dataset: THUMOS'14-like I3D features, generated on the fly.

No download: every video is generated deterministically from ``(data_seed, split, index)``.
Plain class prototypes over a few background scenes are too easy (a baseline without UM's losses
then matches UM), so the generator builds in what measurements of the official UM code on
synthetic features showed to matter, and with it the phenomenon UM is about
(``benchmarks/ablation_synthetic.md`` has the calibration):

* **actions**: the class pattern plus a *motion* component shared by all classes (stronger in
  the flow stream), with ramps in and out, occlusion dips, weak instances, instances in
  clusters (rallies, repeated attempts) and annotation jitter;
* **context** before/after actions (preparing, celebrating): part of the class pattern, little
  of the shared motion; **replays**: the class pattern slowed down, little motion. They make
  top-k MIL fire on background;
* **inconsistent background**: venue scenes shared by related classes (athletics field, pool,
  cricket ground, court …), many unrelated generic scenes, *dynamic* high-energy background
  unique to each video (more raw energy than the actions; it shows the venue, so it carries
  class evidence too), and near-zero static frames;
* smooth temporal noise, then a softplus for non-negative, I3D-like features.

Every segment has a ground-truth :class:`SegmentKind` (:meth:`SyntheticWTAL.segment_kinds`),
which the tests and diagnostics use; the models never see it.

Lengths and instance counts are THUMOS'14-like (``preset="thumos"``: 200 training and 210 test
videos, 1024-d RGB and flow, ~12 instances per video). ``preset="demo"`` keeps the structure but
uses shorter videos and 128-d streams so that a full train + evaluate fits in a few CPU minutes.

The ground truth is exported as ActivityNet JSON (:meth:`SyntheticWTAL.ground_truth`), so every
tool works on it; :func:`write_official_layout` writes the dataset in the official THUMOS'14
folder layout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .base import FeatureDataset, Sampling
from .thumos14 import THUMOS14_CLASSES

__all__ = ["PRESETS", "SegmentKind", "SyntheticSpec", "SyntheticWTAL", "write_official_layout"]

Split = Literal["train", "test"]


class SegmentKind(IntEnum):
    """What a synthetic segment shows (actions are never overwritten; elsewhere, the
    context or replay written last wins)."""

    STATIC = 0  # near-zero frames (black screen, still title card)
    VENUE = 1  # the scene of the video's classes (athletics field, pool …), nobody acting
    GENERIC = 2  # one of many unrelated scenes (studio, crowd, advert …)
    DYNAMIC = 3  # high-energy background unique to the video (camera motion, crowd waving …)
    CONTEXT = 4  # just before / after an action: part of the class pattern, little motion
    REPLAY = 5  # a replay of an action, unannotated: the class pattern, little motion
    ACTION = 6  # inside an annotated instance


@dataclass(frozen=True)
class SyntheticSpec:
    """Sizes and difficulty knobs of the generator (see :data:`PRESETS`).

    Sizes: ``num_train``/``num_test`` videos, ``rgb_dim``/``flow_dim`` per stream; durations are
    lognormal (``median_duration`` seconds, ``duration_sigma``) clipped to
    ``[min_duration, max_duration]``; ``instances_per_minute`` is the mean rate of a per-video
    Poisson count whose rate is itself gamma-distributed (heavy-tailed counts, as THUMOS'14);
    ``action_coverage`` bounds the fraction of a video covered by actions.

    Difficulty, as raw (pre-softplus) amplitudes; an action's class pattern has amplitude
    ``U(weakest, 1.2)``:

    * ``motion_strength``: the motion pattern shared by every action (UM's premise);
    * ``context_prob`` per side of an instance; ``context_strength`` its amplitude;
      ``context_share`` the part of the class pattern it carries (the rest is its own);
      ``context_motion`` the most shared motion it carries; ``replay_prob`` per instance
      (the class pattern, slowed down, little motion);
    * background shots: ``venue_prob``, ``dynamic_prob``, ``static_prob`` (the rest generic);
      ``dynamic_energy`` the amplitude of the two per-video dynamic patterns and
      ``dynamic_venue`` how much of the venue dynamic shots show;
    * ``cluster_prob``: an instance follows the previous one after 1-3 segments (rallies,
      repeated attempts); ``dip_prob`` per segment, an occlusion (x0.4); ``blur`` a box
      filter width over the action/context profiles; ``annotation_jitter`` the std (s) of the
      annotated boundaries; ``noise`` the smooth noise.

    The defaults are calibrated (``benchmarks/ablation_synthetic.md``) so that the paper's
    Table 3 ordering appears: softmax baseline < fused baseline < + L_um.
    """

    num_train: int = 200
    num_test: int = 210
    rgb_dim: int = 1024
    flow_dim: int = 1024
    median_duration: float = 150.0  # seconds; lognormal
    duration_sigma: float = 0.75
    min_duration: float = 15.0
    max_duration: float = 900.0
    instances_per_minute: float = 5.0
    action_coverage: float = 0.35
    motion_strength: float = 1.0
    context_prob: float = 0.7
    context_strength: float = 0.9
    context_share: float = 0.5
    context_motion: float = 0.2
    replay_prob: float = 0.25
    venue_prob: float = 0.45
    dynamic_prob: float = 0.25
    static_prob: float = 0.08
    dynamic_energy: float = 1.6
    dynamic_venue: float = 0.7
    cluster_prob: float = 0.5
    weakest: float = 0.4
    dip_prob: float = 0.15
    blur: int = 1
    annotation_jitter: float = 0.3
    noise: float = 0.45
    frames_per_segment: int = 16
    fps: float = 25.0

    @property
    def seconds_per_segment(self) -> float:
        return self.frames_per_segment / self.fps


PRESETS: dict[str, SyntheticSpec] = {
    "thumos": SyntheticSpec(),
    "demo": SyntheticSpec(
        rgb_dim=128,
        flow_dim=128,
        median_duration=75.0,
        duration_sigma=0.45,
        min_duration=15.0,
        max_duration=240.0,
    ),
}
"""The named presets: ``"thumos"`` (THUMOS'14-sized: 200/210 videos, 1024-d streams, median
~150 s, ~12 instances a video) and ``"demo"`` (the same structure and difficulty, 128-d
streams, median ~75 s)."""

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
# classes that appear together in THUMOS'14 videos
_COOCCUR = {
    "CricketBowling": "CricketShot",
    "CricketShot": "CricketBowling",
    "CliffDiving": "Diving",
    "Diving": "CliffDiving",
}
_GENERIC_SCENES = 40


@dataclass(frozen=True)
class _World:
    """Latent patterns shared by all videos (drawn once from the data seed); ``(K, dim)`` float32."""

    class_pattern: tuple[np.ndarray, np.ndarray]  # (C, dim) per stream (rgb, flow)
    context_pattern: tuple[np.ndarray, np.ndarray]  # (C, dim) before/after the action
    motion: tuple[np.ndarray, np.ndarray]  # (dim,)
    venue: tuple[np.ndarray, np.ndarray]  # (V, dim)
    generic: tuple[np.ndarray, np.ndarray]  # (G, dim)
    venue_of_class: np.ndarray  # (C,)
    mean_duration: np.ndarray  # (C,) seconds, per-class typical instance length


def _sparse_pattern(
    rng: np.random.Generator, n: int, dim: int, density: float, scale: float
) -> np.ndarray:
    active = rng.random((n, dim)) < density
    return (active * rng.gamma(2.0, scale / 2.0, size=(n, dim))).astype(np.float32)


@lru_cache(maxsize=8)
def _world(data_seed: int, spec: SyntheticSpec) -> _World:
    rng = np.random.default_rng([data_seed, 7919])
    c, dims = len(THUMOS14_CLASSES), (spec.rgb_dim, spec.flow_dim)
    venue_index = {name: v for v, group in enumerate(_VENUES) for name in group}
    # the class patterns are the appearance of an action (strong in RGB and flow); the motion
    # pattern is what all actions share (stronger in flow); scenes are mostly RGB
    class_pattern = (
        _sparse_pattern(rng, c, dims[0], 0.12, 1.6),
        _sparse_pattern(rng, c, dims[1], 0.12, 1.4),
    )
    motion = (
        _sparse_pattern(rng, 1, dims[0], 0.15, 0.8)[0] * spec.motion_strength,
        _sparse_pattern(rng, 1, dims[1], 0.35, 1.8)[0] * spec.motion_strength,
    )
    venue = (
        _sparse_pattern(rng, len(_VENUES), dims[0], 0.2, 1.4),
        _sparse_pattern(rng, len(_VENUES), dims[1], 0.05, 0.4),
    )
    generic = (
        _sparse_pattern(rng, _GENERIC_SCENES, dims[0], 0.2, 1.4),
        _sparse_pattern(rng, _GENERIC_SCENES, dims[1], 0.05, 0.4),
    )
    mean_duration = rng.uniform(1.5, 7.0, size=c)
    # context (preparing, celebrating) shares part of the action's appearance: same athlete,
    # venue, equipment; the rest is its own
    share = spec.context_share
    context_pattern = (
        share * class_pattern[0] + (1 - share) * _sparse_pattern(rng, c, dims[0], 0.12, 1.6),
        share * class_pattern[1] + (1 - share) * _sparse_pattern(rng, c, dims[1], 0.12, 1.4),
    )
    return _World(
        class_pattern=class_pattern,
        context_pattern=context_pattern,
        motion=motion,
        venue=venue,
        generic=generic,
        venue_of_class=np.asarray([venue_index[n] for n in THUMOS14_CLASSES], dtype=np.int64),
        mean_duration=mean_duration,
    )


@dataclass(frozen=True)
class _Video:
    length: int
    duration: float
    classes: tuple[int, ...]
    instances: tuple[tuple[int, int, int], ...]  # (class, start segment, end segment exclusive)
    annotations: tuple[tuple[int, float, float], ...]  # (class, start s, end s) as annotated


@dataclass(frozen=True)
class _Timeline:
    """Per-segment weights of every latent component of one video."""

    kinds: np.ndarray  # (L,) int8 SegmentKind
    cls: np.ndarray  # (L, C) class-pattern weights (actions, replays)
    ctx: np.ndarray  # (L, C) context-pattern weights
    motion: np.ndarray  # (L,) shared-motion weight
    venue: np.ndarray  # (L,) weight of the video's venue scene
    venue_id: int
    generic: np.ndarray  # (L,) weight of the shot's generic scene
    generic_id: np.ndarray  # (L,) which generic scene
    dynamic: np.ndarray  # (L, 2) weights of the video's two dynamic patterns


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Two passes of a box filter along time (≈ Gaussian), vectorised with cumulative sums."""
    if width <= 1:
        return x
    for _ in range(2):
        padded = np.pad(x, ((width // 2 + 1, width - width // 2 - 1), (0, 0)), mode="edge")
        c = np.cumsum(padded, axis=0, dtype=np.float32)
        x = (c[width:] - c[:-width]) * np.float32(1.0 / width)
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
        cache: keep generated videos in memory (per process: each data-loader worker fills
            its own). ``None``: cache when the whole split takes at most 256 MB (the demo
            preset), else generate on every access.
    """

    def __init__(
        self,
        split: Split = "train",
        *,
        preset: str | SyntheticSpec = "demo",
        num_segments: int = 750,
        sampling: Sampling | None = None,
        seed: int = 0,
        data_seed: int = 0,
        modal: Literal["all", "rgb", "flow"] = "all",
        cache: bool | None = None,
    ) -> None:
        super().__init__(
            num_segments, sampling or ("random" if split == "train" else "uniform"), seed
        )
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
        dim = {"all": spec.rgb_dim + spec.flow_dim, "rgb": spec.rgb_dim, "flow": spec.flow_dim}[
            modal
        ]
        if cache is None:
            cache = int(self.lengths.sum()) * dim * 4 <= 256 * 2**20
        self._cache: dict[tuple[str, int], np.ndarray] | None = {} if cache else None

    # -- layout: lengths, classes, instances ------------------------------------------
    def _rng(self, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng(
            [self.data_seed, 0 if self.split == "train" else 1, index, stream]
        )

    def _layout(self, index: int) -> _Video:
        spec = self.spec
        world = _world(self.data_seed, spec)
        rng = self._rng(index, 0)
        sec = spec.seconds_per_segment
        duration = float(
            np.clip(
                spec.median_duration * np.exp(spec.duration_sigma * rng.standard_normal()),
                spec.min_duration,
                spec.max_duration,
            )
        )
        length = max(8, round(duration / sec))
        first = int(rng.integers(len(THUMOS14_CLASSES)))
        classes = [first]
        partner = _COOCCUR.get(THUMOS14_CLASSES[first])
        if partner is not None and rng.random() < 0.5:
            classes.append(THUMOS14_CLASSES.index(partner))
        elif rng.random() < 0.05:
            classes.append(int(rng.integers(len(THUMOS14_CLASSES))))
        classes = sorted(set(classes))
        # heavy-tailed counts: Poisson with a gamma-distributed per-video rate
        rate = spec.instances_per_minute * rng.gamma(1.5, 1.0 / 1.5)
        want = max(1, int(rng.poisson(rate * duration / 60.0)))
        occupied = np.zeros(length, dtype=bool)
        budget = spec.action_coverage * length
        instances: list[tuple[int, int, int]] = []
        used = 0
        for _ in range(want * 3):  # rejection sampling of non-overlapping instances
            if len(instances) >= want or used >= budget:
                break
            c = int(rng.choice(classes))
            dur = max(2, round(world.mean_duration[c] * np.exp(0.4 * rng.standard_normal()) / sec))
            if dur >= length - 2:
                continue
            if instances and rng.random() < spec.cluster_prob:  # right after another one
                s = instances[-1][2] + int(rng.integers(1, 4))
                if s + dur >= length:
                    continue
            else:
                s = int(rng.integers(1, length - dur))
            lo, hi = max(0, s - 1), min(length, s + dur + 1)
            if occupied[lo:hi].any():
                continue
            occupied[s : s + dur] = True
            used += dur
            instances.append((c, s, s + dur))
        if not instances:  # every video has at least one instance of its label
            c = classes[0]
            dur = max(2, min(length // 3, round(world.mean_duration[c] / sec)))
            s = (length - dur) // 2
            instances.append((c, s, s + dur))
        instances.sort(key=lambda x: x[1])
        classes = sorted({c for c, _, _ in instances})
        # annotations: boundaries in seconds with human-like jitter
        jitter = spec.annotation_jitter * rng.standard_normal((len(instances), 2))
        annotations = []
        for (c, s, e), (js, je) in zip(instances, jitter, strict=True):
            a = max(0.0, round(s * sec + js, 1))
            b = min(round(length * sec, 1), round(e * sec + je, 1))
            annotations.append((c, a, max(b, a + 0.1)))
        return _Video(length, length * sec, tuple(classes), tuple(instances), tuple(annotations))

    # -- timeline: which latent component is where ----------------------------------
    def _timeline(self, index: int) -> _Timeline:
        spec = self.spec
        world = _world(self.data_seed, spec)
        video = self._videos[index]
        rng = self._rng(index, 1)
        length = video.length
        kinds = np.full(length, SegmentKind.VENUE, dtype=np.int8)
        # background shots: venue / generic / dynamic / static
        n_shots = 1 + int(rng.poisson(length / 50))
        cuts = np.sort(rng.integers(1, length, size=n_shots - 1))
        shot = np.searchsorted(cuts, np.arange(length), side="right")
        u = rng.random(n_shots)
        p_static = spec.static_prob
        p_dynamic = p_static + spec.dynamic_prob
        p_venue = p_dynamic + spec.venue_prob
        shot_kind = np.select(
            [u < p_static, u < p_dynamic, u < p_venue],
            [SegmentKind.STATIC, SegmentKind.DYNAMIC, SegmentKind.VENUE],
            SegmentKind.GENERIC,
        ).astype(np.int8)
        kinds[:] = shot_kind[shot]
        generic_id = rng.integers(_GENERIC_SCENES, size=n_shots)[shot]
        # actions, their context and replays
        cls = np.zeros((length, len(THUMOS14_CLASSES)), dtype=np.float32)
        ctx = np.zeros_like(cls)
        motion = np.zeros(length, dtype=np.float32)
        is_action = np.zeros(length, dtype=bool)
        for _, s, e in video.instances:
            is_action[s:e] = True
        for c, s, e in video.instances:
            n = e - s
            pos = np.arange(n)
            ramp = np.minimum(1.0, (np.minimum(pos, n - 1 - pos) + 1) / max(1.0, 0.2 * n))
            dips = np.where(rng.random(n) < spec.dip_prob, 0.4, 1.0)  # occlusions
            profile = (ramp * dips).astype(np.float32)
            cls[s:e, c] += rng.uniform(spec.weakest, 1.2) * profile
            motion[s:e] += (0.7 + 0.6 * rng.random()) * profile
            kinds[s:e] = SegmentKind.ACTION
            for side in (-1, 1):  # preparing before, celebrating after: class, little motion
                if rng.random() >= spec.context_prob:
                    continue
                m = int(rng.integers(2, max(3, n + 1)))
                lo, hi = (max(0, s - m), s) if side < 0 else (e, min(length, e + m))
                free = ~is_action[lo:hi]
                ctx[lo:hi, c] += free * spec.context_strength * (0.8 + 0.4 * rng.random())
                motion[lo:hi] += free * spec.context_motion * rng.random()
                kinds[lo:hi] = np.where(free, SegmentKind.CONTEXT, kinds[lo:hi])
            if rng.random() < spec.replay_prob:  # a replay elsewhere (slow motion: longer)
                r = min(length, 2 * n)
                r0 = int(rng.integers(0, length - r + 1))
                free = ~is_action[r0 : r0 + r]
                slow = np.interp(np.arange(r) / 2.0, pos, profile).astype(np.float32)
                cls[r0 : r0 + r, c] += free * spec.context_strength * slow
                motion[r0 : r0 + r] += free * 0.15 * slow
                kinds[r0 : r0 + r] = np.where(free, SegmentKind.REPLAY, kinds[r0 : r0 + r])
        if spec.blur > 1:  # soft boundaries: features mix a few segments
            cls = _smooth(cls, spec.blur)
            ctx = _smooth(ctx, spec.blur)
            motion = _smooth(motion[:, None], spec.blur)[:, 0]
        foreground = kinds >= SegmentKind.CONTEXT
        # actions and their context happen at the venue (weaker: the actor fills the frame);
        # dynamic shots may show it too (crowd, camera following the athlete)
        venue = np.select(
            [foreground, kinds == SegmentKind.VENUE, kinds == SegmentKind.DYNAMIC],
            [np.float32(0.6), np.float32(1.0), np.float32(spec.dynamic_venue)],
            np.float32(0.0),
        ).astype(np.float32)
        generic = (kinds == SegmentKind.GENERIC).astype(np.float32)
        # dynamic background: two video-specific patterns mixing over time, no shared motion
        mix = _smooth(rng.random((length, 1)).astype(np.float32), 5)
        dyn_on = (kinds == SegmentKind.DYNAMIC).astype(np.float32)[:, None]
        dynamic = dyn_on * np.concatenate([mix, 1.0 - mix], axis=1) * 1.5
        return _Timeline(
            kinds=kinds,
            cls=cls,
            ctx=ctx,
            motion=motion,
            venue=venue,
            venue_id=int(world.venue_of_class[video.classes[0]]),
            generic=generic,
            generic_id=generic_id,
            dynamic=dynamic.astype(np.float32),
        )

    def segment_kinds(self, index: int) -> np.ndarray:
        """``(L,)`` int8 :class:`SegmentKind` of every segment of video ``index`` (ground truth
        of the generator; for tests and diagnostics)."""
        return self._timeline(index).kinds

    # -- features ---------------------------------------------------------------------
    def load_features(self, index: int) -> np.ndarray:
        key = (self.modal, index)
        if self._cache is not None and key in self._cache:
            return self._cache[key]
        timeline = self._timeline(index)
        streams = {"rgb": (0,), "flow": (1,), "all": (0, 1)}[self.modal]
        parts = [self._stream(index, timeline, s) for s in streams]
        feats = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        if self._cache is not None:
            feats.setflags(write=False)  # shared by every later access
            self._cache[key] = feats
        return feats

    def generate(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``(L, rgb_dim)`` RGB and ``(L, flow_dim)`` flow features of video ``index``
        (float32, non-negative), whatever ``modal`` is."""
        timeline = self._timeline(index)
        return self._stream(index, timeline, 0), self._stream(index, timeline, 1)

    def _stream(self, index: int, tl: _Timeline, stream: int) -> np.ndarray:
        """One stream's features: latent weights x patterns, smooth noise, softplus.

        Each stream has its own random stream, so RGB-only or flow-only loading generates
        only what it returns and gets the same numbers as ``modal="all"``.
        """
        spec = self.spec
        world = _world(self.data_seed, spec)
        rng = self._rng(index, 2 + stream)
        dim = (spec.rgb_dim, spec.flow_dim)[stream]
        length = len(tl.kinds)
        dyn_p = _sparse_pattern(rng, 2, dim, 0.3, 1.5) * spec.dynamic_energy
        z = tl.cls @ world.class_pattern[stream]
        z += tl.ctx @ world.context_pattern[stream]
        z += tl.motion[:, None] * world.motion[stream][None, :]
        z += tl.venue[:, None] * world.venue[stream][tl.venue_id][None, :]
        z += tl.generic[:, None] * world.generic[stream][tl.generic_id]
        z += tl.dynamic @ dyn_p
        z += np.float32(2.0 * spec.noise) * _smooth(
            rng.standard_normal((length, dim), dtype=np.float32), 3
        )
        z += np.float32(0.15 * spec.noise) * rng.standard_normal((length, dim), dtype=np.float32)
        z -= np.float32(1.0)
        # softplus(z - 1): sparse and non-negative like post-ReLU I3D features; stable form
        feats = np.maximum(z, np.float32(0.0))
        feats += np.log1p(np.exp(-np.abs(z)))
        feats[tl.kinds == SegmentKind.STATIC] *= np.float32(0.05)  # near-zero frames
        return feats

    # -- annotations ------------------------------------------------------------------
    def ground_truth(self) -> dict[str, Any]:
        database = {
            vid: {
                "subset": self.split,
                "duration": round(v.duration, 3),
                "annotations": [
                    {"label": THUMOS14_CLASSES[c], "segment": [a, b]} for c, a, b in v.annotations
                ],
            }
            for vid, v in zip(self.video_ids, self._videos, strict=True)
        }
        return {"version": "synthetic", "database": database}

    def __repr__(self) -> str:
        dim = {
            "all": self.spec.rgb_dim + self.spec.flow_dim,
            "rgb": self.spec.rgb_dim,
            "flow": self.spec.flow_dim,
        }[self.modal]
        return (
            f"SyntheticWTAL(split={self.split!r}, videos={len(self)}, feature_dim={dim} ({self.modal}), "
            f"num_segments={self.num_segments}, data_seed={self.data_seed})"
        )


def write_official_layout(
    root: str | os.PathLike[str], *, preset: str | SyntheticSpec = "thumos", data_seed: int = 0
) -> Path:
    """Write the synthetic dataset in the official THUMOS'14 layout (gt.json, splits, features/).

    The result is readable by :class:`~wtal_blocks.data.ThumosFeatures` and ``wtal-um train
    --data-root DIR`` (features: ``features/{train,test}/{rgb,flow}/VIDEO.npy``, float32
    ``(L, dim)``; about 1 GB for ``preset="thumos"``, 50 MB for ``"demo"``). Returns ``root``.
    """
    root = Path(root)
    database: dict[str, Any] = {}
    for split in ("train", "test"):
        ds = SyntheticWTAL(split, preset=preset, data_seed=data_seed, cache=False)
        database.update(ds.ground_truth()["database"])
        for stream in ("rgb", "flow"):
            (root / "features" / split / stream).mkdir(parents=True, exist_ok=True)
        for i, vid in enumerate(ds.video_ids):
            rgb, flow = ds.generate(i)
            np.save(root / "features" / split / "rgb" / f"{vid}.npy", rgb)
            np.save(root / "features" / split / "flow" / f"{vid}.npy", flow)
        (root / f"split_{split}.txt").write_text("\n".join(ds.video_ids) + "\n")
    (root / "gt.json").write_text(json.dumps({"version": "synthetic", "database": database}))
    return root
