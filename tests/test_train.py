"""minigrad.train: it learns, it resumes exactly, it stops on NaN and on Ctrl-C."""
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minigrad import nn, optim
from minigrad.data import (Compose, DataLoader, Normalize, RandomCrop, ScaleUint8,
                           TensorDataset, mnist)
from minigrad.models import LeNet5
from minigrad.runs import CHECKPOINT_NAME, INTERRUPTED_NAME, Run, TrainingDiverged
from minigrad.train import evaluate, fit


DIGITS = Compose([ScaleUint8(), Normalize(0.13, 0.31)])     # uint8 digits -> [0, 1] -> normalised


def loader(images, labels, batch_size=16, shuffle=True, transform=DIGITS):
    return DataLoader(TensorDataset(images, labels), batch_size, shuffle=shuffle, seed=0,
                      transform=transform)


@pytest.fixture(scope="module")
def digits():
    return mnist("train")


@pytest.mark.slow
def test_one_epoch_of_lenet5_on_512_images_clearly_beats_chance(digits):
    images, labels = digits
    nn.manual_seed(0)
    model = LeNet5()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = fit(model, loader(images[:512], labels[:512]),
                  loader(images[-500:], labels[-500:], 500, shuffle=False), optimizer, epochs=1,
                  progress=False)
    assert history["train_loss"][0] < 2.3                  # log(10): the loss of a guess
    assert history["val_accuracy"][0] > 0.3                # chance is 0.1


def small_net():
    """Small, and with dropout, so that resuming must also replay the dropout masks."""
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Dropout(0.3), nn.Linear(4 * 13 * 13, 10))


def training_run(digits, checkpoint_dir=None, epochs=2, resume=False, init_seed=0):
    """A run with every kind of randomness: shuffling, random shifts, dropout, a schedule."""
    images, labels = digits
    nn.manual_seed(init_seed)
    model = small_net()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    shifts = Compose([ScaleUint8(), RandomCrop(28, padding=2), Normalize(0.13, 0.31)])
    history = fit(model, loader(images[:128], labels[:128], transform=shifts),
                  loader(images[-64:], labels[-64:], 64, shuffle=False), optimizer, epochs,
                  scheduler, run=Run(checkpoint_dir, resume=resume), progress=False)
    return model, optimizer, history


def test_two_epochs_equal_one_epoch_then_resume_for_one(digits, tmp_path):
    straight, straight_optimizer, straight_history = training_run(digits)
    training_run(digits, tmp_path, epochs=1)
    # different initial weights: everything must come from the checkpoint
    resumed, resumed_optimizer, resumed_history = training_run(digits, tmp_path, epochs=2,
                                                               resume=True, init_seed=1)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert resumed_optimizer.param_groups[0]["lr"] == straight_optimizer.param_groups[0]["lr"]
    assert resumed_history == straight_history | {"epoch_time": resumed_history["epoch_time"]}


def test_a_failed_resume_leaves_model_and_optimizer_as_they_were(digits, tmp_path):
    training_run(digits, tmp_path, epochs=1)          # its checkpoint has a scheduler state
    images, labels = digits
    nn.manual_seed(1)
    model = small_net()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    weights_before = model.state_dict()
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1)

    def refuse(state):                                # the last of the three loads fails
        raise ValueError("bad scheduler state")
    scheduler.load_state_dict = refuse
    with pytest.raises(ValueError, match="bad scheduler state"):
        fit(model, loader(images[:32], labels[:32]), None, optimizer, 2, scheduler,
            run=Run(tmp_path, resume=True), progress=False)
    for (name, a), b in zip(weights_before.items(), model.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert optimizer.state == {}


def test_checkpoint_is_a_plain_npz(digits, tmp_path):
    training_run(digits, tmp_path, epochs=1)
    with np.load(tmp_path / CHECKPOINT_NAME, allow_pickle=False) as checkpoint:
        assert int(checkpoint["position.epoch"]) == 1 and int(checkpoint["position.batch"]) == 0
        assert "model.0.weight" in checkpoint.files
        assert "optimizer.state.0.momentum_buffer" in checkpoint.files
        assert "scheduler.last_epoch" in checkpoint.files
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_NAME]   # no temporary left


def linear_run(images, labels, lr=0.01, **kwargs):
    """A linear model: NaN inputs reach the loss (a ReLU would turn them into zeros)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    optimizer = optim.SGD(model.parameters(), lr=lr)
    batches = loader(images, labels, shuffle=False, transform=Normalize(0.13, 0.31))  # floats
    return model, lambda: fit(model, batches, None, optimizer, progress=False, **kwargs)


def test_nan_loss_stops_naming_epoch_batch_last_loss_and_learning_rate(digits):
    images, labels = digits
    images = images[:64].astype(np.float32)
    images[40] = np.nan                                    # in the third batch of 16
    model, run = linear_run(images, labels[:64])
    with pytest.raises(TrainingDiverged, match=r"training stopped at epoch 1, batch 3: the loss "
                                               r"became nan \(the last finite loss was \d+\.\d{4}"
                                               r"\); the weights were not updated with it\. The "
                                               r"learning rate was 0\.01: try a smaller one, "
                                               r"e\.g\. 0\.001"):
        run()
    assert all(np.isfinite(p.data).all() for p in model.parameters())   # never updated with it


def test_a_diverging_loss_stops_with_the_same_message_and_keeps_the_last_checkpoint(digits,
                                                                                   tmp_path):
    images, labels = digits
    images = images[:64].astype(np.float32) / 255
    model, run = linear_run(images, labels[:64], epochs=1, run=Run(tmp_path))
    run()
    good = (tmp_path / CHECKPOINT_NAME).read_bytes()
    images[48:] *= 1e6                                    # the last batch of epoch 2 explodes
    model, run = linear_run(images, labels[:64], epochs=2,
                            run=Run(tmp_path, resume=True, max_loss_ratio=100))
    with pytest.raises(TrainingDiverged, match=r"training stopped at epoch 2, batch 4: the loss "
                                               r"became \S+, more than 100 times its first value "
                                               r"\d\.\d+ \(the last finite loss was"):
        run()
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == good
    assert not (tmp_path / INTERRUPTED_NAME).exists()


class CtrlCLoader(DataLoader):
    """Presses Ctrl-C -- a real SIGINT, to this process -- while batch `at` (epoch, batch) is
    being drawn."""
    at = (0, 2)

    def __iter__(self):
        epoch = self.epoch
        for batch, item in enumerate(super().__iter__()):
            if (epoch, batch) == self.at:
                os.kill(os.getpid(), signal.SIGINT)
            yield item


def test_ctrl_c_finishes_the_batch_saves_everything_and_returns(digits, tmp_path, capsys):
    images, labels = digits
    model = small_net()
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    interrupting = CtrlCLoader(TensorDataset(images[:64], labels[:64]), 16,
                               transform=DIGITS)
    history = fit(model, interrupting, None, optimizer, epochs=3, run=Run(tmp_path),
                  progress=False)
    assert history["interrupted"] and history["train_loss"] == []
    saved = nn.load(tmp_path / INTERRUPTED_NAME)
    assert int(saved["position.epoch"]) == 0 and int(saved["position.batch"]) == 3
    np.testing.assert_array_equal(saved["model.5.weight"], model[5].weight.data)
    assert "interrupted at epoch 1, batch 3: saved" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # put back


@pytest.mark.parametrize("at", [(0, 3), (1, 0), (1, 6)])
def test_ctrl_c_then_resume_gives_exactly_the_weights_of_an_uninterrupted_run(digits, tmp_path,
                                                                               at):
    images, labels = digits

    def run(train_loader, resume=False):
        nn.manual_seed(1 if resume else 0)     # resumed: every weight must come from the file
        model = small_net()
        optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        scheduler = optim.lr_scheduler.OneCycleLR(optimizer, 0.05, epochs=2,
                                                  steps_per_epoch=len(train_loader))
        history = fit(model, train_loader, None, optimizer, 2, scheduler,
                      run=Run(tmp_path, resume=resume), scheduler_step="batch", progress=False)
        return model, history

    shifts = Compose([ScaleUint8(), RandomCrop(28, padding=2), Normalize(0.13, 0.31)])
    data = TensorDataset(images[:128], labels[:128])
    straight, straight_history = run(DataLoader(data, 16, shuffle=True, seed=0, transform=shifts))
    for saved in tmp_path.iterdir():
        saved.unlink()
    CtrlCLoader.at = at
    interrupted, _ = run(CtrlCLoader(data, 16, shuffle=True, seed=0, transform=shifts))
    assert (tmp_path / INTERRUPTED_NAME).exists()
    resumed, history = run(DataLoader(data, 16, shuffle=True, seed=0, transform=shifts), True)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert history["train_loss"] == straight_history["train_loss"]
    assert not (tmp_path / INTERRUPTED_NAME).exists()     # superseded by the last checkpoint


def test_ctrl_c_during_the_checkpoint_write_waits_for_the_write(digits, tmp_path, monkeypatch,
                                                                capsys):
    from minigrad.nn import checkpoint
    savez = checkpoint.np.savez

    def interrupted_write(file, **arrays):
        if not calls:
            os.kill(os.getpid(), signal.SIGINT)         # arrives in the middle of the write
        calls.append(1)
        savez(file, **arrays)
    calls = []
    monkeypatch.setattr(checkpoint.np, "savez", interrupted_write)
    history = training_run(digits, tmp_path, epochs=3)[2]
    assert history["interrupted"] and len(history["train_loss"]) == 1
    assert int(nn.load(tmp_path / CHECKPOINT_NAME)["position.epoch"]) == 1
    assert int(nn.load(tmp_path / INTERRUPTED_NAME)["position.epoch"]) == 1
    assert f"interrupted after epoch 1: saved {tmp_path / INTERRUPTED_NAME}" in \
        capsys.readouterr().err


def test_resume_without_a_checkpoint_is_an_error(digits, tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"cannot resume: there is no checkpoint.npz or "
                                                rf"interrupted.npz in {tmp_path}"):
        training_run(digits, tmp_path, resume=True)


def test_resume_with_other_settings_is_refused_naming_them(digits, tmp_path):
    images, labels = digits

    def run(config, resume):
        model = small_net()
        fit(model, loader(images[:32], labels[:32]), None,
            optim.SGD(model.parameters(), lr=0.01), 1 + resume,
            run=Run(tmp_path, resume=resume, config=config), progress=False)
    run({"optimizer": "sgd", "lr": 0.01, "limit": None}, resume=False)
    with pytest.raises(ValueError, match=r"cannot resume from .*checkpoint.npz: it was trained "
                                         r"with other settings \(limit: 'None' in the checkpoint, "
                                         r"32 now; optimizer: 'sgd' in the checkpoint, 'adam' "
                                         r"now\)"):
        run({"optimizer": "adam", "lr": 0.01, "limit": 32}, resume=True)
    run({"optimizer": "sgd", "lr": 0.01, "limit": None}, resume=True)       # the same: fine


def test_fit_removes_the_partial_files_of_a_killed_save(digits, tmp_path, capsys):
    junk = tmp_path / ".checkpoint.npz.k1ll3d.partial"
    junk.write_bytes(b"PK half")
    training_run(digits, tmp_path, epochs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_NAME]
    assert f"removed {junk}, left by a save that was killed midway" in capsys.readouterr().err


def test_evaluate_counts_a_confusion_matrix_and_keeps_the_mode():
    class Fixed(nn.Module):
        """Predicts class (pixel sum mod 3), whatever it was trained on."""

        def forward(self, x):
            guess = x.data.sum(axis=(1, 2, 3)).astype(int) % 3
            return nn.Parameter(np.eye(3, dtype=np.float32)[guess] * 5)

    images = np.arange(6, dtype=np.float32).reshape(6, 1, 1, 1)   # guesses 0 1 2 0 1 2
    labels = np.array([0, 1, 1, 0, 2, 2])
    model = Fixed().train()
    result = evaluate(model, loader(images, labels, 4, shuffle=False, transform=None))
    assert result["confusion"].tolist() == [[2, 0, 0], [0, 1, 1], [0, 1, 1]]
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert model.training


@pytest.mark.slow
def test_train_lenet_example_runs_one_epoch(tmp_path):
    example = Path(__file__).resolve().parents[1] / "examples" / "train_lenet.py"
    result = subprocess.run([sys.executable, str(example), "--epochs", "1", "--out",
                             str(tmp_path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", result.stdout).group(1))
    assert accuracy > 80
    assert {"curves.png", "confusion.png", "filters.png", "feature_maps.png"} <= \
        {p.name for p in tmp_path.iterdir()}


def test_fit_steps_reduce_lr_on_plateau_with_the_validation_loss(digits):
    """A PyTorch loop calls scheduler.step(val_loss) after evaluating; fit does the same."""
    images, labels = digits
    nn.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    seen = []
    original_step = scheduler.step
    scheduler.step = lambda metric: seen.append(metric) or original_step(metric)
    history = fit(model, loader(images[:64], labels[:64]),
                  loader(images[-64:], labels[-64:], 64, shuffle=False), optimizer, 3,
                  scheduler, progress=False)
    assert seen == history["val_loss"]
    with pytest.raises(ValueError, match="ReduceLROnPlateau.*scheduler_step='epoch'"):
        fit(model, loader(images[:64], labels[:64]), None, optimizer, 1, scheduler,
            scheduler_step="batch", progress=False)


def test_without_progress_no_tqdm_is_made(digits, monkeypatch):
    """Even a disabled tqdm takes tqdm's lock, which a fork shares: a run killed while holding
    it froze the test process it was forked from (the 20-SIGKILL fault test, once in CI)."""
    import tqdm

    def refuse(*args, **kwargs):
        raise AssertionError("a tqdm was made with progress=False")

    monkeypatch.setattr(tqdm, "tqdm", refuse)
    images, labels = digits
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    history = fit(model, loader(images[:32], labels[:32]), None,
                  optim.SGD(model.parameters(), lr=0.1), 1, progress=False)
    assert len(history["train_loss"]) == 1
