"""Reference models assembled from the blocks."""

from .um import UMOutput, UncertaintyModelingNet, load_official_checkpoint

__all__ = ["UMOutput", "UncertaintyModelingNet", "load_official_checkpoint"]
