"""Numbers chapters 2 and 3 show beyond the slides' worked numbers (those are in test_worked_numbers.py),
and the chapter 2/3 figure and widget helpers."""

from __future__ import annotations

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
    assert_allclose(heights, host(F.softmax(nnkit.asarray(worked.SOFTMAX_LOGITS))))
    assert "T = 1.00" in ax.get_title()
    with pytest.raises(ValueError, match="positive"):
        widgets.draw_softmax_temperature(ax, np.array([1.0, 2.0]), temperature=0.0)
    plt.close(fig)


def test_softmax_temperature_widget_redraws_on_change(monkeypatch):
    calls = []
    monkeypatch.setattr(widgets, "draw_softmax_temperature",
                        lambda ax, z, temperature: calls.append(temperature))
    widget = widgets.softmax_temperature(np.array(worked.SOFTMAX_LOGITS))
    row, output = widget.children
    assert isinstance(output, ipywidgets.Output)
    (slider,) = row.children
    assert calls == [1.0]
    slider.value = 0.2
    assert calls[-1] == pytest.approx(0.2)
    plt.close("all")
