"""The examples are part of the documentation: they must run and say what they promise."""
import runpy
import subprocess
import sys
from pathlib import Path

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


def test_explain_shapes_trains_its_small_cnn_and_scores_the_maps(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / "explain_shapes.py"), "--train-size",
                             "128", "--epochs", "1", "--val-n", "50", "--n", "8", "--out",
                             str(tmp_path / "shapes.png")], capture_output=True, text=True,
                            check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "small CNN: " in result.stdout and "on 50 validation images" in result.stdout
    assert "baseline: centre" in result.stdout and "gradcam" in result.stdout
    assert (tmp_path / "shapes.png").read_bytes()[:4] == b"\x89PNG"
