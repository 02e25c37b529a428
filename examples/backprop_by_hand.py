# %% [markdown]
# # Backpropagation by hand, then by minigrad: the two must agree
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# The classic computational-graph exercise (CS231n): a 2-input logistic unit
#
#     y = 1 / (1 + exp(-(w0*x0 + w1*x1 + b)))     with w0=2, x0=-1, w1=-3, x1=-2, b=-3
#
# Forward, every node's value is printed. Backward, each node's *local* gradient is multiplied by
# the gradient arriving from above (the chain rule), and the result is passed down. Finally the same
# expression is built from minigrad Tensors and `backward()` computes the same five numbers.
# Run: python examples/backprop_by_hand.py

# %%
import math

import numpy as np

import minigrad as mg
from minigrad.lessons import Lesson

lesson = Lesson()
INPUTS = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "b": -3.0}


# %%
def by_hand(w0, x0, w1, x1, b):
    print("forward pass (node = value)")
    p0 = w0 * x0;          print(f"  p0 = w0*x0       = {p0:+.4f}")
    p1 = w1 * x1;          print(f"  p1 = w1*x1       = {p1:+.4f}")
    s = p0 + p1 + b;       print(f"  s  = p0 + p1 + b = {s:+.4f}")
    n = -s;                print(f"  n  = -s          = {n:+.4f}")
    e = math.exp(n);       print(f"  e  = exp(n)      = {e:+.4f}")
    d = 1.0 + e;           print(f"  d  = 1 + e       = {d:+.4f}")
    y = 1.0 / d;           print(f"  y  = 1 / d       = {y:+.4f}")

    print("backward pass (dy/dnode = local gradient * gradient from above)")
    dy = 1.0
    dd = -1.0 / d ** 2 * dy;  print(f"  dy/dd  = -1/d^2 * {dy:.4f}      = {dd:+.4f}")
    de = 1.0 * dd;            print(f"  dy/de  = 1 * {dd:+.4f}          = {de:+.4f}")
    dn = e * de;              print(f"  dy/dn  = exp(n) * {de:+.4f}     = {dn:+.4f}")
    ds = -1.0 * dn;           print(f"  dy/ds  = -1 * {dn:+.4f}         = {ds:+.4f}")
    # An addition hands its incoming gradient unchanged to every input ...
    dp0 = dp1 = db = ds;      print(f"  dy/dp0 = dy/dp1 = dy/db        = {ds:+.4f}")
    # ... a product gives each input the *other* factor times the incoming gradient.
    grads = {"w0": x0 * dp0, "x0": w0 * dp0, "w1": x1 * dp1, "x1": w1 * dp1, "b": db}
    for name, g in grads.items():
        print(f"  dy/d{name:<2} = {g:+.4f}")
    return y, grads


# %%
def by_autograd(w0, x0, w1, x1, b):
    leaves = {name: mg.tensor(np.float64(v), requires_grad=True)
              for name, v in dict(w0=w0, x0=x0, w1=w1, x1=x1, b=b).items()}
    t = leaves
    y = 1 / (1 + (-(t["w0"] * t["x0"] + t["w1"] * t["x1"] + t["b"])).exp())
    y.backward()
    return y.item(), {name: leaf.grad.item() for name, leaf in leaves.items()}


# %%
def main():
    y_hand, grads_hand = by_hand(**INPUTS)
    y_auto, grads_auto = by_autograd(**INPUTS)
    print("\nnode   by hand    autograd")
    print(f"y     {y_hand:+.5f}  {y_auto:+.5f}")
    for name in grads_hand:
        print(f"d/d{name:<2} {grads_hand[name]:+.5f}  {grads_auto[name]:+.5f}")
    agree = math.isclose(y_hand, y_auto, rel_tol=1e-12) and all(
        math.isclose(grads_hand[k], grads_auto[k], rel_tol=1e-12, abs_tol=1e-15) for k in grads_hand)
    print("\nhand and autograd agree" if agree else "\nMISMATCH between hand and autograd")
    lesson.claim(agree, f"the chain rule by hand and minigrad's backward() give the same y = "
                 f"{y_auto:.4f} and five gradients (dy/dx0 = {grads_auto['x0']:+.4f}), to 1e-12")


if __name__ == "__main__":
    main()
