"""Learning-rate schedules: set every group's 'lr' from a closed formula of the step count.

    scheduler = StepLR(optimizer, step_size=10, gamma=0.5)
    for epoch in range(epochs):
        train_one_epoch(...)          # optimizer.step() inside
        scheduler.step()              # OneCycleLR: call it after every batch instead

Creating a scheduler sets the lr for step 0; `step()` moves to the next one (PyTorch's
convention). The formulas below use t = number of `step()` calls so far, base = the group's lr
when the scheduler was created.
"""
import bisect
import math

from minigrad.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses implement `lr(base_lr, t)`."""

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def lr(self, base_lr, t):
        raise NotImplementedError(f"{type(self).__name__} must implement lr()")

    def step(self):
        self.last_epoch += 1
        self._set_lrs([self.lr(base, self.last_epoch) for base in self.base_lrs])

    def _set_lrs(self, lrs):
        self._last_lr = lrs
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr

    def get_last_lr(self):
        """The lr of every group, as set by the last step."""
        return list(self._last_lr)

    def state_dict(self):
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs),
                "last_lr": list(self._last_lr)}

    def load_state_dict(self, state_dict):
        """Resume the schedule (the hyperparameters come from the constructor)."""
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


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2: half a cosine from base
    down to eta_min over T_max steps (SGDR without restarts)."""

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
        self.momenta = list(zip(_per_group(max_momentum, groups), _per_group(base_momentum,
                                                                             groups)))
        for group, peak in zip(groups, _per_group(max_lr, groups)):
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


def _momentum_key(optimizer):
    """The group entry that OneCycleLR cycles: 'momentum' (SGD, RMSprop) or 'betas' (Adam)."""
    for key in ("momentum", "betas"):
        if key in optimizer.defaults:
            return key
    raise ValueError(f"OneCycleLR: {type(optimizer).__name__} has neither momentum nor betas to "
                     f"cycle; pass cycle_momentum=False")


def _per_group(value, groups):
    """One value for every parameter group: a list as given, a number repeated."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * len(groups)
    if len(values) != len(groups):
        raise ValueError(f"OneCycleLR: expected {len(groups)} values, one per parameter group, "
                         f"got {len(values)}")
    return values


def _cosine(start, end, fraction):
    return end + (start - end) / 2 * (math.cos(math.pi * fraction) + 1)


def _linear(start, end, fraction):
    return start + (end - start) * fraction
