"""Optimizers: three steps against the textbook formula, against torch, and exact resuming."""
import numpy as np
import pytest

import minigrad.nn as nn
from minigrad.nn import checkpoint
from minigrad.optim import SGD, Adadelta, Adagrad, Adam, AdamW, RMSprop

START = np.array([[0.5, -1.0, 2.0], [0.1, 0.0, -0.3]])
GRADS = [np.array([[0.1, -0.2, 0.3], [1.0, -1.0, 0.5]]) * k for k in (1.0, -0.5, 2.0)]


def run(optimizer_class, steps=3, **hyper):
    """Parameter values after each of the first `steps` steps with the fixed gradients GRADS."""
    param = nn.Parameter(START.copy())
    optimizer = optimizer_class([param], **hyper)
    history = []
    for grad in GRADS[:steps]:
        param.grad = grad.copy()
        optimizer.step()
        history.append(param.data.copy())
    return history


def sgd_by_hand(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    p, v, history = START.copy(), None, []
    for g in GRADS:
        g = g + weight_decay * p
        v = g if v is None else momentum * v + (1 - dampening) * g
        p = p - lr * ((g + momentum * v if nesterov else v) if momentum else g)
        history.append(p)
    return history


def rmsprop_by_hand(lr, alpha=0.99, eps=1e-8, momentum=0.0):
    p, s, b, history = START.copy(), 0.0, 0.0, []
    for g in GRADS:
        s = alpha * s + (1 - alpha) * g ** 2
        b = momentum * b + g / (np.sqrt(s) + eps)
        p = p - lr * b
        history.append(p)
    return history


def adam_by_hand(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    p, m, v, history = START.copy(), 0.0, 0.0, []
    for t, g in enumerate(GRADS, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g ** 2
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append(p)
    return history


def adadelta_by_hand(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    p, v, u, history = START.copy(), 0.0, 0.0, []
    for g in GRADS:
        g = (-g if maximize else g) + weight_decay * p
        v = rho * v + (1 - rho) * g ** 2
        dx = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * dx ** 2
        p = p - lr * dx
        history.append(p)
    return history


def adagrad_by_hand(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                    eps=1e-10, maximize=False):
    p, total, history = START.copy(), initial_accumulator_value, []
    for t, g in enumerate(GRADS, start=1):
        g = (-g if maximize else g) + weight_decay * p
        total = total + g ** 2
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(total) + eps)
        history.append(p)
    return history


CASES = [
    (SGD, dict(lr=0.1), sgd_by_hand),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01), sgd_by_hand),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True), sgd_by_hand),
    (RMSprop, dict(lr=0.01), rmsprop_by_hand),
    (RMSprop, dict(lr=0.01, alpha=0.9, momentum=0.5), rmsprop_by_hand),
    (Adam, dict(lr=0.01), adam_by_hand),
    (Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1), adam_by_hand),
    (AdamW, dict(lr=0.01, weight_decay=0.1), lambda **h: adam_by_hand(decoupled=True, **h)),
    (Adadelta, dict(), adadelta_by_hand),
    (Adadelta, dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1), adadelta_by_hand),
    (Adadelta, dict(lr=0.5, maximize=True), adadelta_by_hand),
    (Adagrad, dict(), adagrad_by_hand),
    (Adagrad, dict(lr=0.1, lr_decay=0.5, weight_decay=0.1, initial_accumulator_value=0.2,
                   eps=1e-6), adagrad_by_hand),
    (Adagrad, dict(lr=0.1, maximize=True), adagrad_by_hand),
]


@pytest.mark.parametrize("optimizer_class, hyper, by_hand", CASES)
def test_first_three_steps_equal_the_formula(optimizer_class, hyper, by_hand):
    for ours, expected in zip(run(optimizer_class, **hyper), by_hand(**hyper)):
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("optimizer_class, hyper, _", CASES)
def test_steps_equal_torch(optimizer_class, hyper, _):
    torch = pytest.importorskip("torch")
    param = torch.tensor(START.copy(), requires_grad=True)
    optimizer = getattr(torch.optim, optimizer_class.__name__)([param], **hyper)
    for ours, grad in zip(run(optimizer_class, **hyper), GRADS):
        param.grad = torch.tensor(grad)
        optimizer.step()
        np.testing.assert_allclose(ours, param.detach().numpy(), rtol=1e-12, atol=1e-15)


POSITIONAL = [
    (SGD, (0.1, 0.9, 0, 1e-4), dict(momentum=0.9, weight_decay=1e-4, nesterov=False)),
    (SGD, (0.1, 0.9, 0, 1e-4, True), dict(weight_decay=1e-4, nesterov=True)),
    (SGD, (0.1, 0.9, 0.5), dict(dampening=0.5, weight_decay=0.0)),
    (RMSprop, (0.01, 0.9, 1e-6, 0.01, 0.5), dict(alpha=0.9, weight_decay=0.01, momentum=0.5)),
    (Adam, (0.01, (0.8, 0.99), 1e-6, 0.1), dict(betas=(0.8, 0.99), weight_decay=0.1)),
    (AdamW, (0.01, (0.8, 0.99), 1e-6, 0.1), dict(betas=(0.8, 0.99), weight_decay=0.1)),
    (Adadelta, (0.5, 0.8, 1e-5, 0.1), dict(rho=0.8, eps=1e-5, weight_decay=0.1)),
    (Adagrad, (0.1, 0.5, 0.1, 0.2, 1e-6), dict(lr_decay=0.5, weight_decay=0.1,
                                                initial_accumulator_value=0.2, eps=1e-6)),
]


@pytest.mark.parametrize("optimizer_class, args, meaning", POSITIONAL)
def test_positional_arguments_mean_what_they_mean_in_torch(optimizer_class, args, meaning):
    """The silent trap: SGD(p, 0.1, 0.9, 0, 1e-4) once turned on Nesterov and left the weight
    decay at 0. Every positional argument is now torch's, checked by name and by the steps."""
    optimizer = optimizer_class([nn.Parameter(START.copy())], *args)
    assert {k: optimizer.param_groups[0][k] for k in meaning} == meaning
    torch = pytest.importorskip("torch")
    param = torch.tensor(START.copy(), requires_grad=True)
    reference = getattr(torch.optim, optimizer_class.__name__)([param], *args)
    for name, value in meaning.items():
        assert reference.param_groups[0][name] == value
    mine = nn.Parameter(START.copy())
    optimizer = optimizer_class([mine], *args)
    for grad in GRADS:
        mine.grad, param.grad = grad.copy(), torch.tensor(grad)
        optimizer.step()
        reference.step()
    np.testing.assert_allclose(mine.data, param.detach().numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("optimizer_class, hyper", [(SGD, dict(lr=0.1, momentum=0.9)),
                                                    (RMSprop, dict(momentum=0.5)),
                                                    (AdamW, dict(lr=0.1)),
                                                    (Adadelta, dict(weight_decay=0.1)),
                                                    (Adagrad, dict(lr_decay=0.1,
                                                                   maximize=True))])
def test_resuming_from_a_saved_state_continues_exactly(tmp_path, optimizer_class, hyper):
    uninterrupted = run(optimizer_class, **hyper)[-1]
    param = nn.Parameter(START.copy())
    optimizer = optimizer_class([param], **hyper)
    for grad in GRADS[:2]:
        param.grad = grad.copy()
        optimizer.step()
    nn.save({"param": param.data, "optimizer": optimizer.state_dict()}, tmp_path / "ckpt.npz")

    saved = nn.load(tmp_path / "ckpt.npz")
    resumed_param = nn.Parameter(saved["param"].copy())
    resumed = optimizer_class([resumed_param], lr=123.0)
    resumed.load_state_dict(checkpoint.unflatten_state(checkpoint.select(saved, "optimizer")))
    assert resumed.param_groups[0] == {**optimizer.param_groups[0], "params": [resumed_param]}
    resumed_param.grad = GRADS[2].copy()
    resumed.step()
    np.testing.assert_array_equal(resumed_param.data, uninterrupted)


def test_param_groups_zero_grad_and_skipping_params_without_grad():
    first, second = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    optimizer = SGD([{"params": [first]}, {"params": [second], "lr": 0.5}], lr=0.1)
    first.grad = np.ones(2)
    optimizer.step()
    np.testing.assert_allclose(first.data, 0.9)
    np.testing.assert_allclose(second.data, 1.0)
    second.grad = np.ones(2)
    optimizer.step()
    np.testing.assert_allclose(second.data, 0.5)
    optimizer.zero_grad()
    assert first.grad is None and second.grad is None


def test_float32_parameters_stay_float32():
    param = nn.Parameter(np.ones(3, np.float32))
    for optimizer in (SGD([param], lr=0.1, momentum=0.9), Adam([param]), RMSprop([param]),
                      Adadelta([param]), Adagrad([param])):
        param.grad = np.ones(3, np.float32)
        optimizer.step()
        optimizer.step()
        assert param.data.dtype == np.float32


def test_constructor_and_load_errors():
    param = nn.Parameter(np.ones(3))
    with pytest.raises(ValueError, match="SGD got an empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="SGD: lr must be a finite number >= 0, got -1"):
        SGD([param], lr=-1)
    with pytest.raises(ValueError, match="nesterov needs momentum > 0"):
        SGD([param], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"Adam: beta2 must be in \[0, 1\), got 1.0"):
        Adam([param], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="parameter 1 of group 0 must be a Tensor"):
        SGD([param, np.ones(3)], lr=0.1)
    with pytest.raises(ValueError, match="parameter 0 of group 1 is listed twice \\(it is also "
                                         "in group 0\\)"):
        SGD([{"params": [param]}, {"params": [param]}], lr=0.1)
    source = SGD([nn.Parameter(np.ones(4))], lr=0.1, momentum=0.9)
    source.param_groups[0]["params"][0].grad = np.ones(4)
    source.step()
    target = SGD([param], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="'momentum_buffer' of parameter 0 has shape \\(4,\\), "
                                         "the parameter \\(3,\\)"):
        target.load_state_dict(source.state_dict())
    assert target.state == {}


ZERO_D_CASES = [
    (SGD, dict(lr=0.1, momentum=0.9)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    (SGD, dict(lr=0.1)),
    (RMSprop, dict(lr=0.01, momentum=0.5)),
    (Adam, dict(lr=0.1, weight_decay=0.1)),
    (AdamW, dict(lr=0.1)),
    (Adadelta, dict(lr=0.5, weight_decay=0.1)),
    (Adagrad, dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5)),
]


def zero_d_history(library, optimizer_class, hyper):
    """Five steps on a 0-d parameter whose gradient arrives through broadcasting: the gradient
    of (p * ones(3)).sum() * g is summed over three copies (once a NumPy scalar, which made
    SGD's momentum buffer rebind instead of update)."""
    param = library.tensor(1.0, requires_grad=True)
    optimizer = optimizer_class([param], **hyper)
    history = []
    for g in (3.0, -3.0, 9.0, -6.0, 15.0):
        optimizer.zero_grad()
        ((param * library.tensor([1.0, 1.0, 1.0])).sum() * g).backward()
        optimizer.step()
        history.append(param.item())
    return history


@pytest.mark.parametrize("optimizer_class, hyper", ZERO_D_CASES)
def test_a_0d_parameter_steps_as_in_torch(optimizer_class, hyper):
    import minigrad as mg
    ours = zero_d_history(mg, optimizer_class, hyper)
    v, p = None, 1.0
    if optimizer_class is SGD and hyper.get("momentum") and not hyper.get("weight_decay") \
            and not hyper.get("nesterov"):          # the formula, also without torch
        for g in (3.0, -3.0, 9.0, -6.0, 15.0):
            v = 3 * g if v is None else 0.9 * v + 3 * g
            p -= 0.1 * v
        assert ours[-1] == pytest.approx(p, rel=1e-6)
    torch = pytest.importorskip("torch")
    expected = zero_d_history(torch, getattr(torch.optim, optimizer_class.__name__), hyper)
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


EVERY_OPTIMIZER = [SGD, RMSprop, Adam, AdamW, Adadelta, Adagrad]


def frozen_and_trained(library, optimizer_class):
    """Three steps on a loss of two parameters, one of which does not require grad."""
    frozen = library.tensor([1.0, 2.0])
    trained = library.tensor([0.5, -0.5], requires_grad=True)
    optimizer = optimizer_class([frozen, trained], lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        (frozen * trained * trained).sum().backward()
        optimizer.step()
    return frozen, trained


@pytest.mark.parametrize("optimizer_class", EVERY_OPTIMIZER)
def test_parameters_that_do_not_require_grad_are_accepted_and_skipped(optimizer_class):
    """As in torch: backward gives the frozen one no gradient, so step leaves it as it was."""
    import minigrad as mg
    frozen, trained = frozen_and_trained(mg, optimizer_class)
    assert frozen.grad is None
    np.testing.assert_array_equal(frozen.data, [1.0, 2.0])
    assert not np.allclose(trained.data, [0.5, -0.5])
    torch = pytest.importorskip("torch")
    reference_frozen, reference_trained = frozen_and_trained(
        torch, getattr(torch.optim, optimizer_class.__name__))
    np.testing.assert_array_equal(frozen.data, reference_frozen.numpy())
    np.testing.assert_allclose(trained.data, reference_trained.detach().numpy(), rtol=1e-6)


def test_a_frozen_parameter_trains_once_unfrozen():
    import minigrad as mg
    param = mg.tensor([1.0, 2.0])
    optimizer = SGD([param], lr=0.1)
    param.requires_grad = True
    (param * param).sum().backward()
    optimizer.step()
    np.testing.assert_allclose(param.data, [0.8, 1.6])


def test_refused_parameters_leave_the_optimizer_unchanged():
    import minigrad as mg
    param = nn.Parameter(np.ones(3))
    optimizer = SGD([param], lr=0.1)
    computed = param * 2.0
    with pytest.raises(ValueError, match="parameter 1 of group 1 is not a leaf tensor"):
        optimizer.add_param_group({"params": [nn.Parameter(np.ones(2)), computed]})
    with pytest.raises(TypeError, match="parameter 0 of group 1 must be a Tensor, got float"):
        optimizer.add_param_group({"params": [1.0]})
    with pytest.raises(ValueError, match="parameter 1 of group 1 is listed twice \\(it is also in "
                                         "group 1\\)"):
        optimizer.add_param_group({"params": [mg.tensor([1.0])] * 2})
    assert len(optimizer.param_groups) == 1 and optimizer.param_groups[0]["params"] == [param]


def test_new_optimizers_hyperparameter_errors():
    param = nn.Parameter(np.ones(3))
    with pytest.raises(ValueError, match=r"Adadelta: rho must be in \[0, 1\], got 1.5"):
        Adadelta([param], rho=1.5)
    Adadelta([param], rho=1.0)            # allowed, as in torch
    with pytest.raises(ValueError, match="Adadelta: eps must be a finite number >= 0, got -1"):
        Adadelta([param], eps=-1)
    with pytest.raises(ValueError, match="Adagrad: lr_decay must be a finite number >= 0"):
        Adagrad([param], lr_decay=-0.1)
    with pytest.raises(ValueError, match="Adagrad: initial_accumulator_value must be a finite"):
        Adagrad([param], initial_accumulator_value=float("nan"))
    with pytest.raises(ValueError, match="Adagrad: differentiable=True is not supported"):
        Adagrad([param], differentiable=True)
    with pytest.raises(ValueError, match="Adadelta: capturable=True is not supported"):
        Adadelta([param], capturable=True)


@pytest.mark.parametrize("optimizer_class, options", [(Adadelta, dict(foreach=True)),
                                                      (Adagrad, dict(foreach=False, fused=True))])
def test_torch_implementation_choices_change_nothing(optimizer_class, options):
    """foreach and fused pick one of torch's implementations of the same formula."""
    for chosen, default in zip(run(optimizer_class, lr=0.1, **options),
                               run(optimizer_class, lr=0.1)):
        np.testing.assert_array_equal(chosen, default)
