"""The training loop: `fit` a model for some epochs, `evaluate` it on a data set.

    history = fit(model, train_loader, val_loader, optimizer, epochs=10, scheduler=scheduler,
                  checkpoint_dir="runs/lenet")
    result = evaluate(model, test_loader)     # {"accuracy", "loss", "confusion"}

One training step is the whole story of the engine in four lines (see `train_step`): forward,
loss, backward, optimizer step. Everything else here is bookkeeping a real run needs:

- a progress bar (tqdm) with the running loss, accuracy and images/s;
- a history: loss and accuracy per epoch for training and validation, the learning rate, and the
  seconds each epoch took;
- a checkpoint after every epoch (model + optimizer + scheduler + history + where the run is,
  one atomic .npz) and `resume=True`, which continues *exactly* as if the run had never stopped.
  That needs every random number to be reproducible: the loader's shuffling and augmentation
  depend only on (loader.seed, epoch) (`loader.set_epoch`), and the dropout masks of batch b of
  epoch e come from minigrad.nn's generator re-seeded from (seed, e, b);
- Ctrl-C (SIGINT) stops at the end of the current batch -- never halfway through an optimizer
  step or a checkpoint write -- saves everything to `interrupted.npz`, and returns the history
  with history["interrupted"] = True; `resume=True` continues from that batch, to the same
  weights as a run that was never interrupted. A second Ctrl-C stops at once, saving nothing;
- a NaN/inf loss, or one above `max_loss_ratio` times the first (the run diverged), stops
  training with a `TrainingDiverged` error naming the epoch, the batch, the last finite loss and
  the learning rate, before the bad gradient touches the weights; the last checkpoint stays as
  it was;
- `config` (the settings that made the run) is stored in every checkpoint, and a resume with
  different settings is refused, naming them.
"""
import itertools
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minigrad import functional as F
from minigrad import nn, optim
from minigrad.tensor import Tensor, no_grad

CHECKPOINT_NAME = "checkpoint.npz"
INTERRUPTED_NAME = "interrupted.npz"
HISTORY_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "epoch_time")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or grew far past its first value; the message says
    where."""


@dataclass
class Position:
    """Where a run is: `batch` batches of epoch `epoch` (both from 0) are done, and the running
    totals of that epoch so far. Saved in every checkpoint, so a resume continues from here."""
    epoch: int = 0
    batch: int = 0
    loss_sum: float = 0.0        # sum over the epoch's images so far of the training loss
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0
    lr: float = math.nan         # the learning rate at the start of the epoch
    first_loss: float = math.nan     # of the whole run: the divergence guard's reference
    last_loss: float = math.nan      # the last finite loss, for the message if one is not
    history: dict = field(default_factory=lambda: {key: [] for key in HISTORY_KEYS})

    def next_epoch(self):
        self.epoch, self.batch = self.epoch + 1, 0
        self.loss_sum, self.correct, self.seen, self.seconds = 0.0, 0, 0, 0.0

    def state_dict(self):
        return {name: getattr(self, name) for name in ("epoch", "batch", "loss_sum", "correct",
                                                      "seen", "seconds", "lr", "first_loss",
                                                      "last_loss")}

    @classmethod
    def from_checkpoint(cls, checkpoint):
        saved = nn.select(checkpoint, "position")
        position = cls(**{name: value.item() for name, value in saved.items()})
        position.history = {key: [float(v) for v in checkpoint.get(f"history.{key}", [])]
                            for key in HISTORY_KEYS}
        return position


def fit(model, train_loader, val_loader=None, optimizer=None, epochs=1, scheduler=None,
        checkpoint_dir=None, resume=False, loss_fn=F.cross_entropy, scheduler_step="epoch",
        seed=0, progress=True, val_name="val", config=None, max_loss_ratio=1e4):
    """Train `model` for `epochs` epochs in total and return its history (a dict of lists).

    train_loader / val_loader: DataLoaders of (x, labels); val_loader may be None.
    scheduler: an optim.lr_scheduler, stepped after every epoch (scheduler_step='epoch') or after
    every batch ('batch', e.g. for OneCycleLR).
    checkpoint_dir: where `checkpoint.npz` is written after each epoch, and `interrupted.npz` on
    Ctrl-C (None: no checkpoints).
    resume: continue from the later of `checkpoint_dir/checkpoint.npz` and `interrupted.npz`
    (FileNotFoundError if neither is there); `epochs` stays the total, so fit(..., epochs=2)
    after a 1-epoch run trains one more epoch.
    seed: with the loader's seed, fixes the dropout masks of every batch (see the module doc).
    progress: show a progress bar and a line per epoch, where val_name labels val_loader's
    numbers ('test' when it holds the test split).
    config: a flat dict of the run's settings (numbers and strings) stored in the checkpoints; a
    resume whose config differs is refused with a ValueError naming the differences.
    max_loss_ratio: stop (TrainingDiverged) when a batch's loss exceeds this many times the first
    batch's loss (None: only NaN and inf stop).
    Epochs and batches are counted from 1 in everything printed.
    """
    if optimizer is None:
        raise ValueError("fit: an optimizer is needed, e.g. optim.SGD(model.parameters(), lr=0.1)")
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_step must be 'epoch' or 'batch', got {scheduler_step!r}")
    if isinstance(scheduler, optim.lr_scheduler.ReduceLROnPlateau) and scheduler_step == "batch":
        raise ValueError("fit: ReduceLROnPlateau follows the loss epoch by epoch; use "
                         "scheduler_step='epoch'")
    run = _Run(model, optimizer, scheduler, checkpoint_dir, config)
    position = run.resume() if resume else Position()
    history = position.history
    per_batch_scheduler = scheduler if scheduler_step == "batch" else None
    guard = _LossGuard(position, optimizer, max_loss_ratio)
    with _StopOnCtrlC() as ctrl_c:
        while position.epoch < epochs:
            epoch = position.epoch
            train_loader.set_epoch(epoch)      # this epoch's shuffling and augmentation
            if position.batch == 0:
                position.lr = optimizer.param_groups[0]["lr"]
            train_epoch(model, train_loader, optimizer, loss_fn, per_batch_scheduler, epoch,
                        progress, seed=seed, position=position, guard=guard, stop=ctrl_c)
            if position.batch < len(train_loader):                # Ctrl-C ended it early
                return run.interrupted(position)
            _record(history, position)
            if val_loader is not None:
                result = evaluate(model, val_loader, loss_fn)
                history["val_loss"].append(result["loss"])
                history["val_accuracy"].append(result["accuracy"])
            if scheduler is not None and scheduler_step == "epoch":
                _step_after_epoch(scheduler, history)
            _report(epoch, epochs, history, progress, val_name)
            position.next_epoch()
            run.save_checkpoint(position)
            if ctrl_c.requested:      # pressed during the evaluation or the checkpoint's write
                return run.interrupted(position)
    run.finished()
    return history


def train_epoch(model, loader, optimizer, loss_fn=F.cross_entropy, scheduler=None, epoch=0,
                progress=True, seed=0, position=None, guard=None, stop=None):
    """One pass over `loader`, updating the model after every batch.

    Returns the mean training loss and accuracy over the epoch's images. `scheduler`, if given,
    is stepped after every batch. Raises TrainingDiverged on a NaN, infinite or exploding loss.
    fit passes `position`, where the totals accumulate: its first `position.batch` batches are
    skipped (a resumed epoch; they are still drawn, so that the random shifts of the rest are
    the same), and the epoch ends early once `stop.requested` (Ctrl-C).
    """
    totals = Position() if position is None else position
    guard = guard or _LossGuard(totals, optimizer)
    model.train()
    batches = itertools.islice(iter(loader), totals.batch, None)
    bar = _progress_bar(batches, epoch, progress, totals.batch, len(loader))
    started = time.perf_counter() - totals.seconds
    for x, labels in bar:
        nn.manual_seed([seed, epoch, totals.batch])      # this batch's dropout masks
        loss, logits = train_step(model, x, labels, optimizer, loss_fn, epoch, totals.batch,
                                  guard)
        if scheduler is not None:
            scheduler.step()
        totals.batch += 1
        totals.loss_sum += loss * len(labels)
        totals.correct += int((logits.argmax(axis=1) == labels).sum())
        totals.seen += len(labels)
        totals.seconds = time.perf_counter() - started
        bar.set_postfix(loss=f"{totals.loss_sum / totals.seen:.4f}",
                        acc=f"{totals.correct / totals.seen:.3f}",
                        img_s=f"{totals.seen / totals.seconds:.0f}", refresh=False)
        if stop is not None and stop.requested:
            break
    bar.close()
    if totals.seen == 0:
        raise ValueError("train_epoch: the loader yielded no batches")
    return totals.loss_sum / totals.seen, totals.correct / totals.seen


def train_step(model, x, labels, optimizer, loss_fn=F.cross_entropy, epoch=0, batch=0,
               guard=None):
    """Forward, loss, backward, update. Returns the loss (a float) and the logits (an ndarray).

    The loss is checked (by `guard`, or for NaN/inf) before backward, so a NaN never reaches the
    weights.
    """
    logits = model(Tensor(x))
    loss = loss_fn(logits, labels)
    value = loss.item()
    (guard or _LossGuard(Position(), optimizer)).check(value, epoch, batch)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return value, logits.data


class _LossGuard:
    """Stops a run whose loss is NaN, infinite, or more than max_loss_ratio times its first."""

    def __init__(self, position, optimizer, max_loss_ratio=None):
        self.position, self.optimizer, self.max_loss_ratio = position, optimizer, max_loss_ratio

    def check(self, value, epoch, batch):
        position = self.position
        if math.isnan(position.first_loss) and math.isfinite(value):
            position.first_loss = value
        exploded = self.max_loss_ratio is not None and math.isfinite(value) and \
            value > self.max_loss_ratio * abs(position.first_loss)
        if math.isfinite(value) and not exploded:
            position.last_loss = value
            return
        lr = self.optimizer.param_groups[0]["lr"]
        what = (f"the loss became {value:.4g}, more than {self.max_loss_ratio:g} times its "
                f"first value {position.first_loss:.4g}" if exploded else
                f"the loss became {value}")
        last = ("no finite loss before it" if math.isnan(position.last_loss) else
                f"the last finite loss was {position.last_loss:.4f}")
        raise TrainingDiverged(f"training stopped at epoch {epoch + 1}, batch {batch + 1}: "
                               f"{what} ({last}); the weights were not updated with it. The "
                               f"learning rate was {lr:.4g}: try a smaller one, e.g. "
                               f"{lr / 10:.4g}, or look for NaN in the data")


class _StopOnCtrlC:
    """Within the block, Ctrl-C (SIGINT) only sets `requested`, and the loop stops at the end of
    the current batch: a KeyboardInterrupt raised wherever the program happens to be could land
    halfway through an optimizer step or a checkpoint write. A second Ctrl-C raises at once.
    (Only in the main thread, where Python delivers signals, and not if SIGINT was ignored.)"""

    def __enter__(self):
        self.requested, self.previous = False, None
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: stopping after this batch, then saving (Ctrl-C again: quit at once, "
              "saving nothing)", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def evaluate(model, loader, loss_fn=F.cross_entropy):
    """Accuracy, mean loss and confusion matrix of `model` on every batch of `loader`.

    Runs in eval mode (running BatchNorm statistics, no dropout) without building a graph, and
    puts the model back in the mode it was in. confusion[i, j] counts images of class i that the
    model called class j, so the diagonal holds the correct ones.
    """
    was_training = model.training
    model.eval()
    total_loss, confusion = 0.0, None
    with no_grad():
        for x, labels in loader:
            logits = model(Tensor(x))
            total_loss += loss_fn(logits, labels).item() * len(labels)
            if confusion is None:
                confusion = np.zeros((logits.shape[1],) * 2, dtype=np.int64)
            np.add.at(confusion, (labels.numpy(), logits.data.argmax(axis=1)), 1)
    model.train(was_training)
    if confusion is None:
        raise ValueError("evaluate: the loader yielded no batches")
    seen = int(confusion.sum())
    return {"accuracy": float(np.trace(confusion) / seen), "loss": total_loss / seen,
            "confusion": confusion}


class _Run:
    """What fit saves and restores: model, optimizer, scheduler, position and config, one file."""

    def __init__(self, model, optimizer, scheduler, checkpoint_dir, config):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.config = None if config is None else _flat_config(config)
        self.directory = None if checkpoint_dir is None else Path(checkpoint_dir)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            for name in nn.remove_partial_files(self.directory):
                print(f"removed {self.directory / name}, left by a save that was killed midway",
                      file=sys.stderr)

    def _state(self, position):
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "position": position.state_dict(), "history": position.history}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.config is not None:
            state["config"] = self.config
        return state

    def save_checkpoint(self, position):
        if self.directory is None:
            return
        nn.save(self._state(position), self.directory / CHECKPOINT_NAME)
        self.finished()                      # an older interrupted.npz is superseded by it

    def finished(self):
        """Remove interrupted.npz: the run went past it (or to its end)."""
        stale = None if self.directory is None else self.directory / INTERRUPTED_NAME
        if stale is not None and stale.exists():
            stale.unlink()

    def interrupted(self, position):
        """Save everything at the batch where Ctrl-C stopped the run; -> the history, marked."""
        where = (f"after epoch {position.epoch}" if position.batch == 0 else
                 f"at epoch {position.epoch + 1}, batch {position.batch}")
        if self.directory is None:
            print(f"\ninterrupted {where}: no checkpoint_dir, nothing saved", file=sys.stderr)
        else:
            path = self.directory / INTERRUPTED_NAME
            nn.save(self._state(position), path)
            print(f"\ninterrupted {where}: saved {path}; resume=True continues from there",
                  file=sys.stderr)
        position.history["interrupted"] = True
        return position.history

    def resume(self):
        """The Position to continue from: the later of the checkpoint and interrupted.npz, with
        model, optimizer and scheduler loaded from it (all three, or none of them)."""
        path, checkpoint = self._latest()
        position = Position.from_checkpoint(checkpoint)
        self._check_config(path, checkpoint)
        print(f"resuming from {path}: epoch {position.epoch + 1}, batch {position.batch + 1}",
              file=sys.stderr)
        model_before, optimizer_before = self.model.state_dict(), self.optimizer.state_dict()
        try:
            self.model.load_state_dict(nn.select(checkpoint, "model"))
            self.optimizer.load_state_dict(nn.unflatten_state(nn.select(checkpoint, "optimizer")))
            if self.scheduler is not None:
                self.scheduler.load_state_dict(
                    nn.unflatten_state(nn.select(checkpoint, "scheduler")))
        except Exception:
            # each load checks before it writes, but a later one failing must not leave the
            # model loaded and the optimizer not: put both back as they were
            self.model.load_state_dict(model_before)
            self.optimizer.load_state_dict(optimizer_before)
            raise
        return position

    def _latest(self):
        """(path, contents) of the saved state furthest into the run."""
        if self.directory is None:
            raise ValueError("fit: resume=True needs a checkpoint_dir")
        found = []
        for name in (CHECKPOINT_NAME, INTERRUPTED_NAME):
            path = self.directory / name
            if path.exists():
                checkpoint = nn.load(path)
                if not any(key.startswith("position.") for key in checkpoint):
                    raise nn.CheckpointError(f"cannot resume from {path}: it holds no training "
                                             f"position (is it a checkpoint of fit?)")
                found.append(((int(checkpoint["position.epoch"]),
                               int(checkpoint["position.batch"])), path, checkpoint))
        if not found:
            raise FileNotFoundError(f"cannot resume: there is no {CHECKPOINT_NAME} or "
                                    f"{INTERRUPTED_NAME} in {self.directory}")
        _, path, checkpoint = max(found, key=lambda item: item[0])
        return path, checkpoint

    def _check_config(self, path, checkpoint):
        if self.config is None:
            return
        saved = {key: value.item() for key, value in nn.select(checkpoint, "config").items()}
        differences = [f"{key}: {saved.get(key, 'not set')!r} in the checkpoint, "
                       f"{self.config.get(key, 'not set')!r} now"
                       for key in sorted(set(saved) | set(self.config))
                       if saved.get(key) != self.config.get(key)]
        if differences:
            raise ValueError(f"cannot resume from {path}: it was trained with other settings ("
                             + "; ".join(differences) + "); resume with the same settings, or "
                             "start a new run elsewhere")


def _flat_config(config):
    """The config as an .npz can store it and gives it back: numbers, bools and strings."""
    return {key: np.asarray("None" if value is None else value).item()
            for key, value in config.items()}


def _step_after_epoch(scheduler, history):
    """ReduceLROnPlateau follows a loss (the validation loss, else the training loss), as a
    PyTorch loop calls scheduler.step(val_loss); the other schedules just count epochs."""
    if isinstance(scheduler, optim.lr_scheduler.ReduceLROnPlateau):
        losses = history["val_loss"] or history["train_loss"]
        scheduler.step(losses[-1])
    else:
        scheduler.step()


def _record(history, position):
    history["train_loss"].append(position.loss_sum / position.seen)
    history["train_accuracy"].append(position.correct / position.seen)
    history["lr"].append(position.lr)
    history["epoch_time"].append(position.seconds)


def _progress_bar(batches, epoch, enabled, start, total):
    from tqdm import tqdm    # imported here so that `import minigrad` stays light
    return tqdm(batches, desc=f"epoch {epoch + 1}", unit="batch", leave=False, initial=start,
                total=total, disable=not enabled, dynamic_ncols=True)


def _report(epoch, epochs, history, enabled, val_name):
    """One line per epoch, kept on screen after the progress bar disappears."""
    if not enabled:
        return
    line = (f"epoch {epoch + 1:>3}/{epochs}  train loss {history['train_loss'][-1]:.4f} "
            f"acc {history['train_accuracy'][-1]:.4f}")
    if history["val_loss"]:
        line += (f"  {val_name} loss {history['val_loss'][-1]:.4f} "
                 f"acc {history['val_accuracy'][-1]:.4f}")
    print(line + f"  lr {history['lr'][-1]:.4g}  {history['epoch_time'][-1]:.1f}s", flush=True)
