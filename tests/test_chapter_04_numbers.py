"""Chapter 4's [seed] claim: a learning rate too small crawls, a good one converges, a large one diverges.

The same network and data as the chapter (3 spirals, 2-32-3 tanh MLP, plain SGD, 60 epochs).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnkit import data, widgets


@pytest.fixture(scope="module")
def runs():
    X, y = data.spirals(n_per_class=100, n_classes=3, noise=0.2, seed=0)
    with np.errstate(over="ignore", invalid="ignore"):  # the diverging run overflows on purpose
        return {lr: widgets.train_small_mlp(X, y, lr)[1] for lr in (0.02, 1.0, 8.0)}


def test_too_small_a_learning_rate_crawls(runs):
    small, good = runs[0.02], runs[1.0]
    assert small.loss[-1] < small.loss[0]                 # it does go down ...
    assert small.loss[-1] > 0.5 > 5 * good.loss[-1]       # ... but is still far from where a good rate gets
    assert small.accuracy[-1] < 0.7


def test_a_good_learning_rate_converges(runs):
    good = runs[1.0]
    assert good.loss[-1] < 0.15 and good.accuracy[-1] > 0.95
    assert good.loss[-1] < good.loss[0] / 5


def test_too_large_a_learning_rate_overshoots_and_never_recovers(runs):
    large = runs[8.0]
    chance = math.log(3)                                   # the loss of guessing uniformly
    assert large.loss[0] > 10 * chance                     # the first steps throw the loss far up
    assert min(large.loss) > chance                        # and it never gets back below guessing
    assert large.accuracy[-1] < 0.75


def test_the_converging_runs_match_the_numbers_printed_in_the_chapter(runs):
    # (the diverging run's exact values are chaotic: its last digits may differ between CPUs)
    got = [round(runs[lr].loss[-1], 4) for lr in (0.02, 1.0)]
    assert got == [0.7237, 0.0981]
