"""The slides' worked numbers (COURSE.md chapters 2 and 3), recomputed through the public API."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose

import nnkit
from nnkit import functional as F
from nnkit import worked


def host(a):
    return nnkit.to_numpy(a)


def activations(model, x):
    """The output of every layer of a Sequential, in order."""
    outs = []
    for layer in model:
        x = layer(x)
        outs.append(host(x)[0])
    return outs


def test_sigmoid_network(backend_name):
    model, x = worked.sigmoid_network()
    z_in, z, f_in, f_out = activations(model, x)
    assert_allclose(z_in, [-3, 2, 0, 7])
    assert_allclose(z, [0.05, 0.88, 0.50, 0.99], atol=0.01)  # the slide shows σ(7) = 0.9991 as 0.99
    assert_allclose(f_in, [0.57], atol=0.005)
    assert_allclose(f_out, [0.64], atol=0.005)
    # the slide's f_out = 1/(1 + e^{f_in}) drops the minus sign: that would give 0.36
    assert abs(1 / (1 + np.exp(f_in[0])) - 0.64) > 0.2


def test_sigmoid_network_weights_are_the_transposed_slide_rows():
    model, _ = worked.sigmoid_network()
    rows, bias = worked.SIGMOID_HIDDEN
    assert_allclose(model.state_dict()["0.W"], np.array(rows).T)
    assert_allclose(model.state_dict()["0.b"], bias)
    assert model[0].W.shape == (3, 4) and model[2].W.shape == (4, 1)


def test_sigmoid_network_on_a_batch(backend_name):
    model, x = worked.sigmoid_network()
    batch = nnkit.asarray(np.vstack([host(x)[0], [0.0, 0.0, 0.0], host(x)[0]]))
    out = host(model(batch))[:, 0]
    assert out.shape == (3,) and out[0] == out[2]
    assert_allclose(out[0], host(model(x))[0, 0])


def test_deep_relu_network(backend_name):
    model, x = worked.deep_relu_network()
    outs = activations(model, x)
    assert_allclose(outs[0], [79, -70, 9, -26])
    assert_allclose(outs[2], [38, 21, -96, -35])
    assert_allclose(outs[4], [0, 24, -54, 17])
    assert_allclose(outs[6], [3, -1, 1])
    assert_allclose(host(F.softmax(model(x)))[0], [0.8668, 0.0159, 0.1173], atol=5e-5)


def test_softmax_example(backend_name):
    p = host(F.softmax(nnkit.asarray(worked.SOFTMAX_LOGITS)))
    assert round(float(p[2]), 2) == 0.41
    assert np.isclose(p[2], np.exp(0.5) / np.exp(worked.SOFTMAX_LOGITS).sum())
    assert p.argmax() == 2 and np.isclose(p.sum(), 1)


def test_softmax_is_a_smooth_argmax(backend_name):
    p = host(F.softmax(nnkit.asarray(worked.SOFTMAX_ARGMAX_LOGITS, dtype="float64")))
    assert p.tolist() == [0.0, 1.0, 0.0]


def test_softmax_jacobian(backend_name):
    p = F.softmax(nnkit.asarray(worked.SOFTMAX_LOGITS))
    J, hp = host(F.softmax_jacobian(p)), host(p)
    assert_allclose(J, np.diag(hp) - np.outer(hp, hp))
    assert_allclose(np.diag(J), hp * (1 - hp))
    assert np.allclose(J, J.T) and (J - np.diag(np.diag(J)) <= 0).all()  # symmetric, off-diagonal ≤ 0


def test_multiclass_output_layer(backend_name):
    model, x = worked.multiclass_network()
    f_in = model(x)
    assert_allclose(host(f_in)[0], [0.572, 2.952, -0.863], atol=5e-4)
    assert_allclose(host(F.softmax(f_in))[0], [0.0831, 0.8972, 0.0198], atol=5e-5)


def test_worked_models_gradcheck(backend_name):
    for build in (worked.sigmoid_network, worked.multiclass_network):
        model, x = build()
        report = nnkit.gradcheck(model, x)
        assert report.passed, report


def test_building_a_worked_model_draws_no_random_numbers():
    state = nnkit.backend.rng().bit_generator.state
    worked.deep_relu_network()
    assert nnkit.backend.rng().bit_generator.state == state
