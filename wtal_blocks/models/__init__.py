"""Reference models assembled from the blocks."""

from .um import DropoutMultipliers, UMOutput, UncertaintyModelingNet, load_official_checkpoint

__all__ = ["DropoutMultipliers", "UMOutput", "UncertaintyModelingNet", "load_official_checkpoint"]
