"""`minigrad.optim`: optimizers that update parameters in place from their `.grad`, and
learning-rate schedulers (`minigrad.optim.lr_scheduler`), with PyTorch's names and formulas."""
from minigrad.optim import lr_scheduler
from minigrad.optim.adadelta import Adadelta
from minigrad.optim.adagrad import Adagrad
from minigrad.optim.adam import Adam, AdamW
from minigrad.optim.optimizer import Optimizer
from minigrad.optim.rmsprop import RMSprop
from minigrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW",
           "lr_scheduler"]
