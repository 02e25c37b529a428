"""Forward+backward time of conv2d, max_pool2d and batch_norm at the LeNet-5 and AlexNet-lite
shapes, for minigrad's NumPy twin, its Numba twin and (when installed) PyTorch CPU.

    PYTHONPATH=. python benchmarks/bench_conv.py [--repeats 7] [--only conv] [--no-torch]
                                                 [--threads 1]

Timings on a shared machine move 15-40% between runs, so every repeat runs all implementations
back to back (interleaved) and the table reports best-of-N times and ratios taken within one run.
The input requires grad (dx is computed) for every layer, in minigrad and in torch alike.
`--threads N` pins OpenBLAS (NumPy's GEMMs) and torch to N threads: with 1, timings hardly move
when other jobs share the machine, while 2 threads stall whenever one core is taken.
"""
import argparse
import os
import platform
import sys
import time

if __name__ == "__main__" and "--threads" in sys.argv:      # must precede NumPy's import
    _n = sys.argv[sys.argv.index("--threads") + 1]
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _n

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad import kernels  # noqa: E402
from minigrad.ops.conv import conv2d, conv_output_size  # noqa: E402
from minigrad.ops.norm import batch_norm  # noqa: E402
from minigrad.ops.pool import max_pool2d  # noqa: E402

try:
    import torch
except ImportError:                                        # pragma: no cover
    torch = None

# name, N, C_in, C_out, H(=W), kernel, padding
CONVS = [
    ("LeNet conv1", 64, 1, 6, 32, 5, 0),
    ("LeNet conv2", 64, 6, 16, 14, 5, 0),
    ("AlexNet-lite conv1", 64, 3, 64, 32, 5, 2),
    ("AlexNet-lite conv2", 64, 64, 192, 15, 5, 2),
    ("AlexNet-lite conv3", 64, 192, 256, 7, 3, 1),
    ("AlexNet-lite conv4", 64, 256, 256, 7, 3, 1),
    ("AlexNet-lite conv5", 64, 256, 128, 7, 3, 1),
]
# name, (N, C, H, W), kernel, stride
POOLS = [
    ("LeNet pool1 2/2", (64, 6, 28, 28), 2, 2),
    ("AlexNet-lite pool1 3/2", (64, 64, 32, 32), 3, 2),
    ("AlexNet-lite pool2 3/2", (64, 192, 15, 15), 3, 2),
]
NORMS = [
    ("BN LeNet conv1 out", (64, 6, 28, 28)),
    ("BN AlexNet-lite conv1 out", (64, 64, 32, 32)),
    ("BN AlexNet-lite conv3 out", (64, 256, 7, 7)),
]


# ----- one forward+backward per implementation ---------------------------------------------------
def minigrad_step(backend, make):
    def run(arrays):
        with kernels.use_backend(backend):
            tensors = [mg.Tensor(a, requires_grad=True) for a in arrays]
            y = make(*tensors)
            y.backward(np.ones(y.shape, dtype=y.dtype))
    return run


def torch_step(make):
    def run(arrays):
        tensors = [torch.from_numpy(a).requires_grad_(True) for a in arrays]
        y = make(*tensors)
        y.backward(torch.ones_like(y))
    return run


def time_all(impls, arrays, repeats):
    """Best-of-`repeats` ms per implementation, repeats interleaved; one warm-up call each.

    The minimum, not the median: on a machine shared with other jobs the median mostly measures
    the other jobs, while the minimum estimates the uncontended time (as `timeit` does).
    """
    for run in impls.values():
        run(arrays)
    times = {name: [] for name in impls}
    for _ in range(repeats):
        for name, run in impls.items():
            t0 = time.perf_counter()
            run(arrays)
            times[name].append(time.perf_counter() - t0)
    return {name: 1e3 * float(np.min(t)) for name, t in times.items()}


def implementations(mg_make, torch_make, use_torch):
    impls = {"numpy": minigrad_step("numpy", mg_make), "numba": minigrad_step("numba", mg_make)}
    if use_torch:
        impls["torch"] = torch_step(torch_make)
    return impls


def report(name, ms, gflop=None):
    cells = [f"{name:26s}"]
    for impl in ("numpy", "numba", "torch"):
        if impl in ms:
            rate = f" {gflop / (ms[impl] / 1e3):6.1f} GF/s" if gflop else ""
            cells.append(f"{impl} {ms[impl]:8.2f} ms{rate}")
    if "torch" in ms:
        cells.append(f"numba/torch {ms['numba'] / ms['torch']:5.2f}x")
    cells.append(f"numba/numpy {ms['numba'] / ms['numpy']:5.2f}x")
    print(" | ".join(cells), flush=True)


def bench_conv(repeats, use_torch, rng):
    print("\nconv2d forward+backward (float32; dx, dW and db)")
    for name, N, C, OC, H, K, P in CONVS:
        OH = conv_output_size(H, K, 1, P)
        gflop = 3 * 2 * N * OC * OH * OH * C * K * K / 1e9     # fwd + dW + dx GEMMs
        x = rng.standard_normal((N, C, H, H)).astype(np.float32)
        w = (rng.standard_normal((OC, C, K, K)) / np.sqrt(C * K * K)).astype(np.float32)
        b = rng.standard_normal(OC).astype(np.float32)
        impls = implementations(lambda x, w, b: conv2d(x, w, b, padding=P),
                                lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=P),
                                use_torch)
        report(name, time_all(impls, (x, w, b), repeats), gflop)


def bench_pool(repeats, use_torch, rng):
    print("\nmax_pool2d forward+backward (float32)")
    for name, shape, k, s in POOLS:
        x = rng.standard_normal(shape).astype(np.float32)
        impls = implementations(lambda x: max_pool2d(x, k, s),
                                lambda x: torch.nn.functional.max_pool2d(x, k, s), use_torch)
        report(name, time_all(impls, (x,), repeats))


def bench_norm(repeats, use_torch, rng):
    print("\nbatch_norm forward+backward, training (float32)")
    for name, shape in NORMS:
        C = shape[1]
        x = rng.standard_normal(shape).astype(np.float32)
        w, b = np.ones(C, np.float32), np.zeros(C, np.float32)
        rm, rv = np.zeros(C, np.float32), np.ones(C, np.float32)
        trm, trv = torch.zeros(C) if use_torch else None, torch.ones(C) if use_torch else None
        impls = implementations(
            lambda x, w, b: batch_norm(x, rm, rv, w, b, training=True),
            lambda x, w, b: torch.nn.functional.batch_norm(x, trm, trv, w, b, training=True),
            use_torch)
        report(name, time_all(impls, (x, w, b), repeats))


def bench_lenet_step(repeats, use_torch, rng):
    """One LeNet-5 training step (forward, loss, backward) built from functional ops."""
    from minigrad import functional as F
    print("\nLeNet-5 forward+backward, batch 64 (conv-relu-pool x2, fc 400-120-84-10)")
    shapes = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (400, 120), (120,), (120, 84), (84,),
              (84, 10), (10,)]
    params = [(rng.standard_normal(s) * 0.1).astype(np.float32) for s in shapes]
    x = rng.standard_normal((64, 1, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, 64)

    def mg_net(x, c1, b1, c2, b2, f1, g1, f2, g2, f3, g3):
        h = max_pool2d(F.relu(conv2d(x, c1, b1)), 2)
        h = max_pool2d(F.relu(conv2d(h, c2, b2)), 2)
        h = F.relu(F.reshape(h, (64, 400)) @ f1 + g1)
        h = F.relu(h @ f2 + g2)
        return F.cross_entropy(h @ f3 + g3, labels)

    def torch_net(x, c1, b1, c2, b2, f1, g1, f2, g2, f3, g3):
        TF = torch.nn.functional
        h = TF.max_pool2d(TF.relu(TF.conv2d(x, c1, b1)), 2)
        h = TF.max_pool2d(TF.relu(TF.conv2d(h, c2, b2)), 2)
        h = TF.relu(h.reshape(64, 400) @ f1 + g1)
        h = TF.relu(h @ f2 + g2)
        return TF.cross_entropy(h @ f3 + g3, torch.from_numpy(labels))

    report("LeNet-5 step", time_all(implementations(mg_net, torch_net, use_torch),
                                    (x, *params), repeats))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", choices=["conv", "pool", "norm", "lenet"], action="append")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--threads", type=int, help="OpenBLAS and torch threads (default: all)")
    args = parser.parse_args()
    use_torch = torch is not None and not args.no_torch
    if use_torch and args.threads:
        torch.set_num_threads(args.threads)
    from minigrad.kernels import parallel
    from minigrad.kernels._numba import numba
    print(f"numpy {np.__version__}, numba {numba.__version__ if numba else '-'} "
          f"({parallel.get_num_threads()} parts per batch), torch "
          f"{torch.__version__ + f' ({torch.get_num_threads()} threads)' if use_torch else '-'}, "
          f"{platform.processor() or platform.machine()}")
    rng = np.random.default_rng(0)
    benches = {"conv": bench_conv, "pool": bench_pool, "norm": bench_norm,
               "lenet": bench_lenet_step}
    for name in args.only or benches:
        benches[name](args.repeats, use_torch, rng)


if __name__ == "__main__":
    main()
