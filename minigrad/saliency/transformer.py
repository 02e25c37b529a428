"""Explanations of a vision transformer, read from its attention or its tokens' gradients.

A ViT classifies from the class token's output (position 0), so every method here asks which
patches the class token drew on, and answers with one value per patch, reshaped to the patch
grid (the 'upsample' step brings it to the image's size):

    attention_rollout  Abnar & Zuidema 2020, "Quantifying attention flow in transformers": the
                       product of the blocks' attention matrices, each averaged with the identity
                       for the residual path, (A + I) / 2, and its rows renormalised:
                           rollout = A'_M . A'_{M-1} ... A'_1,   map = rollout[class, patches]
                       heads fused by mean, max or min; discard_ratio drops each block's weakest
                       links (Gildenblat's vit-explain) before the identity is added.
                       Not the bare product A_M ... A_1 of the lecture's slide: the identity
                       stands for the residual path, which carries half of each token's own
                       value past every block (without it, rollout forgets the skip
                       connections); the renormalisation changes nothing for row-stochastic
                       attention and matters only after discard_ratio has zeroed entries
    raw_attention      the last block's attention of the class token to the patches
    token_gradcam      Grad-CAM on the patch tokens that go into the last block's attention:
                       tokens (N, 1 + P, D) -> the patches as D maps on the grid, weighted by the
                       mean gradient of the class score, as Grad-CAM weights a conv layer's maps

Rollout and raw attention do not depend on the class: `target` is only reported.
"""
import numpy as np

from minigrad.nn import MultiheadAttention, PatchEmbedding, TransformerEncoderLayer
from minigrad.saliency.cam import gradcam_weights, weighted_sum
from minigrad.saliency.core import (Explanation, hooked_forward, layer_gradient, resolve_layer,
                                    resolve_target, saliency_method)

HEAD_FUSIONS = {"mean": np.mean, "max": np.max, "min": np.min}


def attention_maps(model, x):
    """Forward only: -> (per-block attention weights, each (N, H, T, T), in order; logits).

    Read with a forward hook on every MultiheadAttention (TransformerEncoderLayer asks for the
    per-head weights). A layer asked for head-averaged weights gives (N, 1, T, T)."""
    attentions = []

    def keep(module, inputs, output):
        weights = output[1].data
        attentions.append(weights if weights.ndim == 4 else weights[:, None])

    hooks = [(m, keep) for m in model.modules() if isinstance(m, MultiheadAttention)]
    if not hooks:
        raise ValueError(f"{type(model).__name__} has no MultiheadAttention layer to read "
                         f"attention from")
    logits = hooked_forward(model, x, hooks)
    return attentions, logits


def fuse_heads(attention, head_fusion="mean"):
    """(N, H, T, T) -> (N, T, T): the heads' mean, max or min."""
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"unknown head_fusion {head_fusion!r}; expected one of "
                         f"{sorted(HEAD_FUSIONS)}")
    return HEAD_FUSIONS[head_fusion](attention, axis=1)


def rollout(attentions, head_fusion="mean", discard_ratio=0.0, return_steps=False):
    """Attention rollout of per-block attentions [(N, H, T, T), ...] (first block first):
    -> (N, T, T) = A'_M ... A'_1 with A'_b = rownorm((fuse(A_b) + I) / 2); with return_steps,
    the list of the products after each block (every one row-stochastic).

    discard_ratio in [0, 1): in each block, zero that fraction of the smallest fused weights of
    each sample (never the class token's attention to itself) before adding the identity."""
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), got {discard_ratio}")
    steps, product = [], None
    for attention in attentions:
        fused = fuse_heads(np.asarray(attention, dtype=np.float64), head_fusion)
        fused = _discard(fused, discard_ratio) if discard_ratio else fused
        T = fused.shape[-1]
        with_residual = (fused + np.eye(T)) / 2
        with_residual /= with_residual.sum(axis=-1, keepdims=True)
        product = with_residual if product is None else with_residual @ product
        steps.append(product)
    if product is None:
        raise ValueError("rollout needs the attention of at least one block")
    return steps if return_steps else product


def _discard(fused, ratio):
    """Zero the `ratio` smallest entries of each (T, T) matrix, except entry [0, 0]."""
    N, T, _ = fused.shape
    flat = fused.reshape(N, T * T).copy()
    count = int(T * T * ratio)
    order = np.argsort(flat, axis=1)[:, :count]         # the smallest, per sample
    for n in range(N):
        flat[n, order[n][order[n] != 0]] = 0.0
    return flat.reshape(N, T, T)


def patch_grid(model):
    """The (rows, columns) grid of the model's PatchEmbedding."""
    embeddings = [m for m in model.modules() if isinstance(m, PatchEmbedding)]
    if not embeddings:
        raise ValueError(f"{type(model).__name__} has no PatchEmbedding: these methods explain "
                         f"a vision transformer")
    return embeddings[0].grid


def class_row(matrix, grid):
    """(N, T, T) token-to-token weights -> (N, rows, columns): the class token's row, patches
    only (token 0 is the class token)."""
    return matrix[:, 0, 1:].reshape((len(matrix),) + tuple(grid))


@saliency_method
def attention_rollout(model, x, target=None, score="logit", head_fusion="mean",
                      discard_ratio=0.0):
    """Attention rollout (see the module docstring). One forward pass; no gradient."""
    attentions, logits = attention_maps(model, x)
    matrix = rollout(attentions, head_fusion, discard_ratio)
    return Explanation(class_row(matrix, patch_grid(model)), resolve_target(logits, target))


@saliency_method
def raw_attention(model, x, target=None, score="logit", head_fusion="mean"):
    """The last block's attention of the class token to each patch. One forward pass."""
    attentions, logits = attention_maps(model, x)
    matrix = fuse_heads(attentions[-1], head_fusion)
    return Explanation(class_row(matrix, patch_grid(model)), resolve_target(logits, target))


def last_attention_input(model):
    """The default layer of token_gradcam: the norm1 of the last pre-norm
    TransformerEncoderLayer, whose output is what the last block's attention reads."""
    blocks = [m for m in model.modules() if isinstance(m, TransformerEncoderLayer)]
    if not blocks or not blocks[-1].norm_first:
        raise ValueError(f"{type(model).__name__}: token_gradcam's default layer is the norm1 "
                         f"of the last pre-norm TransformerEncoderLayer (norm_first=True); "
                         f"pass layer= a module whose output is the tokens (N, T, D)")
    return blocks[-1].norm1


@saliency_method
def token_gradcam(model, x, target=None, score="logit", layer=None):
    """Grad-CAM on the patch tokens (see the module docstring). One forward, one backward."""
    module = last_attention_input(model) if layer is None else resolve_layer(model, layer)
    tokens, gradients, target = layer_gradient(model, x, module, target, score)
    if tokens.ndim != 3:
        raise ValueError(f"token_gradcam: the layer's output must be tokens (N, T, D), got "
                         f"{tokens.shape}")
    grid = patch_grid(model)
    as_maps = [np.swapaxes(a[:, 1:], 1, 2).reshape(a.shape[0], a.shape[2], *grid)
               for a in (tokens, gradients)]                    # (N, D, rows, columns)
    return Explanation(weighted_sum(as_maps[0], gradcam_weights(*as_maps)), target)
