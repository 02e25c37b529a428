"""minigrad.viz training plots: each writes a PNG, and looking never changes the model."""
import subprocess
import sys

import numpy as np
import pytest

from minigrad import viz
from minigrad.models import AlexNetLite, LeNet5

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_plot_curves_with_and_without_validation(tmp_path):
    history = {"train_loss": [1.0, 0.5, 0.3], "train_accuracy": [0.6, 0.8, 0.9],
               "val_loss": [0.9, 0.6, 0.4], "val_accuracy": [0.7, 0.8, 0.85]}
    assert_png(viz.plot_curves(history, tmp_path / "curves.png"))
    history.update(val_loss=[], val_accuracy=[])
    assert_png(viz.plot_curves(history, tmp_path / "train_only.png"))


def test_plot_confusion_with_class_names(tmp_path):
    confusion = np.array([[5, 1, 0], [0, 6, 0], [2, 0, 4]])
    assert_png(viz.plot_confusion(confusion, tmp_path / "c.png", ["cat", "dog", "eel"]))


@pytest.mark.parametrize("model", [LeNet5(), AlexNetLite()], ids=["grey", "rgb"])
def test_plot_filters_of_the_first_convolution(model, tmp_path):
    assert viz.first_conv(model) is model.features[0]
    assert_png(viz.plot_filters(model, tmp_path / "filters.png"))


def test_plot_feature_maps_by_name_or_module_leaves_the_model_as_it_was(tmp_path):
    model = LeNet5().train()
    image = np.random.default_rng(0).random((1, 28, 28), dtype=np.float32)
    assert_png(viz.plot_feature_maps(model, "features.3", image, tmp_path / "a.png"))
    assert_png(viz.plot_feature_maps(model, model.features[0], image, tmp_path / "b.png"))
    assert model.training
    assert all(not module._forward_hooks for module in model.modules())


def test_importing_minigrad_does_not_import_matplotlib():
    code = "import sys, minigrad, minigrad.viz; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
