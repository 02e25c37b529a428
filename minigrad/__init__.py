"""minigrad: a deep-learning engine small enough to read, built on NumPy and Numba."""
__version__ = "0.1.0"

import os as _os  # noqa: E402
import sys as _sys  # noqa: E402


def _ctrl_c_while_the_command_starts(kind, error, traceback, previous=_sys.excepthook):
    """The `minigrad` command spends its first half second importing NumPy, Numba and
    matplotlib, before apps/cli.py's main() can catch a Ctrl-C: said here in one line, as main()
    says it (the exit status stays a Ctrl-C's, 130), not as a traceback through the imports.
    --debug keeps the traceback."""
    if issubclass(kind, KeyboardInterrupt) and "--debug" not in _sys.argv:
        print("\nminigrad: interrupted", file=_sys.stderr)
    else:
        previous(kind, error, traceback)


# Only when this import is the command starting (`minigrad ...`, or `python -m minigrad`, whose
# argv[0] is "-m" while the package loads): a program that imports minigrad keeps its own hook.
_COMMAND_STARTING = (_sys.argv[:1] == ["-m"]
                     or _os.path.basename((_sys.argv or [""])[0]) == "minigrad")
if _COMMAND_STARTING:
    _sys.excepthook = _ctrl_c_while_the_command_starts
    # A Ctrl-C inside NumPy's C import code comes out as an ImportError (a traceback, not the
    # one line): hold SIGINT until the imports below are done, then it arrives as a
    # KeyboardInterrupt at a clean point.
    import signal as _signal
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})

from minigrad.tensor import Tensor, enable_grad, is_grad_enabled, no_grad  # noqa: E402
from minigrad.function import Function, unbroadcast  # noqa: E402
from minigrad.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly  # noqa: E402
from minigrad.ops import methods as _methods  # noqa: E402,F401  (attaches x + y, x.sum() ... to Tensor)
from minigrad.gradcheck import GradcheckError, gradcheck  # noqa: E402
from minigrad import functional, nn, optim  # noqa: E402
from minigrad import autograd, utils  # noqa: E402  (torch.autograd.Function, torch.utils.data)
from minigrad.nn.checkpoint import CheckpointError, load, save  # noqa: E402
from minigrad.nn.init import manual_seed  # noqa: E402
from minigrad.devices import (accelerator, cuda, device, get_default_device,  # noqa: E402
                              set_default_device)
from minigrad.factories import (arange, as_tensor, empty, empty_like, eye,  # noqa: E402
                                from_numpy, full, full_like, linspace, ones, ones_like, rand,
                                rand_like, randint, randint_like, randn, randn_like, tensor,
                                zeros, zeros_like)
# torch.* functions (torch.max(x, 1), torch.where(...)): the same as minigrad.functional's
from minigrad.functional import (abs, argmax, cat, clamp, cos, exp, flatten, log,  # noqa: E402
                                 matmul, max, mean, min, mm, pow, relu, sigmoid, sin, softmax,
                                 sqrt, stack, sum, tanh, where)
# PyTorch's dtype names. They shadow Python's float, int and bool in this module only, which is
# why they come last and are left out of __all__ (a star import would shadow them for you too).
from minigrad.dtypes import float32, float64, int32, int64  # noqa: E402
from minigrad.dtypes import bool_ as bool, float32 as float, float64 as double  # noqa: E402,A001
from minigrad.dtypes import int32 as int, int64 as long  # noqa: E402,A001

if _COMMAND_STARTING:                  # a Ctrl-C held since the top arrives now
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGINT})

__all__ = ["Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "Function",
           "unbroadcast", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "gradcheck", "GradcheckError", "manual_seed", "functional", "nn", "optim", "save",
           "load", "CheckpointError", "__version__", "device", "cuda", "accelerator",
           "float32", "float64", "int32", "int64"]
__all__ += ["autograd", "utils"]
