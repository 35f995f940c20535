"""Training speed: UM's training step, and a whole training run, against the official style.

Per step (default), batch 16 × 750 × 2048, 20 classes, Adam (lr 1e-4, weight decay 5e-4),
every row timed in the same run (ms per step, mean over ``--steps`` steps, best of
``--repeat`` rounds, the device synchronised at the end of each round):

* ``official-style``: the official architecture and forward written by us from
  docs/official-code.md (``nn.Conv1d`` embedding, full ``sort`` for every top-k, dropout from the
  global generator, the BCE losses), the batch already on the device: the baseline;
* ``official-style + loop``: the same with what the official loop adds to each step, the copy
  of the host batch (not pinned) and ``.item()`` of each logged loss;
* ``ours, eager (fast_step off)``: :class:`~wtal_blocks.UncertaintyModelingNet` and
  :class:`~wtal_blocks.UMObjective` as the recipe's eager step runs them: a pinned host batch
  copied to the device, explicit dropout noise, value checks off, the losses read every step;
* ``ours, fast eager + device data``: :class:`~wtal_blocks.recipes.fast_step.FastStep` kernel by
  kernel, batches sampled on the device from the THUMOS'14-sized training set held there
  (:class:`~wtal_blocks.data.device_dataset.DeviceFeatures`), the losses read every 100 steps;
* ``ours, CUDA graph + device data``: the same with the step captured in a CUDA graph (the
  recipe's ``--fast-step graph``, opt-in until a GPU run has measured it);
* ``ours, torch.compile + device data`` (``--compile``): forward and objective compiled.

``--full``: a whole training run at THUMOS'14 scale on synthetic features (the built-in
``thumos`` preset written in the official layout: 200 training and 210 test videos, 2048-d,
``T = 750``): ``wtal train`` as a user runs it, 10,000 iterations, evaluation every 1,000 steps
and of the final model, checkpoints and logs, timed end to end; next to it the official-style
loop (a data loader with ``--workers`` processes, the host batch copied to the device, the
official-style step, ``.item()`` of the losses; without the official per-step test) timed over
``--baseline-steps`` steps and extrapolated to 10,000, labelled as such.

``--profile`` (CUDA): the fast step's kernels by device time, and the embedding convolution
(forward + weight gradient, nearly all the step's FLOPs) timed in the model's layout and as a
channels-last ``conv2d``, under the recipe's and cuDNN's other algorithm settings.

    python benchmarks/bench_train.py [--device cuda] [--compile]
    python benchmarks/bench_train.py --profile
    python benchmarks/bench_train.py --full [--data-dir DIR] [--iterations 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from _timing import print_table

from wtal_blocks import UMObjective, UncertaintyModelingNet
from wtal_blocks._validation import set_validation
from wtal_blocks.data.device_dataset import DeviceFeatures
from wtal_blocks.models.dropout import DropoutMultipliers
from wtal_blocks.recipes.fast_step import FastStep, LossLog

LOSS_TERMS = ("loss_cls", "loss_um", "loss_be", "loss_total")


class OfficialStyleNet(nn.Module):
    """The official architecture and forward, with full sorts (our own code, from the spec)."""

    def __init__(
        self, feature_dim: int, num_classes: int, action_ratio: int = 9, background_ratio: int = 4
    ) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Conv1d(feature_dim, 2048, 3, padding=1), nn.ReLU())
        self.classifier = nn.Conv1d(2048, num_classes, 1, bias=False)
        self.drop = nn.Dropout(0.7)
        self.action_ratio, self.background_ratio = action_ratio, background_ratio

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        t = x.shape[1]
        action_k, background_k = t // self.action_ratio, t // self.background_ratio
        h = self.embed(x.transpose(1, 2))
        features = h.transpose(1, 2)
        cas = self.classifier(self.drop(h)).transpose(1, 2)
        mags = features.norm(p=2, dim=2)
        keep = self.drop(torch.ones_like(mags))
        idx_act = (mags * keep).sort(descending=True, dim=1).indices[:, :action_k]
        rev = mags.max(dim=1, keepdim=True).values - mags
        idx_bkg = (rev * keep).sort(descending=True, dim=1).indices[:, :background_k]
        feat_act = features.gather(1, idx_act[:, :, None].expand(-1, -1, features.shape[2]))
        feat_bkg = features.gather(1, idx_bkg[:, :, None].expand(-1, -1, features.shape[2]))
        score_act = cas.sort(descending=True, dim=1).values[:, :action_k].mean(1).softmax(1)
        score_bkg = (
            cas.gather(1, idx_bkg[:, :, None].expand(-1, -1, cas.shape[2])).mean(1).softmax(1)
        )
        return score_act, score_bkg, feat_act, feat_bkg


def official_loss(
    score_act: Tensor,
    score_bkg: Tensor,
    feat_act: Tensor,
    feat_bkg: Tensor,
    label: Tensor,
    alpha: float = 5e-4,
    beta: float = 1.0,
    margin: float = 100.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    label = label / label.sum(1, keepdim=True)
    loss_cls = nn.functional.binary_cross_entropy(score_act, label)
    loss_be = nn.functional.binary_cross_entropy(
        score_bkg, torch.full_like(label, 1 / label.shape[1])
    )
    loss_act = margin - feat_act.mean(1).norm(p=2, dim=1)
    loss_act = torch.where(loss_act < 0, torch.zeros_like(loss_act), loss_act)
    loss_um = ((loss_act + feat_bkg.mean(1).norm(p=2, dim=1)) ** 2).mean()
    total = loss_cls + alpha * loss_um + beta * loss_be
    return total, {"loss_cls": loss_cls, "loss_um": loss_um, "loss_be": loss_be, "total": total}


def _adam(model: nn.Module, capturable: bool = False) -> torch.optim.Adam:
    return torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=5e-4, capturable=capturable)


def _deterministic(device: torch.device) -> None:
    """The recipe's cuDNN settings, for every row alike."""
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def thumos_lengths() -> np.ndarray:
    """The THUMOS'14-like video lengths of the built-in synthetic training set (200 videos)."""
    from wtal_blocks.data import SyntheticWTAL

    return SyntheticWTAL("train", preset="thumos").lengths


def timed_per_step(
    fn: Callable[[], Any], *, warmup: int, steps: int, repeat: int, device: torch.device
) -> float:
    """Seconds per call: mean over ``steps`` calls, best of ``repeat`` rounds."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        sync()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def per_step(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    _deterministic(device)
    b, t, f, c = args.batch, args.segments, args.features, args.classes
    g = torch.Generator().manual_seed(0)
    lengths = torch.from_numpy(thumos_lengths())
    flat = torch.rand(int(lengths.sum()), f, generator=g).to(device)
    labels_all = torch.zeros(len(lengths), c)
    labels_all[torch.arange(len(lengths)), torch.randint(0, c, (len(lengths),), generator=g)] = 1
    data = DeviceFeatures(
        flat, (torch.cumsum(lengths, 0) - lengths).to(device), lengths.to(device),
        labels_all.to(device), t,
    )  # fmt: skip
    host_x = torch.rand(b, t, f, generator=g)
    host_y = labels_all[:b].clone()
    pinned_x = host_x.pin_memory() if cuda else host_x
    pinned_y = host_y.pin_memory() if cuda else host_y
    x, y = host_x.to(device), host_y.to(device)
    order = torch.randperm(len(lengths), generator=g).tolist() * 4

    torch.manual_seed(0)
    base = OfficialStyleNet(f, c).to(device).train()
    opt_b = _adam(base)

    def official_step() -> None:
        loss, _ = official_loss(*base(x), y)
        opt_b.zero_grad()
        loss.backward()
        opt_b.step()

    def official_loop_step() -> None:
        xd, yd = host_x.to(device), host_y.to(device)  # the official .cuda() of a host batch
        loss, terms = official_loss(*base(xd), yd)
        opt_b.zero_grad()
        loss.backward()
        opt_b.step()
        [v.item() for v in terms.values()]  # the official per-step logging

    def ours(capturable: bool = False) -> tuple[nn.Module, UMObjective, torch.optim.Adam]:
        torch.manual_seed(0)
        model = UncertaintyModelingNet(f, c).to(device).train()
        return model, UMObjective(), _adam(model, capturable)

    model_e, objective_e, opt_e = ours()
    gen_e = torch.Generator(device=device).manual_seed(0)

    def ours_eager_step() -> None:  # the recipe's eager step (fast_step off)
        spec = model_e.multiplier_spec(b, t)
        mult = DropoutMultipliers.sample(spec, gen_e, device=device)
        opt_e.zero_grad(set_to_none=False)
        xd, yd = pinned_x.to(device, non_blocking=True), pinned_y.to(device, non_blocking=True)
        with set_validation(False):
            out = model_e(xd, multipliers=mult)
            total, terms = objective_e(
                out.video_probs, out.background_probs, out.action_features,
                out.background_features, yd,
            )  # fmt: skip
        (total * 1.0).backward()
        opt_e.step()
        {k: float(v) for k, v in terms.items()}  # read every step, for the log

    def fast(mode: str) -> Callable[[], None]:
        model, objective, opt = ours(capturable=mode == "graph")
        gen = torch.Generator(device=device).manual_seed(0)
        sampling = torch.Generator(device=device).manual_seed(1)

        def loss_fn(output: Any, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
            return objective(
                output.video_probs, output.background_probs, output.action_features,
                output.background_features, labels,
            )  # fmt: skip

        step = FastStep(model, loss_fn, opt, gen, LOSS_TERMS, mode)  # type: ignore[arg-type]
        log = LossLog(LOSS_TERMS, device)
        count = [0]

        def run() -> None:
            i = count[0] % len(lengths)
            videos = data.videos_tensor(order[i : i + b])
            batch = data.batch(videos, sampling, out=step.input_buffers(b, t))
            count[0] += 1
            log.append(count[0], step(*batch))
            if log.due():
                log.flush(lambda *_: None)

        return run

    rows: list[tuple[str, Callable[[], None]]] = [
        ("official-style step (batch on the device): baseline", official_step),
        ("official-style + loop (host batch copy, .item() of the losses)", official_loop_step),
        ("ours, eager (fast_step off: pinned host batch, losses read)", ours_eager_step),
        ("ours, fast eager + device data", fast("eager")),
    ]
    if cuda:
        rows.append(("ours, CUDA graph + device data (recipe default)", fast("graph")))
    if args.compile:
        rows.append(("ours, torch.compile + device data", fast("compile")))
    steps = args.steps if args.steps else (200 if cuda else 2)
    repeat = args.repeat if args.repeat else (3 if cuda else 2)
    times = []
    for name, fn in rows:
        warmup = 10 if cuda else 2
        times.append(timed_per_step(fn, warmup=warmup, steps=steps, repeat=repeat, device=device))
        print(f"  timed: {name}: {times[-1] * 1e3:.3f} ms", flush=True)
    print(
        f"device {device} {_name(device)}, batch "
        f"{b} x {t} x {f}, {c} classes, torch {torch.__version__}, threads "
        f"{torch.get_num_threads()}; ms per step, mean of {steps} steps, best of {repeat} rounds"
    )
    print_table(
        ["step", "ms / step", "speed-up vs official-style"],
        [[n, s * 1e3, times[0] / s] for (n, _), s in zip(rows, times, strict=True)],
    )


# -------------------------------------------------------------------------------- --profile


def where_the_time_goes(args: argparse.Namespace) -> None:
    """CUDA: the kernels of the fast step by device time, and the embedding convolution
    (forward + weight gradient, the step's FLOPs) in two layouts and cuDNN settings."""
    import torch.nn.functional as F
    from torch.profiler import ProfilerActivity, profile

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    _deterministic(device)
    b, t, f, c = args.batch, args.segments, args.features, args.classes
    torch.manual_seed(0)
    model = UncertaintyModelingNet(f, c).to(device).train()
    objective = UMObjective()
    opt = _adam(model)

    def loss_fn(output: Any, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return objective(
            output.video_probs, output.background_probs, output.action_features,
            output.background_features, labels,
        )  # fmt: skip

    gen = torch.Generator(device=device).manual_seed(0)
    step = FastStep(model, loss_fn, opt, gen, LOSS_TERMS, "eager")  # type: ignore[arg-type]
    x = torch.rand(b, t, f, device=device)
    y = torch.zeros(b, c, device=device)
    y[:, 0] = 1
    for _ in range(3):
        step(x, y)
    sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(5):
            step(x, y)
        sync()
    averages = prof.key_averages()
    for key in ("device_time_total", "cuda_time_total") if cuda else ("cpu_time_total",):
        try:
            print(averages.table(sort_by=key, row_limit=18))
            break
        except (AttributeError, KeyError, ValueError):
            continue

    weight = torch.randn(2048, f, 3, device=device) * 0.01
    bias = torch.zeros(2048, device=device)
    grad_out = torch.randn(b, 2048, t, device=device)
    ncw = x.transpose(1, 2)  # the layout the model (and the official code) hands cuDNN

    def conv1d() -> Tensor:
        w = weight.detach().requires_grad_()
        out = F.conv1d(ncw, w, bias, padding=1)
        torch.autograd.grad(out, w, grad_out)
        return out

    w4 = weight[:, :, None, :].contiguous(memory_format=torch.channels_last)
    nhwc = ncw[:, :, None, :]  # (B, F, 1, T) whose memory is (B, T, F): channels-last already
    g4 = grad_out[:, :, None, :].contiguous(memory_format=torch.channels_last)

    def conv2d_channels_last() -> Tensor:
        w = w4.detach().requires_grad_()
        out = F.conv2d(nhwc, w, bias, padding=(0, 1))
        torch.autograd.grad(out, w, g4)
        return out[:, :, 0]

    rows = []
    reference = None
    for deterministic, bench in ((True, False), (False, False), (False, True)):
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = deterministic, bench
        for name, fn in (
            ("conv1d (B, F, T)", conv1d),
            ("conv2d channels-last", conv2d_channels_last),
        ):
            ms = timed_per_step(fn, warmup=3, steps=20, repeat=3, device=device) * 1e3
            out = fn().detach()
            reference = out if reference is None else reference
            diff = float((out - reference).abs().max())
            rows.append([name, deterministic, bench, ms, 4 * b * t * f * 2048 * 3 / ms / 1e9, diff])
    _deterministic(device)
    print_table(
        ["embedding conv, fwd + weight grad", "deterministic", "benchmark", "ms", "TFLOP/s",
         "max |diff| vs first"],
        rows,
    )  # fmt: skip


# ----------------------------------------------------------------------------------- --full


def _official_loop(
    root: Path, device: torch.device, steps: int, warmup: int, workers: int
) -> float:
    """Seconds per step of the official-style loop over the real files (no test)."""
    from torch.utils.data import DataLoader

    from wtal_blocks.data import ThumosFeatures, pad_collate

    train_set = ThumosFeatures(root, "train", modal="all", num_segments=750, sampling="random")
    torch.manual_seed(0)
    net = OfficialStyleNet(train_set.feature_dim, train_set.num_classes).to(device).train()
    opt = _adam(net)
    loader = DataLoader(
        train_set, batch_size=16, shuffle=True, num_workers=workers, collate_fn=pad_collate,
        persistent_workers=workers > 0,
    )  # fmt: skip
    batches = iter(loader)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    start = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            sync()
            start = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:  # a new epoch, as the official loop re-creates its iterator
            batches = iter(loader)
            batch = next(batches)
        x, y = batch.features.to(device), batch.labels.to(device)
        loss, terms = official_loss(*net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        [v.item() for v in terms.values()]
    sync()
    return (time.perf_counter() - start) / steps


def _name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else ""


def full_run(args: argparse.Namespace) -> None:
    import importlib

    from wtal_blocks.data import write_official_layout
    from wtal_blocks.recipes import UMConfig, train

    train_module = importlib.import_module("wtal_blocks.recipes.training")

    device = torch.device(args.device)
    _deterministic(device)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data_dir) if args.data_dir else Path(tmp) / "thumos_synthetic"
        if not (root / "gt.json").is_file():
            start = time.perf_counter()
            write_official_layout(root, preset=args.preset)
            print(f"wrote the synthetic THUMOS'14 features in {time.perf_counter() - start:.1f} s")
        evaluation = [0.0, 0]
        real_evaluate = train_module.evaluate_model

        def timed_evaluate(*a: Any, **kw: Any) -> Any:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            result = real_evaluate(*a, **kw)
            evaluation[0] += time.perf_counter() - start
            evaluation[1] += 1
            return result

        train_module.evaluate_model = timed_evaluate  # type: ignore[assignment]
        config = UMConfig(
            data_root=str(root), dataset="thumos14", iterations=args.iterations,
            eval_every=args.eval_every, device=str(device), output_dir=str(Path(tmp) / "run"),
            num_workers=args.workers,
        )  # fmt: skip
        lines: list[str] = []
        start = time.perf_counter()
        result = train(
            config, progress=False, log=lines.append, fast_step=args.fast_step,
            device_data=args.device_data,
        )  # fmt: skip
        total = time.perf_counter() - start
        train_module.evaluate_model = real_evaluate  # type: ignore[assignment]
        print(next((line for line in lines if line.startswith("training step")), "eager step"))
        per_step = _official_loop(
            root, device, args.baseline_steps, min(20, args.baseline_steps), args.workers
        )
    baseline = per_step * args.iterations
    print(
        f"\n{args.iterations} iterations of UM, synthetic {args.preset!r} preset (batch 16 x 750),"
        f" evaluation every {args.eval_every}, on {device} {_name(device)}"
    )
    print_table(
        ["run", "seconds", "what it includes"],
        [
            [f"ours: wtal train (fast_step {args.fast_step})", total,
             f"everything: data to the device, {evaluation[1]} evaluations "
             f"({evaluation[0]:.1f} s), checkpoints, logs"],
            [f"official-style loop, extrapolated from {args.baseline_steps} steps", baseline,
             f"training steps only ({per_step * 1e3:.2f} ms each, {args.workers} loader "
             "workers), no test"],
        ],
    )  # fmt: skip
    print(
        f"ratio: {baseline / total:.2f}x; final average mAP {100 * result.final.average_mAP:.2f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--segments", type=int, default=750)
    parser.add_argument("--features", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--steps", type=int, default=0, help="steps per round (200 CUDA, 2 CPU)")
    parser.add_argument("--repeat", type=int, default=0, help="rounds (3 CUDA, 2 CPU)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--full", action="store_true", help="a whole training run (see above)")
    parser.add_argument("--profile", action="store_true", help="where the step's time goes")
    parser.add_argument("--data-dir", default="", help="--full: the synthetic data (kept)")
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--eval-every", type=int, default=1_000)
    parser.add_argument("--baseline-steps", type=int, default=300)
    parser.add_argument("--workers", type=int, default=8, help="--full: data-loader workers")
    parser.add_argument("--fast-step", default="auto", help="--full: the recipe's fast_step")
    parser.add_argument("--device-data", default="auto", help="--full: the recipe's device_data")
    parser.add_argument("--preset", default="thumos", help="--full: synthetic preset (demo: small)")
    args = parser.parse_args()
    if args.full:
        full_run(args)
    elif args.profile:
        where_the_time_goes(args)
    else:
        per_step(args)


if __name__ == "__main__":
    main()
