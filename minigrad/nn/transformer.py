"""Transformer layers: multi-head attention, the encoder layer, and the pieces of a vision
transformer (patch embedding, class token, learned position embeddings).

    MultiheadAttention       torch.nn.MultiheadAttention: signature, state-dict names
                             (in_proj_weight, in_proj_bias, out_proj.*), returned weights;
                             plus head_drop=p, which drops whole heads in training
    TransformerEncoderLayer  torch.nn.TransformerEncoderLayer (self_attn, linear1, linear2,
                             norm1, norm2); norm_first=True is the pre-norm block of ViT
    PatchEmbedding           (N, C, H, W) -> (N, patches, D): a Conv2d with stride = kernel
    ClassToken               prepends one learned token: (N, P, D) -> (N, 1 + P, D)
    PositionEmbedding        adds a learned vector per position: (N, T, D) -> (N, T, D)

Tokens are (N, T, D) with batch_first=True, (T, N, D) otherwise (PyTorch's default, kept).
The CNN attention blocks (SE, CBAM) are in nn/attention.py.
"""
import numpy as np

from minigrad import functional as F
from minigrad.tensor import as_array
from minigrad.nn import init
from minigrad.nn.layers import Conv2d, Dropout, GELU, LayerNorm, Linear, ReLU, _positive_int
from minigrad.nn.module import Module, Parameter
from minigrad.ops.attention import attention


class MultiheadAttention(Module):
    """Multi-head attention, as torch.nn.MultiheadAttention:

        head_i = softmax(Q_i K_i^T / sqrt(d) + mask) V_i,   Q_i = query W_q,i + b_q,i (same K, V)
        out    = concat(head_1 .. head_h) W_o^T + b_o              d = embed_dim / num_heads

    in_proj_weight (3E, E) stacks W_q, W_k, W_v (xavier-uniform; in_proj_bias zeros); out_proj is
    a Linear(E, E) with zero bias. forward returns (out, weights): weights (N, L, S) averaged
    over the heads, (N, H, L, S) with average_attn_weights=False, or None with need_weights=False.
    Masks follow MultiheadAttention's convention: a boolean True means *may not* attend.

    Keyword-only, beyond PyTorch: head_drop=p zeroes each head's output (per sample) with
    probability p in training and scales the kept ones by 1 / (1 - p), like inverted dropout on
    whole heads; eval is unaffected. The kept heads of the last training forward are in
    `kept_heads` (N, H) bool. seed: this layer's own random stream for head and attention
    dropout (None: the generator of `minigrad.manual_seed`). `head_mask`, an (H,) array of 0s
    and 1s or None, multiplies the heads' outputs in training and eval alike, with no rescaling:
    set it to silence chosen heads at test time.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, *, batch_first=False,
                 head_drop=0.0, seed=None):
        super().__init__()
        embed_dim = _positive_int(embed_dim, "embed_dim", "MultiheadAttention")
        num_heads = _positive_int(num_heads, "num_heads", "MultiheadAttention")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads} (each head gets embed_dim / num_heads "
                             f"features)")
        for name, p in (("dropout", dropout), ("head_drop", head_drop)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"MultiheadAttention: {name} must be in [0, 1), got {p}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first, self.head_drop = dropout, batch_first, head_drop
        self.in_proj_weight = init.xavier_uniform_(
            Parameter(np.empty((3 * embed_dim, embed_dim), dtype=np.float32)))
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype=np.float32)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        if bias:
            init.zeros_(self.out_proj.bias)
        self.rng = None if seed is None else np.random.default_rng(seed)
        self.head_mask, self.kept_heads = None, None

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        self._check_inputs(query, key, value)
        if not self.batch_first:                       # (L, N, E) -> (N, L, E)
            query, key, value = (F.transpose(t, 0, 1) for t in (query, key, value))
        N, L, E = query.shape
        q, k, v = (self._split_heads(self._project(t, i)) for i, t in enumerate((query, key,
                                                                                  value)))
        mask = self._mask(attn_mask, key_padding_mask, is_causal, N, L, key.shape[1], q.dtype)
        rng = self.rng if self.rng is not None else init.generator()
        heads, weights = attention(q, k, v, mask, self.dropout if self.training else 0.0,
                                   rng=rng)                                    # (N, H, L, d)
        scale = self._head_scale(N, heads.dtype, rng)
        heads = heads if scale is None else heads * scale
        out = self.out_proj(F.transpose(heads, 1, 2).reshape(N, L, E))        # (N, L, E)
        if not self.batch_first:
            out = F.transpose(out, 0, 1)
        if not need_weights:
            return out, None
        return out, (weights.mean(axis=1) if average_attn_weights else weights)

    def _project(self, x, i):
        """x W_i^T + b_i with the i-th (E, E) block of in_proj_weight: 0 query, 1 key, 2 value."""
        rows = slice(i * self.embed_dim, (i + 1) * self.embed_dim)
        bias = None if self.in_proj_bias is None else self.in_proj_bias[rows]
        return F.linear(x, self.in_proj_weight[rows], bias)

    def _split_heads(self, x):
        """(N, L, E) -> (N, H, L, d): head i takes features i*d .. (i+1)*d - 1."""
        N, L, _ = x.shape
        return F.transpose(x.reshape(N, L, self.num_heads, self.head_dim), 1, 2)

    def _head_scale(self, N, dtype, rng):
        """(N, H, 1, 1) factors for the heads' outputs (head dropout, head_mask), or None."""
        scale = None
        if self.training and self.head_drop > 0:
            self.kept_heads = rng.random((N, self.num_heads)) >= self.head_drop
            scale = self.kept_heads / (1.0 - self.head_drop)
        if self.head_mask is not None:
            head_mask = np.asarray(self.head_mask, dtype=dtype)
            if head_mask.shape != (self.num_heads,):
                raise ValueError(f"{self!r}: head_mask must have shape ({self.num_heads},), got "
                                 f"{head_mask.shape}")
            scale = head_mask[None] if scale is None else scale * head_mask
        return None if scale is None else scale.astype(dtype)[:, :, None, None]

    def _mask(self, attn_mask, key_padding_mask, is_causal, N, L, S, dtype):
        """One additive float mask (N or 1, H or 1, L, S) from PyTorch's masks, or None."""
        if is_causal and attn_mask is None:
            attn_mask = ~np.tril(np.ones((L, S), dtype=bool))
        mask = None
        if attn_mask is not None:
            a = _additive(attn_mask, dtype)
            if a.shape == (N * self.num_heads, L, S):       # PyTorch's per-head 3-D mask
                a = a.reshape(N, self.num_heads, L, S)
            elif a.shape != (L, S):
                raise ValueError(f"{self!r}: attn_mask must have shape ({L}, {S}) or "
                                 f"({N * self.num_heads}, {L}, {S}), got {a.shape}")
            mask = a
        if key_padding_mask is not None:
            pad = _additive(key_padding_mask, dtype)
            if pad.shape != (N, S):
                raise ValueError(f"{self!r}: key_padding_mask must have shape (N, S) = "
                                 f"({N}, {S}), got {pad.shape}")
            pad = pad[:, None, None, :]
            mask = pad if mask is None else mask + pad
        return mask

    def _check_inputs(self, query, key, value):
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        for name, t in (("query", query), ("key", key), ("value", value)):
            if t.ndim != 3 or t.shape[-1] != self.embed_dim:
                raise ValueError(f"{self!r}: expected {name} of shape {layout} with E = "
                                 f"{self.embed_dim}, got {t.shape}")
        batch = 0 if self.batch_first else 1
        if not query.shape[batch] == key.shape[batch] == value.shape[batch]:
            raise ValueError(f"{self!r}: query, key and value must have the same batch size, "
                             f"got shapes {query.shape}, {key.shape}, {value.shape}")
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(f"{self!r}: key and value must have the same length, got shapes "
                             f"{key.shape} and {value.shape}")

    def extra_repr(self):
        extra = f", head_drop={self.head_drop}" if self.head_drop else ""
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, " \
               f"dropout={self.dropout}, batch_first={self.batch_first}{extra}"


def _additive(mask, dtype):
    """A MultiheadAttention mask as an additive float array: boolean True -> -inf (may not
    attend), False -> 0; a float mask is added as it is."""
    mask = as_array(mask)
    if mask.dtype == bool:
        return np.where(mask, -np.inf, 0.0).astype(dtype)
    if not np.issubdtype(mask.dtype, np.floating):
        raise TypeError(f"MultiheadAttention: a mask must be boolean or floating, got dtype "
                        f"{mask.dtype}")
    return mask.astype(dtype)


ACTIVATIONS = {"relu": ReLU, "gelu": GELU}


class TransformerEncoderLayer(Module):
    """Self-attention then a two-layer MLP, each in a residual branch, as
    torch.nn.TransformerEncoderLayer (same arguments and state-dict names):

        norm_first=False (post-norm):  x = norm1(x + sa(x));         x = norm2(x + ff(x))
        norm_first=True  (pre-norm):   x = x + sa(norm1(x));         x = x + ff(norm2(x))
        sa(x) = dropout1(self_attn(x, x, x)),  ff(x) = dropout2(linear2(dropout(act(linear1(x)))))

    Pre-norm (ViT's) keeps an identity path from input to output, which trains deep stacks
    without warm-up tricks. activation: 'relu', 'gelu' or a callable. Keyword-only: head_drop
    and seed go to self_attn (see MultiheadAttention). Unlike PyTorch, self_attn is asked for
    its per-head weights (need_weights=True, average_attn_weights=False), so that a forward
    hook on it sees them (attention rollout); the output is the same.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True, *,
                 head_drop=0.0, seed=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias,
                                            batch_first=batch_first, head_drop=head_drop,
                                            seed=seed)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        if isinstance(activation, str):
            if activation not in ACTIVATIONS:
                raise ValueError(f"TransformerEncoderLayer: activation must be one of "
                                 f"{sorted(ACTIVATIONS)} or a callable, got {activation!r}")
            activation = ACTIVATIONS[activation]()
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        out, _ = self.self_attn(x, x, x, key_padding_mask, True, attn_mask, False, is_causal)
        return self.dropout1(out)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class PatchEmbedding(Module):
    """Cut an image into patch_size x patch_size patches and map each to a D-vector:
    (N, C, H, W) -> (N, (H / p) * (W / p), D), patches in row-major order. One Conv2d with
    kernel = stride = patch_size (torchvision's conv_proj): a Linear on each flattened patch.
    `grid` is (H / p, W / p), the shape a map over the patches reshapes to."""

    def __init__(self, image_size, patch_size, in_channels, embed_dim):
        super().__init__()
        self.image_size = _pair(image_size, "image_size")
        self.patch_size = _positive_int(patch_size, "patch_size", "PatchEmbedding")
        if any(side % self.patch_size for side in self.image_size):
            raise ValueError(f"PatchEmbedding: image size {self.image_size} is not divisible "
                             f"by the patch size {self.patch_size}")
        self.grid = tuple(side // self.patch_size for side in self.image_size)
        self.num_patches = self.grid[0] * self.grid[1]
        self.proj = Conv2d(in_channels, embed_dim, self.patch_size, stride=self.patch_size)

    def forward(self, x):
        if x.ndim != 4 or x.shape[2:] != self.image_size:
            raise ValueError(f"{self!r}: expected images (N, C, {self.image_size[0]}, "
                             f"{self.image_size[1]}), got {x.shape}")
        patches = self.proj(x)                                  # (N, D, H / p, W / p)
        return F.transpose(patches.flatten(2), 1, 2)            # (N, P, D)

    def extra_repr(self):
        return f"image_size={self.image_size}, patch_size={self.patch_size}, grid={self.grid}"


def _pair(value, name):
    value = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    return tuple(_positive_int(v, name, "PatchEmbedding") for v in value)


class ClassToken(Module):
    """Prepend one learned token (initially zero, as torchvision's) to every sequence:
    (N, P, D) -> (N, 1 + P, D). A classifier reads its output at the end (position 0)."""

    def __init__(self, embed_dim):
        super().__init__()
        self.token = Parameter(np.zeros((1, 1, embed_dim), dtype=np.float32))

    def forward(self, x):
        if x.ndim != 3 or x.shape[2] != self.token.shape[2]:
            raise ValueError(f"{self!r}: expected tokens (N, P, {self.token.shape[2]}), got "
                             f"{x.shape}")
        # adding zeros broadcasts the token to the batch; backward sums its N gradients
        token = self.token + np.zeros((x.shape[0], 1, 1), dtype=x.dtype)
        return F.cat([token, x], dim=1)


class PositionEmbedding(Module):
    """Add a learned vector to each position: (N, T, D) + weight (1, T, D), weight ~ N(0, 0.02^2)
    as in torchvision's ViT. Without it, attention could not tell one patch from another."""

    def __init__(self, num_tokens, embed_dim):
        super().__init__()
        self.weight = init.normal_(Parameter(np.empty((1, num_tokens, embed_dim),
                                                      dtype=np.float32)), std=0.02)

    def forward(self, x):
        if x.ndim != 3 or x.shape[1:] != self.weight.shape[1:]:
            raise ValueError(f"{self!r}: expected tokens (N, {self.weight.shape[1]}, "
                             f"{self.weight.shape[2]}), got {x.shape}: the sequence length must "
                             f"match the position embedding's {self.weight.shape[1]} positions")
        return x + self.weight

    def extra_repr(self):
        return f"num_tokens={self.weight.shape[1]}, embed_dim={self.weight.shape[2]}"


__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "PatchEmbedding", "ClassToken",
           "PositionEmbedding"]
