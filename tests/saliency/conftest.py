"""Small hand-built models shared by the saliency tests (float64, so that sums are exact)."""
import numpy as np
import pytest

from minigrad import nn


def double(model, seed=0):
    """The model in float64, weights drawn from a fixed seed."""
    nn.manual_seed(seed)
    return model.double()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def small_cnn():
    """conv-relu-maxpool-conv-relu, then Flatten + Linear: the usual CNN, in miniature."""
    nn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(6 * 4 * 4, 5)).double()


@pytest.fixture
def torch_small_cnn(small_cnn):
    """(torch, small_cnn's twin in torch with the same weights); skipped without torch."""
    torch = pytest.importorskip("torch")
    reference = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(96, 5)).double()
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in small_cnn.state_dict().items()})
    return torch, reference


@pytest.fixture
def gap_cnn():
    """conv-relu -> global average pool -> Linear: the architecture CAM was made for, in
    PyTorch's layout (AdaptiveAvgPool2d(1), Flatten)."""
    nn.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(6, 4)).double()


@pytest.fixture
def images(rng):
    return rng.normal(size=(3, 3, 8, 8))


class TwicePooled(nn.Module):
    """PyTorch's CIFAR tutorial's layout: one self.pool used after both convs."""

    def __init__(self):
        super().__init__()
        self.conv1, self.relu1 = nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()
        self.conv2, self.relu2 = nn.Conv2d(4, 6, 3, padding=1), nn.ReLU()
        self.pool, self.flatten, self.fc = nn.MaxPool2d(2), nn.Flatten(), nn.Linear(24, 5)

    def forward(self, x):
        x = self.pool(self.relu1(self.conv1(x)))
        return self.fc(self.flatten(self.pool(self.relu2(self.conv2(x)))))


@pytest.fixture
def twice_pooled():
    nn.manual_seed(0)
    return TwicePooled().double()
