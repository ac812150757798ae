"""Layers and the Module API: shapes, gradient checks, parameters, modes, saving, printing."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import nnkit
from nnkit import backend, init
from nnkit import layers as L
from nnkit.backend import randn

SMOOTH_X = [[-2.5, -1.7, -0.6, -0.3, 0.2], [0.45, 0.7, 1.6, 2.3, -0.15]]  # no kinks at 0 or ±1


def host(a):
    return nnkit.to_numpy(a)


def mlp():
    return nnkit.Sequential(L.Linear(2, 16), L.ReLU(), L.Linear(16, 3))


# ----------------------------------------------------------------------------- Linear

def test_linear_shapes_and_values(backend_name):
    layer = L.Linear(3, 2)
    assert layer.W.shape == (3, 2) and layer.b.shape == (2,)
    assert_allclose(host(layer.b.data), 0)
    x = randn(4, 3)
    assert_allclose(host(layer(x)), host(x) @ host(layer.W.data))
    assert layer(randn(5, 7, 3)).shape == (5, 7, 2)


@pytest.mark.parametrize("make", [lambda: L.Linear(3, 4), lambda: L.Linear(3, 4, bias=False),
                                  lambda: mlp().__class__(L.Linear(3, 5), L.Tanh(), L.Linear(5, 2))],
                         ids=["linear", "no-bias", "sequential"])
def test_linear_gradchecks(backend_name, make):
    report = nnkit.gradcheck(make(), randn(4, 3))
    assert report.passed, report


def test_linear_gradchecks_with_leading_axes(backend_name):
    assert nnkit.gradcheck(L.Linear(3, 2), randn(2, 4, 3)).passed


def test_linear_without_bias_has_only_W():
    layer = L.Linear(3, 4, bias=False)
    assert layer.b is None and [n for n, _ in layer.named_parameters()] == ["W"]
    assert repr(layer).startswith("Linear(in_features=3, out_features=4, bias=False)")


def test_backward_adds_into_grad(backend_name):
    layer = L.Linear(3, 2)
    x, dout = randn(4, 3), randn(4, 2)
    layer(x)
    layer.backward(dout)
    once = host(layer.W.grad).copy()
    layer.backward(dout)
    assert_allclose(host(layer.W.grad), 2 * once)
    assert_allclose(once, host(x).T @ host(dout))
    layer.zero_grad()
    assert_allclose(host(layer.W.grad), 0)


def test_float32_layer(backend_name):
    layer = L.Linear(3, 2, dtype="float32")
    out = layer(nnkit.asarray(np.ones((1, 3)), dtype="float32"))
    assert nnkit.backend.dtype_name(out.dtype) == "float32"
    assert nnkit.backend.dtype_name(layer.b.dtype) == "float32"


def test_same_seed_same_parameters_on_every_backend():
    values = []
    for name in ("numpy", "strict"):
        with nnkit.use_backend(name):
            nnkit.seed(11)
            values.append(mlp().state_dict())
    for key in values[0]:
        assert_allclose(values[0][key], values[1][key], rtol=0)


# ----------------------------------------------------------------------------- initialisers

def test_initialisers_have_the_textbook_scale():
    nnkit.seed(0)
    fan_in, fan_out = 400, 200

    def std(initializer, *shape):
        return host(initializer(fan_in, fan_out, *shape)).std()

    assert abs(std(init.he_normal) - np.sqrt(2 / fan_in)) < 0.002
    assert abs(std(init.he_uniform) - np.sqrt(2 / fan_in)) < 0.002
    assert abs(std(init.xavier_normal) - np.sqrt(2 / (fan_in + fan_out))) < 0.002
    assert abs(std(init.normal(0.01)) - 0.01) < 0.0002
    a = np.sqrt(6 / (fan_in + fan_out))
    w = host(init.xavier_uniform(fan_in, fan_out))
    assert w.shape == (fan_in, fan_out) and -a <= w.min() and w.max() < a
    u = host(init.uniform(-0.1, 0.1)(3, 2, shape=(5,)))
    assert u.shape == (5,) and abs(u).max() < 0.1
    assert_allclose(host(init.zeros(2, 3)), 0)


@pytest.mark.parametrize("spec", ["xavier_uniform", init.xavier_uniform, init.normal(0.01), "zeros"])
def test_linear_accepts_names_and_functions_as_init(backend_name, spec):
    layer = L.Linear(4, 3, init=spec)
    assert layer.W.shape == (4, 3)


def test_init_draws_on_the_host_so_backends_agree():
    draws = []
    for name in ("numpy", "strict"):
        with nnkit.use_backend(name):
            nnkit.seed(5)
            draws.append(host(L.Linear(3, 4, init=init.xavier_normal).W.data))
    assert_allclose(draws[0], draws[1], rtol=0)


# ----------------------------------------------------------------------------- activation layers

@pytest.mark.parametrize("name", sorted(L.ACTIVATION_LAYERS))
def test_activation_layers_gradcheck(backend_name, name):
    layer = L.ACTIVATION_LAYERS[name]()
    report = nnkit.gradcheck(layer, nnkit.asarray(SMOOTH_X))
    assert report.passed, report


def test_activation_layers_come_from_the_registry():
    assert L.ReLU.fn is nnkit.functional.relu and L.ACTIVATION_LAYERS["sigmoid"] is L.Sigmoid
    assert set(L.ACTIVATION_LAYERS) == set(nnkit.functional.ACTIVATIONS) and len(L.ACTIVATION_LAYERS) == 13
    assert "max(0, x)" in L.ReLU.__doc__


def test_activation_layer_parameters():
    assert L.LeakyReLU().params == {"alpha": 0.01}
    assert L.LeakyReLU(0.2).params == L.LeakyReLU(alpha=0.2).params == {"alpha": 0.2}
    assert repr(L.ELU(alpha=2.0)) == "ELU(alpha=2.0)" and repr(L.ReLU()) == "ReLU()"
    x = np.array([[-1.0, 2.0]])
    assert_allclose(L.LeakyReLU(0.2)(x), [[-0.2, 2.0]])
    with pytest.raises(TypeError, match="ReLU"):
        L.ReLU(0.1)
    with pytest.raises(TypeError, match="LeakyReLU.*alpha"):
        L.LeakyReLU(beta=0.1)


@pytest.mark.parametrize("layer", [L.Softmax(), L.LogSoftmax(), L.Softmax(axis=0)], ids=repr)
def test_softmax_layers(backend_name, layer):
    z = randn(3, 4, std=2)
    assert nnkit.gradcheck(layer, z).passed
    expected = nnkit.functional.softmax(z, layer.axis)
    if isinstance(layer, L.LogSoftmax):
        expected = nnkit.backend.namespace(z).log(expected)
    assert_allclose(host(layer(z)), host(expected))


# ----------------------------------------------------------------------------- Dropout

def test_dropout_layer_train_and_eval(backend_name):
    layer = L.Dropout(0.5)
    x = nnkit.asarray(np.ones((20, 30)))
    out = host(layer(x))
    assert set(np.unique(out)) == {0.0, 2.0}
    layer.eval()
    assert layer(x) is x and layer.backward(x) is x
    assert repr(layer) == "Dropout(p=0.5)"


def test_dropout_masks_are_the_same_on_every_backend_and_fresh_each_call():
    masks = []
    for name in ("numpy", "strict"):
        with nnkit.use_backend(name):
            nnkit.seed(4)
            layer, x = L.Dropout(0.3), nnkit.asarray(np.ones((50, 40)))
            masks.append([host(layer(x)) for _ in range(2)])
    assert np.array_equal(masks[0][0], masks[1][0]) and np.array_equal(masks[0][1], masks[1][1])
    first, second = masks[0]
    assert not np.array_equal(first, second)
    assert abs(np.mean(first == 0) - 0.3) < 0.03 and set(np.unique(first)) == {0.0, 1 / 0.7}


def test_dropout_keeps_the_dtype_of_its_input(backend_name):
    with nnkit.use_dtype("float32"):
        x = nnkit.asarray(np.ones((4, 5)))
    assert backend.dtype_name(L.Dropout(0.5)(x).dtype) == "float32"


def test_dropout_gradchecks_with_its_mask(backend_name):
    model = nnkit.Sequential(L.Linear(4, 6), L.Dropout(0.4), L.Linear(6, 2))
    report = nnkit.gradcheck(model, randn(5, 4))
    assert report.passed, report


# ----------------------------------------------------------------------------- Module API

def test_parameters_and_names(backend_name):
    model = mlp()
    assert [n for n, _ in model.named_parameters()] == ["0.W", "0.b", "2.W", "2.b"]
    assert len(model.parameters()) == 4
    assert model.num_parameters() == 2 * 16 + 16 + 16 * 3 + 3 == 99


def test_zero_grad_clears_every_parameter(backend_name):
    model = mlp()
    model(randn(4, 2))
    model.backward(randn(4, 3))
    assert any(abs(host(p.grad)).sum() > 0 for p in model.parameters())
    model.zero_grad()
    assert all(abs(host(p.grad)).sum() == 0 for p in model.parameters())


def test_train_and_eval_reach_every_child():
    model = nnkit.Sequential(L.Linear(2, 3), L.Dropout(0.5), L.Linear(3, 1))
    assert model.eval() is model and not model[1].training
    model.train()
    assert all(m.training for m in model)


def test_state_dict_round_trip(backend_name):
    model, twin = mlp(), mlp()
    x = randn(5, 2)
    state = model.state_dict()
    assert set(state) == {"0.W", "0.b", "2.W", "2.b"} and isinstance(state["0.W"], np.ndarray)
    before = host(model(x)).copy()
    twin.load_state_dict(state)
    assert_allclose(host(twin(x)), before, rtol=0)
    model.state_dict()["0.W"] += 1  # state_dict is a copy: editing it leaves the model alone
    assert_allclose(host(model(x)), before, rtol=0)


def test_load_state_dict_copies(backend_name):
    model = mlp()
    state = model.state_dict()
    model.load_state_dict(state)
    state["0.W"] += 1
    assert_allclose(host(model.state_dict()["0.W"]), state["0.W"] - 1)


def test_repr_shows_shapes_and_parameter_counts():
    text = repr(mlp())
    assert "Linear(in_features=2, out_features=16)" in text
    assert "W (2, 16), b (16,); 48 parameters" in text
    assert "(1): ReLU()" in text
    assert text.endswith("total 99 parameters")
