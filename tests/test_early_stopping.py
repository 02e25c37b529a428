"""fit(patience=, restore_best=): stops at the right epoch, puts the best epoch's weights back,
and keeps doing both across checkpoints and resumes."""
import math

import numpy as np
import pytest

from minigrad import nn, optim, train
from minigrad.data import DataLoader, TensorDataset
from minigrad.runs import Run, best_epoch
from minigrad.train import evaluate, fit

LOSSES = [1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.76, 0.74, 0.9, 0.6]     # best in the first 8: 4


def data(seed=0, count=48, shuffle=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((count, 4)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    return DataLoader(TensorDataset(x, labels), 16, shuffle=shuffle, seed=seed)


def validation_data():
    return data(1, shuffle=False)    # in the same order every time: the same sums


def model_and_optimizer(init_seed=0):
    nn.manual_seed(init_seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    return model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


class ScriptedValidation:
    """Stands in for train.evaluate: the validation loss of each call is the next of `losses`
    (from `start`), and the model's weights at each call are kept."""

    def __init__(self, losses, start=0):
        self.losses, self.calls, self.weights = losses, start, {}

    def __call__(self, model, loader, loss_fn):
        self.weights[self.calls] = model.state_dict()
        loss = self.losses[self.calls]
        self.calls += 1
        return {"loss": loss, "accuracy": 0.0, "confusion": None}


def scripted_fit(monkeypatch, losses, epochs, start=0, init_seed=0, **kwargs):
    validation = ScriptedValidation(losses, start)
    monkeypatch.setattr(train, "evaluate", validation)
    model, optimizer = model_and_optimizer(init_seed)
    history = fit(model, data(), validation_data(), optimizer, epochs, progress=False, **kwargs)
    return model, history, validation


def assert_weights_equal(model, state):
    for (name, a), b in zip(model.state_dict().items(), state.values(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("patience, epochs_run", [(1, 3), (2, 4), (3, 8), (4, 9), (5, 10),
                                                  (None, 10)])
def test_stops_after_patience_epochs_without_a_new_lowest_validation_loss(monkeypatch,
                                                                          patience, epochs_run):
    # 0.9 after 0.8 is the first epoch without improvement; 0.7 (epoch 5) is the lowest until
    # 0.6; 0.74 is below 0.75 and 0.76 but not below the best, so it does not count
    _, history, validation = scripted_fit(monkeypatch, LOSSES, 10, patience=patience)
    assert validation.calls == epochs_run
    assert history["val_loss"] == LOSSES[:epochs_run]
    assert all(len(history[key]) == epochs_run for key in ("train_loss", "train_accuracy", "lr",
                                                           "epoch_time", "val_accuracy"))


def test_a_loss_equal_to_the_best_or_nan_is_no_improvement(monkeypatch):
    _, history, _ = scripted_fit(monkeypatch, [1.0, 1.0, 1.0, 0.5], 4, patience=2)
    assert history["val_loss"] == [1.0, 1.0, 1.0] and best_epoch(history) == 0
    _, history, _ = scripted_fit(monkeypatch, [math.nan, math.nan, 0.5], 3, patience=2)
    assert len(history["val_loss"]) == 2 and best_epoch(history) is None
    _, history, _ = scripted_fit(monkeypatch, [2.0, math.nan, 3.0, 1.0], 4, patience=2)
    assert len(history["val_loss"]) == 3 and best_epoch(history) == 0


@pytest.mark.parametrize("patience", [3, None])
def test_restore_best_loads_exactly_the_best_epochs_weights(monkeypatch, capsys, patience):
    # 9 epochs: without patience they all run, and the best is still the fifth
    model, history, validation = scripted_fit(monkeypatch, LOSSES, 9, patience=patience,
                                              restore_best=True)
    best = best_epoch(history)
    assert best == 4 and len(history["val_loss"]) == (8 if patience else 9)
    assert_weights_equal(model, validation.weights[best])
    assert not np.array_equal(validation.weights[best]["0.weight"],
                              validation.weights[len(history["val_loss"]) - 1]["0.weight"])
    assert history["val_loss"] == LOSSES[:len(history["val_loss"])]    # the history is kept
    assert capsys.readouterr().out == ""                                # progress=False


def test_without_restore_best_the_last_epochs_weights_stay(monkeypatch):
    model, _, validation = scripted_fit(monkeypatch, LOSSES, 10, patience=3)
    assert_weights_equal(model, validation.weights[7])


def test_it_says_why_it_stopped_and_what_it_restored(monkeypatch, capsys):
    validation = ScriptedValidation(LOSSES)
    monkeypatch.setattr(train, "evaluate", validation)
    model, optimizer = model_and_optimizer()
    fit(model, data(), validation_data(), optimizer, 10, patience=3, restore_best=True)
    out = capsys.readouterr().out
    assert ("early stopping after epoch 8: the validation loss has not improved for 3 epochs "
            "(best 0.7000 after epoch 5)\nrestored the weights of epoch 5\n") in out


def test_the_restored_model_evaluates_to_the_best_epochs_validation_loss():
    """No script: the real evaluate, on a model that overfits 48 points with a large lr."""
    model, optimizer = model_and_optimizer()
    optimizer.param_groups[0]["lr"] = 0.5
    history = fit(model, data(), validation_data(), optimizer, 12, progress=False,
                  restore_best=True)
    best = best_epoch(history)
    assert best < len(history["val_loss"]) - 1            # else this test shows nothing
    assert evaluate(model, validation_data())["loss"] == history["val_loss"][best]


def test_resume_stops_and_restores_as_the_uninterrupted_run(monkeypatch, tmp_path):
    straight, straight_history, validation = scripted_fit(monkeypatch, LOSSES, 10, patience=3,
                                                          restore_best=True)
    scripted_fit(monkeypatch, LOSSES, 6, patience=3, restore_best=True, run=Run(tmp_path))
    # other initial weights: the best ones (epoch 5) must come from the checkpoint
    resumed, resumed_history, _ = scripted_fit(monkeypatch, LOSSES, 10, start=6, init_seed=1,
                                               patience=3, restore_best=True,
                                               run=Run(tmp_path, resume=True))
    assert_weights_equal(resumed, straight.state_dict())
    assert resumed_history == straight_history | {"epoch_time": resumed_history["epoch_time"]}
    # resuming the finished run trains no more epochs and restores the best weights again
    again, again_history, calls = scripted_fit(monkeypatch, LOSSES, 10, start=8, init_seed=2,
                                               patience=3, restore_best=True,
                                               run=Run(tmp_path, resume=True))
    assert calls.calls == 8 and len(again_history["val_loss"]) == 8
    assert_weights_equal(again, validation.weights[4])


def test_resume_with_restore_best_refuses_a_checkpoint_without_the_best_weights(monkeypatch,
                                                                                tmp_path):
    scripted_fit(monkeypatch, LOSSES, 2, run=Run(tmp_path))           # kept no best weights
    model, optimizer = model_and_optimizer(init_seed=1)
    before = model.state_dict()
    with pytest.raises(nn.CheckpointError, match="no best_model state"):
        fit(model, data(), validation_data(), optimizer, 4, progress=False, restore_best=True,
            run=Run(tmp_path, resume=True))
    assert_weights_equal(model, before)
    assert optimizer.state == {}


@pytest.mark.parametrize("patience", [0, -2, 2.5, True, "3"])
def test_a_bad_patience_is_refused_before_training(patience):
    model, optimizer = model_and_optimizer()
    before = model.state_dict()
    with pytest.raises(ValueError, match=f"patience must be a whole number of epochs >= 1 .* "
                                         f"got {patience!r}"):
        fit(model, data(), validation_data(), optimizer, 2, progress=False, patience=patience)
    assert_weights_equal(model, before)


def test_restore_best_must_be_a_bool_and_both_need_a_validation_loader():
    model, optimizer = model_and_optimizer()
    with pytest.raises(TypeError, match="restore_best must be True or False, got 'yes'"):
        fit(model, data(), validation_data(), optimizer, 2, progress=False, restore_best="yes")
    for settings in ({"patience": 2}, {"restore_best": True}):
        with pytest.raises(ValueError, match="follow the validation loss: pass a val_loader"):
            fit(model, data(), None, optimizer, 2, progress=False, **settings)
    assert optimizer.state == {}
