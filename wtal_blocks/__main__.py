"""``python -m wtal_blocks``: a short tour of the blocks on random features."""

from __future__ import annotations

import torch

from . import UMObjective, UncertaintyModelingNet, __version__


def main() -> None:
    torch.manual_seed(0)
    net = UncertaintyModelingNet(feature_dim=2048, num_classes=20)
    objective = UMObjective()
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-4, weight_decay=5e-4)
    features = torch.rand(4, 750, 2048)  # 4 videos, T = 750 segments, RGB+flow I3D size
    labels = torch.zeros(4, 20)
    labels[torch.arange(4), torch.tensor([0, 5, 7, 19])] = 1.0
    print(f"wtal_blocks {__version__}: one UM training step on random features")
    out = net(features)
    total, terms = objective(
        out.video_probs,
        out.background_probs,
        out.action_features,
        out.background_features,
        labels,
    )
    optimiser.zero_grad()
    total.backward()
    optimiser.step()
    print(
        f"  action_k={int(out.pseudo.action_k[0])} background_k={int(out.pseudo.background_k[0])}  CAS {tuple(out.cas.shape)}"
    )
    print("  " + "  ".join(f"{k}={float(v):.4f}" for k, v in terms.items()))


if __name__ == "__main__":
    main()
