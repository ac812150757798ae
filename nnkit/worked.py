"""The course's ready-made models: the worked examples of the slides, and the networks and
experiments that several chapters (and the tests) share, so that every place builds the same one.

The slides' networks (chapters 2 and 3) keep the weights exactly as the slides print them:
each hidden unit's weights as a row ("Wᵀ rows"). nnkit computes x @ W with W of shape
(in, out), so a layer's W is the transpose of that row matrix: row j of the slide is column j
of W.

>>> model, x = sigmoid_network()
>>> model(x)            # ≈ 0.64, the slide's f_out

Those builders return ``(model, x)``: a Sequential on the active backend (in the default
dtype) and the slide's input as a batch of one example, shape (1, 3).

:func:`lenet` is the small convolutional network of chapter 8 (chapter 11 times it and a wider
version); it draws its weights from nnkit's generator, so call ``nnkit.seed(n)`` first for a
reproducible start. :func:`memory_task_accuracy` is chapter 9's memory experiment (an RNN, LSTM
or GRU trained to remember the first symbol of a sequence) and :func:`clipping_run` its gradient
clipping experiment; both take a seed of their own and leave nnkit's generator as they found it.
"""

from __future__ import annotations

from typing import Any

from . import backend
from .data import remember_the_first
from .layers import GRU, LSTM, RNN, Conv2D, Flatten, Linear, MaxPool2D, ReLU, Sigmoid
from .losses import CrossEntropyLoss
from .module import Module, Sequential
from .optim import SGD, Adam, clip_grad_norm
from .train import evaluate, fit

__all__ = ["SIGMOID_X", "SIGMOID_HIDDEN", "SIGMOID_OUTPUT", "MULTICLASS_OUTPUT", "DEEP_X", "DEEP_LAYERS",
           "SOFTMAX_LOGITS", "SOFTMAX_ARGMAX_LOGITS", "linear_from_rows", "sigmoid_network",
           "multiclass_network", "deep_relu_network", "lenet", "memory_task_accuracy", "clipping_run"]

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


def lenet(width: int = 1) -> Sequential:
    """Chapter 8's LeNet-style network for the 8 × 8 digits: images (N, 1, 8, 8) -> scores (N, 10).

    Two rounds of 3 × 3 convolution (padding 1 keeps the size), ReLU and 2 × 2 max pooling,
    with c1 = 8·width and then c2 = 16·width filters, and a Linear layer on the flattened maps.
    Width 1 has 1898 parameters; chapter 11 also trains a wider one. The weights are drawn
    (He normal) from nnkit's generator: call ``nnkit.seed(n)`` first for a reproducible start.
    """
    c1, c2 = 8 * width, 16 * width
    return Sequential(
        Conv2D(1, c1, kernel_size=3, padding=1), ReLU(), MaxPool2D(2),   # (N, c1, 8, 8), pooled (N, c1, 4, 4)
        Conv2D(c1, c2, kernel_size=3, padding=1), ReLU(), MaxPool2D(2),  # (N, c2, 4, 4), pooled (N, c2, 2, 2)
        Flatten(), Linear(c2 * 2 * 2, 10))                               # (N, c2 · 2 · 2), then (N, 10)


def memory_task_accuracy(cell: str, steps: int, forget_bias: float | None = None, hidden: int = 16,
                         symbols: int = 4, n_train: int = 400, n_test: int = 500, epochs: int = 8,
                         lr: float = 1e-2, seed: int = 0) -> float:
    """Chapter 9's memory experiment: train a fresh many-to-one ``cell`` ("rnn", "lstm" or "gru")
    on :func:`nnkit.data.remember_the_first` and return its test accuracy (chance is 1/symbols).

    The model is cell(symbols, hidden, return_sequences=False) → Linear(hidden, symbols): sequences
    (N, steps, symbols) -> scores (N, symbols), trained by :func:`nnkit.fit` with Adam and
    cross-entropy (mini-batches of 50) on n_train sequences and tested on n_test new ones.
    ``forget_bias`` sets the LSTM's forget-gate bias (nnkit's default is 1). Weights and shuffles
    come from ``seed``, and nnkit's random stream is restored afterwards.
    """
    cells = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
    if cell not in cells:
        raise ValueError(f"cell must be one of {sorted(cells)}, got {cell!r}")
    if forget_bias is not None and cell != "lstm":
        raise ValueError("forget_bias is a setting of the LSTM only")
    train = remember_the_first(n_train, steps, symbols, seed=seed)
    test = remember_the_first(n_test, steps, symbols, seed=seed + 1)
    with backend.seeded(seed):
        recurrent = cells[cell](symbols, hidden, return_sequences=False)
        if forget_bias is not None:
            recurrent.b.data[hidden:2 * hidden] = forget_bias      # gate order (i, f, o, g)
        model = Sequential(recurrent, Linear(hidden, symbols))
        fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=lr), train, epochs=epochs, batch_size=50,
            progress=False)
        return float(evaluate(model, CrossEntropyLoss(), *test)[1])


def clipping_run(max_norm: float, seed: int = 0, scale: float = 1.5, lr: float = 0.1, updates: int = 300,
                 steps: int = 20, hidden: int = 16) -> tuple[list[float], list[float], float]:
    """Chapter 9's clipping experiment: a vanilla RNN whose gradients explode, trained with and without
    clipping by the global norm.

    The model is RNN(4, hidden, return_sequences=False) → Linear(hidden, 4) on 512 sequences of
    :func:`nnkit.data.remember_the_first` (steps long; the same data for every seed), with
    W_h = scale·Q for a random orthogonal Q, so that gradients grow by about ``scale`` per step
    back. Plain SGD, ``updates`` mini-batches of 32, each gradient clipped to ``max_norm``
    (``math.inf``: never clipped). Weights, Q and batches come from ``seed``; nnkit's random
    stream is restored afterwards.
    Returns (the loss of every update, the gradient norm before clipping at every update,
    the final accuracy on the 512 sequences).
    """
    X, y = remember_the_first(512, steps)
    with backend.seeded(seed):
        model = Sequential(RNN(4, hidden, return_sequences=False), Linear(hidden, 4))
        Q, _ = backend.host_xp().linalg.qr(backend.rng().standard_normal((hidden, hidden)))
        model[0].Wh.data = backend.asarray(scale * Q)
        optimizer, loss_fn = SGD(model.parameters(), lr=lr), CrossEntropyLoss()
        losses, norms = [], []
        for _ in range(updates):
            rows = backend.rng().integers(0, len(X), 32)
            optimizer.zero_grad()
            losses.append(float(loss_fn(model(backend.asarray(X[rows])), backend.asarray(y[rows]))))
            model.backward(loss_fn.backward())
            norms.append(clip_grad_norm(model.parameters(), max_norm))   # the norm before clipping
            optimizer.step()
        return losses, norms, float(evaluate(model, loss_fn, X, y)[1])
