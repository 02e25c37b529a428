"""Devices, with PyTorch's API: minigrad computes on the CPU, and only there.

PyTorch programs choose a device, then move their model and tensors to it:

    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() \\
        else "cpu"
    model = Net().to(device);  x = x.to(device)

Here every accelerator answers that it is not available, so such a program chooses "cpu", and
moving to the CPU changes nothing (`x.to("cpu")` is x itself). Asking for anything else ("cuda",
"mps", an index such as 0) fails with a sentence, before anything runs elsewhere or silently here.
All of it lives in this file: `device`, `cuda`, `accelerator`, and what `Tensor.to` and `Module.to`
ask of a device.
"""
from minigrad.dtypes import as_dtype
from minigrad.tensor import Tensor

CPU_ONLY = ("minigrad runs on the CPU only (NumPy and Numba); use 'cpu', or choose the device as "
            "PyTorch's examples do: 'cuda' if minigrad.cuda.is_available() else 'cpu' (always "
            "'cpu' here)")


class device:
    """The device a tensor lives on, as `torch.device`: `minigrad.device("cpu")` (or "cpu:0",
    or device("cpu", 0)). `type` is "cpu"; any other device is refused with a sentence."""

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        named_index = _cpu_index(type, "device")
        self.type = "cpu"
        self.index = index if named_index is None else named_index

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='cpu'{index})"

    def __str__(self):
        return "cpu" if self.index is None else f"cpu:{self.index}"

    def __eq__(self, other):
        return isinstance(other, device) and (other.type, other.index) == (self.type, self.index)

    def __hash__(self):
        return hash((self.type, self.index))


def _cpu_index(name, op):
    """The index of 'cpu' or 'cpu:0' (None if it has none); any other device is refused."""
    if not isinstance(name, str):           # torch reads a bare number as a GPU's index
        raise RuntimeError(f"{op}: device {name!r} is not available: {CPU_ONLY}")
    kind, colon, index = name.partition(":")
    if kind != "cpu":
        raise RuntimeError(f"{op}: device {name!r} is not available: {CPU_ONLY}")
    if colon and not index.isdigit():
        raise RuntimeError(f"{op}: device {name!r}: expected 'cpu' or 'cpu:<index>'")
    return int(index) if colon else None


CPU = device("cpu")


def check_device(where, op):
    """Accept the CPU (None, "cpu", minigrad.device("cpu")); refuse every other device."""
    if where is not None and not isinstance(where, device):
        _cpu_index(where, op)


def set_default_device(device):
    """torch.set_default_device: the CPU is the only device, so "cpu" changes nothing."""
    check_device(device, "set_default_device")


def get_default_device():
    return CPU


class _Cuda:
    """`minigrad.cuda`: what PyTorch programs ask before using a GPU. There is none here."""

    @staticmethod
    def is_available():
        return False

    @staticmethod
    def device_count():
        return 0

    @staticmethod
    def manual_seed(seed):
        """Does nothing, as torch.cuda.manual_seed does without a GPU (use minigrad.manual_seed)."""

    manual_seed_all = manual_seed


class _Accelerator:
    """`minigrad.accelerator`, as torch.accelerator: no accelerator, so programs choose 'cpu'."""

    @staticmethod
    def is_available():
        return False

    @staticmethod
    def current_accelerator(check_available=False):
        return None

    @staticmethod
    def device_count():
        return 0


cuda = _Cuda()
accelerator = _Accelerator()


# ----- what tensors and modules ask of a device -------------------------------------------------
def target_dtype(device_or_dtype, dtype, op):
    """What `.to(...)` asks for, in PyTorch's three forms -- to(device, dtype), to(dtype) and
    to(other_tensor) -- as a dtype (None: keep the dtype), after checking the device."""
    if isinstance(device_or_dtype, Tensor):
        return device_or_dtype.dtype
    if device_or_dtype is None or isinstance(device_or_dtype, (str, device, int)):
        check_device(device_or_dtype, op)
        return as_dtype(dtype, op)
    return as_dtype(device_or_dtype, op)       # to(dtype, non_blocking): the 2nd is non_blocking


def tensor_device(x):
    """x.device: always the CPU."""
    return CPU


def cpu(x, memory_format=None):
    """x.cpu() and module.cpu(): already there, so x itself."""
    return x


def refuse_cuda(x, device=None, non_blocking=False, memory_format=None):
    """x.cuda() and module.cuda(): refused with a sentence, never run on the CPU instead."""
    raise RuntimeError(f"{type(x).__name__}.cuda(): {CPU_ONLY}")
