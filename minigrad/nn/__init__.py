"""`minigrad.nn`: modules, layers and checkpoints, with PyTorch's names.

    import minigrad.nn as nn
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(6 * 12 * 12, 10))
"""
import sys

from minigrad import functional
from minigrad.nn import attention, bcos, fuse, init, transformer
from minigrad.nn.bcos import (AddInverse, BatchNormUncentered1d, BatchNormUncentered2d,
                              BcosConv2d, BcosLinear, bcos_explanation_mode)
from minigrad.nn.blocks import BasicBlock, Inception, PreActBlock, vgg_block
from minigrad.nn.checkpoint import (CheckpointError, flatten_state, load, remove_partial_files,
                                    save, select, unflatten_state)
from minigrad.nn.init import manual_seed
from minigrad.nn.losses import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss,
                                NLLLoss)
from minigrad.nn.layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d,
                                Dropout, Embedding, Flatten, GlobalAvgPool2d, Identity, LeakyReLU,
                                Linear, LogSoftmax, MaxPool2d, ReLU, Sigmoid, Softmax, Tanh,
                                GELU, LayerNorm)
from minigrad.nn.module import Module, ModuleList, Parameter, Sequential
from minigrad.nn.summary import summary
from minigrad.nn.transformer import (ClassToken, MultiheadAttention, PatchEmbedding,
                                     PositionEmbedding, TransformerEncoderLayer)

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "Linear", "Conv2d", "MaxPool2d",
           "AvgPool2d", "AdaptiveAvgPool2d", "GlobalAvgPool2d", "BatchNorm1d", "BatchNorm2d",
           "Dropout", "Embedding", "Flatten", "Identity", "ReLU", "LeakyReLU", "Tanh", "Sigmoid",
           "Softmax", "LogSoftmax", "BasicBlock", "Inception", "vgg_block", "summary", "save",
           "load", "CheckpointError", "remove_partial_files", "flatten_state", "unflatten_state",
           "select", "manual_seed", "init", "fuse", "attention", "LayerNorm", "GELU",
           "MultiheadAttention", "TransformerEncoderLayer", "PatchEmbedding", "ClassToken",
           "PositionEmbedding", "transformer", "bcos", "AddInverse", "BcosConv2d", "BcosLinear",
           "BatchNormUncentered1d", "BatchNormUncentered2d", "bcos_explanation_mode", "MSELoss",
           "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss", "functional",
           "PreActBlock"]

# `import minigrad.nn.functional as F`, PyTorch's path, gives the one module minigrad.functional:
# registered under its second name, so that Python's import finds it and loads no copy.
sys.modules[__name__ + ".functional"] = functional
