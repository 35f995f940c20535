"""Reference models assembled from the blocks; each loads its official checkpoint."""

from .checkpoint import CheckpointError, check_state_dict, load_weights
from .dropout import DropoutMultipliers
from .um import UMOutput, UncertaintyModelingNet, load_official_checkpoint

__all__ = [
    "CheckpointError",
    "DropoutMultipliers",
    "UMOutput",
    "UncertaintyModelingNet",
    "check_state_dict",
    "load_official_checkpoint",
    "load_weights",
]
