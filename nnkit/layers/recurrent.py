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
    """Shared body of RNN, LSTM and GRU: weights, input checks, many-to-many or many-to-one.

    x:   (N, T, input_size); the state starts at zero for every sequence.
    out: (N, T, hidden_size), the state after every step (``return_sequences=True``),
         or (N, hidden_size), the state after the last step only (many-to-one).
    Wx:  (input_size, G·hidden_size)   Wh: (hidden_size, G·hidden_size)   b: (G·hidden_size,)
    with G gate blocks. Weights start uniform in ±1/√hidden_size (as in PyTorch), biases at 0.
    """

    gates: int
    forward_fn: Any
    backward_fn: Any

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = True,
                 dtype: str | None = None) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.return_sequences = input_size, hidden_size, return_sequences
        a = 1 / math.sqrt(hidden_size)
        width = self.gates * hidden_size
        self.Wx = Parameter(initializers.uniform(-a, a)(input_size, width, dtype=dtype))
        self.Wh = Parameter(initializers.uniform(-a, a)(hidden_size, width, dtype=dtype))
        self.b = Parameter(initializers.zeros(hidden_size, width, shape=(width,), dtype=dtype))

    def forward(self, x: Array) -> Array:
        xp = self._check_input(x, ndim=3, last_dim=self.input_size, last_name="features per step",
                               expected=f"(N, T, {self.input_size})")
        h0 = xp.zeros((x.shape[0], self.hidden_size), dtype=x.dtype, device=device(x))
        h, self._cache = self.forward_fn(x, h0, self.Wx.data, self.Wh.data, self.b.data)
        self._output_shape = tuple(h.shape)
        return h if self.return_sequences else h[:, -1, :]

    def backward(self, dout: Array) -> Array:
        if self.return_sequences:
            dh = dout
        else:  # only the last state was used: every earlier output gets zero gradient
            xp = backend.namespace(dout)
            dh = xp.zeros(self._output_shape, dtype=dout.dtype, device=device(dout))
            dh[:, -1, :] = dout
        dx, _, dWx, dWh, db = self.backward_fn(dh, self._cache)
        self.Wx.grad = self.Wx.grad + dWx
        self.Wh.grad = self.Wh.grad + dWh
        self.b.grad = self.b.grad + db
        return dx

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}"
                + ("" if self.return_sequences else ", return_sequences=False"))


class RNN(_Recurrent):
    """Vanilla (Elman) RNN: h_t = tanh(x_t·Wx + h_{t−1}·Wh + b). Shapes as in :class:`_Recurrent`, G = 1."""

    gates = 1
    forward_fn, backward_fn = staticmethod(F.rnn_forward), staticmethod(F.rnn_backward)


class LSTM(_Recurrent):
    """Long short-term memory: gates (input, forget, output) and a cell state c that carries memory.

    Shapes as in :class:`_Recurrent`, G = 4 in the order (i, f, o, g). The forget gate's
    bias starts at 1, so the cell remembers by default early in training.
    """

    gates = 4
    forward_fn, backward_fn = staticmethod(F.lstm_forward), staticmethod(F.lstm_backward)

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = True,
                 dtype: str | None = None) -> None:
        super().__init__(input_size, hidden_size, return_sequences, dtype)
        self.b.data[hidden_size:2 * hidden_size] = 1.0


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
