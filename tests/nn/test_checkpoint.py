"""state_dict round trips, strict loading, and atomic .npz checkpoints."""
import errno
import os
import pickle
import zipfile

import numpy as np
import pytest

import minigrad as mg
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


@pytest.mark.parametrize("failure", [errno.ENOSPC, errno.EACCES])
def test_disk_full_or_permission_denied_while_saving_names_the_file_and_keeps_the_old_one(
        tmp_path, monkeypatch, failure):
    path = tmp_path / "checkpoint.npz"
    nn.save(make_model(), path)
    old_bytes = path.read_bytes()

    def fail(file, **arrays):
        file.write(b"PK\x03\x04 a few bytes")
        raise OSError(failure, os.strerror(failure))

    monkeypatch.setattr(checkpoint.np, "savez", fail)
    with pytest.raises(OSError, match=rf"could not save {path}: {os.strerror(failure)}; the "
                                      rf"previous file was kept") as error:
        nn.save(trained_model(), path)
    assert error.value.errno == failure
    assert path.read_bytes() == old_bytes and os.listdir(tmp_path) == ["checkpoint.npz"]


def test_a_directory_that_refuses_the_temporary_file_gives_the_same_clear_error(tmp_path,
                                                                                monkeypatch):
    def refuse(**kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match=r"could not save .*x.npz: Permission denied; "
                                              r"nothing was written"):
        nn.save(make_model(), tmp_path / "x.npz")


def test_a_save_killed_midway_leaves_obvious_junk_that_remove_partial_files_deletes(tmp_path,
                                                                                    monkeypatch):
    def killed(file, **arrays):             # what SIGKILL leaves: the temporary, never unlinked
        file.write(b"half")
        monkeypatch.setattr(checkpoint.os, "unlink", lambda path: None)
        raise KeyboardInterrupt
    monkeypatch.setattr(checkpoint.np, "savez", killed)
    with pytest.raises(KeyboardInterrupt):
        nn.save(make_model(), tmp_path / "checkpoint.npz")
    monkeypatch.undo()
    [junk] = os.listdir(tmp_path)
    assert junk.startswith(".checkpoint.npz.") and junk.endswith(".partial")
    (tmp_path / "keep.npz").write_bytes(b"")
    assert nn.remove_partial_files(tmp_path) == [junk]
    assert os.listdir(tmp_path) == ["keep.npz"]


def corrupt_files(directory):
    """name -> (path of a broken state file, what the error must say)."""
    good = directory / "good.npz"
    nn.save(make_model(), good)
    data = good.read_bytes()
    files = {"truncated": (data[:len(data) // 2], "the file is truncated or corrupt"),
             "empty": (b"", "the file is empty"),
             "text": (b"hello, world", "it is not an .npz file"),
             "flipped": (data[:100] + bytes([data[100] ^ 0xFF]) + data[101:],
                         "the file is truncated or corrupt")}
    paths = {}
    for name, (content, message) in files.items():
        paths[name] = (directory / f"{name}.npz", message)
        paths[name][0].write_bytes(content)
    np.save(directory / "single.npy", np.arange(3))
    paths["npy"] = (directory / "single.npy", "it is a single .npy array")
    return paths


def test_corrupt_files_raise_one_error_naming_the_file_and_the_problem(tmp_path):
    for name, (path, message) in corrupt_files(tmp_path).items():
        with pytest.raises(nn.CheckpointError) as error:
            mg.load(path)
        assert str(error.value).startswith(f"cannot load {path}: {message}"), name
    assert issubclass(mg.CheckpointError, ValueError) and mg.CheckpointError is nn.CheckpointError
    with pytest.raises(nn.CheckpointError, match="it is a directory"):
        mg.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        mg.load(tmp_path / "missing.npz")


class Alarm:
    """Unpickling this writes a file: the proof, if it exists, that a pickle was loaded."""
    marker = None

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_inside_an_npz_is_refused_and_never_unpickled(tmp_path):
    Alarm.marker = tmp_path / "unpickled"
    path = tmp_path / "evil.npz"
    with zipfile.ZipFile(path, "w") as archive:      # an .npy member holding an object array
        with archive.open("weight.npy", "w") as member:
            np.lib.format.write_array(member, np.array([Alarm()], dtype=object),
                                      allow_pickle=True)
    with pytest.raises(nn.CheckpointError, match=rf"cannot load {path}: it holds pickled Python "
                                                 rf"objects, which minigrad never unpickles"):
        mg.load(path)
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps(Alarm()))
    with pytest.raises(nn.CheckpointError, match="it is not an .npz file"):
        mg.load(tmp_path / "plain.pkl")
    assert not Alarm.marker.exists()


def test_a_failed_load_leaves_the_model_as_it_was(tmp_path):
    model = make_model()
    before = model.state_dict()
    path, _ = corrupt_files(tmp_path)["truncated"]
    with pytest.raises(nn.CheckpointError):
        model.load_state_dict(mg.load(path))
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_save_and_load_are_at_the_top_level(tmp_path):
    model = trained_model()
    mg.save(model, tmp_path / "m.npz")
    fresh = make_model()
    fresh.load_state_dict(mg.load(tmp_path / "m.npz"))
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)


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


def test_write_atomically_leaves_the_old_file_when_the_writer_fails(tmp_path):
    """minigrad train writes metrics.json this way too: never half a file."""
    from minigrad.nn.checkpoint import write_atomically
    target = tmp_path / "metrics.json"
    write_atomically(target, lambda file: file.write(b'{"old": 1}'))

    def fails_halfway(file):
        file.write(b'{"new"')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, fails_halfway)
    assert target.read_bytes() == b'{"old": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
