"""Extreme logits (±1000): finite values, exact limits, correct gradients and no warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

import nnkit
from nnkit import functional as F
from nnkit import losses

BIG = [[-1000.0, 0.0, 1000.0], [1000.0, 999.0, -1000.0]]
C = np.log1p(np.exp(-1.0))  # logsumexp of BIG's second row is 1000 + C


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def host(a):
    return nnkit.to_numpy(a)


def test_softmax_of_1_1000_2_is_exactly_one_hot(backend_name):
    p = host(F.softmax(nnkit.asarray([1.0, 1000.0, 2.0])))
    assert p.tolist() == [0.0, 1.0, 0.0]


def test_naive_softmax_overflows_but_ours_does_not():
    z = np.array([1.0, 1000.0, 2.0])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(z) / np.exp(z).sum()
    assert np.isnan(naive[1])
    assert np.isfinite(F.softmax(z)).all()


def test_sigmoid_softplus_and_log_softmax_are_finite(backend_name):
    z = nnkit.asarray(BIG)
    assert host(F.sigmoid(z)).tolist() == [[0.0, 0.5, 1.0], [1.0, 1.0, 0.0]]
    assert_allclose(host(F.softplus(z)), [[0, np.log(2), 1000], [1000, 999, 0]])
    logp = host(F.log_softmax(z))
    assert np.isfinite(logp).all()
    assert_allclose(logp, [[-2000, -1000, 0], [-C, -1 - C, -2000 - C]])
    for name in ("sigmoid", "tanh", "softplus", "elu", "gaussian", "softsign"):
        assert np.isfinite(host(F.ACTIVATIONS[name].derivative(z))).all(), name


@pytest.mark.parametrize("y, per_example", [([2, 0], [0.0, C]), ([0, 1], [2000.0, 1.0 + C])])
def test_cross_entropy_at_1000(backend_name, y, per_example):
    z, labels = nnkit.asarray(BIG), nnkit.asarray(y)
    loss_fn = losses.CrossEntropyLoss()
    assert np.isclose(loss_fn(z, labels), np.mean(per_example))
    assert np.isfinite(host(loss_fn.backward())).all()
    report = nnkit.gradcheck(loss_fn, z, labels)
    assert report.passed, report


@pytest.mark.parametrize("y", [1.0, 0.0])
def test_bce_with_logits_at_1000(backend_name, y):
    z = nnkit.asarray([[1000.0], [-1000.0], [0.0]])
    t = nnkit.asarray([[y], [y], [y]])
    loss_fn = losses.BCEWithLogitsLoss()
    expected = np.mean([1000.0 * (1 - y), 1000.0 * y, np.log(2)])
    assert np.isclose(loss_fn(z, t), expected)
    assert_allclose(host(loss_fn.backward()), ([[1.0], [0.0], [0.5]] - np.array(y)) / 3)
    assert nnkit.gradcheck(loss_fn, z, t).passed


def test_activation_gradients_at_1000(backend_name):
    z = nnkit.asarray(BIG)
    for name in ("sigmoid", "softplus"):
        report = nnkit.gradcheck(lambda v, n=name: float(nnkit.backend.namespace(v).sum(F.ACTIVATIONS[n](v))),
                                 z, grad=F.ACTIVATIONS[name].derivative(z))
        assert report.passed, report
