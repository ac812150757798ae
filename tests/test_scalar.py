"""The scalar autograd (nnkit.scalar) against finite differences and against nnkit's layers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnkit
from nnkit import layers, losses
from nnkit.scalar import Value, grads, matmul, values

# Each case: a function of a list of Values, and the point at which to check it.
CASES = {
    "add": (lambda v: v[0] + v[1], [1.5, -2.0]),
    "sub": (lambda v: v[0] - v[1], [1.5, -2.0]),
    "mul": (lambda v: v[0] * v[1], [1.5, -2.0]),
    "div": (lambda v: v[0] / v[1], [1.5, -2.0]),
    "pow": (lambda v: v[0] ** 3, [-1.3]),
    "pow_fraction": (lambda v: v[0] ** 0.5, [2.7]),
    "neg": (lambda v: -v[0], [0.7]),
    "exp": (lambda v: v[0].exp(), [0.4]),
    "log": (lambda v: v[0].log(), [2.5]),
    "tanh": (lambda v: v[0].tanh(), [0.8]),
    "sigmoid": (lambda v: v[0].sigmoid(), [-0.6]),
    "relu_positive": (lambda v: v[0].relu(), [0.9]),
    "relu_negative": (lambda v: v[0].relu(), [-0.9]),
    "with_constants": (lambda v: 2.0 - v[0] / 4.0 + 3.0 * v[1] - 1.0 / v[1] + 0.5 + v[0] * 2.0, [1.2, 0.7]),
    "neuron_l2_loss": (lambda v: 0.5 * (1.0 - (v[0] * v[1] + v[2]).sigmoid()) ** 2, [-3.0, 2.0, 1.0]),
    "shared_subexpression": (lambda v: (lambda t: t * t + t.exp() / t)(v[0] * v[1] + 1.0), [0.3, -1.7]),
}


def finite_difference(f, point: list[float], h: float = 1e-6) -> list[float]:
    """Central differences (f(p + h e_i) - f(p - h e_i)) / 2h, evaluated on fresh Values."""
    out = []
    for i in range(len(point)):
        up, down = list(point), list(point)
        up[i] += h
        down[i] -= h
        out.append((f([Value(u) for u in up]).data - f([Value(d) for d in down]).data) / (2 * h))
    return out


def autograd(f, point: list[float]) -> list[float]:
    leaves = [Value(p) for p in point]
    f(leaves).backward()
    return [v.grad for v in leaves]


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_operation_matches_central_differences(name):
    f, point = CASES[name]
    got, expected = autograd(f, point), finite_difference(f, point)
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-8)


def test_forward_values_are_the_plain_float_results():
    x = Value(0.3)
    assert (x * 2 + 1).data == pytest.approx(1.6)
    assert x.sigmoid().data == pytest.approx(1 / (1 + math.exp(-0.3)))
    assert x.tanh().data == pytest.approx(math.tanh(0.3))
    assert (x ** 2).log().data == pytest.approx(2 * math.log(0.3))
    assert (1 / x).data == pytest.approx(1 / 0.3)
    assert (1 - x).data == pytest.approx(0.7)


def test_one_neuron_matches_the_chain_rule_by_hand():
    """J = ½(y − σ(wx + b))²  ⇒  ∂J/∂w = −(y − ŷ) σ'(z) x, ∂J/∂b = −(y − ŷ) σ'(z)."""
    w, x, b, y = Value(-3.0), Value(2.0), Value(1.0), 1.0
    y_hat = (w * x + b).sigmoid()
    J = 0.5 * (y - y_hat) ** 2
    J.backward()
    s = y_hat.data
    delta = -(y - s) * s * (1 - s)
    assert w.grad == pytest.approx(delta * 2.0)
    assert b.grad == pytest.approx(delta)
    assert x.grad == pytest.approx(delta * -3.0)


def test_a_value_used_twice_sums_its_paths():
    x = Value(3.0)
    (x * x + x).backward()          # d/dx (x² + x) = 2x + 1
    assert x.grad == 7.0


def test_leaves_accumulate_and_intermediates_start_fresh():
    w = Value(2.0)
    loss = (w * w).tanh() * 3.0
    loss.backward()
    first = w.grad
    loss.backward()                 # a second backward adds the same amount again, exactly
    assert w.grad == pytest.approx(2 * first)
    w.grad = 0.0                    # "zero_grad"
    loss.backward()
    assert w.grad == pytest.approx(first)


def test_topological_order_lists_parents_first_and_each_node_once():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    out = d * c
    order = out.topological_order()
    assert order[-1] is out
    assert len(order) == len({id(v) for v in order}) == 5
    position = {id(v): i for i, v in enumerate(order)}
    for node in order:
        assert all(position[id(p)] < position[id(node)] for p in node.parents)


def test_a_deep_graph_needs_no_recursion():
    x = Value(0.5)
    total = x
    for _ in range(5000):           # far deeper than Python's recursion limit
        total = total + x
    total.backward()
    assert x.grad == 5001.0


@pytest.mark.parametrize("z", [-1000.0, -40.0, 0.0, 40.0, 1000.0])
def test_sigmoid_never_overflows(z):
    s = Value(z).sigmoid()
    assert 0.0 <= s.data <= 1.0
    s.backward()                    # no OverflowError, no RuntimeWarning


def test_sigmoid_derivative_peaks_at_a_quarter():
    peak = Value(0.0)
    peak.sigmoid().backward()
    assert peak.grad == 0.25


def test_power_with_a_value_exponent_is_refused():
    with pytest.raises(TypeError, match="exponent"):
        _ = Value(2.0) ** Value(3.0)


def test_repr_shows_label_data_and_grad():
    assert repr(Value(1.5, label="w")) == "Value(w: data=1.5, grad=0)"


def test_values_grads_and_matmul_helpers():
    A = values([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], label="A")
    B = values([[1.0, -1.0, 0.5], [2.0, 0.0, -2.0]])
    assert A[1][0].label == "A10"
    C = matmul(A, B)
    assert [[c.data for c in row] for row in C] == [[5.0, -1.0, -3.5], [11.0, -3.0, -6.5], [17.0, -5.0, -9.5]]
    sum(c for row in C for c in row).backward()
    # d(sum A @ B)/dA[n, d] = sum_k B[d, k]
    assert grads(A) == [[0.5, 0.0]] * 3
    with pytest.raises(ValueError):
        matmul(A, values([[1.0, 2.0]]))  # (3, 2) @ (1, 2): inner sizes disagree


@settings(max_examples=60, deadline=None)
@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(0.5, 3))
def test_random_expressions_match_central_differences(a, b, c):
    def f(v):
        return ((v[0] * v[1]).tanh() + v[2].log() * v[0].sigmoid() - (v[1] / v[2]).exp() * 0.1) ** 2

    point = [a, b, c]
    assert autograd(f, point) == pytest.approx(finite_difference(f, point), rel=1e-5, abs=1e-7)


# --------------------------------------------------------------------- against nnkit's layers
ACTIVATION_PAIRS = {"sigmoid": (Value.sigmoid, layers.Sigmoid), "tanh": (Value.tanh, layers.Tanh),
                    "relu": (Value.relu, layers.ReLU)}


def _two_layer_problem(seed: int, n: int = 5, d: int = 3, h: int = 4, k: int = 2):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)), rng.normal(size=(n, k)),
            {"0.W": rng.normal(size=(d, h)), "0.b": rng.normal(size=h),
             "2.W": rng.normal(size=(h, k)), "2.b": rng.normal(size=k)})


def _value_net(X, params, act):
    """The 2-layer net X @ W1 + b1 -> act -> @ W2 + b2, one Value per number."""
    Xv = values(X.tolist())
    P = {name: values(p.tolist(), name) for name, p in params.items()}
    hidden = [[act(z + b) for z, b in zip(row, P["0.b"], strict=True)] for row in matmul(Xv, P["0.W"])]
    out = [[z + b for z, b in zip(row, P["2.b"], strict=True)] for row in matmul(hidden, P["2.W"])]
    return Xv, P, out


def _layer_net(params, layer_cls):
    d, h = params["0.W"].shape
    net = nnkit.Sequential(layers.Linear(d, h), layer_cls(), layers.Linear(h, params["2.W"].shape[1]))
    net.load_state_dict(params)
    return net


def _assert_layers_agree(params, layer_cls, loss_fn, X, target, loss: Value, P) -> object:
    """The same net from nnkit layers gives ``loss`` and the Values' parameter gradients; returns its dX."""
    net = _layer_net(params, layer_cls)
    assert loss_fn(net(nnkit.asarray(X)), nnkit.asarray(target)) == pytest.approx(loss.data, rel=1e-12)
    dX = net.backward(loss_fn.backward())
    for name, p in net.named_parameters():
        np.testing.assert_allclose(grads(P[name]), nnkit.to_numpy(p.grad), rtol=1e-10, atol=1e-13)
    return dX


@pytest.mark.parametrize("activation", sorted(ACTIVATION_PAIRS))
def test_two_layer_mse_gradients_equal_the_layer_gradients(backend_name, activation):
    act, layer_cls = ACTIVATION_PAIRS[activation]
    X, Y, params = _two_layer_problem(seed=1)
    Xv, P, out = _value_net(X, params, act)
    loss = sum((o - t) ** 2 for o_row, t_row in zip(out, Y.tolist(), strict=True)
               for o, t in zip(o_row, t_row, strict=True)) / (2 * len(X))
    loss.backward()
    dX = _assert_layers_agree(params, layer_cls, losses.MSELoss(), X, Y, loss, P)
    np.testing.assert_allclose(grads(Xv), nnkit.to_numpy(dX), rtol=1e-10, atol=1e-13)


def test_two_layer_cross_entropy_gradients_equal_the_layer_gradients(backend_name):
    """Softmax + cross-entropy written with exp, log and / matches CrossEntropyLoss's backward."""
    X, _, params = _two_layer_problem(seed=2, k=3)
    labels = [0, 2, 1, 2, 0]
    _, P, logits = _value_net(X, params, Value.tanh)
    per_example = []
    for row, label in zip(logits, labels, strict=True):
        exps = [z.exp() for z in row]
        per_example.append(-(exps[label] / sum(exps)).log())
    loss = sum(per_example) / len(labels)
    loss.backward()
    _assert_layers_agree(params, layers.Tanh, losses.CrossEntropyLoss(), X, labels, loss, P)


def test_sigmoid_outputs_with_bce_equal_bce_with_logits(backend_name):
    X, Y, params = _two_layer_problem(seed=3)
    Y = (Y > 0).astype(float)
    _, P, logits = _value_net(X, params, Value.sigmoid)
    loss = -sum(t * z.sigmoid().log() + (1 - t) * (1 - z.sigmoid()).log()
                for z_row, t_row in zip(logits, Y.tolist(), strict=True)
                for z, t in zip(z_row, t_row, strict=True)) / len(X)
    loss.backward()
    _assert_layers_agree(params, layers.Sigmoid, losses.BCEWithLogitsLoss(), X, Y, loss, P)


def test_value_net_matches_central_differences():
    """The Value net's weight gradients match central differences of the same Value net."""
    X, Y, params = _two_layer_problem(seed=4, n=3, d=2, h=3, k=1)

    def loss_of(p):
        _, _, out = _value_net(X, p, Value.tanh)
        return sum((o[0] - t) ** 2 for o, t in zip(out, Y[:, 0].tolist(), strict=True)) / 2

    _, P, out = _value_net(X, params, Value.tanh)
    total = sum((o[0] - t) ** 2 for o, t in zip(out, Y[:, 0].tolist(), strict=True)) / 2
    total.backward()
    h = 1e-6
    for name, array in params.items():
        numeric = np.zeros_like(array)
        for idx in np.ndindex(array.shape):
            up, down = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in params.items()}
            up[name][idx] += h
            down[name][idx] -= h
            numeric[idx] = (loss_of(up).data - loss_of(down).data) / (2 * h)
        np.testing.assert_allclose(grads(P[name]), numeric, rtol=1e-6, atol=1e-9)
