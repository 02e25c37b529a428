"""Run management: what a real training run needs besides the loop of minigrad/train.py.

    history = fit(model, train_loader, val_loader, optimizer, epochs=10, scheduler=scheduler,
                  run=Run("runs/lenet", resume=True, config={"lr": 0.1}))

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
  different settings is refused, naming them;
- early stopping (`fit(..., patience=, restore_best=)`, `EarlyStopping`): training ends once the
  validation loss has not improved for `patience` epochs, and the best epoch's weights can be
  put back at the end; they are kept in the checkpoints, so a resumed run restores them too;
- one process at a time: `with RunDirectoryLock(directory):` owns the directory (`minigrad
  train` holds it from its first check to its last file), and a second process is refused,
  naming the first one's PID. `Run(replaces=...)` keeps the files of a run being overwritten
  until this run's first save.
"""
import contextlib
import errno
import fcntl
import math
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minigrad import nn

CHECKPOINT_NAME = "checkpoint.npz"
INTERRUPTED_NAME = "interrupted.npz"
LOCK_NAME = ".minigrad.lock"
HISTORY_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "epoch_time")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or grew far past its first value; the message says
    where."""


class RunDirectoryInUse(OSError):
    """Another process owns the run directory; the message names it by its PID."""


class RunDirectoryLock:
    """Owns a run directory for this process, as a context manager:

        with RunDirectoryLock("runs/lenet"):      # RunDirectoryInUse if another process has it
            ...check what is there, train, write the final files...

    Checking that a directory is free and then writing into it is two steps, and two processes
    can both pass the check before either writes. So the owner holds an exclusive lock, which
    the kernel grants to one process only: fcntl.flock on DIRECTORY/.minigrad.lock, a file that
    also holds the owner's PID (for the message that refuses the next one). The kernel drops the
    lock when the process ends, however it ends -- even by SIGKILL -- so a lock file left behind
    by a killed process is stale, and the next process takes it over (`stale_owner` is the PID
    it names). A clean exit deletes the file, and the directory too if the lock created it and
    nothing else was put there. (flock is POSIX: Linux and macOS.)
    """

    def __init__(self, directory):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self.handle, self.stale_owner = None, None

    def __enter__(self):
        self.created = False
        try:
            while self.handle is None:
                self.handle = self._take_lock()
        except BaseException:
            self._release_directory()           # a refusal leaves no directory it created
            raise
        self.stale_owner = _owner_pid(self.handle, wait=0)
        os.ftruncate(self.handle, 0)
        os.write(self.handle, f"{os.getpid()}\n".encode())
        return self

    def _take_lock(self):
        """One try: -> the lock file's handle, locked; None to try again; RunDirectoryInUse."""
        self.created |= self._make_directory()
        try:
            handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            if self.directory.is_dir():
                raise                   # e.g. the lock file is a link to nowhere
            return None                 # a run that ended just now removed the directory, empty
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            owner = _owner_pid(handle)
            os.close(handle)
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise                           # e.g. a file system without locks
            raise RunDirectoryInUse(f"{self.directory}/ is in use by another minigrad run "
                                    f"(process {owner}); wait for it to end, or choose "
                                    f"another directory") from None
        if _same_file(handle, self.path):
            return handle
        os.close(handle)       # its owner deleted the file as we opened it: lock the next one
        return None

    def _make_directory(self):
        """Make the directory unless it is there: -> whether this call made it. (It may also
        vanish as we look: a run ending at that moment removes it if it is empty.)"""
        try:
            self.directory.mkdir(parents=True)
            return True
        except FileExistsError:
            if self.directory.exists() and not self.directory.is_dir():
                raise
            return False

    def __exit__(self, *exc):
        # Delete the file while still holding its lock, so that whoever waits for it opens a
        # new file rather than one about to disappear (see the _same_file test above).
        with contextlib.suppress(OSError):      # a read-only directory: it stays, to be taken
            self.path.unlink(missing_ok=True)   # over as a stale lock by the next run
        os.close(self.handle)
        self.handle = None
        self._release_directory()
        return False

    def _release_directory(self):
        """Remove the directory if the lock created it and it stayed empty."""
        if self.created:
            with contextlib.suppress(OSError):        # not empty: keep it
                self.directory.rmdir()


def _owner_pid(handle, wait=1.0):
    """The PID written in an open lock file: its owner writes it just after taking the lock, so
    wait up to `wait` seconds for it; -> 'unknown' if it never comes."""
    deadline = time.monotonic() + wait
    while True:
        text = os.pread(handle, 32, 0).decode(errors="replace").strip()
        if text.isdigit():
            return int(text)
        if time.monotonic() >= deadline:
            return None if wait == 0 else "unknown"
        time.sleep(0.01)


def _same_file(handle, path):
    """Is the open file `handle` still the one at `path`? (It may have been deleted since.)"""
    try:
        return os.fstat(handle).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


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
    best_model: dict = None      # the model's state after the best epoch (restore_best only)

    def next_epoch(self):
        self.epoch, self.batch = self.epoch + 1, 0
        self.loss_sum, self.correct, self.seen, self.seconds = 0.0, 0, 0, 0.0

    def state_dict(self):
        return {name: getattr(self, name) for name in ("epoch", "batch", "loss_sum", "correct",
                                                      "seen", "seconds", "lr", "first_loss",
                                                      "last_loss")}

    @classmethod
    def from_checkpoint(cls, checkpoint, keep_best=False):
        saved = nn.select(checkpoint, "position")
        position = cls(**{name: value.item() for name, value in saved.items()})
        position.history = {key: [float(v) for v in checkpoint.get(f"history.{key}", [])]
                            for key in HISTORY_KEYS}
        if keep_best:
            position.best_model = nn.select(checkpoint, "best_model") or None
        return position


class Run:
    """How fit keeps a run: `directory` for `checkpoint.npz` after each epoch and
    `interrupted.npz` on Ctrl-C (None: no files); `resume`: continue from the later of the two
    (FileNotFoundError if neither is there; fit's `epochs` stays the total); `config`: a flat
    dict of the run's settings (numbers and strings) stored in the checkpoints, and a resume
    whose config differs is refused with a ValueError naming the differences;
    `max_loss_ratio`: stop (TrainingDiverged) when a batch's loss exceeds this many times the
    first batch's (None: only NaN and inf stop); `replaces`: a directory holding the files of
    an earlier run that this one overwrites, deleted after this run's first save (until then the
    earlier run is all there is, and `minigrad train --overwrite` puts it back if this one fails).
    """

    def __init__(self, directory=None, resume=False, config=None, max_loss_ratio=1e4,
                 replaces=None):
        self.directory = None if directory is None else Path(directory)
        self.resume, self.max_loss_ratio = resume, max_loss_ratio
        self.config = None if config is None else _flat_config(config)
        self.replaces = None if replaces is None else Path(replaces)

    def start(self, model, optimizer, scheduler, keep_best=False):
        """What is saved and restored from now on; -> the Position to train from (the saved
        one, with model, optimizer and scheduler loaded from it, when resuming). `keep_best`:
        the checkpoints also hold the best epoch's weights (fit's restore_best)."""
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.keep_best = keep_best
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            for name in nn.remove_partial_files(self.directory):
                print(f"removed {self.directory / name}, left by a save that was killed midway",
                      file=sys.stderr)
        return self._resumed() if self.resume else Position()

    def _state(self, position):
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "position": position.state_dict(), "history": position.history}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.config is not None:
            state["config"] = self.config
        if position.best_model is not None:
            state["best_model"] = position.best_model
        return state

    def save_checkpoint(self, position):
        if self.directory is None:
            return
        nn.save(self._state(position), self.directory / CHECKPOINT_NAME)
        self.finished()                      # an older interrupted.npz is superseded by it
        self._delete_replaced_run()

    def finished(self):
        """Remove interrupted.npz: the run went past it (or to its end)."""
        stale = None if self.directory is None else self.directory / INTERRUPTED_NAME
        if stale is not None and stale.exists():
            stale.unlink()

    def _delete_replaced_run(self):
        """This run has saved its first file: the run it overwrites can go now."""
        if self.replaces is not None and self.replaces.exists():
            shutil.rmtree(self.replaces)
            print(f"deleted the run that this one overwrites ({self.replaces}), now that this "
                  f"run has saved its first checkpoint", file=sys.stderr)

    def interrupted(self, position):
        """Save everything at the batch where Ctrl-C stopped the run; -> the history, marked."""
        where = (f"after epoch {position.epoch}" if position.batch == 0 else
                 f"at epoch {position.epoch + 1}, batch {position.batch}")
        if self.directory is None:
            print(f"\ninterrupted {where}: no checkpoint directory, nothing saved",
                  file=sys.stderr)
        else:
            path = self.directory / INTERRUPTED_NAME
            nn.save(self._state(position), path)
            self._delete_replaced_run()
            print(f"\ninterrupted {where}: saved {path}; resume=True continues from there",
                  file=sys.stderr)
        position.history["interrupted"] = True
        return position.history

    def _resumed(self):
        """The Position to continue from: the later of the checkpoint and interrupted.npz, with
        model, optimizer and scheduler loaded from it (all three, or none of them)."""
        path, checkpoint = self._latest()
        self._check_parts(path, checkpoint)
        position = Position.from_checkpoint(checkpoint, self.keep_best)
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
            raise ValueError("fit: resume=True needs a checkpoint directory (Run(directory))")
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

    def _check_parts(self, path, checkpoint):
        """Refuse, before anything is loaded, a checkpoint that lacks a part this run restores."""
        parts = ["model", "optimizer"] + (["scheduler"] if self.scheduler is not None else [])
        if self.keep_best and len(checkpoint.get("history.val_loss", [])):
            parts.append("best_model")       # a run without restore_best kept no best weights
        missing = [part for part in parts if not nn.select(checkpoint, part)]
        if missing:
            raise nn.CheckpointError(f"cannot resume from {path}: it holds no "
                                     f"{' and no '.join(missing)} state (no "
                                     f"'{missing[0]}.*' arrays), so the run cannot continue "
                                     f"exactly; start a new run, or resume from a complete "
                                     f"checkpoint")

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


class EarlyStopping:
    """fit's early stopping, Keras's EarlyStopping(monitor='val_loss') and Lightning's: an
    epoch improves when its validation loss is below every earlier one (NaN never does), and
    training stops once `patience` epochs in a row have not improved (None: never). With
    `restore_best` the model gets the weights (and buffers) it had after the best epoch back at
    the end of training, stopped early or not.

    Whether to stop is read from the history alone, so a resumed run decides as the run that
    was never interrupted would; the best weights travel in Position.best_model, in every
    checkpoint."""

    def __init__(self, patience=None, restore_best=False, has_validation=True):
        if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int)
                                     or patience < 1):
            raise ValueError(f"fit: patience must be a whole number of epochs >= 1 (1 stops at "
                             f"the first epoch without improvement) or None, got {patience!r}")
        if not isinstance(restore_best, bool):
            raise TypeError(f"fit: restore_best must be True or False, got {restore_best!r}")
        if (patience is not None or restore_best) and not has_validation:
            raise ValueError("fit: patience= and restore_best= follow the validation loss: "
                             "pass a val_loader")
        self.patience, self.restore_best = patience, restore_best

    def after_validation(self, model, position):
        """Keep the model's weights if the epoch just validated is the best so far."""
        if self.restore_best and best_epoch(position.history) == len(
                position.history["val_loss"]) - 1:
            position.best_model = model.state_dict()          # copies

    def should_stop(self, history):
        """Have `patience` epochs passed since the best one (or since the start, if no epoch
        had a finite validation loss)?"""
        if self.patience is None:
            return False
        best = best_epoch(history)
        since_best = len(history["val_loss"]) - (0 if best is None else best + 1)
        return since_best >= self.patience

    def finish(self, model, position, epochs, progress):
        """At the end of training: say why it stopped early, and put the best weights back."""
        history, best = position.history, best_epoch(position.history)
        said = progress and best is not None
        if said and self.should_stop(history) and position.epoch < epochs:
            print(f"early stopping after epoch {position.epoch}: the validation loss has not "
                  f"improved for {self.patience} epochs (best {history['val_loss'][best]:.4f} "
                  f"after epoch {best + 1})", flush=True)
        if self.restore_best and position.best_model is not None:
            model.load_state_dict(position.best_model)
            if said:
                print(f"restored the weights of epoch {best + 1}", flush=True)


def best_epoch(history):
    """The index in `history`'s lists of the epoch with the lowest validation loss (the first
    of equal ones: a later epoch must do better to count); None if there is none finite."""
    losses = np.asarray(history["val_loss"], dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(losses))
    return None if len(finite) == 0 else int(finite[np.argmin(losses[finite])])


class LossGuard:
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


class StopOnCtrlC:
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


__all__ = ["Run", "Position", "EarlyStopping", "best_epoch", "TrainingDiverged", "LossGuard",
           "StopOnCtrlC", "CHECKPOINT_NAME", "INTERRUPTED_NAME", "RunDirectoryLock",
           "RunDirectoryInUse", "LOCK_NAME"]
