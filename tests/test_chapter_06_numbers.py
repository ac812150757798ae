"""Chapter 6's claims (COURSE.md, "Activation functions"), asserted numerically, and its figures and widget.

- linear units: stacked linear layers collapse into one whose W is the product of the weight
  matrices, before and after training, so the decision boundary stays linear;
- threshold units pass no gradient; σ' ≤ 1/4 saturates; sigmoid outputs make the next layer's
  weight gradients share one sign; tanh = 2/(1 + e^(−2x)) − 1 (the slide's form);
- dead ReLUs: a large negative bias or a too large learning rate kills units for good; only leaky
  ReLU keeps a fixed slope far on the left (ELU, softplus, GELU, SiLU nearly die); softplus computed
  naively overflows; GELU's tanh form is within 1e-3 of x·Φ(x);
- RBF units interpolate but do not extrapolate; the activation race of section 11.
"""

from __future__ import annotations

import math
import pathlib
import sys

import ipywidgets
import matplotlib
import nbformat

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

import nnkit  # noqa: E402
import nnkit.functional as F  # noqa: E402
from nnkit import data, layers, losses, optim, viz, widgets  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
SPIRALS = data.spirals(n_per_class=100, n_classes=3, noise=0.2, seed=0)
MOONS = data.moons(n_per_class=100, noise=0.15, seed=0)


def _module_of(function):
    """The module that defines ``function``: patch a helper there, where the widget looks it up."""
    return sys.modules[function.__module__]


def _fold(net):
    """The single (W, b) of a network of Linear and Identity layers (host arrays)."""
    linears = [m for m in net if isinstance(m, layers.Linear)]
    W, b = nnkit.to_numpy(linears[0].W.data), nnkit.to_numpy(linears[0].b.data)
    for m in linears[1:]:
        W_m, b_m = nnkit.to_numpy(m.W.data), nnkit.to_numpy(m.b.data)
        W, b = W @ W_m, b @ W_m + b_m
    return W, b


# ----------------------------------------------------------------------------- linear units

def test_stacked_linear_layers_collapse_to_the_product_of_their_weights(backend_name):
    net = nnkit.Sequential(layers.Linear(2, 8), layers.Identity(), layers.Linear(8, 8), layers.Identity(),
                           layers.Linear(8, 2))
    for m in net:
        if isinstance(m, layers.Linear):
            m.b.data = nnkit.asarray(nnkit.backend.rng().normal(size=m.b.shape))
    W, b = _fold(net)
    assert W.shape == (2, 2) and b.shape == (2,)
    X = np.random.default_rng(1).normal(size=(5, 2))
    assert_allclose(nnkit.to_numpy(net(nnkit.asarray(X))), X @ W + b, rtol=1e-12, atol=1e-12)


def test_a_trained_linear_network_is_one_linear_layer_and_draws_a_straight_boundary():
    X, y = MOONS
    lin_net, lin_hist = widgets.train_activation_net(X, y, "identity", hidden=(16, 16))
    _, tanh_hist = widgets.train_activation_net(X, y, "tanh", hidden=(16, 16))
    W, b = _fold(lin_net)
    assert lin_net.num_parameters() == 354
    assert_allclose(nnkit.to_numpy(lin_net(nnkit.asarray(X))), X @ W + b, atol=1e-12)
    assert round(lin_hist.accuracy[-1], 3) == 0.890 and round(tanh_hist.accuracy[-1], 3) == 0.985
    # the boundary is the line where the two scores are equal: every point on one side of it gets one class
    w, c = W[:, 1] - W[:, 0], b[1] - b[0]
    predicted = nnkit.to_numpy(nnkit.predict(lin_net, X))
    assert np.array_equal(predicted, (X @ w + c > 0).astype(predicted.dtype))


# ----------------------------------------------------------------------------- threshold, sigmoid, tanh

def test_no_gradient_passes_a_layer_of_threshold_units(backend_name):
    X, y = MOONS
    nnkit.seed(0)
    net = nnkit.Sequential(layers.Linear(2, 8), layers.Step(), layers.Linear(8, 2))
    loss_fn = losses.CrossEntropyLoss()
    loss_fn(net(nnkit.asarray(X)), nnkit.asarray(y))
    net.backward(loss_fn.backward())
    grads = {name: float(np.abs(nnkit.to_numpy(p.grad)).sum()) for name, p in net.named_parameters()}
    assert grads["0.W"] == 0.0 and grads["0.b"] == 0.0
    assert grads["2.W"] > 0.5 and grads["2.b"] > 0.1


def test_sigmoid_and_tanh_slopes_of_the_chapter():
    points = np.array([0.0, 1.0, 2.0, 5.0, 10.0])
    assert_allclose(F.sigmoid.derivative(points), [0.25, 0.1966, 0.1050, 6.648e-3, 4.540e-5], rtol=1e-3)
    assert_allclose(F.tanh.derivative(points), [1.0, 0.4200, 0.07065, 1.816e-4, 8.245e-9], rtol=1e-3)
    assert F.sigmoid.derivative(np.linspace(-20, 20, 4001)).max() == 0.25     # σ' ≤ 1/4, at 0
    assert F.softsign.derivative(np.array([5.0]))[0] == pytest.approx(1 / 36)
    assert F.softsign.derivative(np.array([5.0]))[0] > 100 * F.tanh.derivative(np.array([5.0]))[0]


def test_the_slides_tanh_formula_and_two_sigma():
    x = np.linspace(-6, 6, 1001)
    assert np.abs(np.tanh(x) - (2 / (1 + np.exp(-2 * x)) - 1)).max() < 1e-15
    assert np.abs(np.tanh(x) - (2 * F.sigmoid(2 * x) - 1)).max() < 1e-15


def test_sigmoid_outputs_give_the_next_layer_one_signed_weight_gradients():
    gen = np.random.default_rng(2)
    X_one, y_one = gen.normal(size=(200, 4)), gen.integers(0, 3, size=200)
    loss_fn, share = losses.CrossEntropyLoss(), {}
    for name in ("sigmoid", "tanh"):
        nnkit.seed(1)
        net = nnkit.Sequential(layers.Linear(4, 5), layers.ACTIVATION_LAYERS[name](), layers.Linear(5, 3))
        one_sign = 0
        for n in range(200):
            net.zero_grad()
            loss_fn(net(nnkit.asarray(X_one[n:n + 1])), nnkit.asarray(y_one[n:n + 1]))
            net.backward(loss_fn.backward())
            signs = np.sign(nnkit.to_numpy(net[2].W.grad))
            one_sign += int(np.sum(np.all(signs == signs[:1], axis=0)))
        share[name] = one_sign / 600
    assert share == {"sigmoid": 1.0, "tanh": 0.0}


def test_tanh_is_zero_centred_and_steeper_than_the_sigmoid():
    z = np.random.default_rng(3).normal(size=100_000)
    assert F.sigmoid(z).mean() == pytest.approx(0.5, abs=2e-3) and abs(F.tanh(z).mean()) < 3e-3
    assert F.tanh.derivative(z).mean() / F.sigmoid.derivative(z).mean() == pytest.approx(2.92, abs=0.05)


# ----------------------------------------------------------------------------- dead ReLUs

def _dead_units(net, X):
    counts, h = [], nnkit.asarray(X)
    for layer in net:
        if isinstance(layer, (layers.ReLU, layers.LeakyReLU)):
            counts.append(int(np.sum(np.all(nnkit.to_numpy(h) <= 0, axis=0))))
        h = layer(h)
    return counts


def _relu_net(first_bias=0.0, act=layers.ReLU):
    nnkit.seed(0)
    net = nnkit.Sequential(layers.Linear(2, 64), act(), layers.Linear(64, 64), act(), layers.Linear(64, 3))
    net[0].b.data = nnkit.asarray(np.full(64, first_bias))
    return net


def test_a_large_negative_bias_kills_relu_units_for_good():
    X, y = SPIRALS
    expected = {0.0: ([0, 5], [0, 8], 0.977), -1.0: ([26, 0], [26, 3], 0.957),
                -2.0: ([61, 4], [61, 16], 0.623), -3.0: ([64, 64], [64, 64], 0.327)}
    for b0, (dead_start, dead_end, acc) in expected.items():
        net = _relu_net(b0)
        W_start = nnkit.to_numpy(net[0].W.data).copy()
        assert _dead_units(net, X) == dead_start
        hist = nnkit.fit(net, losses.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=0.3), SPIRALS,
                         epochs=30, progress=False)
        never_updated = np.all(nnkit.to_numpy(net[0].W.data) == W_start, axis=0)
        assert int(never_updated.sum()) == dead_start[0]      # exactly the units that were dead at the start
        assert _dead_units(net, X) == dead_end and round(hist.accuracy[-1], 3) == acc


def test_a_too_large_learning_rate_kills_relu_units():
    X, y = SPIRALS
    loss_fn, final = losses.CrossEntropyLoss(), {}
    for lr in (0.3, 3.0):
        net = _relu_net()
        opt = optim.SGD(net.parameters(), lr=lr)
        after_one = None
        for _epoch in range(30):
            nnkit.fit(net, loss_fn, opt, SPIRALS, epochs=1, progress=False)
            after_one = after_one if after_one is not None else sum(_dead_units(net, X)) / 128
        final[lr] = (after_one, _dead_units(net, X), nnkit.evaluate(net, loss_fn, X, y)[1])
    assert final[0.3][0] <= 0.1 and sum(final[0.3][1]) / 128 <= 0.1 and final[0.3][2] > 0.95
    assert final[3.0][0] > 0.5 and final[3.0][1] == [43, 64] and final[3.0][2] < 0.4


def test_only_leaky_relu_keeps_a_fixed_slope_far_on_the_left():
    """Section 9: at a first-layer bias of -3 every rectifier but ReLU learns; at -10 the exponentially
    vanishing left slopes of ELU, softplus, GELU and SiLU leave them near chance, the leaky ReLU learns."""
    X, y = SPIRALS
    loss_fn, result = losses.CrossEntropyLoss(), {}
    rectifiers = {"relu": layers.ReLU, "leaky": lambda: layers.LeakyReLU(alpha=0.1), "elu": layers.ELU,
                  "softplus": layers.Softplus, "gelu": layers.GELU, "silu": layers.SiLU}
    for name, act in rectifiers.items():
        for b0 in (-3.0, -10.0):
            net = _relu_net(b0, act)
            loss_fn(net(nnkit.asarray(X)), nnkit.asarray(y))
            net.backward(loss_fn.backward())
            grad = float(np.abs(nnkit.to_numpy(net[0].W.grad)).sum())
            net.zero_grad()
            hist = nnkit.fit(net, loss_fn, optim.SGD(net.parameters(), lr=0.3), SPIRALS, epochs=30,
                             progress=False)
            result[name, b0] = (grad, hist.accuracy[-1])
    assert result["relu", -3.0] == (0.0, pytest.approx(0.327, abs=1e-3)) and result["relu", -10.0][0] == 0.0
    assert result["leaky", -3.0][1] == pytest.approx(0.647, abs=1e-3)
    others = [name for name in rectifiers if name != "relu"]
    assert all(result[name, -3.0][0] > 0.01 and result[name, -3.0][1] > 0.45 for name in others)
    assert result["leaky", -10.0][0] > 0.1 and result["leaky", -10.0][1] > 0.45
    assert result["elu", -10.0][0] == pytest.approx(1.85e-4, rel=0.02) and result["gelu", -10.0][0] == 0.0
    assert all(result[name, -10.0][0] < result[name, -3.0][0] / 500 for name in ("elu", "softplus"))
    assert result["silu", -10.0][0] < result["silu", -3.0][0] / 100
    assert all(result[name, -10.0][1] < 0.4 for name in ("elu", "softplus", "gelu", "silu"))   # near chance


# ----------------------------------------------------------------------------- softplus, RBF

def test_naive_softplus_overflows_and_the_stable_one_does_not():
    x = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with np.errstate(over="ignore"):
        naive = np.log(1 + np.exp(x))
    assert math.isinf(naive[-1]) and naive[1] == 0.0
    assert_allclose(F.softplus(x), [0.0, math.exp(-40), math.log(2), 40.0, 1000.0], rtol=1e-15, atol=0)


def test_rbf_network_interpolates_but_does_not_extrapolate():
    gen = np.random.default_rng(5)
    x_train = np.sort(gen.uniform(-3, 3, size=40))
    y_train = np.sin(2 * x_train) + 0.1 * gen.normal(size=40)
    centres, width = np.linspace(-3, 3, 12), 0.4

    def features(x):
        return np.column_stack([F.gaussian((x[:, None] - centres) / (np.sqrt(2) * width)), np.ones(len(x))])

    w, *_ = np.linalg.lstsq(features(x_train), y_train, rcond=None)

    def rmse(xs):
        return np.sqrt(np.mean((features(xs) @ w - np.sin(2 * xs)) ** 2))

    assert round(rmse(np.linspace(-3, 3, 601)), 3) == 0.076          # between the samples
    assert round(rmse(np.linspace(3, 5, 201)), 3) == 1.185           # beyond them
    assert features(np.array([10.0]))[0, :-1].max() < 1e-60           # far away only the bias is left


# ----------------------------------------------------------------------------- the race and the table

def test_the_activation_race_of_section_11():
    X, y = SPIRALS
    names = ("identity", "step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu", "silu")
    accuracy = {name: np.mean([widgets.train_activation_net(X, y, name, seed=s)[1].accuracy[-1]
                               for s in (0, 1, 2)]) for name in names}
    assert max(accuracy["identity"], accuracy["step"], accuracy["sigmoid"]) < 0.6
    assert min(accuracy[name] for name in ("tanh", "relu", "leaky_relu", "elu", "gelu", "silu")) > 0.95
    assert 0.8 < accuracy["softplus"] < 0.9
    assert round(accuracy["relu"], 3) == 0.977 and round(accuracy["sigmoid"], 3) == 0.563


def test_gelu_tanh_form_is_close_to_x_phi_and_silu_is_x_sigma():
    x = np.linspace(-6, 6, 2001)
    exact = x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    assert np.abs(F.gelu(x) - exact).max() < 1e-3
    assert_allclose(F.silu(x), x * F.sigmoid(x))
    assert F.gelu(x).min() == pytest.approx(-0.170, abs=1e-3)
    assert F.silu(x).min() == pytest.approx(-0.278, abs=1e-3)


def test_a_tenfold_learning_rate_kills_the_relu_net_and_rescues_the_sigmoid_net():
    X, y = SPIRALS
    relu = widgets.train_activation_net(X, y, "relu", lr=3.0)[1]
    sigmoid_slow, sigmoid_fast = (widgets.train_activation_net(X, y, "sigmoid", lr=lr)[1]
                                  for lr in (0.3, 3.0))
    assert relu.loss[-1] > 1.0 and relu.accuracy[-1] < 0.4                  # stalls near ln 3, at chance
    assert sigmoid_fast.accuracy[-1] > 0.8 > 0.6 > sigmoid_slow.accuracy[-1]


def test_the_zoo_table_of_section_13():
    z1, z3 = np.random.default_rng(6).normal(size=(2, 100_000)) * np.array([[1.0], [3.0]])
    mean = {name: act(z1).mean() for name, act in F.ACTIVATIONS.items()}
    saturated = {name: np.mean(np.abs(act.derivative(z3)) < 0.01) for name, act in F.ACTIVATIONS.items()}
    assert mean["relu"] == pytest.approx(1 / math.sqrt(2 * math.pi), abs=3e-3)     # E[max(0, z)]
    assert mean["elu"] == pytest.approx(0.160, abs=2e-3)
    assert mean["softplus"] == pytest.approx(0.806, abs=2e-3)
    shown = {k: round(float(saturated[k]), 2) for k in ("sigmoid", "tanh", "hard_tanh", "relu")}
    assert shown == {"sigmoid": 0.13, "tanh": 0.32, "hard_tanh": 0.74, "relu": 0.5}
    assert saturated["softsign"] < 0.005 and saturated["leaky_relu"] == 0.0 and saturated["step"] == 1.0


# ----------------------------------------------------------------------------- figures and widget

def test_plot_activation_draws_f_and_its_derivative():
    for name, act in F.ACTIVATIONS.items():
        ax = viz.plot_activation(name, **({"alpha": 0.2} if "alpha" in act.params else {}))
        (f_line, d_line) = ax.get_lines()[-2:]
        x = f_line.get_xdata()
        params = {"alpha": 0.2} if "alpha" in act.params else {}
        assert_allclose(f_line.get_ydata(), act(x, **params))
        assert_allclose(d_line.get_ydata(), act.derivative(x, **params))
        assert viz.ACTIVATION_LABELS[name][0] in ax.get_title()
        plt.close("all")
    with pytest.raises(KeyError, match="relu"):
        viz.plot_activation("rectifier")


def test_plot_activation_grid_has_a_panel_per_activation_and_a_legend():
    fig = viz.plot_activation_grid()
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == len(F.ACTIVATIONS) and len(fig.axes) == 16    # 13 panels and the legend, 4 x 4
    assert sum(ax.get_legend() is not None for ax in fig.axes) == 1
    plt.close(fig)


def test_train_activation_net_starts_every_activation_from_the_same_weights(monkeypatch):
    X, y = SPIRALS
    starts = []

    def record_start(model, *args, **kwargs):                           # stands in for nnkit.fit
        starts.append([nnkit.to_numpy(p.data).copy() for p in model.parameters()])
        return nnkit.History()

    monkeypatch.setattr(nnkit.train, "fit", record_start)
    state = nnkit.backend.rng().bit_generator.state
    for name in ("relu", "tanh", "elu"):
        widgets.train_activation_net(X, y, name)
    assert nnkit.backend.rng().bit_generator.state == state              # nnkit's stream untouched
    assert [w.shape for w in starts[0]] == [(2, 32), (32,), (32, 32), (32,), (32, 3), (3,)]
    for other in starts[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(starts[0], other, strict=True))
    with pytest.raises(KeyError, match="leaky_relu"):
        widgets.train_activation_net(X, y, "leaky")


def test_draw_activation_net_titles_the_accuracy(backend_name):
    X, y = data.moons(n_per_class=30, noise=0.1, seed=1)
    fig, axes = plt.subplots(1, 2)
    _, history = widgets.draw_activation_net(axes, nnkit.asarray(X), nnkit.asarray(y), "tanh", epochs=5)
    assert f"training accuracy {history.accuracy[-1]:.0%}" in axes[1].get_title()
    assert "tanh" in axes[0].get_title()
    plt.close(fig)


def test_activation_explorer_redraws_on_every_control(monkeypatch):
    calls = []
    monkeypatch.setattr(_module_of(widgets.activation_explorer), "draw_activation_net",
                        lambda axes, X, y, activation, lr, epochs: calls.append((activation, lr)))
    X, y = MOONS
    widget = widgets.activation_explorer(X, y, activation="relu", lr=0.3)
    menu, slider = widget.children[0].children
    assert isinstance(widget.children[1], ipywidgets.Output)
    assert calls[-1] == ("relu", 0.3) and set(dict(menu.options).values()) == set(F.ACTIVATIONS)
    menu.value = "elu"
    assert calls[-1] == ("elu", 0.3)
    slider.value = 1.0
    assert calls[-1][0] == "elu" and calls[-1][1] == pytest.approx(1.0)
    plt.close("all")


# ----------------------------------------------------------------------------- the exercises' checks

def test_the_exercise_checks_accept_other_correct_answers_and_refuse_np_tanh(tmp_path):
    """Right answers written differently (the other ReLU convention at 0, np.logaddexp, ...) pass;
    np.tanh in the exercise that asks for exponentials fails (the other wrong answers: verify, in
    tests/test_course_exercises.py)."""
    from nnkit.course.build import read, tag_name
    from nnkit.course.verify import run_variants

    variants = {
        "tanh": {"slide_form": "return 2 / (1 + np.exp(-2 * x)) - 1", "np_tanh": "return np.tanh(x)"},
        "relu_backward": {"greater_or_equal": "return dout * (x >= 0)",
                          "where": "return np.where(x > 0, dout, 0.0)"},
        "leaky_relu": {"maximum": ["return np.maximum(alpha * x, x)",
                                   "return np.where(x > 0, dout, alpha * dout)"]},
        "elu": {"expm1": ["return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))",
                          "return dout * np.where(x > 0, 1.0, elu_forward(x, alpha) + alpha)"]},
        "softplus": {"logaddexp": "return np.logaddexp(0, x)"},
        "dead_units": {"max": "return int(np.sum(Z.max(axis=0) <= 0))"},
    }
    nb = read(ROOT / "solutions" / "06_activations.ipynb")
    for cell in nb.cells:
        name = tag_name(cell, "solution") if cell.cell_type == "code" else None
        if name is not None:
            cell.metadata["course"]["wrong_answers"] = variants.get(name, {})
    path = tmp_path / "06_other_answers.ipynb"
    nbformat.write(nb, path)
    results = run_variants(path)
    labels = {f"{name}/{label}" for name, answers in variants.items() for label in answers}
    assert set(results) == {"solution", "exercise", "blank"} | labels
    for label, outcomes in results.items():
        assert not isinstance(outcomes, str), f"{label}: {outcomes}"
        failed = {name for name, why in outcomes.items() if why is not None}
        if label == "tanh/np_tanh":
            assert failed == {"tanh"}
        elif label not in ("exercise", "blank"):
            assert not failed, f"{label} fails {failed}: {outcomes}"
