"""What detect_anomaly costs: off (the default) and on, for the smallest op and a LeNet-5 step.

    python benchmarks/bench_anomaly.py

Off, every op pays one test of a module flag in Function.apply and in input_grads; on, every
op's output and gradient is checked with np.isfinite and the calling line is recorded.
"""
import timeit

import numpy as np

import minigrad as mg
from minigrad import functional as F
from minigrad import function, optim
from minigrad.models import LeNet5


def best(statement, number, repeat=7):
    return min(timeit.repeat(statement, number=number, repeat=repeat)) / number


def main():
    a, b = mg.tensor(np.ones(8, np.float32)), mg.tensor(np.ones(8, np.float32))
    flag = min(timeit.repeat("if function._detect_anomaly: pass", globals=globals(),
                             number=1_000_000, repeat=7)) / 1_000_000
    small = {}
    for mode in (False, True):
        with mg.detect_anomaly(mode):
            small[mode] = best(lambda: a + b, 20_000)
    model = LeNet5()
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    x = mg.tensor(np.random.default_rng(0).standard_normal((64, 1, 28, 28)).astype(np.float32))
    labels = np.arange(64) % 10

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), labels).backward()
        optimizer.step()
    step()
    steps = {}
    for mode in (False, True, False, True):                 # interleaved, best of each
        with mg.detect_anomaly(mode):
            steps[mode] = min(steps.get(mode, 1e9), best(step, 5, repeat=3))
    print(f"| what                                  | off        | on         | on / off |")
    print(f"|---------------------------------------|------------|------------|----------|")
    print(f"| the flag test alone (as in apply)     | {flag * 1e9:7.1f} ns |            |          |")
    print(f"| a + b, 8 floats (one op, forward)     | {small[False] * 1e6:7.2f} us | "
          f"{small[True] * 1e6:7.2f} us | {small[True] / small[False]:7.2f}x |")
    print(f"| LeNet-5 training step, batch 64       | {steps[False] * 1e3:7.2f} ms | "
          f"{steps[True] * 1e3:7.2f} ms | {steps[True] / steps[False]:7.2f}x |")


if __name__ == "__main__":
    main()
