"""Schedulers: closed forms, equality with torch's, resuming, and errors."""
import numpy as np
import pytest

import minigrad.nn as nn
from minigrad import optim
from minigrad.optim import SGD, lr_scheduler as sched


def optimizer(lrs=(0.1,)):
    return SGD([{"params": [nn.Parameter(np.zeros(1))], "lr": lr} for lr in lrs], lr=lrs[0])


def schedule(scheduler, steps):
    """get_last_lr() at creation and after each of `steps` steps."""
    lrs = [scheduler.get_last_lr()]
    for _ in range(steps):
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
    return np.array(lrs)


def test_closed_forms():
    t = np.arange(13)
    np.testing.assert_allclose(schedule(sched.StepLR(optimizer(), 4, gamma=0.5), 12)[:, 0],
                               0.1 * 0.5 ** (t // 4))
    np.testing.assert_allclose(schedule(sched.MultiStepLR(optimizer(), [5, 2], 0.1), 12)[:, 0],
                               0.1 * 0.1 ** ((t >= 2).astype(int) + (t >= 5)))
    np.testing.assert_allclose(schedule(sched.CosineAnnealingLR(optimizer(), 12, 0.01), 12)[:, 0],
                               0.01 + 0.09 * (1 + np.cos(np.pi * t / 12)) / 2)
    np.testing.assert_allclose(schedule(sched.ExponentialLR(optimizer(), 0.8), 12)[:, 0],
                               0.1 * 0.8 ** t)
    one_cycle = schedule(sched.OneCycleLR(optimizer(), max_lr=1.0, total_steps=10,
                                          pct_start=0.5), 9)[:, 0]
    warm_up = 1 + (1 / 25 - 1) / 2 * (np.cos(np.pi * t[:5] / 4) + 1)
    cool_down = 4e-6 + (1 - 4e-6) / 2 * (np.cos(np.pi * (t[4:10] - 4) / 5) + 1)
    np.testing.assert_allclose(one_cycle, np.concatenate([warm_up, cool_down[1:]]), rtol=1e-12)


def test_scheduler_sets_every_group_lr():
    opt = optimizer(lrs=(0.1, 0.01))
    scheduler = sched.StepLR(opt, 1, gamma=0.5)
    scheduler.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.005])


TORCH_CASES = [
    ("StepLR", dict(step_size=3, gamma=0.3), 10),
    ("MultiStepLR", dict(milestones=[2, 7], gamma=0.5), 10),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001), 10),
    # past T_max the cosine climbs back up (torch: recursively, with a special case at T_max + 1)
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001), 30),
    ("CosineAnnealingLR", dict(T_max=7), 30),
    ("ExponentialLR", dict(gamma=0.9), 30),
    ("ExponentialLR", dict(gamma=1.05), 30),
    ("OneCycleLR", dict(max_lr=[0.5, 0.05], total_steps=20), 20),
    ("OneCycleLR", dict(max_lr=0.5, epochs=4, steps_per_epoch=5, anneal_strategy="linear",
                        three_phase=True, pct_start=0.25), 20),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=12, cycle_momentum=False), 12),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=12, base_momentum=[0.5, 0.6],
                        max_momentum=0.99), 12),
]


def hyperparameters(optimizer):
    """lr, momentum and beta1 of every group (None where the optimizer has none)."""
    return [(g["lr"], g.get("momentum"), g["betas"][0] if "betas" in g else None)
            for g in optimizer.param_groups]


# The other schedules touch only the lr: with SGD alone. OneCycleLR also with Adam (its beta1).
TORCH_RUNS = [(*case, optimizer_name) for case in TORCH_CASES for optimizer_name in ("SGD", "Adam")
              if case[0] == "OneCycleLR" or optimizer_name == "SGD"]


@pytest.mark.parametrize("name, kwargs, steps, optimizer_name", TORCH_RUNS)
def test_equal_to_torch(name, kwargs, steps, optimizer_name):
    """The lr and, for OneCycleLR, the momentum (SGD) or beta1 (Adam) of every group after every
    step: PyTorch's OneCycleLR cycles the momentum by default."""
    torch = pytest.importorskip("torch")
    ours_class, theirs_class = getattr(optim, optimizer_name), getattr(torch.optim,
                                                                       optimizer_name)
    extra = {"momentum": 0.9} if optimizer_name == "SGD" else {}
    reference_optimizer = theirs_class([{"params": [torch.zeros(1, requires_grad=True)],
                                         "lr": lr} for lr in (0.1, 0.01)], lr=0.1, **extra)
    reference = getattr(torch.optim.lr_scheduler, name)(reference_optimizer, **kwargs)
    our_optimizer = ours_class([{"params": [nn.Parameter(np.zeros(1))], "lr": lr}
                                for lr in (0.1, 0.01)], lr=0.1, **extra)
    ours = getattr(sched, name)(our_optimizer, **kwargs)
    for step in range(steps + 1):
        if step:
            reference_optimizer.step()
            reference.step()
            ours.step()
        np.testing.assert_allclose(np.array(hyperparameters(our_optimizer), dtype=float),
                                   np.array(hyperparameters(reference_optimizer), dtype=float),
                                   rtol=1e-12)
        np.testing.assert_allclose(ours.get_last_lr(), reference.get_last_lr(), rtol=1e-12)


def test_one_cycle_cycles_momentum_by_default():
    """The silent trap: PyTorch's default cycles the momentum, minigrad's once did not."""
    opt = SGD([nn.Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    one_cycle = sched.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.5)
    momenta = [opt.param_groups[0]["momentum"]]
    for _ in range(9):
        one_cycle.step()
        momenta.append(opt.param_groups[0]["momentum"])
    assert momenta[0] == pytest.approx(0.95) and momenta[4] == pytest.approx(0.85)
    assert momenta[-1] == pytest.approx(0.95) and np.argmin(momenta) == 4
    kept = SGD([nn.Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    sched.OneCycleLR(kept, max_lr=1.0, total_steps=10, cycle_momentum=False).step()
    assert kept.param_groups[0]["momentum"] == 0.9
    with pytest.raises(ValueError, match="neither momentum nor betas"):
        sched.OneCycleLR(NoMomentum([nn.Parameter(np.zeros(1))], {"lr": 0.1}), max_lr=1.0,
                         total_steps=10)


class NoMomentum(optim.Optimizer):
    def update(self, param, grad, state, group):
        param -= group["lr"] * grad


def test_resume_from_state_dict_through_a_file(tmp_path):
    first = sched.CosineAnnealingLR(optimizer(), T_max=10)
    schedule(first, 4)
    nn.save(first.state_dict(), tmp_path / "sched.npz")
    resumed_optimizer = optimizer()
    resumed = sched.CosineAnnealingLR(resumed_optimizer, T_max=10)
    resumed.load_state_dict(nn.unflatten_state(nn.load(tmp_path / "sched.npz")))
    assert resumed_optimizer.param_groups[0]["lr"] == first.get_last_lr()[0]
    np.testing.assert_array_equal(schedule(resumed, 3), schedule(first, 3))


# Improves, stalls, improves by less than the threshold (0.89995 vs 0.9: 0.006%), gets worse...
METRICS = [1.0, 0.9, 0.9, 0.89995, 0.95, 0.91, 0.92, 0.5, 0.6, 0.6, 0.6, 0.6, 0.7, 0.49, 0.8,
           0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]

PLATEAU_CASES = [
    dict(),
    dict(patience=2),
    dict(mode="max", patience=1, factor=0.5, cooldown=2),
    dict(threshold_mode="abs", threshold=0.05, patience=1, min_lr=[0.02, 0.001]),
    dict(mode="max", threshold_mode="abs", threshold=0.05, patience=0),
    dict(patience=0, min_lr=0.0095, eps=1e-3),    # group 2: 0.01 -> 0.0095 is less than eps
]


def plateau_schedule(scheduler, metrics):
    """get_last_lr() after each step(metric)."""
    lrs = []
    for metric in metrics:
        scheduler.step(metric)
        lrs.append(scheduler.get_last_lr())
    return np.array(lrs)


def test_reduce_on_plateau_by_hand():
    """patience=2: the third step in a row without improvement cuts the lr; cooldown=1: the
    step after a cut is not counted; 0.99 is no improvement on 1.0 at threshold 0.05 ('rel')."""
    opt = optimizer()
    scheduler = sched.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1, threshold=0.05)
    lrs = plateau_schedule(scheduler, [1.0, 0.99, 1.2, 1.0, 1.1, 1.1, 1.1, 1.1, 0.9, 0.9])[:, 0]
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025])
    assert opt.param_groups[0]["lr"] == 0.025 and scheduler.best == 0.9


@pytest.mark.parametrize("kwargs", PLATEAU_CASES)
def test_reduce_on_plateau_equal_to_torch(kwargs):
    torch = pytest.importorskip("torch")
    reference_optimizer = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)],
                                            "lr": lr} for lr in (0.1, 0.01)], lr=0.1)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(reference_optimizer, **kwargs)
    ours = plateau_schedule(sched.ReduceLROnPlateau(optimizer((0.1, 0.01)), **kwargs), METRICS)
    theirs = plateau_schedule(reference, METRICS)
    assert len(np.unique(ours)) > 2          # the metrics do make it cut the lr
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_reduce_on_plateau_takes_a_one_element_tensor():
    import minigrad as mg
    scheduler = sched.ReduceLROnPlateau(optimizer(), patience=0)
    scheduler.step(mg.tensor(2.0))
    scheduler.step(mg.tensor([[3.0]]))
    assert scheduler.best == 2.0 and scheduler.get_last_lr() == pytest.approx([0.01])


def test_reduce_on_plateau_resumes_from_a_file(tmp_path):
    kwargs = dict(patience=1, cooldown=2, factor=0.5)
    first = sched.ReduceLROnPlateau(optimizer(), **kwargs)
    plateau_schedule(first, METRICS[:6])
    nn.save(first.state_dict(), tmp_path / "sched.npz")
    resumed_optimizer = optimizer()
    resumed = sched.ReduceLROnPlateau(resumed_optimizer, **kwargs)
    resumed.load_state_dict(nn.unflatten_state(nn.load(tmp_path / "sched.npz")))
    assert resumed_optimizer.param_groups[0]["lr"] == first.get_last_lr()[0] < 0.1
    np.testing.assert_array_equal(plateau_schedule(resumed, METRICS[6:]),
                                  plateau_schedule(first, METRICS[6:]))


def test_reduce_on_plateau_errors():
    with pytest.raises(ValueError, match="mode must be one of \\('min', 'max'\\), got 'mean'"):
        sched.ReduceLROnPlateau(optimizer(), mode="mean")
    with pytest.raises(ValueError, match="threshold_mode must be one of"):
        sched.ReduceLROnPlateau(optimizer(), threshold_mode="relative")
    with pytest.raises(ValueError, match=r"factor must be in \[0, 1\), got 1.0"):
        sched.ReduceLROnPlateau(optimizer(), factor=1.0)
    with pytest.raises(ValueError, match="patience must be a finite number >= 0, got -1"):
        sched.ReduceLROnPlateau(optimizer(), patience=-1)
    with pytest.raises(ValueError, match="min_lr: expected 2 values, one per parameter group, "
                                         "got 3"):
        sched.ReduceLROnPlateau(optimizer((0.1, 0.01)), min_lr=[0.0, 0.0, 0.0])
    with pytest.raises(TypeError, match="expected an Optimizer, got list"):
        sched.ReduceLROnPlateau([])
    scheduler = sched.ReduceLROnPlateau(optimizer())
    for bad in ("low", [1.0, 2.0], None):
        with pytest.raises(TypeError, match="step: expected the metric as one number"):
            scheduler.step(bad)
    assert scheduler.last_epoch == 0 and scheduler.best == np.inf


def test_errors():
    with pytest.raises(ValueError, match="step_size must be >= 1"):
        sched.StepLR(optimizer(), 0)
    with pytest.raises(TypeError, match="expected an Optimizer, got list"):
        sched.StepLR([], 1)
    with pytest.raises(ValueError, match="ExponentialLR: gamma must be a finite number >= 0"):
        sched.ExponentialLR(optimizer(), -0.5)
    with pytest.raises(ValueError, match="give total_steps, or epochs and steps_per_epoch"):
        sched.OneCycleLR(optimizer(), max_lr=1.0)
    one_cycle = sched.OneCycleLR(optimizer(), max_lr=1.0, total_steps=3)
    schedule(one_cycle, 3)
    with pytest.raises(ValueError, match="more than total_steps=3"):
        one_cycle.step()


def test_a_second_schedule_on_one_optimizer_is_refused_rather_than_overwritten():
    """PyTorch's recursive schedules chain (0.1 * 0.5 * 0.9 ...); a closed formula would
    silently overwrite the other's lr, so step() refuses."""
    optimizer = SGD([nn.Parameter(np.zeros(2))], lr=0.1)
    step_lr = sched.StepLR(optimizer, step_size=1, gamma=0.5)
    exponential = sched.ExponentialLR(optimizer, gamma=0.9)
    step_lr.step()
    with pytest.raises(RuntimeError, match="ExponentialLR.step: group 0's lr is 0.05.*last set "
                                           "it to 0.1"):
        exponential.step()
    assert optimizer.param_groups[0]["lr"] == 0.05
    optimizer.param_groups[0]["lr"] = 0.3          # a hand-made change is not overwritten either
    with pytest.raises(RuntimeError, match="your code changed it"):
        step_lr.step()
