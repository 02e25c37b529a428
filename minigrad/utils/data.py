"""`minigrad.utils.data`, PyTorch's path (`torch.utils.data`) to the loading API of minigrad.data:
the same classes under a second name, so that

    from minigrad.utils.data import DataLoader, TensorDataset

runs as PyTorch code does. Their code and docs are in minigrad/data/dataset.py and loader.py.
"""
from minigrad.data import DataLoader, Dataset, Subset, TensorDataset, random_split

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader"]
