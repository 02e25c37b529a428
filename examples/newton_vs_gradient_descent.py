# %% [markdown]
# # Newton's method against gradient descent: the second derivative, from autograd, buys speed
#
#     python examples/newton_vs_gradient_descent.py
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# Gradient descent steps x <- x - lr f'(x): the step length is lr times the slope, whatever the
# curvature. Newton's method divides by the curvature instead, x <- x - f'(x) / f''(x) (in
# several dimensions x <- x - H^-1 grad f, H the Hessian): near a minimum f is almost the parabola
# of its second-order Taylor expansion, and Newton jumps to that parabola's bottom, so the number
# of correct digits doubles every step.
#
# Claim (checked at the defaults): from the same start, Newton converges (|x - x*| < 1e-8) in at
# most 10 steps on both functions; gradient descent, with a learning rate that does not diverge,
# needs more than 5x as many on x^4 - 2x^2 and does not get there in 20,000 on Rosenbrock.

# %%
import argparse

import numpy as np

import minigrad as mg
from minigrad.autograd import grad
from minigrad.lessons import Lesson

parser = argparse.ArgumentParser(description="Newton's method against gradient descent")
parser.add_argument("--max-steps", type=int, default=20000, help="gradient descent's budget")
lesson = Lesson(parser)
args = lesson.args
TOLERANCE = 1e-8

# %% [markdown]
# ## 1. Two functions to minimise
#
#     f(x) = x^4 - 2 x^2            minima at x = +-1, f'' = 12 x^2 - 4 (8 at the minimum)
#     Rosenbrock (1 - x)^2 + 100 (y - x^2)^2, minimum (1, 1), a curved valley whose walls are
#     ~100x steeper than its floor: the curvature gradient descent cannot see


# %%
def quartic(x):
    return (x ** 4 - 2 * x ** 2).sum()


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


# %% [markdown]
# ## 2. Both derivatives from minigrad
#
# f' by backward with create_graph=True, which leaves a gradient that carries its own graph, and
# f'' (or each row of H) by differentiating that gradient again (DeZero's step 33).


# %%
def gradient_and_hessian(f, x):
    """f's gradient (by backward with create_graph=True) and Hessian (its rows by differentiating
    each element of the gradient once more) at the point x."""
    point = mg.tensor(x, requires_grad=True)
    point.grad = None
    f(point).backward(create_graph=True)
    gradient = point.grad
    rows = [grad(gradient[i], point, retain_graph=True)[0].data for i in range(len(x))]
    return gradient.data, np.stack(rows)


# %% [markdown]
# ## 3. The two methods
#
# Newton jumps to the bottom of the parabola, x <- x - H^-1 grad f; gradient descent steps
# x <- x - lr grad f. Each runs until every coordinate is within 1e-8 of the minimum.


# %%
def newton(f, x, minimum, max_steps=50):
    path = [x]
    while len(path) <= max_steps and np.abs(x - minimum).max() >= TOLERANCE:
        gradient, hessian = gradient_and_hessian(f, x)
        x = x - np.linalg.solve(hessian, gradient)             # the bottom of the parabola
        path.append(x)
    return path


def gradient_descent(f, x, minimum, lr, max_steps):
    path = [x]
    while len(path) <= max_steps and np.abs(x - minimum).max() >= TOLERANCE:
        point = mg.tensor(x, requires_grad=True)
        f(point).backward()
        x = x - lr * point.grad.data
        path.append(x)
    return path


def steps(path):
    return len(path) - 1


# %% [markdown]
# ## 4. From the same start: how many steps each needs


# %%
PROBLEMS = [  # (name, f, start, minimum, gradient descent's learning rate)
    ("x^4 - 2x^2", quartic, np.array([2.0]), np.array([1.0]), 0.05),
    ("Rosenbrock", rosenbrock, np.array([-1.2, 1.0]), np.array([1.0, 1.0]), 1e-3),
]
print(f"steps until every coordinate is within {TOLERANCE:g} of the minimum "
      f"(gradient descent's budget {args.max_steps:,})\n")
print(f"{'function':<12} {'start':<14} {'Newton':>7} {'gradient descent':>18}   lr")
results = {}
for name, f, start, minimum, lr in PROBLEMS:
    by_newton = newton(f, start, minimum)
    by_descent = gradient_descent(f, start, minimum, lr, args.max_steps)
    results[name] = steps(by_newton), steps(by_descent)
    descent = (f"{steps(by_descent):,}" if np.abs(by_descent[-1] - minimum).max() < TOLERANCE
               else f"> {args.max_steps:,}")
    print(f"{name:<12} {str(start.tolist()):<14} {steps(by_newton):>7} {descent:>18}   {lr:g}")
    errors = [f"{np.abs(x - minimum).max():.1e}" for x in by_newton[1:6]]
    print(f"{'':<12} Newton's distance to the minimum, step by step: {', '.join(errors)} ...")

quartic_newton, quartic_descent = results["x^4 - 2x^2"]
rosen_newton, rosen_descent = results["Rosenbrock"]
print("\nThe price: Newton needs the Hessian, n^2 numbers and a solve costing n^3, where gradient "
      "descent needs n; with a network's millions of weights, second-order ideas reach deep "
      "learning only as approximations.")
lesson.claim(quartic_newton <= 10 and rosen_newton <= 10 and quartic_descent > 5 * quartic_newton
             and rosen_descent >= args.max_steps,
             f"Newton converges in {quartic_newton} steps on x^4 - 2x^2 and {rosen_newton} on "
             f"Rosenbrock; gradient descent needs {quartic_descent} (more than 5x) and more than "
             f"{args.max_steps:,}")
