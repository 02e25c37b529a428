"""The training loop: `fit` a model for some epochs, `evaluate` it on a data set.

    history = fit(model, train_loader, val_loader, optimizer, epochs=10, scheduler=scheduler)
    result = evaluate(model, test_loader)     # {"accuracy", "loss", "confusion"}

One training step is the whole story of the engine in four lines (`train_step`): forward, loss,
backward, optimizer step. `train_epoch` runs it over the batches with a progress bar (tqdm:
the running loss, accuracy and images/s); `fit` runs epochs of it, evaluates, steps the
learning-rate schedule and keeps a history: loss and accuracy per epoch for training and
validation, the learning rate, and the seconds each epoch took.

What a real run needs besides -- checkpoints and an exact resume, a clean stop on Ctrl-C, a
guard against a diverging loss, early stopping -- is minigrad/runs.py's (`fit(..., run=
Run(directory))`, `fit(..., patience=3, restore_best=True)`).
"""
import itertools
import time

import numpy as np

from minigrad import functional as F
from minigrad import nn, optim
from minigrad.checks import check_finite
from minigrad.runs import EarlyStopping, LossGuard, Position, Run, StopOnCtrlC
from minigrad.tensor import Tensor, as_array, no_grad


def fit(model, train_loader, val_loader=None, optimizer=None, epochs=1, scheduler=None, *,
        loss_fn=F.cross_entropy, scheduler_step="epoch", seed=0, progress=True, val_name="val",
        run=None, patience=None, restore_best=False):
    """Train `model` for `epochs` epochs in total and return its history (a dict of lists).

    train_loader / val_loader: DataLoaders of (x, labels); val_loader may be None.
    scheduler: an optim.lr_scheduler, stepped after every epoch (scheduler_step='epoch') or after
    every batch ('batch', e.g. for OneCycleLR).
    seed: with the loader's seed, fixes the dropout masks of every batch (minigrad/runs.py).
    progress: show a progress bar and a line per epoch, where val_name labels val_loader's
    numbers ('test' when it holds the test split).
    run: a runs.Run -- checkpoints, resume, the run's config, the divergence guard's limit
    (default: no files, and a loss 1e4 times the first one stops the run).
    patience: stop once the validation loss has not improved for this many epochs in a row
    (None: train all `epochs`); restore_best: at the end, load the weights of the epoch with the
    lowest validation loss (runs.EarlyStopping; Keras's restore_best_weights). The history keeps
    every epoch that ran; runs.best_epoch(history) is the best one's index in it.
    Epochs and batches are counted from 1 in everything printed.
    """
    if optimizer is None:
        raise ValueError("fit: an optimizer is needed, e.g. optim.SGD(model.parameters(), lr=0.1)")
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_step must be 'epoch' or 'batch', got {scheduler_step!r}")
    if isinstance(scheduler, optim.lr_scheduler.ReduceLROnPlateau) and scheduler_step == "batch":
        raise ValueError("fit: ReduceLROnPlateau follows the loss epoch by epoch; use "
                         "scheduler_step='epoch'")
    early_stopping = EarlyStopping(patience, restore_best, has_validation=val_loader is not None)
    run = run or Run()
    # a fresh run, or where one was
    position = run.start(model, optimizer, scheduler, keep_best=restore_best)
    history = position.history
    per_batch_scheduler = scheduler if scheduler_step == "batch" else None
    guard = LossGuard(position, optimizer, run.max_loss_ratio)
    with StopOnCtrlC() as ctrl_c:
        while position.epoch < epochs and not early_stopping.should_stop(history):
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
                early_stopping.after_validation(model, position)
            if scheduler is not None and scheduler_step == "epoch":
                _step_after_epoch(scheduler, history)
            _report(epoch, epochs, history, progress, val_name)
            position.next_epoch()
            run.save_checkpoint(position)
            if ctrl_c.requested:      # pressed during the evaluation or the checkpoint's write
                return run.interrupted(position)
    early_stopping.finish(model, position, epochs, progress)
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
    guard = guard or LossGuard(totals, optimizer)
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
    if len(x) == 0:
        raise ValueError(f"train_step: the batch is empty (x has shape {np.shape(x)}): there is "
                         f"nothing to learn from, and the mean loss of nothing is NaN; skip "
                         f"empty batches")
    logits = model(Tensor(x))
    loss = loss_fn(logits, labels)
    value = loss.item()
    (guard or LossGuard(Position(), optimizer)).check(value, epoch, batch)
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
    try:
        total_loss, confusion = _evaluate_batches(model, loader, loss_fn)
    finally:
        model.train(was_training)          # however it ended
    if confusion is None:
        raise ValueError("evaluate: the loader yielded no images")
    seen = int(confusion.sum())
    return {"accuracy": float(np.trace(confusion) / seen), "loss": total_loss / seen,
            "confusion": confusion}


def _evaluate_batches(model, loader, loss_fn):
    """(the summed loss, the confusion matrix or None) over the batches of `loader`."""
    total_loss, confusion = 0.0, None
    with no_grad():
        for batch, (x, labels) in enumerate(loader):
            # argmax of a row of NaN is 0: a NaN image would count as a prediction of class 0
            check_finite(as_array(x), "evaluate", f"image batch {batch + 1}")
            if len(labels) == 0:
                continue                 # nothing to count (and its mean loss would be NaN)
            logits = model(Tensor(x))
            total_loss += loss_fn(logits, labels).item() * len(labels)
            if confusion is None:
                confusion = np.zeros((logits.shape[1],) * 2, dtype=np.int64)
            np.add.at(confusion, (labels.numpy(), logits.data.argmax(axis=1)), 1)
    return total_loss, confusion


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
    if not enabled:
        return _NoBar(batches)
    from tqdm import tqdm    # imported here so that `import minigrad` stays light
    return tqdm(batches, desc=f"epoch {epoch + 1}", unit="batch", leave=False, initial=start,
                total=total, dynamic_ncols=True)


class _NoBar:
    """The batches without a bar (progress=False), and no tqdm at all: even a disabled tqdm
    takes tqdm's lock, which is shared across fork, so a run killed while holding it would
    freeze the process it was forked from at its next bar."""

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def set_postfix(self, **_):
        pass

    def close(self):
        pass


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
