# %% [markdown]
# # Inception's factorisation: an n x n convolution as a 1 x n then an n x 1
#
#     python examples/factorised_convolutions.py
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# Inception v3 (Szegedy et al. 2016) replaces an n x n convolution by a 1 x n followed by an
# n x 1: 2n weights per pair of channels instead of n^2 (14 against 49 for n = 7). Two
# convolutions in a row are one convolution whose kernel is their full convolution
# (convolution_algebra.py); for a 1 x n and an n x 1 kernel that is their outer product, a
# kernel of rank 1. So the pair computes exactly the n x n convolutions whose kernel has rank 1
# -- per channel pair, between the two; with C channels in the middle, rank up to C -- and the
# network learns its kernels within that family (with a nonlinearity between, as Inception
# puts one, the pair is no longer one convolution at all).

# %%
import argparse

import numpy as np

import minigrad as mg
from minigrad import functional as F
from minigrad.lessons import Lesson

parser = argparse.ArgumentParser(description="Factorised convolutions")
parser.add_argument("--n", type=int, default=7, help="kernel size")
lesson = Lesson(parser)
args = lesson.args
rng = np.random.default_rng(0)
n = args.n
x = mg.tensor(rng.standard_normal((1, 1, 4 * n, 4 * n)))

# %%
# 1. A 1 x n then an n x 1 is the n x n convolution with their outer product as kernel.
row, column = rng.standard_normal(n), rng.standard_normal(n)
pair = F.conv2d(F.conv2d(x, mg.tensor(row.reshape(1, 1, 1, n))),
                mg.tensor(column.reshape(1, 1, n, 1))).data
one = F.conv2d(x, mg.tensor(np.outer(column, row).reshape(1, 1, n, n))).data
gap = np.abs(pair - one).max() / np.abs(one).max()
print(f"1 x {n} then {n} x 1 ({2 * n} weights) against one {n} x {n} ({n * n} weights) with "
      f"the outer product as kernel: max difference {gap:.0e} of the output")

# %%
# 2. Which n x n kernels can the pair make? Those of rank 1: a random kernel is not one, and
#    the best rank-1 kernel (the SVD's first term) leaves most of it out.
kernel = rng.standard_normal((n, n))
singular = np.linalg.svd(kernel, compute_uv=False)
left_out = np.sqrt(np.sum(singular[1:] ** 2) / np.sum(singular ** 2))
edge_detector = np.outer([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0])           # Sobel: rank 1
sobel_rank = np.linalg.matrix_rank(edge_detector)
print(f"a random {n} x {n} kernel: the best rank-1 kernel leaves {left_out:.0%} of it (in "
      f"norm); the 3 x 3 Sobel kernel has rank {sobel_rank}: a 1 x 3 and a 3 x 1 make it exactly")
lesson.claim(gap < 1e-12 and left_out > 0.5 and sobel_rank == 1,
             f"a 1 x {n} then a {n} x 1 convolution ({2 * n} weights) is the {n} x {n} "
             f"convolution ({n * n} weights) with the outer product as kernel (to {gap:.0e}); "
             f"it reaches only rank-1 kernels: the best one leaves {left_out:.0%} of a random "
             f"kernel out, while Sobel's is rank 1")
