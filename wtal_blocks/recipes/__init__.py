"""The recipe: configurations, training, evaluation, multi-seed runs and ablations of every
registered method (UM, BaS-Net, CoLA), written once against :class:`~.methods.Method`.

* :mod:`.config`: :class:`RecipeConfig`, the settings every method shares.
* :mod:`.methods`: the method registry, and each method's configuration and builders.
* :mod:`.build`, :mod:`.batches`, :mod:`.distributed`: datasets and device, batch order,
  data parallelism.
* :mod:`.train`, :mod:`.evaluate`, :mod:`.rundir`: the loop, the test, the output folder.
* :mod:`.seeds`, :mod:`.demo`, :mod:`.inspect`: mean ± std over seeds and ablations, the
  demo, and what the plots show.
"""

from .config import RecipeConfig, config_from_dict
from .evaluate import EvalReport, evaluate_checkpoint, evaluate_model
from .methods import Method, available_methods, get_method, method_of, register_method
from .methods.basnet import BaSNetConfig
from .methods.cola import CoLAConfig
from .methods.um import UMConfig
from .train import TrainResult, train

__all__ = [
    "BaSNetConfig",
    "CoLAConfig",
    "EvalReport",
    "Method",
    "RecipeConfig",
    "TrainResult",
    "UMConfig",
    "available_methods",
    "config_from_dict",
    "evaluate_checkpoint",
    "evaluate_model",
    "get_method",
    "method_of",
    "register_method",
    "train",
]
