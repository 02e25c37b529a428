"""A fuzzed command line: `minigrad train`, `evaluate` and `explain` with random option values,
most of them wrong (negative, zero, NaN, words, files that are not there). Every run must end
with a status -- 0, or an argparse error (2), or an error from one of minigrad's own `raise`
statements (run with --debug, so that the error itself comes out and its origin can be read),
or an OSError of the file system that names the file.
Valid runs train for real, so the sizes stay tiny."""
import os
import tempfile
import traceback

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.apps.cli import main

PACKAGE = os.path.dirname(mg.__file__)
CLI_FUZZ = settings(max_examples=int(os.environ.get("MINIGRAD_CLI_FUZZ_EXAMPLES", 20)),
                    deadline=None, suppress_health_check=list(HealthCheck))
WORDS = st.sampled_from(["0", "-1", "1", "2", "nan", "inf", "1e9", "0.5", "-0.0", "x", ""])


def option(name, values):
    return st.one_of(st.just([]), values.map(lambda value: [name, value]))


@st.composite
def train_argv(draw, out):
    argv = ["train", "--no-progress", "--out", out]
    for name in ("--epochs", "--batch-size", "--lr", "--weight-decay", "--seed", "--val-size"):
        argv += draw(option(name, WORDS))
    argv += draw(option("--limit", st.sampled_from(["0", "-3", "x", "40", "64"])))
    if "--limit" not in argv:
        argv += ["--limit", "64"]                         # a valid run stays tiny
    if "--epochs" not in argv:
        argv += ["--epochs", "1"]
    argv += draw(option("--dataset", st.sampled_from(["mnist", "cifar10", "imagenet"])))
    argv += draw(option("--model", st.sampled_from(["lenet5", "alexnet-lite", "resnet"])))
    argv += draw(option("--optimizer", st.sampled_from(["sgd", "adam", "lbfgs"])))
    argv += draw(option("--root", st.sampled_from([out + "-nowhere"])))
    argv += draw(st.sampled_from([[], ["--resume"], ["--overwrite"], ["--resume", "--overwrite"],
                                  ["--no-augment"]]))
    return argv


@st.composite
def other_argv(draw, model_path, out):
    command = draw(st.sampled_from(["evaluate", "explain"]))
    path = draw(st.sampled_from([model_path, out, out + "/missing.npz", __file__]))
    argv = [command, "--model-path", path]
    if command == "evaluate":
        argv += draw(option("--split", st.sampled_from(["train", "test", "val"])))
        return argv
    argv += draw(option("--index", st.sampled_from(["0", "3,5", "-1", "x", "", "99999"])))
    argv += draw(option("--methods", st.sampled_from(["vanilla", "cam", "magic", "all,x", ""])))
    argv += draw(option("--target", WORDS))
    argv += draw(option("--layer", st.sampled_from(["features.0", "nowhere"])))
    argv += ["--out", draw(st.sampled_from([out, out + "/picture", out + "/no/such/dir/x.png"]))]
    return argv


def ends_cleanly(argv):
    """main(argv + --debug) returns a status, exits through argparse, or raises an error from a
    `raise` statement of minigrad's own; -> what happened, for the statistics."""
    try:
        code = main(argv + ["--debug"])
    except SystemExit as exit:
        assert exit.code in (0, 2), argv
        return f"exit {exit.code}"
    except OSError as error:                       # the file system's, naming the file
        assert error.filename, f"{argv}: {error!r} names no file"
        return type(error).__name__
    except Exception as error:                     # noqa: BLE001 - its origin is checked
        frame = traceback.extract_tb(error.__traceback__)[-1]
        assert frame.filename.startswith(PACKAGE) and frame.line.startswith("raise"), (
            f"{argv}: {type(error).__name__} escaped from {frame.filename}:{frame.lineno} "
            f"({frame.line}): {error}")
        assert str(error), "an error without a message"
        return type(error).__name__
    assert code in (0, 1, 130), (argv, code)
    return f"exit {code}"


def test_the_fuzzed_command_line_ends_cleanly(tmp_path_factory, capsys):
    model = tmp_path_factory.mktemp("trained")
    assert main(["train", "--epochs", "1", "--limit", "64", "--val-size", "32", "--no-progress",
                 "--out", str(model)]) == 0
    seen = []

    @CLI_FUZZ
    @given(data=st.data())
    def run(data):
        with tempfile.TemporaryDirectory() as out:
            if data.draw(st.booleans()):
                argv = data.draw(train_argv(out))
            else:
                argv = data.draw(other_argv(str(model / "model.npz"), out))
            with np.errstate(all="ignore"):
                seen.append(ends_cleanly(argv))
            capsys.readouterr()

    run()
    print(f"outcomes: { {o: seen.count(o) for o in set(seen)} }")
    assert len(set(seen)) >= 3                     # refusals of several kinds, not one
