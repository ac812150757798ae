"""Weight initialisers.

An initialiser is a function ``init(fan_in, fan_out, shape=None, dtype=None) -> array``:
fan_in / fan_out are how many inputs feed each unit and how many units each input feeds
(for a dense layer, in_features and out_features); ``shape`` defaults to
(fan_in, fan_out), the shape of a :class:`~nnkit.layers.Linear` weight. Pass one to a
layer as ``Linear(2, 16, init=nnkit.init.xavier_uniform)``, or by name, ``init="xavier_uniform"``.
:func:`normal` and :func:`uniform` first take their spread and return an initialiser:
``init=nnkit.init.normal(0.01)``.

Random numbers are drawn on the host (``backend.randn`` / ``backend.rand``), so every
backend starts from identical weights for the same seed.

Which scale? A unit sums fan_in terms, so with weights of variance v its output variance
is about fan_in · v times its inputs'. Xavier/Glorot (for tanh/sigmoid) takes
v = 2 / (fan_in + fan_out); He (for ReLU, which zeroes half its inputs) takes v = 2 / fan_in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import backend

Array = Any
Initializer = Callable[..., Array]

__all__ = ["Initializer", "zeros", "normal", "uniform", "xavier_uniform", "xavier_normal",
           "he_normal", "he_uniform", "get"]


def _shape(fan_in: int, fan_out: int, shape: tuple[int, ...] | None) -> tuple[int, ...]:
    return tuple(shape) if shape is not None else (fan_in, fan_out)


def zeros(fan_in: int, fan_out: int, shape: tuple[int, ...] | None = None,
          dtype: str | None = None) -> Array:
    """All zeros (biases). For weights it is a trap: every unit of a layer stays identical."""
    active = backend.get_backend()
    return active.xp.zeros(_shape(fan_in, fan_out, shape), dtype=backend.float_dtype(dtype),
                           device=active.device)


def normal(std: float, mean: float = 0.0) -> Initializer:
    """An initialiser drawing from N(mean, std²), e.g. ``normal(0.01)`` (the slides' N(0, σ²))."""
    def init(fan_in: int, fan_out: int, shape: tuple[int, ...] | None = None,
             dtype: str | None = None) -> Array:
        return backend.randn(*_shape(fan_in, fan_out, shape), std=std, dtype=dtype) + mean
    init.__name__ = f"normal({std})"
    return init


def uniform(low: float, high: float) -> Initializer:
    """An initialiser drawing from U[low, high), e.g. ``uniform(-0.1, 0.1)``."""
    def init(fan_in: int, fan_out: int, shape: tuple[int, ...] | None = None,
             dtype: str | None = None) -> Array:
        return backend.rand(*_shape(fan_in, fan_out, shape), low=low, high=high, dtype=dtype)
    init.__name__ = f"uniform({low}, {high})"
    return init


def xavier_normal(fan_in: int, fan_out: int, shape: tuple[int, ...] | None = None,
                  dtype: str | None = None) -> Array:
    """Glorot normal: N(0, 2 / (fan_in + fan_out)), for tanh and sigmoid layers."""
    return normal(math.sqrt(2 / (fan_in + fan_out)))(fan_in, fan_out, shape, dtype)


def xavier_uniform(fan_in: int, fan_out: int, shape: tuple[int, ...] | None = None,
                   dtype: str | None = None) -> Array:
    """Glorot uniform: U[−a, a) with a = √(6 / (fan_in + fan_out)) (same variance as xavier_normal)."""
    a = math.sqrt(6 / (fan_in + fan_out))
    return uniform(-a, a)(fan_in, fan_out, shape, dtype)


def he_normal(fan_in: int, fan_out: int, shape: tuple[int, ...] | None = None,
              dtype: str | None = None) -> Array:
    """He/Kaiming normal: N(0, 2 / fan_in), for ReLU layers (nnkit's default)."""
    return normal(math.sqrt(2 / fan_in))(fan_in, fan_out, shape, dtype)


def he_uniform(fan_in: int, fan_out: int, shape: tuple[int, ...] | None = None,
               dtype: str | None = None) -> Array:
    """He/Kaiming uniform: U[−a, a) with a = √(6 / fan_in)."""
    a = math.sqrt(6 / fan_in)
    return uniform(-a, a)(fan_in, fan_out, shape, dtype)


def get(init: str | Initializer) -> Initializer:
    """The initialiser named ``init`` ("he_normal", "zeros", ...), or ``init`` itself if callable."""
    if init in (normal, uniform):
        raise TypeError(f"init=nnkit.init.{init.__name__} needs its spread first, e.g. "
                        f"init=nnkit.init.{'normal(0.01)' if init is normal else 'uniform(-0.1, 0.1)'}.")
    if callable(init):
        return init
    named = {f.__name__: f for f in (zeros, xavier_uniform, xavier_normal, he_normal, he_uniform)}
    if init not in named:
        raise ValueError(f"Unknown initialiser {init!r}: choose one of {', '.join(named)}, "
                         "or pass nnkit.init.normal(std) / nnkit.init.uniform(low, high).")
    return named[init]
