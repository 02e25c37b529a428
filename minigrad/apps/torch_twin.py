"""The PyTorch side of `minigrad bench` and benchmarks/bench_train.py: the same network with
the same weights on the same batch, in a process that imports only NumPy and torch (so that its
peak memory is PyTorch's own, not PyTorch's plus minigrad's and Numba's). torch's process runs
it by path, which imports no minigrad; minigrad's and the peers' processes reuse its timing
helpers (`rate_of`, `best_ms`), so that every engine is timed alike:

    python minigrad/apps/torch_twin.py jobs JOBS             # the jobs of `minigrad bench`
    python minigrad/apps/torch_twin.py train DATA.npz CONFIG # `minigrad train`'s job, in torch

JOBS is a JSON list of ["step", CASE.npz, steps] (img/s of training steps; CASE.npz is written
by `minigrad.apps.bench.write_case`: the minigrad model's layer list, its state dict and the
batch) and ["conv", N, C, OC, H, K, P, repeats] (best ms of conv2d forward+backward). Each run
prints one JSON line: the results in order and the process's peak RSS.
"""
import json
import resource
import sys
import time
from collections import OrderedDict

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

torch = None                  # imported by main(): `peak_rss_mb` is importable without torch


def peak_rss_mb():
    """This process's own peak resident memory in MB (VmHWM: not the parent's, which a forked
    child's ru_maxrss would include)."""
    try:
        with open("/proc/self/status") as status:
            return int(status.read().split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(layers):
    """A torch.nn.Sequential tree from bench_train.describe()'s layer list [(path, kind, args)],
    so that the state-dict keys are minigrad's."""
    tnn = torch.nn
    makers = {"Conv2d": lambda a: tnn.Conv2d(*a[:5], bias=a[5]), "Linear": lambda a: tnn.Linear(*a),
              "MaxPool2d": lambda a: tnn.MaxPool2d(*a), "AvgPool2d": lambda a: tnn.AvgPool2d(*a),
              "BatchNorm2d": lambda a: tnn.BatchNorm2d(*a), "Dropout": lambda a: tnn.Dropout(*a),
              "ReLU": lambda a: tnn.ReLU(), "Tanh": lambda a: tnn.Tanh(),
              "Sigmoid": lambda a: tnn.Sigmoid(), "Flatten": lambda a: tnn.Flatten()}
    tree = OrderedDict()
    for path, kind, args in layers:
        *parents, name = path.split(".")
        node = tree
        for parent in parents:
            node = node.setdefault(parent, OrderedDict())
        node[name] = makers[kind](args)

    def sequential(node):
        return tnn.Sequential(OrderedDict(
            (name, sequential(child) if isinstance(child, OrderedDict) else child)
            for name, child in node.items()))
    return sequential(tree)


def training_step(net, x, y):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        loss = torch.nn.functional.cross_entropy(net(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def load_case(path):
    case = np.load(path, allow_pickle=False)
    net = build(json.loads(str(case["layers"])))
    state = {key[len("state."):]: torch.from_numpy(case[key]) for key in case.files
             if key.startswith("state.")}
    net.load_state_dict(state)
    return net, case["x"], case["y"]


def rate_of(step, batch_size, steps):
    """img/s of `steps` calls of `step` after two warm-up calls: how every engine's training
    step is timed (minigrad's and the peers' processes use it too)."""
    for _ in range(2):                           # warm up: caches, allocator, Numba's cache
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return batch_size * steps / (time.perf_counter() - started)


def best_ms(run, repeats):
    """Best ms of `repeats` calls of `run` after one warm-up call."""
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return 1e3 * min(times[1:])


def conv_arrays(N, C, OC, H, K):
    """float32 x (N, C, H, H), weight (OC, C, K, K) and bias (OC,), the same in every engine."""
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape).astype(np.float32)
            for shape in ((N, C, H, H), (OC, C, K, K), (OC,))]


def time_steps(path, steps):
    """img/s of `steps` training steps of the case in `path`."""
    net, x, y = load_case(path)
    return rate_of(training_step(net, x, y), len(x), steps)


def train(data_path, config):
    """LeNet-5 on the bundled MNIST as `minigrad train` trains it: SGD with Nesterov momentum
    and weight decay, one-cycle schedule, random shifts, evaluation on the test split after
    every epoch. Prints the test accuracy."""
    started = time.perf_counter()
    config = json.loads(config)
    torch.manual_seed(config["seed"])
    data = np.load(data_path, allow_pickle=False)
    net = build(config["layers"])
    mean, std = config["mean"], config["std"]
    optimizer = torch.optim.SGD(net.parameters(), lr=config["lr"], momentum=0.9, nesterov=True,
                                weight_decay=config["weight_decay"])
    batches = -(-len(data["train_y"]) // config["batch_size"])
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, config["lr"], epochs=config["epochs"],
                                                    steps_per_epoch=batches, pct_start=0.15)
    rng = np.random.default_rng(config["seed"])
    test_x = (torch.from_numpy(data["test_x"]).float() / 255 - mean) / std
    test_y = torch.from_numpy(data["test_y"])
    shift = config["shift"]
    for _ in range(config["epochs"]):
        net.train()
        order = rng.permutation(len(data["train_y"]))
        for i in range(batches):
            index = order[i * config["batch_size"]:(i + 1) * config["batch_size"]]
            padded = np.pad(data["train_x"][index], ((0, 0), (0, 0), (shift,) * 2, (shift,) * 2))
            top, left = rng.integers(0, 2 * shift + 1, size=(2, len(index)))   # per image
            windows = sliding_window_view(padded, (28, 28), axis=(2, 3))
            images = windows[np.arange(len(index)), :, top, left]
            inputs = (torch.from_numpy(np.ascontiguousarray(images)).float() / 255 - mean) / std
            loss = torch.nn.functional.cross_entropy(net(inputs), torch.from_numpy(data["train_y"][index]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        net.eval()
        with torch.no_grad():
            accuracy = (net(test_x).argmax(1) == test_y).float().mean().item()
    print(json.dumps({"accuracy": accuracy, "seconds": time.perf_counter() - started,
                      "peak_mb": peak_rss_mb()}))


def time_conv(N, C, OC, H, K, P, repeats):
    """Best ms of `repeats` conv2d forward+backward (dx, dW, db) at one layer's shape."""
    arrays = conv_arrays(N, C, OC, H, K)

    def run():
        x, w, b = (torch.from_numpy(a).requires_grad_(True) for a in arrays)
        y = torch.nn.functional.conv2d(x, w, b, padding=P)
        y.backward(torch.ones_like(y))
    return best_ms(run, repeats)


def run_jobs(jobs):
    timers = {"step": time_steps, "conv": time_conv}
    results = [timers[kind](*args) for kind, *args in json.loads(jobs)]
    print(json.dumps({"results": results, "peak_mb": peak_rss_mb()}))


if __name__ == "__main__":
    import torch
    if sys.argv[1] == "jobs":
        run_jobs(sys.argv[2])
    else:
        train(sys.argv[2], sys.argv[3])
