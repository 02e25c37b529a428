"""DataLoader: mini-batches from a Dataset, shuffled reproducibly, epoch after epoch."""
import numpy as np

from minigrad.tensor import Tensor


class DataLoader:
    """Iterate over ``dataset`` in batches of ``(x, y)`` Tensors, as PyTorch's DataLoader.

    x: float32 (B, C, H, W) -- uint8 images are scaled to [0, 1] here, per batch, so a uint8
    data set stays four times smaller in memory; y: int64 (B,). Further arrays of the data
    set (e.g. masks) follow y unchanged, integer ones as int64. The Tensors need no gradient
    (`x.requires_grad = True` asks for one, e.g. for a saliency map); `x.numpy()` is the array.

    Shuffling is reproducible: the order (and the random numbers ``transform`` draws) of
    epoch k depend only on ``(seed, k)``. Each ``iter(loader)`` uses the current epoch and then
    advances it, so every epoch sees a new permutation; ``set_epoch(k)`` makes the next pass
    epoch k, which is how a resumed training run replays exactly the same batches.
    With ``seed=None`` a random seed is drawn once, kept in ``loader.seed``.

    transform: called as ``transform(x, rng)`` on every float32 batch array (see transforms.py).
    The arguments after shuffle are keyword-only: PyTorch's fourth is a sampler.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, *, seed=None, drop_last=False,
                 transform=None):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = np.random.SeedSequence().entropy if seed is None else seed
        self.drop_last = drop_last
        self.transform = transform
        self.epoch = 0

    def __len__(self):
        """Number of batches per epoch."""
        full, rest = divmod(len(self.dataset), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def set_epoch(self, epoch):
        """Make the next pass over the loader epoch ``epoch`` (0-based)."""
        self.epoch = int(epoch)

    def __iter__(self):
        # Decide the epoch's order now, not lazily at the first next(), so that the epoch
        # counter advances exactly once per iter() call.
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        n = len(self.dataset)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        return self._batches(order, rng)

    def _batches(self, order, rng):
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            x, *rest = self.dataset.get_batch(order[start:start + self.batch_size])
            x = to_float32(x)
            if self.transform is not None:
                x = self.transform(x, rng)
            yield (Tensor(x), *(Tensor(_as_int64_if_integer(a)) for a in rest))


def to_float32(x):
    """uint8 images -> float32 in [0, 1]; other arrays -> float32 as they are."""
    if x.dtype == np.uint8:
        out = x.astype(np.float32)
        out /= 255.0
        return out
    return x.astype(np.float32, copy=False)


def _as_int64_if_integer(a):
    return a.astype(np.int64, copy=False) if np.issubdtype(a.dtype, np.integer) else a
