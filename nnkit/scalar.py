"""A scalar autograd in about a hundred lines: backpropagation with nothing hidden.

A :class:`Value` holds one number, the Values it was computed from (its ``parents``)
and the derivative of itself with respect to each parent (its ``local_grads``), worked
out at the moment it is made. :meth:`Value.backward` then visits the graph from the
output back to the inputs and applies the chain rule once per edge::

    parent.grad += local_grad * child.grad

A Value reached along several paths collects one term per path: that is the "sum over
paths" of chapter 5, and all there is to backpropagation.

    >>> w, x, b = Value(-3.0), Value(2.0), Value(1.0)
    >>> y = (w * x + b).sigmoid()       # one neuron: σ(wx + b)
    >>> y.backward()
    >>> round(w.grad, 4)                # dy/dw = σ'(wx + b) · x
    0.0133

Leaves (Values you made yourself: inputs, weights) *accumulate* gradients, like
nnkit's ``Parameter.grad``: set ``v.grad = 0.0`` between steps. Everything runs on
Python floats, so it is slow; it exists to be read, and to check the array code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


class Value:
    """One scalar in a computation graph: its number, its gradient and how it was made."""

    __slots__ = ("data", "grad", "parents", "local_grads", "op", "label")

    def __init__(self, data: float, parents: Iterable[Value] = (), local_grads: Iterable[float] = (),
                 op: str = "", label: str = "") -> None:
        self.data = float(data)
        self.grad = 0.0                          # d(output)/d(self), filled in by backward()
        self.parents = tuple(parents)            # the Values this one was computed from
        self.local_grads = tuple(local_grads)    # d(self)/d(parent), one per parent
        self.op = op                             # "+", "*", "tanh", ...: for printing and drawing
        self.label = label                       # an optional name: "w1", "x", ...

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.4g}, grad={self.grad:.4g})"

    # ----------------------------------------------------------------- arithmetic
    # Each operation returns its result together with d(result)/d(each input).
    def __add__(self, other: Value | float) -> Value:
        other = _value(other)                                       # d(a+b)/da = 1, d(a+b)/db = 1
        return Value(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __sub__(self, other: Value | float) -> Value:
        other = _value(other)                                       # d(a-b)/da = 1, d(a-b)/db = -1
        return Value(self.data - other.data, (self, other), (1.0, -1.0), "-")

    def __mul__(self, other: Value | float) -> Value:
        other = _value(other)                                       # d(ab)/da = b, d(ab)/db = a
        return Value(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __truediv__(self, other: Value | float) -> Value:
        other = _value(other)                                       # d(a/b)/da = 1/b, d(a/b)/db = -a/b²
        return Value(self.data / other.data, (self, other),
                     (1.0 / other.data, -self.data / other.data ** 2), "/")

    def __pow__(self, k: float) -> Value:
        if isinstance(k, Value):
            raise TypeError("Value ** Value is not supported: the exponent must be a plain number.")
        return Value(self.data ** k, (self,), (k * self.data ** (k - 1),), f"**{k:g}")  # (aᵏ)' = k·aᵏ⁻¹

    def __neg__(self) -> Value:
        return Value(-self.data, (self,), (-1.0,), "neg")

    def __radd__(self, other: float) -> Value:                      # 2 + v, and sum([...]) which starts at 0
        return _value(other) + self

    def __rsub__(self, other: float) -> Value:
        return _value(other) - self

    def __rmul__(self, other: float) -> Value:
        return _value(other) * self

    def __rtruediv__(self, other: float) -> Value:
        return _value(other) / self

    # ----------------------------------------------------------------- functions
    def exp(self) -> Value:
        e = math.exp(self.data)
        return Value(e, (self,), (e,), "exp")                       # (eˣ)' = eˣ

    def log(self) -> Value:
        return Value(math.log(self.data), (self,), (1.0 / self.data,), "log")   # (ln x)' = 1/x

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,), "tanh")            # tanh' = 1 − tanh²

    def sigmoid(self) -> Value:
        z = self.data                                               # written so exp never overflows
        s = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
        return Value(s, (self,), (s * (1.0 - s),), "σ")             # σ' = σ(1 − σ) ≤ 1/4

    def relu(self) -> Value:
        return Value(max(self.data, 0.0), (self,), (1.0 if self.data > 0 else 0.0,), "relu")

    # ----------------------------------------------------------------- backpropagation
    def topological_order(self) -> list[Value]:
        """Every Value this one depends on, each listed after all of its parents (self last)."""
        order: list[Value] = []
        seen: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:                    # depth-first, without recursion (deep graphs are fine)
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node.parents)
        return order

    def backward(self) -> None:
        """Fill ``.grad`` of every Value in the graph with d(self)/d(that Value)."""
        order = self.topological_order()
        for node in order:
            if node.parents:            # intermediate results start from zero; leaves accumulate
                node.grad = 0.0
        self.grad = 1.0                 # d(self)/d(self)
        for node in reversed(order):    # children before parents: each node's grad is final here
            for parent, local in zip(node.parents, node.local_grads, strict=True):
                parent.grad += local * node.grad


def _value(x: Value | float) -> Value:
    """Wrap a plain number as a constant Value (a leaf nobody asks the gradient of)."""
    return x if isinstance(x, Value) else Value(x)


# --------------------------------------------------------------------- small helpers
def values(nested, label: str = "") -> list:
    """Nested lists (or a NumPy array's ``tolist()``) of numbers -> the same nesting of Values."""
    if isinstance(nested, (int, float)):
        return Value(nested, label=label)
    return [values(item, f"{label}{i}" if label else "") for i, item in enumerate(nested)]


def grads(nested) -> list:
    """The same nesting of Values -> nested lists of their ``.grad`` (ready for nnkit.asarray)."""
    return nested.grad if isinstance(nested, Value) else [grads(item) for item in nested]


def matmul(A: list[list[Value]], B: list[list[Value]]) -> list[list[Value]]:
    """The product of two nested-list matrices of Values, (N, D) @ (D, K) -> (N, K)."""
    columns = list(zip(*B, strict=True))
    return [[sum((a * b for a, b in zip(row, col, strict=True)), Value(0.0)) for col in columns] for row in A]
