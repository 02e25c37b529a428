"""Adebayo et al.'s sanity check on a LeNet-5 trained for a few seconds, and the layer helper."""
import numpy as np
import pytest

from minigrad import nn, optim
from minigrad.data import DataLoader, ScaleUint8, TensorDataset, mnist
from minigrad.models import LeNet5
from minigrad.saliency.layers import compare_layers, format_layer_table
from minigrad.saliency.metrics import randomisable_layers, sanity_check
from minigrad.train import train_epoch

pytestmark = pytest.mark.slow          # trains LeNet-5 once for the module: ~10 s of CPU


@pytest.fixture(scope="module")
def trained_lenet():
    """LeNet-5 after one epoch on the 4,000 bundled MNIST training digits."""
    images, labels = mnist("train")
    nn.manual_seed(0)
    model = LeNet5()
    loader = DataLoader(TensorDataset(images, labels), batch_size=64,
                        shuffle=True, seed=0, transform=ScaleUint8())   # as `digits` below
    train_epoch(model, loader, optim.Adam(model.parameters(), lr=3e-3), progress=False)
    return model.eval()


@pytest.fixture(scope="module")
def digits():
    images, labels = mnist("test")
    return images[:16].astype(np.float32) / 255, labels[:16]


def test_the_trained_lenet_reads_digits(trained_lenet, digits):
    x, labels = digits
    assert (trained_lenet(nn.Parameter(x)).data.argmax(axis=1) == labels).mean() >= 0.8


@pytest.mark.parametrize("method", ["gradient", "gradcam", "ablationcam", "lrp", "deeplift",
                                    "gradient_shap"])
def test_randomising_the_top_layer_changes_the_map(trained_lenet, digits, method):
    # The vanilla gradient is checked signed ('gradient'), Adebayo et al.'s "no absolute value"
    # variant: its |.| (the 'vanilla' map) keeps a rank correlation of about 0.6 here, because
    # on the blank background both maps share the same pattern of active first-layer units.
    x, labels = digits
    before = trained_lenet.state_dict()
    cascade = sanity_check(trained_lenet, x, method, target=labels)
    names = [name for name, _ in cascade]
    assert names == ["none"] + randomisable_layers(trained_lenet)
    assert names[1] == "classifier.5"                        # the top layer goes first
    assert cascade[1][1] < 0.5, cascade
    for name, array in trained_lenet.state_dict().items():   # weights restored
        np.testing.assert_array_equal(array, before[name])


def test_eigencam_ignores_the_layers_above_its_own_and_follows_the_ones_below(trained_lenet,
                                                                            digits):
    """EigenCAM reads features.4's activations and no class: randomising the classifier cannot
    change its map (correlation exactly 1), randomising the conv under it must."""
    x, labels = digits
    cascade = dict(sanity_check(trained_lenet, x, "eigencam", target=labels))
    assert [cascade[name] for name in ("classifier.5", "classifier.3", "classifier.1")] == \
        [1.0, 1.0, 1.0]
    assert cascade["features.3"] < 0.5, cascade


def test_compare_layers_scores_every_conv_layer(trained_lenet, digits):
    x, labels = digits
    masks = x[:, 0] > 0.3                                    # the digit's ink
    rows = compare_layers(trained_lenet, x, masks, target=labels)
    assert [row["layer"] for row in rows] == ["features.1", "features.4"]     # the ReLUs
    assert rows[0]["resolution"] == (28, 28) and rows[1]["resolution"] == (10, 10)
    assert "features.4" in format_layer_table(rows)
