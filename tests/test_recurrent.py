"""RNN, LSTM, GRU and Embedding: steps vs sequences, gradient checks, layers, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import nnkit
from nnkit import functional as F
from nnkit import layers as L
from nnkit.backend import randn

N, T, D, H = 2, 4, 3, 5
CELLS = {  # name: (gate blocks, step forward, sequence forward, sequence backward)
    "rnn": (1, F.rnn_step_forward, F.rnn_forward, F.rnn_backward),
    "lstm": (4, F.lstm_step_forward, F.lstm_forward, F.lstm_backward),
    "gru": (3, F.gru_step_forward, F.gru_forward, F.gru_backward),
}
LAYERS = {"rnn": L.RNN, "lstm": L.LSTM, "gru": L.GRU}


def host(a):
    return nnkit.to_numpy(a)


def weights(gates):
    return randn(D, gates * H, std=0.5), randn(H, gates * H, std=0.5), randn(gates * H, std=0.5)


def assert_gradients(f, args, grads, names):
    """gradcheck each args[i] of the scalar function f(*args) against the analytic grads[i]."""
    for i, (name, grad) in enumerate(zip(names, grads, strict=True)):
        def g(value, i=i):
            return f(*args[:i], value, *args[i + 1:])
        report = nnkit.gradcheck(g, args[i], grad=grad)
        assert report.passed, (name, report)


def weighted_sum(out, R):
    return float(nnkit.backend.namespace(out).sum(out * R))


# ----------------------------------------------------------------------------- single steps

@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_step_gradchecks(backend_name, cell):
    gates, step = CELLS[cell][:2]
    backward = {"rnn": F.rnn_step_backward, "gru": F.gru_step_backward}[cell]
    args = (randn(N, D), randn(N, H), *weights(gates))
    R = randn(N, H)
    grads = backward(R, step(*args)[1])
    assert_gradients(lambda *a: weighted_sum(step(*a)[0], R), args, grads, ["x", "h_prev", "Wx", "Wh", "b"])


def test_lstm_step_gradchecks(backend_name):
    x, h, c = randn(N, D), randn(N, H), randn(N, H)
    args = (x, h, c, *weights(4))
    Rh, Rc = randn(N, H), randn(N, H)
    grads = F.lstm_step_backward(Rh, Rc, F.lstm_step_forward(*args)[2])

    def f(*a):
        h_next, c_next, _ = F.lstm_step_forward(*a)
        return weighted_sum(h_next, Rh) + weighted_sum(c_next, Rc)
    assert_gradients(f, args, grads, ["x", "h_prev", "c_prev", "Wx", "Wh", "b"])


def test_rnn_step_known_values():
    x, h = nnkit.asarray([[1.0, 2.0]]), nnkit.asarray([[0.5]])
    Wx, Wh, b = nnkit.asarray([[0.1], [0.2]]), nnkit.asarray([[-1.0]]), nnkit.asarray([0.3])
    h_next, _ = F.rnn_step_forward(x, h, Wx, Wh, b)
    assert_allclose(host(h_next), [[np.tanh(0.1 + 0.4 - 0.5 + 0.3)]])


# ----------------------------------------------------------------------------- sequences

def sequence(cell, x, h0, c0, Wx, Wh, b):
    """(h, final cell state or None, cache) of a whole sequence, for any cell."""
    if cell == "lstm":
        return F.lstm_forward(x, h0, Wx, Wh, b, c0)
    h, cache = CELLS[cell][2](x, h0, Wx, Wh, b)
    return h, None, cache


@pytest.mark.parametrize("cell", CELLS)
def test_sequence_equals_step_by_step(backend_name, cell):
    gates, step, _, _ = CELLS[cell]
    x, h0, c0, (Wx, Wh, b) = randn(N, T, D), randn(N, H), randn(N, H), weights(gates)
    hs, c_final, _ = sequence(cell, x, h0, c0, Wx, Wh, b)
    h, c = h0, c0
    for t in range(T):
        if cell == "lstm":
            h, c, _ = step(x[:, t, :], h, c, Wx, Wh, b)
        else:
            h, _ = step(x[:, t, :], h, Wx, Wh, b)
        assert_allclose(host(hs[:, t, :]), host(h), rtol=1e-12, atol=1e-14)
    if cell == "lstm":
        assert_allclose(host(c_final), host(c), rtol=1e-12, atol=1e-14)


def test_lstm_starts_from_zero_cell_state_by_default(backend_name):
    x, h0, (Wx, Wh, b) = randn(N, T, D), randn(N, H), weights(4)
    zeros = nnkit.backend.namespace(h0).zeros_like(h0)
    assert_allclose(host(F.lstm_forward(x, h0, Wx, Wh, b)[0]),
                    host(F.lstm_forward(x, h0, Wx, Wh, b, zeros)[0]))


@pytest.mark.parametrize("cell", CELLS)
def test_sequence_backward_gradchecks(backend_name, cell):
    """Every input, both initial states and the final cell state's gradient (LSTM), in float64."""
    gates, _, forward, backward = CELLS[cell]
    args = (randn(N, T, D), randn(N, H), *weights(gates))
    R = randn(N, T, H)
    if cell != "lstm":
        grads = backward(R, forward(*args)[1])
        names = ["x", "h0", "Wx", "Wh", "b"]
        assert_gradients(lambda *a: weighted_sum(forward(*a)[0], R), args, grads, names)
        return
    args = (*args, randn(N, H))                                   # x, h0, Wx, Wh, b, c0
    Rc = randn(N, H)
    dx, dh0, dc0, dWx, dWh, db = backward(R, forward(*args)[2], Rc)

    def f(*a):
        h, c, _ = forward(*a)
        return weighted_sum(h, R) + weighted_sum(c, Rc)
    assert_gradients(f, args, (dx, dh0, dWx, dWh, db, dc0), ["x", "h0", "Wx", "Wh", "b", "c0"])


@settings(max_examples=15, deadline=None)
@given(cell=st.sampled_from(list(CELLS)), n=st.integers(1, 3), t=st.integers(1, 6), d=st.integers(1, 4),
       h=st.integers(1, 4))
def test_sequence_shapes_and_last_state(cell, n, t, d, h):
    layer = LAYERS[cell](d, h, return_sequences=False)
    x = randn(n, t, d)
    last = layer(x)
    assert last.shape == (n, h)
    layer.return_sequences = True
    every = layer(x)
    assert every.shape == (n, t, h)
    assert_allclose(host(every[:, -1, :]), host(last))
    assert layer.backward(every).shape == (n, t, d)


# ----------------------------------------------------------------------------- layers

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("return_sequences", [True, False], ids=["many-to-many", "many-to-one"])
def test_recurrent_layers_gradcheck(backend_name, cell, return_sequences):
    layer = LAYERS[cell](D, H, return_sequences=return_sequences)
    report = nnkit.gradcheck(layer, randn(N, T, D))
    assert report.passed, report


def test_linear_applies_per_time_step(backend_name):
    model = nnkit.Sequential(L.RNN(D, H), L.Linear(H, 2))
    x = randn(N, T, D)
    out = model(x)
    h = model[0](x)
    for t in range(T):
        assert_allclose(host(out[:, t, :]), host(model[1](h[:, t, :])), rtol=1e-12)
    report = nnkit.gradcheck(model, x)
    assert report.passed, report


def test_layer_shapes_repr_and_init():
    lstm = L.LSTM(3, 4)
    assert (lstm.Wx.shape, lstm.Wh.shape, lstm.b.shape) == ((3, 16), (4, 16), (16,))
    assert_allclose(host(lstm.b.data), [0] * 4 + [1] * 4 + [0] * 8)   # forget gate starts open
    assert L.GRU(3, 4).Wh.shape == (4, 12)
    rnn = L.RNN(3, 4, return_sequences=False)
    assert repr(rnn).startswith("RNN(3, 4, return_sequences=False)")
    assert np.abs(host(rnn.Wh.data)).max() <= 0.5   # uniform in ±1/√hidden_size


def test_backward_accumulates_into_grad(backend_name):
    layer = L.RNN(D, H)
    x, dout = randn(N, T, D), randn(N, T, H)
    layer(x)
    layer.backward(dout)
    once = host(layer.Wh.grad).copy()
    layer.backward(dout)
    assert_allclose(host(layer.Wh.grad), 2 * once)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("return_sequences", [True, False], ids=["many-to-many", "many-to-one"])
def test_layers_with_initial_and_final_states_gradcheck(backend_name, cell, return_sequences):
    """layer(x, h0=…[, c0=…]) with return_state: the gradients of x, the initial states and Wh
    for a loss that reads the outputs and the final states."""
    layer = LAYERS[cell](D, H, return_sequences=return_sequences, return_state=True)
    names = layer.state_names
    x, states = randn(N, T, D), [randn(N, H) for _ in names]
    out, *final = layer(x, **dict(zip(names, states, strict=True)))
    R, Rs = randn(*out.shape), [randn(N, H) for _ in final]
    assert all(tuple(f.shape) == (N, H) for f in final)
    layer.zero_grad()
    grads = layer.backward(R, **{f"d{n[0]}_n": r for n, r in zip(names, Rs, strict=True)})
    assert len(grads) == 1 + len(names)

    def loss(x, *states):
        out, *final = layer(x, **dict(zip(names, states, strict=True)))
        return weighted_sum(out, R) + sum(weighted_sum(f, r) for f, r in zip(final, Rs, strict=True))
    assert_gradients(loss, (x, *states), grads, ["x", *names])
    dWh, Wh = layer.Wh.grad, layer.Wh.data

    def loss_of_Wh(value):
        layer.Wh.data = value
        return loss(x, *states)
    report = nnkit.gradcheck(loss_of_Wh, Wh, grad=dWh)
    layer.Wh.data = Wh
    assert report.passed, report


@pytest.mark.parametrize("cell", CELLS)
def test_truncated_bptt_carries_the_state_across_chunks(backend_name, cell):
    """Two halves, the second started from the first's final states, compute what the whole
    sequence does, forward and backward (the first half's dh_n is the second half's dh0)."""
    layer = LAYERS[cell](D, H, return_state=True)
    names = layer.state_names
    x, R = randn(N, 6, D), randn(N, 6, H)
    whole, *_ = layer(x)
    dx_whole = host(layer.backward(R))
    first, *final = layer(x[:, :3, :])
    second, *_ = layer(x[:, 3:, :], **dict(zip(names, final, strict=True)))
    assert_allclose(host(second), host(whole[:, 3:, :]), rtol=1e-12, atol=1e-14)
    dx_second, *dinitial = layer.backward(R[:, 3:, :])
    layer(x[:, :3, :])
    dx_first = layer.backward(R[:, :3, :], **{f"d{n[0]}_n": d for n, d in zip(names, dinitial, strict=True)})
    dx_halves = np.concatenate([host(dx_first), host(dx_second)], axis=1)
    assert_allclose(dx_halves, dx_whole, rtol=1e-10, atol=1e-12)


def test_old_call_forms_return_arrays(backend_name):
    """Without states, a layer returns one array and backward returns dx, as before (Sequential)."""
    layer = L.LSTM(D, H)
    out = layer(randn(N, T, D))
    assert nnkit.backend.is_array(out) and nnkit.backend.is_array(layer.backward(out))
    assert repr(L.GRU(D, H, return_state=True)).startswith("GRU(3, 5, return_state=True)")


def test_wrong_initial_state_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\): c0 must have shape \(N, hidden_size\) = \(2, 4\).*"
                                         r"got shape \(2, 5\)"):
        L.LSTM(3, 4)(randn(2, 5, 3), c0=randn(2, 5))
    with pytest.raises(ValueError, match=r"h0 must have shape \(N, H\) = \(2, 5\)"):
        F.rnn_forward(randn(2, 4, 3), randn(3, 5), *weights(1))


# ----------------------------------------------------------------------------- embedding

def test_embedding_looks_up_rows_and_accumulates_repeated_indices(backend_name):
    emb = L.Embedding(4, 3)
    idx = nnkit.asarray(np.array([[1, 1, 1], [0, 1, 2]]))
    out = emb(idx)
    assert out.shape == (2, 3, 3)
    W = host(emb.W.data)
    assert_allclose(host(out), W[host(idx)])
    dout = randn(2, 3, 3)
    assert emb.backward(dout) is None
    d = host(dout)
    expected = np.zeros((4, 3))
    expected[0] = d[1, 0]
    expected[1] = d[0, 0] + d[0, 1] + d[0, 2] + d[1, 1]   # index 1 appears four times
    expected[2] = d[1, 2]
    assert_allclose(host(emb.W.grad), expected, rtol=1e-12)


def test_embedding_gradchecks(backend_name):
    idx = nnkit.asarray(np.array([[3, 0, 3], [2, 3, 1]]))
    W, R = randn(5, 2), randn(2, 3, 2)
    dW = F.embedding_backward(R, F.embedding_forward(idx, W)[1])
    report = nnkit.gradcheck(lambda v: weighted_sum(F.embedding_forward(idx, v)[0], R), W, grad=dW)
    assert report.passed, report


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("cell", CELLS)
def test_sequence_with_wrong_ndim_names_layer_and_shapes(cell):
    layer = LAYERS[cell](3, 4)
    with pytest.raises(ValueError, match=rf"{cell.upper()}\(3, 4\) expects input of shape \(N, T, 3\).*"
                                         r"shape \(2, 3\)"):
        layer(randn(2, 3))


def test_sequence_with_wrong_feature_count():
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\) expects 3 features per step.*"
                                         r"\(N, T, 3\).*\(2, 5, 7\)"):
        L.LSTM(3, 4)(randn(2, 5, 7))


def test_functional_sequence_with_wrong_ndim():
    with pytest.raises(ValueError, match=r"shape \(N, T, D\) with D = 3, got shape \(2, 3\)"):
        F.rnn_forward(randn(2, 3), randn(2, H), *weights(1))


def test_embedding_errors():
    emb = L.Embedding(5, 2)
    with pytest.raises(TypeError, match=r"Embedding\(5, 2\) expects integer token indices, "
                                        r"got dtype float64"):
        emb(randn(2, 3))
    with pytest.raises(ValueError, match=r"Embedding\(5, 2\) got indices from 0 to 7; .* 0 \.\. 4"):
        emb(nnkit.asarray(np.array([[0, 7]])))
