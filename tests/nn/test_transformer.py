"""The transformer layers: PyTorch's names, outputs and gradients; head dropout; the ViT pieces'
errors; numerical gradients of a whole encoder layer."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.models import tiny_vit
from minigrad.testing import assert_gradients_match
from tests.helpers import torch_or_skip


def _tokens(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _copy_into_torch(ours, theirs, torch):
    missing = theirs.load_state_dict({k: torch.from_numpy(np.array(v))
                                      for k, v in ours.state_dict().items()}, strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_matches_torch_forward_backward_and_weights(batch_first):
    torch = torch_or_skip()
    ours = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first)
    _copy_into_torch(ours, theirs, torch)
    q, kv = _tokens((3, 5, 8) if batch_first else (5, 3, 8)), _tokens((3, 4, 8) if batch_first
                                                                      else (4, 3, 8), 1)
    pad = np.zeros((3, 4), dtype=bool)
    pad[0, 3] = True                                          # sample 0 ignores its last key
    for average in (True, False):
        qt, kvt = torch.tensor(q, requires_grad=True), torch.tensor(kv, requires_grad=True)
        out_t, w_t = theirs(qt, kvt, kvt, key_padding_mask=torch.from_numpy(pad),
                            average_attn_weights=average)
        (out_t.sum() + (w_t * w_t).sum()).backward()
        qm, kvm = mg.tensor(q, requires_grad=True), mg.tensor(kv, requires_grad=True)
        out_m, w_m = ours(qm, kvm, kvm, key_padding_mask=pad, average_attn_weights=average)
        (out_m.sum() + (w_m * w_m).sum()).backward()
        np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(w_m.data, w_t.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(qm.grad, qt.grad.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(kvm.grad, kvt.grad.numpy(), rtol=1e-4, atol=1e-5)
        for name, param in ours.named_parameters():
            np.testing.assert_allclose(param.grad, dict(theirs.named_parameters())[name].grad,
                                       rtol=1e-4, atol=1e-5, err_msg=name)
            param.grad = None
        theirs.zero_grad()


@pytest.mark.parametrize("norm_first, activation", [(True, "gelu"), (False, "relu")])
def test_encoder_layer_state_dict_loads_both_ways_and_matches_torch(norm_first, activation):
    torch = torch_or_skip()
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, 0.0, activation, batch_first=True,
                                              norm_first=norm_first)
    ours = nn.TransformerEncoderLayer(8, 2, 16, 0.0, activation, batch_first=True,
                                      norm_first=norm_first)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())   # same names, same order
    _copy_into_torch(ours, theirs, torch)                          # and back again
    src = _tokens((2, 6, 8))
    mask = np.triu(np.ones((6, 6), dtype=bool), 1)                 # True: may not attend
    st = torch.tensor(src, requires_grad=True)
    theirs.eval()                   # (eval: torch's fast path and ours must agree there too)
    out_t = theirs(st, src_mask=torch.from_numpy(mask))
    (out_t * out_t).sum().backward()
    sm = mg.tensor(src, requires_grad=True)
    out_m = ours.eval()(sm, src_mask=mask)
    (out_m * out_m).sum().backward()
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sm.grad, st.grad.numpy(), rtol=1e-4, atol=1e-4)
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad, dict(theirs.named_parameters())[name].grad,
                                   rtol=1e-4, atol=1e-4, err_msg=name)


def test_encoder_layer_gradients_match_numerical_ones():
    nn.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, 6, 0.0, "gelu", batch_first=True,
                                       norm_first=True).double().eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    assert_gradients_match(lambda t: layer(t), x)
    params = [p for _, p in layer.named_parameters()]
    assert_gradients_match(lambda w, b: nn.MultiheadAttention.forward(
        _with(layer.self_attn, in_proj_weight=w, in_proj_bias=b), mg.tensor(x), mg.tensor(x),
        mg.tensor(x))[0], params[0].data, params[1].data)


def _with(module, **parameters):
    for name, value in parameters.items():
        setattr(module, name, value)
    return module


def test_head_dropout_is_the_identity_in_eval_and_reproducible_with_a_seed_in_training():
    x = mg.tensor(_tokens((4, 5, 8)))
    nn.manual_seed(0)
    plain = nn.MultiheadAttention(8, 4, batch_first=True).eval()
    nn.manual_seed(0)
    dropping = nn.MultiheadAttention(8, 4, batch_first=True, head_drop=0.5, seed=3).eval()
    np.testing.assert_array_equal(dropping(x, x, x)[0].data, plain(x, x, x)[0].data)

    runs = []
    for _ in range(2):
        nn.manual_seed(0)
        layer = nn.MultiheadAttention(8, 4, batch_first=True, head_drop=0.5, seed=3).train()
        runs.append((layer(x, x, x)[0].data, layer.kept_heads.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][1].shape == (4, 4) and 0 < runs[0][1].sum() < 16   # some heads, not all


def test_head_dropout_zeroes_whole_heads_and_rescales_the_rest():
    nn.manual_seed(0)
    layer = nn.MultiheadAttention(8, 4, batch_first=True, head_drop=0.5, seed=1).train()
    seen = {}
    layer.out_proj.register_forward_hook(lambda m, inputs, out: seen.update(heads=inputs[0]))
    x = mg.tensor(_tokens((3, 5, 8)))
    layer(x, x, x)
    dropped = seen["heads"].data.reshape(3, 5, 4, 2)              # (N, L, H, head_dim)
    layer.eval()
    layer(x, x, x)
    full = seen["heads"].data.reshape(3, 5, 4, 2)
    kept = layer.kept_heads[:, None, :, None]
    np.testing.assert_allclose(dropped, np.where(kept, full * 2.0, 0.0), rtol=1e-6)


def test_head_mask_silences_a_head_in_eval():
    nn.manual_seed(0)
    layer = nn.MultiheadAttention(8, 4, batch_first=True).eval()
    seen = {}
    layer.out_proj.register_forward_hook(lambda m, inputs, out: seen.update(heads=inputs[0]))
    x = mg.tensor(_tokens((2, 3, 8)))
    full = layer(x, x, x)[0].data
    layer.head_mask = np.array([1, 0, 1, 1])
    masked = layer(x, x, x)[0].data
    heads = seen["heads"].data.reshape(2, 3, 4, 2)
    assert not np.allclose(masked, full)
    np.testing.assert_array_equal(heads[:, :, 1], 0.0)


def test_bad_sizes_get_errors_that_name_them():
    with pytest.raises(ValueError, match="embed_dim 10 must be divisible by num_heads 4"):
        nn.MultiheadAttention(10, 4)
    with pytest.raises(ValueError, match=r"image size \(30, 30\) is not divisible by the patch "
                                         r"size 4"):
        tiny_vit(image_size=30, patch_size=4)
    position = nn.PositionEmbedding(17, 8)
    with pytest.raises(ValueError, match=r"sequence length must match the position "
                                         r"embedding's 17 positions"):
        position(mg.tensor(np.zeros((2, 50, 8), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"expected images \(N, C, 28, 28\), got \(1, 1, 32, 32\)"):
        tiny_vit()(mg.tensor(np.zeros((1, 1, 32, 32), dtype=np.float32)))
    attention = nn.MultiheadAttention(8, 2, batch_first=True)
    with pytest.raises(ValueError, match=r"expected query of shape \(N, L, E\) with E = 8, got "
                                         r"\(2, 3, 6\)"):
        x = mg.tensor(np.zeros((2, 3, 6), dtype=np.float32))
        attention(x, x, x)


def test_layer_norm_and_gelu_layers_match_torch():
    torch = torch_or_skip()
    x = _tokens((2, 3, 4))
    norm = nn.LayerNorm((3, 4), eps=1e-6)
    norm.weight.data[:] = _tokens((3, 4), 1)
    reference = torch.nn.LayerNorm((3, 4), eps=1e-6)
    _copy_into_torch(norm, reference, torch)
    expected = torch.nn.GELU("tanh")(reference(torch.from_numpy(x))).detach().numpy()
    np.testing.assert_allclose(nn.GELU("tanh")(norm(mg.tensor(x))).data, expected, rtol=1e-5,
                               atol=1e-6)
    assert nn.LayerNorm(4, bias=False).bias is None
