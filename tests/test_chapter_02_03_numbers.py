"""Numbers chapters 2 and 3 show beyond the slides' worked numbers (those are in test_worked_numbers.py),
and the chapter 2/3 figure and widget helpers."""

from __future__ import annotations

import sys

import ipywidgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

import nnkit  # noqa: E402
from nnkit import functional as F  # noqa: E402
from nnkit import losses, viz, widgets, worked  # noqa: E402
from nnkit.layers import Linear  # noqa: E402


def host(a):
    return nnkit.to_numpy(a)


def sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


# ----------------------------------------------------------------------------- chapter 2

def test_sigmoid_network_batch_and_erratum_numbers(backend_name):
    model, _ = worked.sigmoid_network()
    X = np.array([[-3.0, 1.0, 5.0], [7.0, 1.0, -4.0], [0.0, 0.0, 0.0]])
    out = host(model(nnkit.asarray(X)))[:, 0]
    assert_allclose(out, [0.639179, 0.119164, 0.784645], atol=1e-6)
    rows, bias = worked.SIGMOID_HIDDEN
    (u,), (c,) = worked.SIGMOID_OUTPUT
    zero_input = sigmoid(np.dot(u, sigmoid(np.array(bias, float))) + c)
    assert np.isclose(out[2], zero_input), "an all-zero input: only the biases speak"
    f_in = np.dot(u, sigmoid(np.array(rows, float) @ X[0] + bias)) + c
    assert np.isclose(1 / (1 + np.exp(f_in)), 1 - out[0]) and round(1 / (1 + np.exp(f_in)), 4) == 0.3608


def test_rounding_the_hidden_activations_moves_f_in():
    (u,), (c,) = worked.SIGMOID_OUTPUT
    assert round(float(np.dot(u, [0.05, 0.88, 0.50, 0.99]) + c), 2) == 0.58
    assert round(float(np.dot(u, sigmoid(np.array([-3.0, 2.0, 0.0, 7.0]))) + c), 4) == 0.5718


def test_deep_network_softmax_is_truncated_on_the_slide(backend_name):
    model, x = worked.deep_relu_network()
    p = host(F.softmax(model(x)))[0]
    assert (np.floor(p * 1000) / 1000).tolist() == [0.866, 0.015, 0.117]
    assert round(float(p[0]), 3) == 0.867, "rounding (not truncating) gives 0.867"


def test_a_transposed_square_weight_runs_and_is_wrong():
    rows, bias = worked.DEEP_LAYERS[1]
    a1 = np.array([79.0, 0.0, 9.0, 0.0])
    assert_allclose(a1 @ np.array(rows, float).T + bias, [38, 21, -96, -35])
    assert_allclose(a1 @ np.array(rows, float) + bias, [65, 48, -333, 215])


def test_parameter_counts():
    assert worked.sigmoid_network()[0].num_parameters() == 21
    assert worked.deep_relu_network()[0].num_parameters() == 71
    assert worked.multiclass_network()[0].num_parameters() == 31
    assert Linear(32 * 32 * 3, 1024, init="zeros").num_parameters() == 3_146_752
    assert 32 * (5 * 5 * 3 + 1) == 2432


def test_plot_forward_trace_draws_each_layer_and_the_softmax():
    pre = [np.array([79.0, -70, 9, -26]), np.array([38.0, 21, -96, -35]), np.array([0.0, 24, -54, 17])]
    fig = viz.plot_forward_trace(pre, np.array([0.8668, 0.0159, 0.1173]), title="t")
    axes = fig.axes
    assert len(axes) == 4 and axes[-1].get_title() == "output: softmax"
    hatched = [patch.get_hatch() for patch in axes[0].patches]
    assert hatched == [None, "//", None, "//"], "units zeroed by ReLU are hatched"
    assert [patch.get_hatch() for patch in axes[2].patches][0] == "//", "a pre-activation of 0 is zeroed too"
    plt.close(fig)


# ----------------------------------------------------------------------------- chapter 3

def test_naive_softmax_overflows_and_the_stable_one_does_not(backend_name):
    z = np.array([1.0, 1000.0, 2.0])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(z) / np.exp(z).sum()
    assert np.isnan(naive[1])
    assert host(F.softmax(nnkit.asarray(z))).tolist() == [0.0, 1.0, 0.0]
    assert_allclose(host(F.log_softmax(nnkit.asarray([800.0, 0.0]))), [0.0, -800.0])


def test_shift_invariance_and_temperature(backend_name):
    z = nnkit.asarray(worked.SOFTMAX_LOGITS)
    assert_allclose(host(F.softmax(z + 10.0)), host(F.softmax(z)))
    p_cold, p_hot = host(F.softmax(z / 0.1)), host(F.softmax(z / 5.0))
    assert round(float(p_cold[2]), 2) == 0.88 and p_cold.argmax() == 2
    assert np.ptp(p_hot) < 0.1, "a high temperature is nearly uniform"


def test_multiclass_cross_entropy_per_true_class(backend_name):
    model, x = worked.multiclass_network()
    logits = model(x)
    loss_fn = losses.CrossEntropyLoss()
    costs = [loss_fn(logits, nnkit.asarray([k])) for k in range(3)]
    assert_allclose(costs, [2.4883, 0.1085, 3.9228], atol=5e-5)
    loss_fn(logits, nnkit.asarray([1]))
    assert_allclose(host(loss_fn.backward())[0], [0.0831, -0.1028, 0.0198], atol=5e-5)  # p - y


def test_jacobian_chain_rule_gives_p_minus_y(backend_name):
    p = F.softmax(nnkit.asarray([0.571802, 2.951549, -0.862710]))
    J, hp = host(F.softmax_jacobian(p)), host(p)
    y = np.array([0.0, 1.0, 0.0])
    assert_allclose(J.T @ (-y / hp), hp - y, atol=1e-12)
    assert_allclose(J.sum(axis=1), 0.0, atol=1e-15)


def test_log_likelihood_ascent_equals_cross_entropy_descent():
    gen = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    X = np.array([[0.0, 2.0], [-2.0, -1.0], [2.0, -1.0]])[y] + gen.normal(size=(120, 2))
    Y, n = np.eye(3)[y], len(X)
    W_up, W_dn = np.zeros((2, 3)), np.zeros((2, 3))
    for _ in range(60):
        W_up = W_up + (0.5 / n) * X.T @ (Y - host(F.softmax(X @ W_up)))
        W_dn = W_dn - 0.5 * X.T @ ((host(F.softmax(X @ W_dn)) - Y) / n)
    assert_allclose(W_up, W_dn, atol=1e-12)
    loglik = host(F.log_softmax(X @ W_up))[np.arange(n), y].sum()
    assert loglik > -0.2 * n * np.log(3), "far better than uniform guessing (log-likelihood -N log 3)"


def test_draw_softmax_temperature_bars_and_title():
    fig, ax = plt.subplots()
    widgets.draw_softmax_temperature(ax, np.array(worked.SOFTMAX_LOGITS), temperature=1.0)
    heights = [patch.get_height() for patch in ax.patches]
    p = host(F.softmax(nnkit.asarray(worked.SOFTMAX_LOGITS)))
    assert_allclose(heights, p)
    assert "τ = 1.00" in ax.get_title()
    assert f"entropy {-np.sum(p * np.log(p)):.2f} nats" in ax.get_title()
    assert f"ln K = {np.log(5):.2f}" in ax.get_title()
    with pytest.raises(ValueError, match="positive"):
        widgets.draw_softmax_temperature(ax, np.array([1.0, 2.0]), temperature=0.0)
    plt.close(fig)


def test_softmax_temperature_widget_redraws_on_change(monkeypatch):
    calls = []
    monkeypatch.setattr(sys.modules[widgets.draw_softmax_temperature.__module__], "draw_softmax_temperature",
                        lambda ax, z, temperature: calls.append((temperature, z.copy())))
    logits = np.array(worked.SOFTMAX_LOGITS)
    widget = widgets.softmax_temperature(logits)
    row, output = widget.children
    assert isinstance(output, ipywidgets.Output)
    temperature, first = row.children
    assert calls[-1][0] == 1.0 and np.array_equal(calls[-1][1], logits)
    temperature.value = 0.2
    assert calls[-1][0] == pytest.approx(0.2)
    first.value = 3.0
    assert calls[-1][1][0] == 3.0 and np.array_equal(calls[-1][1][1:], logits[1:])
    assert np.array_equal(logits, worked.SOFTMAX_LOGITS), "the caller's logits are never changed"
    plt.close("all")


# ----------------------------------------------------------------------------- chapter 3: information theory

def test_cross_entropy_is_entropy_plus_kl_and_never_below_the_entropy():
    p = np.array([0.7, 0.2, 0.1])
    entropy = -np.sum(p * np.log(p))
    assert round(entropy, 2) == 0.80, "the chapter quotes H(p) = 0.80 nats"
    for q in ([0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.1, 0.2, 0.7]):
        q = np.array(q)
        cross = -np.sum(p * np.log(q))
        kl = np.sum(p * np.log(p / q))
        assert np.isclose(cross, entropy + kl) and kl >= 0
    y = np.array([0.0, 1.0, 0.0])                          # one-hot: entropy 0, so H(y, p) = KL = -log p_y
    probs = np.array([0.2, 0.5, 0.3])
    assert np.isclose(-np.sum(y * np.log(probs)), -np.log(0.5))


def test_first_loss_is_ln_k_with_small_weights_and_far_above_with_large_ones():
    gen = np.random.default_rng(1)
    X, labels = gen.normal(size=(500, 64)), gen.integers(0, 10, size=500)
    first = {}
    for s in (0.01, 1.0):
        with nnkit.backend.seeded(0):
            layer = Linear(64, 10, init=nnkit.init.normal(s))
        first[s] = float(losses.CrossEntropyLoss()(layer(nnkit.asarray(X)), nnkit.asarray(labels)))
    assert round(first[0.01], 2) == round(np.log(10), 2)
    assert first[1.0] > 3 * np.log(10)


def test_squared_error_on_probabilities_barely_pushes_a_confidently_wrong_example():
    z, y = np.array([6.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    p = host(F.softmax(nnkit.asarray(z)))
    jacobian = host(F.softmax_jacobian(nnkit.asarray(p)))
    ce, mse = p - y, jacobian.T @ (p - y)
    assert ce[1] < -0.99 and -0.006 < mse[1] < -0.004
    assert 150 < ce[1] / mse[1] < 250, "about two hundred times weaker, as the chapter says"


# ----------------------------------------------------------------------------- chapters 0-3: new figures

def test_plot_arrays_draws_every_value_in_a_grid():
    X = np.arange(12.0).reshape(4, 3)
    fig = viz.plot_arrays({"X": X, "X.mean(axis=0)": X.mean(axis=0)}, title="t")
    left, right = fig.axes
    assert sorted(float(t.get_text()) for t in left.texts) == X.ravel().tolist()
    assert [t.get_text() for t in right.texts] == ["4.5", "5.5", "6.5"]
    assert "shape (4, 3)" in left.get_title() and "shape (3,)" in right.get_title()
    plt.close(fig)


def test_plot_hidden_layer_counts_the_relu_regions():
    W, b = np.array([[1.0, -1.0, 0.2], [0.5, 0.8, -1.0]]), np.array([0.3, 0.2, 0.4])
    fig = viz.plot_hidden_layer(W, b, lim=2.0)
    assert len(fig.axes) >= 4 and fig.axes[3].get_title().startswith("7 regions")
    assert sorted(t.get_text() for t in fig.axes[3].texts) == sorted(["1", "12", "123", "13", "2", "23", "3"])
    plt.close(fig)
    fig = viz.plot_hidden_layer(np.array([[1.0], [0.0]]), np.array([0.0]))    # one vertical line: 2 regions
    assert fig.axes[1].get_title().startswith("2 regions")
    plt.close(fig)


def test_draw_network_with_weights_labels_and_colours_every_edge():
    model, _ = worked.sigmoid_network()
    W1, W2 = host(model[0].W.data), host(model[2].W.data)
    fig, ax = plt.subplots()
    viz.draw_network([3, 4, 1], ax=ax, max_nodes=4, weights=[W1, W2])
    labels = sorted(float(t.get_text()) for t in ax.texts if t.get_text().lstrip("-").isdigit())
    assert labels == sorted(np.concatenate([W1.ravel(), W2.ravel()]).tolist())
    colours = {line.get_color() for line in ax.lines}
    assert colours == {viz.PALETTE[0], viz.PALETTE[5]}, "positive blue, negative vermillion"
    with pytest.raises(ValueError, match="shapes"):
        viz.draw_network([3, 4, 1], ax=ax, max_nodes=4, weights=[W1.T, W2])
    plt.close(fig)


def test_plot_loss_contour_draws_the_path_from_start_to_end():
    path = np.array([[1.0, 1.0], [0.5, 0.4], [0.1, 0.05]])
    fig, ax = plt.subplots()
    viz.plot_loss_contour(lambda a, b: a ** 2 + b ** 2, path, (-1.5, 1.5), (-1.5, 1.5), ax=ax)
    traced = ax.lines[0].get_xydata()
    assert np.array_equal(traced, path)
    assert ax.get_xlabel() == "$w_1$" and ax.get_legend() is not None
    plt.close(fig)


def test_decision_boundary_shaded_by_probability_for_a_binary_logit():
    X = np.array([[-1.0, 0.0], [1.0, 0.0], [-0.5, 1.0], [0.5, -1.0]])
    y = np.array([0, 1, 0, 1])
    fig, ax = plt.subplots()
    viz.plot_decision_boundary(lambda P: P[:, :1] * 3.0, X, y, ax=ax, probability=True, equal_aspect=False)
    image = ax.images[0].get_array()
    assert image.min() < 0.05 and image.max() > 0.95, "σ(logit) from near 0 to near 1"
    assert ax.get_aspect() == "auto"
    plt.close(fig)
