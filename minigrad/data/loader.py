"""DataLoader: mini-batches from a Dataset, shuffled reproducibly, epoch after epoch."""
import numpy as np

from minigrad.tensor import Tensor

from .dataset import get_batch


class DataLoader:
    """Iterate over ``dataset`` in batches of ``(x, y)`` Tensors, as PyTorch's DataLoader.

    A batch holds one Tensor per array of the data set -- (x, y), or (x, y, masks) -- each with
    the data set's dtype, as in PyTorch: uint8 images give uint8 batches, int32 labels int32
    (Python ints stack to int64, Python floats to float64, as torch's). Nothing is scaled
    unless asked for: minigrad's image pipelines start ``transform`` with ``ScaleUint8()``
    (uint8 -> float32 in [0, 1], see transforms.py). The Tensors need no gradient
    (`x.requires_grad = True` asks for one, e.g. for a saliency map); `x.numpy()` is the array.

    Shuffling is reproducible: the order (and the random numbers ``transform`` draws) of
    epoch k depend only on ``(seed, k)``. Each ``iter(loader)`` uses the current epoch and then
    advances it, so every epoch sees a new permutation; ``set_epoch(k)`` makes the next pass
    epoch k, which is how a resumed training run replays exactly the same batches.
    With ``seed=None`` a random seed is drawn once, kept in ``loader.seed``.

    transform: called as ``transform(x, rng)`` on every batch's first array, in the data set's
    dtype (see transforms.py); e.g. ``Compose([ScaleUint8(), Normalize(0.13, 0.31)])``. Doing
    this per batch keeps a uint8 data set four times smaller than a float32 copy of it.
    The arguments after shuffle are keyword-only: PyTorch's fourth is a sampler.

    PyTorch's other arguments, so that its code runs unchanged:
    - ``collate_fn(examples)`` turns the list of a batch's examples (``dataset[i]``) into the
      batch, which is then yielded as it is (no ``transform``).
    - ``num_workers``: minigrad loads in the main process, so with any number of workers the
      batches are those of ``num_workers=0`` (in PyTorch they are the same too).
      ``pin_memory``, ``timeout``, ``prefetch_factor``, ``persistent_workers``,
      ``multiprocessing_context``, ``pin_memory_device`` and ``in_order`` tune workers and GPU
      copies: accepted, with nothing to change. ``worker_init_fn`` is accepted only without
      workers (where PyTorch does not call it either).
    - ``sampler``, ``batch_sampler`` and ``generator`` are refused, with what to write instead.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, *, seed=None, drop_last=False,
                 transform=None, num_workers=0, collate_fn=None, pin_memory=False,
                 sampler=None, batch_sampler=None, generator=None, worker_init_fn=None,
                 timeout=0, prefetch_factor=None, persistent_workers=False,
                 multiprocessing_context=None, pin_memory_device="", in_order=True):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
        _check_torch_options(num_workers, timeout, sampler, batch_sampler, generator,
                             worker_init_fn)
        if collate_fn is not None and transform is not None:
            raise ValueError("DataLoader: give collate_fn or transform, not both: a collate_fn "
                             "makes the batch, and transform works on minigrad's own batches")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = np.random.SeedSequence().entropy if seed is None else seed
        self.drop_last = drop_last
        self.transform = transform
        self.collate_fn = collate_fn
        self.num_workers = num_workers
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
            indices = order[start:start + self.batch_size]
            if self.collate_fn is not None:
                yield self.collate_fn([self.dataset[int(i)] for i in indices])
                continue
            x, *rest = get_batch(self.dataset, indices)
            if self.transform is not None:
                x = self.transform(x, rng)
            yield (Tensor(x), *(Tensor(a) for a in rest))


def _check_torch_options(num_workers, timeout, sampler, batch_sampler, generator,
                         worker_init_fn):
    """PyTorch's DataLoader arguments: the ones minigrad cannot honour are refused, saying why."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) \
            or num_workers < 0:
        raise ValueError(f"DataLoader: num_workers must be an integer >= 0; got {num_workers!r}")
    if not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValueError(f"DataLoader: timeout must be a number >= 0; got {timeout!r}")
    if sampler is not None or batch_sampler is not None:
        raise ValueError("DataLoader: minigrad takes no sampler or batch_sampler; shuffle=True "
                         "(with seed=) gives a random order, and Subset(dataset, indices) or "
                         "random_split a part of the data set")
    if generator is not None:
        raise ValueError("DataLoader: minigrad takes no generator; its shuffling is "
                         "reproducible by seed= (epoch k's order depends on seed and k only)")
    if worker_init_fn is not None and num_workers > 0:
        raise ValueError("DataLoader: minigrad loads in the main process and starts no worker, "
                         "so it would never call worker_init_fn; call it yourself before the "
                         "loop if the data set needs what it sets up")
