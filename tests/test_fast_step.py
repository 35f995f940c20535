"""The fast training step and the device-resident training set (CPU; the CUDA-graph and
synchronisation checks run on CUDA only, from benchmarks/gpu_check.sh)."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.helpers import write_thumos_layout
from wtal_blocks._validation import validation_enabled
from wtal_blocks.data import ThumosFeatures, pad_collate, random_perturb
from wtal_blocks.data.device_dataset import CachedSamples, DeviceFeatures, random_perturb_batch
from wtal_blocks.models.dropout import DropoutMultipliers
from wtal_blocks.pooling import topk_mil_pooling
from wtal_blocks.recipes import UMConfig, train
from wtal_blocks.recipes.fast_step import (
    FastStep,
    LossLog,
    resolve_device_data,
    resolve_fast_step,
    sample_multipliers_into,
)
from wtal_blocks.recipes.methods import get_method

CUDA = torch.cuda.is_available()
LENGTHS = {
    **{f"train_{i}": n for i, n in enumerate([9, 20, 33, 20, 61, 12, 45])},
    **{f"test_{i}": 20 + 5 * i for i in range(3)},
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_thumos_layout(tmp_path_factory.mktemp("thumos"), LENGTHS, instances=True)


def _config(root: Path, out: Path, **kw: Any) -> UMConfig:
    base: dict[str, Any] = dict(
        data_root=str(root), modal="rgb", num_segments=20, embed_dim=16, iterations=5,
        batch_size=3, eval_every=0, eval_batch_size=3, output_dir=str(out), lr=1e-3,
        num_workers=0,
    )  # fmt: skip
    base.update(kw)
    return UMConfig(**base)


def _losses(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((out / "train_log.csv").open()))


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def _quiet(cfg: UMConfig, **kw: Any) -> None:
    train(cfg, progress=False, log=lambda _: None, **kw)


# ------------------------------------------------------------------------------ the mode rules


def test_mode_rules() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_fast_step("auto", cpu, False) == "off"  # CPU runs stay as they were
    # not yet run on a GPU: auto keeps the measured step until gpu_check.sh has checked them
    assert resolve_fast_step("auto", cuda, False) == "off"
    assert resolve_fast_step("auto", cuda, True) == "off"  # torchrun keeps the eager step
    assert resolve_fast_step("graph", cuda, False) == "graph"
    assert resolve_fast_step("compile", cpu, False) == "compile"
    with pytest.raises(ValueError, match="needs a CUDA device"):
        resolve_fast_step("graph", cpu, False)
    with pytest.raises(ValueError, match="one process"):
        resolve_fast_step("eager", cuda, True)
    with pytest.raises(ValueError, match="fast_step must be one of"):
        resolve_fast_step("fast", cpu, False)
    assert not resolve_device_data("auto", "graph", cuda)
    assert not resolve_device_data("auto", "eager", cpu)
    assert resolve_device_data("on", "graph", cuda)
    assert resolve_device_data("on", "eager", cpu) and not resolve_device_data("auto", "off", cuda)
    with pytest.raises(ValueError, match="feeds the fast step"):
        resolve_device_data("on", "off", cpu)


# ------------------------------------------------------------------- the fast step = the eager one


def test_fast_eager_step_equals_the_recipe_step_bit_for_bit(
    data_root: Path, tmp_path: Path
) -> None:
    _quiet(_config(data_root, tmp_path / "off"), fast_step="off", device_data="off")
    _quiet(_config(data_root, tmp_path / "fast"), fast_step="eager", device_data="off")
    assert _losses(tmp_path / "off") == _losses(tmp_path / "fast")
    assert [int(r["step"]) for r in _losses(tmp_path / "fast")] == [1, 2, 3, 4, 5]
    a, b = (_weights(tmp_path / d / "model_final.pkl") for d in ("off", "fast"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the fast path evaluates on cached test samples: the same detections
    results = [(tmp_path / d / "results_final.json").read_text() for d in ("off", "fast")]
    assert results[0] == results[1]


def _tiny_um(seed: int = 0) -> tuple[Any, Any, torch.optim.Optimizer]:
    method = get_method("um")
    cfg = method.config_type(dataset="synthetic", num_segments=24, embed_dim=12)
    torch.manual_seed(seed)
    model = method.build_model(cfg, 6, 4).double()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=5e-4)
    return model, method.build_objective(cfg), opt


def _batches(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    out = []
    for i in range(n):
        b = 3 if i % 2 else 2  # two batch shapes, as an epoch's short last batch
        x = torch.rand(b, 24, 6, generator=g, dtype=torch.float64)
        y = torch.zeros(b, 4, dtype=torch.float64)
        y[torch.arange(b), torch.randint(0, 4, (b,), generator=g)] = 1
        out.append((x, y))
    return out


def _run(mode: str, steps: int = 4, **kw: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model, objective, opt = _tiny_um()
    gen = torch.Generator().manual_seed(5)
    loss_terms = get_method("um").loss_terms
    step = FastStep(model, objective, opt, gen, loss_terms, mode, **kw)  # type: ignore[arg-type]
    terms = torch.stack([step(x, y).clone() for x, y in _batches(steps)])
    return terms, {k: v.detach().clone() for k, v in model.state_dict().items()}


def _eager_reference(steps: int = 4) -> torch.Tensor:
    """The recipe's eager step written out: sample, zero, forward, objective, backward, step."""
    model, objective, opt = _tiny_um()
    gen = torch.Generator().manual_seed(5)
    rows = []
    for x, y in _batches(steps):
        spec = model.multiplier_spec(x.shape[0], x.shape[1])
        mult = DropoutMultipliers.sample(spec, gen)
        opt.zero_grad(set_to_none=False)
        total, terms = objective(model(x, multipliers=mult), y)
        (total * 1.0).backward()
        opt.step()
        rows.append(torch.stack(list(terms.values())))
    return torch.stack(rows)


def test_compiled_step_gives_the_eager_losses() -> None:
    """torch.compile of forward + objective (and, through AOTAutograd, its backward) on the
    CPU, float64: the eager step's losses and weights, over steps of two batch shapes.

    The backend is ``aot_eager`` (Dynamo's capture and AOTAutograd's forward/backward split,
    run by aten): a cold Inductor build costs ~40 s on a 2-core machine. Inductor itself is
    checked on CUDA (``test_cuda_inductor_step_gives_the_eager_losses``), where it is used.
    """
    reference = _eager_reference()
    eager, w_eager = _run("eager")
    assert torch.equal(eager, reference)
    compiled, w_compiled = _run("compile", compile_backend="aot_eager")
    torch.testing.assert_close(compiled, reference, rtol=1e-12, atol=0)
    for k in w_eager:
        torch.testing.assert_close(w_compiled[k], w_eager[k], rtol=1e-12, atol=1e-15)


def test_graph_mode_bookkeeping_replays_the_eager_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The graph mode's logic on the CPU: an eager warm-up and one capture per batch shape,
    static inputs refilled (or written in place through ``input_buffers``), multipliers redrawn
    in place. CUDA's capture and replay are stood in for by re-running the captured step."""

    class Replay:
        def __init__(self, body: Any, out: torch.Tensor) -> None:
            self.body, self.out = body, out

        def replay(self) -> None:
            self.out.copy_(self.body())

    captured: list[Any] = []

    def record(self: FastStep, body: Any) -> tuple[Replay, torch.Tensor]:
        captured.append(body)
        out = torch.full((4,), float("nan"), dtype=torch.float64)
        return Replay(body, out), out

    monkeypatch.setattr(FastStep, "_record", record)
    monkeypatch.setattr(FastStep, "_warm_up", lambda self, fn: fn())
    model, objective, opt = _tiny_um()
    loss_terms = get_method("um").loss_terms
    step = FastStep(model, objective, opt, torch.Generator().manual_seed(5), loss_terms, "eager")
    step.mode = "graph"
    rows = []
    for n, (x, y) in enumerate(_batches(7)):
        static = step.input_buffers(x.shape[0], x.shape[1])
        assert (static is None) == (n < 2)  # captured at the first step of each shape
        if static is not None and n % 3 == 0:  # the device data path writes in place
            static[0].copy_(x), static[1].copy_(y)
            x, y = static
        rows.append(step(x, y).clone())
    assert len(captured) == 2
    assert torch.equal(torch.stack(rows), _eager_reference(7))


def test_multipliers_drawn_in_place_are_the_eager_draws() -> None:
    model, _, _ = _tiny_um()
    spec = model.multiplier_spec(3, 24)
    expected = DropoutMultipliers.sample(spec, torch.Generator().manual_seed(3))
    buffers = {k: torch.full(v.shape, 9.0) for k, v in expected.tensors.items()}
    got = sample_multipliers_into(buffers, spec, torch.Generator().manual_seed(3))
    assert all(torch.equal(got.tensors[k], expected.tensors[k]) for k in expected.tensors)
    assert got.tensors["features"] is buffers["features"]


# --------------------------------------------------------------- no host synchronisation, checks


@contextlib.contextmanager
def _no_host_reads(allowed: list[torch.Tensor]) -> Iterator[list[str]]:
    """Fail on every read of a tensor's value by the host (``.item()``, ``bool()``, ``float()``,
    ``.tolist()`` ...), except of ``allowed`` tensors: on CUDA each would wait for the device.
    Adam's step counters are allowed: without ``capturable`` torch keeps them on the host."""
    calls: list[str] = []
    ok = {id(t) for t in allowed}
    names = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__")
    saved = {n: getattr(torch.Tensor, n) for n in names}

    def guard(name: str) -> Any:
        def read(self: torch.Tensor, *args: Any, **kw: Any) -> Any:
            if id(self) not in ok:
                calls.append(name)
                raise AssertionError(f"the step reads a tensor on the host: Tensor.{name}")
            return saved[name](self, *args, **kw)

        return read

    for n in names:
        setattr(torch.Tensor, n, guard(n))
    try:
        yield calls
    finally:
        for n, f in saved.items():
            setattr(torch.Tensor, n, f)


@pytest.mark.parametrize("method_name", ["um", "basnet", "cola"])
def test_step_and_device_batches_never_read_the_device(method_name: str) -> None:
    method = get_method(method_name)
    extra = {"hidden": 8, "filter_hidden": 4} if method_name == "basnet" else {"embed_dim": 8}
    cfg = method.config_type(dataset="synthetic", num_segments=40, **extra)
    model = method.build_model(cfg, 6, 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = FastStep(
        model, method.build_objective(cfg), opt, torch.Generator(), method.loss_terms, "eager"
    )
    log = LossLog(method.loss_terms, torch.device("cpu"))
    lengths = torch.tensor([50, 40, 9, 100])
    data = DeviceFeatures(
        torch.rand(int(lengths.sum()), 6),
        torch.cumsum(lengths, 0) - lengths,
        lengths,
        torch.eye(4)[[0, 1, 2, 3]],
        num_segments=40,
    )
    videos, gen = torch.tensor([3, 0, 2]), torch.Generator().manual_seed(0)
    log.append(1, step(*data.batch(videos, gen)))  # the first step creates Adam's state
    counters = [s["step"] for s in opt.state.values()]
    with _no_host_reads(counters) as calls:
        for n in range(2, 4):
            log.append(n, step(*data.batch(videos, gen)))
    assert calls == []
    seen: list[int] = []
    log.flush(lambda s, terms: seen.append(s))
    assert seen == [1, 2, 3]


def test_value_checks_are_off_in_the_step_and_on_for_user_calls() -> None:
    model, objective, opt = _tiny_um()
    inside: list[bool] = []
    model.register_forward_pre_hook(lambda *_: inside.append(validation_enabled()))
    step = FastStep(model, objective, opt, torch.Generator(), get_method("um").loss_terms, "eager")
    x, y = _batches(1)[0]
    step(x, y)
    assert inside == [False] and validation_enabled()
    with pytest.raises(ValueError, match="must be finite"):  # a user call still checks
        topk_mil_pooling(torch.full((1, 4, 2), float("nan")), k=2)
    with pytest.raises(FloatingPointError, match="diverged at step 7"):
        step(torch.full_like(x, float("nan")), y, step=7)  # not a ValueError: no check ran


def test_loss_log_emits_steps_in_order_and_stops_at_the_first_non_finite() -> None:
    log = LossLog(("loss_a", "loss_total"), torch.device("cpu"))
    for s in range(1, 150):  # more than a flush's worth: the buffer grows, nothing is read
        value = float("inf") if s == 120 else s / 4
        log.append(s, torch.tensor([value, 2 * value]))
    emitted: list[tuple[int, dict[str, float]]] = []
    with pytest.raises(FloatingPointError, match=r"diverged at step 120: losses \{'loss_a': inf"):
        log.flush(lambda s, t: emitted.append((s, t)))
    assert [s for s, _ in emitted] == list(range(1, 120))
    assert emitted[2] == (3, {"loss_a": 0.75, "loss_total": 1.5}) and len(log) == 0


# --------------------------------------------------------------------- the device-resident data


def _slices(length: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    base = (np.arange(t) * length / t).astype(np.int64)
    upper = np.append(base[1:], max(base[-1], length - 1))
    return base, upper


def test_device_sampling_follows_the_official_rule() -> None:
    t = 16
    lengths = torch.tensor([1, 5, 15, 16, 17, 31, 32, 100, 999, 2_000_003])
    gen = torch.Generator().manual_seed(0)
    draws = torch.stack([random_perturb_batch(lengths, t, gen) for _ in range(300)])  # (R, B, T)
    for b, length in enumerate(lengths.tolist()):
        got = draws[:, b].numpy()
        if length == t:  # every segment, in order
            assert (got == np.arange(t)).all()
            continue
        base, upper = _slices(length, t)
        # each index within its slice, both ends inclusive; the last slice reaches L - 1
        assert (got >= base).all() and (got <= upper).all() and (got < length).all()
        assert (np.diff(got, axis=1) >= 0).all()
        # both ends of every slice are drawn (300 draws of at most 3 values per small slice)
        small = (upper - base) <= 2
        assert (got.min(axis=0)[small] == base[small]).all()
        assert (got.max(axis=0)[small] == upper[small]).all()
        # the host rule allows exactly these values
        host = np.stack([random_perturb(length, t, np.random.default_rng(r)) for r in range(50)])
        assert (host >= base).all() and (host <= upper).all()
    # stretching: L < T repeats segments; T = 1 draws anywhere in the video
    assert set(draws[:, 1].flatten().tolist()) == set(range(5))
    one = random_perturb_batch(torch.tensor([7]), 1, torch.Generator().manual_seed(1))
    assert one.shape == (1, 1) and 0 <= int(one) < 7


def test_device_sampling_slices_are_the_official_ones_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the smallest and the largest uniform draw, every index is its slice's first and
    last value: the slice bounds equal numpy's for lengths up to millions."""
    lengths = [1, 2, 3, 749, 750, 751, 1499, 4096, 10**6 + 7, 2**31 - 1]
    rand = torch.rand
    for t in (1, 7, 750):
        for u in (0.0, 1.0 - 2**-53):
            monkeypatch.setattr(
                torch, "rand", lambda *a, u=u, **k: torch.full_like(rand(*a, **k), u)
            )
            got = random_perturb_batch(torch.tensor(lengths), t).numpy()
            monkeypatch.setattr(torch, "rand", rand)
            for row, length in zip(got, lengths, strict=True):
                base, upper = _slices(length, t)
                expected = np.arange(t) if length == t else (base if u == 0 else upper)
                assert (row == expected).all(), (length, t, u)


def test_device_batches_equal_the_host_loader_for_the_same_indices(data_root: Path) -> None:
    ds = ThumosFeatures(data_root, "train", modal="rgb", num_segments=20, sampling="random")
    data = DeviceFeatures.from_dataset(ds, "cpu")
    assert DeviceFeatures.nbytes(ds) >= data.features.numel() * 4
    videos, epoch = [4, 0, 2], 3
    host = pad_collate([ds.get(v, epoch) for v in videos])
    indices = torch.from_numpy(np.stack([ds.sample_indices(v, epoch) for v in videos]))
    feats, labels = data.gather(torch.tensor(videos), indices)
    assert torch.equal(feats, host.features) and torch.equal(labels, host.labels)
    out = (torch.empty_like(feats), torch.empty_like(labels))
    assert data.gather(torch.tensor(videos), indices, out=out)[0] is out[0]
    assert torch.equal(out[0], host.features)

    def one_step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(0)
        method = get_method("um")
        cfg = method.config_type(dataset="synthetic", num_segments=20, embed_dim=8)
        model = method.build_model(cfg, 8, 20)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        objective = method.build_objective(cfg)
        gen = torch.Generator().manual_seed(0)
        return FastStep(model, objective, opt, gen, method.loss_terms, "eager")(x, y)

    assert torch.equal(one_step(feats, labels), one_step(host.features, host.labels))


def test_cached_test_samples_are_read_once_and_equal(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = ThumosFeatures(data_root, "test", modal="rgb", num_segments=25, sampling="uniform")
    cached = CachedSamples(ds)
    reads: list[int] = []
    real = ds.get
    monkeypatch.setattr(ds, "get", lambda i, e: reads.append(i) or real(i, e))
    for _ in range(3):
        for i in range(len(ds)):
            got, expected = cached[i], real(i, 0)
            assert (
                torch.equal(got.features, expected.features) and got.video_id == expected.video_id
            )
    assert reads == list(range(len(ds)))
    assert cached.ground_truth() == ds.ground_truth() and cached.feature_dim == 8
    assert CachedSamples.nbytes(ds) == 4 * 8 * sum(min(n, 25) for n in ds.lengths)
    with pytest.raises(ValueError, match="random sampling"):
        CachedSamples(ThumosFeatures(data_root, "test", modal="rgb", sampling="random"))


def test_recipe_on_device_data_resumes_exactly(data_root: Path, tmp_path: Path) -> None:
    kw: dict[str, Any] = {"fast_step": "eager", "device_data": "on"}
    _quiet(_config(data_root, tmp_path / "a"), **kw)
    with pytest.raises(KeyboardInterrupt):
        _quiet(_config(data_root, tmp_path / "b"), stop_after=2, **kw)
    with pytest.raises(ValueError, match="sampled its batches on the device; resume it with"):
        _quiet(
            _config(data_root, tmp_path / "b"), resume=True, fast_step="eager", device_data="off"
        )
    _quiet(_config(data_root, tmp_path / "b"), resume=True, **kw)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    a, b = (_weights(tmp_path / d / "model_final.pkl") for d in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    host = tmp_path / "host"
    _quiet(_config(data_root, host), fast_step="eager", device_data="off")
    assert _losses(host) != _losses(tmp_path / "a")  # another (equally official) sample


# ---------------------------------------------------------------------------------- CUDA only


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_cuda_graph_step_gives_the_eager_losses_without_syncs() -> None:
    def run(mode: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
        model, objective, _ = _tiny_um()
        model = model.cuda()
        opt = torch.optim.Adam(
            model.parameters(), lr=1e-2, weight_decay=5e-4, capturable=mode == "graph"
        )
        gen = torch.Generator(device="cuda").manual_seed(5)
        step = FastStep(model, objective, opt, gen, get_method("um").loss_terms, mode)  # type: ignore[arg-type]
        batches = [(x.cuda(), y.cuda()) for x, y in _batches(8)]
        rows = [step(x, y).clone() for x, y in batches[:4]]  # warm-ups and captures
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            rows += [step(x, y).clone() for x, y in batches[4:]]
        finally:
            torch.cuda.set_sync_debug_mode("default")
        return torch.stack(rows), list(model.parameters())

    eager, w_eager = run("eager")
    graph, w_graph = run("graph")
    # capturable Adam forms its bias corrections on the device, in float32: rounding only
    torch.testing.assert_close(graph, eager, rtol=1e-6, atol=0)
    for a, b in zip(w_graph, w_eager, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_cuda_recipe_graph_and_device_data_match_the_eager_fast_step(
    data_root: Path, tmp_path: Path
) -> None:
    for mode in ("eager", "graph"):
        cfg = _config(data_root, tmp_path / mode, device="cuda", iterations=8)
        _quiet(cfg, fast_step=mode, device_data="on")
    rows = [_losses(tmp_path / m) for m in ("eager", "graph")]
    assert [r["step"] for r in rows[0]] == [r["step"] for r in rows[1]] == list("12345678")
    for a, b in zip(*rows, strict=True):
        for k in ("loss_cls", "loss_um", "loss_be", "loss_total"):
            assert float(a[k]) == pytest.approx(float(b[k]), rel=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_cuda_inductor_step_gives_the_eager_losses() -> None:
    def run(mode: str) -> torch.Tensor:
        model, objective, _ = _tiny_um()
        model = model.cuda()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=5e-4)
        gen = torch.Generator(device="cuda").manual_seed(5)
        step = FastStep(model, objective, opt, gen, get_method("um").loss_terms, mode)  # type: ignore[arg-type]
        return torch.stack([step(x.cuda(), y.cuda()).clone() for x, y in _batches(4)])

    torch.testing.assert_close(run("compile"), run("eager"), rtol=1e-9, atol=0)
