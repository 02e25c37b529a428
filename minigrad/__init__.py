"""minigrad: a deep-learning engine small enough to read, built on NumPy and Numba."""
__version__ = "0.1.0"

from minigrad.tensor import Tensor, enable_grad, is_grad_enabled, no_grad, tensor  # noqa: E402
from minigrad.function import (Function, detect_anomaly, is_anomaly_enabled,  # noqa: E402
                               set_detect_anomaly, unbroadcast)
from minigrad.ops import methods as _methods  # noqa: E402,F401  (attaches x + y, x.sum() ... to Tensor)
from minigrad.gradcheck import GradcheckError, gradcheck  # noqa: E402
from minigrad import functional, nn, optim  # noqa: E402
from minigrad import autograd, utils  # noqa: E402  (torch.autograd.Function, torch.utils.data)
from minigrad.nn.checkpoint import CheckpointError, load, save  # noqa: E402
from minigrad.nn.init import manual_seed  # noqa: E402

__all__ = ["Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "Function",
           "unbroadcast", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "gradcheck", "GradcheckError", "manual_seed", "functional", "nn", "optim", "save",
           "load", "CheckpointError", "__version__"]
__all__ += ["autograd", "utils"]
