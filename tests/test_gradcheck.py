"""gradcheck itself: it passes correct gradients, catches wrong ones, and has no side effects."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import nnkit
from nnkit import layers as L
from nnkit import losses
from nnkit.backend import randn
from nnkit.gradcheck import GradcheckReport


class ForgetfulLinear(L.Linear):
    """A Linear layer whose backward halves dW: a stray factor, as when a ½ is applied twice."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.W.grad = 0.5 * self.W.grad
        return dx


class NoBackpropSigmoid(L.Sigmoid):
    """A Sigmoid whose backward uses σ' = σ (the derivative of eˣ, not of σ)."""

    def backward(self, dout):
        return dout * self._cache[1]


def test_passes_a_correct_module_and_prints_a_table(backend_name, capsys):
    report = nnkit.gradcheck(nnkit.Sequential(L.Linear(3, 4), L.Tanh(), L.Linear(4, 2)), randn(5, 3),
                             verbose=True)
    assert isinstance(report, GradcheckReport) and report.passed
    assert set(report.errors) == {"x", "0.W", "0.b", "2.W", "2.b"}
    assert max(report.errors.values()) < 1e-7
    printed = capsys.readouterr().out
    assert printed.strip() == str(report) == repr(report)
    assert "0.W     (3, 4)" in printed and "gradcheck passed" in printed


def test_fails_a_wrong_parameter_gradient(backend_name):
    report = nnkit.gradcheck(nnkit.Sequential(ForgetfulLinear(3, 2), L.Tanh()), randn(4, 3))
    assert not report.passed
    assert report.errors["0.W"] > 0.1 and report.errors["0.b"] < 1e-6 and report.errors["x"] < 1e-6
    assert "FAIL" in str(report) and "gradcheck FAILED" in str(report)


class OneEntryLinear(L.Linear):
    """A Linear layer whose backward loses the gradient of the single weight W[0, 0]."""

    def backward(self, dout):
        dx = super().backward(dout)
        grad = nnkit.to_numpy(self.W.grad).copy()
        grad[0, 0] = 0.0
        self.W.grad = nnkit.asarray(grad)
        return dx


def test_fails_a_bug_in_a_single_entry(backend_name):
    report = nnkit.gradcheck(OneEntryLinear(3, 4), randn(5, 3))
    assert not report.passed and report.errors["W"] > 1e-3


def test_fails_a_wrong_input_gradient(backend_name):
    report = nnkit.gradcheck(NoBackpropSigmoid(), randn(3, 4))
    assert not report.passed and report.errors["x"] > 0.1


def test_function_form_passes_and_fails(backend_name):
    x = randn(3, 2)
    xp = nnkit.backend.namespace(x)

    def f(v):
        return float(xp.sum(v * v * v))

    assert nnkit.gradcheck(f, x, grad=3 * x * x).passed
    assert not nnkit.gradcheck(f, x, grad=2 * x * x).passed
    with pytest.raises(TypeError, match="needs g"):
        nnkit.gradcheck(f, x)


def test_loss_form_checks_the_prediction_gradient(backend_name):
    z, y = randn(4, 3), nnkit.asarray([0, 2, 1, 1])
    report = nnkit.gradcheck(losses.CrossEntropyLoss(), z, y)
    assert report.passed and list(report.errors) == ["pred"]


def test_refuses_float32():
    with nnkit.use_dtype("float32"):
        layer, x = L.Linear(2, 2), nnkit.asarray(np.ones((1, 2)))
    with pytest.raises(TypeError, match="gradcheck needs float64, but x is float32"):
        nnkit.gradcheck(layer, x)
    with pytest.raises(TypeError, match="use_dtype"):
        nnkit.gradcheck(lambda v: 0.0, x, grad=x)
    with pytest.raises(TypeError, match="Module, a Loss or a function"):
        nnkit.gradcheck(42, x)


def test_leaves_no_trace(backend_name):
    model = nnkit.Sequential(L.Linear(3, 4), L.Dropout(0.5), L.Linear(4, 2))
    model(randn(2, 3))
    model.backward(randn(2, 2))
    before = [(nnkit.to_numpy(p.data).copy(), nnkit.to_numpy(p.grad).copy()) for p in model.parameters()]
    x = randn(5, 3)
    state = nnkit.backend.rng().bit_generator.state
    assert nnkit.gradcheck(model, x).passed  # dropout's mask is replayed in every forward pass
    assert nnkit.backend.rng().bit_generator.state == state
    for p, (data, grad) in zip(model.parameters(), before, strict=True):
        assert_allclose(nnkit.to_numpy(p.data), data, rtol=0)
        assert_allclose(nnkit.to_numpy(p.grad), grad, rtol=0)
