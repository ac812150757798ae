"""Fully connected (Linear) and Dropout layers."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from .. import init as initializers
from ..module import Module, Parameter

Array = Any

__all__ = ["Linear", "Dropout"]


class Linear(Module):
    """Fully connected layer: out = x @ W + b.

    x:   (N, in_features), or (..., in_features) with any leading axes.
    out: (N, out_features), or (..., out_features).
    W:   (in_features, out_features), drawn by ``init`` (a name or a function from
         :mod:`nnkit.init`; default He normal, suited to ReLU). Column k holds the weights
         of output unit k, so a slide's "Wᵀ rows" are the columns of W.
    b:   (out_features,), zeros; ``bias=False`` leaves it out (``self.b`` is None).
    dtype: "float64" or "float32" (default: nnkit's default dtype).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str | initializers.Initializer = "he_normal", dtype: str | None = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.W = Parameter(initializers.get(init)(in_features, out_features, dtype=dtype))
        self.b = Parameter(initializers.zeros(in_features, out_features, shape=(out_features,),
                                              dtype=dtype)) if bias else None

    def forward(self, x: Array) -> Array:
        self._check_input(x, ndim=-2, last_dim=self.in_features, expected=f"(N, {self.in_features})")
        out, self._cache = F.linear_forward(x, self.W.data, None if self.b is None else self.b.data)
        return out

    def backward(self, dout: Array) -> Array:
        dx, dW, db = F.linear_backward(dout, self._cache)
        self.W.grad = self.W.grad + dW
        if self.b is not None:
            self.b.grad = self.b.grad + db
        return dx

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}"
                + ("" if self.b is not None else ", bias=False"))


class Dropout(Module):
    """Inverted dropout: in training, zero each unit with probability p and scale the rest by 1/(1 − p).

    In eval() mode it passes x through unchanged. x, out: any shape.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout(p={p!r}): p is the probability of dropping each unit and must "
                             f"lie in [0, 1), got {p!r}. 0.5 is a common choice for hidden layers.")
        self.p = p

    def forward(self, x: Array) -> Array:
        self._check_input(x)
        out, self._mask = F.dropout_forward(x, self.p, self.training)
        return out

    def backward(self, dout: Array) -> Array:
        return F.dropout_backward(dout, self._mask)

    def extra_repr(self) -> str:
        return f"p={self.p}"
