"""explain_benchmark.train_model: the one-cycle schedule and the validation curve that the
cluttered MNIST recipes were chosen with, and the v2 B-cos architecture by name."""
from minigrad.apps.explain_benchmark import ARCHITECTURES, build_model, train_model
from minigrad.nn.bcos import BatchNormUncentered1d, BatchNormUncentered2d


def test_the_v2_bcos_architecture_has_uncentred_norms_and_no_maxout():
    assert "bcos_cluttered_lenet_v2" in ARCHITECTURES
    model = build_model("bcos_cluttered_lenet_v2")
    kinds = {type(m) for m in model.modules()}
    assert {BatchNormUncentered1d, BatchNormUncentered2d} <= kinds
    assert all(getattr(m, "max_out", 1) == 1 for m in model.modules())
    assert model.temperature == 1.0


def test_train_model_prints_a_validation_curve_under_the_one_cycle_schedule(capsys):
    model, accuracy = train_model("cluttered_mnist", n_train=64, epochs=2, lr=1e-3,
                                  architecture="bcos_cluttered_lenet_v2", one_cycle=True,
                                  val_n=40)
    lines = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("epoch")]
    assert len(lines) == 2 and all("validation loss" in line for line in lines)
    # one cycle: warm-up from lr / 25, so the first epoch's recorded lr is below the peak
    assert float(lines[0].split(" lr ")[1].split()[0]) < 1e-3
