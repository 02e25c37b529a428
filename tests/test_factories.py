"""Factories and dtype names with PyTorch's names, arguments and defaults (minigrad/factories.py,
minigrad/dtypes.py): shapes, dtypes, values against NumPy and torch, the shared generator, and
a sentence for every bad argument."""
import numpy as np
import pytest

import minigrad as mg
from tests.helpers import torch_or_skip

SIZED = ["zeros", "ones", "empty", "rand", "randn"]


# ----- dtype names --------------------------------------------------------------------------
def test_dtype_names_are_numpy_dtypes_with_torch_meanings():
    assert mg.float32 == mg.float == np.float32 and mg.float64 == mg.double == np.float64
    assert mg.int64 == mg.long == np.int64 and mg.int32 == mg.int == np.int32
    assert mg.bool == np.bool_
    assert mg.tensor([1.0]).dtype == mg.float32 and mg.tensor([1]).dtype == mg.long
    assert mg.zeros(2, dtype=mg.double).dtype == mg.float64


def test_dtype_names_match_torch_sizes():
    torch = torch_or_skip()
    for name in ("float32", "float", "float64", "double", "long", "int64", "int32", "int", "bool"):
        ours, theirs = getattr(mg, name), getattr(torch, name)
        assert ours.itemsize == theirs.itemsize and ours.kind == ("b" if name == "bool" else
                                                                  "f" if theirs.is_floating_point
                                                                  else "i"), name


def test_python_types_as_dtypes_mean_what_they_mean_in_torch():
    assert mg.zeros(2, dtype=float).dtype == np.float64         # torch.float64 too
    assert mg.zeros(2, dtype=int).dtype == np.int64
    assert mg.zeros(2, dtype=bool).dtype == np.bool_


@pytest.mark.parametrize("dtype, message", [
    ("cpu", "'cpu' is not a dtype"), (np.float16, "float16 is not one of them"),
    (np.complex64, "complex64 is not one of them"), (object, "object is not one of them")])
def test_a_bad_dtype_is_refused_with_a_sentence(dtype, message):
    with pytest.raises(TypeError, match=f"zeros: .*{message}"):
        mg.zeros(2, dtype=dtype)


def test_a_torch_dtype_is_refused_with_the_name_to_use():
    torch = torch_or_skip()
    with pytest.raises(TypeError, match="torch.float32 comes from torch; .* minigrad.float32"):
        mg.ones(2, dtype=torch.float32)


# ----- sizes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SIZED)
def test_sizes_as_varargs_tuple_or_list_default_float32(name):
    factory = getattr(mg, name)
    for made in (factory(2, 3), factory((2, 3)), factory([2, 3])):
        assert isinstance(made, mg.Tensor) and made.shape == (2, 3)
        assert made.dtype == np.float32 and not made.requires_grad
    assert factory(()).shape == () and factory(0).shape == (0,)
    assert factory(2, dtype=mg.float64).dtype == np.float64
    made = factory(3, requires_grad=True)
    assert made.requires_grad and made.is_leaf


@pytest.mark.parametrize("name", SIZED)
def test_bad_sizes_are_refused_with_a_sentence(name):
    factory = getattr(mg, name)
    with pytest.raises(ValueError, match=f"{name}: sizes must be >= 0, got \\(2, -1\\)"):
        factory(2, -1)
    with pytest.raises(TypeError, match=f"{name}: size must be an int or a sequence of ints"):
        factory(2.5)
    with pytest.raises(TypeError, match="zeros\\(\\) missing|size"):
        factory(2, (3,))


def test_shapes_dtypes_and_values_against_torch():
    torch = torch_or_skip()
    calls = [("zeros", (2, 3), {}), ("ones", ((4,),), {}), ("zeros", (2,), {"dtype": "long"}),
             ("full", ((2, 2), 7), {}), ("full", ((2,), 1.5), {}), ("full", ((3,), True), {}),
             ("full", ((2,), 2), {"dtype": "float64"}), ("arange", (5,), {}),
             ("arange", (1, 2.5, 0.5), {}), ("arange", (0.0, 3), {}), ("arange", (10, 0, -3), {}),
             ("arange", (0, 1, 0.1), {}), ("linspace", (0, 1, 7), {}),
             ("linspace", (-2, 5, 1), {}), ("eye", (3,), {}), ("eye", (2, 4), {}),
             ("eye", (3,), {"dtype": "long"})]
    for name, args, options in calls:
        ours = getattr(mg, name)(*args, **{k: getattr(mg, v) for k, v in options.items()})
        theirs = getattr(torch, name)(*args, **{k: getattr(torch, v) for k, v in options.items()})
        assert str(theirs.dtype) == f"torch.{ours.dtype}", (name, args)
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6, err_msg=str(args))


def test_random_factories_have_the_requested_distribution_shape_and_dtype():
    mg.manual_seed(0)
    uniform, normal = mg.rand(20000), mg.randn(200, 100, dtype=mg.float64)
    assert uniform.dtype == np.float32 and normal.dtype == np.float64
    assert 0 <= uniform.data.min() and uniform.data.max() < 1
    assert abs(uniform.data.mean() - 0.5) < 0.01 and abs(normal.data.std() - 1) < 0.02
    integers = mg.randint(3, 7, (1000,))
    assert integers.dtype == np.int64 and set(integers.data.tolist()) == {3, 4, 5, 6}
    assert mg.randint(10, (2, 3)).shape == (2, 3)                  # randint(high, size)
    assert mg.randint(0, 2, (4,), dtype=mg.float32).dtype == np.float32


def test_random_factories_draw_from_the_generator_manual_seed_seeds():
    def draws():
        return [mg.rand(3).data, mg.randn(2, 2).data, mg.randint(0, 100, (5,)).data,
                mg.nn.Linear(3, 2).weight.data]            # the initialisers share the generator
    mg.manual_seed(123)
    first = draws()
    mg.manual_seed(123)
    for a, b in zip(first, draws()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], mg.rand(3).data)


def test_random_factories_refuse_before_drawing():
    mg.manual_seed(5)
    expected = mg.nn.init.generator().bit_generator.state
    with pytest.raises(TypeError, match="randn: draws floating-point numbers; got dtype int64"):
        mg.randn(3, dtype=mg.long)
    with pytest.raises(TypeError, match="randint: only floating-point tensors can require grad"):
        mg.randint(0, 3, (2,), requires_grad=True)
    with pytest.raises(ValueError, match="randint: expected integers low < high, got low=5, "
                                         "high=5"):
        mg.randint(5, 5, (2,))
    with pytest.raises(TypeError, match=r"randint: size must be a tuple of ints such as"):
        mg.randint(0, 5, 3)
    assert mg.nn.init.generator().bit_generator.state == expected


def test_bad_arguments_of_full_arange_linspace_eye():
    with pytest.raises(TypeError, match="full: size must be a tuple"):
        mg.full(3, 1.0)
    with pytest.raises(TypeError, match="full: fill_value must be a number, got str"):
        mg.full((2,), "a")
    with pytest.raises(ValueError, match="arange: a step of -1 never gets from 0 to 5"):
        mg.arange(0, 5, -1)
    with pytest.raises(ValueError, match="arange: a step of 0"):
        mg.arange(0, 5, 0)
    with pytest.raises(ValueError, match="linspace: steps must be an integer >= 0, got 2.5"):
        mg.linspace(0, 1, 2.5)
    with pytest.raises(ValueError, match="eye: sizes must be >= 0"):
        mg.eye(-1)


def test_full_takes_a_one_element_tensor_and_keeps_its_dtype_rules():
    assert mg.full((2,), mg.tensor(3)).dtype == np.int64
    np.testing.assert_array_equal(mg.full((2,), 2, dtype=mg.float32).data, [2.0, 2.0])


# ----- the *_like forms -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "rand_like",
                                  "randn_like"])
def test_like_forms_take_shape_and_dtype(name):
    x = mg.tensor(np.ones((2, 3)))                                 # float64
    made = getattr(mg, name)(x)
    assert made.shape == (2, 3) and made.dtype == np.float64 and made is not x
    assert getattr(mg, name)(x, dtype=mg.float32).dtype == np.float32
    assert getattr(mg, name)(x, requires_grad=True).requires_grad


def test_like_forms_values_against_torch():
    torch = torch_or_skip()
    ours, theirs = mg.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 2], [3, 4]])
    for name, args in [("zeros_like", ()), ("ones_like", ()), ("full_like", (2.7,)),
                       ("full_like", (5,))]:
        a, b = getattr(mg, name)(ours, *args), getattr(torch, name)(theirs, *args)
        assert str(b.dtype) == f"torch.{a.dtype}", name
        np.testing.assert_array_equal(a.data, b.numpy(), err_msg=name)
    assert mg.randint_like(ours, 10).dtype == np.int64
    assert torch.randint_like(theirs, 10).dtype == torch.int64


def test_randint_like_draws_in_the_range():
    mg.manual_seed(1)
    x = mg.zeros(500)
    drawn = mg.randint_like(x, 3).data
    assert drawn.dtype == np.float32 and set(drawn.tolist()) == {0.0, 1.0, 2.0}  # x's dtype
    assert set(mg.randint_like(x, 5, 7).data.tolist()) == {5.0, 6.0}


def test_like_forms_refuse_what_has_no_shape():
    with pytest.raises(TypeError, match="zeros_like: expected a tensor whose shape and dtype"):
        mg.zeros_like([1, 2])
    with pytest.raises(TypeError, match="rand_like: draws floating-point numbers; got dtype int64"):
        mg.rand_like(mg.tensor([1, 2]))


# ----- from NumPy, tensor and as_tensor -----------------------------------------------------------
def test_from_numpy_shares_memory_both_ways():
    array = np.arange(4.0)
    x = mg.from_numpy(array)
    assert x.dtype == np.float64
    array[0] = 10.0
    assert x[0].item() == 10.0
    x.data[1] = 20.0
    assert array[1] == 20.0
    assert mg.from_numpy(np.array([1, 2], dtype=np.int32)).dtype == mg.int32


def test_from_numpy_refuses_with_a_sentence():
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, got list"):
        mg.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="from_numpy: .*float16 is not one of them"):
        mg.from_numpy(np.zeros(2, np.float16))


def test_tensor_copies_its_data_as_torch_tensor_does():
    array = np.zeros(3)
    x = mg.tensor(array)
    array[0] = 1.0
    assert x.data[0] == 0.0 and x.dtype == np.float64
    y = mg.tensor(x)
    x.data[1] = 5.0
    assert y.data[1] == 0.0 and not y.requires_grad
    assert mg.tensor([1.5]).dtype == np.float32 and mg.tensor(3).dtype == np.int64
    assert mg.tensor([1.0], device="cpu", requires_grad=True).requires_grad


def test_as_tensor_copies_only_when_it_must():
    array = np.arange(3.0)
    assert mg.as_tensor(array).data is array                    # shared, as torch
    assert mg.as_tensor(array, dtype=mg.float32).dtype == np.float32
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert mg.as_tensor(x) is x
    converted = mg.as_tensor(x, dtype=mg.float64)
    assert converted.dtype == np.float64 and converted.requires_grad   # a differentiable cast
    assert mg.as_tensor([1, 2]).dtype == np.int64


def test_factories_check_the_device():
    assert mg.zeros(2, device="cpu").shape == (2,)
    assert mg.ones(2, device=mg.device("cpu")).shape == (2,)
    for factory in (lambda: mg.zeros(2, device="cuda"), lambda: mg.randn(2, device="mps"),
                    lambda: mg.tensor([1.0], device="cuda:0"),
                    lambda: mg.as_tensor([1.0], device="cuda"),
                    lambda: mg.arange(3, device=0)):
        with pytest.raises(RuntimeError, match="minigrad runs on the CPU only"):
            factory()
