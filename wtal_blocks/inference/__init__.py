"""Test-time pipelines: from a model's outputs to scored detections, batched over videos.

* :mod:`.common`: min-max over time, the choice of classes to localise.
* :mod:`.um`: UM's official test pipeline (:class:`UMPostProcessor`).
"""

from .common import minmax_over_time, select_classes
from .um import UMInferenceConfig, UMPostProcessor

__all__ = ["UMInferenceConfig", "UMPostProcessor", "minmax_over_time", "select_classes"]
