"""`summary(model, input_shape)`: a table of every layer's output shape and parameter count."""
import numpy as np

from minigrad.tensor import Tensor, no_grad


def summary(model, input_shape, dtype=np.float32):
    """Run one batch of zeros of `input_shape` through `model` and print (and return) a table.

    `input_shape` includes the batch dimension, e.g. (1, 1, 28, 28) for one MNIST image.
    The pass runs in eval mode without a graph, so running statistics are not touched; the
    model's train/eval mode is restored afterwards. A container's count includes its children.
    """
    modes = {id(module): module.training for module in model.modules()}
    for module in model.modules():
        module._output_shape = None   # so modules that the forward skips show no stale shape
    model.eval()
    try:
        with no_grad():
            model(Tensor(np.zeros(input_shape, dtype=dtype)))
    finally:
        for module in model.modules():
            module.training = modes[id(module)]
    table = _format(model, input_shape)
    print(table)
    return table


def _format(model, input_shape):
    header = f"{'Layer (type)':<40}{'Output shape':<24}{'Params':>12}"
    rule = "=" * len(header)
    lines = [header, rule, f"{'input':<40}{str(tuple(input_shape)):<24}{'':>12}"]
    for name, module in model.named_modules():
        if not name:
            continue
        indent = "  " * name.count(".")
        label = f"{indent}{name.rsplit('.', 1)[-1]} ({type(module).__name__})"
        shape = "-" if module._output_shape is None else str(module._output_shape)
        lines.append(f"{label:<40}{shape:<24}{module.num_parameters():>12,}")
    lines += [rule, f"Total params: {model.num_parameters():,}  "
                    f"(trainable: {model.num_parameters(trainable_only=True):,})"]
    return "\n".join(lines)
