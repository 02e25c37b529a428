"""Port of "Tensors" (Deep Learning with PyTorch: A 60 Minute Blitz).

Source: pytorch/tutorials, beginner_source/blitz/tensor_tutorial.py,
https://github.com/pytorch/tutorials/blob/main/beginner_source/blitz/tensor_tutorial.py
BSD-3-Clause, Copyright (c) 2017-, PyTorch contributors. The stored pytorch/tutorials copy read
here is an old version ("What is PyTorch?"); the current one was read from a fork's copy
(kletobias/introduction, commit 51c36d56). The code is the tutorial's; its prose is left out.

Edits:
1. `import torch` -> `torch = import_as_torch(lib)`; the script's body is `run`'s body.
2. Seeding: `torch.manual_seed(seed)` first; x_rand, rand_tensor and the first `tensor` pass
   through `same` so that both libraries hold the same numbers.
3. Recording: `run` returns what the tutorial prints (as NumPy arrays, dtypes and shapes) and
   the NumPy arrays that share memory with a tensor, after the in-place adds.
"""
import numpy as np

from . import Same, import_as_torch, to_numpy


def run(lib="minigrad", *, seed=0, same=None):
    same = Same() if same is None else same                       # [port]
    torch = import_as_torch(lib)                                   # was: import torch
    torch.manual_seed(seed)                                        # [port]
    out = {}                                                       # [port]

    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)

    np_array = np.array(data)
    x_np = torch.from_numpy(np_array)

    x_ones = torch.ones_like(x_data)  # retains the properties of x_data
    print(f"Ones Tensor: \n {x_ones} \n")

    x_rand = torch.rand_like(x_data, dtype=torch.float)  # overrides the datatype of x_data
    out["x_rand.dtype"] = str(x_rand.dtype)                        # [port]
    x_rand = same(torch, "x_rand", x_rand)                         # [port]
    print(f"Random Tensor: \n {x_rand} \n")
    out.update({"x_data": to_numpy(x_data), "x_np": to_numpy(x_np),  # [port]
                "x_ones": to_numpy(x_ones), "x_ones.dtype": str(x_ones.dtype)})

    shape = (2, 3,)
    rand_tensor = torch.rand(shape)
    rand_tensor = same(torch, "rand_tensor", rand_tensor)          # [port]
    ones_tensor = torch.ones(shape)
    zeros_tensor = torch.zeros(shape)

    print(f"Random Tensor: \n {rand_tensor} \n")
    print(f"Ones Tensor: \n {ones_tensor} \n")
    print(f"Zeros Tensor: \n {zeros_tensor}")
    out.update({"ones_tensor": to_numpy(ones_tensor),              # [port]
                "zeros_tensor": to_numpy(zeros_tensor)})

    tensor = torch.rand(3, 4)
    tensor = same(torch, "tensor", tensor)                         # [port]

    print(f"Shape of tensor: {tensor.shape}")
    print(f"Datatype of tensor: {tensor.dtype}")
    print(f"Device tensor is stored on: {tensor.device}")
    out.update({"tensor.shape": tuple(tensor.shape), "tensor.dtype": str(tensor.dtype),  # [port]
                "tensor.device": str(tensor.device)})

    if torch.cuda.is_available():
      tensor = tensor.to('cuda')
      print(f"Device tensor is stored on: {tensor.device}")

    tensor = torch.ones(4, 4)
    tensor[:,1] = 0
    print(tensor)
    out["tensor[:,1] = 0"] = to_numpy(tensor)                      # [port]

    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    print(t1)
    out["t1"] = to_numpy(t1)                                       # [port]

    print(f"tensor.mul(tensor) \n {tensor.mul(tensor)} \n")
    print(f"tensor * tensor \n {tensor * tensor}")
    out["tensor.mul(tensor)"] = to_numpy(tensor.mul(tensor))       # [port]
    out["tensor * tensor"] = to_numpy(tensor * tensor)             # [port]

    print(f"tensor.matmul(tensor.T) \n {tensor.matmul(tensor.T)} \n")
    print(f"tensor @ tensor.T \n {tensor @ tensor.T}")
    out["tensor.matmul(tensor.T)"] = to_numpy(tensor.matmul(tensor.T))  # [port]
    out["tensor @ tensor.T"] = to_numpy(tensor @ tensor.T)         # [port]

    print(tensor, "\n")
    tensor.add_(5)
    print(tensor)
    out["tensor.add_(5)"] = to_numpy(tensor)                       # [port]

    t = torch.ones(5)
    print(f"t: {t}")
    n = t.numpy()
    print(f"n: {n}")

    t.add_(1)
    print(f"t: {t}")
    print(f"n: {n}")
    out.update({"t after t.add_(1)": to_numpy(t), "n after t.add_(1)": np.array(n)})  # [port]

    n = np.ones(5)
    t = torch.from_numpy(n)

    np.add(n, 1, out=n)
    print(f"t: {t}")
    print(f"n: {n}")
    out.update({"t after np.add": to_numpy(t), "n after np.add": np.array(n)})  # [port]
    return out                                                     # [port]
