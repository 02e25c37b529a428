"""python -m minigrad.apps.bcos_grids: which images go in which grid, each model's own input,
and the refusals; on small untrained models of `minigrad train`'s files."""
import numpy as np
import pytest

from minigrad import nn
from minigrad.apps.bcos_grids import main, shapes_model, split_rows
from minigrad.apps.recipes import model_kwargs, save_trained
from minigrad.data import DATA_VERSIONS
from minigrad.models import get_model


def saved(tmp_path, model_name, dataset="shapes"):
    """An untrained model saved as `minigrad train` saves one -> its path."""
    config = {"model": model_name, "dataset": dataset, "data_version": DATA_VERSIONS["shapes"]}
    if dataset != "shapes":
        config.pop("data_version")
    nn.manual_seed(0)
    path = tmp_path / f"{model_name}-{dataset}.npz"
    save_trained(get_model(model_name, **model_kwargs(config)).eval(), config, path)
    return path


def test_split_rows_keeps_both_right_and_the_bcos_mistakes_in_order():
    labels = np.array([0, 1, 2, 3, 4, 5, 6])
    bcos = np.array([0, 9, 2, 3, 9, 5, 9])
    plain = np.array([0, 1, 9, 3, 9, 5, 6])
    correct, mistakes = split_rows(labels, bcos, plain, rows=2)
    np.testing.assert_array_equal(correct, [0, 3])         # 2: the plain model is wrong
    np.testing.assert_array_equal(mistakes, [1, 4])        # whatever the plain model says
    np.testing.assert_array_equal(split_rows(labels, bcos, plain, rows=9)[1], [1, 4, 6])


def test_each_model_sees_its_own_recipes_input(tmp_path):
    _, bcos_input = shapes_model(saved(tmp_path, "bcos_alexnet_lite_v2"), bcos=True)
    _, plain_input = shapes_model(saved(tmp_path, "alexnet_lite_bn"), bcos=False)
    images = np.random.default_rng(0).integers(0, 256, (2, 3, 64, 64), dtype=np.uint8)
    np.testing.assert_allclose(bcos_input(images), images / 255, rtol=1e-6)    # mean 0, std 1
    np.testing.assert_allclose(plain_input(images), (images / 255 - 0.5) / 0.3, rtol=1e-5,
                               atol=1e-6)


def test_a_model_of_the_wrong_kind_or_data_set_is_refused(tmp_path):
    with pytest.raises(ValueError, match="expected a B-cos network, got alexnet_lite_bn"):
        shapes_model(saved(tmp_path, "alexnet_lite_bn"), bcos=True)
    with pytest.raises(ValueError, match=r"expected a plain \(non-B-cos\) network"):
        shapes_model(saved(tmp_path, "bcos_alexnet_lite_v2"), bcos=False)
    with pytest.raises(ValueError, match="trained on shapes, got one trained on mnist"):
        shapes_model(saved(tmp_path, "lenet5", "mnist"), bcos=False)


def test_main_writes_the_grids_that_have_rows(tmp_path, capsys):
    bcos, plain = saved(tmp_path, "bcos_alexnet_lite_v2"), saved(tmp_path, "alexnet_lite_bn")
    main(["--bcos-path", str(bcos), "--plain-path", str(plain), "--n", "20", "--rows", "2",
          "--out", str(tmp_path / "grid")])
    written = capsys.readouterr().out.split()
    assert f"{tmp_path / 'grid'}_mistakes.png" in written      # an untrained net errs
    for name in written[1::2]:
        assert open(name, "rb").read(4) == b"\x89PNG"
