"""detect_anomaly names the first op whose output (forward) or gradient (backward) went NaN/inf."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad import nn


def test_forward_names_the_first_op_that_made_a_nan_and_the_line_that_called_it():
    x = mg.tensor([[1.0, 2.0]], requires_grad=True)
    with mg.detect_anomaly(), pytest.raises(FloatingPointError) as error, \
            np.errstate(invalid="ignore"):
        F.log(x - 5).sum()                          # log of a negative number: NaN
    message = str(error.value)
    assert message.startswith("detect_anomaly: the output of <Log> (forward, shape (1, 2)) holds "
                              "2 NaN and 0 inf values; its inputs were finite")
    assert "tests/test_anomaly.py:" in message and "in test_forward_names" in message


def test_backward_names_the_op_whose_gradient_went_infinite():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    y = F.sqrt(x).sum()                              # finite forward, d sqrt(x)/dx = inf at 0
    with mg.detect_anomaly(), pytest.raises(FloatingPointError,
                                            match=r"<Sqrt>\.backward returned a gradient for "
                                                  r"input 0 \(shape \(2,\)\) that holds 0 NaN "
                                                  r"and 1 inf values; the gradient it was given "
                                                  r"was finite"), np.errstate(divide="ignore"):
        y.backward()
    assert x.grad is None                            # stopped before reaching the leaf


def test_a_nan_in_the_data_is_blamed_on_the_data_and_the_layer_is_named():
    model = nn.Sequential(nn.Linear(3, 2))
    with mg.detect_anomaly(), pytest.raises(FloatingPointError) as error:
        model(mg.tensor(np.full((1, 3), np.nan, np.float32)))
    assert "input 0 (shape (1, 3)) held 3 NaN and 0 inf values already: they came from the " \
           "data or the parameters" in str(error.value)
    assert "minigrad/nn/layers.py:" in str(error.value)


def test_off_by_default_scoped_and_switchable():
    assert not mg.is_anomaly_enabled()
    with np.errstate(invalid="ignore"):
        assert np.isnan(F.log(mg.tensor([-1.0])).data).all()    # no check when off
    with mg.detect_anomaly():
        assert mg.is_anomaly_enabled()
        with mg.detect_anomaly(False):
            assert not mg.is_anomaly_enabled()
        assert mg.is_anomaly_enabled()
    assert not mg.is_anomaly_enabled()
    mg.set_detect_anomaly(True)
    try:
        assert mg.is_anomaly_enabled()
    finally:
        mg.set_detect_anomaly(False)


def test_finite_computations_give_the_same_results_with_anomaly_mode_on():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 1, 6, 6)).astype(np.float32)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3))
    results = []
    for mode in (False, True):
        model.zero_grad()
        with mg.detect_anomaly(mode):
            loss = F.cross_entropy(model(mg.tensor(x)), np.array([0, 1, 2, 0]))
            loss.backward()
        results.append((loss.item(), model[0].weight.grad.data.copy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])
