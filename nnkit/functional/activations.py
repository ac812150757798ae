"""Activation functions, each defined once together with its derivative; softmax.

Every elementwise activation is an :class:`Activation` built from two formulas,
``f(x)`` and its derivative ``f'``. The same object serves three uses:

>>> y = sigmoid(x)                      # a plain function
>>> y, cache = sigmoid.forward(x)       # backprop: keep what backward needs
>>> dx = sigmoid.backward(dout, cache)  # dx = dout * f'(x)
>>> slope = sigmoid.derivative(x)       # f'(x), e.g. to plot it

Derivatives take both the input ``x`` and the output ``y = f(x)`` and are written the
way textbooks write them, through the output where that is shortest: σ' = σ(1 − σ),
tanh' = 1 − tanh². Parameters such as ``alpha`` are keyword arguments:
``leaky_relu(x, alpha=0.1)``. :data:`ACTIVATIONS` maps each name to its Activation.

Shapes: x (any shape); y, dout, dx and f'(x) have the shape of x.
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import signature
from typing import Any

from array_api_compat import device

from .. import backend

Array = Any

__all__ = [
    "Activation", "ACTIVATIONS", "identity", "step", "sigmoid", "tanh", "hard_tanh", "softsign",
    "relu", "leaky_relu", "elu", "softplus", "gelu", "silu", "gaussian", "softmax", "log_softmax",
    "softmax_forward",
    "softmax_backward", "log_softmax_forward", "log_softmax_backward", "softmax_jacobian",
]


class Activation:
    """An elementwise function y = f(x) and its derivative f'(x) = df(x, y).

    f:  f(x, **params) -> y, e.g. ``relu``; its keyword defaults are the parameters.
    df: df(x, y, **params) -> f'(x), with y = f(x) already computed.
    """

    def __init__(self, f: Callable[..., Array], df: Callable[..., Array]) -> None:
        self.f, self.df = f, df
        self.name = f.__name__
        self.__doc__ = f.__doc__
        self.params = {n: p.default for n, p in list(signature(f).parameters.items())[1:]}

    def __call__(self, x: Array, **params: float) -> Array:
        return self.f(x, **params)

    def forward(self, x: Array, **params: float) -> tuple[Array, tuple]:
        """y = f(x) and the cache (x, y, params) for :meth:`backward`."""
        y = self.f(x, **params)
        return y, (x, y, params)

    def backward(self, dout: Array, cache: tuple) -> Array:
        """dx = dout * f'(x): the chain rule through an elementwise function."""
        x, y, params = cache
        return dout * self.df(x, y, **params)

    def derivative(self, x: Array, **params: float) -> Array:
        """f'(x) at every element of x."""
        return self.df(x, self.f(x, **params), **params)

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


ACTIVATIONS: dict[str, Activation] = {}


def activation(derivative: Callable[..., Array]) -> Callable[[Callable[..., Array]], Activation]:
    """Decorator: turn ``f`` into an :class:`Activation` with the given derivative and register it."""
    def register(f: Callable[..., Array]) -> Activation:
        ACTIVATIONS[f.__name__] = act = Activation(f, derivative)
        return act
    return register


def _indicator(condition: Array, like: Array) -> Array:
    """1.0 where condition holds, else 0.0, in the dtype of ``like``."""
    return backend.namespace(like).astype(condition, like.dtype)


# ----------------------------------------------------------------------------- the activations

@activation(derivative=lambda x, y: backend.namespace(x).ones_like(x))
def identity(x: Array) -> Array:
    """f(x) = x: a linear unit. Stacked linear layers collapse into one linear map."""
    return x


@activation(derivative=lambda x, y: backend.namespace(x).zeros_like(x))
def step(x: Array) -> Array:
    """Threshold unit: 1 where x > 0, else 0 (the perceptron's activation).

    Its derivative is 0 everywhere except at x = 0, where it does not exist; we return 0
    there too. So no gradient ever flows through a step: it cannot be trained by backprop.
    """
    return _indicator(x > 0, x)


@activation(derivative=lambda x, y: y * (1 - y))
def sigmoid(x: Array) -> Array:
    """σ(x) = 1 / (1 + e⁻ˣ), squashing into (0, 1); σ' = σ(1 − σ) ≤ 1/4.

    Computed through e^(−|x|), which lies in (0, 1], so it never overflows (x = ±1000 is fine).
    """
    xp = backend.namespace(x)
    e = xp.exp(-xp.abs(x))
    denominator = 1 + e
    return xp.where(x >= 0, 1 / denominator, e / denominator)


@activation(derivative=lambda x, y: 1 - y * y)
def tanh(x: Array) -> Array:
    """tanh(x) = 2σ(2x) − 1, zero-centred in (−1, 1); tanh' = 1 − tanh²."""
    return backend.namespace(x).tanh(x)


@activation(derivative=lambda x, y: _indicator(backend.namespace(x).abs(x) < 1, x))
def hard_tanh(x: Array) -> Array:
    """tanh's piecewise-linear cousin: x clipped to [−1, 1]; slope 1 inside, 0 outside."""
    return backend.namespace(x).clip(x, -1.0, 1.0)


@activation(derivative=lambda x, y: (1 - backend.namespace(y).abs(y)) ** 2)
def softsign(x: Array) -> Array:
    """x / (1 + |x|), in (−1, 1) like tanh but with polynomial tails; f' = 1/(1 + |x|)² = (1 − |y|)²."""
    return x / (1 + backend.namespace(x).abs(x))


@activation(derivative=lambda x, y: _indicator(x > 0, x))
def relu(x: Array) -> Array:
    """max(0, x): cheap, no vanishing gradient for x > 0, but a unit stuck at x < 0 is dead."""
    return backend.namespace(x).maximum(x, 0.0)


@activation(derivative=lambda x, y, alpha=0.01: alpha + (1 - alpha) * _indicator(x > 0, x))
def leaky_relu(x: Array, alpha: float = 0.01) -> Array:
    """x where x > 0, else alpha·x: a ReLU whose negative side keeps a small slope alpha."""
    return backend.namespace(x).where(x > 0, x, alpha * x)


@activation(derivative=lambda x, y, alpha=1.0: backend.namespace(x).where(x > 0, 1.0, y + alpha))
def elu(x: Array, alpha: float = 1.0) -> Array:
    """x where x > 0, else alpha·(eˣ − 1): smooth, saturating at −alpha; f' = y + alpha for x ≤ 0."""
    xp = backend.namespace(x)
    return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0.0)))


@activation(derivative=lambda x, y: sigmoid(x))
def softplus(x: Array) -> Array:
    """log(1 + eˣ), a smooth ReLU whose derivative is σ(x); stable: max(x, 0) + log(1 + e^(−|x|))."""
    xp = backend.namespace(x)
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


_GELU_C = (2 / 3.141592653589793) ** 0.5     # sqrt(2/π)


def _gelu_slope(x: Array, y: Array) -> Array:
    """GELU' for the tanh form: ½(1 + tanh u) + ½x(1 − tanh² u)·u', u = √(2/π)(x + 0.044715x³)."""
    t = backend.namespace(x).tanh(_GELU_C * (x + 0.044715 * x * x * x))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_C * (1 + 3 * 0.044715 * x * x)


@activation(derivative=_gelu_slope)
def gelu(x: Array) -> Array:
    """x·Φ(x) in its tanh form ½x(1 + tanh(√(2/π)(x + 0.044715x³))), as GELU(approximate="tanh") in PyTorch.

    A smooth ReLU with a small dip below 0 (minimum about −0.17 near x = −0.75); the activation of
    BERT and GPT. Φ is the standard normal CDF; the tanh form differs from x·Φ(x) by less than 1e-3.
    """
    return 0.5 * x * (1 + backend.namespace(x).tanh(_GELU_C * (x + 0.044715 * x * x * x)))


@activation(derivative=lambda x, y: sigmoid(x) * (1 + x * (1 - sigmoid(x))))
def silu(x: Array) -> Array:
    """x·σ(x), also called swish: a smooth ReLU with a dip (minimum about −0.28 at x ≈ −1.28).

    f' = σ(x)·(1 + x(1 − σ(x))).
    """
    return x * sigmoid(x)


@activation(derivative=lambda x, y: -2 * x * y)
def gaussian(x: Array) -> Array:
    """Radial basis unit exp(−x²): 1 at x = 0, fading to 0 far away; f' = −2x·y."""
    return backend.namespace(x).exp(-x * x)


# ----------------------------------------------------------------------------- softmax

def softmax(z: Array, axis: int = -1) -> Array:
    """Probabilities p = e^z / Σ e^z along ``axis``, stable for any logits.

    z: logits, e.g. (N, K). Returns p, same shape, each slice along axis summing to 1.
    Subtracting the max first changes nothing mathematically but keeps every exponent
    ≤ 0, so softmax([1, 1000, 2]) is exactly (0, 1, 0) instead of NaN.
    """
    xp = backend.namespace(z)
    e = xp.exp(z - xp.max(z, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def log_softmax(z: Array, axis: int = -1) -> Array:
    """log(softmax(z)) = z − logsumexp(z), stable for any logits (never log(0)).

    z: logits (N, K). Returns log-probabilities, same shape.
    """
    xp = backend.namespace(z)
    shifted = z - xp.max(z, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def softmax_forward(z: Array, axis: int = -1) -> tuple[Array, tuple]:
    """p = softmax(z) and the cache (p, axis). z, p: (N, K)."""
    p = softmax(z, axis)
    return p, (p, axis)


def softmax_backward(dout: Array, cache: tuple) -> Array:
    """Jacobian-vector product dz = (diag(p) − p pᵀ) dout = p ⊙ (dout − ⟨dout, p⟩).

    dout: d(loss)/dp (N, K). Returns d(loss)/dz (N, K) without building the K × K Jacobian.
    """
    p, axis = cache
    xp = backend.namespace(p)
    return p * (dout - xp.sum(dout * p, axis=axis, keepdims=True))


def log_softmax_forward(z: Array, axis: int = -1) -> tuple[Array, tuple]:
    """out = log_softmax(z) and the cache (softmax(z), axis). z, out: (N, K)."""
    out = log_softmax(z, axis)
    return out, (backend.namespace(out).exp(out), axis)


def log_softmax_backward(dout: Array, cache: tuple) -> Array:
    """dz = dout − p · Σ dout (∂ log pᵢ / ∂zⱼ = δᵢⱼ − pⱼ). dout, dz: (N, K)."""
    p, axis = cache
    return dout - p * backend.namespace(p).sum(dout, axis=axis, keepdims=True)


def softmax_jacobian(p: Array) -> Array:
    """The Jacobian ∂pᵢ/∂zⱼ = diag(p) − p pᵀ of softmax at probabilities p (for teaching).

    p: (K,) or batched (N, K). Returns (K, K) or (N, K, K). Backprop never builds it:
    :func:`softmax_backward` applies it to a vector directly.
    """
    xp = backend.namespace(p)
    k = p.shape[-1]
    eye = xp.eye(k, dtype=p.dtype, device=device(p))
    return eye * p[..., None, :] - p[..., :, None] * p[..., None, :]
