"""Training throughput: images/s of full training steps (forward, loss, backward, SGD step).

    python benchmarks/bench_train.py                 # LeNet-5 b64, b256, AlexNet-lite b64
    python benchmarks/bench_train.py --profile lenet5 --batch-size 64    # where the time goes

Each case builds the same architecture in minigrad and (when it imports) in PyTorch, with the
same weights, and times both on the same random batch. The two alternate, repeat after repeat,
so that noise from anything else running on the machine hits both alike; the best repeat of each
is reported (on a shared machine the best estimates the uncontended speed, the median mostly
measures the other jobs), with the ratio minigrad / torch.

Each timed repeat runs in its own fresh process (one engine per process), as a user's training
run would. Running torch steps in the same process made minigrad up to 1.7x faster: torch's
large frees raise glibc's dynamic mmap threshold, after which NumPy's big arrays come from the
heap instead of fresh, zero-filled pages (see minigrad/kernels/scratch.py). minigrad's process
therefore starts as `minigrad train` does, with `scratch.keep_freed_memory()` (malloc keeps
freed memory for the next step); `--malloc-defaults` adds a column without it, and
`--same-process` restores the old single-process measurement for comparison.

Threads are set by the environment, before NumPy and torch load: on a busy machine use
`OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1` (see benchmarks/README.md).
"""
import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import time
from collections import OrderedDict

import numpy as np

from minigrad import functional as F
from minigrad import nn, optim
from minigrad.models import get_model
from minigrad.tensor import Tensor

# (model, batch size, input shape of one image, training steps per timed repeat)
CASES = (("lenet5", 64, (1, 28, 28), 40), ("lenet5", 256, (1, 28, 28), 10),
         ("alexnet_lite", 64, (3, 32, 32), 3))


def minigrad_step(model, x, y):
    """One training step in minigrad; returns a function that runs it."""
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    inputs = Tensor(x)

    def step():
        loss = F.cross_entropy(model(inputs), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def torch_twin(module, torch):
    """The same network in PyTorch, layer by layer, with the same weights (same state-dict
    keys)."""
    tnn = torch.nn
    if isinstance(module, nn.Sequential) or type(module).__name__ in ("LeNet5", "AlexNetLite"):
        children = OrderedDict((name, torch_twin(child, torch))
                               for name, child in module.named_children())
        return tnn.Sequential(children)
    builders = {
        nn.Conv2d: lambda m: tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size,
                                        m.stride, m.padding, bias=m.bias is not None),
        nn.Linear: lambda m: tnn.Linear(m.in_features, m.out_features),
        nn.MaxPool2d: lambda m: tnn.MaxPool2d(m.kernel_size, m.stride, m.padding),
        nn.BatchNorm2d: lambda m: tnn.BatchNorm2d(m.num_features),
        nn.Dropout: lambda m: tnn.Dropout(m.p),
        nn.ReLU: lambda m: tnn.ReLU(),
        nn.Flatten: lambda m: tnn.Flatten(),
    }
    return builders[type(module)](module)


def torch_step(model, x, y, torch):
    twin = torch_twin(model, torch)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9)
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        loss = torch.nn.functional.cross_entropy(twin(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def images_per_second(step, batch_size, steps):
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return batch_size * steps / (time.perf_counter() - started)


def make_case(name, batch_size, image_shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch_size, *image_shape)).astype(np.float32)
    y = rng.integers(0, 10, batch_size)
    nn.manual_seed(0)
    return get_model(name, in_channels=image_shape[0]), x, y


def run_case(name, batch_size, image_shape, steps, repeats, torch):
    model, x, y = make_case(name, batch_size, image_shape)
    steps_by_engine = {"minigrad": minigrad_step(model, x, y)}
    if torch is not None:
        steps_by_engine["torch"] = torch_step(model, x, y, torch)
    for step in steps_by_engine.values():       # warm up: Numba compile, allocator, caches
        step()
    rates = {engine: [] for engine in steps_by_engine}
    for _ in range(repeats):                     # interleaved, so that noise hits both
        for engine, step in steps_by_engine.items():
            rates[engine].append(images_per_second(step, batch_size, steps))
    return {engine: max(values) for engine, values in rates.items()}


def run_isolated(name, batch_size, image_shape, steps, engine):
    """images/s of one timed repeat of one engine, in a fresh Python process.

    engine: 'torch', 'minigrad' (after `minigrad.kernels.scratch.keep_freed_memory()`, as
    `minigrad train` runs), or 'minigrad-malloc-defaults' (without it)."""
    command = [sys.executable, __file__, "--worker", json.dumps(
        [name, batch_size, list(image_shape), steps, engine])]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def worker(spec):
    """The child side of `run_isolated`: build the case, warm up, time `steps` steps."""
    name, batch_size, image_shape, steps, engine = json.loads(spec)
    if engine == "minigrad":
        from minigrad.kernels import scratch
        if not scratch.keep_freed_memory():
            raise SystemExit("keep_freed_memory() is not available here (no glibc mallopt)")
    model, x, y = make_case(name, batch_size, tuple(image_shape))
    if engine == "torch":
        import torch
        step = torch_step(model, x, y, torch)
    else:
        step = minigrad_step(model, x, y)
    for _ in range(2):                           # warm up: Numba cache, allocator, caches
        step()
    print(images_per_second(step, batch_size, steps))


def run_case_isolated(name, batch_size, image_shape, steps, repeats, engines):
    rates = {engine: [] for engine in engines}
    for _ in range(repeats):                     # interleaved, so that noise hits both
        for engine in engines:
            rates[engine].append(run_isolated(name, batch_size, image_shape, steps, engine))
    return {engine: max(values) for engine, values in rates.items()}


def profile(name, batch_size, steps=20, top=25):
    """cProfile of minigrad training steps, sorted by time spent inside each function."""
    from minigrad.kernels import scratch
    scratch.keep_freed_memory()                  # as `minigrad train` runs
    model, x, y = make_case(name, batch_size, (3, 32, 32) if name == "alexnet_lite"
                            else (1, 28, 28))
    step = minigrad_step(model, x, y)
    step()
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [step() for _ in range(steps)])
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--profile", choices=["lenet5", "alexnet_lite"],
                        help="profile this model instead of benchmarking")
    parser.add_argument("--batch-size", type=int, default=64, help="with --profile")
    parser.add_argument("--same-process", action="store_true",
                        help="time both engines in this one process (flatters minigrad, see above)")
    parser.add_argument("--malloc-defaults", action="store_true",
                        help="also time minigrad without scratch.keep_freed_memory() (isolated runs)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    if args.profile:
        profile(args.profile, args.batch_size)
        return
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("(torch not installed: minigrad only)")
    print(f"{'model':<14}{'batch':>6}{'minigrad img/s':>16}{'torch img/s':>13}{'ratio':>8}")
    engines = ["minigrad"] + (["minigrad-malloc-defaults"] if args.malloc_defaults else []) \
        + (["torch"] if torch is not None else [])
    for name, batch_size, image_shape, steps in CASES:
        if args.same_process:
            rates = run_case(name, batch_size, image_shape, steps, args.repeats, torch)
        else:
            rates = run_case_isolated(name, batch_size, image_shape, steps, args.repeats, engines)
        theirs = rates.get("torch")
        ratio = f"{rates['minigrad'] / theirs:.2f}x" if theirs else "-"
        line = (f"{name:<14}{batch_size:>6}{rates['minigrad']:>16,.0f}"
                f"{theirs or 0:>13,.0f}{ratio:>8}")
        if "minigrad-malloc-defaults" in rates:
            plain = rates["minigrad-malloc-defaults"]
            line += f"   malloc defaults: {plain:,.0f} img/s" + \
                (f" {plain / theirs:.2f}x" if theirs else "")
        print(line, flush=True)


if __name__ == "__main__":
    main()
