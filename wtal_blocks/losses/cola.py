"""CoLA training objectives (Zhang et al., CVPR 2021, Sec. 3.3-3.4), in the official code's form.

* :func:`info_nce`: the InfoNCE term of one (query, positive, negatives) triple per video;
* :func:`snico_loss`: the Snippet Contrast loss ``L_s = L_HA + L_HB`` on the hard and easy
  segments;
* :class:`CoLAObjective`: ``L_cls + λ L_s`` with the official λ = 0.01 (THUMOS'14) and the
  official BCE classification loss (:func:`~wtal_blocks.losses.um.video_classification_loss`).

The paper's equation numbers for these terms were not verified against its text, so the
docstrings name the terms instead. Where the code and the paper may differ: the official
classification loss is ``BCELoss(p, y / Σy)`` averaged over B × C (``form="official"``); the
paper writes a cross-entropy ``-Σ_c y_c log p_c`` (``form="paper"``, unverified).

The SniCo loss takes the selected segments as :class:`~wtal_blocks.snippets.SelectedSegments`
(time indices and validity), so it works on padded batches where ``k`` varies per video; on
the official fixed-length training batches every entry is valid and the loss is the
official one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_finite, check_rank, shape_str
from ..snippets import SelectedSegments, gather_segments, mean_at
from .common import LossForm, _check_form, check_nonempty_batch
from .um import video_classification_loss

__all__ = ["CoLAObjective", "cola_total_loss", "info_nce", "snico_loss"]


def info_nce(
    query: Tensor,
    positive: Tensor,
    negatives: Tensor,
    temperature: float = 0.07,
    negatives_valid: Tensor | None = None,
) -> Tensor:
    """InfoNCE, the contrastive term of the SniCo loss (the paper's NCE; equation number not
    verified): with ``q``, ``k⁺`` and every ``n_j`` L2-normalised over channels,

        ``ℓ = -log( exp(q·k⁺/τ) / (exp(q·k⁺/τ) + Σ_j exp(q·n_j/τ)) )``,

    i.e. the cross-entropy of the logits ``[q·k⁺, q·n_1, …, q·n_K] / τ`` with the positive at
    index 0, averaged over the batch (the official ``NCE``).

    Args:
        query: ``(B, D)`` one query per video.
        positive: ``(B, D)`` its positive key.
        negatives: ``(B, K, D)`` its negative keys.
        temperature: ``τ > 0`` (0.07).
        negatives_valid: optional ``(B, K)`` bool; False marks padding negatives, which are
            left out of the denominator (``k`` varying per video).

    Returns:
        Scalar, float dtype of the inputs. A zero vector normalises to zero
        (``F.normalize``'s ``eps``), so the loss stays finite.
    """
    check_rank("query", query, 2, "(B, D)")
    check_rank("positive", positive, 2, "(B, D)")
    check_rank("negatives", negatives, 3, "(B, K, D)")
    check_nonempty_batch("query", query)
    b, d = query.shape
    if tuple(positive.shape) != (b, d) or negatives.shape[0] != b or negatives.shape[2] != d:
        raise ValueError(
            "query (B, D), positive (B, D) and negatives (B, K, D) must agree on B and D, got "
            f"{shape_str(query)}, {shape_str(positive)} and {shape_str(negatives)}"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if negatives_valid is not None and tuple(negatives_valid.shape) != tuple(negatives.shape[:2]):
        raise ValueError(
            f"negatives_valid must have shape (B, K) = {tuple(negatives.shape[:2])}, "
            f"got {shape_str(negatives_valid)}"
        )
    for name, value in (("query", query), ("positive", positive), ("negatives", negatives)):
        check_finite(name, value)
    q = F.normalize(query, dim=1)
    k = F.normalize(positive, dim=1)
    n = F.normalize(negatives, dim=2)
    l_pos = torch.einsum("nc,nc->n", q, k)[:, None]
    l_neg = torch.einsum("nc,nkc->nk", q, n)
    if negatives_valid is not None:
        l_neg = l_neg.masked_fill(~negatives_valid, float("-inf"))
    logits = torch.cat([l_pos, l_neg], dim=1) / temperature
    labels = torch.zeros(b, dtype=torch.long, device=query.device)
    return F.cross_entropy(logits, labels)


def _mean_embedding(embeddings: Tensor, selected: SelectedSegments) -> Tensor:
    """``(B, D)`` mean embedding of each video's selected segments (the official
    ``torch.mean(x, 1)`` when every entry is valid)."""
    return mean_at(embeddings, selected)


def snico_loss(
    embeddings: Tensor,
    easy_action: SelectedSegments,
    easy_background: SelectedSegments,
    hard_action: SelectedSegments,
    hard_background: SelectedSegments,
    temperature: float = 0.07,
) -> dict[str, Tensor]:
    """The Snippet Contrast (SniCo) loss ``L_s = L_HA + L_HB`` (equation numbers not verified).

    * ``L_HA = NCE(mean HA, mean EA, {EB})``: the mean hard-action embedding is pulled towards
      the mean easy-action embedding and pushed from every easy-background embedding
      (hard action refinement);
    * ``L_HB = NCE(mean HB, mean EB, {EA})``: the symmetric hard background refinement.

    Args:
        embeddings: ``(B, T, D)`` segment embeddings (CoLA: taken before the classifier's
            dropout, so the loss's gradient reaches only the embedding layer).
        easy_action, easy_background: EA and EB (``k_easy`` segments each).
        hard_action, hard_background: HA and HB (``k_hard`` segments each).
        temperature: ``τ`` of :func:`info_nce` (0.07).

    Returns:
        ``{"loss_ha", "loss_hb", "loss_snico"}`` scalar tensors (with gradients).
    """
    check_rank("embeddings", embeddings, 3, "(B, T, D)")
    check_nonempty_batch("embeddings", embeddings)
    b = embeddings.shape[0]
    for name, sel in (
        ("easy_action", easy_action),
        ("easy_background", easy_background),
        ("hard_action", hard_action),
        ("hard_background", hard_background),
    ):
        if sel.index.dim() != 2 or sel.index.shape[0] != b or sel.index.shape[1] == 0:
            raise ValueError(
                f"{name} must select at least one segment of each of the B = {b} videos, "
                f"got index of shape {shape_str(sel.index)}"
            )
    ea = gather_segments(embeddings, easy_action.index)
    eb = gather_segments(embeddings, easy_background.index)
    loss_ha = info_nce(
        _mean_embedding(embeddings, hard_action),
        _mean_embedding(embeddings, easy_action),
        eb,
        temperature,
        easy_background.valid,
    )
    loss_hb = info_nce(
        _mean_embedding(embeddings, hard_background),
        _mean_embedding(embeddings, easy_background),
        ea,
        temperature,
        easy_action.valid,
    )
    return {"loss_ha": loss_ha, "loss_hb": loss_hb, "loss_snico": loss_ha + loss_hb}


def cola_total_loss(loss_cls: Tensor, loss_snico: Tensor, snico_weight: float = 0.01) -> Tensor:
    """CoLA's total objective ``L = L_cls + λ L_s`` (equation number not verified).

    Args:
        loss_cls: the video classification loss.
        loss_snico: ``L_s`` (:func:`snico_loss`).
        snico_weight: ``λ``; 0.01 in the official THUMOS'14 code (hard-coded there; its unused
            configuration entry ``LAMBDA`` is also 0.01). 0 gives the ``L_cls``-only baseline.
    """
    return loss_cls + snico_weight * loss_snico


class CoLAObjective(nn.Module):
    """CoLA's training objective: ``L_cls + λ (L_HA + L_HB)``.

    Args:
        snico_weight: ``λ`` (0.01).
        temperature: ``τ`` of the InfoNCE terms (0.07).
        form: ``"official"`` (BCE against ``y / Σy``, mean over B × C) or ``"paper"``
            classification loss (:func:`~wtal_blocks.losses.um.video_classification_loss`).

    ``forward(video_probs, labels, embeddings, easy_action, easy_background, hard_action,
    hard_background)`` with ``video_probs (B, C)``, ``labels (B, C)`` multi-hot,
    ``embeddings (B, T, D)`` and the four :class:`~wtal_blocks.snippets.SelectedSegments`
    returns ``(total, terms)``, ``terms = {"loss_cls", "loss_ha", "loss_hb", "loss_snico",
    "loss_total"}`` (detached, for logging). With ``snico_weight = 0`` the SniCo terms are
    still computed and logged, but add nothing to the total or its gradient.
    """

    def __init__(
        self, snico_weight: float = 0.01, temperature: float = 0.07, form: LossForm = "official"
    ) -> None:
        super().__init__()
        if not snico_weight >= 0:
            raise ValueError(f"snico_weight must be >= 0, got {snico_weight}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        _check_form(form)
        self.snico_weight = float(snico_weight)
        self.temperature = float(temperature)
        self.form: LossForm = form

    def forward(
        self,
        video_probs: Tensor,
        labels: Tensor,
        embeddings: Tensor,
        easy_action: SelectedSegments,
        easy_background: SelectedSegments,
        hard_action: SelectedSegments,
        hard_background: SelectedSegments,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        loss_cls = video_classification_loss(video_probs, labels, self.form)
        snico = snico_loss(
            embeddings, easy_action, easy_background, hard_action, hard_background, self.temperature
        )
        total = cola_total_loss(loss_cls, snico["loss_snico"], self.snico_weight)
        terms = {
            "loss_cls": loss_cls.detach(),
            "loss_ha": snico["loss_ha"].detach(),
            "loss_hb": snico["loss_hb"].detach(),
            "loss_snico": snico["loss_snico"].detach(),
            "loss_total": total.detach(),
        }
        return total, terms

    def extra_repr(self) -> str:
        return (
            f"snico_weight={self.snico_weight}, temperature={self.temperature}, form={self.form!r}"
        )
