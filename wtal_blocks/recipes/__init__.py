"""The recipe: configurations, training, evaluation, multi-seed runs and ablations of every
registered method (UM, BaS-Net, CoLA), written once against :class:`~.methods.Method`.

* :mod:`.config`: :class:`RecipeConfig`, the settings every method shares.
* :mod:`.methods`: the method registry, and each method's configuration and builders.
* :mod:`.build`, :mod:`.batches`, :mod:`.distributed`: datasets and device, batch order,
  data parallelism.
* :mod:`.training`, :mod:`.evaluate`, :mod:`.rundir`: the loop, the test, the output folder.
* :mod:`.seeds`, :mod:`.demo`, :mod:`.inspect`: mean ± std over seeds and ablations, the
  demo, and what the plots show.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# imported on first use: ``wtal evaluate --method um`` never loads the training loop or the
# other methods
_EXPORTS = {
    "RecipeConfig": ".config",
    "config_from_dict": ".methods",
    "EvalReport": ".evaluate",
    "evaluate_checkpoint": ".evaluate",
    "evaluate_model": ".evaluate",
    "Method": ".methods",
    "available_methods": ".methods",
    "get_method": ".methods",
    "method_of": ".methods",
    "register_method": ".methods",
    "BaSNetConfig": ".methods.basnet",
    "CoLAConfig": ".methods.cola",
    "UMConfig": ".methods.um",
    "TrainResult": ".training",
    "train": ".training",
}

if TYPE_CHECKING:
    from .config import RecipeConfig
    from .evaluate import EvalReport, evaluate_checkpoint, evaluate_model
    from .methods import (
        Method,
        available_methods,
        config_from_dict,
        get_method,
        method_of,
        register_method,
    )
    from .methods.basnet import BaSNetConfig
    from .methods.cola import CoLAConfig
    from .methods.um import UMConfig
    from .training import TrainResult, train


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


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
