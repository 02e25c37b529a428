"""`minigrad bench` on a tiny setting, and the torch twin it times minigrad against."""
import importlib.util

import numpy as np
import pytest

from minigrad.apps import bench
from minigrad.apps.cli import main


def test_bench_runs_on_a_tiny_setting(capsys, monkeypatch):
    replies, run_engine = [], bench.run_engine
    monkeypatch.setattr(bench, "run_engine", lambda *a: replies.append(run_engine(*a)) or
                        replies[-1])
    assert main(["bench", "--repeats", "1", "--batch-size", "2", "--steps", "1",
                 "--conv-repeats", "1", "--no-torch"]) == 0
    assert len(replies) == 1 and replies[0]["peak_mb"] > 10      # one minigrad process
    out = capsys.readouterr().out
    assert "1 run(s) per engine" in out and "torch not installed or --no-torch" in out
    rows = [line for line in out.splitlines() if ", batch 2 " in line]
    assert len(rows) == len(bench.CASES) + len(bench.CONVS)
    assert all(float(row.split()[-1].replace(",", "")) > 0 for row in rows)   # img/s, ms


@pytest.mark.parametrize("flag,value", [("--repeats", "0"), ("--steps", "-1")])
def test_bench_refuses_nonpositive_counts(flag, value, capsys):
    with pytest.raises(SystemExit) as exit:          # argparse's error: exit 2, before any run
        main(["bench", flag, value])
    assert exit.value.code == 2
    assert f"argument {flag}: expected an integer >= 1, got {value}" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
@pytest.mark.parametrize("name,shape", [("lenet5", (1, 28, 28)), ("alexnet_lite", (3, 32, 32))])
def test_torch_twin_is_the_same_network_with_the_same_weights(tmp_path, name, shape):
    import torch
    spec = importlib.util.spec_from_file_location("torch_twin", bench.TORCH_TWIN)
    twin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(twin)
    twin.torch = torch
    case = str(tmp_path / "case.npz")
    bench.write_case(case, name, 3, shape)
    net, x, _ = twin.load_case(case)
    model, x_again, _ = bench.make_case(name, 3, shape)
    np.testing.assert_array_equal(x, x_again)
    model.eval(), net.eval()                      # no dropout: outputs comparable
    with torch.no_grad():
        theirs = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x).data, theirs, rtol=1e-4, atol=1e-5)
