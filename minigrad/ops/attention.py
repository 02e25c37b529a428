"""Scaled dot-product attention (Vaswani et al. 2017, "Attention is all you need"):

    A   = softmax(Q K^T * scale + mask)       Q (..., L, E), K (..., S, E) -> A (..., L, S)
    out = A V                                 V (..., S, Ev)               -> out (..., L, Ev)

Row l of A says how much query l takes from each of the S values; scale = 1 / sqrt(E) keeps the
scores' variance near 1 whatever E is, so the softmax does not saturate. The mask is added to the
scores: -inf where a query may not look (its weight becomes exactly 0), 0 elsewhere.

Built from matmul, softmax and dropout, so its backward is theirs, by the chain rule:

    dV = A^T dout,   dA = dout V^T,   dS = A * (dA - sum_s(dA * A))   (softmax's backward),
    dQ = dS K * scale,   dK = dS^T Q * scale

No Function of its own, then: a reader checks one formula here against ops that are each tested.
"""
import numpy as np

from minigrad.ops._args import as_array
from minigrad.ops.activation import softmax
from minigrad.ops.linalg import matmul
from minigrad.ops.norm import dropout
from minigrad.ops.shape import transpose


def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
              *, rng=None):
    """scaled_dot_product_attention that also returns the weights: -> (out, A), A (..., L, S)
    after dropout, as torch.nn.MultiheadAttention returns them."""
    q, k, v = as_array(query), as_array(key), as_array(value)
    _check_shapes(q.shape, k.shape, v.shape)
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = matmul(query, transpose(key, -2, -1)) * scale            # (..., L, S)
    mask = _additive_mask(attn_mask, is_causal, q.shape[-2], k.shape[-2], q.dtype)
    if mask is not None:
        scores = scores + mask
    weights = softmax(scores, dim=-1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, rng=rng)
    return matmul(weights, value), weights                            # (..., L, Ev)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, *, rng=None):
    """softmax(Q K^T * scale + mask) V, as torch.nn.functional.scaled_dot_product_attention.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); the leading axes
    (batch, heads) broadcast. attn_mask: broadcastable to (..., L, S), either boolean (True: may
    attend, PyTorch's convention here -- the opposite of MultiheadAttention's) or float (added
    to the scores). is_causal: query l sees keys 0..l only (no attn_mask then). dropout_p: on
    the weights, whenever > 0 (as PyTorch: pass 0 in eval). rng: of the dropout (keyword-only).
    """
    return attention(query, key, value, attn_mask, dropout_p, is_causal, scale, rng=rng)[0]


def _check_shapes(q, k, v):
    if min(len(q), len(k), len(v)) < 2:
        raise ValueError(f"scaled_dot_product_attention: query, key and value need at least 2 "
                         f"dimensions (..., length, features), got {q}, {k} and {v}")
    if q[-1] != k[-1]:
        raise ValueError(f"scaled_dot_product_attention: query and key must have the same "
                         f"number of features, got query {q} and key {k}")
    if k[-2] != v[-2]:
        raise ValueError(f"scaled_dot_product_attention: key and value must have the same "
                         f"length (axis -2), got key {k} and value {v}")


def _additive_mask(attn_mask, is_causal, L, S, dtype):
    """The mask as a float array to add to the scores (0 or -inf for a boolean one), or None."""
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal=True, "
                             "not both")
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    if attn_mask is None:
        return None
    mask = as_array(attn_mask)
    try:
        np.broadcast_shapes(mask.shape, (L, S))
    except ValueError:
        raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {mask.shape} does "
                         f"not broadcast to the scores (..., {L}, {S})") from None
    if mask.dtype == bool:
        return np.where(mask, 0.0, -np.inf).astype(dtype)
    if not np.issubdtype(mask.dtype, np.floating):
        raise TypeError(f"scaled_dot_product_attention: attn_mask must be boolean or floating, "
                        f"got dtype {mask.dtype}")
    return attn_mask
