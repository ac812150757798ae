"""Layers: Modules that hold Parameters and call the functional forms."""

from ..module import Module, Parameter, Sequential
from .activations import (
    ACTIVATION_LAYERS,
    ELU,
    GELU,
    ActivationLayer,
    Gaussian,
    HardTanh,
    Identity,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Softsign,
    Step,
    Tanh,
)
from .conv import AvgPool2D, Conv2D, Flatten, MaxPool2D
from .dense import Dropout, Linear
from .recurrent import GRU, LSTM, RNN, Embedding
