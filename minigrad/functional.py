"""The user-facing functions, as `import minigrad.functional as F` (PyTorch's `F`).

Each is a thin wrapper defined next to its Function in `minigrad/ops/`; this module only gathers
them in one namespace.
"""
from minigrad.ops.activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from minigrad.ops.attention import scaled_dot_product_attention
from minigrad.ops.bcos import bcos_conv2d, bcos_linear, bcos_scale
from minigrad.ops.conv import conv2d
from minigrad.ops.elementwise import (abs, add, clip, cos, div, eq, exp, ge, gt, le, log, lt,
                                      maximum, minimum, mul, ne, neg, pow, sin, sqrt, sub, where)
from minigrad.ops.linalg import linear, matmul, mm
from minigrad.ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits,
                               cross_entropy, l1_loss, mse_loss, nll_loss)
from minigrad.ops.norm import batch_norm, dropout, layer_norm
from minigrad.ops.pool import adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d, max_pool2d
from minigrad.ops.reduce import amax, amin, argmax, argmin, max, mean, min, std, sum, var
from minigrad.ops.shape import (cat, concatenate, embedding, flatten, gather, getitem, pad,
                                permute, reshape, squeeze, stack, transpose, unsqueeze)

clamp = clip
