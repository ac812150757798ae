"""Chapter 5's seed formulas (COURSE.md, "Backpropagation, derived"), asserted numerically.

- sum over paths: ∂s/∂W⁽¹⁾ᵢⱼ = W⁽²⁾ᵢ σ'(z⁽²⁾ᵢ) a⁽¹⁾ⱼ = δ⁽²⁾ᵢ a⁽¹⁾ⱼ on the chapter 2 network (the slides'
  notation; the chapter writes the same as a⁽⁰⁾ᵢ δ⁽¹⁾ⱼ with layers counted from the input as 0);
- the backward recursion for any depth, checked against nnkit's layers;
- the product form ∂J/∂Wᵢ = (∂J/∂ŷ) σ'(A_k) W_k ⋯ W_{i+1} σ'(A_i) Z_{i−1} with ∂J/∂ŷ = −(y − ŷ)
  for J = ½(y − ŷ)² (the slide's (y − ŷ) has the wrong sign);
- the regularised cross-entropy J(Θ) with λ/2m Σ Θ², and its gradient (λ/m)Θ on weights only;
- central differences beat one-sided ones; σ' ≤ 1/4, so gradients vanish through sigmoid layers.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

import nnkit
from nnkit import layers, losses, widgets, worked
from nnkit.scalar import Value


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def dsigmoid(z):
    return sigmoid(z) * (1.0 - sigmoid(z))


# ----------------------------------------------------------------------------- one neuron

def test_one_neuron_chain_rule_numbers_of_the_chapter():
    x, y, w, b = 2.0, 1.0, 0.5, -0.5
    z = w * x + b
    y_hat = sigmoid(z)
    dJ_dw = -(y - y_hat) * dsigmoid(z) * x
    assert (z, round(y_hat, 4), round(0.5 * (y - y_hat) ** 2, 4)) == (0.5, 0.6225, 0.0713)
    assert round(dJ_dw, 4) == -0.1774 and round(dJ_dw / x, 4) == -0.0887

    def loss(w_):
        return 0.5 * (y - sigmoid(w_ * x + b)) ** 2

    h = 1e-5
    assert (loss(w + h) - loss(w - h)) / (2 * h) == pytest.approx(dJ_dw, abs=1e-10)


def test_the_slides_sign_makes_gradient_descent_climb():
    """∂J/∂ŷ = −(y − ŷ): with the slide's (y − ŷ) a descent step raises the loss."""
    x, y, w, b, lr = 2.0, 1.0, 0.5, -0.5, 1.0
    y_hat = sigmoid(w * x + b)
    correct = -(y - y_hat) * dsigmoid(w * x + b) * x
    slide = (y - y_hat) * dsigmoid(w * x + b) * x
    loss = lambda w_: 0.5 * (y - sigmoid(w_ * x + b)) ** 2  # noqa: E731
    assert slide == -correct
    assert loss(w - lr * correct) < loss(w) < loss(w - lr * slide)


# ----------------------------------------------------------------------------- sum over paths

def _slide_network():
    """The chapter 2 sigmoid network in the slides' notation: W1[i, j] = input j -> hidden unit i."""
    rows, b1 = worked.SIGMOID_HIDDEN
    (u,), (c,) = worked.SIGMOID_OUTPUT
    return (np.array(worked.SIGMOID_X, dtype=float), np.array(rows, dtype=float), np.array(b1, dtype=float),
            np.array(u, dtype=float), float(c))


def test_sum_over_paths_formula_equals_finite_differences():
    a1, W1, b1, W2, b2 = _slide_network()

    def score(W):
        return W2 @ sigmoid(W @ a1 + b1) + b2

    z2 = W1 @ a1 + b1
    assert_allclose(z2, [-3, 2, 0, 7])
    assert score(W1) == pytest.approx(0.5718, abs=5e-5)          # the slide's f_in ≈ 0.57
    delta2 = W2 * dsigmoid(z2)                                     # δ⁽²⁾ᵢ = W⁽²⁾ᵢ σ'(z⁽²⁾ᵢ)
    formula = np.outer(delta2, a1)                                 # ∂s/∂W⁽¹⁾ᵢⱼ = δ⁽²⁾ᵢ a⁽¹⁾ⱼ
    numeric = np.zeros_like(W1)
    for idx in np.ndindex(W1.shape):
        E = np.zeros_like(W1)
        E[idx] = 1e-6
        numeric[idx] = (score(W1 + E) - score(W1 - E)) / 2e-6
    assert_allclose(formula, numeric, rtol=1e-7, atol=1e-9)
    assert_allclose(formula[2], [-6.0, 2.0, 10.0])                  # unit 3: z = 0, σ' = 1/4, W⁽²⁾₃ = 8


def test_sum_over_paths_for_the_inputs():
    """An input reaches s through every hidden unit: ∂s/∂a⁽¹⁾ⱼ = Σᵢ δ⁽²⁾ᵢ W⁽¹⁾ᵢⱼ."""
    a1, W1, b1, W2, b2 = _slide_network()
    delta2 = W2 * dsigmoid(W1 @ a1 + b1)
    by_paths = (delta2[:, None] * W1).sum(axis=0)
    numeric = [(W2 @ sigmoid(W1 @ (a1 + e) + b1) - W2 @ sigmoid(W1 @ (a1 - e) + b1)) / 2e-6
               for e in np.eye(3) * 1e-6]
    assert_allclose(by_paths, numeric, rtol=1e-7)


def test_sum_over_paths_equals_the_layers_backward(backend_name):
    """nnkit's Linear/Sigmoid/Linear backward from ds = 1 gives the same δ a: transposed (x @ W layout)."""
    model, x = worked.sigmoid_network()                            # Linear, Sigmoid, Linear, Sigmoid
    a1, W1, b1, W2, _ = _slide_network()
    h = x
    for layer in list(model)[:3]:                                  # up to the score s = f_in
        h = layer(h)
    d = nnkit.asarray([[1.0]])
    for layer in reversed(list(model)[:3]):
        d = layer.backward(d)
    delta2 = W2 * dsigmoid(W1 @ a1 + b1)
    assert_allclose(nnkit.to_numpy(model[0].W.grad), np.outer(delta2, a1).T, rtol=1e-12)
    assert_allclose(nnkit.to_numpy(model[0].b.grad), delta2, rtol=1e-12)
    assert_allclose(nnkit.to_numpy(d)[0], (delta2[:, None] * W1).sum(axis=0), rtol=1e-12)


def test_sum_over_paths_equals_the_scalar_autograd():
    a1, W1, b1, W2, b2 = _slide_network()
    Wv = [[Value(w) for w in row] for row in W1.tolist()]
    hidden = [(sum((w * a for w, a in zip(row, a1.tolist(), strict=True)), Value(0.0)) + bias).sigmoid()
              for row, bias in zip(Wv, b1.tolist(), strict=True)]
    s = sum((w * h for w, h in zip(W2.tolist(), hidden, strict=True)), Value(0.0)) + b2
    s.backward()
    delta2 = W2 * dsigmoid(W1 @ a1 + b1)
    assert_allclose([[w.grad for w in row] for row in Wv], np.outer(delta2, a1), rtol=1e-12)


# ----------------------------------------------------------------------------- product form

W_CHAIN = np.array([1.5, -2.0, 3.0, 2.5, -1.8])
X0, Y_TARGET = 0.8, 1.0


def _chain(W):
    A, Z = [], [X0]
    for W_l in W:
        A.append(W_l * Z[-1])
        Z.append(sigmoid(A[-1]))
    return A, Z


def _product_form(W, i, dJ_dyhat):
    A, Z = _chain(W)
    g = dJ_dyhat(Z[-1])
    for l in range(len(W), i, -1):                                 # σ'(A_l) W_l for l = k, ..., i+1
        g *= dsigmoid(A[l - 1]) * W[l - 1]
    return g * dsigmoid(A[i - 1]) * Z[i - 1]                       # σ'(A_i) Z_{i−1}


@pytest.mark.parametrize("i", [1, 2, 3, 4, 5])
def test_product_form_equals_finite_differences(i):
    def J(W):
        return 0.5 * (Y_TARGET - _chain(W)[1][-1]) ** 2

    e = np.eye(len(W_CHAIN))[i - 1] * 1e-6
    numeric = (J(W_CHAIN + e) - J(W_CHAIN - e)) / 2e-6
    correct = _product_form(W_CHAIN, i, lambda y_hat: -(Y_TARGET - y_hat))
    slide = _product_form(W_CHAIN, i, lambda y_hat: Y_TARGET - y_hat)
    assert correct == pytest.approx(numeric, rel=1e-7)
    assert slide == pytest.approx(-numeric, rel=1e-7)              # the erratum: exactly the wrong sign


def test_product_form_first_layer_is_much_smaller_than_the_last():
    first = _product_form(W_CHAIN, 1, lambda y_hat: -(Y_TARGET - y_hat))
    last = _product_form(W_CHAIN, 5, lambda y_hat: -(Y_TARGET - y_hat))
    assert 40 < abs(last / first) < 50                             # the chapter says "about 45 times"


# ----------------------------------------------------------------------------- matrix backprop

def _batch_problem():
    rng = np.random.default_rng(5)
    N, D, H, K = 6, 3, 4, 2
    X = rng.normal(size=(N, D))
    Y = rng.integers(0, 2, size=(N, K)).astype(float)
    params = {"W1": rng.normal(size=(D, H)), "b1": rng.normal(size=H) * 0.1,
              "W2": rng.normal(size=(H, K)), "b2": rng.normal(size=K) * 0.1}
    return X, Y, params


def _backward_by_hand(X, Y, p):
    A1 = sigmoid(X @ p["W1"] + p["b1"])
    Y_hat = sigmoid(A1 @ p["W2"] + p["b2"])
    dZ2 = (Y_hat - Y) / len(Y)
    dZ1 = (dZ2 @ p["W2"].T) * A1 * (1 - A1)
    grads = {"W1": X.T @ dZ1, "b1": dZ1.sum(0), "W2": A1.T @ dZ2, "b2": dZ2.sum(0)}
    return Y_hat, grads, dZ1 @ p["W1"].T


def test_matrix_backprop_equals_nnkit_layers(backend_name):
    X, Y, p = _batch_problem()
    Y_hat, grads, dX = _backward_by_hand(X, Y, p)
    model = nnkit.Sequential(layers.Linear(3, 4), layers.Sigmoid(), layers.Linear(4, 2))
    model.load_state_dict({"0.W": p["W1"], "0.b": p["b1"], "2.W": p["W2"], "2.b": p["b2"]})
    loss_fn = losses.BCEWithLogitsLoss()
    loss = loss_fn(model(nnkit.asarray(X)), nnkit.asarray(Y))
    assert loss == pytest.approx(-np.sum(Y * np.log(Y_hat) + (1 - Y) * np.log(1 - Y_hat)) / len(Y), rel=1e-12)
    dX_nnkit = model.backward(loss_fn.backward())
    names = {"0.W": "W1", "0.b": "b1", "2.W": "W2", "2.b": "b2"}
    for name, param in model.named_parameters():
        assert_allclose(nnkit.to_numpy(param.grad), grads[names[name]], rtol=1e-12, atol=1e-15)
    assert_allclose(nnkit.to_numpy(dX_nnkit), dX, rtol=1e-12, atol=1e-15)


def test_the_backward_recursion_for_any_depth_equals_nnkit_layers(backend_name):
    # δ(out) = (Ŷ − Y)/N; per layer dW = A(l−1)ᵀ δ(l), db = Σₙ δ(l), δ(l−1) = (δ(l) W(l)ᵀ) ⊙ f'(Z(l−1))
    rng = np.random.default_rng(7)
    sizes, N = [3, 5, 4, 6, 2], 7
    X, Y = rng.normal(size=(N, sizes[0])), rng.integers(0, 2, size=(N, sizes[-1])).astype(float)
    Ws = [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    bs = [rng.normal(size=b) * 0.1 for b in sizes[1:]]
    A, Z = [X], []
    for W, b in zip(Ws, bs, strict=True):
        Z.append(A[-1] @ W + b)
        A.append(sigmoid(Z[-1]))                            # sigmoid hidden layers and a sigmoid output
    delta = (A[-1] - Y) / N
    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        dWs[l], dbs[l] = A[l].T @ delta, delta.sum(axis=0)
        if l:
            delta = (delta @ Ws[l].T) * dsigmoid(Z[l - 1])
    modules = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        modules += [layers.Linear(a, b), layers.Sigmoid()]
    model = nnkit.Sequential(*modules[:-1])                 # the last Sigmoid lives in the loss
    model.load_state_dict({f"{2 * l}.{name}": value for l, (W, b) in enumerate(zip(Ws, bs, strict=True))
                           for name, value in (("W", W), ("b", b))})
    loss_fn = losses.BCEWithLogitsLoss()
    loss_fn(model(nnkit.asarray(X)), nnkit.asarray(Y))
    model.backward(loss_fn.backward())
    for l in range(len(Ws)):
        assert_allclose(nnkit.to_numpy(model[2 * l].W.grad), dWs[l], rtol=1e-10, atol=1e-14)
        assert_allclose(nnkit.to_numpy(model[2 * l].b.grad), dbs[l], rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------------------- regularised cost

def _regularised_cost(X, Y, p, lam):
    """The slides' J(Θ): cross-entropy summed over the K outputs, mean over m, + λ/2m Σ weights²."""
    m = len(X)
    h = sigmoid(sigmoid(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"])
    data = -np.sum(Y * np.log(h) + (1 - Y) * np.log(1 - h)) / m
    return data + lam / (2 * m) * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))


def test_regularised_cost_gradient_is_lambda_over_m_theta_on_weights_only():
    X, Y, p = _batch_problem()
    lam, m = 0.5, len(X)
    _, grads, _ = _backward_by_hand(X, Y, p)
    expected = {k: g + lam / m * p[k] if k.startswith("W") else g for k, g in grads.items()}
    for name, array in p.items():
        numeric = np.zeros_like(array)
        for idx in np.ndindex(array.shape):
            up, down = dict(p), dict(p)
            up[name], down[name] = array.copy(), array.copy()
            up[name][idx] += 1e-6
            down[name][idx] -= 1e-6
            numeric[idx] = (_regularised_cost(X, Y, up, lam) - _regularised_cost(X, Y, down, lam)) / 2e-6
        assert_allclose(expected[name], numeric, rtol=1e-6, atol=1e-9)
    # the two classic mistakes give different numbers
    assert not np.allclose(grads["W1"] + lam / (2 * m) * p["W1"], expected["W1"])
    assert not np.allclose(grads["b1"] + lam / m * p["b1"], expected["b1"])


def test_regularised_cost_with_nnkit_penalty(backend_name):
    X, Y, p = _batch_problem()
    lam, m = 0.5, len(X)
    model = nnkit.Sequential(layers.Linear(3, 4), layers.Sigmoid(), layers.Linear(4, 2))
    model.load_state_dict({"0.W": p["W1"], "0.b": p["b1"], "2.W": p["W2"], "2.b": p["b2"]})
    loss_fn = losses.BCEWithLogitsLoss()
    weights = losses.weights(model)
    assert [w.shape for w in weights] == [(3, 4), (4, 2)]            # no biases
    cost = loss_fn(model(nnkit.asarray(X)), nnkit.asarray(Y)) + losses.l2_penalty(weights, lam, m=m)
    assert cost == pytest.approx(_regularised_cost(X, Y, p, lam), rel=1e-12)
    model.backward(loss_fn.backward())
    losses.add_l2_grad(weights, lam, m=m)
    _, grads, _ = _backward_by_hand(X, Y, p)
    assert_allclose(nnkit.to_numpy(model[0].W.grad), grads["W1"] + lam / m * p["W1"], rtol=1e-12)
    assert_allclose(nnkit.to_numpy(model[0].b.grad), grads["b1"], rtol=1e-12)
    assert_allclose(nnkit.to_numpy(model[2].W.grad), grads["W2"] + lam / m * p["W2"], rtol=1e-12)


# ----------------------------------------------------------------------------- gradient checking

def test_central_differences_beat_one_sided_ones():
    x, y, w, b = 2.0, 1.0, 0.5, -0.5

    def loss(w_):
        return 0.5 * (y - sigmoid(w_ * x + b)) ** 2

    exact = -(y - sigmoid(w * x + b)) * dsigmoid(w * x + b) * x
    h = 1e-5
    central = abs((loss(w + h) - loss(w - h)) / (2 * h) - exact)
    one_sided = abs((loss(w + h) - loss(w)) / h - exact)
    assert central < 1e-9 < 1e-7 < one_sided
    best_one_sided = min(abs((loss(w + s) - loss(w)) / s - exact) for s in np.logspace(-13, -1, 49))
    assert best_one_sided > 10 * central


def test_gradcheck_catches_a_sigmoid_backward_without_its_derivative(backend_name):
    class BuggySigmoid(layers.Sigmoid):
        def backward(self, dout):
            _, s, _ = self._cache
            return dout * s

    X, _, p = _batch_problem()
    state = {"0.W": p["W1"], "0.b": p["b1"], "2.W": p["W2"], "2.b": p["b2"]}
    good = nnkit.Sequential(layers.Linear(3, 4), layers.Sigmoid(), layers.Linear(4, 2))
    bad = nnkit.Sequential(layers.Linear(3, 4), BuggySigmoid(), layers.Linear(4, 2))
    good.load_state_dict(state)
    bad.load_state_dict(state)
    assert nnkit.gradcheck(good, nnkit.asarray(X)).passed
    errors = nnkit.gradcheck(bad, nnkit.asarray(X)).errors
    assert errors["2.W"] < 1e-6 and errors["2.b"] < 1e-6              # above the bug: fine
    assert min(errors["x"], errors["0.W"], errors["0.b"]) > 1e-2     # below it: wrong


# ----------------------------------------------------------------------------- vanishing gradients

def test_sigmoid_derivative_peaks_at_one_quarter():
    z = np.linspace(-8, 8, 801)
    assert dsigmoid(z).max() == 0.25 and z[dsigmoid(z).argmax()] == 0.0
    assert 0.25 ** 10 < 1e-6                                       # ten layers: a millionth at most


def test_gradients_vanish_through_sigmoid_layers_not_relu(backend_name):
    sig = widgets.layer_gradient_norms("sigmoid", depth=10)
    relu = widgets.layer_gradient_norms("relu", depth=10)
    tanh = widgets.layer_gradient_norms("tanh", depth=10)
    assert sig[-1] / sig[0] > 1e5                                   # the chapter: about 2e6
    assert all(a < b for a, b in zip(sig, sig[1:], strict=False))   # smaller at every step down
    assert relu[-1] / relu[0] < 20 and tanh[-1] / tanh[0] < 5
    assert widgets.layer_gradient_norms("relu", depth=10, gain=2.0)[0] > 1e5   # too large: explode


# ----------------------------------------------------------------------------- figure and widget

def test_vanishing_gradients_widget_redraws_on_every_control(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    calls = []
    monkeypatch.setattr(sys.modules[widgets.draw_gradient_norms.__module__], "draw_gradient_norms",
                        lambda ax, depth, gain: calls.append((depth, gain)))
    row, _ = widgets.vanishing_gradients(depth=10, gain=1.0).children
    depth, gain = row.children
    assert calls == [(10, 1.0)]
    depth.value = 20
    gain.value = 2.0
    assert calls == [(10, 1.0), (20, 1.0), (20, 2.0)]


def test_draw_gradient_norms_draws_one_line_per_activation_with_depth_points():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    widgets.draw_gradient_norms(ax, depth=6, gain=1.0)
    assert [line.get_label() for line in ax.lines] == ["sigmoid", "tanh", "relu"]
    assert all(len(line.get_xdata()) == 6 for line in ax.lines)
    assert ax.get_yscale() == "log"
    plt.close(fig)


def test_computation_graph_figure_shows_every_value_and_local_gradient():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nnkit import viz

    w, x, b = Value(0.5, label="w"), Value(2.0, label="x"), Value(-0.5, label="b")
    J = 0.5 * ((w * x + b).sigmoid() - 1.0) ** 2
    J.backward()
    ax = viz.plot_computation_graph(J)
    texts = [t.get_text() for t in ax.texts]
    boxes = [t for t in texts if "grad" in t]
    assert len(boxes) == len([v for v in J.topological_order() if v.parents or v.label])
    assert any(t.startswith("w\n0.5\ngrad -0.177") for t in texts)
    assert "0.235" in texts                                         # σ'(0.5) on the edge into the sigmoid
    plt.close(ax.figure)
