"""Recurrent layers (RNN, LSTM, GRU) over sequences (N, T, D), and Embedding for integer tokens."""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import device

from .. import backend
from .. import functional as F
from .. import init as initializers
from ..module import Module, Parameter

Array = Any

__all__ = ["RNN", "LSTM", "GRU", "Embedding"]


class _Recurrent(Module):
    """Shared body of RNN, LSTM and GRU: weights, input checks, initial and final states.

    x:   (N, T, input_size).
    out: (N, T, hidden_size), the state after every step (``return_sequences=True``),
         or (N, hidden_size), the state after the last step only (many-to-one).
    Wx:  (input_size, G·hidden_size)   Wh: (hidden_size, G·hidden_size)   b: (G·hidden_size,)
    with G gate blocks. Weights start uniform in ±1/√hidden_size (as in PyTorch), biases at 0.

    States, for encoder–decoders, truncated backprop through time and stateful sampling:
    ``layer(x, h0=h0)`` starts from h0 (N, hidden_size) instead of zeros (the LSTM also takes
    c0). With ``return_state=True`` the call returns ``(out, h_n)`` (LSTM: ``(out, h_n, c_n)``),
    the final states, as PyTorch's ``output, h_n`` does. ``backward(dout, dh_n=...)`` takes the
    gradient w.r.t. the final state too, and when the forward call was given an initial
    state, backward returns ``(dx, dh0)`` (LSTM: ``(dx, dh0, dc0)``) instead of dx alone.
    """

    gates: int
    forward_fn: Any
    backward_fn: Any
    state_names: tuple[str, ...] = ("h0",)

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = True,
                 dtype: str | None = None, return_state: bool = False) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.return_sequences = input_size, hidden_size, return_sequences
        self.return_state = return_state
        a = 1 / math.sqrt(hidden_size)
        width = self.gates * hidden_size
        self.Wx = Parameter(initializers.uniform(-a, a)(input_size, width, dtype=dtype))
        self.Wh = Parameter(initializers.uniform(-a, a)(hidden_size, width, dtype=dtype))
        self.b = Parameter(initializers.zeros(hidden_size, width, shape=(width,), dtype=dtype))

    def forward(self, x: Array, h0: Array | None = None) -> Array | tuple[Array, ...]:
        return self._forward(x, (h0,))

    def backward(self, dout: Array, dh_n: Array | None = None) -> Array | tuple[Array, ...]:
        return self._backward(dout, (dh_n,))

    # -------------------------------------------------------------- shared by the three cells
    def _run(self, x: Array, states: list[Array]) -> tuple[Array, tuple[Array, ...], tuple]:
        """The functional forward: h (N, T, H), the final states and the cache."""
        h, cache = self.forward_fn(x, states[0], self.Wx.data, self.Wh.data, self.b.data)
        return h, (h[:, -1, :],), cache

    def _run_backward(self, dh: Array, dfinal: tuple) -> tuple[Array, tuple, Array, Array, Array]:
        """The functional backward: dx, the initial states' gradients, dWx, dWh, db."""
        dx, dh0, dWx, dWh, db = self.backward_fn(dh, self._cache)
        return dx, (dh0,), dWx, dWh, db

    def _forward(self, x: Array, initial: tuple[Array | None, ...]) -> Array | tuple[Array, ...]:
        xp = self._check_input(x, ndim=3, last_dim=self.input_size, last_name="features per step",
                               expected=f"(N, T, {self.input_size})")
        for name, state in zip(self.state_names, initial, strict=True):
            if state is not None:
                self._check_state(name, state, x)
        self._given_state = any(state is not None for state in initial)
        zeros = xp.zeros((x.shape[0], self.hidden_size), dtype=x.dtype, device=device(x))
        h, final, self._cache = self._run(x, [zeros if s is None else s for s in initial])
        self._output_shape = tuple(h.shape)
        out = h if self.return_sequences else h[:, -1, :]
        return (out, *final) if self.return_state else out

    def _backward(self, dout: Array, dfinal: tuple[Array | None, ...]) -> Array | tuple[Array, ...]:
        xp = backend.namespace(dout)
        if self.return_sequences and dfinal[0] is None:
            dh = dout
        else:  # build dL/dh for every step: the last one also collects dL/dh_n
            dh = xp.zeros(self._output_shape, dtype=dout.dtype, device=device(dout))
            if self.return_sequences:
                dh[...] = dout
            else:  # only the last state was used: every earlier output gets zero gradient
                dh[:, -1, :] = dout
            if dfinal[0] is not None:
                dh[:, -1, :] += dfinal[0]
        dx, dinitial, dWx, dWh, db = self._run_backward(dh, dfinal)
        self.Wx.grad = self.Wx.grad + dWx
        self.Wh.grad = self.Wh.grad + dWh
        self.b.grad = self.b.grad + db
        return (dx, *dinitial) if self._given_state else dx

    def _check_state(self, name: str, state: Array, x: Array) -> None:
        expected = (x.shape[0], self.hidden_size)
        if not backend.is_array(state) or type(state) is not type(x):
            raise TypeError(f"{self._layer_name()}: {name} must be an array like the input "
                            f"({type(x).__name__}), got {type(state).__name__}. Use nnkit.asarray({name}).")
        if tuple(state.shape) != expected or state.dtype != x.dtype:
            raise ValueError(f"{self._layer_name()}: {name} must have shape (N, hidden_size) = {expected} "
                             f"and dtype {backend.dtype_name(x.dtype)} for an input of shape "
                             f"{tuple(x.shape)}, "
                             f"got shape {tuple(state.shape)}, dtype {backend.dtype_name(state.dtype)}. "
                             "A final state h_n of a previous call has that shape.")

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}"
                + ("" if self.return_sequences else ", return_sequences=False")
                + (", return_state=True" if self.return_state else ""))


class RNN(_Recurrent):
    """Vanilla (Elman) RNN: h_t = tanh(x_t·Wx + h_{t−1}·Wh + b). Shapes as in :class:`_Recurrent`, G = 1."""

    gates = 1
    forward_fn, backward_fn = staticmethod(F.rnn_forward), staticmethod(F.rnn_backward)


class LSTM(_Recurrent):
    """Long short-term memory: gates (input, forget, output) and a cell state c that carries memory.

    Shapes as in :class:`_Recurrent`, G = 4 in the order (i, f, o, g). The forget gate's
    bias starts at 1, so the cell remembers by default early in training. The states are h
    and c: ``lstm(x, h0=h0, c0=c0)``; with ``return_state=True`` it returns ``(out, h_n, c_n)``;
    ``backward(dout, dh_n=..., dc_n=...)`` returns ``(dx, dh0, dc0)`` when a state was given.
    """

    gates = 4
    forward_fn, backward_fn = staticmethod(F.lstm_forward), staticmethod(F.lstm_backward)
    state_names = ("h0", "c0")

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = True,
                 dtype: str | None = None, return_state: bool = False) -> None:
        super().__init__(input_size, hidden_size, return_sequences, dtype, return_state)
        self.b.data[hidden_size:2 * hidden_size] = 1.0

    def forward(self, x: Array, h0: Array | None = None,
                c0: Array | None = None) -> Array | tuple[Array, ...]:
        return self._forward(x, (h0, c0))

    def backward(self, dout: Array, dh_n: Array | None = None,
                 dc_n: Array | None = None) -> Array | tuple[Array, ...]:
        return self._backward(dout, (dh_n, dc_n))

    def _run(self, x: Array, states: list[Array]) -> tuple[Array, tuple[Array, ...], tuple]:
        h, c, cache = self.forward_fn(x, states[0], self.Wx.data, self.Wh.data, self.b.data, states[1])
        return h, (h[:, -1, :], c), cache

    def _run_backward(self, dh: Array, dfinal: tuple) -> tuple[Array, tuple, Array, Array, Array]:
        dx, dh0, dc0, dWx, dWh, db = self.backward_fn(dh, self._cache, dfinal[1])
        return dx, (dh0, dc0), dWx, dWh, db


class GRU(_Recurrent):
    """Gated recurrent unit: reset and update gates blend the old state with a candidate.

    Shapes as in :class:`_Recurrent`, G = 3 in the order (r, z, n).
    """

    gates = 3
    forward_fn, backward_fn = staticmethod(F.gru_forward), staticmethod(F.gru_backward)


class Embedding(Module):
    """A learnable vector per token: integer indices (N, T) → vectors (N, T, dim).

    W: (num_embeddings, dim), drawn from N(0, 1). Index v selects row W[v]. The input
    has no gradient (it is integers): backward returns None, so Embedding must be the
    first layer of a Sequential.
    """

    def __init__(self, num_embeddings: int, dim: int, dtype: str | None = None) -> None:
        super().__init__()
        self.num_embeddings, self.dim = num_embeddings, dim
        self.W = Parameter(initializers.normal(1.0)(num_embeddings, dim, dtype=dtype))

    def forward(self, idx: Array) -> Array:
        name = self._layer_name()
        if not backend.is_array(idx):
            raise TypeError(f"{name} expects an integer array of token indices, got {type(idx).__name__}. "
                            "Wrap it with nnkit.asarray(...).")
        xp = backend.namespace(idx)
        if not xp.isdtype(idx.dtype, "integral"):
            kind = backend.dtype_name(idx.dtype)
            raise TypeError(f"{name} expects integer token indices, got dtype {kind}. "
                            "Convert with nnkit.asarray(idx, dtype='int64').")
        if idx.size and (int(xp.min(idx)) < 0 or int(xp.max(idx)) >= self.num_embeddings):
            raise ValueError(f"{name} got indices from {int(xp.min(idx))} to {int(xp.max(idx))}; they must "
                             f"lie in 0 .. {self.num_embeddings - 1}. Is num_embeddings the vocabulary size?")
        out, self._cache = F.embedding_forward(idx, self.W.data)
        return out

    def backward(self, dout: Array) -> None:
        self.W.grad = self.W.grad + F.embedding_backward(dout, self._cache)
        return None

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.dim}"
