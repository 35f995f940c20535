"""Training-iteration time: our UM blocks vs a plain official-style re-implementation.

The baseline follows the official code's structure (written by us from
docs/official-code.md): ``nn.Conv1d`` embedding, full ``sort`` for every
top-k (CAS pooling and both pseudo selections), dropout from the global generator, the BCE
losses. Ours is :class:`wtal_blocks.UncertaintyModelingNet` + :class:`wtal_blocks.UMObjective`
as the recipe runs them (value checks off inside the step, explicit dropout noise). Same
shapes, same optimiser (Adam, lr 1e-4, weight decay 5e-4), timed in one run.

    python benchmarks/bench_train.py [--batch 16 --segments 750 --features 2048 --steps 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from _timing import best_of, print_table

from wtal_blocks import UMObjective, UncertaintyModelingNet
from wtal_blocks._validation import set_validation
from wtal_blocks.models.um import DropoutMultipliers


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

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
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
    score_act, score_bkg, feat_act, feat_bkg, label, alpha=5e-4, beta=1.0, margin=100.0
):  # type: ignore[no-untyped-def]
    label = label / label.sum(1, keepdim=True)
    loss_cls = nn.functional.binary_cross_entropy(score_act, label)
    loss_be = nn.functional.binary_cross_entropy(
        score_bkg, torch.full_like(label, 1 / label.shape[1])
    )
    loss_act = margin - feat_act.mean(1).norm(p=2, dim=1)
    loss_act = torch.where(loss_act < 0, torch.zeros_like(loss_act), loss_act)
    loss_um = ((loss_act + feat_bkg.mean(1).norm(p=2, dim=1)) ** 2).mean()
    return loss_cls + alpha * loss_um + beta * loss_be


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--segments", type=int, default=750)
    parser.add_argument("--features", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--steps", type=int, default=3, help="timed repetitions (best is kept)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    torch.manual_seed(0)
    x = torch.rand(args.batch, args.segments, args.features, device=device)
    y = torch.zeros(args.batch, args.classes, device=device)
    y[torch.arange(args.batch), torch.randint(0, args.classes, (args.batch,))] = 1

    base = OfficialStyleNet(args.features, args.classes).to(device).train()
    opt_b = torch.optim.Adam(base.parameters(), lr=1e-4, weight_decay=5e-4)

    def baseline_step() -> None:
        loss = official_loss(*base(x), y)
        opt_b.zero_grad()
        loss.backward()
        opt_b.step()

    ours = UncertaintyModelingNet(args.features, args.classes).to(device).train()
    objective = UMObjective()
    opt_o = torch.optim.Adam(ours.parameters(), lr=1e-4, weight_decay=5e-4)
    gen = torch.Generator(device=device).manual_seed(0)

    def ours_step() -> None:
        noise = DropoutMultipliers.sample(args.batch, args.segments, 2048, 0.7, gen, device=device)
        with set_validation(False):
            out = ours(x, noise=noise)
            loss, _ = objective(
                out.video_probs,
                out.background_probs,
                out.action_features,
                out.background_features,
                y,
            )
        opt_o.zero_grad()
        loss.backward()
        opt_o.step()

    t_base = best_of(baseline_step, repeat=args.steps, sync=sync)
    t_ours = best_of(ours_step, repeat=args.steps, sync=sync)
    print(
        f"device {device}, batch {args.batch} x {args.segments} x {args.features}, torch threads {torch.get_num_threads()}"
    )
    print_table(
        ["method", "s / iteration", "speed-up"],
        [
            ["official-style (conv1d, full sorts)", t_base, 1.0],
            ["wtal_blocks", t_ours, t_base / t_ours],
        ],
    )


if __name__ == "__main__":
    main()
