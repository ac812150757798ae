"""Chapter 7 (optimisation and regularisation): the slides' formulas and the chapter's claims, checked.

- the slides' penalties L2 = λ/2 Σ w² ("medium-size"), L1 = λ Σ |w| ("kills parameters"), and
  dropout with p = 0.5 as the default, with inverted scaling;
- the optimiser paths on the 2-D surfaces of nnkit.widgets (ravine, valley, double well): the
  closed form of SGD on the ravine, momentum's 1/(1 − μ), Adam's bias-corrected first step;
- initialisation (symmetry, activation spread), the loss-landscape slice of nnkit.viz, the
  L1-vs-L2 weight histograms, and the chapter 7 widget;
- the exercise decision that Adam with ε inside the square root passes the check;
- section 11's grid and random search of η and λ on the digits (Bergstra and Bengio, 2012).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nnkit  # noqa: E402
from nnkit import data, init, layers, losses, optim, viz, widgets  # noqa: E402
from nnkit import functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- the slides' formulas

def test_the_slides_penalties_are_nnkits_with_m_equal_to_one(backend_name):
    W = nnkit.Parameter(nnkit.asarray([[1.0, -2.0], [0.0, 3.0]]))
    lam = 0.5
    assert losses.l2_penalty([W], lam) == pytest.approx(lam / 2 * (1 + 4 + 0 + 9))   # λ/2 Σ w²
    assert losses.l1_penalty([W], lam) == pytest.approx(lam * (1 + 2 + 0 + 3))       # λ Σ |w|
    losses.add_l2_grad([W], lam)
    np.testing.assert_allclose(nnkit.to_numpy(W.grad), lam * np.array([[1.0, -2.0], [0.0, 3.0]]))
    W.zero_grad()
    losses.add_l1_grad([W], lam)
    np.testing.assert_allclose(nnkit.to_numpy(W.grad), lam * np.array([[1.0, -1.0], [0.0, 1.0]]))


def test_dropout_defaults_to_the_slides_p_half_and_keeps_the_mean(backend_name):
    drop = layers.Dropout()
    assert drop.p == 0.5
    x = nnkit.asarray(np.ones((400, 100)))
    out = nnkit.to_numpy(drop(x))
    assert set(np.unique(out)) == {0.0, 2.0}                       # survivors scaled by 1/(1 − p)
    assert abs(np.mean(out == 0) - 0.5) < 0.01 and abs(out.mean() - 1.0) < 0.02
    grad = nnkit.to_numpy(drop.backward(nnkit.asarray(np.ones((400, 100)))))
    np.testing.assert_array_equal(grad, out)                      # the same mask, the same scale
    drop.eval()
    np.testing.assert_array_equal(nnkit.to_numpy(drop(x)), 1.0)


# ----------------------------------------------------------------------------- optimiser paths

def test_sgd_on_the_ravine_follows_the_closed_form(backend_name):
    path, path_losses = widgets.optimizer_path("ravine", "SGD", lr=0.9, steps=50)
    t = np.arange(51)[:, None]
    closed_form = (1 - 0.9 * np.array([0.04, 2.0])) ** t * np.array([-8.0, 2.0])   # (1 − η a_i)^t w_i(0)
    np.testing.assert_allclose(path, closed_form, atol=1e-12)
    assert path_losses[-1] == pytest.approx(0.0327, abs=1e-4)
    assert path[-1, 0] == pytest.approx(-1.2792, abs=1e-4)


def test_sgd_diverges_on_the_ravine_once_eta_exceeds_two_over_the_steep_curvature():
    fig, ax = plt.subplots()
    path, _ = widgets.draw_optimizer_path(ax, "ravine", "SGD", lr=1.02)
    assert abs(path[-1, 1]) > abs(path[0, 1])          # the steep direction grows
    path, _ = widgets.optimizer_path("ravine", "SGD", lr=3.0, steps=200)
    assert len(path) < 201                              # a run that blows up stops early
    widgets.draw_optimizer_path(ax, "ravine", "SGD", lr=3.0, steps=200)
    assert "blew up" in ax.get_title()
    plt.close(fig)


def test_momentum_velocity_limits_of_the_chapter():
    mu = 0.9
    for gradients, limit, printed in ((np.ones(60), 1 / (1 - mu), 9.9820),
                                      ((-1.0) ** np.arange(60), 1 / (1 + mu), 0.5254)):
        v = 0.0
        for g in gradients:
            v = mu * v + g
        assert abs(v) == pytest.approx(printed, abs=1e-4)
        assert abs(v) == pytest.approx(limit, rel=0.01)


def test_adam_first_step_is_lr_times_the_sign_whatever_the_gradient_scale(backend_name):
    for scale in (1e-3, 1.0, 1e3):
        p = nnkit.Parameter(nnkit.asarray([0.0, 0.0]))
        opt = optim.Adam([p], lr=0.01)
        p.grad = nnkit.asarray([scale, -scale])
        opt.step()
        np.testing.assert_allclose(nnkit.to_numpy(p.data), [-0.01, 0.01], rtol=1e-4)  # ε = 1e-8


def test_optimisers_take_numpy_scalar_settings_on_every_backend(backend_name):
    """Searches draw settings with NumPy (section 11): np.float64 η, λ, μ, β must work on a device too."""
    settings = {"SGD": dict(momentum=np.float64(0.9), weight_decay=np.float64(1e-3)),
                "Adam": dict(betas=(np.float64(0.9), np.float64(0.999)), eps=np.float64(1e-8),
                             weight_decay=np.float64(1e-3)),
                "RMSProp": dict(rho=np.float64(0.9), eps=np.float64(1e-8)),
                "Adagrad": dict(eps=np.float64(1e-8))}
    for name, kwargs in settings.items():
        p = nnkit.Parameter(nnkit.asarray([1.0, -2.0]))
        opt = getattr(optim, name)([p], lr=10 ** np.float64(-2), **kwargs)
        p.grad = nnkit.asarray([0.5, 0.5])
        opt.step()
        assert np.all(nnkit.to_numpy(p.data) < [1.0, -2.0]), name


def test_every_surface_and_optimiser_completes_at_its_stored_learning_rate(backend_name):
    for name, surface in widgets.LOSS_SURFACES.items():
        for optimizer in widgets.OPTIMIZER_NAMES:
            path, path_losses = widgets.optimizer_path(name, optimizer)
            assert path.shape == (surface.steps + 1, 2), (name, optimizer)
            assert np.all(np.isfinite(path_losses)) and path_losses[-1] < path_losses[0], (name, optimizer)


def test_the_side_by_side_claims_of_section_4():
    final = {(s, o): widgets.optimizer_path(s, o)[1][-1] for s in ("ravine", "valley")
             for o in ("SGD", "momentum", "RMSProp", "Adam")}
    for o in ("momentum", "RMSProp", "Adam"):
        assert final["ravine", o] < final["ravine", "SGD"]
        assert final["valley", o] < final["valley", "SGD"]
    assert final["ravine", "RMSProp"] < 1e-6                            # lands on the minimum
    assert final["valley", "momentum"] < 1e-3 and final["valley", "Adam"] < 1e-3
    assert final["valley", "SGD"] > 1.0                                 # still crawling


def test_the_paths_are_the_same_on_every_backend(backend_name):
    with nnkit.use_backend("numpy"):
        reference = widgets.optimizer_path("valley", "Adam")[0]
    np.testing.assert_allclose(widgets.optimizer_path("valley", "Adam")[0], reference, atol=1e-12)


# ----------------------------------------------------------------------------- the landscape

def test_double_well_critical_points_and_where_sgd_ends():
    well = widgets.LOSS_SURFACES["double well"]
    roots = sorted(np.roots([4.0, 0.0, -4.0, 0.25]).real)
    np.testing.assert_allclose(roots, [well.minima[0][0], well.saddles[0][0], well.minima[1][0]], atol=1e-6)
    hessian_11 = [12 * r**2 - 4 for r in roots]
    assert hessian_11[0] > 0 and hessian_11[1] < 0 and hessian_11[2] > 0  # min, saddle, min
    assert well.loss(roots[0], 0) < well.loss(roots[2], 0)                 # the left one is global
    assert well.lowest == pytest.approx(well.loss(roots[0], 0))
    ends = {name: widgets.optimizer_path(well, "SGD", start=start)[0][-1]
            for name, start in (("left", (-0.3, 1.8)), ("right", (0.3, 1.8)),
                                ("saddle", (well.saddles[0][0], 1.8)))}
    assert ends["left"][0] == pytest.approx(roots[0], abs=1e-2)
    assert ends["right"][0] == pytest.approx(roots[2], abs=1e-2)
    assert ends["saddle"][0] == pytest.approx(roots[1], abs=1e-2)          # stuck on the saddle
    noisy = widgets.optimizer_path(well, "SGD", start=(well.saddles[0][0], 1.8), noise=0.3)[0][-1]
    assert abs(noisy[0] - roots[1]) > 0.5                                   # noise knocks it off


def test_random_symmetric_matrices_are_almost_never_positive_definite():
    gen = np.random.default_rng(0)
    fractions = []
    for n in (1, 2, 4, 6):
        A = gen.standard_normal((20000, n, n))
        fractions.append(np.mean(np.all(np.linalg.eigvalsh((A + np.swapaxes(A, 1, 2)) / 2) > 0, axis=1)))
    assert fractions[0] == pytest.approx(0.5, abs=0.02)
    assert fractions == sorted(fractions, reverse=True) and fractions[-1] < 1e-3


def _small_trained_net():
    X, y = data.spirals(n_per_class=40, n_classes=3, noise=0.2, seed=0)
    nnkit.seed(0)
    net = nnkit.Sequential(layers.Linear(2, 16), layers.ReLU(), layers.Linear(16, 3))
    nnkit.fit(net, losses.CrossEntropyLoss(), optim.Adam(net.parameters(), lr=0.02), (X, y), epochs=60,
              batch_size=30, progress=False)
    return net, X, y


def test_random_direction_is_filter_normalised():
    net, _, _ = _small_trained_net()
    direction = viz.random_direction(net, seed=3)
    for p, d in zip(net.parameters(), direction, strict=True):
        w = nnkit.to_numpy(p.data)
        assert d.shape == w.shape
        if w.ndim == 1:
            assert not np.any(d)                                             # biases stay put
        else:
            np.testing.assert_allclose(np.linalg.norm(d, axis=0), np.linalg.norm(w, axis=0), rtol=1e-9)
    kernel = nnkit.Parameter(nnkit.asarray(np.random.default_rng(0).normal(size=(4, 2, 3, 3))))
    module = nnkit.Module()
    module.kernel = kernel
    (d,) = viz.random_direction(module)
    np.testing.assert_allclose(np.linalg.norm(d.reshape(4, -1), axis=1),
                               np.linalg.norm(nnkit.to_numpy(kernel.data).reshape(4, -1), axis=1))


def test_loss_landscape_is_centred_on_the_trained_weights_and_restores_them(backend_name):
    net, X, y = _small_trained_net()
    before = net.state_dict()
    loss_fn = losses.CrossEntropyLoss()
    alphas, betas, Z = viz.loss_landscape(net, loss_fn, X, y, span=1.0, steps=9)
    assert alphas.shape == betas.shape == (9,) and Z.shape == (9, 9)
    assert Z[4, 4] == pytest.approx(nnkit.evaluate(net, loss_fn, X, y)[0], rel=1e-9)
    assert Z[4, 4] < 0.5 * min(Z[0, 0], Z[0, -1], Z[-1, 0], Z[-1, -1])    # a basin around θ*
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    fig, ax = plt.subplots()
    assert viz.plot_loss_landscape(alphas, betas, Z, ax=ax) is ax
    plt.close(fig)


# ----------------------------------------------------------------------------- initialisation

def test_equal_initial_weights_keep_the_hidden_units_identical():
    X, y = data.spirals(n_per_class=50, n_classes=3, noise=0.2, seed=0)
    for initialiser in ("zeros", init.uniform(0.5, 0.5)):
        nnkit.seed(0)
        net = nnkit.Sequential(layers.Linear(2, 8, init=initialiser), layers.Tanh(),
                               layers.Linear(8, 3, init=initialiser))
        nnkit.fit(net, losses.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=0.5), (X, y), epochs=20,
                  progress=False)
        W1 = nnkit.to_numpy(net[0].W.data)
        np.testing.assert_allclose(W1, W1[:, :1] * np.ones((1, 8)), atol=1e-12)
        if initialiser == "zeros":
            assert not np.any(W1) and not np.any(nnkit.to_numpy(net[2].W.data))   # no gradient at all


def _spread(initialiser, activation, depth=10, width=256):
    nnkit.seed(0)
    h = nnkit.asarray(np.random.default_rng(0).standard_normal((500, width)))
    spreads = []
    for _ in range(depth):
        h = activation(h @ initialiser(width, width))
        spreads.append(float(nnkit.to_numpy(h).std()))
    return spreads


def test_activation_spread_vanishes_saturates_or_holds_as_the_chapter_says():
    small = _spread(init.normal(0.01), F.tanh)
    assert small[-1] < 1e-6 and small[4] / small[5] == pytest.approx(1 / math.sqrt(256 * 1e-4), rel=0.1)
    assert min(_spread(init.normal(1.0), F.tanh)) > 0.95                    # saturated at ±1
    assert 0.15 < _spread(init.xavier_normal, F.tanh)[-1] < 0.5
    he = _spread(init.he_normal, F.relu)
    assert 0.5 < min(he) and max(he) < 2.0                                  # held level
    xavier_relu = _spread(init.xavier_normal, F.relu)
    assert xavier_relu[-1] / xavier_relu[0] < 0.1                          # halves the variance per layer


# ----------------------------------------------------------------------------- regularisation

def _moons_weights(l1=0.0, l2=0.0, epochs=600):
    X, y = data.moons(n_per_class=20, noise=0.3, seed=1)
    nnkit.seed(0)
    net = nnkit.Sequential(layers.Linear(2, 32, init="xavier_normal"), layers.Tanh(),
                           layers.Linear(32, 32, init="xavier_normal"), layers.Tanh(),
                           layers.Linear(32, 2, init="xavier_normal"))
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    loss_fn, weights = losses.CrossEntropyLoss(), losses.weights(net)
    xb, yb = nnkit.asarray(X), nnkit.asarray(y)
    for _ in range(epochs):
        opt.zero_grad()
        loss_fn(net(xb), yb)
        net.backward(loss_fn.backward())
        losses.add_l2_grad(weights, l2, m=40)
        losses.add_l1_grad(weights, l1, m=40)
        opt.step()
    return np.concatenate([nnkit.to_numpy(p.data).ravel() for p in weights])


def test_l1_kills_weights_and_l2_makes_them_medium_size():
    plain, l2, l1 = _moons_weights(), _moons_weights(l2=0.3), _moons_weights(l1=0.1)
    near_zero = {name: np.mean(np.abs(w) < 0.01) for name, w in (("plain", plain), ("l2", l2), ("l1", l1))}
    assert near_zero["l1"] > 0.9 and near_zero["l2"] < 0.3 and near_zero["plain"] < 0.1
    assert np.abs(l2).max() < 0.6 * np.abs(plain).max()                    # the largest weights shrink
    assert np.abs(l1).max() > np.abs(l2).max()                              # L1's survivors stay large


# ----------------------------------------------------------------------------- the widget

def _controls(widget):
    row, _output = widget.children
    return {control.description: control for control in row.children}


def test_optimizer_explorer_redraws_on_every_control_and_resets_the_learning_rate(monkeypatch):
    calls = []
    real = widgets.draw_optimizer_path

    def spy(ax, surface, optimizer, lr=None, steps=None, **kw):
        calls.append((surface, optimizer, round(lr, 6), steps))
        return real(ax, surface, optimizer, lr, steps, **kw)

    explorer_module = sys.modules[widgets.optimizer_explorer.__module__]     # where the widget looks it up
    monkeypatch.setattr(explorer_module, "draw_optimizer_path", spy)
    widget = widgets.optimizer_explorer(surface="ravine", optimizer="momentum")
    controls = _controls(widget)
    assert set(controls) == {"surface", "optimiser", "learning rate η", "steps"}
    assert calls[-1] == ("ravine", "momentum", 0.1, 50)
    controls["learning rate η"].value = 0.05
    assert calls[-1][2] == 0.05
    controls["steps"].value = 20
    assert calls[-1][3] == 20
    controls["optimiser"].value = "Adam"
    assert calls[-1][:3] == ("ravine", "Adam", widgets.LOSS_SURFACES["ravine"].learning_rates["Adam"])
    controls["surface"].value = "valley"
    assert calls[-1][:3] == ("valley", "Adam", widgets.LOSS_SURFACES["valley"].learning_rates["Adam"])
    plt.close("all")


def test_unknown_names_give_clear_errors():
    with pytest.raises(ValueError, match="choose one of"):
        widgets.optimizer_path("bowl", "SGD")
    with pytest.raises(ValueError, match="choose one of"):
        widgets.make_optimizer("LBFGS", [nnkit.Parameter(nnkit.asarray([0.0]))], 0.1)


# ----------------------------------------------------------------------------- the exercises

def _check_cell(name: str) -> str:
    cells = json.loads((ROOT / "solutions" / "07_optimisation.ipynb").read_text())["cells"]
    (cell,) = [c for c in cells if f"check:{name}" in c.get("metadata", {}).get("tags", [])]
    return "".join(cell["source"])


def test_adam_with_eps_inside_the_square_root_passes_the_check(capsys):
    """The exercise accepts √(v̂ + ε) as well as √v̂ + ε (documented there); prove the check does."""
    from nnkit.course import call, check_close, check_equal, check_scalar

    def adam_update(w, g, state, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        t = state.get("t", 0) + 1
        m = beta1 * state.get("m", 0.0) + (1 - beta1) * g
        v = beta2 * state.get("v", 0.0) + (1 - beta2) * g * g
        state["t"], state["m"], state["v"] = t, m, v
        return w - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + eps)

    def reference_steps(make_optimizer, w0, gradients):
        p = nnkit.Parameter(nnkit.asarray(w0))
        opt = make_optimizer([p])
        after = []
        for g in gradients:
            p.grad = nnkit.asarray(g)
            opt.step()
            after.append(nnkit.to_numpy(p.data))
        return after

    namespace = {"np": np, "nnkit": nnkit, "optim": optim, "call": call, "check_close": check_close,
                 "check_equal": check_equal, "check_scalar": check_scalar, "adam_update": adam_update,
                 "reference_steps": reference_steps}
    exec(_check_cell("adam_update"), namespace)          # hidden tests included; raises if it fails
    assert "✓ a (3, 4) weight after step 6" in capsys.readouterr().out


def _digits_search_scores():
    """Section 11's two searches of (log10 η, log10 λ), 9 runs each: (searches, validation accuracies)."""
    X, y = data.load_digits()
    (X_tr, y_tr), (X_val, y_val), _ = data.train_val_test_split(X, y, val=0.2, test=0.2, seed=0,
                                                                stratify=True)
    loss_fn = losses.CrossEntropyLoss()

    def run(log_lr, log_wd):
        nnkit.seed(0)
        net = nnkit.Sequential(layers.Linear(64, 32), layers.ReLU(), layers.Linear(32, 10))
        opt = optim.SGD(net.parameters(), lr=10**log_lr, momentum=0.9, weight_decay=10**log_wd)
        nnkit.fit(net, loss_fn, opt, (X_tr, y_tr), epochs=5, batch_size=32, progress=False)
        return nnkit.evaluate(net, loss_fn, X_val, y_val)[1]

    gen = np.random.default_rng(0)
    searches = {"grid": np.array([(a, b) for a in np.linspace(-4, 0, 3) for b in np.linspace(-5, -2, 3)]),
                "random": np.column_stack([gen.uniform(-4, 0, 9), gen.uniform(-5, -2, 9)])}
    return searches, {name: np.array([run(*s) for s in settings]) for name, settings in searches.items()}


@pytest.mark.slow
def test_random_search_tries_more_learning_rates_and_finds_a_better_one_on_the_digits():
    """Section 11 (Bergstra and Bengio, 2012): a 3 × 3 grid against 9 random settings of η and λ.

    Trained accuracies may move by a digit (1/359) on another CPU: the claims are checked with that margin.
    """
    with nnkit.use_backend("numpy"):
        searches, scores = _digits_search_scores()
    one = 1.5 / 359                                                  # a validation digit and a half
    grid, random = searches["grid"], searches["random"]
    assert len(np.unique(grid[:, 0])) == len(np.unique(grid[:, 1])) == 3
    assert len(np.unique(random[:, 0])) == len(np.unique(random[:, 1])) == 9
    best = {name: int(np.argmax(scores[name])) for name in searches}
    np.testing.assert_allclose(10 ** grid[best["grid"]], [0.01, 0.01])
    np.testing.assert_allclose(10 ** random[best["random"]], [0.083, 0.0039], rtol=0.02)   # printed: 2 digits
    assert scores["grid"].max() == pytest.approx(0.905, abs=one)
    assert scores["random"].max() == pytest.approx(0.930, abs=one)
    assert scores["random"].max() - scores["grid"].max() >= 7 / 359           # "about 9 digits" better
    np.testing.assert_allclose(scores["grid"][3:6], [0.900, 0.900, 0.905], atol=one)   # λ hardly matters
    eta = 10 ** random[:, 0]
    band = (0.014 <= eta) & (eta <= 0.2)                                      # "from about 0.015 to 0.2"
    assert band.sum() == 5 and np.all(scores["random"][band] >= 0.89)        # five land in the band
    assert np.all(scores["random"][~band] < 0.6)                               # the others fall short
    assert np.all(scores["grid"][grid[:, 0] == -4] < 0.2) and np.all(scores["random"][eta < 2e-4] < 0.2)
    assert np.all(scores["grid"][grid[:, 0] == 0] < 0.5)                       # η = 1: training fails
    assert 0.75**9 == pytest.approx(0.08, abs=0.006)                          # "(3/4)^9 ≈ 8 %"


def test_the_update_to_weight_ratio_grows_in_proportion_to_the_learning_rate():
    X, y = data.moons(n_per_class=20, noise=0.3, seed=1)
    loss_fn, ratios = losses.CrossEntropyLoss(), {}
    for lr in (0.001, 0.1):
        nnkit.seed(0)
        net = nnkit.Sequential(layers.Linear(2, 32, init="xavier_normal"), layers.Tanh(),
                               layers.Linear(32, 2, init="xavier_normal"))
        before = nnkit.to_numpy(net[0].W.data).copy()
        loss_fn(net(nnkit.asarray(X)), nnkit.asarray(y))
        net.backward(loss_fn.backward())
        optim.SGD(net.parameters(), lr=lr).step()
        ratios[lr] = np.linalg.norm(nnkit.to_numpy(net[0].W.data) - before) / np.linalg.norm(before)
    assert ratios[0.1] / ratios[0.001] == pytest.approx(100, rel=1e-6)
