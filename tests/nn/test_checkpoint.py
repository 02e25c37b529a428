"""state_dict round trips, strict loading, and atomic .npz checkpoints."""
import os

import numpy as np
import pytest

import minigrad.nn as nn
from minigrad import Tensor
from minigrad.nn import checkpoint
from minigrad.optim import SGD


def make_model():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8, 3))


def trained_model():
    model = make_model()
    model(Tensor(np.random.default_rng(0).standard_normal((4, 1, 4, 4)).astype(np.float32)))
    return model.eval()


def test_save_load_into_fresh_model_gives_identical_outputs(tmp_path):
    model = trained_model()
    path = tmp_path / "model.npz"
    nn.save(model, path)
    fresh = make_model().eval()
    result = fresh.load_state_dict(nn.load(path))
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = Tensor(np.random.default_rng(1).standard_normal((2, 1, 4, 4)).astype(np.float32))
    np.testing.assert_array_equal(fresh(x).data, model(x).data)
    assert fresh[1].num_batches_tracked == 1
    with np.load(path, allow_pickle=False) as archive:
        assert archive["1.running_mean"].dtype == np.float32


def test_strict_load_reports_every_problem_by_name_and_changes_nothing():
    model = make_model()
    before = model.state_dict()
    state = trained_model().state_dict()
    del state["4.bias"]
    state["extra.weight"] = np.zeros(2)
    state["0.weight"] = np.zeros((2, 1, 5, 5))
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "missing key '4.bias'" in message and "unexpected key 'extra.weight'" in message
    assert "shape mismatch for '0.weight': the model has (2, 1, 3, 3), the state dict has " \
           "(2, 1, 5, 5)" in message
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_non_strict_load_returns_missing_and_unexpected_but_still_checks_shapes():
    model = make_model()
    state = {"4.bias": np.ones(3), "other": np.ones(1)}
    result = model.load_state_dict(state, strict=False)
    assert result.unexpected_keys == ["other"] and "4.weight" in result.missing_keys
    assert model[4].bias.dtype == np.float32 and np.all(model[4].bias.data == 1)
    with pytest.raises(ValueError, match="shape mismatch for '4.bias'"):
        model.load_state_dict({"4.bias": np.ones(4)}, strict=False)


def test_interrupted_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    nn.save(make_model(), path)
    old_bytes = path.read_bytes()

    def crash_midway(file, **arrays):
        file.write(b"half a zip file")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.np, "savez", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        nn.save(trained_model(), path)
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == ["model.npz"]


def test_unsaveable_values_fail_before_any_file_is_written(tmp_path):
    with pytest.raises(TypeError, match="cannot save 'note'"):
        nn.save({"note": object()}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_full_training_state_round_trips_through_one_file(tmp_path):
    model = make_model()
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(Tensor(np.ones((2, 1, 4, 4), np.float32))).sum().backward()
    optimizer.step()
    nn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3},
            tmp_path / "run.npz")
    saved = nn.load(tmp_path / "run.npz")
    assert int(saved["epoch"]) == 3
    restored = nn.unflatten_state(nn.select(saved, "optimizer"))
    assert restored["param_groups"][0]["lr"] == 0.1 and restored["param_groups"][0]["nesterov"] \
        is False
    np.testing.assert_array_equal(restored["state"][0]["momentum_buffer"],
                                  optimizer.state[model[0].weight]["momentum_buffer"])
    assert list(nn.select(saved, "model")) == list(model.state_dict())
