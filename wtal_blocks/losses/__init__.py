"""Training objectives, each paper equation a named function with a module twin.

* :mod:`.um`: UM (AAAI 2021) Eqs. 5-8, in the official code's form or the paper's.
* :mod:`.basnet`: BaS-Net (AAAI 2020): the two branch losses and the attention norm.
* :mod:`.cola`: CoLA (CVPR 2021): InfoNCE, the SniCo loss and ``L_cls + λ L_s``.
* :mod:`.common`: label normalisation and the shared checks.
"""

from .basnet import (
    AttentionNormLoss,
    BaSNetObjective,
    BranchClassificationLoss,
    attention_norm_loss,
    background_class_targets,
    basnet_total_loss,
    branch_classification_loss,
)
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
    "AttentionNormLoss",
    "BaSNetObjective",
    "BackgroundEntropyLoss",
    "BranchClassificationLoss",
    "CoLAObjective",
    "LossForm",
    "UMObjective",
    "UncertaintyModelingLoss",
    "VideoClassificationLoss",
    "attention_norm_loss",
    "background_class_targets",
    "background_entropy_loss",
    "basnet_total_loss",
    "branch_classification_loss",
    "cola_total_loss",
    "info_nce",
    "normalize_labels",
    "snico_loss",
    "um_total_loss",
    "uncertainty_modeling_loss",
    "video_classification_loss",
]
