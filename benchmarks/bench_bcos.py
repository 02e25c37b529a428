"""A B-cos training step against the plain step of the same shape (forward + backward).

    PYTHONPATH=. python benchmarks/bench_bcos.py [--repeats 9] [--batch 64] [--threads 1]
                                                 [--only convs|models]

Pairs: Conv2d + ReLU against BcosConv2d of the same channels and kernel (max_out 1, the v2
design's, and max_out 2, the v1 paper's), also built the old way ("old": bcos_conv2d_simple,
the patch norms by a second convolution); LeNet-5 against bcos_lenet and cluttered_lenet
against bcos_cluttered_lenet, AlexNet-lite with BatchNorm against bcos_alexnet_lite (64x64
colour shapes' size), each B-cos net in the v2 design (no MaxOut, uncentred norms) and
the v1 (MaxOut 2, fixed scales). "before": as before the session that fused the B-cos Linear
layer (BcosDense) and the first convolution with the encoding (add_inverse): the Linear layers
built from primitives (bcos_linear_simple), the first convolution on [x, 1 - x] and the
uncentred norms composed of small ops (batch_norm_uncentered_simple); "old": that and the
convolutions built from primitives too (bcos_conv2d_simple); "composed norm": only the norms
as they were before they became one op.

Every repeat times all variants back to back (interleaved, each the median of a few steps),
and the ratio of a pair is taken within each repeat; the table gives the medians over the
repeats. On a shared machine only ratios from the same run mean much; `--threads 1`
(OpenBLAS and minigrad on one thread, as in bench_conv.py) moves least when other jobs share
the cores.
"""
import argparse
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager

if __name__ == "__main__" and "--threads" in sys.argv:      # must precede NumPy's import
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad import nn  # noqa: E402
from minigrad.models import AlexNetLite, LeNet5, bcos_alexnet_lite, bcos_lenet  # noqa: E402
from minigrad.nn import bcos as bcos_layers  # noqa: E402
from minigrad.ops import bcos as bcos_ops  # noqa: E402
from minigrad.ops import norm as norm_ops  # noqa: E402

# name, C_in, C_out, H (= W), kernel, padding
CONVS = [("LeNet conv1", 2, 6, 28, 5, 2), ("LeNet conv2", 6, 16, 14, 5, 0),
         ("cluttered conv2", 16, 32, 32, 5, 2), ("AlexNet-lite conv3", 192, 256, 7, 3, 1)]


COMPOSED_NORM = ("batch_norm_uncentered",)           # the state at 5a11a56
BEFORE = ("encoding", "bcos_linear") + COMPOSED_NORM  # the state at 9174b3b
OLD = BEFORE + ("bcos_conv2d",)                      # before the fused convolution
REFERENCES = {"bcos_linear": bcos_ops.bcos_linear_simple,
              "bcos_conv2d": bcos_ops.bcos_conv2d_simple,
              "batch_norm_uncentered": norm_ops.batch_norm_uncentered_simple}


def plain_encoding(self, x):
    """AddInverse without its note of x: the first convolution works on [x, 1 - x]."""
    return bcos_layers.concatenate([x, 1.0 - x], axis=1)


@contextmanager
def unfused(old):
    """The parts named in `old` as they were: "encoding" (plain_encoding), "bcos_linear"
    (from linear, sum, sqrt, amax and bcos_scale), "bcos_conv2d" (the patch norms by
    conv2d(x*x, ones)), "batch_norm_uncentered" (var, sqrt, divide, multiply); () as now."""
    ops = [name for name in old if name != "encoding"]
    fused = {name: getattr(bcos_layers, name) for name in ops}
    noting = bcos_layers.AddInverse.forward
    for name in ops:
        setattr(bcos_layers, name, REFERENCES[name])
    if "encoding" in old:
        bcos_layers.AddInverse.forward = plain_encoding
    try:
        yield
    finally:
        for name, op in fused.items():
            setattr(bcos_layers, name, op)
        bcos_layers.AddInverse.forward = noting


def step_time(model, x, labels, steps, old=()):
    """Median seconds of `steps` forward+backward passes: cross-entropy against `labels` for
    a network's logits, the plain sum for a layer's output (whose backward, a broadcast of
    ones, costs next to nothing beside the layer's)."""
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        with unfused(old):
            out = model(x)
        loss = mg.functional.cross_entropy(out, labels) if out.ndim == 2 else out.sum()
        model.zero_grad()
        loss.backward()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def conv_pairs(batch):
    """(name, {variant: (model, x, old)}) per conv shape, old as for `unfused`."""
    rng = np.random.default_rng(0)
    for name, c_in, c_out, size, k, pad in CONVS:
        x = mg.tensor(rng.random((batch, c_in, size, size), dtype=np.float32),
                      requires_grad=True)
        nn.manual_seed(0)
        variants = {"plain": (nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=pad), nn.ReLU()),
                              x, ())}
        for units in (1, 2):                     # M = 1 as in the v2 design: no fixed scale
            layer = bcos_layers.BcosConv2d(c_in, c_out, k, padding=pad, max_out=units,
                                           scale_fact=None if units == 1 else 100.0)
            variants[f"bcos M={units}"] = (layer, x, ())
            variants[f"bcos M={units} old"] = (layer, x, ("bcos_conv2d",))
        yield name, variants


def model_pairs(batch):
    from minigrad.apps.explain_benchmark import bcos_cluttered_lenet, cluttered_lenet
    rng = np.random.default_rng(0)
    digits = mg.tensor(rng.random((batch, 1, 28, 28), dtype=np.float32))
    encoded = mg.tensor(rng.random((batch, 2, 28, 28), dtype=np.float32))
    canvases = mg.tensor(rng.random((batch, 1, 64, 64), dtype=np.float32))
    nn.manual_seed(0)
    # "2ch": LeNet-5 with the two input channels of the B-cos net's [x, 1 - x] (the same shapes)
    v2, v1 = bcos_lenet(design="v2"), bcos_lenet()
    yield "LeNet-5 / bcos_lenet", {"plain": (LeNet5(), digits, ()),
                                   "plain 2ch": (LeNet5(in_channels=2), encoded, ()),
                                   "v2": (v2, digits, ()), "v2 before": (v2, digits, BEFORE),
                                   "v2 composed norm": (v2, digits, COMPOSED_NORM),
                                   "v1": (v1, digits, ()), "v1 before": (v1, digits, BEFORE),
                                   "v1 old": (v1, digits, OLD)}
    nn.manual_seed(0)
    colour = mg.tensor(rng.random((batch, 3, 64, 64), dtype=np.float32))
    v2 = bcos_alexnet_lite(image_size=64, temperature=1.0, design="v2")
    yield "AlexNet-lite-BN / bcos", {
        "plain": (AlexNetLite(batch_norm=True, image_size=64), colour, ()),
        "v2": (v2, colour, ()), "v2 before": (v2, colour, BEFORE),
        "v2 composed norm": (v2, colour, COMPOSED_NORM),
        "v1": (bcos_alexnet_lite(image_size=64), colour, ())}
    v2, v1 = bcos_cluttered_lenet(design="v2"), bcos_cluttered_lenet()
    yield "cluttered_lenet / bcos", {"plain": (cluttered_lenet(), canvases, ()),
                                     "v2": (v2, canvases, ()),
                                     "v2 before": (v2, canvases, BEFORE),
                                     "v2 composed norm": (v2, canvases, COMPOSED_NORM),
                                     "v1": (v1, canvases, ()), "v1 old": (v1, canvases, OLD)}


def measure(name, variants, repeats, steps, batch):
    labels = mg.tensor(np.zeros(batch, dtype=np.int64))
    for model, x, old in variants.values():          # warm up: Numba, the scratch pool
        step_time(model, x, labels, 2, old)
    times = {v: [] for v in variants}
    for _ in range(repeats):
        for variant, (model, x, old) in variants.items():
            times[variant].append(step_time(model, x, labels, steps, old))
    plain = np.array(times["plain"])
    row = f"{name:<24} plain {np.median(plain) * 1e3:7.2f} ms"
    for variant in list(variants)[1:]:
        ratios = np.array(times[variant]) / plain
        row += f" | {variant} {np.median(times[variant]) * 1e3:7.2f} ms {np.median(ratios):4.2f}x"
    print(row, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, help="OpenBLAS threads (read at import)")
    parser.add_argument("--only", choices=("convs", "models"), help="one table only")
    args = parser.parse_args()
    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True,
                         text=True).stdout.split(":")[-1].strip() or platform.processor()
    print(f"CPU {cpu}; load before: {subprocess.getoutput('uptime').split('load')[-1]}")
    print(f"threads {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, "
          f"batch {args.batch}, {args.repeats} interleaved repeats of {args.steps} steps; "
          f"ratio = B-cos step / plain step, median over the repeats")
    pairs = {"convs": conv_pairs, "models": model_pairs}
    for name, variants in (pair for kind, make in pairs.items() if args.only in (None, kind)
                           for pair in make(args.batch)):
        measure(name, variants, args.repeats, args.steps, args.batch)
    print(f"load after: {subprocess.getoutput('uptime').split('load')[-1]}")


if __name__ == "__main__":
    main()
