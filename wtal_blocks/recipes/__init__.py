"""The UM reference recipe: configuration, training, evaluation, multi-seed runs, CLI."""

from .config import UMConfig
from .engine import EvalReport, TrainResult, evaluate_checkpoint, evaluate_model, train_um

__all__ = [
    "EvalReport",
    "TrainResult",
    "UMConfig",
    "evaluate_checkpoint",
    "evaluate_model",
    "train_um",
]
