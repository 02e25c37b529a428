# %% [markdown]
# # A fully connected layer on a 32x32 image against a convolution
#
#     python examples/mlp_versus_conv.py
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# A Linear layer from a 32x32 image (1,024 pixels) to a 32x32 map of hidden units has
# 1,024 x 1,024 = 1,048,576 weights: every unit looks at every pixel with weights of its own.
# A 3x3 convolution ('same' padding) makes a map of the same size from 9 weights and a bias.
# It *is* such a Linear layer, with a matrix that is (1) local -- row p is zero outside the 3x3
# window around pixel p -- and (2) shared -- every row holds the same 9 numbers, moved. Below the
# convolution's matrix is built and checked against conv2d: the two assumptions that cut
# 1,048,576 free weights to 9 are locality and weight sharing.

# %%
import argparse

import numpy as np

import minigrad as mg
from minigrad import functional as F
from minigrad.lessons import Lesson

parser = argparse.ArgumentParser(description="A fully connected layer against a convolution")
parser.add_argument("--size", type=int, default=32, help="side of the image")
lesson = Lesson(parser)
args = lesson.args
rng = np.random.default_rng(0)
n = args.size


# %%
def conv_as_matrix(kernel, size):
    """The (size^2, size^2) matrix M with conv2d(x, kernel, padding=1).flatten() = M @
    x.flatten(), for one channel and a 3x3 kernel: row p holds the kernel around pixel p."""
    matrix = np.zeros((size * size, size * size))
    for row in range(size):
        for column in range(size):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    y, x = row + dy, column + dx
                    if 0 <= y < size and 0 <= x < size:      # outside: the zero padding
                        matrix[row * size + column, y * size + x] = kernel[dy + 1, dx + 1]
    return matrix


kernel = rng.standard_normal((3, 3))
image = rng.standard_normal((n, n))
matrix = conv_as_matrix(kernel, n)
by_conv = F.conv2d(mg.tensor(image[None, None]), mg.tensor(kernel[None, None]), padding=1).data
gap = np.abs(by_conv.reshape(-1) - matrix @ image.reshape(-1)).max()
nonzero = np.count_nonzero(matrix)
distinct = len(np.unique(matrix[matrix != 0]))
print(f"a Linear layer {n}x{n} -> {n}x{n}: {matrix.size:,} weights")
print(f"the 3x3 conv as that layer's matrix: {nonzero:,} nonzero entries "
      f"({nonzero / matrix.size:.2%}), {distinct} distinct values; conv2d against the matrix: "
      f"max difference {gap:.0e}")
lesson.claim(gap < 1e-12 and matrix.size == n ** 4 and distinct == 9 and nonzero <= 9 * n * n,
             f"a 3x3 convolution on {n}x{n} is a Linear layer of {matrix.size:,} weights of "
             f"which {nonzero:,} are nonzero (local) and take only {distinct} values (shared); "
             f"equal to conv2d to {gap:.0e}")
