"""FGSM and PGD: the perturbation stays in the eps-ball and the valid range, the loss goes the
way the attack wants, FGSM is its formula (torch's gradient on the same weights), and the model
is left as it was."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from minigrad import nn
from minigrad.adversarial import fgsm, loss_gradient, pgd
from minigrad.gradcheck import numerical_gradient
from minigrad.ops.loss import cross_entropy
from minigrad.saliency.core import untouched
from minigrad.tensor import Tensor


def small_cnn(seed=0):
    nn.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).double()


def loss_per_image(model, x, y):
    return cross_entropy(model(Tensor(x)), y, reduction="none").data


def images(seed, n=4):
    return np.random.default_rng(seed).random((n, 1, 8, 8))


ATTACKS = {"fgsm": lambda model, x, y, eps, **kw: fgsm(model, x, y, eps, **kw),
           # alpha must be > 0 even where eps = 0 (the ball is then the point x itself)
           "pgd": lambda model, x, y, eps, **kw: pgd(model, x, y, eps, alpha=eps / 4 or 0.01,
                                                     steps=8, **kw)}


@settings(max_examples=20, deadline=None)
@example(seed=0, eps=0.0, attack="pgd", random_start=True, targeted=False)   # the ball is a point
@given(seed=st.integers(0, 2 ** 16), eps=st.floats(0.0, 0.5),
       attack=st.sampled_from(sorted(ATTACKS)), random_start=st.booleans(),
       targeted=st.booleans())
def test_the_perturbation_stays_in_the_ball_and_the_range(seed, eps, attack, random_start,
                                                          targeted):
    model, x = small_cnn(), images(seed)
    y = np.random.default_rng(seed).integers(0, 3, size=4)
    options = {"targeted": targeted} if attack == "fgsm" else \
        {"targeted": targeted, "random_start": random_start, "seed": seed}
    adversarial = ATTACKS[attack](model, x, y, eps, **options).data
    assert adversarial.shape == x.shape and adversarial.dtype == x.dtype
    assert ((adversarial >= x - eps) & (adversarial <= x + eps)).all()
    assert adversarial.min() >= 0 and adversarial.max() <= 1


def test_a_perturbation_can_leave_the_range_only_without_clamp():
    model, x, y = small_cnn(), images(0), np.array([0, 1, 2, 0])
    unclamped = fgsm(model, x, y, 0.5, clamp=None).data
    np.testing.assert_allclose(np.abs(unclamped - x)[loss_gradient_nonzero(model, x, y)], 0.5)
    assert unclamped.min() < 0 or unclamped.max() > 1


def loss_gradient_nonzero(model, x, y):
    with untouched(model):
        return loss_gradient(model, x, y) != 0


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_the_attacks_gradient_is_the_losss_by_central_differences(seed):
    """dL/dx of L = sum_n cross_entropy(f(x_n), y_n), in float64 (x off the ReLU's and the max
    pool's ties with probability 1)."""
    model, x = small_cnn(seed % 7), images(seed, n=2)
    y = np.random.default_rng(seed).integers(0, 3, size=2)
    with untouched(model):
        analytic = loss_gradient(model, x, y)
    numeric = numerical_gradient(lambda: loss_per_image(model, x, y).sum(), x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_untargeted_raises_the_loss_and_targeted_lowers_the_targets(attack):
    model, x = small_cnn(), images(1, n=8)
    y = model(Tensor(x)).data.argmax(axis=1)
    adversarial = ATTACKS[attack](model, x, y, 0.1).data
    assert (loss_per_image(model, adversarial, y) > loss_per_image(model, x, y)).all()
    goal = (y + 1) % 3
    towards = ATTACKS[attack](model, x, goal, 0.1, targeted=True).data
    assert (loss_per_image(model, towards, goal) < loss_per_image(model, x, goal)).all()


def test_pgd_is_at_least_as_strong_as_fgsm_here_and_without_random_start_repeats_itself():
    model, x = small_cnn(), images(2, n=16)
    y = model(Tensor(x)).data.argmax(axis=1)
    one_step = loss_per_image(model, fgsm(model, x, y, 0.05).data, y).sum()
    projected = pgd(model, x, y, 0.05, alpha=0.01, steps=20, random_start=False).data
    assert loss_per_image(model, projected, y).sum() > one_step
    np.testing.assert_array_equal(
        projected, pgd(model, x, y, 0.05, alpha=0.01, steps=20, random_start=False).data)
    # one step of size eps from x is FGSM
    np.testing.assert_array_equal(pgd(model, x, y, 0.05, alpha=0.05, steps=1,
                                      random_start=False).data, fgsm(model, x, y, 0.05).data)


def test_eps_zero_changes_nothing():
    model, x, y = small_cnn(), images(3), np.array([0, 1, 2, 0])
    np.testing.assert_array_equal(fgsm(model, x, y, 0.0).data, x)
    np.testing.assert_array_equal(pgd(model, x, y, 0.0, alpha=0.1, steps=3).data, x)


def test_fgsm_is_its_formula_with_torchs_gradient():
    torch = pytest.importorskip("torch")
    model, x, y = small_cnn(), images(4, n=6), np.array([0, 1, 2, 2, 1, 0])
    twin = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                               torch.nn.Linear(64, 3)).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    inputs = torch.from_numpy(x).requires_grad_()
    torch.nn.functional.cross_entropy(twin(inputs), torch.from_numpy(y)).backward()
    for eps, targeted in [(0.03, False), (0.2, False), (0.1, True)]:
        step = -eps if targeted else eps
        expected = (inputs + step * inputs.grad.sign()).clamp(0, 1).detach().numpy()
        np.testing.assert_array_equal(fgsm(model, x, y, eps, targeted=targeted).data, expected)


def test_the_model_is_left_as_it_was():
    nn.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.BatchNorm1d(8), nn.ReLU(),
                          nn.Dropout(0.5), nn.Linear(8, 3)).float()
    model.train()
    model[1].weight.requires_grad = False
    model[5].weight.grad = np.ones_like(model[5].weight.data)
    before = model.state_dict()
    x, y = images(5).astype(np.float32), np.array([0, 1, 2, 0])
    original = x.copy()
    for attack in (fgsm(model, x, y, 0.1), pgd(model, x, y, 0.1, alpha=0.02, steps=3)):
        assert attack.dtype == np.float32 and not attack.requires_grad
    assert all(m.training for m in model.modules())
    assert [p.requires_grad for p in model.parameters()] == [False, True, True, True, True, True]
    assert [p.grad is None for p in model.parameters()] == [True] * 4 + [False, True]
    np.testing.assert_array_equal(model[5].weight.grad, 1.0)
    for name, array in model.state_dict().items():        # running statistics included
        np.testing.assert_array_equal(array, before[name])
    np.testing.assert_array_equal(x, original)


@pytest.mark.parametrize("call, error, message", [
    (lambda m, x, y: fgsm(m, x, y, -0.1), ValueError,
     r"eps must be a finite number >= 0, got -0.1"),
    (lambda m, x, y: fgsm(m, x, y, float("nan")), ValueError, r"eps must be a finite number"),
    (lambda m, x, y: fgsm(m, x, y[:2], 0.1), ValueError, r"y: expected 4 class labels"),
    (lambda m, x, y: fgsm(m, x, y - 1, 0.1), ValueError, r"y: expected 4 class labels"),
    (lambda m, x, y: fgsm(m, x, y.astype(float), 0.1), ValueError, r"integers >= 0.*float64"),
    (lambda m, x, y: fgsm(m, (x * 255).astype(np.uint8), y, 0.1), TypeError,
     r"x: expected a float batch \(N, ...\), got dtype uint8"),
    (lambda m, x, y: fgsm(m, x * 2 - 1, y, 0.1), ValueError,
     r"x has values in \[-1, 1\], outside the valid range clamp=\(0.0, 1.0\)"),
    (lambda m, x, y: fgsm(m, x, y, 0.1, clamp=(1, 0)), ValueError, r"low < high"),
    (lambda m, x, y: fgsm(m, x, y, 0.1, clamp=(0, float("nan"))), ValueError, r"low < high"),
    (lambda m, x, y: fgsm(m, x, y, 0.1, clamp=0), ValueError,
     r"adversarial: clamp must be a range \(low, high\), two numbers with low < high, or None "
     r"for no range; got 0"),
    (lambda m, x, y: fgsm(m, x, y, 8), ValueError,
     r"eps=8 is larger than the width 1.0 of the valid range clamp=\(0.0, 1.0\): every pixel "
     r"would be pushed to an end of the range; for 8 grey levels of 255 pass eps=8/255"),
    (lambda m, x, y: fgsm(m, x, y, 1.5, clamp=(0, 1)), ValueError,
     r"eps=1.5 is larger than the width 1 of the valid range clamp=\(0, 1\): every pixel "
     r"would be pushed to an end of the range$"),
    (lambda m, x, y: pgd(m, x, y, 0.1, alpha=2, steps=3), ValueError,
     r"alpha=2 is larger than the width 1.0 .*pass alpha=2/255"),
    (lambda m, x, y: pgd(m, x, y, 0.1, alpha=0, steps=3), ValueError, r"alpha must be .* > 0"),
    (lambda m, x, y: pgd(m, x, y, 0.1, alpha=0.01, steps=0), ValueError,
     r"steps must be a whole number >= 1, got 0"),
    (lambda m, x, y: pgd(m, x, y, 0.1, alpha=0.01, steps=2.5), ValueError, r"got 2.5"),
    (lambda m, x, y: fgsm(m, x, y + 2, 0.1), ValueError, r"labels must lie in \[0, 3\)"),
])
def test_bad_input_is_a_clear_error(call, error, message):
    model = small_cnn()
    x = np.zeros((4, 1, 8, 8))
    x[:, :, 0, 0] = 1.0
    with pytest.raises(error, match=message):
        call(model, x, np.array([0, 1, 2, 0]))
