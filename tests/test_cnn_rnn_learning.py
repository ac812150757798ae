"""End-to-end learning: a LeNet-style CNN on the digits, gated RNNs on a memory task, a character model.

Each trains from a fixed seed on NumPy in a few seconds and must reach its target.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnkit
from nnkit import layers as L
from nnkit.data import load_digits, train_val_test_split
from nnkit.losses import CrossEntropyLoss
from nnkit.optim import Adam, CosineAnnealingLR, clip_grad_norm
from nnkit.train import evaluate, fit
from nnkit.worked import lenet

pytestmark = pytest.mark.slow

TEXT = ("a neuron sums its inputs and fires. a layer is many neurons side by side. "
        "a network is layers stacked one on another. the loss says how wrong the network is, "
        "and the gradient says which way to change every weight to make it less wrong. ")


@pytest.fixture(autouse=True)
def numpy_backend():
    with nnkit.use_backend("numpy"):
        nnkit.seed(0)
        yield


def test_lenet_reaches_97_percent_on_the_digits():
    """The course's LeNet (chapter 8's network, 1898 parameters) on the 8 × 8 digit images."""
    X, y = load_digits(images=True)
    (X_train, y_train), _, (X_test, y_test) = train_val_test_split(X, y, val=0.0, test=0.25, seed=0)
    model = lenet()                                   # nnkit.seed(0) by the fixture
    optimizer = Adam(model.parameters(), lr=1e-2)
    fit(model, CrossEntropyLoss(), optimizer, (X_train, y_train), epochs=15, batch_size=32,
        scheduler=CosineAnnealingLR(optimizer, T_max=15), progress=False)
    _, test_accuracy = evaluate(model, CrossEntropyLoss(), X_test, y_test)
    assert test_accuracy >= 0.97                      # 0.982 with these seeds


def remember_the_first_symbol(n, steps, rng):
    """Sequences of one-hot symbols (n, steps, 4); the label is the symbol at step 0."""
    tokens = rng.integers(0, 4, (n, steps))
    return np.eye(4)[tokens], tokens[:, 0]


@pytest.mark.parametrize("cell, steps, lr", [(L.LSTM, 10, 1e-2), (L.GRU, 10, 3e-3), (L.RNN, 5, 3e-3)],
                         ids=["lstm", "gru", "rnn"])
def test_many_to_one_memory_task(cell, steps, lr):
    """Many-to-one: carry the first symbol through the whole sequence to the last state."""
    rng = np.random.default_rng(0)
    train, test = remember_the_first_symbol(1000, steps, rng), remember_the_first_symbol(500, steps, rng)
    model = nnkit.Sequential(cell(4, 16, return_sequences=False), L.Linear(16, 4))
    fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=lr), train, epochs=10, progress=False)
    _, test_accuracy = evaluate(model, CrossEntropyLoss(), *test)
    assert test_accuracy >= 0.95


def test_character_model_learns_and_samples_text():
    """Many-to-many: predict every next character; the loss falls far below log(V), the uniform guess."""
    chars = sorted(set(TEXT))
    V, T = len(chars), 24
    codes = np.array([chars.index(c) for c in TEXT])
    model = nnkit.Sequential(L.Embedding(V, 16), L.LSTM(16, 64), L.Linear(64, V))
    loss_fn, optimizer = CrossEntropyLoss(), Adam(model.parameters(), lr=1e-2)
    xp = nnkit.backend.xp()
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(200):
        starts = rng.integers(0, len(codes) - T - 1, 32)
        x = np.stack([codes[s:s + T] for s in starts])
        y = np.stack([codes[s + 1:s + T + 1] for s in starts])
        optimizer.zero_grad()
        scores = model(nnkit.asarray(x))                                   # (N, T, V)
        losses.append(loss_fn(xp.reshape(scores, (-1, V)), nnkit.asarray(y.reshape(-1))))
        model.backward(xp.reshape(loss_fn.backward(), scores.shape))
        clip_grad_norm(model.parameters(), 5.0)
        optimizer.step()
    assert losses[0] > 0.9 * math.log(V)
    assert np.mean(losses[-10:]) < 0.25 * math.log(V)

    text = "a network "
    for _ in range(60):
        context = nnkit.asarray(np.array([[chars.index(c) for c in text[-T:]]]))
        logits = nnkit.to_numpy(model(context))[0, -1] / 0.3                # temperature 0.3
        p = np.exp(logits - logits.max())
        text += chars[rng.choice(V, p=p / p.sum())]
    words = text.split()[:-1]                                               # the last may be cut short
    known = set(TEXT.replace(",", " ").replace(".", " ").split())
    assert sum(w.strip(".,") in known for w in words) >= 0.8 * len(words)
