"""Recurrent cells (vanilla RNN, LSTM, GRU) and embeddings: forward/backward pairs.

Shapes, batch first:

    x    (N, T, D)      N sequences of T steps, D features per step (x_t is (N, D))
    h    (N, T, H)      the hidden state after every step; h0 (N, H) is the state before step 0
    Wx   (D, G·H)       input-to-hidden weights; G = 1 (RNN), 4 (LSTM), 3 (GRU) gate blocks
    Wh   (H, G·H)       hidden-to-hidden weights
    b    (G·H,)

Each cell comes as a single step (``*_step_forward/backward``: the textbook equations,
for teaching and testing) and as a whole sequence (``*_forward/backward``: backprop
through time). The sequence versions compute what T calls of the step would, but take
everything that does not depend on the previous step out of the time loop:

* forward: the input projections x_t·Wx + b of all T steps are one matrix product;
* backward: the loop only carries the gradient back through the recurrence; dx, dWx,
  dWh and db are then one matrix product each over all N·T steps.

With a batch of 32 and 128 hidden units one step's arrays hold a few thousand numbers, so
each array operation costs about as much to launch as to compute: the loops are written
with as few operations per step as possible (the LSTM's σ as ½ + ½·tanh(x/2), one tanh for
all four gates),
and inside them time is the first axis, (T, N, ·), so each step's slice is one contiguous
block (they take and return batch-first arrays, as above).

Every sequence starts from a state h0 (and c0 for the LSTM) and ends in a final state: for
RNN and GRU that is h[:, -1]; :func:`lstm_forward` also returns the final cell state, and
:func:`lstm_backward` takes its gradient and returns dc0 (encoder–decoders, truncated
backprop through time and stateful sampling need them).

Gate order in the G·H blocks: LSTM (i, f, o, g), GRU (r, z, n).
"""

from __future__ import annotations

from typing import Any

from array_api_compat import device

from .. import backend
from .activations import sigmoid, tanh
from .dense import linear_backward, linear_forward

__all__ = [
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
    "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward",
    "embedding_forward", "embedding_backward",
]


# ----------------------------------------------------------------------------- shared pieces

def _project_inputs(x: Any, Wx: Any, b: Any) -> tuple[Any, tuple]:
    """x·Wx + b for every step at once: x (..., D) → ax (..., G·H), and the projection's cache.

    The steps are stacked into one (N·T, D) matrix first: a single large matrix product
    runs faster than T (or N) small ones.
    """
    xp = backend.namespace(x)
    ax, projection = linear_forward(xp.reshape(x, (-1, x.shape[-1])), Wx, b)
    return xp.reshape(ax, (*x.shape[:-1], Wx.shape[1])), projection


def _parameter_grads(projection: tuple, h_prev: Any, dax: Any, dah: Any) -> tuple[Any, Any, Any, Any]:
    """dx, dWx, dWh, db from the gradients of both projections, summed over batch and time.

    projection: the cache of :func:`_project_inputs`;
    h_prev (..., H): the states entering each step;
    dax, dah (..., G·H): gradients w.r.t. x·Wx + b and h_prev·Wh (the same array for RNN/LSTM).
    Returns dx (..., D), dWx (D, G·H), dWh (H, G·H), db (G·H,).
    """
    xp = backend.namespace(dah)
    GH = dax.shape[-1]
    dx, dWx, db = linear_backward(xp.reshape(dax, (-1, GH)), projection)
    dWh = xp.reshape(h_prev, (-1, h_prev.shape[-1])).T @ xp.reshape(dah, (-1, GH))
    return xp.reshape(dx, (*dax.shape[:-1], dWx.shape[0])), dWx, dWh, db


def _blocks(a: Any, count: int) -> list[Any]:
    """Split a (N, count·H) array into its count gate blocks, each (N, H) (views, no copies)."""
    H = a.shape[-1] // count
    return [a[:, k * H:(k + 1) * H] for k in range(count)]


def _start_sequence(x: Any, states: dict[str, Any], Wx: Any, Wh: Any, b: Any) -> tuple[Any, tuple]:
    """Check the shapes, then do what needs no loop: (ax, projection cache), time-major.

    x (N, T, D); states: the initial states by name, e.g. {"h0": h0}, each (N, H) or None.
    Returns ax (T, N, G·H), every step's x_t·Wx + b, and the projection's cache. Inside the
    sequence functions time is the first axis, so each step's slice ax[t] is one contiguous block.
    """
    if x.ndim != 3 or x.shape[2] != Wx.shape[0]:
        raise ValueError(f"A recurrent layer expects a sequence x of shape (N, T, D) with D = {Wx.shape[0]}, "
                         f"got shape {tuple(x.shape)}. A single step (N, D) needs x[:, None, :].")
    expected = (x.shape[0], Wh.shape[0])
    for name, state in states.items():
        if state is not None and tuple(state.shape) != expected:
            raise ValueError(f"{name} must have shape (N, H) = {expected} for {x.shape[0]} sequences and "
                             f"{Wh.shape[0]} hidden units, got {tuple(state.shape)}.")
    return _project_inputs(_swap(x), Wx, b)


def _swap(a: Any) -> Any:
    """(N, T, ...) ↔ (T, N, ...): batch-major to time-major and back (a view)."""
    return backend.namespace(a).permute_dims(a, (1, 0, *range(2, a.ndim)))


def _states(T: int, h0: Any) -> Any:
    """A buffer hs (T + 1, N, H) holding h0 in hs[0]; the state after step t goes to hs[t + 1]."""
    xp = backend.namespace(h0)
    hs = xp.empty((T + 1, *h0.shape), dtype=h0.dtype, device=device(h0))
    hs[0, ...] = h0
    return hs


def _transposed(W: Any) -> Any:
    """Wᵀ as a contiguous copy: a small matrix product runs faster on it than on the view W.T."""
    out = backend.namespace(W).empty((W.shape[1], W.shape[0]), dtype=W.dtype, device=device(W))
    out[...] = W.T
    return out


# ----------------------------------------------------------------------------- vanilla RNN

def _rnn_cell(ax: Any, h_prev: Any, Wh: Any) -> Any:
    """h = tanh(ax + h_prev·Wh) with ax = x·Wx + b. ax, h_prev, h: (N, H)."""
    return tanh(ax + h_prev @ Wh)


def rnn_step_forward(x: Any, h_prev: Any, Wx: Any, Wh: Any, b: Any) -> tuple[Any, tuple]:
    """One step of a vanilla RNN: h_next = tanh(x·Wx + h_prev·Wh + b).

    x: (N, D)   h_prev: (N, H)   Wx: (D, H)   Wh: (H, H)   b: (H,)
    Returns h_next (N, H) and the cache for :func:`rnn_step_backward`.
    """
    ax, projection = _project_inputs(x, Wx, b)
    h_next = _rnn_cell(ax, h_prev, Wh)
    return h_next, (projection, h_prev, h_next, Wh)


def rnn_step_backward(dh_next: Any, cache: tuple) -> tuple[Any, Any, Any, Any, Any]:
    """Gradients of :func:`rnn_step_forward`; tanh' = 1 − h_next².

    dh_next: (N, H). Returns dx (N, D), dh_prev (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    projection, h_prev, h_next, Wh = cache
    da = dh_next * (1 - h_next * h_next)
    dx, dWx, dWh, db = _parameter_grads(projection, h_prev, da, da)
    return dx, da @ Wh.T, dWx, dWh, db


def rnn_forward(x: Any, h0: Any, Wx: Any, Wh: Any, b: Any) -> tuple[Any, tuple]:
    """A vanilla RNN over a whole sequence (T calls of the step, input projection hoisted).

    x: (N, T, D)   h0: (N, H)   Wx: (D, H)   Wh: (H, H)   b: (H,)
    Returns h (N, T, H), the state after every step (the final state is h[:, -1]), and the
    cache for :func:`rnn_backward`.
    """
    ax, projection = _start_sequence(x, {"h0": h0}, Wx, Wh, b)   # ax (T, N, H): one matrix product
    hs = _states(x.shape[1], h0)
    for t in range(x.shape[1]):
        a = ax[t, ...]                                       # x_t·Wx + b, (N, H)
        a += hs[t, ...] @ Wh
        hs[t + 1, ...] = backend.namespace(a).tanh(a)
    return _swap(hs[1:, ...]), (projection, hs, Wh)


def rnn_backward(dh: Any, cache: tuple) -> tuple[Any, Any, Any, Any, Any]:
    """Backprop through time for :func:`rnn_forward`.

    dh: (N, T, H), the loss gradient w.r.t. every output state (zeros where unused).
    Returns dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    projection, hs, Wh = cache
    xp = backend.namespace(dh)
    dh, Wh_T = _swap(dh), _transposed(Wh)       # time-major, like hs (T + 1, N, H)
    da = 1 - hs[1:, ...] * hs[1:, ...]          # tanh' of every step; times dL/dh_t in the loop
    dh_prev = xp.zeros_like(hs[0, ...])
    for t in reversed(range(dh.shape[0])):
        da_t = da[t, ...]                       # the gradient w.r.t. step t's pre-activation
        da_t *= dh[t, ...] + dh_prev
        dh_prev = da_t @ Wh_T
    dx, dWx, dWh, db = _parameter_grads(projection, hs[:-1, ...], da, da)
    return _swap(dx), dh_prev, dWx, dWh, db


# ----------------------------------------------------------------------------- LSTM

def _lstm_cell(ax: Any, h_prev: Any, c_prev: Any, Wh: Any) -> tuple[Any, Any, tuple]:
    """One LSTM step from ax = x·Wx + b (N, 4H); returns h, c (N, H) and the cell's cache.

    Gates i, f, o = σ(·), candidate g = tanh(·); c = f⊙c_prev + i⊙g; h = o⊙tanh(c).
    """
    xp = backend.namespace(ax)
    H = h_prev.shape[-1]
    a = ax + h_prev @ Wh
    gates = xp.concat([sigmoid(a[:, :3 * H]), tanh(a[:, 3 * H:])], axis=1)   # (i, f, o, g)
    i, f, o, g = _blocks(gates, 4)
    c = f * c_prev + i * g
    tanh_c = tanh(c)
    return o * tanh_c, c, (gates, c_prev, tanh_c)


def _lstm_cell_backward(dh: Any, dc: Any, cell_cache: tuple, da: Any) -> Any:
    """Backward through :func:`_lstm_cell`: writes d(pre-activation) into da (N, 4H); returns dc_prev.

    dh, dc: gradients w.r.t. the step's h and c (N, H).
    """
    gates, c_prev, tanh_c = cell_cache
    H = dh.shape[-1]
    i, f, o, g = _blocks(gates, 4)
    dc = dc + dh * o * (1 - tanh_c * tanh_c)
    da[:, :H] = dc * g * i * (1 - i)
    da[:, H:2 * H] = dc * c_prev * f * (1 - f)
    da[:, 2 * H:3 * H] = dh * tanh_c * o * (1 - o)
    da[:, 3 * H:] = dc * i * (1 - g * g)
    return dc * f


def lstm_step_forward(x: Any, h_prev: Any, c_prev: Any, Wx: Any, Wh: Any, b: Any) -> tuple[Any, Any, tuple]:
    """One LSTM step.

    x: (N, D)   h_prev, c_prev: (N, H)   Wx: (D, 4H)   Wh: (H, 4H)   b: (4H,)
    Returns h_next (N, H), c_next (N, H) and the cache for :func:`lstm_step_backward`.
    """
    ax, projection = _project_inputs(x, Wx, b)
    h_next, c_next, cell_cache = _lstm_cell(ax, h_prev, c_prev, Wh)
    return h_next, c_next, (projection, h_prev, Wh, cell_cache)


def lstm_step_backward(dh_next: Any, dc_next: Any, cache: tuple) -> tuple[Any, ...]:
    """Gradients of :func:`lstm_step_forward`.

    dh_next, dc_next: (N, H). Returns dx (N, D), dh_prev (N, H), dc_prev (N, H),
    dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    projection, h_prev, Wh, cell_cache = cache
    xp = backend.namespace(dh_next)
    da = xp.empty((dh_next.shape[0], Wh.shape[1]), dtype=dh_next.dtype, device=device(dh_next))
    dc_prev = _lstm_cell_backward(dh_next, dc_next, cell_cache, da)
    dx, dWx, dWh, db = _parameter_grads(projection, h_prev, da, da)
    return dx, da @ Wh.T, dc_prev, dWx, dWh, db


def lstm_forward(x: Any, h0: Any, Wx: Any, Wh: Any, b: Any, c0: Any | None = None) -> tuple[Any, Any, tuple]:
    """An LSTM over a whole sequence, from the states h0 and c0 (zeros when None).

    x: (N, T, D)   h0, c0: (N, H)   Wx: (D, 4H)   Wh: (H, 4H)   b: (4H,)
    Returns h (N, T, H), the state after every step (the final one is h[:, -1]), the final
    cell state c (N, H), and the cache for :func:`lstm_backward`.

    The arithmetic of T calls of :func:`lstm_step_forward`, with σ(a) = ½ + ½·tanh(a/2): the
    gate columns of x·Wx + b and of Wh are halved once, so one tanh per step serves all four
    gates, computed in place in a buffer that keeps every step's gates for the backward pass.
    """
    xp = backend.namespace(x, h0)
    N, T = x.shape[:2]
    H = h0.shape[-1]
    gates, projection = _start_sequence(x, {"h0": h0, "c0": c0}, Wx, Wh, b)   # (T, N, 4H): x_t·Wx + b
    halve = xp.ones(4 * H, dtype=gates.dtype, device=device(gates))
    halve[:3 * H] = 0.5
    gates *= halve
    Wh_halved = Wh * halve
    hs, cs = _states(T, h0), _states(T, xp.zeros_like(h0) if c0 is None else c0)
    for t in range(T):
        z = gates[t, ...]
        z += hs[t, ...] @ Wh_halved                          # a/2 for i, f, o; a for g
        gates[t, ...] = xp.tanh(z)
        ifo = z[:, :3 * H]
        ifo *= 0.5
        ifo += 0.5                                           # z = (i, f, o, g)
        c = z[:, H:2 * H] * cs[t, ...]
        c += z[:, :H] * z[:, 3 * H:]
        cs[t + 1, ...] = c
        hs[t + 1, ...] = z[:, 2 * H:3 * H] * xp.tanh(c)
    return _swap(hs[1:, ...]), cs[T, ...], (projection, hs, cs, gates, Wh)


def lstm_backward(dh: Any, cache: tuple, dc: Any | None = None) -> tuple[Any, Any, Any, Any, Any, Any]:
    """Backprop through time for :func:`lstm_forward`.

    dh: (N, T, H), the loss gradient w.r.t. every output state; dc: (N, H), w.r.t. the final
    cell state (None: zero). Returns dx (N, T, D), dh0 (N, H), dc0 (N, H), dWx (D, 4H),
    dWh (H, 4H), db (4H,).

    T calls of :func:`_lstm_cell_backward`, the last step first, each writing its step's
    slice of da (the gradient w.r.t. the pre-activations); dx, dWx, dWh and db then take one
    matrix product each over all steps. (Computing the cell's derivative factors for all
    steps at once before the loop, as an earlier version did, made this function 1.4× slower:
    each of its whole-sequence temporaries is fresh memory that the operating system hands
    over page by page on every call, and too large for the CPU's caches; one step's arrays
    are reused and stay cached.)
    """
    projection, hs, cs, gates, Wh = cache
    xp = backend.namespace(dh)
    dh, Wh_T = _swap(dh), _transposed(Wh)
    da = xp.empty(gates.shape, dtype=gates.dtype, device=device(gates))   # (T, N, 4H)
    dh_t = xp.zeros_like(hs[0, ...])
    dc = xp.zeros_like(dh_t) if dc is None else dc
    for t in reversed(range(dh.shape[0])):
        dh_t += dh[t, ...]                                   # from the output at t and from step t + 1
        cell_cache = (gates[t, ...], cs[t, ...], xp.tanh(cs[t + 1, ...]))
        dc = _lstm_cell_backward(dh_t, dc, cell_cache, da[t, ...])   # writes da[t]; returns dc_prev
        dh_t = da[t, ...] @ Wh_T                             # dh_prev
    dx, dWx, dWh, db = _parameter_grads(projection, hs[:-1, ...], da, da)
    return _swap(dx), dh_t, dc, dWx, dWh, db


# ----------------------------------------------------------------------------- GRU

def _gru_cell(ax: Any, h_prev: Any, Wh: Any) -> tuple[Any, tuple]:
    """One GRU step from ax = x·Wx + b (N, 3H); returns h (N, H) and the cell's cache.

    r, z = σ(ax_rz + (h_prev·Wh)_rz); n = tanh(ax_n + r ⊙ (h_prev·Wh)_n); h = (1 − z)⊙n + z⊙h_prev.
    (The reset gate acts after the matrix product, as in PyTorch and cuDNN.)
    """
    H = h_prev.shape[-1]
    ah = h_prev @ Wh
    r, z = _blocks(sigmoid(ax[:, :2 * H] + ah[:, :2 * H]), 2)
    ah_n = ah[:, 2 * H:]
    n = tanh(ax[:, 2 * H:] + r * ah_n)
    return n + z * (h_prev - n), (h_prev, r, z, n, ah_n)


def _gru_cell_backward(dh: Any, cell_cache: tuple, dax: Any, dah: Any) -> Any:
    """Backward through :func:`_gru_cell`: writes the gradients w.r.t. ax and h_prev·Wh into
    dax, dah (N, 3H); returns the part of dh_prev that bypasses Wh (dh ⊙ z). dh: (N, H)."""
    h_prev, r, z, n, ah_n = cell_cache
    H = dh.shape[-1]
    dn = dh * (1 - z) * (1 - n * n)
    dax[:, :H] = dn * ah_n * r * (1 - r)
    dax[:, H:2 * H] = dh * (h_prev - n) * z * (1 - z)
    dax[:, 2 * H:] = dn
    dah[:, :2 * H] = dax[:, :2 * H]
    dah[:, 2 * H:] = dn * r
    return dh * z


def gru_step_forward(x: Any, h_prev: Any, Wx: Any, Wh: Any, b: Any) -> tuple[Any, tuple]:
    """One GRU step.

    x: (N, D)   h_prev: (N, H)   Wx: (D, 3H)   Wh: (H, 3H)   b: (3H,)
    Returns h_next (N, H) and the cache for :func:`gru_step_backward`.
    """
    ax, projection = _project_inputs(x, Wx, b)
    h_next, cell_cache = _gru_cell(ax, h_prev, Wh)
    return h_next, (projection, Wh, cell_cache)


def gru_step_backward(dh_next: Any, cache: tuple) -> tuple[Any, Any, Any, Any, Any]:
    """Gradients of :func:`gru_step_forward`.

    dh_next: (N, H). Returns dx (N, D), dh_prev (N, H), dWx (D, 3H), dWh (H, 3H), db (3H,).
    """
    projection, Wh, cell_cache = cache
    xp = backend.namespace(dh_next)
    dax, dah = (xp.empty((dh_next.shape[0], Wh.shape[1]), dtype=dh_next.dtype, device=device(dh_next))
                for _ in range(2))
    dh_direct = _gru_cell_backward(dh_next, cell_cache, dax, dah)
    dx, dWx, dWh, db = _parameter_grads(projection, cell_cache[0], dax, dah)
    return dx, dh_direct + dah @ Wh.T, dWx, dWh, db


def gru_forward(x: Any, h0: Any, Wx: Any, Wh: Any, b: Any) -> tuple[Any, tuple]:
    """A GRU over a whole sequence.

    x: (N, T, D)   h0: (N, H)   Wx: (D, 3H)   Wh: (H, 3H)   b: (3H,)
    Returns h (N, T, H), the state after every step (the final state is h[:, -1]), and the
    cache for :func:`gru_backward`.
    """
    ax, projection = _start_sequence(x, {"h0": h0}, Wx, Wh, b)   # ax (T, N, 3H): one matrix product
    hs = _states(x.shape[1], h0)
    cell_caches = []
    for t in range(x.shape[1]):
        h, cell_cache = _gru_cell(ax[t, ...], hs[t, ...], Wh)
        hs[t + 1, ...] = h
        cell_caches.append(cell_cache)
    return _swap(hs[1:, ...]), (projection, hs, Wh, cell_caches)


def gru_backward(dh: Any, cache: tuple) -> tuple[Any, Any, Any, Any, Any]:
    """Backprop through time for :func:`gru_forward`.

    dh: (N, T, H). Returns dx (N, T, D), dh0 (N, H), dWx (D, 3H), dWh (H, 3H), db (3H,).
    """
    projection, hs, Wh, cell_caches = cache
    xp = backend.namespace(dh)
    N, T, H = dh.shape
    dh, Wh_T = _swap(dh), _transposed(Wh)                    # time-major, like hs (T + 1, N, H)
    dax, dah = (xp.empty((T, N, 3 * H), dtype=dh.dtype, device=device(dh)) for _ in range(2))
    dh_prev = xp.zeros_like(hs[0, ...])
    for t in reversed(range(T)):
        dh_direct = _gru_cell_backward(dh[t, ...] + dh_prev, cell_caches[t], dax[t, ...], dah[t, ...])
        dh_prev = dh_direct + dah[t, ...] @ Wh_T
    dx, dWx, dWh, db = _parameter_grads(projection, hs[:-1, ...], dax, dah)
    return _swap(dx), dh_prev, dWx, dWh, db


# ----------------------------------------------------------------------------- embedding

def embedding_forward(idx: Any, W: Any) -> tuple[Any, tuple]:
    """Look up one row of W per integer index: out[n, t] = W[idx[n, t]].

    idx: integer array, any shape (e.g. (N, T)), values in [0, V)   W: (V, dim)
    Returns out (*idx.shape, dim) and the cache for :func:`embedding_backward`.
    """
    xp = backend.namespace(idx, W)
    out = xp.take(W, xp.reshape(idx, (-1,)), axis=0)
    return xp.reshape(out, (*idx.shape, W.shape[1])), (idx, W.shape)


def embedding_backward(dout: Any, cache: tuple) -> Any:
    """dW (V, dim): row v collects the sum of dout over every position whose index is v.

    dout: (*idx.shape, dim). An index that occurs several times adds all its gradients;
    this is a one-hot matrix product (the array API has no scatter-add), costing an
    (N·T, V) temporary.
    """
    idx, (V, dim) = cache
    xp = backend.namespace(dout)
    rows = xp.reshape(idx, (-1, 1))
    one_hot = xp.astype(rows == xp.arange(V, dtype=idx.dtype, device=device(idx)), dout.dtype)
    return one_hot.T @ xp.reshape(dout, (-1, dim))
