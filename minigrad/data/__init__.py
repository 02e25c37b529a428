"""minigrad.data: data sets as NumPy arrays, and the loader that batches them.

    images, labels = mnist("train")                       # uint8 (N, 1, 28, 28), int64 (N,)
    loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True, seed=0,
                        transform=Compose([ScaleUint8(), RandomCrop(28, padding=2),
                                           Normalize(0.13, 0.31)]))
    for x, y in loader: ...                  # Tensors: float32 (64, 1, 28, 28), int64 (64,)

The data sets and transforms work on NumPy arrays only; the loader wraps each batch in a
`Tensor` (minigrad/tensor.py, which needs nothing but NumPy), as PyTorch's loader does. As
PyTorch's, it keeps the data set's dtypes: without ScaleUint8 (uint8 -> float32 in [0, 1], as
torchvision's ToTensor) the batches above would be uint8 (64, 1, 28, 28).
"""
from .cifar_data import CIFAR10_CLASSES, cifar10
from . import cluttered_data, shapes_data
from .cluttered_data import cluttered_mnist
from .dataset import (Dataset, DataVersionError, Subset, TensorDataset, check_data_version,
                      random_split)
from .loader import DataLoader
from .mnist_data import bundled_mnist, mnist
from .shapes_data import SHAPE_CLASSES, shapes
from .transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, ScaleUint8

# The generated data sets' versions: recorded with every model and table made on them.
DATA_VERSIONS = {"shapes": shapes_data.DATA_VERSION, "cluttered_mnist": cluttered_data.DATA_VERSION}

__all__ = [
    "Dataset", "TensorDataset", "DataLoader", "Subset", "random_split",
    "Compose", "ScaleUint8", "Normalize", "RandomCrop", "RandomHorizontalFlip",
    "mnist", "bundled_mnist", "cifar10", "CIFAR10_CLASSES", "shapes", "SHAPE_CLASSES",
    "cluttered_mnist", "DATA_VERSIONS", "DataVersionError", "check_data_version",
]
