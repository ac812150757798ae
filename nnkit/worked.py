"""The worked examples of the lecture slides, as ready-made nnkit models.

The weights are kept exactly as the slides print them: each hidden unit's weights as a
row ("Wᵀ rows"). nnkit computes x @ W with W of shape (in, out), so a layer's W is the
transpose of that row matrix: row j of the slide is column j of W.

>>> model, x = sigmoid_network()
>>> model(x)            # ≈ 0.64, the slide's f_out

Each builder returns ``(model, x)``: a Sequential on the active backend (in the default
dtype) and the slide's input as a batch of one example, shape (1, 3).
"""

from __future__ import annotations

from typing import Any

from . import backend
from .layers import Linear, ReLU, Sigmoid
from .module import Module, Sequential

__all__ = ["SIGMOID_X", "SIGMOID_HIDDEN", "SIGMOID_OUTPUT", "MULTICLASS_OUTPUT", "DEEP_X", "DEEP_LAYERS",
           "SOFTMAX_LOGITS", "SOFTMAX_ARGMAX_LOGITS", "linear_from_rows", "sigmoid_network",
           "multiclass_network", "deep_relu_network"]

# Chapter 2: a hidden layer of four sigmoid units and one sigmoid output unit.
SIGMOID_X = [-3, 1, 5]
SIGMOID_HIDDEN = ([[3, -9, 2], [11, -2, 7], [-6, 3, -4], [6, -1, 5]], [5, 2, -1, 1])  # (Wᵀ rows, b)
SIGMOID_OUTPUT = ([[3, -12, 8, 1]], [6])                                               # (uᵀ, c)

# Chapter 3: the same hidden layer under a three-class output layer (softmax of its logits).
MULTICLASS_OUTPUT = ([[3, -12, 8, 1], [2, -3, 9, 1], [-5, 1, -1, 7]], [6, 0, -8])     # (Uᵀ rows, c)

# Chapter 2: three ReLU layers of four units and a three-class output layer.
DEEP_X = [7, 1, -4]
DEEP_LAYERS = [
    ([[13, -9, 2], [-8, 0, 3], [4, -1, 5], [-3, 12, 7]], [5, -2, 2, 11]),
    ([[1, 0, -4, 1], [0, 11, 2, -14], [-1, 5, -2, 16], [0, -9, -3, 4]], [-5, 3, 1, -8]),
    ([[1, -2, -18, -7], [3, -4, 8, 0], [-2, 1, 21, 5], [2, -2, 11, -13]], [4, -6, 1, -17]),
    ([[9, 3, -1, -4], [-8, -2, 14, 3], [13, 2, -9, -1]], [-1, -4, -30]),
]

# Chapter 3: the softmax example (p₃ ≈ 0.41) and the "smooth arg-max" example.
SOFTMAX_LOGITS = [-1.7, 0.3, 0.5, -0.4, -1.7]
SOFTMAX_ARGMAX_LOGITS = [1, 1000, 2]


def linear_from_rows(rows: list[list[float]], bias: list[float]) -> Linear:
    """A Linear layer whose output unit j has the weights rows[j] and bias bias[j] (W = rowsᵀ)."""
    layer = Linear(len(rows[0]), len(rows), init="zeros")  # zeros: draws no random numbers
    layer.load_state_dict({"W": backend.to_numpy(rows).T, "b": bias})
    return layer


def _input(x: list[float]) -> Any:
    return backend.asarray([[float(v) for v in x]])


def sigmoid_network() -> tuple[Module, Any]:
    """x = (−3, 1, 5) → 4 sigmoid units → 1 sigmoid unit: z_in = (−3, 2, 0, 7), f_in ≈ 0.57, f_out ≈ 0.64."""
    model = Sequential(linear_from_rows(*SIGMOID_HIDDEN), Sigmoid(),
                       linear_from_rows(*SIGMOID_OUTPUT), Sigmoid())
    return model, _input(SIGMOID_X)


def multiclass_network() -> tuple[Module, Any]:
    """The sigmoid hidden layer under a 3-class output: logits f_in ≈ (0.572, 2.952, −0.863).

    The model outputs logits; softmax of them ≈ (0.0831, 0.8972, 0.0198).
    """
    model = Sequential(linear_from_rows(*SIGMOID_HIDDEN), Sigmoid(), linear_from_rows(*MULTICLASS_OUTPUT))
    return model, _input(SIGMOID_X)


def deep_relu_network() -> tuple[Module, Any]:
    """x = (7, 1, −4) → three ReLU layers → logits f_in = (3, −1, 1); softmax ≈ (0.8668, 0.0159, 0.1173).

    Pre-activations of the hidden layers: (79, −70, 9, −26), (38, 21, −96, −35), (0, 24, −54, 17).
    """
    layers: list[Module] = []
    for rows, bias in DEEP_LAYERS[:-1]:
        layers += [linear_from_rows(rows, bias), ReLU()]
    model = Sequential(*layers, linear_from_rows(*DEEP_LAYERS[-1]))
    return model, _input(DEEP_X)
