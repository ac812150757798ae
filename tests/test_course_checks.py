"""The check helpers students call: what they say on a pass and on each kind of mistake."""

from __future__ import annotations

import re

import numpy as np
import pytest

import nnkit
from nnkit.course import check_close, check_dtype, check_equal, check_scalar, check_shape


def _fails(check, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        check(*args, **kwargs)
    return str(info.value)


def test_a_pass_is_said_clearly(backend_name, capsys):
    check_close(nnkit.asarray([[0.5, 1.0]]), [[0.5, 1.0 + 1e-9]], name="sigmoid(z)")
    check_scalar(nnkit.asarray([0.25])[0], 0.25, name="loss")
    check_shape(nnkit.asarray([[1.0, 2.0]]), (1, 2), name="z")
    check_equal([0, 1, 1], [0, 1, 1], name="labels")
    check_dtype(nnkit.asarray([1.0]), "float64", name="p")
    assert capsys.readouterr().out.splitlines() == [
        "✓ sigmoid(z) passed", "✓ loss passed", "✓ z passed", "✓ labels passed", "✓ p passed"]


def test_values_off_say_by_how_much_and_where(backend_name):
    got = nnkit.asarray([[0.1, 0.2], [0.3, 0.76]])
    message = _fails(check_close, got, [[0.1, 0.2], [0.3, 0.88]], name="f(x)")
    assert message == ("f(x): values off: largest error 0.12 at index (1, 1): expected 0.88, got 0.76 "
                       "(1 of 4 values off).")


@pytest.mark.parametrize(("got", "expected", "says"), [
    ([[1.0], [2.0], [3.0]], [1.0, 2.0, 3.0], "shape (3,) expected, got (3, 1). An axis of size 1 is extra"),
    ([[1.0, 2.0, 3.0]] * 2, [[1.0, 2.0]] * 3, "shape (3, 2) expected, got (2, 3). It looks transposed"),
    (1.5, [1.0, 2.0], "shape (2,) expected, got (). You returned a single number"),
])
def test_a_shape_mismatch_names_both_shapes_and_a_likely_cause(got, expected, says):
    assert says in _fails(check_close, got, expected, name="z")


def test_nan_and_infinity_are_located():
    message = _fails(check_close, [0.5, float("nan"), float("nan")], [0.5, 0.6, 0.7], name="p")
    assert message.startswith("p: contains NaN at index (1,) (2 non-finite values in all).")
    assert "contains infinity at index (0,)" in _fails(check_close, [float("inf")], [1.0], name="p")


def test_a_forgotten_return_and_a_non_number_are_named():
    assert "got None. Did you forget to `return` the result?" in _fails(check_close, None, [1.0], name="f")
    assert "expected numbers, got an array of dtype <U1" in _fails(check_close, ["a"], [1.0], name="f")


def test_a_scalar_check_refuses_an_array():
    message = _fails(check_scalar, [0.25], 0.25, name="loss")
    assert message.startswith("loss: expected a single number, got an array of shape (1,).")


def test_dtype_and_exact_checks():
    assert "dtype float64 expected, got int64. Integer division" in _fails(check_dtype, nnkit.asarray([1]),
                                                                            "float64", name="z")
    assert "an array of dtype float64 expected, got a list" in _fails(check_dtype, [1.0], "float64", name="z")
    message = _fails(check_equal, [0, 1, 0], [0, 1, 1], name="predictions")
    assert re.fullmatch(r"predictions: 1 of 3 values differ; the first at index \(2,\): expected 1, got 0\.",
                        message)


def test_call_names_an_argument_changed_in_place_and_keeps_the_callers_array():
    from nnkit.course import call

    def gradient_step(w, grad, lr):
        w -= lr * grad
        return w

    w = np.array([1.0, 2.0, 3.0])
    with pytest.raises(AssertionError, match="modified its input `w` in place.*`w = w - ...`, not `w -= "):
        call(gradient_step, w, np.ones(3), lr=0.5)
    assert w.tolist() == [1.0, 2.0, 3.0]
    state = {"m": np.zeros(2)}

    def update(state, grad):
        state["m"] += grad
        return state

    call(update, state, np.ones(2), may_change=("state",))
    assert state["m"].tolist() == [1.0, 1.0]
    with pytest.raises(AssertionError, match=r"`state` in place.*`state = dict\(state\)` first"):
        call(update, {"m": np.zeros(2)}, np.ones(2))


def test_call_turns_a_shape_error_into_one_sentence_with_the_shapes():
    from nnkit.course import call

    def affine(x, W, b):
        return x @ W.T + b

    with pytest.raises(AssertionError, match=r"affine\(x \(4, 3\), W \(3, 2\), b \(2,\)\) raised ValueError.*"
                                             r"matrix product"):
        call(affine, np.ones((4, 3)), np.ones((3, 2)), np.zeros(2))
    assert call(lambda x: 2 * x, np.arange(3.0)).tolist() == [0.0, 2.0, 4.0]


@pytest.mark.parametrize(("value", "kind", "message"), [
    (2.0, int, "int expected, got float. Use //"),
    ([1, 2], np.ndarray, "ndarray expected, got list"),
    (np.ones(2), float, "return one number"),
    (None, int, "forget to `return`"),
    (True, int, "got the bool True"),
])
def test_check_type_says_which_type_came_back(value, kind, message):
    from nnkit.course import check_type

    with pytest.raises(AssertionError, match=re.escape(message)):
        check_type(value, kind, name="n")
    check_type(np.int64(3), int, name="a NumPy integer counts as an int")


def test_check_true_passes_a_property_and_fails_with_the_hint(capsys):
    from nnkit.course import check_true

    check_true(3 > 2, "the order is shuffled", "shuffle it")
    assert capsys.readouterr().out == "✓ the order is shuffled passed\n"
    with pytest.raises(AssertionError, match=r"^counts: use integers$"):
        check_true(False, "counts", "use integers")


def test_call_names_an_if_on_a_whole_array():
    from nnkit.course import call

    def relu(x):
        return x if x > 0 else 0 * x

    with pytest.raises(AssertionError, match=r"relu\(x \(2, 3\)\) raised ValueError.*np\.where"):
        call(relu, np.ones((2, 3)))
