"""Training objectives, each paper equation a named function with a module twin.

* :mod:`.um`: UM (AAAI 2021) Eqs. 5-8, in the official code's form or the paper's.
* :mod:`.cola`: CoLA (CVPR 2021): InfoNCE, the SniCo loss and ``L_cls + λ L_s``.
* :mod:`.common`: label normalisation and the shared checks.
"""

from .cola import CoLAObjective, cola_total_loss, info_nce, snico_loss
from .common import LossForm, normalize_labels
from .um import (
    BackgroundEntropyLoss,
    UMObjective,
    UncertaintyModelingLoss,
    VideoClassificationLoss,
    background_entropy_loss,
    um_total_loss,
    uncertainty_modeling_loss,
    video_classification_loss,
)

__all__ = [
    "BackgroundEntropyLoss",
    "CoLAObjective",
    "LossForm",
    "UMObjective",
    "UncertaintyModelingLoss",
    "VideoClassificationLoss",
    "background_entropy_loss",
    "cola_total_loss",
    "info_nce",
    "normalize_labels",
    "snico_loss",
    "um_total_loss",
    "uncertainty_modeling_loss",
    "video_classification_loss",
]
