"""The training steps of bench_train.py in the other engines a learner might pick: DeZero (PyPI
`dezero`) and Chainer (PyPI `chainer`), NumPy engines, on LeNet-5; tinygrad (PyPI `tinygrad`) on
its CPU backend, on LeNet-5 and AlexNet-lite. Benchmark-only; never a dependency.

    python benchmarks/peers.py dezero 64 40                  # engine, batch, timed steps -> JSON
    python benchmarks/peers.py tinygrad 64 3 alexnet_lite    # model: lenet5 (default) | alexnet_lite

Run by bench_train.py in a fresh process per repeat, like the other engines; DeZero and Chainer
possibly under another interpreter (`--peers-python`: neither runs on NumPy 2, see
benchmarks/README.md). Same architecture, batch and optimizer as bench_train's cases (each
engine's own initial weights). The first two steps are timed apart (tinygrad compiles its
kernels in the first and captures them in its JIT in the second), and a peer whose loss does not
fall over the run is not measured. When the engine does not import or run, prints why instead.
It imports nothing from minigrad, so that the process holds only the peer.
"""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

# torch_twin.py imports only NumPy at the top: its timing helpers serve here without minigrad
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "minigrad" / "apps"))
from torch_twin import peak_rss_mb, rate_of  # noqa: E402


IMAGE_SHAPES = {"lenet5": (1, 28, 28), "alexnet_lite": (3, 32, 32)}


def training_step(model, optimizer, loss_function, x, t):
    """One step in DeZero or Chainer (the same API: cleargrads, backward, update) -> its loss."""
    def step():
        loss = loss_function(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()
        return float(loss.data)
    return step


def dezero_step(model_name, x, t):
    import dezero
    import dezero.functions as F
    import dezero.layers as L

    class LeNet5(dezero.Model):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = L.Conv2d(6, kernel_size=5, pad=2), L.Conv2d(16, kernel_size=5)
            self.f1, self.f2, self.f3 = L.Linear(120), L.Linear(84), L.Linear(10)

        def forward(self, x):
            x = F.pooling(F.relu(self.c1(x)), 2, 2)
            x = F.pooling(F.relu(self.c2(x)), 2, 2)
            x = F.relu(self.f1(F.reshape(x, (x.shape[0], -1))))
            return self.f3(F.relu(self.f2(x)))

    model = {"lenet5": LeNet5}[model_name]()
    return training_step(model, dezero.optimizers.MomentumSGD(lr=0.01, momentum=0.9).setup(model),
                         F.softmax_cross_entropy, x, t), f"NumPy {np.__version__}"


def chainer_step(model_name, x, t):
    import chainer
    import chainer.functions as F
    import chainer.links as L

    class LeNet5(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.c1, self.c2 = L.Convolution2D(1, 6, 5, pad=2), L.Convolution2D(6, 16, 5)
                self.f1, self.f2, self.f3 = L.Linear(400, 120), L.Linear(120, 84), L.Linear(84, 10)

        def forward(self, x):
            x = F.max_pooling_2d(F.relu(self.c1(x)), 2)
            x = F.max_pooling_2d(F.relu(self.c2(x)), 2)
            return self.f3(F.relu(self.f2(F.relu(self.f1(x)))))

    model = {"lenet5": LeNet5}[model_name]()
    optimizer = chainer.optimizers.MomentumSGD(lr=0.01, momentum=0.9)
    optimizer.setup(model)
    return training_step(model, optimizer, F.softmax_cross_entropy, x, t), f"NumPy {np.__version__}"


def tinygrad_step(model_name, x, t):
    """tinygrad's step as its own examples write it: one TinyJit function (forward, loss, backward,
    the optimizer's update), on the CPU device unless DEV says otherwise."""
    from importlib.metadata import version
    os.environ.setdefault("DEV", "CPU")          # read when tinygrad is imported
    from tinygrad import Context, Device, Tensor, TinyJit, nn
    from tinygrad.helpers import NUM_CPU_THREADS
    from tinygrad.nn.state import get_parameters

    class LeNet5:
        def __init__(self):
            self.c1, self.c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
            self.f1, self.f2, self.f3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def __call__(self, x):
            x = self.c1(x).relu().max_pool2d(2)
            x = self.c2(x).relu().max_pool2d(2)
            return self.f3(self.f2(self.f1(x.flatten(1)).relu()).relu())

    class AlexNetLite:                           # minigrad/models/alexnet_lite.py's layers
        def __init__(self):
            self.convs = [nn.Conv2d(3, 64, 5, padding=2), nn.Conv2d(64, 192, 5, padding=2),
                          nn.Conv2d(192, 256, 3, padding=1), nn.Conv2d(256, 256, 3, padding=1),
                          nn.Conv2d(256, 128, 3, padding=1)]
            self.pools = (True, True, False, False, True)
            self.f1, self.f2, self.f3 = nn.Linear(1152, 512), nn.Linear(512, 256), nn.Linear(256, 10)

        def __call__(self, x):
            for conv, pool in zip(self.convs, self.pools):
                x = conv(x).relu()
                x = x.max_pool2d(3, stride=2) if pool else x
            x = self.f1(x.flatten(1).dropout(0.5)).relu()
            return self.f3(self.f2(x.dropout(0.5)).relu())

    model = {"lenet5": LeNet5, "alexnet_lite": AlexNetLite}[model_name]()
    optimizer = nn.optim.SGD(get_parameters(model), lr=0.01, momentum=0.9)
    inputs, targets = Tensor(x).realize(), Tensor(t).realize()

    @TinyJit
    def jitted(inputs, targets):
        optimizer.zero_grad()
        loss = model(inputs).sparse_categorical_crossentropy(targets).backward()
        return loss.realize(*optimizer.schedule_step())

    def step():
        with Context(TRAINING=1):                # dropout on, and the optimizer allows steps
            return jitted(inputs, targets).item()    # .item() waits for the kernels to finish
    device = Device[Device.DEFAULT]
    return step, (f"tinygrad {version('tinygrad')}, {Device.DEFAULT} with "
                  f"{type(device.renderer).__name__}, {NUM_CPU_THREADS.value} threads")


def timed(step):
    """(the step's loss, its wall seconds)."""
    started = time.perf_counter()
    loss = step()
    return loss, time.perf_counter() - started


def main(engine, batch_size, steps, model_name="lenet5"):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch_size, *IMAGE_SHAPES[model_name])).astype(np.float32)
    t = rng.integers(0, 10, batch_size).astype(np.int32)
    try:
        step, about = {"dezero": dezero_step, "chainer": chainer_step,
                       "tinygrad": tinygrad_step}[engine](model_name, x, t)
        (first_loss, first_s), (_, second_s) = timed(step), timed(step)
        rate = rate_of(step, batch_size, steps)
        last_loss = step()
        if not last_loss < first_loss:           # a peer that does not train is not measured
            raise RuntimeError(f"its loss did not fall: {first_loss:.4f} -> {last_loss:.4f} in "
                               f"{steps + 5} steps")
    except Exception as error:        # not installed, or does not run here: say why
        print(json.dumps({"error": f"{type(error).__name__}: {error}".splitlines()[0],
                          "about": f"NumPy {np.__version__}"}))
        return
    print(json.dumps({"rate": rate, "peak_mb": peak_rss_mb(), "first_steps_s": [first_s, second_s],
                      "loss": [first_loss, last_loss], "about": about}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:])
