"""The examples are part of the documentation: they must run and say what they promise."""
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from minigrad.apps.recipes import save_trained
from minigrad.models import LeNet5

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_backprop_by_hand_agrees_with_autograd():
    result = subprocess.run([sys.executable, str(EXAMPLES / "backprop_by_hand.py")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hand and autograd agree" in result.stdout
    assert "dy/dx0 = +0.3932" in result.stdout


def test_write_your_own_op_property_tests_pass():
    namespace = runpy.run_path(str(EXAMPLES / "write_your_own_op.py"))
    namespace["test_softplus_forward"]()
    namespace["test_softplus_gradient"]()


def test_explain_lenet_writes_its_pictures(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / "explain_lenet.py"), "--count", "2",
                             "--out", str(tmp_path / "ex")], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for suffix in ("", "_sanity", "_fixations"):
        assert (tmp_path / f"ex{suffix}.png").read_bytes()[:4] == b"\x89PNG"


def run_example(name, monkeypatch, capsys, *args):
    """Run examples/<name> in this process (no interpreter start-up) with these arguments, in
    a temporary working directory; its printed output."""
    monkeypatch.setattr(sys, "argv", [name, *map(str, args)])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def is_png(path):
    return path.read_bytes()[:4] == b"\x89PNG"


def test_conv_arithmetic_checks_the_formula_against_conv2d(in_tmp, monkeypatch, capsys):
    out = run_example("conv_arithmetic.py", monkeypatch, capsys, "--max-size", 3)
    assert re.search(r"agrees with conv2d in all \d+ cases", out)
    assert "conv2d agrees: True" in out
    assert re.search(r"3x3\s+5\s+7\s+9", out)                        # valid, same, full
    assert re.search(r"1x1 conv .* max difference 0\.0e\+00", out)
    assert is_png(in_tmp / "conv_arithmetic.png")


def test_pooling_as_convolution_shows_which_pooling_is_linear(in_tmp, monkeypatch, capsys):
    out = run_example("pooling_as_convolution.py", monkeypatch, capsys, "--windows", 2000)
    assert "equal up to rounding: True" in out
    assert "maxpool(a + b) = 1  but  maxpool(a) + maxpool(b) = 2" in out
    errors = dict(re.findall(r"fit to (\w+)\s+pooling: .* error ([\d.]+)%", out))
    assert float(errors["average"]) < 0.1 and float(errors["max"]) > 30
    assert is_png(in_tmp / "pooling_as_convolution.png")


def test_perceptron_and_logistic_regression_then_xor(in_tmp, monkeypatch, capsys):
    out = run_example("perceptron_and_logistic_regression.py", monkeypatch, capsys,
                      "--steps", 150)
    assert float(re.search(r"logistic regression: .* accuracy ([\d.]+)%", out)[1]) >= 99.5  # "100%" before it printed a decimal
    assert re.search(r"perceptron: \d+ updates in \d+ epochs, accuracy 100% \(a pass without", out)
    straight = int(re.search(r"XOR, one layer .*: (\d+)% of the corners", out).group(1))
    assert straight <= 75                                       # no line gets all four corners
    assert "XOR, a hidden layer of 8 tanh units: 100% of the corners" in out
    assert "XOR, the best straight line: 75% of the corners" in out          # 3 of 4
    assert is_png(in_tmp / "perceptron_and_logistic_regression.png")


def test_optimizers_side_by_side(in_tmp, monkeypatch, capsys):
    out = run_example("optimizers.py", monkeypatch, capsys, "--steps", 300, "--epochs", 1,
                      "--limit", 256)
    for name in ("SGD", "momentum 0.9", "RMSprop", "Adam"):
        assert re.search(rf"{name}\s+lr .* -> \(", out) and re.search(rf"{name}\s+lr .* test", out)
    distance = {name: float(d) for name, d in
                re.findall(r"   (SGD|momentum 0\.9)\s+lr .* distance to \(1, 1\) ([\d.]+)", out)}
    assert distance["momentum 0.9"] < distance["SGD"]           # same lr: momentum got further
    assert is_png(in_tmp / "optimizers.png")


def test_init_and_activations_make_vanishing_gradients_visible(in_tmp, monkeypatch, capsys):
    out = run_example("init_and_activations.py", monkeypatch, capsys, "--depth", 6, "--width",
                      64, "--batch", 64)
    rows = {name: float(ratio) for name, ratio in
            re.findall(r"   (\w+, [\w (),.^0-9]+?)\s+[\d.e+-]+\s+[\d.e+-]+\s+([\d.e+-]+)", out)}
    assert rows["sigmoid, Xavier"] < 1e-2                 # the first layers get ~nothing back
    assert 0.1 < rows["relu, Kaiming"] < 10 and 0.1 < rows["tanh, Xavier"] < 10
    moment, variance = map(float, re.search(r"ReLU keeps ([\d.]+) of E\[z\^2\] and ([\d.]+) of "
                                            r"Var\(z\)", out).groups())
    assert abs(moment - 0.5) < 0.02 and abs(variance - 0.341) < 0.02
    assert out.count("claim not checked") == 6 and "claim held" not in out
    assert is_png(in_tmp / "init_and_activations.png")


def test_cnn_architectures_measure_their_designs_and_train_a_resnet(in_tmp, monkeypatch,
                                                                    capsys):
    out = run_example("cnn_architectures.py", monkeypatch, capsys, "--train-size", 64,
                      "--test-size", 32, "--epochs", 1, "--depths", 2, 8)
    assert "2 x 3x3: sees 5x5 with 73,728 weights" in out
    assert re.search(r"114M multiply-adds.*\n.*294M without.*hooks on the module count 114M", out)
    rows = re.findall(r"with shortcuts\s+(\S+) \(x([\d.]+) a block\), without\s+(\S+) "
                      r"\(x([\d.]+) a block\)", out)              # no BatchNorm: it vanishes
    assert len(rows) == 2
    with_shortcut, with_block, without, without_block = map(float, rows[1])
    assert without < 1e-3 * with_shortcut and without_block < 0.5 < with_block
    assert re.search(r"ResNet, 3 BasicBlocks\s+78,810 parameters", out)      # for 3x64x64
    assert re.search(r"epoch 1: training loss [\d.]+, test accuracy", out)
    assert out.count("claim not checked") == 2 and "claim held" not in out


def test_batchnorm_folding_keeps_outputs(in_tmp, monkeypatch, capsys):
    out = run_example("batchnorm_folding.py", monkeypatch, capsys, "--batch", 8, "--repeats", 1)
    gaps = [float(g) for g in re.findall(r"max \|difference\| / max \|output\| = ([\d.e+-]+)",
                                         out)]
    assert len(gaps) == 2 and max(gaps) < 1e-5
    assert "BatchNorm layers 5 -> 0" in out and "BatchNorm layers 6 -> 0" in out
    assert len(re.findall(r"\d+\.\d+x faster", out)) == 2
    slide, fused = (float(re.search(rf"{who}.*: max \|difference\| (\S+)", out)[1])
                    for who in ("the slide's", "nn.fuse's"))
    assert slide > 0.05 and fused < 1e-12               # a conv with a bias, folded both ways


def test_attention_blocks_report_where_they_look(in_tmp, monkeypatch, capsys):
    out = run_example("attention_blocks.py", monkeypatch, capsys, "--train-size", 64,
                      "--test-size", 40, "--epochs", 1)
    for name in ("trained CBAM", "untrained CBAM", "a centred Gaussian"):
        assert re.search(rf"{name}.*\s[\d.]+\s+\(above 1 for \d+% of the images\)", out)
    assert "nan" not in out
    assert "claim not checked" in out and "claim held" not in out
    assert is_png(in_tmp / "attention_blocks.png")


def test_train_alexnet_lite_runs_a_quick_epoch(in_tmp, monkeypatch, capsys):
    out = run_example("train_alexnet_lite.py", monkeypatch, capsys, "--epochs", 1, "--limit",
                      16, "--test-limit", 16, "--out", in_tmp / "alexnet")
    assert re.search(r"test accuracy \d+\.\d+%", out)
    assert is_png(in_tmp / "alexnet" / "confusion.png")


def test_head_dropout_trains_both_conditions_and_tabulates_them(in_tmp, monkeypatch, capsys):
    out = run_example("head_dropout.py", monkeypatch, capsys, "--seeds", 1, "--epochs", 1,
                      "--limit", 128, "--test-limit", 50, "--out", in_tmp / "table.md")
    rows = re.findall(r"^\| (0\.0|0\.5) \| 1 \| (.*) \|$", out, re.MULTILINE)
    assert [row[0] for row in rows] == ["0.0", "0.5"]
    for _, cells in rows:
        means = [float(cell.split(" +- ")[0]) for cell in cells.split(" | ")]
        assert len(means) == 6 and 0 <= means[0] <= 1 and 0 <= means[1] <= 1   # accuracy, pointing
        assert -1 <= means[5] <= 1                                             # a correlation
    assert (in_tmp / "table.md").read_text().count("\n") == 4


def test_bcos_mnist_explains_both_networks_and_draws_the_grid(in_tmp, monkeypatch, capsys):
    out = run_example("bcos_mnist.py", monkeypatch, capsys, "--tiny", "--out", in_tmp / "b")
    gap = float(re.search(r"logit = sum of W\(x\)\[c\] \* \[x, 1 - x\] to (\S+) ", out)[1])
    assert gap < 1e-9                                     # the B-cos network has no bias
    assert re.search(r"W\(x\)x, B-cos +pointing game +\d+%", out)
    control = float(re.search(r"random numbers x x .* energy on ink +([\d.]+)%", out)[1])
    assert control > 90                 # MNIST's zero background: energy on ink ranks nothing
    assert is_png(in_tmp / "b.png")


def test_bcos_shapes_checks_the_sum_scores_and_draws_both_grids(in_tmp, monkeypatch, capsys):
    out = run_example("bcos_shapes.py", monkeypatch, capsys, "--tiny", "--out", in_tmp / "s")
    assert "first B-cos conv takes 6 channels" in out and "units per output [1]" in out
    relative = float(re.search(r"\[x, 1 - x\]: at most \S+, (\S+) of the largest", out)[1])
    assert relative < 1e-12                               # the B-cos network has no bias
    for name in ("B-cos W(x)", "Grad-CAM (plain)", "baseline: centre"):
        assert re.search(rf"{re.escape(name)} +\d+\.\d% +\d+\.\d%", out)
    assert out.count("claim not checked") == 2 and "claim held" not in out
    assert is_png(in_tmp / "s_mistakes.png")            # one epoch on 128 images: mistakes


def test_newton_beats_gradient_descent_side_by_side(in_tmp, monkeypatch, capsys):
    out = run_example("newton_vs_gradient_descent.py", monkeypatch, capsys, "--max-steps", 300)
    assert re.search(r"x\^4 - 2x\^2\s+\[2.0\]\s+6\s+35\s", out)       # Newton 6, descent 35
    assert re.search(r"Rosenbrock\s+\[-1.2, 1.0\]\s+6\s+> 300\s", out)


def test_double_backprop_trains_with_the_input_gradient_penalty(in_tmp, monkeypatch, capsys):
    out = run_example("double_backprop.py", monkeypatch, capsys, "--epochs", 1, "--limit", 256)
    assert re.search(r"the penalty divides the input gradient's norm by \d+\.\d", out)
    assert is_png(in_tmp / "double_backprop.png")


def test_gradcampp_closed_form_against_its_definition(in_tmp, monkeypatch, capsys):
    out = run_example("gradcampp_derivatives.py", monkeypatch, capsys, "--images", 1, "--limit",
                      100)
    linear, smooth = map(float, re.findall(r"max difference (\S+) of", out))
    assert linear < 1e-9 < 1e-2 < smooth


def test_activations_derivatives_by_backward_and_tanh_as_a_sigmoid(in_tmp, monkeypatch, capsys):
    out = run_example("activations.py", monkeypatch, capsys, "--points", 201)
    gaps = re.search(r"2 sigmoid\(2x\) - 1 on \[-6, 6\]: max difference (\S+), of the "
                     r"derivatives (\S+)", out).groups()
    assert max(map(float, gaps)) < 1e-14
    assert re.search(r"sigmoid +largest slope 0\.250 \(at x = \+0\.00\)", out)
    assert is_png(in_tmp / "activations.png")


def test_convolution_algebra_composes_folds_and_shifts(in_tmp, monkeypatch, capsys):
    out = run_example("convolution_algebra.py", monkeypatch, capsys, "--size", 16, "--channels",
                      2)
    composed, batchnorm, shifted = (float(re.search(pattern, out)[1]) for pattern in (
        r"composed kernel: .* max difference (\S+)", r"bias t\): max difference (\S+)",
        r"shifted input to (\S+)"))
    assert max(composed, batchnorm, shifted) < 1e-12
    assert float(re.search(r"change (\d+)% of its size at best", out)[1]) > 5   # odd shift


def test_constant_initialisation_never_breaks_the_symmetry(in_tmp, monkeypatch, capsys):
    out = run_example("constant_initialisation.py", monkeypatch, capsys, "--steps", 100)
    assert re.search(r"constant 0\.5 +units differ by 0\.00e\+00 after one step, 0\.00e\+00 "
                     r"after 100; XOR corners right: (50|75)%", out)
    assert re.search(r"random .* after 100; XOR corners right: 100%", out)


def test_mlp_versus_conv_builds_the_convolutions_matrix(in_tmp, monkeypatch, capsys):
    out = run_example("mlp_versus_conv.py", monkeypatch, capsys, "--size", 8)
    assert "a Linear layer 8x8 -> 8x8: 4,096 weights" in out
    found = re.search(r"(\d+) nonzero entries .* (\d+) distinct values; .* max difference (\S+)",
                      out)
    assert int(found[1]) == 9 * 36 + 6 * 4 * 6 + 4 * 4 and int(found[2]) == 9   # inner, edges,
    assert float(found[3]) < 1e-12                                              # corners


def test_factorised_convolutions_make_rank_one_kernels(in_tmp, monkeypatch, capsys):
    out = run_example("factorised_convolutions.py", monkeypatch, capsys, "--n", 3)
    assert float(re.search(r"outer product as kernel: max difference (\S+)", out)[1]) < 1e-12
    assert float(re.search(r"best rank-1 kernel leaves (\d+)%", out)[1]) > 5
    assert "Sobel kernel has rank 1" in out


def test_alexnet_227_walks_the_formula_against_summary(in_tmp, monkeypatch, capsys):
    out = run_example("alexnet_227.py", monkeypatch, capsys, "--image-size", 67)
    assert "sides [15, 7, 7, 3, 3, 3, 3, 1]" in out          # (67 - 11) / 4 + 1 = 15, ...
    # fc6 is 256 -> 4096 here: the convolutions' 3,747,200 and 1,052,672 + 16,781,312 +
    # 4,097,000 in the fully connected layers
    assert "total 25,678,184 parameters (summary), 25,678,184 (formula)" in out
    assert "claim not checked" in out


def test_early_stopping_trains_both_models_and_restores_the_best_epoch(in_tmp, monkeypatch,
                                                                       capsys):
    out = run_example("early_stopping.py", monkeypatch, capsys, "--train-size", 100,
                      "--val-size", 200, "--epochs", 3, "--patience", 1)
    assert re.search(r"small \(784-10\) +7,850 weights", out)
    assert re.search(r"large \(784-512-512-10\) +669,706 weights", out)
    restored, best = re.search(r"restored model's validation loss (\S+), the best epoch's "
                               r"(\S+); the same weights as the full run's best: True", out).groups()
    assert restored == best
    assert is_png(in_tmp / "early_stopping.png")


def test_preactivation_resnet_measures_both_forms(in_tmp, monkeypatch, capsys):
    out = run_example("preactivation_resnet.py", monkeypatch, capsys, "--depth", 4, "--size", 8)
    silenced = dict(re.findall(r"(post|pre)-activation .* last block's: max (\S+) ", out))
    assert float(silenced["pre"]) == 0 and float(silenced["post"]) > 0.5
    ratios = dict(re.findall(r"(post|pre)-activation .* = +([\d.]+) \(x", out))
    assert float(ratios["pre"]) < float(ratios["post"])
    assert out.count("claim not checked") == 2


def test_sgd_one_versus_batches_measures_noise_and_time(in_tmp, monkeypatch, capsys):
    out = run_example("sgd_one_versus_batches.py", monkeypatch, capsys, "--train-size", 64,
                      "--epochs", 2, "--batch", 8)
    steps = dict(re.findall(r"^(one example|mini-batches of 8|full batch \(64\)) +(\d+) ", out,
                            re.MULTILINE))
    assert steps == {"one example": "128", "mini-batches of 8": "16", "full batch (64)": "2"}
    assert re.search(r"at the same weights: .*: x[\d.]+ \(predicted x3\.00\)", out)
    assert out.count("claim not checked") == 2
    assert is_png(in_tmp / "sgd_one_versus_batches.png")


def lessons_in_percent_format():
    return sorted(EXAMPLES.glob("*.py"))


def test_every_lesson_is_written_in_cells_with_a_title():
    for path in lessons_in_percent_format():
        text = path.read_text()
        assert text.startswith("# %% [markdown]\n# # "), f"{path.name}: no title cell first"
        assert text.count("\n# %%") >= 2, f"{path.name}: fewer than three cells"


def test_every_lesson_opens_as_a_notebook():
    jupytext = pytest.importorskip("jupytext")       # optional: pip install jupytext
    for path in lessons_in_percent_format():
        notebook = jupytext.read(path)
        kinds = [cell.cell_type for cell in notebook.cells]
        assert kinds[0] == "markdown" and kinds.count("code") >= 2, (path.name, kinds)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                compile(cell.source, f"{path.name} cell", "exec")


# Examples run by a test in another file (the file named).
ELSEWHERE = {"train_lenet.py": "tests/test_train.py"}


def test_every_example_is_run_by_a_test():
    root = EXAMPLES.parent
    untested = [path.name for path in EXAMPLES.glob("*.py")
                if f'"{path.name}"' not in Path(__file__).read_text()
                and path.name not in ELSEWHERE]
    assert not untested, f"examples without a test: {untested}"
    for name, test_file in ELSEWHERE.items():
        assert name in (root / test_file).read_text(), (name, test_file)


def test_explain_shapes_trains_its_small_cnn_and_scores_the_maps(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / "explain_shapes.py"), "--train-size",
                             "128", "--epochs", "1", "--val-n", "50", "--n", "8", "--out",
                             str(tmp_path / "shapes.png")], capture_output=True, text=True,
                            check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "small CNN: " in result.stdout and "on 50 validation images" in result.stdout
    assert "baseline: centre" in result.stdout and "gradcam" in result.stdout
    assert "claim not checked" in result.stdout
    assert (tmp_path / "shapes.png").read_bytes()[:4] == b"\x89PNG"


def test_adversarial_attacks_lenet_and_draws_the_fooled_digits(in_tmp, monkeypatch, capsys):
    out = run_example("adversarial.py", monkeypatch, capsys, "--tiny", "--epochs", 1,
                      "--eps", "0.1,0.3", "--steps", 2, "--shown", 0.3)
    rows = re.findall(r"\| (0\.\d+) +\| +[\d.]+ \| +([\d.]+)% \| +([\d.]+)% \| +([\d.]+) \|",
                      out)
    assert [row[0] for row in rows] == ["0.1", "0.3"]
    for eps, fgsm_accuracy, pgd_accuracy, largest in rows:
        assert 0 <= float(pgd_accuracy) <= 100 and 0 <= float(fgsm_accuracy) <= 100
        assert float(largest) <= float(eps)                   # printed to 3 decimals
    assert "claim not checked (not the default settings): PGD's accuracy is at most" in out
    assert is_png(in_tmp / "adversarial.png")


def test_feature_visualisation_climbs_and_crops_the_fields(in_tmp, monkeypatch, capsys):
    out = run_example("feature_visualisation.py", monkeypatch, capsys, "--tiny", "--out",
                      in_tmp / "fv")
    assert re.findall(r"(\w+): field (\d+)x\d+ pixels", out) == [
        ("conv1", "5"), ("pool1", "6"), ("conv2", "14"), ("pool2", "16")]
    assert len(re.findall(r"gradient reaches \d+ pixels, 0 outside", out)) == 4
    assert re.search(r"conv1: the exact maximum .* the climb reaches \d+%\.\.\d+% of it", out)
    assert out.count("claim not checked") == 2
    assert is_png(in_tmp / "fv.png") and is_png(in_tmp / "fv_patches_conv2.png")


def test_feature_visualisation_looks_into_a_saved_model(in_tmp, monkeypatch, capsys):
    """--model-path: a model of `minigrad train` (here an untrained LeNet-5 of the MNIST
    recipe), its own layers found, on its data set's test images."""
    save_trained(LeNet5(), {"model": "lenet5", "dataset": "mnist"}, in_tmp / "model.npz")
    out = run_example("feature_visualisation.py", monkeypatch, capsys, "--tiny", "--model-path",
                      in_tmp / "model.npz", "--channels", 3, "--patch-layers", "conv1", "conv2",
                      "--out", in_tmp / "fv")
    assert len(re.findall(r"gradient reaches \d+ pixels, 0 outside", out)) == 4
    assert re.search(r"^conv2: the maximiser reaches \[\S+ +\S+ +\S+\]$", out, re.MULTILINE)
    assert all(is_png(in_tmp / f"fv{end}.png") for end in ("", "_patches_conv1",
                                                          "_patches_conv2"))


def test_polysemantic_units_tabulates_both_networks(in_tmp, monkeypatch, capsys):
    out = run_example("polysemantic_units.py", monkeypatch, capsys, "--tiny", "--out",
                      in_tmp / "poly")
    rows = re.findall(r"^\| (conv1|conv2|fc1|fc2) \| (LeNet-5|B-cos LeNet) \| (\d+) \| "
                      r"([\d.]+) \+- [\d.]+ \|", out, re.MULTILINE)
    assert [(layer, units) for layer, _, units, _ in rows[::2]] == [
        ("conv1", "6"), ("conv2", "16"), ("fc1", "120"), ("fc2", "84")]
    assert all(0 <= float(entropy) <= 3.33 for *_, entropy in rows)      # log2(10) = 3.32
    assert out.count("claim not checked") == 2
    assert (in_tmp / "poly.md").read_text().count("\n") == 10 and is_png(in_tmp / "poly.png")


def test_polysemantic_units_takes_the_colour_shapes(in_tmp, monkeypatch, capsys):
    """--dataset shapes: 3-channel 64x64 images, both networks' first conv strided, the same
    four layers and widths measured."""
    out = run_example("polysemantic_units.py", monkeypatch, capsys, "--tiny", "--dataset",
                      "shapes", "--out", in_tmp / "poly")
    rows = re.findall(r"^\| (conv1|conv2|fc1|fc2) \| (LeNet-5|B-cos LeNet) \| (\d+) \|", out,
                      re.MULTILINE)
    assert [(layer, units) for layer, _, units in rows] == [
        (layer, units) for layer, units in (("conv1", "6"), ("conv2", "16"), ("fc1", "120"),
                                            ("fc2", "84")) for _ in range(2)]
    assert "200 test images (shapes)" in out and is_png(in_tmp / "poly.png")
