"""`minigrad bench`: how fast minigrad trains on this machine, and against PyTorch when installed.

    minigrad bench                                    # about a minute
    minigrad bench --repeats 1 --batch-size 2 --steps 1 --conv-repeats 1    # a smoke run

It times a training step (forward, cross-entropy, backward, SGD with momentum) of LeNet-5 at
batch 64 and 256 and of AlexNet-lite at batch 64, and conv2d forward+backward at the shapes of
their convolution layers. Each engine runs in a fresh process of its own, as its application
would run it (minigrad with the library's defaults, as `minigrad train` runs); the engines
alternate, repeat after repeat, so that anything else running on the machine slows both alike;
the table gives the best repeat of each and their ratio. Both engines use their default threads.
PyTorch gets the same network with the same weights on the same batch (minigrad/apps/torch_twin.py).

benchmarks/bench_train.py runs the same jobs under the full protocol of the published figures
(medians, peak memory, peers); this command is the quick look.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from minigrad.apps.options import positive_int
from minigrad.apps.torch_twin import best_ms, conv_arrays, peak_rss_mb, rate_of

TORCH_TWIN = Path(__file__).with_name("torch_twin.py")
# (model, batch size, input shape of one image, training steps per timed run)
CASES = (("lenet5", 64, (1, 28, 28), 40), ("lenet5", 256, (1, 28, 28), 10),
         ("alexnet_lite", 64, (3, 32, 32), 3))
# name, N, C_in, C_out, H (= W), kernel, padding: the conv layers of the two models
CONVS = (("LeNet-5 conv1", 64, 1, 6, 28, 5, 2), ("LeNet-5 conv2", 64, 6, 16, 14, 5, 0),
         ("AlexNet-lite conv1", 64, 3, 64, 32, 5, 2), ("AlexNet-lite conv2", 64, 64, 192, 15, 5, 2),
         ("AlexNet-lite conv3", 64, 192, 256, 7, 3, 1), ("AlexNet-lite conv4", 64, 256, 256, 7, 3, 1),
         ("AlexNet-lite conv5", 64, 256, 128, 7, 3, 1))


def register(commands):
    bench = commands.add_parser(
        "bench", help="time training steps and conv layers, against PyTorch if installed",
        description=__doc__.splitlines()[0].split(": ", 1)[1])
    bench.add_argument("--repeats", type=positive_int, default=3,
                       help="runs of each engine (best kept)")
    bench.add_argument("--steps", type=positive_int, help="training steps per timed run "
                       "(default: 40, 10 and 3 for the three cases)")
    bench.add_argument("--batch-size", type=positive_int, help="one batch size for every case")
    bench.add_argument("--conv-repeats", type=positive_int, default=3,
                       help="forward+backward passes per conv layer and run")
    bench.add_argument("--only", choices=["steps", "convs"], help="time only these")
    bench.add_argument("--no-torch", action="store_true", help="time minigrad only")
    bench.set_defaults(run=run_bench)


# ----- the cases, shared by both engines -------------------------------------------------------
def make_case(name, batch_size, image_shape):
    """(model, x, y): a freshly initialised model (seed 0) and a random batch (seed 0)."""
    from minigrad import nn
    from minigrad.models import get_model
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch_size, *image_shape)).astype(np.float32)
    y = rng.integers(0, 10, batch_size)
    nn.manual_seed(0)
    return get_model(name, in_channels=image_shape[0]), x, y


def describe(model):
    """The layer list [(path, kind, constructor args)] that torch_twin.build() turns back into
    the same network in torch, with the same state-dict keys."""
    from minigrad import nn
    args = {nn.Conv2d: lambda m: [m.in_channels, m.out_channels, m.kernel_size, m.stride,
                                  m.padding, m.bias is not None],
            nn.Linear: lambda m: [m.in_features, m.out_features],
            nn.MaxPool2d: lambda m: [m.kernel_size, m.stride, m.padding],
            nn.AvgPool2d: lambda m: [m.kernel_size, m.stride, m.padding],
            nn.BatchNorm2d: lambda m: [m.num_features], nn.Dropout: lambda m: [m.p]}
    return [(path, type(m).__name__, args.get(type(m), lambda m: [])(m))
            for path, m in model.named_modules() if path and not list(m.children())]


def write_case(path, name, batch_size, image_shape):
    """The case as both engines' processes read it: model name, layer list, state dict, batch."""
    model, x, y = make_case(name, batch_size, image_shape)
    state = {f"state.{k}": v for k, v in model.state_dict().items()}
    np.savez(path, name=name, layers=json.dumps(describe(model)), x=x, y=y, **state)


# ----- the minigrad engine's process ------------------------------------------------------------
def minigrad_step(model, x, y):
    """One training step in minigrad; returns a function that runs it."""
    from minigrad import functional as F
    from minigrad import optim
    from minigrad.tensor import Tensor
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    inputs = Tensor(x)

    def step():
        loss = F.cross_entropy(model(inputs), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def time_steps(path, steps):
    """img/s of `steps` training steps of the case in `path`."""
    from minigrad.models import get_model
    case = np.load(path, allow_pickle=False)
    model = get_model(str(case["name"]), in_channels=case["x"].shape[1])
    model.load_state_dict({key[len("state."):]: case[key] for key in case.files
                           if key.startswith("state.")})
    return rate_of(minigrad_step(model, case["x"], case["y"]), len(case["x"]), steps)


def time_conv(N, C, OC, H, K, P, repeats):
    """Best ms of `repeats` conv2d forward+backward (dx, dW, db) at one layer's shape."""
    from minigrad.ops.conv import conv2d
    from minigrad.tensor import Tensor
    arrays = conv_arrays(N, C, OC, H, K)

    def run():
        x, w, b = (Tensor(a, requires_grad=True) for a in arrays)
        y = conv2d(x, w, b, padding=P)
        y.backward(np.ones(y.shape, dtype=y.dtype))
    return best_ms(run, repeats)


def run_jobs(jobs):
    """The minigrad process: each job ["step", CASE.npz, steps] or ["conv", N, C, OC, H, K, P,
    repeats]; prints the results and this process's peak RSS as one JSON line."""
    timers = {"step": time_steps, "conv": time_conv}
    results = [timers[kind](*args) for kind, *args in json.loads(jobs)]
    print(json.dumps({"results": results, "peak_mb": peak_rss_mb()}))


# ----- the parent: run the engines' processes in turn ----------------------------------------
def engine_command(engine, jobs):
    """The command line of one run of `engine` ('minigrad', 'minigrad-malloc-defaults' or
    'torch') over `jobs`."""
    if engine == "torch":
        return [sys.executable, str(TORCH_TWIN), "jobs", json.dumps(jobs)]
    # malloc-defaults: glibc's allocator as it starts, untouched (minigrad/kernels/scratch.py)
    return (["env", "MINIGRAD_KEEP_FREED_MEMORY=0"] if engine == "minigrad-malloc-defaults"
            else []) + [sys.executable, "-m", "minigrad.apps.bench", "jobs", json.dumps(jobs)]


def run_engine(engine, jobs, env=None):
    """One fresh process of `engine` over `jobs` -> {"results": [...], "peak_mb": ...}."""
    done = subprocess.run(engine_command(engine, jobs), capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"the {engine} process failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def have_torch():
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def make_jobs(args, folder):
    """The jobs of this run and their row labels."""
    jobs, labels = [], []
    if args.only != "convs":
        for name, batch_size, image_shape, steps in CASES:
            batch_size = args.batch_size or batch_size
            path = str(Path(folder) / f"{name}-{batch_size}.npz")
            write_case(path, name, batch_size, image_shape)
            jobs.append(["step", path, args.steps or steps])
            labels.append(f"{'LeNet-5' if name == 'lenet5' else 'AlexNet-lite'}, batch {batch_size}")
    if args.only != "steps":
        for name, N, *shape in CONVS:
            jobs.append(["conv", args.batch_size or N, *shape, args.conv_repeats])
            labels.append(f"{name}, batch {args.batch_size or N}")
    return jobs, labels


def run_bench(args):
    from tqdm import tqdm
    from minigrad.kernels import parallel
    engines = ["minigrad"] + (["torch"] if not args.no_torch and have_torch() else [])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        jobs, labels = make_jobs(args, folder)
        runs = {engine: [] for engine in engines}
        with tqdm(total=args.repeats * len(engines), desc="minigrad bench", unit="run",
                  leave=False) as bar:
            for _ in range(args.repeats):                # interleaved: noise hits both alike
                for engine in engines:
                    bar.set_postfix_str(engine)
                    runs[engine].append(run_engine(engine, jobs)["results"])
                    bar.update()
    print(f"minigrad bench: {parallel.get_num_threads()} thread(s), best of {args.repeats} "
          f"run(s) per engine, load average {os.getloadavg()[0]:.2f}"
          + ("" if "torch" in engines else " (torch not installed or --no-torch)"))
    best = {engine: [(max if kind == "step" else min)(values)
                     for (kind, *_), values in zip(jobs, zip(*runs[engine]))]
            for engine in engines}
    for kind, unit, better in (("step", "img/s", "minigrad/torch speed"),
                               ("conv", "ms", "minigrad/torch time")):
        rows = [i for i, job in enumerate(jobs) if job[0] == kind]
        if not rows:
            continue
        title = "training step" if kind == "step" else "conv2d forward+backward"
        print(f"\n{title:<32}{'minigrad ' + unit:>16}" +
              (f"{'torch ' + unit:>14}{better:>24}" if "torch" in engines else ""))
        for i in rows:
            line = f"{labels[i]:<32}{best['minigrad'][i]:>16,.1f}"
            if "torch" in engines:
                line += f"{best['torch'][i]:>14,.1f}{best['minigrad'][i] / best['torch'][i]:>23.2f}x"
            print(line)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":               # an engine's process: python -m minigrad.apps.bench jobs
    run_jobs(sys.argv[2])
