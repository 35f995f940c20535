"""Test-time pipelines: from a model's outputs to scored detections, batched over videos.

* :mod:`.common`: min-max over time, the choice of classes to localise.
* :mod:`.um`, :mod:`.basnet`, :mod:`.cola`: each method's official test pipeline.
"""

from .basnet import BaSNetInferenceConfig, BaSNetPostProcessor
from .cola import CoLAInferenceConfig, CoLAPostProcessor
from .common import minmax_over_time, select_classes
from .um import UMInferenceConfig, UMPostProcessor

__all__ = [
    "BaSNetInferenceConfig",
    "BaSNetPostProcessor",
    "CoLAInferenceConfig",
    "CoLAPostProcessor",
    "UMInferenceConfig",
    "UMPostProcessor",
    "minmax_over_time",
    "select_classes",
]
