"""Matrix products (GEMMs) for the MatMul op, with NumPy's rules for 1-D operands and batches.

    matmul_numpy(a, b)   a @ b: the specification
    matmul_numba(a, b)   the same product, a big one in parts on minigrad's threads

The fast twin is the "numba" switch's, though it has no compiled loop of its own: it splits a
big product into independent parts (the rows of a 2-D product, or the first batch axis of a
stack of products that share it), computes them at once on minigrad's threads
(kernels/parallel.py), and holds OpenBLAS at one thread meanwhile, so that each part runs on a
core of its own. Each part is a[part] @ b, so the parts need no sum afterwards.
"""
import math

import numpy as np

from minigrad.kernels import parallel

# Smaller products run whole: handing out the parts costs more than it saves (the measurement:
# benchmarks/README.md, tiny_vit under "the #14 tables after the fix").
MIN_SPLIT_MACS = 2 ** 24


def matmul_numpy(a, b):
    """a @ b. Readable twin."""
    return a @ b


def matmul_numba(a, b):
    """a @ b, in parts on minigrad's threads when it is big. Fast twin."""
    with parallel.blas_held():
        stacked = a.ndim == b.ndim >= 3 and a.shape[0] == b.shape[0]
        if not (stacked or a.ndim == b.ndim == 2):
            return a @ b
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) if stacked else ()
        shape = batch + (a.shape[-2], b.shape[-1])
        if math.prod(shape) * a.shape[-1] < MIN_SPLIT_MACS:
            return a @ b
        out = np.empty(shape, dtype=np.result_type(a, b))

        def work(part):
            np.matmul(a[part], b[part] if stacked else b, out=out[part])
        parallel.map(work, parallel.split(a.shape[0], out.size))
        return out
