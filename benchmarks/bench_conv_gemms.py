"""How much of conv2d's time is its GEMMs? For each AlexNet-lite conv layer (batch 64, stride 1):
the GEMMs alone in conv2d's own shapes, minigrad's whole forward+backward, and torch's.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=. python benchmarks/bench_conv_gemms.py

The GEMMs are those of `ops/conv.py`: forward W @ cols, dW^T = cols @ dY^T, and dx as W^T @ dY
(then col2im) or, where the layer narrows the channels, W' @ unfold(dY) (`dx_by_correlation`);
here on random matrices of those shapes, with OpenBLAS's own two threads. If the GEMMs alone
are already slower than the target, the limit is the GEMM's FLOP rate; if not, the time is in
the work around them (im2col, col2im, layout copies), which code can change.
"""
import time

import numpy as np

import minigrad as mg
from minigrad import functional as F
from minigrad.apps.bench import CONVS

try:
    import torch
except ImportError:
    torch = None


def best_ms(run, repeats=15):
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def gemms(N, C, OC, H, K):
    """The conv layer's three GEMMs on random matrices of conv2d's shapes (padding 'same')."""
    rng = np.random.default_rng(0)
    L, CKK, OCKK = N * H * H, C * K * K, OC * K * K
    w, cols, dy = (rng.standard_normal(shape).astype(np.float32)
                   for shape in ((OC, CKK), (CKK, L), (OC, L)))
    if OC < C:                                    # dx by correlation: (C, OC*K*K) @ (OC*K*K, L)
        dx_a, dx_b = (rng.standard_normal(s).astype(np.float32) for s in ((C, OCKK), (OCKK, L)))
    else:                                         # dcols = W^T @ dY: (C*K*K, OC) @ (OC, L)
        dx_a, dx_b = w.T, dy

    def run():
        w @ cols
        cols @ dy.T
        dx_a @ dx_b
    return run, 3 * 2 * OC * CKK * L


def minigrad_conv(N, C, OC, H, K, P):
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((N, C, H, H)).astype(np.float32), requires_grad=True)
    w = mg.tensor(rng.standard_normal((OC, C, K, K)).astype(np.float32), requires_grad=True)
    grad = np.ones((N, OC, H, H), np.float32)
    return lambda: F.conv2d(x, w, padding=P).backward(grad)


def torch_conv(N, C, OC, H, K, P):
    x = torch.randn(N, C, H, H, requires_grad=True)
    w = torch.randn(OC, C, K, K, requires_grad=True)
    grad = torch.ones(N, OC, H, H)

    def run():
        x.grad = w.grad = None
        torch.nn.functional.conv2d(x, w, padding=P).backward(grad)
    return run


def main():
    layers = [(name, *shape) for name, *shape in CONVS
              if name.startswith("AlexNet") and not name.endswith("conv1")]   # conv1: 3 channels
    mine = {}
    for name, N, C, OC, H, K, P in layers:
        run, flop = gemms(N, C, OC, H, K)
        mine[name] = best_ms(run), flop, best_ms(minigrad_conv(N, C, OC, H, K, P))
    # torch last: its OpenMP threads keep spinning after each call, which would slow what follows
    theirs = {name: best_ms(torch_conv(N, C, OC, H, K, P)) if torch else float("nan")
              for name, N, C, OC, H, K, P in layers}
    print(f"{'layer':<22}{'GEMMs ms':>10}{'GFLOP/s':>9}{'minigrad ms':>13}{'torch ms':>10}"
          f"{'GEMMs/torch':>13}{'minigrad/torch':>16}")
    for name, (g, flop, m) in mine.items():
        t = theirs[name]
        print(f"{name:<22}{g:>10.1f}{flop / g / 1e6:>9.0f}{m:>13.1f}{t:>10.1f}{g / t:>12.2f}x"
              f"{m / t:>15.2f}x")


if __name__ == "__main__":
    main()
