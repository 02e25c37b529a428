"""The LeNet-5 training step of bench_train.py in the other NumPy engines a learner might pick:
DeZero (PyPI `dezero`) and Chainer (PyPI `chainer`). Benchmark-only; never a dependency.

    python benchmarks/peers.py dezero 64 40     # engine, batch size, timed steps -> one JSON line

Run by bench_train.py in a fresh process per repeat, like the other engines, possibly under
another interpreter (`--peers-python`: neither package runs on NumPy 2, see
benchmarks/README.md). Same architecture, batch and optimizer as bench_train's LeNet-5 case
(each engine's own initial weights); when the engine does not import, prints why instead.
It imports nothing from minigrad, so that the process holds only the peer.
"""
import json
import sys
from pathlib import Path

import numpy as np

# torch_twin.py imports only NumPy at the top: its timing helpers serve here without minigrad
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "minigrad" / "apps"))
from torch_twin import peak_rss_mb, rate_of  # noqa: E402


def training_step(model, optimizer, loss_function, x, t):
    """One step in DeZero or Chainer (the same API: cleargrads, backward, update)."""
    def step():
        loss = loss_function(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()
    return step


def dezero_step(x, t):
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

    model = LeNet5()
    return training_step(model, dezero.optimizers.MomentumSGD(lr=0.01, momentum=0.9).setup(model),
                         F.softmax_cross_entropy, x, t)


def chainer_step(x, t):
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

    model = LeNet5()
    optimizer = chainer.optimizers.MomentumSGD(lr=0.01, momentum=0.9)
    optimizer.setup(model)
    return training_step(model, optimizer, F.softmax_cross_entropy, x, t)


def main(engine, batch_size, steps):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch_size, 1, 28, 28)).astype(np.float32)
    t = rng.integers(0, 10, batch_size).astype(np.int32)
    try:
        step = {"dezero": dezero_step, "chainer": chainer_step}[engine](x, t)
        step()
    except Exception as error:        # not installed, or does not run on this NumPy: say why
        print(json.dumps({"error": f"{type(error).__name__}: {error}".splitlines()[0],
                          "numpy": np.__version__}))
        return
    print(json.dumps({"rate": rate_of(step, batch_size, steps), "peak_mb": peak_rss_mb(),
                      "numpy": np.__version__}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
