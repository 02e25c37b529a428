"""`Optimizer`: the parameter groups and per-parameter state that every optimizer shares.

An optimizer owns no graph: `step()` reads each parameter's gradient array (`.grad.data`) and
updates `.data` in place with plain NumPy, which is why a step costs about as much as the update
formula.

As in PyTorch, `param_groups` is a list of dicts, one per group of parameters, each holding
'params' and the hyperparameters ('lr', ...). A scheduler changes the learning rate by writing
`group['lr']`; different groups may use different settings:

    SGD([{"params": model.features.parameters()},
         {"params": model.classifier.parameters(), "lr": 1e-3}], lr=1e-2, momentum=0.9)

A parameter with requires_grad=False is accepted and left alone, as in PyTorch: backward gives it
no `.grad`, and `step()` skips a parameter without one. So a layer can be frozen (and unfrozen)
by flipping `requires_grad` while the optimizer stays as it is.
"""
import math

import numpy as np

from minigrad.tensor import Tensor, clear_grad


class Optimizer:
    """Base class: subclasses implement `update(param, grad, state, group)` on ndarrays."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.param_groups = []
        self.state = {}    # parameter -> its running buffers, e.g. {'momentum_buffer': array}
        groups = [params] if isinstance(params, Tensor) else list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add {'params': [...], and hyperparameters that override the defaults}."""
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        new_group = len(self.param_groups)
        group_of = {id(p): i for i, g in enumerate(self.param_groups) for p in g["params"]}
        for index, param in enumerate(params):
            where = f"parameter {index} of group {new_group}"
            self._check_parameter(param, where)
            if id(param) in group_of:      # it would be updated twice a step
                raise ValueError(f"{type(self).__name__}: {where} is listed twice (it is also "
                                 f"in group {group_of[id(param)]}); each parameter belongs in "
                                 f"one group, once")
            group_of[id(param)] = new_group
        self.param_groups.append({**self.defaults, **group, "params": params})

    def _check_parameter(self, param, where):
        """A parameter is a leaf Tensor: one that backward fills a `.grad` for and that nothing
        recomputes. (It need not require grad; see the module's docstring.)"""
        if not isinstance(param, Tensor):
            raise TypeError(f"{type(self).__name__}: {where} must be a Tensor, got "
                            f"{type(param).__name__} {param!r:.60}")
        if not param.is_leaf:
            # PyTorch also accepts a non-leaf on which retain_grad() was called; minigrad does not.
            raise ValueError(f"{type(self).__name__}: {where} is not a leaf tensor (it was "
                             f"computed by {param.grad_fn!r}): backward keeps no .grad for it, "
                             f"so it would never be updated; optimize a leaf instead, an "
                             f"nn.Parameter or a tensor created with requires_grad=True from "
                             f"the computed values")

    def zero_grad(self, set_to_none=True):
        """Forget every gradient (backward accumulates into `.grad`): set it to None, or with
        set_to_none=False fill it with zeros, as in PyTorch."""
        for param in self._parameters():
            clear_grad(param, set_to_none)

    def step(self):
        """Update every parameter that has a gradient, group by group."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.shape != param.shape:
                    raise ValueError(f"{type(self).__name__}.step: a gradient has shape "
                                     f"{param.grad.shape}, its parameter {param.shape}")
                self.update(param.data, param.grad.data, self.state.setdefault(param, {}), group)

    def update(self, param, grad, state, group):
        """Change the ndarray `param` in place, given its gradient, state dict and group."""
        raise NotImplementedError(f"{type(self).__name__} must implement update()")

    def _parameters(self):
        return [param for group in self.param_groups for param in group["params"]]

    # ----- saving and resuming ------------------------------------------------------------------
    def state_dict(self):
        """{'state': {index: {name: array or step}}, 'param_groups': [{'lr': ..., 'params':
        [indices]}]}: parameters are numbered in group order, as in PyTorch. Only arrays and
        numbers, so `nn.save` can store it (see `minigrad.nn.checkpoint`)."""
        index = {id(param): i for i, param in enumerate(self._parameters())}
        state = {index[id(param)]: {name: np.array(value, copy=True) if name != "step" else value
                                    for name, value in entry.items()}
                 for param, entry in self.state.items()}
        groups = [{**{k: v for k, v in group.items() if k != "params"},
                   "params": [index[id(param)] for param in group["params"]]}
                  for group in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Resume from `state_dict()` (or its `unflatten_state` form, where lists are dicts
        with int keys). Everything is checked before anything changes: the keys, the number
        of groups and parameters, the hyperparameters' names (another optimizer's have other
        names: SGD has no 'betas') and every state array's shape."""
        check_state_keys(type(self).__name__, state_dict, {"state", "param_groups"},
                         optional={"state"})
        saved_groups = _as_list(state_dict["param_groups"])
        for index, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            check_state_keys(type(self).__name__, saved, set(group),
                             what=f"param group {index} of the state")
        if [len(g["params"]) for g in saved_groups] != \
                [len(g["params"]) for g in self.param_groups]:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved groups have "
                             f"{[len(g['params']) for g in saved_groups]} parameters, this "
                             f"optimizer {[len(g['params']) for g in self.param_groups]}")
        params = self._parameters()
        state = {params[int(i)]: _restore_entry(params[int(i)], int(i), entry)
                 for i, entry in state_dict.get("state", {}).items()}
        for group, saved in zip(self.param_groups, saved_groups):
            group.update({k: _as_hyperparameter(v) for k, v in saved.items() if k != "params"})
        self.state = state


def check_state_keys(owner, state, expected, optional=(), what="the state"):
    """Raise a clear error unless the dict `state` has the keys `expected` (those in `optional`
    may be missing), naming the missing and the unexpected ones: the state of another kind of
    optimizer or scheduler has other keys."""
    if not isinstance(state, dict):
        raise TypeError(f"{owner}.load_state_dict: expected a dict (from state_dict()), got "
                        f"{type(state).__name__}")
    missing = sorted(set(expected) - set(state) - set(optional), key=str)
    unexpected = sorted(set(state) - set(expected), key=str)
    differences = ([f"lacks {missing}"] if missing else []) + \
        ([f"has {unexpected}, which {owner}'s has not"] if unexpected else [])
    if differences:
        raise ValueError(f"{owner}.load_state_dict: {what} {' and '.join(differences)}: is it "
                         f"the state of another optimizer or scheduler? Nothing was loaded")


def _as_list(groups):
    return [groups[key] for key in sorted(groups)] if isinstance(groups, dict) else list(groups)


def _restore_entry(param, index, entry):
    """A saved state entry as arrays of the parameter's shape and dtype (the step stays int)."""
    restored = {}
    for name, value in entry.items():
        if name == "step":
            restored[name] = int(value)
            continue
        value = np.array(value, dtype=param.dtype)
        if value.shape != param.shape:
            raise ValueError(f"load_state_dict: state '{name}' of parameter {index} has shape "
                             f"{value.shape}, the parameter {param.shape}")
        restored[name] = value
    return restored


def _as_hyperparameter(value):
    """Arrays that came back from an .npz file (e.g. Adam's betas) as Python tuples."""
    return tuple(value.tolist()) if isinstance(value, np.ndarray) else value


def l2_gradient(param, grad, weight_decay):
    """grad + weight_decay * param: the gradient of loss + weight_decay / 2 * ||param||**2."""
    return grad + weight_decay * param if weight_decay else grad


def check_hyperparameters(name, **values):
    """Raise, naming the optimizer or scheduler, unless every value is a number in its range:
    betas (and ReduceLROnPlateau's factor) in [0, 1), Adadelta's rho in [0, 1], anything else
    finite and >= 0. An lr of inf or NaN would turn every weight into NaN at the first step."""
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"{name}: {key} must be a number, got {value!r}")
        allowed, within = _range_of(key)
        if not within(value):
            raise ValueError(f"{name}: {key} must be {allowed}, got {value}")


def _range_of(key):
    """(the range in words, a test of it) for a hyperparameter, by its name."""
    if key.startswith("beta") or key == "factor":
        return "in [0, 1)", lambda value: 0.0 <= value < 1.0
    if key == "rho":
        return "in [0, 1]", lambda value: 0.0 <= value <= 1.0
    return "a finite number >= 0", lambda value: value >= 0.0 and math.isfinite(value)


# PyTorch options that minigrad cannot honour, and why. (foreach and fused are accepted: they pick
# one of PyTorch's implementations of the same formula, and minigrad has only one.)
UNSUPPORTED_OPTIONS = {
    "differentiable": "it records the update itself in the autograd graph, and minigrad updates "
                      ".data outside any graph",
    "capturable": "it prepares the optimizer for CUDA graphs, and minigrad runs on the CPU",
}


def refuse_unsupported(name, **options):
    """Raise, naming the optimizer, if any option of UNSUPPORTED_OPTIONS is turned on."""
    for option, value in options.items():
        if value:
            raise ValueError(f"{name}: {option}={value!r} is not supported "
                             f"({UNSUPPORTED_OPTIONS[option]}); leave it False")
