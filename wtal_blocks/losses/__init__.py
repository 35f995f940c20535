"""Training objectives, each paper equation a named function with a module twin.

* :mod:`.um`: UM (AAAI 2021) Eqs. 5-8, in the official code's form or the paper's.
* :mod:`.common`: label normalisation and the shared checks.
"""

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
    "LossForm",
    "UMObjective",
    "UncertaintyModelingLoss",
    "VideoClassificationLoss",
    "background_entropy_loss",
    "normalize_labels",
    "um_total_loss",
    "uncertainty_modeling_loss",
    "video_classification_loss",
]
