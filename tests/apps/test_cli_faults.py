"""`minigrad train` under faults, for real: SIGKILL in the middle of checkpoint writes, Ctrl-C
(SIGINT) and --resume to the same weights, a full disk, corrupt files, and every argument it
must refuse before it starts.

The 20 kills run in children forked from this process (already warm: minigrad imported, kernels
compiled), so each costs a fraction of a second instead of a fresh interpreter's start; the
SIGINT test runs `python -m minigrad` itself, three times.
"""
import errno
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.apps.cli import main
from tests.catalogue import numpy_is_loading

TINY = ["--limit", "96", "--val-size", "32", "--batch-size", "32", "--no-progress"]


def run_cli(*argv):
    """main(argv) -> exit status, whether it returned or exited through argparse."""
    try:
        return main(list(argv))
    except SystemExit as exit:
        return exit.code


def position(path):
    saved = mg.load(path)                    # reads (and checksums) every array: a full file
    return int(saved["position.epoch"]), int(saved["position.batch"])


def fork_train(argv, log):
    """Run main(argv) in a forked child whose output goes to `log`; -> its pid."""
    pid = os.fork()
    if pid == 0:                                                  # the child
        code = 1
        try:      # pytest's capture replaced sys.stdout: point both streams at the log itself
            sys.stdout = sys.stderr = open(log, "a", buffering=1)
            code = main(argv)
        finally:
            os._exit(code)
    return pid


def replaced(path, inode):
    """Has `path` been (re)written since it had `inode`? (os.replace gives it a new inode.)"""
    try:
        return path.stat().st_ino != inode
    except FileNotFoundError:
        return False


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.002)


def test_sigkill_during_checkpoint_writes_20_times_leaves_a_checkpoint_that_loads_and_resumes(
        tmp_path):
    out, log = tmp_path / "run", tmp_path / "log.txt"
    argv = ["train", "--epochs", "100000", "--limit", "64", "--val-size", "32",
            "--batch-size", "64", "--no-progress", "--out", str(out)]
    checkpoint = out / "checkpoint.npz"
    # warm this process up first (kernels compiled, data read), so that every child starts warm
    assert run_cli(*argv[:2], "1", *argv[3:-1], str(tmp_path / "warm-up")) == 0
    rng = random.Random(15)
    last, last_inode, started, cpu = (0, 0), None, time.perf_counter(), 0.0
    for kill in range(20):
        pid = fork_train(argv + (["--resume"] if kill else []), log)
        # resumed, and at least one epoch further: every child continues the one before
        wait_until(lambda: replaced(checkpoint, last_inode))
        assert position(checkpoint) > last
        wait_until(lambda: any(out.glob(".checkpoint.npz.*.partial")))   # the next write ...
        time.sleep(rng.uniform(0.0, 0.004))      # ... is under way: kill it at a random moment
        os.kill(pid, signal.SIGKILL)
        _, status, usage = os.wait4(pid, 0)
        assert os.WTERMSIG(status) == signal.SIGKILL
        cpu += usage.ru_utime + usage.ru_stime
        now = position(checkpoint)               # the latest checkpoint is whole and loads
        assert now >= last
        last, last_inode = now, checkpoint.stat().st_ino
        junk = sorted(p.name for p in out.iterdir() if p.name.startswith(".") and
                      p.name != ".minigrad.lock")       # the killed child's lock: stale now
        assert all(name.startswith(".checkpoint.npz.") and name.endswith(".partial")
                   for name in junk), junk
        assert (out / ".minigrad.lock").read_text() == f"{pid}\n"
        assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == \
            ["checkpoint.npz"]
    text = log.read_text()
    assert "Traceback" not in text
    assert text.count("left by a save that was killed midway") >= 1   # some kills hit a write
    assert text.count(f"took over {out / '.minigrad.lock'} from process ") == 19
    print(f"20 kills in {time.perf_counter() - started:.1f} s ({cpu:.1f} s CPU in the children): "
          f"{text.count('left by a save that was killed midway')} partial files removed at the "
          f"next start; last position {last}")


def test_ctrl_c_saves_interrupted_npz_and_the_printed_resume_command_reaches_the_same_weights(
        tmp_path):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "minigrad", "train", "--epochs", "3", "--limit", "256",
               "--val-size", "32", "--batch-size", "32", "--no-progress"]
    straight = subprocess.run(command + ["--out", str(tmp_path / "straight")], env=env,
                              capture_output=True, text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "interrupted"
    child = subprocess.Popen(command + ["--out", str(out)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    wait_until(lambda: (out / "checkpoint.npz").exists())    # epoch 1 is done: Ctrl-C in 2
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=300)
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == ["checkpoint.npz", "interrupted.npz"]      # no model.npz, metrics, plots
    assert position(out / "interrupted.npz") >= (1, 0)       # in epoch 2 (or just before it)
    assert run_cli("evaluate", "--model-path", str(out / "interrupted.npz")) == 0
    resume_line = stderr.strip().splitlines()[-1].strip()
    assert resume_line.startswith("minigrad train ") and resume_line.endswith(" --resume")
    resumed = subprocess.run([sys.executable, "-m"] + shlex.split(resume_line), env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    expected, got = mg.load(tmp_path / "straight" / "model.npz"), mg.load(out / "model.npz")
    assert list(expected) == list(got)
    for name in expected:
        np.testing.assert_array_equal(expected[name], got[name], err_msg=name)
    assert not (out / "interrupted.npz").exists()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 1-epoch run (in this process) whose directory the tests below reuse."""
    out = tmp_path_factory.mktemp("finished")
    assert run_cli("train", "--epochs", "1", *TINY, "--out", str(out)) == 0
    return out


def test_a_finished_run_is_never_overwritten_without_overwrite(finished_run, tmp_path, capsys):
    model = (finished_run / "model.npz").read_bytes()
    assert run_cli("train", "--epochs", "1", *TINY, "--out", str(finished_run)) == 2
    assert "already holds a run (checkpoint.npz, model.npz, metrics.json); add --resume to " \
           "continue it, --overwrite to replace it" in capsys.readouterr().err
    assert (finished_run / "model.npz").read_bytes() == model
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("model.npz", "checkpoint.npz", "metrics.json", "filters.png"):
        (copy / name).write_bytes((finished_run / name).read_bytes())
    assert run_cli("train", "--epochs", "1", *TINY, "--seed", "1", "--out", str(copy),
                   "--overwrite") == 0
    captured = capsys.readouterr()
    assert f"--overwrite: moved the previous run's checkpoint.npz, model.npz, metrics.json, " \
           f"filters.png to {copy / '.overwritten-run'}/; they are deleted when this run saves " \
           f"its first checkpoint" in captured.out
    assert f"deleted the run that this one overwrites ({copy / '.overwritten-run'})" in \
        captured.err
    assert (copy / "model.npz").read_bytes() != model
    assert sorted(p.name for p in copy.iterdir() if p.name.startswith(".")) == []


def finished_copy(finished_run, directory):
    """A copy of the finished run's files in `directory`; -> {name: bytes} of them."""
    directory.mkdir()
    files = {p.name: p.read_bytes() for p in finished_run.iterdir()}
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return files


def contents(directory):
    return {p.name: p.read_bytes() for p in directory.iterdir()}


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "cifar10", "--root", "EMPTY"], "add --download to fetch the files"),
    (["--root", "EMPTY"], "add --download to fetch the files"),
    (["--model", "alexnet_lite"], "image_size must be one of [32, 64], got 28"),
    (["--val-size", "5000", "--limit", "6000"], "val_size must be between 1 and"),
    (["--lr", "1e6"], "training stopped at epoch 1, batch "),     # fails before a checkpoint
])
def test_overwrite_checks_everything_first_and_keeps_the_old_run_when_the_new_one_fails(
        finished_run, tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    before = finished_copy(finished_run, out)
    argv = [str(tmp_path / "empty") if word == "EMPTY" else word for word in argv]
    assert run_cli("train", "--epochs", "1", *TINY, *argv, "--out", str(out),
                   "--overwrite") == 1
    err = capsys.readouterr().err
    assert err.startswith("minigrad: error: ") or "put the previous run back" in err
    assert message in err
    assert contents(out) == before                   # byte for byte, nothing left beside it


def python_minigrad(*argv):
    return [sys.executable, "-m", "minigrad", *map(str, argv)]


def test_overwrite_killed_before_its_first_checkpoint_loses_nothing_in_real_processes(
        finished_run, tmp_path):
    out = tmp_path / "run"
    before = finished_copy(finished_run, out)
    aside = out / ".overwritten-run"
    child = subprocess.Popen(python_minigrad("train", "--epochs", "5", "--limit", "3000",
                                             "--val-size", "32", "--batch-size", "16",
                                             "--no-progress", "--out", out, "--overwrite"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: aside.is_dir() and (aside / "model.npz").exists())
    child.kill()                                 # in its first epoch: no checkpoint of its own
    child.communicate(timeout=60)
    assert not (out / "checkpoint.npz").exists()
    assert contents(aside) == before             # the old run, whole, set aside
    # the next start puts it back, and then refuses to train over it without a flag
    again = subprocess.run(python_minigrad("train", "--epochs", "1", *TINY, "--out", out),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2
    assert f"put the previous run back in {out}/" in again.stderr
    assert "already holds a run" in again.stderr
    assert contents(out) == before
    # an --overwrite that reaches its first checkpoint deletes the old run then
    replaced = subprocess.run(python_minigrad("train", "--epochs", "1", *TINY, "--seed", "3",
                                              "--out", out, "--overwrite"),
                              capture_output=True, text=True, timeout=120)
    assert replaced.returncode == 0, replaced.stderr
    assert not aside.exists() and "Traceback" not in replaced.stderr
    assert (out / "model.npz").read_bytes() != before["model.npz"]


def test_evaluate_accepts_the_checkpoint_and_says_which_files_to_pass(finished_run, tmp_path,
                                                                       capsys):
    assert run_cli("evaluate", "--model-path", str(finished_run / "checkpoint.npz")) == 0
    assert "lenet5 on mnist test (1000 images): accuracy" in capsys.readouterr().out
    bare = tmp_path / "weights.npz"
    mg.save(mg.load(finished_run / "model.npz"), bare)      # not from `minigrad train`
    bare_state = {k[len("model."):]: v for k, v in mg.load(bare).items() if k.startswith("model.")}
    mg.save(bare_state, bare)
    assert run_cli("evaluate", "--model-path", str(bare)) == 1
    assert capsys.readouterr().err == (
        f"minigrad: error: {bare} was not written by `minigrad train` (it holds no run "
        f"configuration); pass the model.npz, checkpoint.npz or interrupted.npz of a run "
        f"directory\n")


def test_resume_with_other_settings_is_refused_naming_them(finished_run, capsys):
    before = (finished_run / "checkpoint.npz").read_bytes()
    assert run_cli("train", "--epochs", "1", *TINY, "--optimizer", "adam", "--lr", "0.01",
                   "--out", str(finished_run), "--resume") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"minigrad: error: cannot resume from {finished_run / 'checkpoint.npz'}"
                          f": it was trained with other settings (lr: 0.05 in the checkpoint, "
                          f"0.01 now; optimizer: 'sgd' in the checkpoint, 'adam' now)")
    assert len(err.splitlines()) == 1
    assert (finished_run / "checkpoint.npz").read_bytes() == before


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "argument --epochs: expected an integer >= 1, got 0"),
    (["--epochs", "-1"], "argument --epochs: expected an integer >= 1, got -1"),
    (["--batch-size", "0"], "argument --batch-size: expected an integer >= 1, got 0"),
    (["--lr", "-1"], "argument --lr: expected a finite number > 0, got -1"),
    (["--lr", "nan"], "argument --lr: expected a finite number > 0, got nan"),
    (["--lr", "inf"], "argument --lr: expected a finite number > 0, got inf"),
    (["--lr", "fast"], "argument --lr: expected a finite number > 0, got 'fast'"),
    (["--limit", "0"], "argument --limit: expected an integer >= 1, got 0"),
    (["--limit", "-5"], "argument --limit: expected an integer >= 1, got -5"),
    (["--val-size", "-1"], "argument --val-size: expected an integer >= 0, got -1"),
    (["--seed", "-1"], "argument --seed: expected an integer >= 0, got -1"),
    (["--weight-decay", "-0.1"], "argument --weight-decay: expected a finite number >= 0"),
    (["--dataset", "imagenet"], "argument --dataset: invalid choice: 'imagenet'"),
    (["--model", "resnet"], "argument --model: invalid choice: 'resnet'"),
    (["--limit", "64", "--val-size", "64"], "--val-size 64 must be smaller than --limit 64"),
    (["--resume", "--overwrite"], "argument --overwrite: not allowed with argument --resume"),
])
def test_out_of_range_arguments_are_argparse_errors_before_anything_is_written(
        tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    assert run_cli("train", *argv, "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: minigrad train") and f"minigrad train: error: {message}" in err
    assert not out.exists()


def test_out_that_is_a_file_unwritable_or_without_a_checkpoint_to_resume(tmp_path, capsys,
                                                                         monkeypatch):
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a directory")
    assert run_cli("train", "--out", str(a_file)) == 2
    assert f"--out {a_file}: is a file, not a directory" in capsys.readouterr().err
    assert run_cli("train", "--out", str(a_file / "run")) == 2
    assert "cannot write there (Not a directory)" in capsys.readouterr().err
    assert run_cli("train", "--out", str(tmp_path / "empty"), "--resume") == 2
    assert "--resume: there is no checkpoint.npz or interrupted.npz in" in capsys.readouterr().err
    import tempfile

    def read_only(**kwargs):                 # what a read-only folder does (root writes anyway)
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    assert run_cli("train", "--out", str(tmp_path / "ro")) == 2
    assert f"--out {tmp_path / 'ro'}: cannot write there (Permission denied)" in \
        capsys.readouterr().err


@pytest.mark.parametrize("failure", [errno.ENOSPC, errno.EACCES])
def test_disk_full_or_permission_denied_while_saving_is_one_line_and_keeps_the_checkpoint(
        tmp_path, capsys, monkeypatch, failure):
    from minigrad.nn import checkpoint
    savez, saves = checkpoint.np.savez, []

    def second_save_fails(file, **arrays):
        saves.append(1)
        if len(saves) == 2:
            raise OSError(failure, os.strerror(failure))
        savez(file, **arrays)
    monkeypatch.setattr(checkpoint.np, "savez", second_save_fails)
    out = tmp_path / "run"
    assert run_cli("train", "--epochs", "2", *TINY, "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert err == (f"minigrad: error: could not save {out / 'checkpoint.npz'}: "
                   f"{os.strerror(failure)}; the previous file was kept\n")
    assert position(out / "checkpoint.npz") == (1, 0)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz"]


def test_a_corrupt_file_is_one_line_in_a_real_process_and_debug_shows_the_traceback(tmp_path):
    broken = tmp_path / "model.npz"
    broken.write_bytes(b"PK\x03\x04 cut short")
    command = [sys.executable, "-m", "minigrad", "evaluate", "--model-path", str(broken)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"minigrad: error: cannot load {broken}: the file is truncated or corrupt (File is not "
        f"a zip file); it may have been cut short while it was written"]
    with pytest.raises(mg.CheckpointError):
        main(["evaluate", "--model-path", str(broken), "--debug"])
    with pytest.raises(mg.CheckpointError):
        main(["--debug", "evaluate", "--model-path", str(broken)])


def test_a_huge_learning_rate_stops_with_the_divergence_message_or_names_the_op(tmp_path,
                                                                                capsys):
    assert run_cli("train", "--epochs", "1", *TINY, "--lr", "1e6", "--out",
                   str(tmp_path / "a")) == 1
    err = capsys.readouterr().err
    assert err.startswith("minigrad: error: training stopped at epoch 1, batch ")
    assert "The learning rate was " in err and "try a smaller one" in err
    assert not (tmp_path / "a" / "checkpoint.npz").exists()
    assert run_cli("train", "--epochs", "1", *TINY, "--lr", "1e30", "--detect-anomaly", "--out",
                   str(tmp_path / "b")) == 1
    err = capsys.readouterr().err
    assert err.startswith("minigrad: error: detect_anomaly: ") and "<" in err and ">" in err
    assert not mg.is_anomaly_enabled()


def test_hints_name_the_flags_to_use(tmp_path, capsys):
    assert run_cli("train", "--dataset", "cifar10", "--root", str(tmp_path), "--out",
                   str(tmp_path / "run")) == 1
    err = capsys.readouterr().err
    assert err.startswith("minigrad: error: CIFAR-10 train: ") and err.endswith(
        ": add --download to fetch the files (needs internet), or --root DIR where they are\n")
    assert run_cli("evaluate", "--model-path", str(Path("missing.npz"))) == 1
    assert capsys.readouterr().err == "minigrad: error: No such file or directory: missing.npz\n"


def test_numba_compilation_is_announced_once_when_the_cache_is_empty(tmp_path, capsys,
                                                                     monkeypatch):
    from minigrad import kernels
    assert set(kernels.uncached_kernels()) <= {"_valid_range", "_row_offsets", "_im2col_into",
                                               "_im2col_rows_into", "_col2im_into",
                                               "_max_pool2d_forward", "_max_pool2d_backward",
                                               "_max_pool2d_inside", "_max_pool2d_clipped",
                                               "_max_pool2d_scatter", "_dx_taps",
                                               "_dx_taps_sized",
                                               "_divisor", "_avg_pool2d_forward",
                                               "_avg_pool2d_backward", "_erf_loop",
                                               "_squared_norms", "_bcos_columns",
                                               "_bcos_grad_columns", "_add_times",
                                               "_inside_stride_one", "_inside_windows",
                                               "_fold_inside_windows", "_channel_sum",
                                               "_channel_dot", "_moments_loop",
                                               "_scale_loop", "_input_grad_loop"}
    monkeypatch.setattr(kernels.glob, "glob", lambda pattern: [])    # as on a fresh install
    assert "_im2col_into" in kernels.uncached_kernels()
    assert run_cli("train", "--epochs", "1", "--limit", "64", "--val-size", "32", "--out",
                   str(tmp_path / "run"), "--no-progress") == 0
    assert capsys.readouterr().out.count("compiling minigrad's Numba kernels (once per "
                                         "install; later runs load them from Numba's cache) "
                                         "...") == 1


def test_explain_exits_non_zero_when_every_method_failed(finished_run, tmp_path, capsys):
    picture = tmp_path / "explain.png"
    assert run_cli("explain", "--model-path", str(finished_run / "model.npz"), "--methods",
                   "cam", "--out", str(picture)) == 1
    err = capsys.readouterr().err
    assert "minigrad: error: every method failed (cam), so nothing was drawn; the first said: " \
           "CAM needs global average pooling" in err
    assert not picture.exists()
    assert run_cli("explain", "--model-path", str(finished_run / "model.npz"), "--methods",
                   "gradcam,vanilla", "--index", "3,5", "--out", str(picture)) == 0
    assert picture.exists()
    assert run_cli("explain", "--model-path", str(finished_run / "model.npz"), "--index",
                   "-1") == 2
    assert "--index: expected integers >= 0 separated by commas, got '-1'" in \
        capsys.readouterr().err


HOLD_THE_LOCK = """import sys, time
from minigrad.runs import RunDirectoryLock
RunDirectoryLock(sys.argv[1]).__enter__()
print("locked", flush=True)
time.sleep(120)
"""


def test_a_run_directory_belongs_to_one_process_and_a_killed_owner_s_lock_is_taken_over(
        tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(out)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        second = subprocess.run(python_minigrad("train", "--epochs", "1", *TINY, "--out", out),
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert second.stderr.splitlines() == [
            f"minigrad: error: {out}/ is in use by another minigrad run (process "
            f"{holder.pid}); wait for it to end, or choose another directory"]
        assert sorted(p.name for p in out.iterdir()) == [".minigrad.lock"]
    finally:
        holder.kill()                            # SIGKILL: the lock file stays, stale
        holder.wait()
    assert (out / ".minigrad.lock").read_text() == f"{holder.pid}\n"
    third = subprocess.run(python_minigrad("train", "--epochs", "1", *TINY, "--out", out),
                           capture_output=True, text=True, timeout=120)
    assert third.returncode == 0, third.stderr
    assert f"took over {out / '.minigrad.lock'} from process {holder.pid}, which ended " \
           f"without releasing it" in third.stderr
    assert not (out / ".minigrad.lock").exists()          # released on the way out


def test_two_runs_started_at_once_into_one_out_one_trains_the_other_is_refused(tmp_path):
    out = tmp_path / "run"
    runs = [subprocess.Popen(python_minigrad("train", "--epochs", "2", *TINY, "--seed", seed,
                                             "--out", out),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for seed in (1, 2)]
    results = [run.communicate(timeout=300) + (run.returncode, run.pid) for run in runs]
    (winner,) = [r for r in results if r[2] == 0]
    (loser,) = [r for r in results if r[2] != 0]
    # refused by the lock while the winner trained, or -- if it started after the winner had
    # finished -- by the finished run it found
    assert (loser[2] == 1 and loser[1] == f"minigrad: error: {out}/ is in use by another "
            f"minigrad run (process {winner[3]}); wait for it to end, or choose another "
            f"directory\n") or (loser[2] == 2 and "already holds a run" in loser[1]), loser
    seed = 1 if winner is results[0] else 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["seed"] == seed           # every file is the winner's own
    assert int(mg.load(out / "checkpoint.npz")["config.seed"]) == seed
    assert mg.load(out / "model.npz")["config.seed"] == seed
    print(f"the loser exited {loser[2]}")


def test_the_lock_makes_its_directory_again_if_a_run_ending_at_that_moment_removed_it(
        tmp_path, monkeypatch):
    # a run that ends removes its directory if it stayed empty; one starting at that moment may
    # have made the directory just before, and must not fail with 'No such file or directory'
    from minigrad import runs
    out, real_open, opened = tmp_path / "run", os.open, []

    def open_after_the_other_run_removed_the_directory(path, *args):
        opened.append(path)
        if len(opened) == 1:
            out.rmdir()
        return real_open(path, *args)
    monkeypatch.setattr(runs.os, "open", open_after_the_other_run_removed_the_directory)
    with runs.RunDirectoryLock(out) as lock:
        assert lock.path.read_text() == f"{os.getpid()}\n"
    assert opened == [out / ".minigrad.lock"] * 2
    assert not out.exists()                        # it made the directory, and it was left empty


def test_the_lock_makes_its_directory_again_if_it_vanished_as_mkdir_found_it(tmp_path,
                                                                            monkeypatch):
    # the directory was there when mkdir looked (EEXIST) and gone just after: try again
    from minigrad import runs
    out, real_mkdir, calls = tmp_path / "run", Path.mkdir, []

    def mkdir_as_the_other_run_removes_it(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 1:
            raise FileExistsError(errno.EEXIST, "File exists", str(self))
        return real_mkdir(self, *args, **kwargs)
    monkeypatch.setattr(Path, "mkdir", mkdir_as_the_other_run_removes_it)
    with runs.RunDirectoryLock(out) as lock:
        assert lock.path.read_text() == f"{os.getpid()}\n"
    assert calls == [out, out]
    assert not out.exists()             # made by the lock on its second try, so removed


def test_a_lock_file_that_cannot_be_opened_is_an_error_not_an_endless_retry(tmp_path):
    from minigrad import runs
    out = tmp_path / "run"
    out.mkdir()
    (out / runs.LOCK_NAME).symlink_to(tmp_path / "nowhere" / "lock")    # a link to nowhere
    with pytest.raises(FileNotFoundError):
        runs.RunDirectoryLock(out).__enter__()


def test_a_read_only_out_with_a_stale_lock_is_refused_as_unwritable(tmp_path, capsys,
                                                                    monkeypatch):
    # a killed run's lock file opens without write access to the directory; the check after
    # the lock refuses, and the lock's exit, unable to delete its file, keeps that refusal
    import tempfile
    out = tmp_path / "ro"
    out.mkdir()
    (out / ".minigrad.lock").write_text("999999\n")

    def permission_denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(tempfile, "TemporaryFile", permission_denied)
    monkeypatch.setattr(Path, "unlink", permission_denied)
    assert run_cli("train", "--out", str(out)) == 2
    assert f"--out {out}: cannot write there (Permission denied)" in capsys.readouterr().err


@pytest.mark.parametrize("extra_delay", [0.0, 0.1, 0.25])
def test_ctrl_c_while_the_command_is_still_importing_is_one_line_and_a_ctrl_c_s_status(
        tmp_path, extra_delay):
    child = subprocess.Popen(python_minigrad("train", *TINY, "--out", tmp_path / "run"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not numpy_is_loading(child.pid):
        child.kill()
        pytest.skip("needs /proc to see what the child has loaded")
    time.sleep(extra_delay)              # later in the imports of NumPy, Numba, matplotlib
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=60)
    # 130 from main(), or killed by SIGINT itself (how Python ends on an uncaught Ctrl-C):
    # the shell says 130 for both
    assert child.returncode in (130, -signal.SIGINT), stderr
    assert stderr.splitlines() == ["", "minigrad: interrupted"]
    if extra_delay == 0.0:
        assert stdout == ""                            # main() had not started its work
    assert not (tmp_path / "run").exists()
