"""Loss objects and penalties: values against the formulas, gradient checks, the regularised cost."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import nnkit
from nnkit import functional as F
from nnkit import layers as L
from nnkit import losses
from nnkit.backend import randn


def host(a):
    return nnkit.to_numpy(a)


def probabilities(*shape):
    """Values in (0.1, 0.9): away from BCE's clipping."""
    return nnkit.asarray(np.random.default_rng(2).uniform(0.1, 0.9, size=shape))


def labels(*values):
    return nnkit.asarray(list(values))


CASES = {  # name: (loss, make pred, make target)
    "mse": (losses.MSELoss, lambda: randn(6, 3), lambda: randn(6, 3)),
    "mse-1d": (losses.MSELoss, lambda: randn(6), lambda: randn(6)),
    "l1": (losses.L1Loss, lambda: randn(6, 3), lambda: randn(6, 3) + 5),  # no |diff| near 0
    "bce": (losses.BCELoss, lambda: probabilities(6, 2), lambda: labels(*[[0.0, 1.0]] * 6)),
    "bce-logits": (losses.BCEWithLogitsLoss, lambda: randn(6, 1, std=3),
                   lambda: labels(*[[1.0], [0.0]] * 3)),
    "ce-labels": (losses.CrossEntropyLoss, lambda: randn(6, 4, std=2), lambda: labels(0, 3, 1, 2, 2, 0)),
    "ce-onehot": (losses.CrossEntropyLoss, lambda: randn(6, 4),
                  lambda: F.one_hot(labels(0, 3, 1, 2, 2, 0), 4)),
    "nll": (losses.NLLLoss, lambda: F.log_softmax(randn(6, 4)), lambda: labels(1, 1, 0, 3, 2, 0)),
    "ce-ignore": (lambda: losses.CrossEntropyLoss(ignore_index=-100), lambda: randn(6, 4, std=2),
                  lambda: labels(0, -100, 1, 2, -100, 0)),
    "nll-ignore": (lambda: losses.NLLLoss(ignore_index=3), lambda: F.log_softmax(randn(6, 4)),
                   lambda: labels(1, 3, 0, 3, 2, 0)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_gradchecks_and_returns_a_float(backend_name, case):
    make_loss, pred, target = CASES[case]
    loss_fn, p = make_loss(), pred()
    value = loss_fn(p, target())
    assert type(value) is float
    assert loss_fn.backward().shape == p.shape
    report = nnkit.gradcheck(loss_fn, p, target())
    assert report.passed, report


@pytest.mark.parametrize("case", sorted(CASES))
def test_float32_stays_float32(case):
    make_loss, pred, target = CASES[case]
    with nnkit.use_dtype("float32"):
        loss_fn, p = make_loss(), pred()
        assert np.isfinite(loss_fn(p, target()))
    dtype_name = nnkit.backend.dtype_name
    assert dtype_name(loss_fn.backward().dtype) == dtype_name(p.dtype) == "float32"


def test_values_match_the_formulas(backend_name):
    pred, target = randn(5, 2), randn(5, 2)
    P, T = host(pred), host(target)
    # The mean is over the 5 examples; each example sums its 2 squared errors.
    assert np.isclose(losses.MSELoss()(pred, target), 0.5 * ((P - T) ** 2).sum(axis=1).mean())
    assert np.isclose(losses.L1Loss()(pred, target), abs(P - T).sum(axis=1).mean())
    one_output = randn(5)
    assert np.isclose(losses.MSELoss()(one_output, one_output + 2.0), 0.5 * 4)  # ½ · mean(2²)

    z, y = randn(4, 3), labels(2, 0, 1, 1)
    logp = host(F.log_softmax(z))
    expected = -logp[np.arange(4), host(y)].mean()
    assert np.isclose(losses.CrossEntropyLoss()(z, y), expected)
    assert np.isclose(losses.CrossEntropyLoss()(z, F.one_hot(y, 3)), expected)
    assert np.isclose(losses.NLLLoss()(F.log_softmax(z), y), expected)

    zb, yb = randn(4, 1), nnkit.asarray([[1.0], [0.0], [0.0], [1.0]])
    p = host(F.sigmoid(zb))
    bce = -(host(yb) * np.log(p) + (1 - host(yb)) * np.log(1 - p)).mean()
    assert np.isclose(losses.BCEWithLogitsLoss()(zb, yb), bce)
    assert np.isclose(losses.BCELoss()(F.sigmoid(zb), yb), bce)


def test_cross_entropy_gradient_is_p_minus_y_over_n(backend_name):
    z, y = randn(4, 3), labels(2, 0, 1, 1)
    loss_fn = losses.CrossEntropyLoss()
    loss_fn(z, y)
    assert_allclose(host(loss_fn.backward()), (host(F.softmax(z)) - np.eye(3)[host(y)]) / 4)


@pytest.mark.parametrize("make", [losses.CrossEntropyLoss, losses.NLLLoss])
def test_ignore_index_averages_over_the_kept_examples_only(backend_name, make):
    """A padded batch: the loss and gradient are those of the kept rows alone (mean over them),
    and the ignored rows get no gradient, as with PyTorch's ignore_index."""
    scores = F.log_softmax(randn(6, 4)) if make is losses.NLLLoss else randn(6, 4)
    y = np.array([2, 0, -1, 3, -1, 1])
    kept = y != -1
    masked, plain = make(ignore_index=-1), make()
    value = masked(scores, nnkit.asarray(y))
    grad = host(masked.backward())
    assert value == pytest.approx(plain(nnkit.asarray(host(scores)[kept]), nnkit.asarray(y[kept])), rel=1e-12)
    assert_allclose(grad[kept], host(plain.backward()), rtol=1e-12)
    assert np.all(grad[~kept] == 0)
    assert repr(masked) == f"{make.__name__}(ignore_index=-1)"


def test_functional_ignore_index_gradchecks(backend_name):
    z, y = randn(5, 3), labels(0, 7, 2, 7, 1)
    for forward, backward in ((F.cross_entropy_forward, F.cross_entropy_backward),
                              (F.nll_forward, F.nll_backward)):
        grad = backward(forward(z, y, ignore_index=7)[1])
        report = nnkit.gradcheck(lambda v, f=forward: float(f(v, y, ignore_index=7)[0]), z, grad=grad)
        assert report.passed, report


def test_ignore_index_keeps_the_label_check_and_needs_integer_labels():
    loss_fn = losses.CrossEntropyLoss(ignore_index=-100)
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, 3\).*from 0 to 5"):
        loss_fn(randn(3, 3), labels(0, -100, 5))
    with pytest.raises(ValueError, match=r"ignore_index needs integer class labels \(N,\)"):
        loss_fn(randn(3, 3), F.one_hot(labels(0, 1, 2), 3))


def test_logsoftmax_then_nll_is_cross_entropy(backend_name):
    z, y = randn(5, 3), labels(0, 1, 2, 1, 0)
    ce, nll, log_softmax = losses.CrossEntropyLoss(), losses.NLLLoss(), L.LogSoftmax()
    assert np.isclose(ce(z, y), nll(log_softmax(z), y))
    assert_allclose(host(log_softmax.backward(nll.backward())), host(ce.backward()), atol=1e-15)


def test_bce_clips_instead_of_returning_infinity(backend_name):
    value = losses.BCELoss()(nnkit.asarray([0.0, 1.0]), nnkit.asarray([1.0, 0.0]))
    assert np.isfinite(value) and 30 < value < 40


def test_backward_before_forward_is_explained():
    with pytest.raises(RuntimeError, match=r"MSELoss.backward\(\) needs a forward call first"):
        losses.MSELoss().backward()


# ----------------------------------------------------------------------------- penalties

def net():
    return nnkit.Sequential(L.Linear(3, 4), L.Tanh(), L.Linear(4, 2))


def test_weights_leave_out_the_biases(backend_name):
    model = net()
    assert [p.shape for p in losses.weights(model)] == [(3, 4), (4, 2)]


def test_penalty_values_and_gradients(backend_name):
    model = net()
    params = losses.weights(model)
    squares = sum((host(p.data) ** 2).sum() for p in params)
    absolutes = sum(abs(host(p.data)).sum() for p in params)
    assert np.isclose(losses.l2_penalty(params, 0.3, m=6), 0.3 / (2 * 6) * squares)
    assert np.isclose(losses.l2_penalty(params, 0.3), 0.3 / 2 * squares)  # m = 1: the plain λ/2 Σ w²
    assert np.isclose(losses.l1_penalty(params, 0.3, m=6), 0.3 / 6 * absolutes)
    model.zero_grad()
    losses.add_l2_grad(params, 0.3, m=6)
    assert_allclose(host(params[0].grad), 0.3 / 6 * host(params[0].data))
    model.zero_grad()
    losses.add_l1_grad(params, 0.3, m=6)
    assert_allclose(host(params[1].grad), 0.3 / 6 * np.sign(host(params[1].data)))


@pytest.mark.parametrize("kind", ["l2", "l1"])
def test_regularised_cost_gradchecks(backend_name, kind):
    """J(Θ) + λ/(2m) Σ Θ² (or + λ/m Σ |Θ|): backward plus add_*_grad is its gradient."""
    penalty, add_grad = {"l2": (losses.l2_penalty, losses.add_l2_grad),
                         "l1": (losses.l1_penalty, losses.add_l1_grad)}[kind]
    model, loss_fn, lam = net(), losses.CrossEntropyLoss(), 0.7
    x, y = randn(6, 3), labels(0, 1, 1, 0, 1, 0)
    m = x.shape[0]
    params = losses.weights(model)

    def cost() -> float:
        return loss_fn(model(x), y) + penalty(params, lam, m)

    model.zero_grad()
    cost()
    model.backward(loss_fn.backward())
    add_grad(params, lam, m)
    for p in params:
        data = p.data

        def cost_at(value, p=p, data=data):
            p.data = value
            try:
                return cost()
            finally:
                p.data = data

        report = nnkit.gradcheck(cost_at, p.data, grad=p.grad)
        assert report.passed, report
