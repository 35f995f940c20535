"""Reference models assembled from the blocks."""

from .um import DropoutNoise, UMOutput, UncertaintyModelingNet, load_official_checkpoint

__all__ = ["DropoutNoise", "UMOutput", "UncertaintyModelingNet", "load_official_checkpoint"]
