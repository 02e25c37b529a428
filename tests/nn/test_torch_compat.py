"""A minigrad state dict loads one-to-one into the same architecture in PyTorch (and back)."""
import numpy as np
import pytest

import minigrad.nn as nn
from minigrad import Tensor

torch = pytest.importorskip("torch")


def minigrad_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.BasicBlock(4, 6, stride=2), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(6, 5), nn.BatchNorm1d(5), nn.LogSoftmax(dim=1))


class TorchBasicBlock(torch.nn.Module):
    """torchvision's BasicBlock, written out so the test needs only torch."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        conv = torch.nn.Conv2d
        self.conv1 = conv(cin, cout, 3, stride, padding=1, bias=False)
        self.bn1, self.relu = torch.nn.BatchNorm2d(cout), torch.nn.ReLU()
        self.conv2 = conv(cout, cout, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(cout)
        self.downsample = torch.nn.Sequential(conv(cin, cout, 1, stride, bias=False),
                                              torch.nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + self.downsample(x))


def torch_net():
    t = torch.nn
    return t.Sequential(t.Conv2d(1, 4, 3, padding=1), t.BatchNorm2d(4), t.ReLU(), t.MaxPool2d(2),
                        TorchBasicBlock(4, 6, 2), t.AdaptiveAvgPool2d(1), t.Flatten(),
                        t.Linear(6, 5), t.BatchNorm1d(5), t.LogSoftmax(dim=1))


def test_state_dict_round_trips_into_torch_and_back():
    model = minigrad_net()
    rng = np.random.default_rng(0)
    model(Tensor(rng.standard_normal((4, 1, 8, 8)).astype(np.float32)))  # set running stats
    model.eval()
    reference = torch_net()
    # the same layers at the same indices: the keys load one-to-one, no renaming
    reference.load_state_dict({name: torch.from_numpy(np.array(value))
                               for name, value in model.state_dict().items()}, strict=True)
    reference.eval()
    x = rng.standard_normal((3, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(Tensor(x)).data, expected, rtol=1e-4, atol=1e-5)

    back = minigrad_net().eval()
    back.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    np.testing.assert_allclose(back(Tensor(x)).data, expected, rtol=1e-4, atol=1e-5)


def test_same_keys_and_shapes_as_torch_for_each_layer():
    pairs = [(nn.Conv2d(3, 8, 5, groups=1), torch.nn.Conv2d(3, 8, 5)),
             (nn.Linear(7, 2, bias=False), torch.nn.Linear(7, 2, bias=False)),
             (nn.BatchNorm1d(4, affine=False), torch.nn.BatchNorm1d(4, affine=False))]
    for ours, theirs in pairs:
        assert {k: v.shape for k, v in ours.state_dict().items()} == \
               {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
