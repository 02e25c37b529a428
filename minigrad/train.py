"""The training loop: `fit` a model for some epochs, `evaluate` it on a data set.

    history = fit(model, train_loader, val_loader, optimizer, epochs=10, scheduler=scheduler,
                  checkpoint_dir="runs/lenet")
    result = evaluate(model, test_loader)     # {"accuracy", "loss", "confusion"}

One training step is the whole story of the engine in four lines (see `train_step`): forward,
loss, backward, optimizer step. Everything else here is bookkeeping a real run needs:

- a progress bar (tqdm) with the running loss, accuracy and images/s;
- a history: loss and accuracy per epoch for training and validation, the learning rate, and the
  seconds each epoch took;
- a checkpoint after every epoch (model + optimizer + scheduler + history, one atomic .npz) and
  `resume=True`, which continues *exactly* as if the run had never stopped. That needs every
  random number to be reproducible: the loader's shuffling and augmentation depend only on
  (loader.seed, epoch) (`loader.set_epoch`), and the dropout masks come from minigrad.nn's
  generator, which `fit` re-seeds from (seed, epoch) at the start of each epoch;
- a NaN/inf loss stops training with a `TrainingDiverged` error naming the epoch and batch, before
  the bad gradient touches the weights;
- Ctrl-C saves the weights as they are (`interrupted.npz`) and returns the history so far.
"""
import math
import time
from pathlib import Path

import numpy as np

from minigrad import functional as F
from minigrad import nn
from minigrad.tensor import Tensor, no_grad

CHECKPOINT_NAME = "checkpoint.npz"
INTERRUPTED_NAME = "interrupted.npz"
HISTORY_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "epoch_time")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message says where."""


def fit(model, train_loader, val_loader=None, optimizer=None, epochs=1, scheduler=None,
        checkpoint_dir=None, resume=False, loss_fn=F.cross_entropy, scheduler_step="epoch",
        seed=0, progress=True, val_name="val"):
    """Train `model` for `epochs` epochs in total and return its history (a dict of lists).

    train_loader / val_loader: DataLoaders of (x, labels); val_loader may be None.
    scheduler: an optim.lr_scheduler, stepped after every epoch (scheduler_step='epoch') or after
    every batch ('batch', e.g. for OneCycleLR).
    checkpoint_dir: where `checkpoint.npz` is written after each epoch (None: no checkpoints).
    resume: continue from `checkpoint_dir/checkpoint.npz` if it exists; `epochs` stays the total,
    so fit(..., epochs=2) after a 1-epoch run trains one more epoch.
    seed: with the loader's seed, fixes the dropout masks of every epoch (see the module doc).
    progress: show a progress bar and a line per epoch, where val_name labels val_loader's
    numbers ('test' when it holds the test split).
    Epochs and batches are counted from 1 in everything printed.
    """
    if optimizer is None:
        raise ValueError("fit: an optimizer is needed, e.g. optim.SGD(model.parameters(), lr=0.1)")
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_step must be 'epoch' or 'batch', got {scheduler_step!r}")
    run = _Run(model, optimizer, scheduler, checkpoint_dir)
    history, start = run.resume() if resume else ({key: [] for key in HISTORY_KEYS}, 0)
    per_batch_scheduler = scheduler if scheduler_step == "batch" else None
    for epoch in range(start, epochs):
        nn.manual_seed([seed, epoch])      # this epoch's dropout masks, the same after a resume
        train_loader.set_epoch(epoch)      # and its shuffling and augmentation
        lr = optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        try:
            train_loss, train_accuracy = train_epoch(model, train_loader, optimizer, loss_fn,
                                                     per_batch_scheduler, epoch, progress)
        except KeyboardInterrupt:
            run.save_interrupted()
            history["interrupted"] = True
            return history
        if scheduler is not None and scheduler_step == "epoch":
            scheduler.step()
        _record(history, train_loss, train_accuracy, lr, time.perf_counter() - started)
        if val_loader is not None:
            result = evaluate(model, val_loader, loss_fn)
            history["val_loss"].append(result["loss"])
            history["val_accuracy"].append(result["accuracy"])
        _report(epoch, epochs, history, progress, val_name)
        run.save_checkpoint(epoch, history)
    return history


def train_epoch(model, loader, optimizer, loss_fn=F.cross_entropy, scheduler=None, epoch=0,
                progress=True):
    """One pass over `loader`, updating the model after every batch.

    Returns the mean training loss and accuracy over the epoch's images. `scheduler`, if given,
    is stepped after every batch. Raises TrainingDiverged on a NaN or infinite loss.
    """
    model.train()
    total_loss = correct = seen = 0
    bar = _progress_bar(loader, epoch, progress)
    started = time.perf_counter()
    for batch, (x, labels) in enumerate(bar):
        loss, logits = train_step(model, x, labels, optimizer, loss_fn, epoch, batch)
        if scheduler is not None:
            scheduler.step()
        total_loss += loss * len(labels)
        correct += int((logits.argmax(axis=1) == labels).sum())
        seen += len(labels)
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}",
                        img_s=f"{seen / (time.perf_counter() - started):.0f}", refresh=False)
    bar.close()
    return total_loss / seen, correct / seen


def train_step(model, x, labels, optimizer, loss_fn=F.cross_entropy, epoch=0, batch=0):
    """Forward, loss, backward, update. Returns the loss (a float) and the logits (an ndarray).

    The loss is checked before backward, so a NaN never reaches the weights.
    """
    logits = model(Tensor(x))
    loss = loss_fn(logits, labels)
    value = loss.item()
    if not math.isfinite(value):
        raise TrainingDiverged(f"training stopped: the loss became {value} at epoch {epoch + 1}, "
                               f"batch {batch + 1}; try a smaller learning rate")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return value, logits.data


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
    """What fit saves and restores: the model, optimizer and scheduler state, in one file."""

    def __init__(self, model, optimizer, scheduler, checkpoint_dir):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.directory = None if checkpoint_dir is None else Path(checkpoint_dir)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def save_checkpoint(self, epoch, history):
        if self.directory is None:
            return
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "epoch": epoch, "history": history}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        nn.save(state, self.directory / CHECKPOINT_NAME)

    def save_interrupted(self):
        if self.directory is None:
            print("\ninterrupted: no checkpoint_dir, nothing saved")
            return
        path = self.directory / INTERRUPTED_NAME
        nn.save(self.model, path)
        print(f"\ninterrupted: weights saved to {path}; resume=True continues from the last "
              f"completed epoch ({self.directory / CHECKPOINT_NAME})")

    def resume(self):
        """(history, first epoch to train) from the checkpoint; a fresh start if there is none."""
        path = None if self.directory is None else self.directory / CHECKPOINT_NAME
        if path is None or not path.exists():
            return {key: [] for key in HISTORY_KEYS}, 0
        checkpoint = nn.load(path)
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
        history = {key: [float(v) for v in checkpoint.get(f"history.{key}", [])]
                   for key in HISTORY_KEYS}
        return history, int(checkpoint["epoch"]) + 1


def _record(history, train_loss, train_accuracy, lr, seconds):
    history["train_loss"].append(train_loss)
    history["train_accuracy"].append(train_accuracy)
    history["lr"].append(lr)
    history["epoch_time"].append(seconds)


def _progress_bar(loader, epoch, enabled):
    from tqdm import tqdm    # imported here so that `import minigrad` stays light
    return tqdm(loader, desc=f"epoch {epoch + 1}", unit="batch", leave=False,
                disable=not enabled, dynamic_ncols=True)


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
