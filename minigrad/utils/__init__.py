"""PyTorch's `torch.utils` paths: `minigrad.utils.data` is minigrad.data's loading API."""
from minigrad.utils import data

__all__ = ["data"]
