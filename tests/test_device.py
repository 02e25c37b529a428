"""The device API (minigrad/devices.py): the CPU is accepted everywhere and changes nothing; every
other device is refused with one sentence, never run elsewhere or ignored."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from tests.helpers import torch_or_skip

OTHER_DEVICES = ["cuda", "cuda:0", "mps", "xpu", 0]
CPU_ONLY = "minigrad runs on the CPU only"


def test_device_cpu_as_torch_device():
    cpu = mg.device("cpu")
    assert cpu.type == "cpu" and cpu.index is None and str(cpu) == "cpu"
    assert repr(cpu) == "device(type='cpu')" and cpu == mg.device(cpu)
    assert mg.device("cpu:0") == mg.device("cpu", 0) and mg.device("cpu:0").index == 0
    assert {cpu: 1}[mg.device("cpu")] == 1


def test_device_matches_torch_cpu_device():
    torch = torch_or_skip()
    for args in [("cpu",), ("cpu:0",), ("cpu", 1)]:
        ours, theirs = mg.device(*args), torch.device(*args)
        assert (ours.type, ours.index, str(ours), repr(ours)) == \
            (theirs.type, theirs.index, str(theirs), repr(theirs)), args


@pytest.mark.parametrize("name", OTHER_DEVICES)
def test_every_other_device_is_refused_with_a_sentence(name):
    with pytest.raises(RuntimeError, match=f"device {name!r} is not available: {CPU_ONLY}"):
        mg.device(name)
    with pytest.raises(RuntimeError, match=CPU_ONLY):
        mg.zeros(2).to(name)
    with pytest.raises(RuntimeError, match=CPU_ONLY):
        nn.Linear(2, 2).to(name)


def test_a_malformed_cpu_device_is_refused():
    with pytest.raises(RuntimeError, match="expected 'cpu' or 'cpu:<index>'"):
        mg.device("cpu:first")


def test_no_accelerator_is_available_as_torch_reports_on_a_cpu_machine():
    assert mg.cuda.is_available() is False and mg.cuda.device_count() == 0
    assert mg.accelerator.is_available() is False
    assert mg.accelerator.current_accelerator() is None
    assert mg.accelerator.device_count() == 0
    assert mg.cuda.manual_seed(0) is None and mg.cuda.manual_seed_all(0) is None


def test_the_device_choice_of_current_torch_examples_gives_cpu():
    device = mg.accelerator.current_accelerator().type if mg.accelerator.is_available() else "cpu"
    older = mg.device("cuda" if mg.cuda.is_available() else "cpu")
    model = nn.Linear(3, 2).to(device)
    x = mg.randn(4, 3).to(device)
    assert device == "cpu" and older == mg.device("cpu")
    assert model(x.to(older)).shape == (4, 2)


def test_the_default_device_is_the_cpu():
    mg.set_default_device("cpu")
    mg.set_default_device(mg.device("cpu"))
    assert mg.get_default_device() == mg.device("cpu")
    with pytest.raises(RuntimeError, match=f"set_default_device: device 'cuda' is not available: "
                                           f"{CPU_ONLY}"):
        mg.set_default_device("cuda")


def test_tensor_to_cpu_and_cpu_return_the_tensor_itself():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    for same in (x.to("cpu"), x.to(mg.device("cpu")), x.to(device="cpu"), x.cpu(),
                 x.to(x.device), x.to("cpu", mg.float32), x.to()):
        assert same is x
    assert x.device == mg.device("cpu") and x.device.type == "cpu"


def test_cuda_on_a_tensor_or_module_is_refused():
    with pytest.raises(RuntimeError, match=f"Tensor.cuda\\(\\): {CPU_ONLY}"):
        mg.zeros(2).cuda()
    with pytest.raises(RuntimeError, match=f"Linear.cuda\\(\\): {CPU_ONLY}"):
        nn.Linear(2, 2).cuda()


def test_module_to_cpu_returns_the_module_unchanged():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    weight = model[0].weight
    before = weight.data.copy()
    assert model.to("cpu") is model and model.to(mg.device("cpu")) is model
    assert model.cpu() is model and model[0].weight is weight
    np.testing.assert_array_equal(weight.data, before)
    assert weight.dtype == np.float32


def test_module_to_converts_dtypes_in_torch_forms():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    weight = model[0].weight
    assert model.to(mg.float64) is model and weight.dtype == np.float64
    assert model[1].running_mean.dtype == np.float64
    model.to("cpu", mg.float32)
    assert weight.dtype == np.float32 and model[0].weight is weight
    model.to(mg.zeros(1, dtype=mg.float64))                        # to(tensor): its dtype
    assert weight.dtype == np.float64
    model.to(dtype=mg.float32)
    assert weight.dtype == np.float32
    with pytest.raises(TypeError, match="Module.to: expected a floating-point dtype, got int64"):
        model.to(mg.long)
