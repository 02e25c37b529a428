"""Each saliency method against its paper's formula, computed independently in torch autograd
on the same network with the same weights (float64)."""
import numpy as np
import pytest

from minigrad import saliency

torch = pytest.importorskip("torch")


def torch_twin(model):
    """The small_cnn fixture rebuilt in torch, with minigrad's weights copied in."""
    twin = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3, padding=1),
                               torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(6 * 4 * 4, 5)).double()
    ours = dict(model.named_parameters())
    with torch.no_grad():
        for name, param in twin.named_parameters():
            param.copy_(torch.from_numpy(np.asarray(ours[name].data)))
    return twin


def raw(model, x, method, target):
    return saliency.explain(model, x, target=target, method=method, postprocess=())


def input_grad(twin, x, target):
    inputs = torch.from_numpy(x).requires_grad_()
    twin(inputs)[torch.arange(len(x)), torch.from_numpy(target)].sum().backward()
    return inputs.grad.numpy()


def layer_grad(twin, x, target):
    """A (the last ReLU's output, minigrad's default layer) and dS_c/dA."""
    features = twin[:5](torch.from_numpy(x))
    features.retain_grad()
    twin[5:](features)[torch.arange(len(x)), torch.from_numpy(target)].sum().backward()
    return features.detach().numpy(), features.grad.numpy()


@pytest.fixture
def case(small_cnn, rng):
    x = rng.normal(size=(2, 3, 8, 8))
    return small_cnn, torch_twin(small_cnn), x, np.array([1, 3])


def test_vanilla_and_grad_x_input(case):
    model, twin, x, target = case
    gradient = input_grad(twin, x, target)
    np.testing.assert_allclose(raw(model, x, "vanilla", target), np.abs(gradient).max(axis=1),
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(raw(model, x, "grad_x_input", target), (x * gradient).sum(axis=1),
                               rtol=1e-10, atol=1e-14)


def test_gradcam_and_hirescam(case):
    model, twin, x, target = case
    a, g = layer_grad(twin, x, target)
    np.testing.assert_allclose(raw(model, x, "gradcam", target),
                               (g.mean(axis=(2, 3), keepdims=True) * a).sum(axis=1),
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(raw(model, x, "hirescam", target), (g * a).sum(axis=1),
                               rtol=1e-10, atol=1e-14)
