"""Chapter 4's [seed] claim: a learning rate too small crawls, a good one converges, a large one diverges.

The same network and data as the chapter (3 spirals, 2-32-3 tanh MLP, plain SGD, 60 epochs).
The diverging run is chaotic: a last-bit difference (another CPU's BLAS kernel, numpy's SIMD
level) sends it along another path. So its claims are checked as the chapter states them: on
five seeds, each with a wide margin, never as the digits of one trajectory.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnkit
from nnkit import data, layers, losses, widgets

TOO_LARGE = 16.0
SEEDS = range(5)


@pytest.fixture(scope="module")
def spirals():
    return data.spirals(n_per_class=100, n_classes=3, noise=0.2, seed=0)


@pytest.fixture(scope="module")
def runs(spirals):
    X, y = spirals
    return {lr: widgets.train_small_mlp(X, y, lr)[1] for lr in (0.02, 1.0)}


@pytest.fixture(scope="module")
def diverging(spirals):
    X, y = spirals
    return [widgets.train_small_mlp(X, y, TOO_LARGE, seed=s) for s in SEEDS]


def test_too_small_a_learning_rate_crawls(runs):
    small, good = runs[0.02], runs[1.0]
    assert small.loss[-1] < small.loss[0]                 # it does go down ...
    assert small.loss[-1] > 0.5 > 5 * good.loss[-1]       # ... but is still far from where a good rate gets
    assert small.accuracy[-1] < 0.7


def test_a_good_learning_rate_converges(runs):
    good = runs[1.0]
    assert good.loss[-1] < 0.15 and good.accuracy[-1] > 0.95
    assert good.loss[-1] < good.loss[0] / 5


def test_too_large_a_learning_rate_diverges_on_every_seed(spirals, diverging):
    X, _ = spirals
    chance = math.log(3)                                   # the loss of guessing uniformly
    for seed, (net, history) in zip(SEEDS, diverging, strict=True):
        largest = max(float(np.abs(nnkit.to_numpy(p.data)).max()) for p in net.parameters())
        hidden = np.tanh(X @ nnkit.to_numpy(net[0].W.data) + nnkit.to_numpy(net[0].b.data))
        # the chapter's five claims, with its thresholds (measured values sit 2-4x beyond them,
        # also with numpy's AVX2/AVX-512 code switched off)
        assert history.loss[0] > 20 * chance, seed         # thrown far up in the first epoch
        assert min(history.loss) > 10 * chance, seed       # and never back near guessing
        assert largest > 50, seed
        assert np.mean(np.abs(hidden) > 0.99) > 0.95, seed
        assert history.accuracy[-1] < 0.7, seed


def test_the_converging_runs_match_the_numbers_printed_in_the_chapter(runs):
    got = [round(runs[lr].loss[-1], 4) for lr in (0.02, 1.0)]
    assert got == [0.7237, 0.0981]


def test_backward_of_the_loss_value_names_the_mistake(spirals):
    X, y = spirals
    model = nnkit.Sequential(layers.Linear(2, 3))
    loss_fn = losses.CrossEntropyLoss()
    loss = loss_fn(model(nnkit.asarray(X)), nnkit.asarray(y))
    with pytest.raises(TypeError, match=r"model.backward\(loss_fn.backward\(\)\)"):
        model.backward(loss)
    model.backward(loss_fn.backward())                    # the right call works
