"""Reference models assembled from the blocks; each loads its official checkpoint."""

from .basnet import BaSNet, BaSNetOutput, load_basnet_checkpoint
from .checkpoint import CheckpointError, build_with_weights, check_state_dict, load_weights
from .cola import CoLA, CoLAOutput, load_cola_checkpoint
from .dropout import DropoutMultipliers
from .um import UMOutput, UncertaintyModelingNet, load_official_checkpoint

__all__ = [
    "BaSNet",
    "BaSNetOutput",
    "CheckpointError",
    "CoLA",
    "CoLAOutput",
    "DropoutMultipliers",
    "UMOutput",
    "UncertaintyModelingNet",
    "build_with_weights",
    "check_state_dict",
    "load_basnet_checkpoint",
    "load_cola_checkpoint",
    "load_official_checkpoint",
    "load_weights",
]
