"""The explain-benchmark's bookkeeping and the two CLI commands, on small untrained models."""
import argparse

from minigrad import nn
from minigrad.saliency import explain
from minigrad.apps.explain_benchmark import (PassCounter, build_model, format_table, run_benchmark)
from minigrad.apps.explain_cli import register


def test_pass_counter_counts_images_forward_and_backward(small_cnn, images):
    with PassCounter(small_cnn) as counter:
        explain(small_cnn, images, method="vanilla")
    assert (counter.forward, counter.backward) == (3, 3)
    with PassCounter(small_cnn) as counter:
        explain(small_cnn, images, method="scorecam")        # 1 + K = 1 + 6 per image
    assert (counter.forward, counter.backward) == (3 * 7, 0)
    assert all(not m._forward_hooks and not m._backward_hooks for m in small_cnn.modules())


def test_benchmark_table_has_every_method_and_the_three_baselines():
    model = build_model("cluttered_lenet")
    rows = run_benchmark("cluttered_mnist", model, n=4, methods=("gradcam", "vanilla"),
                         progress=None, steps=4)
    assert [row["method"] for row in rows] == ["gradcam", "vanilla", "baseline: random",
                                               "baseline: centre", "baseline: edges"]
    assert rows[0]["forward"] == 1 and rows[0]["backward"] == 1
    table = format_table(rows)
    assert table.count("\n") == len(rows) + 1 and "pointing" in table


def test_benchmark_layer_applies_to_the_cam_family_only(monkeypatch):
    import minigrad.apps.explain_benchmark as benchmark
    model = build_model("cluttered_lenet")
    seen = []
    monkeypatch.setattr(benchmark, "explain",
                        lambda *args, layer=None, **kw: seen.append(layer) or explain(
                            *args, layer=layer, **kw))
    rows = run_benchmark("cluttered_mnist", model, n=2, methods=("hirescam", "vanilla"),
                         progress=None, steps=2, layer="3")
    assert seen == ["3", None] and len(rows) == 5


def test_validation_split_is_not_the_test_split():
    from minigrad.apps.explain_benchmark import load_dataset
    test, validation = load_dataset("shapes", 8), load_dataset("shapes", 8, "validation")
    assert not any((a == b).all() for a in validation[0] for b in test[0])
    assert not any((a == b).all() for a in validation[0] for b in load_dataset(
        "shapes", 8, "train")[0])


def parse(argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_explain_command_writes_a_picture(tmp_path):
    path = tmp_path / "lenet.npz"
    nn.save(build_model("lenet5"), path)
    out = tmp_path / "explain.png"
    args = parse(["explain", "--model-path", str(path), "--dataset", "mnist", "--index", "7",
                  "--methods", "vanilla,gradcam,cam", "--out", str(out)])
    assert args.run(args) == 0
    assert out.stat().st_size > 1000


def test_benchmark_command_reads_a_model(tmp_path, capsys):
    path = tmp_path / "model.npz"
    nn.save(build_model("cluttered_lenet"), path)
    args = parse(["explain-benchmark", "--dataset", "cluttered_mnist", "--model-path", str(path),
                  "--n", "2", "--methods", "hirescam", "--steps", "2",
                  "--out", str(tmp_path / "table.md")])
    assert args.run(args) == 0
    assert "baseline: edges" in (tmp_path / "table.md").read_text()
    printed = capsys.readouterr().out
    assert "hirescam" in printed and "pointing" in printed


def test_benchmark_command_trains_a_vit_and_scores_the_attention_methods(tmp_path, capsys):
    args = parse(["explain-benchmark", "--dataset", "shapes", "--model", "tiny_vit_shapes",
                  "--train-size", "16", "--epochs", "1", "--n", "2", "--steps", "2",
                  "--methods", "all", "--out", str(tmp_path / "table.md")])
    assert args.run(args) == 0
    table = (tmp_path / "table.md").read_text()
    for method in ("rollout", "attention", "token_gradcam", "vanilla", "baseline: centre"):
        assert f"| {method}" in table
    assert "gradcam " not in table.replace("token_gradcam", "")      # no CAM on a ViT
    parse(["explain-benchmark", "--model", "tiny_vit_cluttered"])     # a known architecture
    assert build_model("tiny_vit_cluttered").patch_embed.grid == (8, 8)


def test_benchmark_command_trains_a_bcos_network_and_scores_its_own_explanation(tmp_path):
    args = parse(["explain-benchmark", "--dataset", "cluttered_mnist", "--model",
                  "bcos_cluttered_lenet", "--train-size", "16", "--epochs", "1", "--n", "2",
                  "--steps", "2", "--methods", "all", "--out", str(tmp_path / "table.md")])
    assert args.run(args) == 0
    table = (tmp_path / "table.md").read_text()
    for method in ("bcos", "vanilla", "grad_x_input", "occlusion", "baseline: centre"):
        assert f"| {method} " in table
    assert "gradcam" not in table and "linearize" not in table    # no ReLU, no Conv2d


def test_the_linearize_row_counts_one_backward_pass_per_class():
    model = build_model("cluttered_lenet")
    rows = run_benchmark("cluttered_mnist", model, n=2, methods=("linearize",), progress=None,
                         steps=2)
    assert rows[0]["method"] == "linearize" and rows[0]["backward"] == 10
