"""`minigrad train` and `minigrad evaluate` on a tiny run: every file, and numbers that agree."""
import json

import pytest

from minigrad.apps.cli import main

FILES = ["checkpoint.npz", "confusion.png", "curves.png", "feature_maps.png", "filters.png",
         "metrics.json", "model.npz"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = main(["train", "--epochs", "1", "--limit", "256", "--batch-size", "32",
                 "--val-size", "64", "--out", str(out), "--no-progress"])
    assert code == 0
    return out


def test_train_writes_all_its_files(tiny_run):
    assert sorted(p.name for p in tiny_run.iterdir()) == FILES
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["config"]["model"] == "lenet5" and metrics["config"]["epochs"] == 1
    assert metrics["evaluated_on"] == "val"
    assert len(metrics["history"]["train_loss"]) == 1
    assert sum(map(sum, metrics["confusion"])) == 64


def test_evaluate_reloads_the_saved_model(tiny_run, capsys):
    capsys.readouterr()
    assert main(["evaluate", "--model-path", str(tiny_run / "model.npz"),
                 "--confusion", str(tiny_run / "test_confusion.png")]) == 0
    out = capsys.readouterr().out
    assert "lenet5 on mnist test (1000 images): accuracy" in out
    assert (tiny_run / "test_confusion.png").exists()


def test_train_resume_after_the_last_epoch_trains_no_more(tiny_run, capsys):
    code = main(["train", "--epochs", "1", "--limit", "256", "--batch-size", "32",
                 "--val-size", "64", "--out", str(tiny_run), "--no-progress", "--resume"])
    assert code == 0
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert len(metrics["history"]["train_loss"]) == 1


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "train" in out and "evaluate" in out


@pytest.mark.parametrize("flag, expected_calls", [([], 0), (["--no-keep-freed-memory"], 1)])
def test_train_keeps_freed_memory_unless_told_not_to(tmp_path, monkeypatch, flag, expected_calls):
    from minigrad.kernels import scratch                  # keeping it is the library's default
    calls = []
    monkeypatch.setattr(scratch, "return_freed_memory", lambda: calls.append(1) or True)
    code = main(["train", "--epochs", "1", "--limit", "64", "--batch-size", "32",
                 "--val-size", "32", "--out", str(tmp_path), "--no-progress"] + flag)
    assert code == 0 and len(calls) == expected_calls


def test_train_model_vit_uses_its_recipe_writes_the_attention_plots_and_reloads(tmp_path,
                                                                               capsys):
    out = tmp_path / "vit"
    assert main(["train", "--model", "vit", "--epochs", "1", "--limit", "128", "--val-size",
                 "32", "--out", str(out), "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES + ["attention.png",
                                                                    "rollout.png"])
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert (config["model"], config["optimizer"], config["lr"], config["batch_size"]) == \
        ("vit", "adam", 0.002, 64)                       # the tiny_vit recipe, not LeNet's
    capsys.readouterr()
    assert main(["evaluate", "--model-path", str(out / "model.npz")]) == 0
    assert "vit on mnist test (1000 images): accuracy" in capsys.readouterr().out


def test_train_model_bcos_lenet_uses_its_recipe_and_reloads(tmp_path, capsys):
    """Its recipe feeds images in [0, 1]: evaluate must too, and so give the same accuracy."""
    out = tmp_path / "bcos"
    assert main(["train", "--model", "bcos-lenet", "--epochs", "1", "--limit", "128",
                 "--out", str(out), "--no-progress"]) == 0
    # no Conv2d, so no filters or feature maps of one
    assert sorted(p.name for p in out.iterdir()) == sorted(
        set(FILES) - {"filters.png", "feature_maps.png"})
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert (config["model"], config["optimizer"], config["lr"]) == ("bcos_lenet", "adam", 0.003)
    accuracy = json.loads((out / "metrics.json").read_text())["accuracy"]
    capsys.readouterr()
    assert main(["evaluate", "--model-path", str(out / "model.npz")]) == 0
    assert f"bcos_lenet on mnist test (1000 images): accuracy {accuracy:.2%}" in \
        capsys.readouterr().out


def test_train_shapes_builds_the_64x64_alexnet_lite_and_evaluate_rebuilds_it(tmp_path, capsys):
    """`minigrad train --dataset shapes` on 96 images: AlexNet-lite with BatchNorm for shapes
    v3's 64x64 images (first conv stride 2), recorded as data version 3, and `evaluate` rebuilds
    that very model from model.npz."""
    from minigrad.apps.recipes import RECIPES, load_trained
    from minigrad.data.shapes_data import SIZE
    out = tmp_path / "shapes"
    assert main(["train", "--dataset", "shapes", "--epochs", "1", "--limit", "96",
                 "--val-size", "32", "--batch-size", "32", "--out", str(out),
                 "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == FILES
    metrics = json.loads((out / "metrics.json").read_text())
    config = metrics["config"]
    assert (config["model"], config["dataset"], config["data_version"]) == \
        ("alexnet_lite_bn", "shapes", 3)
    assert sum(map(sum, metrics["confusion"])) == 32
    assert RECIPES["shapes"].size == SIZE == 64
    model, _ = load_trained(out / "model.npz")
    assert model.features[0].stride == (2, 2)
    capsys.readouterr()
    assert main(["evaluate", "--model-path", str(out / "model.npz")]) == 0
    assert "alexnet_lite_bn on shapes test (2000 images): accuracy" in capsys.readouterr().out
