"""A catalogue of bad input across the API, the command line and the files, each case run and
sorted into one of three outcomes:

    clear   minigrad's own error (ValueError, TypeError, ... raised by minigrad's code, naming
            what is wrong); on the command line a non-zero exit with a one-line message or an
            argparse error, and no traceback
    raw     an error from inside NumPy, Numba, zipfile ..., or a Python one (ZeroDivisionError,
            KeyError), or a traceback on the command line
    silent  accepted: no error at all
    torch   where PyTorch has an answer (an empty batch, the mean of nothing), that answer:
            the shape (and for the reductions the value) PyTorch gives, written into each
            case here (tests/test_empty_and_non_finite.py compares with torch itself)

    python tests/catalogue.py          # prints every case and the counts
    PYTHONPATH=/path/to/other/checkout python tests/catalogue.py    # the same, for another tree

tests/test_catalogue.py requires every case to be clear (or torch's answer).
"""
import contextlib
import io
import os
import pickle
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad import functional as F
from minigrad import nn, optim
from minigrad.runs import Run

PACKAGE = os.path.dirname(mg.__file__)
CLEAR_TYPES = (ValueError, TypeError, IndexError, OSError, FloatingPointError, RuntimeError)
TINY = ["--epochs", "1", "--limit", "64", "--val-size", "32", "--batch-size", "32",
        "--no-progress"]


def raised_by_minigrad(error):
    return traceback.extract_tb(error.__traceback__)[-1].filename.startswith(PACKAGE)


def api(call, must_contain=()):
    """A library call that must raise minigrad's own error."""
    def run():
        try:
            with np.errstate(all="ignore"):
                call()
        except CLEAR_TYPES as error:
            text = str(error)
            return "clear" if raised_by_minigrad(error) and all(w in text for w in must_contain) \
                else "raw"
        except Exception:                        # noqa: BLE001 - anything else is raw
            return "raw"
        return "silent"
    return run


def as_torch(call, check):
    """A library call that must give PyTorch's answer: check(result) is True."""
    def run():
        try:
            with np.errstate(all="ignore"):
                return "torch" if check(call()) else "silent"
        except Exception:                        # noqa: BLE001 - an error where torch answers
            return "raw"
    return run


def all_of(*cases):
    """Several checks of one case: the first outcome that is not clear, else clear."""
    def run():
        outcomes = [case() for case in cases]
        return next((o for o in outcomes if o not in ("clear", "torch")), outcomes[0])
    return run


def holds(condition):
    """A check of state after a case: clear if condition() is True, else silent (lost)."""
    return lambda: "clear" if condition() else "silent"


def cli(argv, must_contain=(), success_is_clear=False):
    """A command line that must end with a non-zero status and a message, no traceback (or,
    with success_is_clear, may also just work)."""
    def run():
        from minigrad.apps.cli import main
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                    np.errstate(all="ignore"):
                code = main([str(a) for a in argv()])
        except SystemExit as exit:               # argparse, or SystemExit("message")
            code = exit.code
            if isinstance(code, str):            # Python prints the message, exits 1
                err.write(code + "\n")
                code = 1
        except BaseException:                    # noqa: BLE001 - a traceback for the user
            return "raw"
        text = err.getvalue()
        if code == 0:
            return "clear" if success_is_clear else "silent"
        return "clear" if "Traceback" not in text and all(w in text for w in must_contain) \
            else "raw"
    return run


class Files:
    """Broken files in a temporary directory, and one tiny finished training run."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="minigrad-catalogue-"))
        good = self.root / "good.npz"
        nn.save(nn.Linear(3, 2), good)
        data = good.read_bytes()
        self.write("truncated.npz", data[:len(data) // 2])
        self.write("empty.npz", b"")
        self.write("text.npz", b"just some text")
        self.write("flipped.npz", data[:80] + bytes([data[80] ^ 0xFF]) + data[81:])
        self.write("pickle.npz", pickle.dumps({"weight": [1, 2]}))
        with zipfile.ZipFile(self.root / "objects.npz", "w") as archive:
            with archive.open("weight.npy", "w") as member:
                np.lib.format.write_array(member, np.array([{}], dtype=object), allow_pickle=True)
        np.save(self.root / "single.npy", np.arange(3))
        nn.save(nn.Linear(3, 2), self.root / "member.npz")
        with zipfile.ZipFile(self.root / "member.npz", "a") as archive:
            archive.writestr("notes.txt", b"not an array")
        (self.root / "a_file").write_text("a file, not a directory")
        self.run = self.root / "run"

    def write(self, name, content):
        (self.root / name).write_bytes(content)

    def __truediv__(self, name):
        return self.root / name

    def trained(self):
        """The run directory, trained on first use (one tiny epoch)."""
        if not (self.run / "model.npz").exists():
            from minigrad.apps.cli import main
            with contextlib.redirect_stdout(io.StringIO()):
                assert main(["train", *TINY, "--out", str(self.run)]) == 0
        return self.run


def cases(files):
    """(area, description, run) for every case."""
    x4 = mg.tensor(np.zeros((2, 3, 8, 8), np.float32))

    def hook_of_the_wrong_shape():
        x = mg.tensor([1.0, 2.0], requires_grad=True)
        x.register_hook(lambda grad: np.ones(3))
        (x * 2).sum().backward()

    def fit_with(images, **kwargs):
        from minigrad.data import DataLoader, TensorDataset
        from minigrad.train import fit
        model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        loader = DataLoader(TensorDataset(images, np.arange(len(images)) % 3), 4)
        return lambda: fit(model, loader, None, optim.SGD(model.parameters(), lr=0.1),
                           progress=False, **kwargs)

    nan_images = np.full((8, 1, 2, 2), np.nan, np.float32)
    huge_images = np.ones((8, 1, 2, 2), np.float32)
    huge_images[4:] = 1e20                              # the second batch's loss explodes
    empty_dir = files / "no-checkpoint"
    run = files.trained
    return [
        ("api", "tensor of strings", api(lambda: mg.tensor(["a", "b"]), ["<U1"])),
        ("api", "tensor of an object array", api(lambda: mg.tensor(np.array([{}], object)),
                                                 ["object"])),
        ("api", "tensor of ragged lists", api(lambda: mg.tensor([[1], [1, 2]]))),
        ("api", "tensor of complex numbers", api(lambda: mg.tensor([1j]), ["complex"])),
        ("api", "tensor with dtype='foo'", api(lambda: mg.tensor([1], dtype="foo"))),
        ("api", "Linear(0, 3)", api(lambda: nn.Linear(0, 3), ["in_features"])),
        ("api", "Linear(3, 0)", api(lambda: nn.Linear(3, 0), ["out_features"])),
        ("api", "Conv2d kernel_size=0", api(lambda: nn.Conv2d(3, 6, 0), ["kernel_size"])),
        ("api", "Conv2d groups=0", api(lambda: nn.Conv2d(3, 6, 3, groups=0), ["groups"])),
        ("api", "Conv2d out_channels=0", api(lambda: nn.Conv2d(3, 0, 3), ["out_channels"])),
        ("api", "Conv2d stride=0", api(lambda: nn.Conv2d(3, 6, 3, stride=0), ["stride"])),
        ("api", "Conv2d padding=-1", api(lambda: nn.Conv2d(3, 6, 3, padding=-1), ["padding"])),
        ("api", "MaxPool2d(0)", api(lambda: nn.MaxPool2d(0), ["kernel_size"])),
        ("api", "MaxPool2d stride=0", api(lambda: nn.MaxPool2d(2, stride=0)(x4), ["stride"])),
        ("api", "AvgPool2d padding > kernel/2", api(lambda: nn.AvgPool2d(2, padding=3)(x4),
                                                    ["padding"])),
        ("api", "BatchNorm2d(0)", api(lambda: nn.BatchNorm2d(0)(x4), ["num_features"])),
        ("api", "BatchNorm2d eps=-1", api(lambda: nn.BatchNorm2d(3, eps=-1), ["eps"])),
        ("api", "BatchNorm2d(4) on 3 channels", api(lambda: nn.BatchNorm2d(4)(x4),
                                                    ["4 channels", "3"])),
        ("api", "Dropout p=2", api(lambda: nn.Dropout(2.0), ["p"])),
        ("api", "conv2d on a 3-D input", api(lambda: F.conv2d(x4[0], mg.tensor(
            np.zeros((2, 3, 3, 3), np.float32))), ["4-D"])),
        ("api", "conv2d kernel larger than the input", api(lambda: F.conv2d(x4, mg.tensor(
            np.zeros((2, 3, 9, 9), np.float32))), ["larger"])),
        ("api", "max_pool2d kernel larger than the input", api(lambda: F.max_pool2d(x4, 9))),
        ("api", "batch_norm of 0 channels", api(lambda: F.batch_norm(
            mg.tensor(np.zeros((2, 0), np.float32)), None, None, training=True), ["empty"])),
        ("api", "cross_entropy on integer logits", api(lambda: F.cross_entropy(
            mg.tensor([[1, 2]]), np.array([0])), ["int64"])),
        ("api", "cross_entropy label out of range", api(lambda: F.cross_entropy(
            mg.tensor([[1.0, 2.0]]), np.array([5])), ["[0, 2)"])),
        ("api", "cross_entropy float labels", api(lambda: F.cross_entropy(
            mg.tensor([[1.0, 2.0]]), np.array([0.5])), ["integers"])),
        ("api", "mse_loss shape mismatch", api(lambda: F.mse_loss(
            mg.tensor([1.0, 2.0]), mg.tensor([1.0])), ["shape"])),
        ("api", "matmul shapes not aligned", api(lambda: mg.tensor(np.ones((2, 3))) @
                                                 mg.tensor(np.ones((2, 3))), ["aligned"])),
        ("api", "reshape to the wrong size", api(lambda: x4.reshape(5, 5), ["reshape"])),
        ("api", "reshape with a string", api(lambda: F.reshape(x4, "2"), ["reshape"])),
        ("api", "permute with too few axes", api(lambda: F.permute(x4, (0, 1)),
                                                 ["permutation"])),
        ("api", "transpose of an axis out of range", api(lambda: F.transpose(x4, 0, 4),
                                                         ["out of range"])),
        ("api", "index out of range", api(lambda: x4[5], ["out of range"])),
        ("api", "index with a float", api(lambda: x4[1.5], ["index"])),
        ("api", "backward of a non-scalar without grad", api(lambda: (mg.tensor(
            [1.0, 2.0], requires_grad=True) * 2).backward(), ["grad"])),
        ("api", "hook returning the wrong shape", api(hook_of_the_wrong_shape, ["hook"])),
        ("api", "SGD lr=inf", api(lambda: optim.SGD(nn.Linear(2, 2).parameters(),
                                                    lr=float("inf")), ["lr"])),
        ("api", "Adam lr=nan", api(lambda: optim.Adam(nn.Linear(2, 2).parameters(),
                                                      lr=float("nan")), ["lr"])),
        ("api", "SGD lr=-1", api(lambda: optim.SGD(nn.Linear(2, 2).parameters(), lr=-1),
                                 ["lr"])),
        ("api", "state dict of another architecture", api(lambda: nn.Linear(3, 2)
                                                          .load_state_dict(nn.Linear(4, 2)
                                                                           .state_dict()),
                                                          ["shape mismatch"])),
        ("api", "fit on a NaN loss", api(fit_with(nan_images), ["epoch 1, batch 1"])),
        ("api", "fit on an exploding loss", api(fit_with(huge_images, epochs=1),
                                                ["epoch 1, batch 2"])),
        ("api", "fit resume=True without a checkpoint", api(fit_with(
            huge_images[:4], run=Run(empty_dir, resume=True)), ["no checkpoint.npz"])),
        ("file", "load a truncated .npz", api(lambda: nn.load(files / "truncated.npz"),
                                              ["truncated.npz"])),
        ("file", "load an empty file", api(lambda: nn.load(files / "empty.npz"),
                                           ["empty.npz"])),
        ("file", "load a text file", api(lambda: nn.load(files / "text.npz"), ["text.npz"])),
        ("file", "load a file with a flipped byte", api(lambda: nn.load(files / "flipped.npz"),
                                                        ["flipped.npz"])),
        ("file", "load a pickle", api(lambda: nn.load(files / "pickle.npz"), ["pickle.npz"])),
        ("file", "load an .npz of object arrays", api(lambda: nn.load(files / "objects.npz"),
                                                      ["objects.npz", "pickle"])),
        ("file", "load a single .npy", api(lambda: nn.load(files / "single.npy"),
                                           ["single.npy"])),
        ("file", "load a directory", api(lambda: nn.load(files.root), [str(files.root)])),
        ("file", "load a missing file", api(lambda: nn.load(files / "missing.npz"),
                                            ["missing.npz"])),
        ("file", "evaluate --model-path truncated", cli(lambda: [
            "evaluate", "--model-path", files / "truncated.npz"], ["truncated.npz"])),
        ("file", "evaluate --model-path a pickle", cli(lambda: [
            "evaluate", "--model-path", files / "pickle.npz"], ["pickle.npz"])),
        ("file", "train --resume from a corrupt checkpoint", cli(lambda: corrupt_run(files),
                                                                 ["checkpoint.npz"])),
        ("cli", "train --epochs 0", cli(lambda: ["train", *TINY, "--epochs", "0", "--out",
                                                 files / "e0"], ["--epochs"])),
        ("cli", "train --epochs -1", cli(lambda: ["train", *TINY, "--epochs", "-1", "--out",
                                                  files / "e-1"], ["--epochs"])),
        ("cli", "train --batch-size 0", cli(lambda: ["train", *TINY, "--batch-size", "0",
                                                     "--out", files / "b0"], ["--batch-size"])),
        ("cli", "train --lr -1", cli(lambda: ["train", *TINY, "--lr", "-1", "--out",
                                              files / "lr"], ["--lr"])),
        ("cli", "train --lr nan", cli(lambda: ["train", *TINY, "--lr", "nan", "--out",
                                               files / "lrnan"], ["--lr"])),
        ("cli", "train --limit 0", cli(lambda: ["train", *TINY, "--limit", "0", "--out",
                                                files / "l0"], ["--limit"])),
        ("cli", "train --limit -5", cli(lambda: ["train", *TINY, "--limit", "-5", "--out",
                                                 files / "l-5"], ["--limit"])),
        ("cli", "train --val-size -1", cli(lambda: ["train", *TINY, "--val-size", "-1",
                                                    "--out", files / "v"], ["--val-size"])),
        ("cli", "train --seed -1", cli(lambda: ["train", *TINY, "--seed", "-1", "--out",
                                                files / "s"], ["--seed"])),
        ("cli", "train --weight-decay -1", cli(lambda: ["train", *TINY, "--weight-decay", "-1",
                                                        "--out", files / "wd"],
                                               ["--weight-decay"])),
        ("cli", "train --dataset imagenet", cli(lambda: ["train", "--dataset", "imagenet"],
                                                ["imagenet"])),
        ("cli", "train --model resnet", cli(lambda: ["train", *TINY, "--model", "resnet",
                                                     "--out", files / "m"], ["resnet"])),
        ("cli", "train --out an existing file", cli(lambda: ["train", *TINY, "--out",
                                                             files / "a_file"], ["a_file"])),
        ("cli", "train --out inside a file", cli(lambda: ["train", *TINY, "--out",
                                                          files / "a_file" / "run"], ["a_file"])),
        ("cli", "train into a finished run", cli(lambda: ["train", *TINY, "--out", run()],
                                                 ["--overwrite"])),
        ("cli", "train --resume with nothing to resume", cli(lambda: [
            "train", *TINY, "--resume", "--out", files / "nothing"], ["--resume"])),
        ("cli", "train --resume with another --optimizer", cli(lambda: [
            "train", *TINY, "--optimizer", "adam", "--resume", "--out", run()], ["optimizer"])),
        ("cli", "train --dataset cifar10 without its files", cli(lambda: [
            "train", *TINY, "--dataset", "cifar10", "--root", files / "nothing", "--out",
            files / "c"], ["--download"])),
        ("cli", "evaluate --model-path checkpoint.npz", cli(lambda: [
            "evaluate", "--model-path", run() / "checkpoint.npz"], success_is_clear=True)),
        ("cli", "evaluate --model-path of bare weights", cli(lambda: [
            "evaluate", "--model-path", files / "good.npz"], ["model.npz"])),
        ("cli", "explain with every method failing", cli(lambda: [
            "explain", "--model-path", run() / "model.npz", "--methods", "cam", "--out",
            files / "explain.png"], ["every method failed"])),
        ("cli", "explain --methods unknown", cli(lambda: [
            "explain", "--model-path", run() / "model.npz", "--methods", "magic"], ["magic"])),
        ("cli", "explain --index 100000", cli(lambda: [
            "explain", "--model-path", run() / "model.npz", "--index", "100000"], ["--index"])),
    ] + part_two_cases(files)


def part_two_cases(files):
    """Issue #28's cases: empty batches, NaN inputs, other kinds of state, and runs side by
    side or overwritten."""
    from minigrad.models import LeNet5
    from minigrad.saliency import explain, metrics
    from minigrad.train import evaluate, train_step
    ints = mg.tensor(np.arange(6).reshape(2, 3))
    empty_images = np.zeros((0, 1, 28, 28), np.float32)
    nan_images = np.zeros((2, 1, 28, 28), np.float32)
    nan_images[1, 0, 3, 4] = np.nan
    shape_is = lambda shape: lambda y: tuple(y.shape) == shape
    sgd = lambda: optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    adam = optim.Adam(nn.Linear(2, 2).parameters(), lr=0.1)
    batch_norm = nn.BatchNorm2d(1)

    def nan_batch_norm_step():
        x = np.ones((2, 1, 2, 2), np.float32)
        x[0, 0, 0, 0] = np.nan
        batch_norm(mg.tensor(x))

    def nan_evaluation():
        from minigrad.data import DataLoader, TensorDataset
        evaluate(LeNet5(), DataLoader(TensorDataset(nan_images, np.zeros(2, np.int64)), 2))

    return [
        ("api", "Dropout on an integer tensor", api(lambda: nn.Dropout(0.5)(ints),
                                                    ["floating-point", "int64"])),
        ("api", "Linear on an integer tensor", api(lambda: nn.Linear(3, 2)(ints), ["int64"])),
        ("api", "Linear on a bool tensor", api(lambda: nn.Linear(3, 2)(
            mg.tensor(np.ones((2, 3), bool))), ["bool"])),
        ("api", "MultiheadAttention on integers", api(lambda: nn.MultiheadAttention(4, 2)(
            *[mg.tensor(np.ones((1, 2, 4), np.int64))] * 3), ["int64"])),
        ("api", "SGD.load_state_dict of Adam's state", api(lambda: sgd().load_state_dict(
            adam.state_dict()), ["betas", "momentum"])),
        ("api", "StepLR.load_state_dict of OneCycleLR's", api(
            lambda: optim.lr_scheduler.StepLR(sgd(), 2).load_state_dict(
                optim.lr_scheduler.OneCycleLR(adam, 0.1, total_steps=5).state_dict()),
            ["OneCycleLR"])),
        ("api", "BatchNorm2d trained on a batch with a NaN", all_of(
            api(nan_batch_norm_step, ["1 NaN", "(0, 0, 0, 0)"]),
            holds(lambda: np.isfinite(batch_norm.running_mean).all()))),
        ("api", "evaluate on NaN images", api(nan_evaluation, ["1 NaN", "(1, 0, 3, 4)"])),
        ("api", "explain a NaN image", api(lambda: explain(LeNet5(), nan_images,
                                                           method="vanilla"), ["1 NaN"])),
        ("api", "pointing_game of a NaN map", api(lambda: metrics.pointing_game(
            nan_images[:, 0], np.ones((2, 28, 28), bool)), ["1 NaN"])),
        ("api", "softmax(axis=5)", api(lambda: F.softmax(mg.tensor(np.ones((2, 3))), axis=5),
                                       ["out of range", "5"])),
        ("api", "LeNet5()(list of lists)", api(lambda: LeNet5()([[0.0] * 28] * 28),
                                               ["Tensor", "list"])),
        ("api", "train_step on an empty batch", api(lambda: train_step(
            LeNet5(), empty_images, np.zeros(0, np.int64), sgd()), ["empty"])),
        ("api", "max of an empty tensor", api(lambda: mg.tensor(np.zeros(0)).max(),
                                              ["nothing"])),
        ("api", "LeNet5 on an empty batch", as_torch(lambda: LeNet5()(mg.tensor(empty_images)),
                                                     shape_is((0, 10)))),
        ("api", "Flatten of an empty batch", as_torch(lambda: nn.Flatten()(
            mg.tensor(empty_images)), shape_is((0, 784)))),
        ("api", "conv2d, pooling, linear of N = 0", as_torch(lambda: nn.Linear(196, 2)(
            F.flatten(F.max_pool2d(nn.Conv2d(1, 1, 3, padding=1)(mg.tensor(empty_images)), 2),
                      1)), shape_is((0, 2)))),
        ("api", "batch_norm of an empty batch", as_torch(lambda: F.batch_norm(
            mg.tensor(np.zeros((0, 3), np.float32)), None, None, training=True),
            shape_is((0, 3)))),
        ("api", "cross_entropy(reduction='sum') of N = 0", as_torch(lambda: F.cross_entropy(
            mg.tensor(np.zeros((0, 3), np.float32)), np.zeros(0, np.int64), reduction="sum"),
            lambda y: y.item() == 0.0)),
        ("api", "the mean of an empty tensor", as_torch(lambda: mg.tensor(np.zeros(0)).mean(),
                                                        lambda y: np.isnan(y.item()))),
        ("api", "explain an empty batch", as_torch(lambda: explain(
            LeNet5(), empty_images, method="gradcam"), shape_is((0, 28, 28)))),
        ("file", "load an .npz with a member not .npy", api(lambda: nn.load(
            files / "member.npz"), ["member.npz", "notes.txt"])),
        ("file", "train --resume from a checkpoint without optimizer arrays", cli(
            lambda: checkpoint_without(files, "optimizer"), ["optimizer"])),
        ("cli", "train into an --out another process trains into", cli(
            lambda: locked_run(files), [f"process {os.getpid()}"])),
        ("cli", "train --overwrite with a bad --root", overwritten(files, [
            "--root", files / "nothing"], ["--download"])),
        ("cli", "train --overwrite --val-size 5000", overwritten(files, [
            "--val-size", "5000", "--limit", "6000"], ["val_size"])),
        ("cli", "train --overwrite with a model for other data", overwritten(files, [
            "--model", "alexnet_lite"], ["image_size"])),
        ("cli", "explain --out DIR", all_of(
            cli(lambda: ["explain", "--model-path", files.trained() / "model.npz", "--methods",
                         "vanilla", "--index", "0", "--out", files.root], success_is_clear=True),
            holds(lambda: (files.root / "explain.png").exists()))),
        ("cli", "Ctrl-C while the command starts", ctrl_c_at_start(files)),
    ]


def checkpoint_without(files, part):
    """A run directory whose checkpoint lacks the arrays of `part`; -> the --resume argv."""
    out = files / f"no-{part}"
    if not out.exists():
        checkpoint = nn.load(files.trained() / "checkpoint.npz")
        out.mkdir()
        nn.save({k: v for k, v in checkpoint.items() if not k.startswith(part + ".")},
                out / "checkpoint.npz")
    return ["train", *TINY, "--resume", "--out", out]


def locked_run(files):
    """An --out locked by this process, as a running `minigrad train` locks it."""
    from minigrad.runs import RunDirectoryLock
    out = files / "locked"
    files.lock = RunDirectoryLock(out).__enter__()      # held until the catalogue ends
    return ["train", *TINY, "--out", out]


def overwritten(files, argv, must_contain):
    """train --overwrite over a finished run with a mistake in argv: a clear error, and the old
    run's files all there, byte for byte."""
    def run():
        out = files / f"overwrite-{len(os.listdir(files.root))}"
        out.mkdir()
        for path in files.trained().iterdir():
            (out / path.name).write_bytes(path.read_bytes())
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        outcome = cli(lambda: ["train", *TINY, *argv, "--out", out, "--overwrite"],
                      must_contain)()
        after = {p.name: p.read_bytes() for p in out.iterdir()}
        return outcome if after == before else "silent"
    return run


def numpy_is_loading(pid, timeout=60):
    """Wait until process `pid` has mapped one of NumPy's libraries: minigrad's import has begun
    (its Ctrl-C hook comes first) and the slow imports are under way; a fixed delay raced the
    interpreter's own start on a loaded machine. False where /proc cannot tell."""
    import time
    maps = Path(f"/proc/{pid}/maps")
    if not maps.exists():
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "numpy" in maps.read_text():
                return True
        except OSError:
            break                                   # the child is gone
        time.sleep(0.002)
    raise AssertionError(f"process {pid} never loaded NumPy")


def ctrl_c_at_start(files):
    """SIGINT to `python -m minigrad train` while it imports NumPy."""
    def run():
        import signal
        import subprocess
        import time
        child = subprocess.Popen([sys.executable, "-m", "minigrad", "train", *TINY, "--out",
                                  str(files / "ctrl-c")], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        if not numpy_is_loading(child.pid):
            time.sleep(0.1)                         # no /proc: the old guess
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
        one_line = err.strip().splitlines() == ["minigrad: interrupted"]
        return "clear" if one_line and child.returncode in (130, -signal.SIGINT) else "raw"
    return run


def corrupt_run(files):
    """A run directory whose checkpoint.npz was cut short; -> the --resume command line."""
    out = files / "corrupt-run"
    out.mkdir(exist_ok=True)
    (out / "checkpoint.npz").write_bytes((files / "truncated.npz").read_bytes())
    return ["train", *TINY, "--resume", "--out", out]


def run_catalogue():
    """[(area, description, outcome)] for every case."""
    files = Files()
    return [(area, name, case()) for area, name, case in cases(files)]


if __name__ == "__main__":
    print(f"minigrad from {PACKAGE}")
    results = run_catalogue()
    for area, name, outcome in results:
        print(f"{outcome:<7} {area:<5} {name}")
    for area in ("api", "file", "cli", "all"):
        chosen = [o for a, _, o in results if area in (a, "all")]
        print(f"{area:<5} {len(chosen):>3} cases: " + ", ".join(
            f"{chosen.count(o)} {o}" for o in ("clear", "torch", "raw", "silent")))
