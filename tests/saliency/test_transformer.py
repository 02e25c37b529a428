"""Attention rollout, raw attention and token Grad-CAM: known answers on hand-built attention, and
the methods end to end on a small ViT through explain()."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.models import tiny_vit
from minigrad.saliency import explain
from minigrad.saliency.transformer import attention_maps, fuse_heads, rollout


def _random_attention(rng, N, H, T):
    logits = rng.standard_normal((N, H, T, T))
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard_ratio", [0.0, 0.5])
def test_rollout_rows_sum_to_one_at_every_step(fusion, discard_ratio):
    rng = np.random.default_rng(0)
    attentions = [_random_attention(rng, 2, 3, 5) for _ in range(4)]
    steps = rollout(attentions, fusion, discard_ratio, return_steps=True)
    assert len(steps) == 4
    for step in steps:
        np.testing.assert_allclose(step.sum(axis=-1), 1.0, rtol=1e-12)
        assert (step >= 0).all()


def test_rollout_of_identity_attention_is_the_identity():
    eye = np.broadcast_to(np.eye(6), (2, 4, 6, 6))
    np.testing.assert_allclose(rollout([eye, eye, eye]), np.broadcast_to(np.eye(6), (2, 6, 6)))


def test_two_blocks_match_the_product_written_out():
    A1 = np.array([[0.5, 0.5, 0.0], [0.2, 0.2, 0.6], [0.0, 1.0, 0.0]])
    A2 = np.array([[0.1, 0.3, 0.6], [1.0, 0.0, 0.0], [0.3, 0.3, 0.4]])
    # two heads whose mean is A1 (A2): the head fusion is part of the answer
    heads1 = np.stack([A1 + 0.1 * np.array([[1, -1, 0]] * 3), A1 - 0.1 * np.array([[1, -1, 0]] * 3)])
    heads2 = np.stack([A2, A2])
    I = np.eye(3)
    B1, B2 = (A1 + I) / 2, (A2 + I) / 2            # rows already sum to 1 here
    expected = B2 @ B1                             # the later block on the left
    np.testing.assert_allclose(rollout([heads1[None], heads2[None]])[0], expected, rtol=1e-12)
    np.testing.assert_allclose(rollout([heads1[None], heads2[None]], "max")[0],
                               (np.maximum(heads2[0], heads2[1]) + I) / 2
                               @ (np.maximum(heads1[0], heads1[1]) + I)
                               / (np.maximum(heads1[0], heads1[1]) + I).sum(1, keepdims=True),
                               rtol=1e-12)


def test_discard_ratio_zeroes_the_weakest_links_but_keeps_the_class_tokens_own():
    A = np.array([[[[0.05, 0.9, 0.05], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]]]])
    # 9 entries, ratio 0.34 -> the 3 smallest (0.05, 0.05, 0.1 at [0,0],[0,2],[2,0]); [0,0] is kept
    kept = A[0, 0].copy()
    kept[0, 2] = kept[2, 0] = 0.0
    expected = (kept + np.eye(3)) / 2
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(rollout([A], discard_ratio=0.34)[0], expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"discard_ratio must be in \[0, 1\), got 1.0"):
        rollout([A], discard_ratio=1.0)
    with pytest.raises(ValueError, match="unknown head_fusion 'median'"):
        fuse_heads(A, "median")


@pytest.fixture(scope="module")
def vit_and_images():
    nn.manual_seed(0)
    model = tiny_vit(image_size=12, patch_size=4, embed_dim=8, depth=2, num_heads=2,
                     mlp_dim=8)
    images = np.random.default_rng(0).random((3, 1, 12, 12)).astype(np.float32)
    return model, images


def test_rollout_through_explain_is_the_class_row_of_the_product_of_the_hooked_attention(
        vit_and_images):
    model, images = vit_and_images
    model.eval()
    attentions, _ = attention_maps(model, images)
    assert [a.shape for a in attentions] == [(3, 2, 10, 10)] * 2
    raw = explain(model, images, method="rollout", postprocess=())
    np.testing.assert_allclose(raw, rollout(attentions)[:, 0, 1:].reshape(3, 3, 3), rtol=1e-6)
    last = explain(model, images, method="attention", head_fusion="max", postprocess=())
    np.testing.assert_allclose(last, attentions[-1].max(axis=1)[:, 0, 1:].reshape(3, 3, 3))
    maps = explain(model, images, method="rollout")
    assert maps.shape == (3, 12, 12) and maps.max() == pytest.approx(1.0)


def test_token_gradcam_is_gradcam_on_the_patch_tokens_of_the_last_blocks_norm1(vit_and_images):
    model, images = vit_and_images
    seen = {}

    def keep(module, inputs, out):               # returns None: the output stays as it is
        out.retain_grad()
        seen["tokens"] = out

    raw = explain(model, images, target=[1, 2, 3], method="token_gradcam", postprocess=())
    handle = model.blocks[1].norm1.register_forward_hook(keep)
    # the same by hand: one forward with the hook, the gradient of the target logits
    x = mg.tensor(images, requires_grad=True)
    logits = model.eval()(x)
    handle.remove()
    (logits * np.eye(10)[[1, 2, 3]]).sum().backward()
    tokens, grads = seen["tokens"].data[:, 1:], seen["tokens"].grad[:, 1:]     # (N, 9, 8)
    expected = (tokens * grads.mean(axis=1, keepdims=True)).sum(axis=2).reshape(3, 3, 3)
    np.testing.assert_allclose(raw, expected, rtol=1e-5, atol=1e-7)
    assert np.abs(raw).max() > 0


def test_class_agnostic_methods_refuse_a_score_and_cnn_models_are_told_what_is_missing():
    nn.manual_seed(0)
    model = tiny_vit(image_size=8, patch_size=4, embed_dim=4, depth=1, num_heads=1, mlp_dim=4)
    images = np.zeros((1, 1, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="which no score changes"):
        explain(model, images, method="rollout", score="prob")
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(72, 3))
    with pytest.raises(ValueError, match="has no MultiheadAttention layer"):
        explain(cnn, images, method="rollout")
