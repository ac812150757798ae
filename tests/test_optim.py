"""Optimisers against hand-computed steps, convergence on a quadratic, schedules and clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnkit
from nnkit import optim
from nnkit.module import Parameter

W0 = [1.0, -2.0]


def _two_steps(optimizer_cls, **settings) -> list[np.ndarray]:
    """Two steps on f(w) = ½‖w‖² (gradient g = w) from w = (1, −2); the values after each step."""
    p = Parameter(nnkit.asarray(W0))
    opt = optimizer_cls([p], **settings)
    values = []
    for _ in range(2):
        opt.zero_grad()
        p.grad = p.grad + p.data
        opt.step()
        values.append(nnkit.to_numpy(p.data).copy())
    return values


# Each case: the optimiser, its settings, and w after steps 1 and 2 as multiples of w0 or
# worked out coordinate by coordinate from the textbook formula.
_ADAGRAD_2 = [0.9 - 0.1 * 0.9 / math.sqrt(1 + 0.81), -1.9 + 0.1 * 1.9 / math.sqrt(4 + 1.9**2)]
_M, _V = 0.9 * 0.1 + 0.1 * 0.9, 0.999 * 0.001 + 0.001 * 0.81  # Adam's moments, first coordinate
_ADAM_2_FIRST = 0.9 - 0.1 * (_M / (1 - 0.9**2)) / math.sqrt(_V / (1 - 0.999**2))
HAND_COMPUTED = [
    (optim.SGD, {"lr": 0.1}, [0.9, 0.81]),                                     # w ← w − 0.1 w
    (optim.SGD, {"lr": 0.1, "weight_decay": 0.5}, [0.85, 0.85**2]),            # g = w + 0.5 w
    (optim.SGD, {"lr": 0.1, "momentum": 0.9}, [0.9, 0.72]),                    # v = w0, then 1.8 w0
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}, [0.81, 0.5751]),
]


@pytest.mark.parametrize(("cls", "settings", "factors"), HAND_COMPUTED,
                         ids=["sgd", "sgd-decay", "momentum", "nesterov"])
def test_sgd_family_first_steps_match_hand_computation(backend_name, cls, settings, factors):
    for value, factor in zip(_two_steps(cls, **settings), factors, strict=True):
        np.testing.assert_allclose(value, factor * np.array(W0), rtol=1e-12)


def test_adagrad_first_steps_match_hand_computation(backend_name):
    first, second = _two_steps(optim.Adagrad, lr=0.1)
    np.testing.assert_allclose(first, [0.9, -1.9], rtol=1e-7)  # first step: lr · sign(g)
    np.testing.assert_allclose(second, _ADAGRAD_2, rtol=1e-7)


def test_rmsprop_first_step_matches_hand_computation(backend_name):
    first, _ = _two_steps(optim.RMSProp, lr=0.01, rho=0.9)
    step = 0.01 / math.sqrt(0.1)  # s = 0.1 g², so g / √s = sign(g) / √0.1
    np.testing.assert_allclose(first, [1 - step, -2 + step], rtol=1e-7)


def test_adam_first_steps_match_hand_computation(backend_name):
    first, second = _two_steps(optim.Adam, lr=0.1)
    np.testing.assert_allclose(first, [0.9, -1.9], rtol=1e-7)  # bias-corrected: lr · sign(g)
    assert second[0] == pytest.approx(_ADAM_2_FIRST, rel=1e-7)


A = [[3.0, 0.5], [0.5, 1.0]]
B = [1.0, -1.0]
CONVERGING = [
    (optim.SGD, {"lr": 0.1}),
    (optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (optim.Adagrad, {"lr": 0.5}),
    (optim.RMSProp, {"lr": 0.01}),
    (optim.Adam, {"lr": 0.05}),
]


@pytest.mark.parametrize(("cls", "settings"), CONVERGING,
                         ids=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_every_optimiser_finds_the_minimum_of_a_quadratic(backend_name, cls, settings):
    """f(w) = ½ wᵀAw − bᵀw has its minimum where Aw = b."""
    A_, b_ = nnkit.asarray(A), nnkit.asarray(B)
    p = Parameter(nnkit.asarray([2.0, 2.0]))
    opt = cls([p], **settings)
    for _ in range(1000):
        opt.zero_grad()
        p.grad = p.grad + (A_ @ p.data - b_)
        opt.step()
    np.testing.assert_allclose(nnkit.to_numpy(p.data), np.linalg.solve(A, B), atol=1e-2)


def test_optimiser_keeps_float32_parameters_float32():
    with nnkit.use_dtype("float32"):
        p = Parameter(nnkit.asarray(W0))
    p.grad = p.grad + 1
    opt = optim.Adam([p], lr=0.1)
    opt.step()
    assert p.data.dtype == np.float32
    assert opt.state[0]["m"].dtype == np.float32


# ----------------------------------------------------------------------------- errors

def _params() -> list[Parameter]:
    return [Parameter(nnkit.asarray(W0))]


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adagrad, optim.RMSProp, optim.Adam])
@pytest.mark.parametrize("lr", [0, -0.1, float("nan")])
def test_non_positive_learning_rate_is_refused_by_name_and_value(cls, lr):
    with pytest.raises(ValueError, match=rf"{cls.__name__}.*learning rate.*{lr}"):
        cls(_params(), lr=lr)


def test_empty_parameter_list_is_refused():
    with pytest.raises(ValueError, match="empty list of parameters"):
        optim.Adam([], lr=0.01)


def test_passing_the_model_instead_of_its_parameters_says_how_to_fix_it():
    model = nnkit.layers.Linear(2, 3)
    with pytest.raises(TypeError, match=r"SGD\(model.parameters\(\)"):
        optim.SGD(model, lr=0.1)


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 1.5])
def test_momentum_outside_zero_one_is_refused(momentum):
    with pytest.raises(ValueError, match=rf"SGD: momentum must be in \[0, 1\), got {momentum}"):
        optim.SGD(_params(), lr=0.1, momentum=momentum)


def test_nesterov_needs_momentum_and_adam_betas_are_checked():
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(_params(), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        optim.Adam(_params(), betas=(0.9, 1.0))


def test_repr_lists_the_settings():
    assert repr(optim.SGD(_params(), lr=0.1, momentum=0.9)) == (
        "SGD(lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0; 1 parameters)")


# ----------------------------------------------------------------------------- schedules

def _lrs(make_scheduler, epochs: int) -> list[float]:
    opt = optim.SGD(_params(), lr=1.0)
    scheduler = make_scheduler(opt)
    lrs = []
    for _ in range(epochs):
        lrs.append(scheduler.get_lr())
        scheduler.step()
    return lrs


def test_step_lr_multiplies_by_gamma_every_step_size_epochs():
    lrs = _lrs(lambda opt: optim.StepLR(opt, step_size=2, gamma=0.5), 6)
    assert lrs == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])


def test_exponential_lr_multiplies_by_gamma_every_epoch():
    assert _lrs(lambda opt: optim.ExponentialLR(opt, gamma=0.9), 4) == pytest.approx([1, 0.9, 0.81, 0.729])


def test_cosine_annealing_glides_to_eta_min_and_stays():
    lrs = _lrs(lambda opt: optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.1), 6)
    middle = [0.1 + 0.9 * (1 + math.cos(math.pi * k / 4)) / 2 for k in (1, 2, 3)]
    assert lrs == pytest.approx([1.0, *middle, 0.1, 0.1])


def test_scheduler_changes_the_step_the_optimiser_takes():
    p = Parameter(nnkit.asarray([0.0]))
    opt = optim.SGD([p], lr=1.0)
    scheduler = optim.StepLR(opt, step_size=1, gamma=0.1)
    scheduler.step()
    p.grad = p.grad + 1.0
    opt.step()
    assert float(p.data[0]) == pytest.approx(-0.1)


def test_scheduler_arguments_are_checked():
    opt = optim.SGD(_params(), lr=1.0)
    with pytest.raises(ValueError, match="ExponentialLR: gamma"):
        optim.ExponentialLR(opt, gamma=0)
    with pytest.raises(ValueError, match="StepLR: step_size"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(TypeError, match="nnkit optimiser"):
        optim.StepLR("adam", step_size=1)


# ----------------------------------------------------------------------------- clipping

def _with_grads(*grads: list[float]) -> list[Parameter]:
    params = [Parameter(nnkit.asarray([0.0] * len(g))) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = nnkit.asarray(g)
    return params


def test_clip_grad_norm_scales_all_gradients_to_the_global_max_norm(backend_name):
    params = _with_grads([3.0, 0.0], [4.0])  # global norm √(9 + 16) = 5
    assert optim.clip_grad_norm(params, max_norm=1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(nnkit.to_numpy(params[0].grad), [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(nnkit.to_numpy(params[1].grad), [0.8], rtol=1e-6)


def test_clip_grad_norm_leaves_small_gradients_alone(backend_name):
    params = _with_grads([3.0, 0.0], [4.0])
    assert optim.clip_grad_norm(params, max_norm=10.0) == pytest.approx(5.0)
    np.testing.assert_array_equal(nnkit.to_numpy(params[1].grad), [4.0])
