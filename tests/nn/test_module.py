"""Module machinery: registration, names, modes, dtypes, hooks, Sequential, repr and summary."""
import numpy as np
import pytest

import minigrad.nn as nn
from minigrad import Tensor


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
        self.classifier = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def images(n=2, dtype=np.float32):
    return Tensor(np.random.default_rng(0).standard_normal((n, 1, 6, 6)).astype(dtype))


def test_parameters_buffers_and_modules_are_named_like_pytorch():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == [
        "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
        "classifier.weight", "classifier.bias"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [name for name, _ in net.named_buffers()] == [
        "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked"]
    assert [name for name, _ in net.named_modules()] == [
        "", "features", "features.0", "features.1", "features.2", "classifier"]
    assert [name for name, _ in net.named_children()] == ["features", "classifier"]
    assert net.num_parameters() == 2 * 9 + 2 + 2 + 2 + 32 * 3 + 3


def test_state_dict_orders_parameters_then_buffers_per_module_and_copies():
    net = Net()
    state = net.state_dict()
    assert list(state)[2:7] == ["features.1.weight", "features.1.bias", "features.1.running_mean",
                                "features.1.running_var", "features.1.num_batches_tracked"]
    state["classifier.bias"][:] = 100
    assert not np.any(net.classifier.bias.data == 100)


def test_train_eval_reach_every_module_and_zero_grad_clears():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(images()).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_double_converts_in_place_and_keeps_integer_buffers():
    net = Net()
    weight = net.classifier.weight
    net.double()
    assert net.classifier.weight is weight and weight.dtype == np.float64
    assert net.features[1].running_var.dtype == np.float64
    assert net.features[1].num_batches_tracked.dtype.kind == "i"
    assert net(images(dtype=np.float64)).dtype == np.float64
    with pytest.raises(TypeError, match="floating-point"):
        net.to(np.int32)


def test_apply_visits_children_before_parent():
    visited = []
    Net().apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Conv2d", "BatchNorm2d", "ReLU", "Sequential", "Linear", "Net"]


def test_sequential_indexing_slicing_and_errors():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert len(model) == 3 and isinstance(model[-1], nn.Linear)
    assert list(model) == [model[0], model[1], model[2]]
    tail = model[1:]
    assert [name for name, _ in tail.named_children()] == ["1", "2"] and tail[0] is model[1]
    with pytest.raises(TypeError, match="item 1 is a int"):
        nn.Sequential(nn.ReLU(), 3)


def test_forward_hook_sees_output_can_replace_it_and_be_removed():
    layer = nn.Linear(2, 2)
    seen = []
    handle = layer.register_forward_hook(lambda m, inputs, out: seen.append((m, inputs, out)))
    doubler = layer.register_forward_hook(lambda m, inputs, out: out * 2)
    x = Tensor(np.ones((1, 2), np.float32))
    y = layer(x)
    assert seen[0][0] is layer and seen[0][1][0] is x
    np.testing.assert_allclose(y.data, 2 * seen[0][2].data)
    handle.remove()
    doubler.remove()
    layer(x)
    assert len(seen) == 1


def test_backward_hook_receives_grad_of_output_and_can_replace_it():
    layer = nn.Linear(3, 2)
    received = []

    def hook(module, grad_output):
        assert isinstance(grad_output, Tensor)      # as .grad is, and as in PyTorch
        received.append(np.array(grad_output))
        return Tensor(np.zeros(grad_output.shape, np.float32))

    handle = layer.register_full_backward_hook(hook)
    x = Tensor(np.ones((4, 3), np.float32), requires_grad=True)
    (layer(x) * 3).sum().backward()
    np.testing.assert_allclose(received[0], np.full((4, 2), 3.0))
    assert not np.any(x.grad) and not np.any(layer.weight.grad)  # the zeros flowed back
    handle.remove()
    x.grad = None
    layer(x).sum().backward()
    assert len(received) == 1 and np.any(x.grad)
    assert nn.Module.register_backward_hook is nn.Module.register_full_backward_hook


def test_a_torch_style_backward_hook_is_refused_when_registered():
    layer = nn.Linear(3, 2)

    def torch_style(module, grad_input, grad_output):
        return None

    with pytest.raises(TypeError, match=r"hook\(module, grad_output\).*torch_style.*drop that "
                                        r"argument"):
        layer.register_full_backward_hook(torch_style)
    assert layer._backward_hooks == []                  # nothing half-registered
    layer.register_full_backward_hook(lambda *anything: None)    # callable with two: accepted


def test_register_buffer_rejects_non_arrays():
    with pytest.raises(TypeError, match="register_buffer\\('stats'\\): expected an ndarray"):
        nn.Module().register_buffer("stats", [1, 2])


def test_repr_shows_tree_output_shapes_and_parameter_counts():
    net = Net()
    net(images())
    text = repr(net)
    assert "(features): Sequential(" in text and "(0): Conv2d(1, 2, kernel_size=(3, 3)" in text
    assert "-> (2, 3), 123 params" in text


def test_summary_lists_layers_and_leaves_the_model_as_it_was(capsys):
    net = Net()
    running_mean = net.features[1].running_mean.copy()
    table = nn.summary(net, (1, 1, 6, 6))
    assert capsys.readouterr().out.strip() == table
    assert "  0 (Conv2d)" in table and "(1, 2, 4, 4)" in table and "Total params: 123" in table
    assert net.training and net.features[1].training
    np.testing.assert_array_equal(net.features[1].running_mean, running_mean)


def test_forgetting_super_init_gets_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"Broken.__init__ must call super\(\).__init__\(\)"):
        list(Broken().named_buffers())


def test_module_list_registers_its_modules_under_torchs_names():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
            self.blocks.append(nn.Linear(3, 1))

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    model = Stack()
    assert list(model.state_dict()) == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                                        "blocks.1.bias", "blocks.2.weight", "blocks.2.bias"]
    assert model.num_parameters() == 2 * 12 + 4 and len(model.blocks) == 3
    assert model(Tensor(np.ones((2, 3)))).shape == (2, 1)
    assert isinstance(model.blocks[1:], nn.ModuleList) and model.blocks[-1].out_features == 1
    with pytest.raises(TypeError, match="item 1 is a list"):
        nn.ModuleList([nn.ReLU(), [nn.ReLU()]])
    with pytest.raises(NotImplementedError):
        model.blocks(Tensor(np.ones((2, 3))))
    torch = pytest.importorskip("torch")
    twin = torch.nn.ModuleList([torch.nn.Linear(3, 3), torch.nn.Linear(3, 3),
                                torch.nn.Linear(3, 1)])
    assert ["blocks." + k for k in twin.state_dict()] == list(model.state_dict())
