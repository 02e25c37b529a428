"""CPU time against wall time of minigrad's training steps: is any thread burning a core for
nothing? Each setting runs in a fresh process; repeats are interleaved.

    PYTHONPATH=. python benchmarks/bench_spin.py [--repeats 3] [--model lenet5 --batch-size 64]

Settings: `one` (minigrad and OpenBLAS at one thread), `two` (the default: two batch parts on two
threads, OpenBLAS held at one thread inside every op, `parallel.blas_held`), and
`two-unheld` (two parts, but OpenBLAS left at two threads outside the parts: how minigrad ran
before). CPU time a step is the same work in every setting; where it grows, some thread is
spinning -- OpenBLAS's idle worker waits for work that way after each threaded GEMM. Unlike wall
time, CPU time hardly moves with the machine's load, so this table means something on a busy
machine too.
"""
import argparse
import contextlib
import os
import subprocess
import sys
import time

SETTINGS = ("one", "two", "two-unheld")


def run_setting(setting, model_name, batch_size, steps):
    """In this process: time `steps` training steps; -> (wall, cpu) seconds a step."""
    from minigrad.apps.bench import make_case, minigrad_step
    from minigrad.kernels import parallel, scratch
    scratch.keep_freed_memory()
    if setting == "one":
        parallel.set_num_threads(1)
        if parallel._blas:
            parallel._blas[1](1)
    elif setting == "two-unheld":
        parallel.blas_held = contextlib.nullcontext
    image_shape = (3, 32, 32) if model_name == "alexnet_lite" else (1, 28, 28)
    step = minigrad_step(*make_case(model_name, batch_size, image_shape))
    for _ in range(3):
        step()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5", choices=("lenet5", "alexnet_lite", "tiny_vit"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=None, help="default: 40 LeNet, 5 AlexNet")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    steps = args.steps or (40 if args.model == "lenet5" else 5)
    if args.child:
        print(*run_setting(args.child, args.model, args.batch_size, steps))
        return
    print(f"{args.model}, batch {args.batch_size}, {steps} steps x {args.repeats} repeats; "
          f"load average {os.getloadavg()[0]:.1f}")
    results = {setting: [] for setting in SETTINGS}
    for _ in range(args.repeats):
        for setting in SETTINGS:
            out = subprocess.run([sys.executable, __file__, "--child", setting, "--model",
                                  args.model, "--batch-size", str(args.batch_size), "--steps",
                                  str(steps)], capture_output=True, text=True, check=True)
            results[setting].append(tuple(map(float, out.stdout.split())))
    print(f"{'setting':<12}{'wall ms/step (best)':>22}{'CPU ms/step (best)':>21}{'CPU/wall':>10}")
    for setting, runs in results.items():
        wall, cpu = min(w for w, _ in runs), min(c for _, c in runs)
        print(f"{setting:<12}{wall * 1e3:>22.1f}{cpu * 1e3:>21.1f}{cpu / wall:>10.2f}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
