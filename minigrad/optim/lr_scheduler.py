"""Learning-rate schedules: set every group's 'lr' from a closed formula of the step count.

    scheduler = StepLR(optimizer, step_size=10, gamma=0.5)
    for epoch in range(epochs):
        train_one_epoch(...)          # optimizer.step() inside
        scheduler.step()              # OneCycleLR: call it after every batch instead

Creating a scheduler sets the lr for step 0; `step()` moves to the next one (PyTorch's
convention). The formulas below use t = number of `step()` calls so far, base = the group's lr
when the scheduler was created. PyTorch computes most of these schedules recursively, from the
lr of the step before; the values are the same (to rounding) unless something else writes the
lr between steps, such as a second scheduler on the same optimizer. PyTorch would combine them;
here `step()` refuses, rather than silently overwrite the other's lr.

ReduceLROnPlateau is the exception: it follows a metric, not a formula,

    scheduler = ReduceLROnPlateau(optimizer, patience=3)
    for epoch in range(epochs):
        train_one_epoch(...)
        scheduler.step(validation_loss)   # lr *= factor once the loss stops improving
"""
import bisect
import math

import numpy as np

from minigrad.optim.optimizer import Optimizer, check_hyperparameters, check_state_keys


class LRScheduler:
    """Base class: subclasses implement `lr(base_lr, t)`."""

    def __init__(self, optimizer):
        self.optimizer = _checked_optimizer(type(self).__name__, optimizer)
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def lr(self, base_lr, t):
        raise NotImplementedError(f"{type(self).__name__} must implement lr()")

    def step(self):
        self._check_lr_unchanged()
        self.last_epoch += 1
        self._set_lrs([self.lr(base, self.last_epoch) for base in self.base_lrs])

    def _check_lr_unchanged(self):
        """Refuse to overwrite an lr that something else set since this scheduler's last step
        (PyTorch's recursive schedules would build on it; this closed formula would not)."""
        if not hasattr(self, "_last_lr"):
            return
        for index, (group, lr) in enumerate(zip(self.optimizer.param_groups, self._last_lr)):
            if group["lr"] != lr:
                raise RuntimeError(
                    f"{type(self).__name__}.step: group {index}'s lr is {group['lr']}, but this "
                    f"scheduler last set it to {lr}: another scheduler or your code changed it. "
                    f"minigrad's schedules are formulas of the step count and would overwrite "
                    f"that change (PyTorch chains them); use one schedule per optimizer")

    def _set_lrs(self, lrs):
        self._last_lr = lrs
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr

    def _check_state(self, state_dict):
        """Everything load_state_dict needs is there, for this kind of schedule and these
        groups; checked before anything changes. ('type' is missing from files saved before
        it was recorded.)"""
        name = type(self).__name__
        check_state_keys(name, state_dict, set(self.state_dict()), optional={"type"})
        saved = str(state_dict.get("type", name))
        if saved != name:
            raise ValueError(f"{name}.load_state_dict: the state is a {saved}'s; load it into a "
                             f"{saved}. Nothing was loaded")
        groups = len(self.optimizer.param_groups)
        if len(np.atleast_1d(state_dict["last_lr"])) != groups:
            raise ValueError(f"{name}.load_state_dict: the state has the lr of "
                             f"{len(np.atleast_1d(state_dict['last_lr']))} param groups, the "
                             f"optimizer {groups}. Nothing was loaded")

    def get_last_lr(self):
        """The lr of every group, as set by the last step."""
        return list(self._last_lr)

    def state_dict(self):
        return {"type": type(self).__name__, "last_epoch": self.last_epoch,
                "base_lrs": list(self.base_lrs), "last_lr": list(self._last_lr)}

    def load_state_dict(self, state_dict):
        """Resume the schedule (the hyperparameters come from the constructor). The state of
        another kind of schedule, or of another number of groups, is refused."""
        self._check_state(state_dict)
        self.last_epoch = int(state_dict["last_epoch"])
        self.base_lrs = [float(lr) for lr in state_dict["base_lrs"]]
        self._set_lrs([float(lr) for lr in state_dict["last_lr"]])


class StepLR(LRScheduler):
    """lr = base * gamma ** floor(t / step_size): multiply by gamma every step_size steps."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr(self, base_lr, t):
        return base_lr * self.gamma ** (t // self.step_size)


class MultiStepLR(LRScheduler):
    """lr = base * gamma ** (number of milestones <= t): multiply by gamma at each milestone."""

    def __init__(self, optimizer, milestones, gamma=0.1):
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer)

    def lr(self, base_lr, t):
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, t)


class ExponentialLR(LRScheduler):
    """lr = base * gamma ** t: multiply by gamma at every step. (gamma > 1 grows the lr, as in
    a learning-rate range test.)"""

    def __init__(self, optimizer, gamma):
        check_hyperparameters("ExponentialLR", gamma=gamma)
        self.gamma = gamma
        super().__init__(optimizer)

    def lr(self, base_lr, t):
        return base_lr * self.gamma ** t


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2: half a cosine from base
    down to eta_min over T_max steps (SGDR without restarts). Stepped past T_max, it follows the
    cosine back up to base over the next T_max steps, and so on, as PyTorch's does."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be >= 1, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr(self, base_lr, t):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t /
                                                                       self.T_max)) / 2


class OneCycleLR(LRScheduler):
    """Smith's one-cycle policy (PyTorch's formula), stepped after every batch:

        warm up from max_lr / div_factor to max_lr over the first pct_start of total_steps,
        then anneal down to max_lr / (div_factor * final_div_factor) by the last step
        (three_phase: back to the start lr first, then down to the minimum).

    Each phase anneals with a half cosine (or linearly, anneal_strategy='linear').
    With cycle_momentum (the default, as in PyTorch) the momentum moves the other way: from
    max_momentum down to base_momentum while the lr rises, and back up while it falls. It is the
    optimizer's 'momentum' (SGD, RMSprop: even one built with momentum=0 gets it), or beta1 of
    Adam's 'betas'. cycle_momentum=False leaves the momentum as the optimizer has it.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            total_steps = epochs * steps_per_epoch
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', "
                             f"got {anneal_strategy!r}")
        self.total_steps, self.pct_start, self.three_phase = total_steps, pct_start, three_phase
        self.anneal = _cosine if anneal_strategy == "cos" else _linear
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        groups = optimizer.param_groups
        self.momentum_key = _momentum_key(optimizer) if cycle_momentum else None
        self.momenta = list(zip(_per_group("OneCycleLR: max_momentum", max_momentum, groups),
                                _per_group("OneCycleLR: base_momentum", base_momentum, groups)))
        for group, peak in zip(groups, _per_group("OneCycleLR: max_lr", max_lr, groups)):
            group["lr"] = peak   # the base lr of a one-cycle schedule is its peak
        super().__init__(optimizer)

    def _phases(self):
        """(last step of the phase, level at its start, level at its end) for each phase; the
        levels are 'start' (the first lr), 'peak' (max_lr) and 'min' (the last lr)."""
        warmup_end = self.pct_start * self.total_steps - 1
        last = self.total_steps - 1
        if self.three_phase:
            return [(warmup_end, "start", "peak"), (2 * warmup_end, "peak", "start"),
                    (last, "start", "min")]
        return [(warmup_end, "start", "peak"), (last, "peak", "min")]

    def _position(self, t):
        """Where step t lies: (level at the phase's start, level at its end, fraction done)."""
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {t} times, more than total_steps="
                             f"{self.total_steps}")
        phase_start = 0
        phases = self._phases()
        for end, level_start, level_end in phases:
            if t <= end or end == phases[-1][0]:
                return level_start, level_end, (t - phase_start) / (end - phase_start)
            phase_start = end

    def lr(self, base_lr, t):
        start_lr = base_lr / self.div_factor
        levels = {"start": start_lr, "peak": base_lr, "min": start_lr / self.final_div_factor}
        level_start, level_end, fraction = self._position(t)
        return self.anneal(levels[level_start], levels[level_end], fraction)

    def step(self):
        super().step()
        if self.momentum_key is None:
            return
        level_start, level_end, fraction = self._position(self.last_epoch)
        for group, (high, low) in zip(self.optimizer.param_groups, self.momenta):
            levels = {"start": high, "peak": low, "min": high}   # low momentum at the peak lr
            momentum = self.anneal(levels[level_start], levels[level_end], fraction)
            if self.momentum_key == "betas":
                group["betas"] = (momentum, *group["betas"][1:])
            else:
                group["momentum"] = momentum


class ReduceLROnPlateau(LRScheduler):
    """Cut the lr when a metric has stopped improving (call `step(metric)` after evaluating):

        improved:  mode 'min':  metric < best * (1 - threshold)   ('rel')  or  best - threshold
                   mode 'max':  metric > best * (1 + threshold)   ('rel')  or  best + threshold
        after more than `patience` steps in a row without improvement:
                   lr = max(lr * factor, min_lr)   in every group (skipped if it would change
                                                   the lr by less than eps)
        then `cooldown` steps in which steps without improvement are not counted.

    best is the best metric so far (it starts at +inf for 'min', -inf for 'max'). As in
    PyTorch it does not call LRScheduler's constructor, which would take a first step, and it
    has no formula `lr(base_lr, t)`: it multiplies the lr the optimizer holds.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        self.optimizer = _checked_optimizer("ReduceLROnPlateau", optimizer)
        _check_choice("mode", mode, ("min", "max"))
        _check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        check_hyperparameters("ReduceLROnPlateau", factor=factor, patience=patience,
                              threshold=threshold, cooldown=cooldown, eps=eps)
        for value in _per_group("ReduceLROnPlateau: min_lr", min_lr, optimizer.param_groups):
            check_hyperparameters("ReduceLROnPlateau", min_lr=value)
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.min_lr, self.eps = cooldown, min_lr, eps
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0       # steps in a row without improvement
        self.cooldown_counter = 0     # steps of cooldown left
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def step(self, metrics):
        """Take the newest value of the metric (a number, or a one-element Tensor or array)."""
        current = _as_number(metrics)
        # per group at every step: a group added since the constructor gets a number min_lr too
        min_lrs = _per_group("ReduceLROnPlateau: min_lr", self.min_lr, self.optimizer.param_groups)
        self.last_epoch += 1
        if self._improves(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lrs(min_lrs)
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _improves(self, current):
        """Whether `current` beats the best so far by more than the threshold."""
        sign = 1 if self.mode == "max" else -1
        if self.threshold_mode == "rel":
            bar = self.best * (1 + sign * self.threshold)
        else:
            bar = self.best + sign * self.threshold
        return current > bar if self.mode == "max" else current < bar

    def _reduce_lrs(self, min_lrs):
        for group, min_lr in zip(self.optimizer.param_groups, min_lrs):
            new_lr = max(group["lr"] * self.factor, min_lr)
            if group["lr"] - new_lr > self.eps:
                group["lr"] = new_lr

    def state_dict(self):
        return {"type": type(self).__name__, "last_epoch": self.last_epoch, "best": self.best,
                "num_bad_epochs": self.num_bad_epochs, "cooldown_counter": self.cooldown_counter,
                "last_lr": list(self._last_lr)}

    def load_state_dict(self, state_dict):
        """Resume where `state_dict()` was taken (the hyperparameters come from the
        constructor)."""
        self._check_state(state_dict)
        self.last_epoch = int(state_dict["last_epoch"])
        self.best = float(state_dict["best"])
        self.num_bad_epochs = int(state_dict["num_bad_epochs"])
        self.cooldown_counter = int(state_dict["cooldown_counter"])
        self._set_lrs([float(lr) for lr in state_dict["last_lr"]])


def _check_choice(key, value, choices):
    if value not in choices:
        raise ValueError(f"ReduceLROnPlateau: {key} must be one of {choices}, got {value!r}")


def _as_number(metrics):
    """A metric as a float: from a number, or from a Tensor or array holding one number."""
    value = np.asarray(metrics)
    if value.dtype.kind not in "iuf" or value.size != 1:
        raise TypeError(f"ReduceLROnPlateau.step: expected the metric as one number (such as "
                        f"the validation loss), got {type(metrics).__name__} {metrics!r:.60}")
    return float(value.reshape(()))


def _momentum_key(optimizer):
    """The group entry that OneCycleLR cycles: 'momentum' (SGD, RMSprop) or 'betas' (Adam)."""
    for key in ("momentum", "betas"):
        if key in optimizer.defaults:
            return key
    raise ValueError(f"OneCycleLR: {type(optimizer).__name__} has neither momentum nor betas to "
                     f"cycle; pass cycle_momentum=False")


def _per_group(what, value, groups):
    """One value for every parameter group: a list as given, a number repeated. `what` names
    the argument in the error."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * len(groups)
    if len(values) != len(groups):
        raise ValueError(f"{what}: expected {len(groups)} values, one per parameter group, "
                         f"got {len(values)}")
    return values


def _checked_optimizer(name, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{name}: expected an Optimizer, got {type(optimizer).__name__}")
    return optimizer


def _cosine(start, end, fraction):
    return end + (start - end) / 2 * (math.cos(math.pi * fraction) + 1)


def _linear(start, end, fraction):
    return start + (end - start) * fraction
