"""Mistakes students make get errors that name the layer or loss, what it expected and what it got."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit import init, losses
from nnkit import layers as L

LINEAR = r"Linear\(in_features=3, out_features=2\)"


def ones(*shape, dtype=None):
    return nnkit.asarray(np.ones(shape), dtype=dtype)


# ----------------------------------------------------------------------------- layer inputs

def test_wrong_feature_count(backend_name):
    with pytest.raises(ValueError, match=LINEAR + r" expects 3 features .*\(N, 3\).*got shape \(4, 5\)"):
        L.Linear(3, 2)(ones(4, 5))


def test_wrong_number_of_dimensions(backend_name):
    with pytest.raises(ValueError, match=LINEAR + r" expects input of shape \(N, 3\).*1 dimension.*\(3,\)"):
        L.Linear(3, 2)(ones(3))


def test_error_names_the_layer_inside_a_network(backend_name):
    model = nnkit.Sequential(L.Linear(2, 8), L.ReLU(), L.Linear(3, 1))
    with pytest.raises(ValueError, match=r"Linear\(in_features=3, out_features=1\).*got shape \(5, 8\)"):
        model(ones(5, 2))


def test_numpy_array_into_a_strict_model():
    with nnkit.use_backend("strict"):
        layer = L.Linear(3, 2)
        with pytest.raises(nnkit.BackendError, match=LINEAR + r" got a numpy.ndarray.*nnkit.asarray"):
            layer(np.ones((4, 3)))


def test_list_instead_of_array(backend_name):
    with pytest.raises(TypeError, match=LINEAR + r" expects an array of shape \(N, 3\), got list"):
        L.Linear(3, 2)([[1.0, 2.0, 3.0]])


def test_dtype_mismatch(backend_name):
    with pytest.raises(TypeError, match=LINEAR + r" got input of dtype .*float32.*float64"):
        L.Linear(3, 2)(ones(4, 3, dtype="float32"))


# ----------------------------------------------------------------------------- configuration

def test_unknown_backend_name():
    with pytest.raises(nnkit.BackendError, match=r"Unknown backend 'torch': choose one of auto, numpy, cupy"):
        nnkit.set_backend("torch")


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5])
def test_dropout_probability_outside_0_1(p):
    with pytest.raises(ValueError, match=rf"Dropout\(p={p}\).*\[0, 1\), got {p}"):
        L.Dropout(p)


def test_initialiser_mistakes():
    with pytest.raises(TypeError, match=r"init=nnkit.init.normal needs its spread first.*normal\(0.01\)"):
        L.Linear(2, 2, init=init.normal)
    with pytest.raises(ValueError, match="Unknown initialiser 'glorot': choose one of zeros, xavier_uniform"):
        L.Linear(2, 2, init="glorot")


def test_activation_parameter_mistakes():
    with pytest.raises(TypeError, match="^Sigmoid: .*parameters .* are none"):
        L.Sigmoid(2.0)


# ----------------------------------------------------------------------------- loss targets

def scores():
    return ones(3, 4)


def test_labels_out_of_range(backend_name):
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: class labels must lie in \[0, 4\).*from 0 to 4"):
        losses.CrossEntropyLoss()(scores(), nnkit.asarray([0, 4, 1]))
    with pytest.raises(ValueError, match=r"NLLLoss: .*from -1 to 2"):
        losses.NLLLoss()(scores(), nnkit.asarray([-1, 2, 1]))


def test_labels_of_wrong_length(backend_name):
    with pytest.raises(ValueError, match=r"CrossEntropyLoss got 3 rows of scores, shape \(3, 4\), but 2 lab"):
        losses.CrossEntropyLoss()(scores(), nnkit.asarray([0, 1]))


def test_non_integer_labels(backend_name):
    with pytest.raises(TypeError, match=r"CrossEntropyLoss expects integer class labels, got dtype float64"):
        losses.CrossEntropyLoss()(scores(), nnkit.asarray([0.0, 1.0, 2.0]))


def test_targets_of_wrong_shape(backend_name):
    with pytest.raises(ValueError, match=r"targets of shape \(3,\) .* or \(3, 4\) .*got shape \(3, 2\)"):
        losses.CrossEntropyLoss()(scores(), ones(3, 2))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss expects scores of shape \(N, K\).*shape \(3,\)"):
        losses.CrossEntropyLoss()(ones(3), nnkit.asarray([0, 1, 2]))
    with pytest.raises(ValueError, match=r"MSELoss: targets of shape \(3,\) do not match predictions of "
                                         r"shape \(3, 1\)"):
        losses.MSELoss()(ones(3, 1), ones(3))


def test_binary_targets_outside_0_1(backend_name):
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss expects targets in \[0, 1\].*from -1.0 to 1.0"):
        losses.BCEWithLogitsLoss()(ones(3), nnkit.asarray([-1.0, 1.0, 1.0]))


def test_target_dtype_and_backend_mismatch():
    with pytest.raises(TypeError, match=r"MSELoss: targets are float32 but predictions are float64"):
        losses.MSELoss()(ones(3), ones(3, dtype="float32"))
    with nnkit.use_backend("strict"):
        with pytest.raises(nnkit.BackendError, match=r"CrossEntropyLoss: .* targets are numpy.ndarray"):
            losses.CrossEntropyLoss()(scores(), np.array([0, 1, 2]))
