"""Gradients of gradients (#30): backward(create_graph=True), autograd.grad, gradgradcheck.

Known answers: torch.autograd.grad(..., create_graph=True) for every op with a second-order rule
(tests/second_order_cases.py) and for Hessian-vector products of a small MLP and CNN; closed
forms; central differences of the first derivative (gradgradcheck, with hypothesis); and the
refusal of an op without a rule.
"""
import numpy as np
import pytest
from hypothesis import given, settings

import minigrad as mg
from minigrad import functional as F
from minigrad import nn
from minigrad.autograd import grad
from minigrad.function import Function
from minigrad.gradcheck import GradcheckError, gradgradcheck
from minigrad.testing import arrays, assert_second_gradients_match
from tests.helpers import leaf, torch_or_skip
from tests.second_order_cases import CASES

TIGHT = dict(rtol=1e-9, atol=1e-12)


@pytest.fixture
def rng():
    return np.random.default_rng(30)


def _double_backward(grad_fn, tensors, output, w, v, zeros_like):
    """(dL/dx, d(dL/dx . v)/dx) for L = sum(output * w), one per tensor (zeros where unused)."""
    firsts = grad_fn(output, tensors, w, create_graph=True, allow_unused=True)
    firsts = [zeros_like(t) if g is None else g for t, g in zip(tensors, firsts)]
    directional = sum((g * vi).sum() for g, vi in zip(firsts, v))
    if not directional.requires_grad:          # the first derivatives are constants
        return firsts, [zeros_like(t) for t in tensors]
    seconds = grad_fn(directional, tensors, allow_unused=True)
    return firsts, [zeros_like(t) if g is None else g for t, g in zip(tensors, seconds)]


def ours_and_torchs(case, arrays_in, seed=0):
    torch = torch_or_skip()
    rng = np.random.default_rng(seed)
    mine = [leaf(a) for a in arrays_in]
    output = case.ours(*mine)
    w = rng.standard_normal(output.shape)
    v = [rng.standard_normal(a.shape) for a in arrays_in]
    ours = _double_backward(grad, mine, output, mg.tensor(w), [mg.tensor(x) for x in v],
                            lambda t: mg.zeros(t.shape, dtype=t.dtype))
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays_in]
    theirs_out = case.theirs(torch, *theirs_in)
    theirs = _double_backward(torch.autograd.grad, theirs_in, theirs_out, torch.from_numpy(w),
                              [torch.from_numpy(x) for x in v], torch.zeros_like)
    np.testing.assert_allclose(output.data, theirs_out.detach().numpy(), **TIGHT)
    return ours, theirs


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_second_derivatives_match_torch(case):
    @settings(max_examples=3)
    @given(case.inputs)
    def check(arrays_in):
        ours, theirs = ours_and_torchs(case, arrays_in)
        for order, mine, their in zip(("first", "second"), ours, theirs):
            for i, (a, b) in enumerate(zip(mine, their)):
                np.testing.assert_allclose(a.data, b.detach().numpy(force=True), **TIGHT,
                                           err_msg=f"{case.name}: {order} derivative, input {i}")
    check()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_gradgradcheck(case):
    @settings(max_examples=6)
    @given(case.inputs)
    def check(arrays_in):
        assert_second_gradients_match(case.ours, *arrays_in)
    check()


# ----- closed forms ------------------------------------------------------------------------------
@given(arrays(max_value=2.0, min_value=-2.0))
def test_second_derivative_of_a_quartic(x):
    """d2/dx2 (x**4 - 2 x**2) = 12 x**2 - 4, element by element."""
    t = leaf(x)
    first, = grad((t ** 4 - 2 * t ** 2).sum(), t, create_graph=True)
    np.testing.assert_allclose(first.data, 4 * x ** 3 - 4 * x, rtol=1e-12, atol=1e-12)
    second, = grad(first.sum(), t)
    np.testing.assert_allclose(second.data, 12 * x ** 2 - 4, rtol=1e-12, atol=1e-12)


def hessian(f, x):
    """The full Hessian of a scalar f at the vector x, one double backward per row."""
    t = leaf(x)
    first, = grad(f(t), t, create_graph=True)
    return np.stack([grad(first[i], t, retain_graph=True)[0].data for i in range(len(x))])


def test_hessian_of_a_quadratic_form_is_a_plus_a_transposed(rng):
    a = rng.standard_normal((4, 4))
    np.testing.assert_allclose(hessian(lambda x: x @ (mg.tensor(a) @ x), rng.standard_normal(4)),
                               a + a.T, rtol=1e-12, atol=1e-12)


@given(arrays())
def test_tanh_second_derivative(x):
    """tanh'' = -2 tanh (1 - tanh**2)."""
    t = leaf(x)
    first, = grad(F.tanh(t).sum(), t, create_graph=True)
    second, = grad(first.sum(), t)
    y = np.tanh(x)
    np.testing.assert_allclose(second.data, -2 * y * (1 - y ** 2), rtol=1e-10, atol=1e-12)


def test_hessian_of_softmax_cross_entropy_is_diag_p_minus_p_p_transposed(rng):
    logits, label = rng.standard_normal(5), 3
    p = np.exp(logits) / np.exp(logits).sum()
    found = hessian(lambda x: F.cross_entropy(x.reshape(1, 5), np.array([label])), logits)
    np.testing.assert_allclose(found, np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-12)
    # ... and through log_softmax and nll_loss, the same
    found = hessian(lambda x: F.nll_loss(F.log_softmax(x.reshape(1, 5), 1), np.array([label])),
                    logits)
    np.testing.assert_allclose(found, np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-12)


def test_third_derivative_of_exp_of_sin():
    """Higher orders come for free: d3/dx3 exp(sin x) = e^sin (cos^3 - 3 sin cos - cos)."""
    x = leaf([0.3, -1.2])
    d1, = grad(F.exp(F.sin(x)).sum(), x, create_graph=True)
    d2, = grad(d1.sum(), x, create_graph=True)
    d3, = grad(d2.sum(), x)
    s, c = np.sin(x.data), np.cos(x.data)
    np.testing.assert_allclose(d3.data, np.exp(s) * (c ** 3 - 3 * s * c - c), rtol=1e-12)


# ----- Hessian-vector products of an MLP and a CNN against torch -------------------------------
def hessian_vector_products(model, twin, x, labels, rng):
    """d/dparams (dL/dparams . v) for minigrad's model and torch's twin (same weights)."""
    torch = torch_or_skip()
    params = list(model.parameters())
    v = [rng.standard_normal(p.shape) for p in params]
    loss = F.cross_entropy(model(mg.tensor(x)), labels)
    firsts = grad(loss, params, create_graph=True)
    ours = grad(sum((g * vi).sum() for g, vi in zip(firsts, v)), params)
    their_params = list(twin.parameters())
    loss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(labels))
    firsts = torch.autograd.grad(loss, their_params, create_graph=True)
    theirs = torch.autograd.grad(sum((g * torch.from_numpy(vi)).sum()
                                     for g, vi in zip(firsts, v)), their_params)
    for name, a, b in zip([n for n, _ in model.named_parameters()], ours, theirs):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-8, atol=1e-12, err_msg=name)


def copy_weights(model, twin):
    torch = torch_or_skip()
    ours = dict(model.named_parameters())
    with torch.no_grad():
        for name, param in twin.named_parameters():
            param.copy_(torch.from_numpy(np.asarray(ours[name].data)))
    return twin


def test_hessian_vector_product_of_an_mlp_matches_torch(rng):
    torch = torch_or_skip()
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(),
                          nn.Linear(8, 3)).double()
    twin = copy_weights(model, torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Sigmoid(),
        torch.nn.Linear(8, 3)).double())
    hessian_vector_products(model, twin, rng.standard_normal((5, 6)), np.array([0, 2, 1, 1, 0]),
                            rng)


def test_hessian_vector_product_of_a_cnn_matches_torch(rng):
    torch = torch_or_skip()
    layers = lambda m: [m.Conv2d(2, 4, 3, padding=1), m.BatchNorm2d(4), m.Tanh(),  # noqa: E731
                        m.MaxPool2d(2), m.Conv2d(4, 3, 3, stride=2, padding=1), m.ReLU(),
                        m.AvgPool2d(2), m.Flatten(), m.Linear(3, 3)]
    model = nn.Sequential(*layers(nn)).double()
    twin = copy_weights(model, torch.nn.Sequential(*layers(torch.nn)).double())
    hessian_vector_products(model, twin, rng.standard_normal((3, 2, 8, 8)), np.array([0, 2, 1]),
                            rng)


# ----- the engine: backward(create_graph=True) and autograd.grad, as torch's -------------------
def test_backward_with_create_graph_leaves_a_grad_that_carries_a_graph():
    x = leaf([1.0, -2.0])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2)
    first = x.grad
    x.grad = None
    first.sum().backward()                         # the graph was retained by default
    np.testing.assert_allclose(x.grad.data, 6 * x.data)


def test_newton_step_by_backward_twice():
    """DeZero's step 33: x <- x - f'(x) / f''(x) on f = x**4 - 2 x**2 reaches the minimum 1."""
    x = leaf(2.0)
    for _ in range(10):
        x.grad = None
        (x ** 4 - 2 * x ** 2).backward(create_graph=True)
        first = x.grad
        x.grad = None
        first.backward()
        with mg.no_grad():
            x -= first.data / x.grad.data
    assert abs(x.item() - 1.0) < 1e-12


def test_two_leaves_never_share_one_grad_tensor():
    a, b = leaf([1.0]), leaf([2.0])
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    with mg.no_grad():
        a.grad.data[...] = 5
    assert b.grad.data[0] == 1.0


def test_grad_leaves_dot_grad_alone_and_returns_one_gradient_per_input():
    x, y = leaf([1.0, 2.0]), leaf([3.0])
    gx, gy = grad((x * y).sum(), [x, y])
    np.testing.assert_allclose(gx.data, [3.0, 3.0])
    np.testing.assert_allclose(gy.data, [3.0])
    assert x.grad is None and y.grad is None and not gx.requires_grad


def test_grad_of_several_outputs_sums_them_with_their_grad_outputs():
    x = leaf([1.0, 2.0])
    a, b = x * 2, x ** 2
    gx, = grad([a, b], x, [mg.tensor([1.0, 1.0]), mg.tensor([0.5, 2.0])])
    np.testing.assert_allclose(gx.data, 2 + np.array([0.5, 2.0]) * 2 * x.data)


def test_grad_refuses_an_unused_input_unless_allowed():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="input 1 .* was not used"):
        grad((x * 2).sum(), [x, unused])
    gx, none = grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert none is None and gx.data[0] == 2.0


def test_grad_refuses_what_does_not_require_grad():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="input 0 does not require grad"):
        grad((x * 2).sum(), mg.tensor([1.0]))
    with pytest.raises(RuntimeError, match="output 0 does not require grad"):
        grad(mg.tensor([1.0]).sum(), x)
    with pytest.raises(RuntimeError, match="in grad_outputs"):
        grad(mg.tensor([1.0, 2.0]) * x, x)


def test_grad_frees_the_graph_unless_create_graph_or_retain_graph():
    x = leaf([1.0])
    y = (x * x).sum()
    grad(y, x)
    with pytest.raises(RuntimeError, match="a second time"):
        grad(y, x)
    y = (x * x).sum()
    grad(y, x, retain_graph=True)
    assert grad(y, x)[0].data[0] == 2.0


def test_a_constant_gradient_does_not_require_grad_as_in_torch():
    x = leaf([1.0, 2.0])
    g, = grad((3 * x).sum(), x, create_graph=True)
    assert not g.requires_grad
    np.testing.assert_allclose(g.data, [3.0, 3.0])


def test_hooks_see_and_may_replace_a_recorded_gradient():
    """As in torch, the hook also runs when the second backward passes y: g = 2 x y (dL/dy
    replaced by y), and d(sum g)/dx = 2y + 2x (dL/dy = 2x, replaced by 2x y) 2x = [6, 72]."""
    x = leaf([1.0, 2.0])
    y = x * x
    seen = []
    y.register_hook(lambda g: seen.append(g.requires_grad) or g * y)
    g, = grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 2 * x.data ** 3)
    second, = grad(g.sum(), x)
    np.testing.assert_allclose(second.data, [6.0, 72.0])           # torch's numbers
    assert seen == [False, False]


def test_a_gradient_that_requires_grad_is_differentiated_through():
    x, v = leaf([1.0, 2.0]), leaf([3.0, -1.0])
    g, = grad((x ** 2).sum() * 1.0 + 0 * x.sum(), x, create_graph=True)
    (x ** 2).backward(v, create_graph=True)
    gv, = grad(x.grad.sum(), v)                        # d(2 x v)/dv = 2x
    np.testing.assert_allclose(gv.data, 2 * x.data)
    assert g.requires_grad


# ----- refusal: an op without a second-order rule -----------------------------------------------
class Cube(Function):
    """y = x**3;  dL/dx = dL/dy * 3 x**2 (and no second-order rule: a test op)."""

    def forward(self, x):
        self.x = x
        return x ** 3

    def backward(self, grad):
        return grad * 3 * self.x ** 2


def test_an_op_without_a_second_order_rule_is_refused_by_name_never_a_zero():
    x = leaf([1.0, 2.0])
    g, = grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)        # the first derivative is right
    assert g.requires_grad
    with pytest.raises(NotImplementedError, match="Cube has no second-order rule"):
        grad(g.sum(), x)
    x.grad = None
    Cube.apply(x).sum().backward(create_graph=True)
    first = x.grad
    with pytest.raises(NotImplementedError, match="Cube has no second-order rule"):
        first.sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2)   # refused before any change


def test_gradgradcheck_names_the_refused_op():
    with pytest.raises(NotImplementedError, match="Cube"):
        gradgradcheck(Cube.apply, leaf([1.0, 2.0]))


def test_gradgradcheck_catches_a_wrong_second_order_rule():
    class WrongSquare(Function):
        """y = x**2;  dL/dx = 2 x dL/dy, with a wrong second-order rule (a test op)."""

        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, grad):
            return 2 * self.x * grad

        def differentiable_backward(self, grad, y, x):
            """Wrong on purpose: x taken as the constant array, so d2y/dx2 would be 0, not 2."""
            return 2 * self.x * grad

    with pytest.raises(GradcheckError, match="input 0"):
        gradgradcheck(WrongSquare.apply, leaf([0.5, -1.0]))


# ----- torch's autograd.Function: a backward written with Tensor ops differentiates twice -----
class XExp(mg.autograd.Function):
    """x e^x, saving its input and its output: both carry the graph in a double backward."""

    @staticmethod
    def forward(ctx, x):
        y = x * x.exp()
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        x, y = ctx.saved_tensors
        return grad_output * (x.exp() + y)             # d(x e^x)/dx = e^x + x e^x


class ExpOfAnInnerTensor(mg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        inner = x * 1.0
        ctx.save_for_backward(inner.exp())
        return inner.exp()

    @staticmethod
    def backward(ctx, grad_output):
        y, = ctx.saved_tensors
        return grad_output * y


def test_autograd_function_saving_its_input_and_output_differentiates_twice():
    x = leaf([0.5, -1.0])
    g, = grad(XExp.apply(x).sum(), x, create_graph=True)
    second, = grad(g.sum(), x)
    np.testing.assert_allclose(second.data, (2 + x.data) * np.exp(x.data), rtol=1e-12)


def test_autograd_function_saving_an_inner_tensor_is_refused_a_second_time():
    x = leaf([0.5, -1.0])
    g, = grad(ExpOfAnInnerTensor.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, np.exp(x.data), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="ExpOfAnInnerTensor"):
        grad(g.sum(), x)


def test_anomaly_mode_names_the_op_that_makes_a_second_order_gradient_infinite():
    """With create_graph the gradients are made by recorded ops, which anomaly mode checks as
    they run: d sqrt(x)/dx = 1 / (2 sqrt x) is infinite at 0, and the Div that makes it is named."""
    x = leaf([0.0, 1.0])
    with mg.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(FloatingPointError, match="<Div>"):
            grad(F.sqrt(x).sum(), x, create_graph=True)
