"""Anomaly mode: name the first op whose output or gradient went NaN or infinite.

The engine knows nothing of it but one hook: while the mode is on, `function.anomaly_checks` is
`Checks` below, and `Function.apply` and `Function.input_grads` hand every op's output and
gradients to it; off, the hook is None and costs one test per op.
"""
import contextlib
import os
import traceback

import numpy as np

from minigrad import function


class detect_anomaly(contextlib.ContextDecorator):
    """Context manager and decorator, like PyTorch's anomaly mode: inside it, every op checks
    its output in forward and the gradients it returns in backward, and the first one that holds
    a NaN or an infinity raises FloatingPointError naming the op, the shapes, and the line of
    code that called it. Off (the default) it costs one test of a flag per op.

        with mg.detect_anomaly():
            loss = F.cross_entropy(model(x), y)
            loss.backward()
    """

    def __init__(self, mode=True):
        self.mode = mode

    def __enter__(self):
        self._previous = is_anomaly_enabled()
        set_detect_anomaly(self.mode)

    def __exit__(self, *exc):
        set_detect_anomaly(self._previous)
        return False


def set_detect_anomaly(mode):
    """Switch anomaly detection on or off for the rest of the program (see `detect_anomaly`)."""
    function.anomaly_checks = Checks if mode else None


def is_anomaly_enabled():
    return function.anomaly_checks is not None


def check_forward(fn, tensors, output):
    """In anomaly mode: raise if this op's output holds NaN or inf, saying whether its inputs
    already did (then the problem came from outside: the data or the parameters)."""
    fn.called_from = _caller()
    if np.isfinite(output).all():
        return
    inputs = [f"input {i} (shape {t.shape}) held {_count_non_finite(t.data)}"
              for i, t in enumerate(tensors) if t is not None and not np.isfinite(t.data).all()]
    cause = ("; its inputs were finite, so this op produced them" if not inputs else
             "; but its " + ", ".join(inputs) + " already: they came from the data or the "
             "parameters")
    raise FloatingPointError(f"detect_anomaly: the output of {fn!r} (forward, shape "
                             f"{np.shape(output)}) holds {_count_non_finite(output)}{cause}; "
                             f"called from {fn.called_from}")


def check_backward(fn, grad, grads):
    """In anomaly mode: raise if this op's backward returned a NaN or inf gradient."""
    for index, grad_in in enumerate(grads):
        if grad_in is not None and not np.isfinite(grad_in).all():
            incoming = "finite" if np.isfinite(grad).all() else _count_non_finite(grad)
            raise FloatingPointError(
                f"detect_anomaly: {fn!r}.backward returned a gradient for input {index} "
                f"(shape {np.shape(grad_in)}) that holds {_count_non_finite(grad_in)}; the "
                f"gradient it was given was {incoming}; the op was called from "
                f"{getattr(fn, 'called_from', 'an unknown place')}")


def _count_non_finite(array):
    array = np.asarray(array)
    return f"{int(np.isnan(array).sum())} NaN and {int(np.isinf(array).sum())} inf values"


_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_ENGINE = [os.path.join(_PACKAGE, name) for name in ("function.py", "tensor.py", "anomaly.py",
                                                     "ops")]


def _caller():
    """'file:line in function' of the code that called the op: the innermost frame outside the
    engine and the ops (a layer's forward, or your own code), and the innermost outside minigrad."""
    frames = traceback.extract_stack()[:-3]
    outside_engine = next((f for f in reversed(frames)
                           if not any(f.filename.startswith(e) for e in _ENGINE)), None)
    outside_package = next((f for f in reversed(frames)
                            if not f.filename.startswith(_PACKAGE)), None)
    places = [f"{_short(f.filename)}:{f.lineno} in {f.name}"
              for f in (outside_engine, outside_package) if f is not None]
    return ", in ".join(dict.fromkeys(places)) or "unknown"


def _short(filename):
    """minigrad's files as 'minigrad/nn/layers.py', others relative to the working directory."""
    if filename.startswith(_PACKAGE):
        return os.path.relpath(filename, os.path.dirname(_PACKAGE))
    relative = os.path.relpath(filename)
    return filename if relative.startswith("..") else relative


class Checks:
    """What the engine calls on every op while anomaly mode is on (`function.anomaly_checks`)."""
    forward = staticmethod(check_forward)
    backward = staticmethod(check_backward)


__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]
