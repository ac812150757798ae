"""The pure functions of nnkit.functional: values, derivatives and gradient checks."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import nnkit
from nnkit import functional as F
from nnkit.backend import randn

# Inputs away from every kink: 0 (ReLU, step, leaky ReLU, ELU) and ±1 (hard tanh).
SMOOTH_X = [[-2.5, -1.7, -0.6, -0.3, 0.2], [0.45, 0.7, 1.6, 2.3, -0.15]]
PARAMS = {"leaky_relu": {"alpha": 0.1}, "elu": {"alpha": 1.5}}


def host(a):
    return nnkit.to_numpy(a)


def check_vjp(forward, backward, x, *, seed=1):
    """Gradcheck f(x) = Σ forward(x) ⊙ R against backward(R, cache)."""
    out, cache = forward(x)
    R = nnkit.asarray(np.random.default_rng(seed).standard_normal(tuple(out.shape)))
    return nnkit.gradcheck(lambda v: float(nnkit.backend.namespace(v).sum(forward(v)[0] * R)), x,
                           grad=backward(R, cache))


# ----------------------------------------------------------------------------- linear

@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)])
def test_linear_matches_matmul_and_gradchecks(backend_name, shape):
    x, W, b = randn(*shape), randn(3, 2), randn(2)
    out, cache = F.linear_forward(x, W, b)
    assert_allclose(host(out), host(x) @ host(W) + host(b))
    R = randn(*out.shape)
    dx, dW, db = F.linear_backward(R, cache)
    assert dW.shape == (3, 2) and db.shape == (2,)
    xp = nnkit.backend.namespace(x)
    assert nnkit.gradcheck(lambda v: float(xp.sum(F.linear_forward(v, W, b)[0] * R)), x, grad=dx).passed
    assert nnkit.gradcheck(lambda v: float(xp.sum(F.linear_forward(x, v, b)[0] * R)), W, grad=dW).passed
    assert nnkit.gradcheck(lambda v: float(xp.sum(F.linear_forward(x, W, v)[0] * R)), b, grad=db).passed


def test_linear_without_bias(backend_name):
    x, W = randn(4, 3), randn(3, 2)
    out, cache = F.linear_forward(x, W, None)
    assert_allclose(host(out), host(x) @ host(W))
    assert F.linear_backward(randn(4, 2), cache)[2] is None


# ----------------------------------------------------------------------------- activations

def test_registry_lists_every_activation():
    assert set(F.ACTIVATIONS) == {"identity", "step", "sigmoid", "tanh", "hard_tanh", "softsign", "relu",
                                  "leaky_relu", "elu", "softplus", "gelu", "silu", "gaussian"}
    assert F.ACTIVATIONS["elu"].params == {"alpha": 1.0}
    assert F.ACTIVATIONS["leaky_relu"].params == {"alpha": 0.01}
    assert "σ(x)" in F.sigmoid.__doc__


@pytest.mark.parametrize("name", sorted(F.ACTIVATIONS))
def test_activation_backward_gradchecks(backend_name, name):
    act, params = F.ACTIVATIONS[name], PARAMS.get(name, {})
    report = check_vjp(lambda v: act.forward(v, **params), act.backward, nnkit.asarray(SMOOTH_X))
    assert report.passed, report


@pytest.mark.parametrize("name", sorted(F.ACTIVATIONS))
def test_derivative_matches_central_difference(name):
    act, params = F.ACTIVATIONS[name], PARAMS.get(name, {})
    x = np.array(SMOOTH_X)
    h = 1e-6
    numeric = (host(act(x + h, **params)) - host(act(x - h, **params))) / (2 * h)
    assert_allclose(host(act.derivative(x, **params)), numeric, rtol=1e-6, atol=1e-9)


def test_known_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    assert_allclose(F.relu(x), [0, 0, 0, 0.5, 2])
    assert_allclose(F.step(x), [0, 0, 0, 1, 1])
    assert_allclose(F.step.derivative(x), 0)  # a threshold passes no gradient
    assert_allclose(F.hard_tanh(x), [-1, -0.5, 0, 0.5, 1])
    assert_allclose(F.leaky_relu(x, alpha=0.1), [-0.2, -0.05, 0, 0.5, 2])
    assert_allclose(F.elu(x), [np.expm1(-2), np.expm1(-0.5), 0, 0.5, 2])
    assert_allclose(F.softsign(x), x / (1 + abs(x)))
    assert_allclose(F.softplus(x), np.log1p(np.exp(x)))
    assert_allclose(F.gaussian(x), np.exp(-x**2))
    assert_allclose(F.identity(x), x)
    assert F.sigmoid.derivative(np.array([0.0]))[0] == 0.25  # the largest σ' can be
    assert F.tanh.derivative(np.array([0.0]))[0] == 1.0


@pytest.mark.parametrize("name", sorted(F.ACTIVATIONS))
def test_activation_keeps_float32(name):
    with nnkit.use_dtype("float32"):
        x = nnkit.asarray(SMOOTH_X)
    act = F.ACTIVATIONS[name]
    y, cache = act.forward(x)
    assert y.dtype == x.dtype and act.backward(x, cache).dtype == x.dtype


def test_activations_agree_across_backends(backend_name):
    x = nnkit.asarray(SMOOTH_X)
    for act in F.ACTIVATIONS.values():
        assert_allclose(host(act(x)), host(act(np.array(SMOOTH_X))), rtol=1e-14)


# ----------------------------------------------------------------------------- softmax

def test_softmax_rows_sum_to_one_and_backward_gradchecks(backend_name):
    z = randn(4, 5, std=3)
    p = F.softmax(z)
    assert_allclose(host(p).sum(axis=1), 1.0)
    assert check_vjp(F.softmax_forward, F.softmax_backward, z).passed
    assert check_vjp(F.log_softmax_forward, F.log_softmax_backward, z).passed
    assert_allclose(host(F.log_softmax(z)), np.log(host(p)), rtol=1e-12)


def test_softmax_along_another_axis(backend_name):
    z = randn(3, 4)
    assert_allclose(host(F.softmax(z, axis=0)).sum(axis=0), 1.0)
    assert check_vjp(lambda v: F.softmax_forward(v, axis=0), F.softmax_backward, z).passed


def test_softmax_jacobian_is_diag_minus_outer_and_matches_backward(backend_name):
    p = F.softmax(nnkit.asarray([0.5, -1.0, 2.0]))
    J = host(F.softmax_jacobian(p))
    hp = host(p)
    assert_allclose(J, np.diag(hp) - np.outer(hp, hp))
    assert_allclose(J.sum(axis=0), 0, atol=1e-15)  # shifting every logit changes nothing
    v = nnkit.asarray([0.3, -0.2, 1.0])
    assert_allclose(J @ host(v), host(F.softmax_backward(v, (p, -1))))
    assert F.softmax_jacobian(F.softmax(randn(2, 3))).shape == (2, 3, 3)


# ----------------------------------------------------------------------------- dropout

def test_dropout_is_identity_in_eval_and_for_p_zero(backend_name):
    x = randn(3, 4)
    assert F.dropout_forward(x, 0.5, training=False)[0] is x
    out, mask = F.dropout_forward(x, 0.0)
    assert out is x and mask is None and F.dropout_backward(x, mask) is x


def test_dropout_drops_a_fraction_p_and_keeps_the_mean(backend_name):
    x = nnkit.asarray(np.ones((200, 100)))
    out, mask = F.dropout_forward(x, 0.3)
    kept = host(out) != 0
    assert abs(kept.mean() - 0.7) < 0.01
    assert_allclose(host(out)[kept], 1 / 0.7)
    assert abs(host(out).mean() - 1.0) < 0.02
    dx = host(F.dropout_backward(x, mask))
    assert_allclose(dx, host(out))  # gradient flows exactly where units were kept, with the same scale


def test_dropout_mask_is_the_same_on_every_backend():
    masks = []
    for name in ("numpy", "strict"):
        with nnkit.use_backend(name):
            nnkit.seed(3)
            masks.append(host(F.dropout_forward(nnkit.asarray(np.ones((5, 6))), 0.5)[0]))
    assert_allclose(masks[0], masks[1])


def test_dropout_uses_a_given_generator(backend_name):
    x = nnkit.asarray(np.ones((4, 4)))
    a = F.dropout_forward(x, 0.5, rng=np.random.default_rng(7))[0]
    b = F.dropout_forward(x, 0.5, rng=np.random.default_rng(7))[0]
    assert_allclose(host(a), host(b))


# ----------------------------------------------------------------------------- one-hot

def test_one_hot(backend_name):
    y = F.one_hot(nnkit.asarray([2, 0, 1]), 3)
    assert_allclose(host(y), np.eye(3)[[2, 0, 1]])
    assert nnkit.backend.dtype_name(y.dtype) == "float64"
