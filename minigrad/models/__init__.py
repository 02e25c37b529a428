"""minigrad.models: ready-made networks, and a registry to build them by name.

    model = get_model("lenet5", activation="tanh")     # same as LeNet5(activation="tanh")
"""
from functools import partial

from minigrad.models.alexnet_lite import AlexNetLite
from minigrad.models.bcos import BcosNet, bcos_alexnet_lite, bcos_lenet
from minigrad.models.lenet import LeNet5
from minigrad.models.vit import VisionTransformer, tiny_vit

MODELS = {"lenet5": LeNet5, "alexnet_lite": AlexNetLite,
          "alexnet_lite_bn": partial(AlexNetLite, batch_norm=True),
          "tiny_vit": tiny_vit, "vit": tiny_vit,
          "bcos_lenet": bcos_lenet, "bcos_alexnet_lite": bcos_alexnet_lite,
          "bcos_alexnet_lite_v2": partial(bcos_alexnet_lite, design="v2", temperature=1.0)}


def get_model(name, **kwargs):
    """A new model of the registered `name` (see MODELS), built with `kwargs`."""
    key = name.lower().replace("-", "_")
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[key](**kwargs)


__all__ = ["LeNet5", "AlexNetLite", "get_model", "MODELS", "VisionTransformer", "tiny_vit",
           "BcosNet", "bcos_lenet", "bcos_alexnet_lite"]
