"""The affine map of a fully connected layer, and (inverted) dropout.

Batch first, as on the slides' x·W form: each row of x is one example.
"""

from __future__ import annotations

from typing import Any

from .. import backend

Array = Any

__all__ = ["linear_forward", "linear_backward", "dropout_forward", "dropout_backward"]


def linear_forward(x: Array, W: Array, b: Array | None) -> tuple[Array, tuple]:
    """out = x @ W + b.

    x:   (N, D) inputs, one example per row; any leading axes (..., D) work too.
    W:   (D, K) weights: column k holds the D weights of output unit k.
    b:   (K,) biases, or None for no bias.
    out: (N, K), or (..., K). The cache is (x, W, has_bias).
    """
    if x.ndim == 2:
        out = x @ W
    else:  # (..., D): one big matrix product beats many small batched ones
        xp = backend.namespace(x)
        out = xp.reshape(xp.reshape(x, (-1, W.shape[0])) @ W, (*x.shape[:-1], W.shape[1]))
    if b is not None:
        out += b   # in place: out is the product's fresh array
    return out, (x, W, b is not None)


def linear_backward(dout: Array, cache: tuple) -> tuple[Array, Array, Array | None]:
    """Gradients of the affine map.

    dout: (N, K) d(loss)/d(out), or (..., K).
    Returns dx (N, D) = dout @ Wᵀ, dW (D, K) = xᵀ @ dout and db (K,) = Σₙ dout (None without
    bias). With extra leading axes, dW and db sum over all of them.
    """
    x, W, has_bias = cache
    xp = backend.namespace(dout)
    x2, dout2 = xp.reshape(x, (-1, W.shape[0])), xp.reshape(dout, (-1, W.shape[1]))
    dx = xp.reshape(dout2 @ W.T, x.shape)
    dW = x2.T @ dout2
    db = xp.sum(dout2, axis=0) if has_bias else None
    return dx, dW, db


def dropout_forward(x: Array, p: float, training: bool = True,
                    rng: Any = None) -> tuple[Array, Array | None]:
    """Inverted dropout: zero each unit with probability p, scale survivors by 1/(1 − p).

    Scaling during training keeps E[out] = x, so evaluation needs no change: with
    ``training=False`` (or p = 0) out is x itself.
    x:   any shape. p: drop probability in [0, 1).
    rng: host generator that gives the mask's key (default ``backend.rng()``). The uniform
         numbers themselves are computed on x's device (:func:`nnkit.backend.device_uniform`):
         nothing is copied from the host, and every backend drops the same units for the
         same seed.
    Returns out (shape of x) and the cache: the scaled mask (shape of x), or None when off.
    """
    if not training or p == 0:
        return x, None
    xp = backend.namespace(x)
    keep = backend.device_uniform(tuple(x.shape), x, rng) >= p
    mask = xp.astype(keep, x.dtype) * (1 / (1 - p))
    return x * mask, mask


def dropout_backward(dout: Array, cache: Array | None) -> Array:
    """dx = dout * mask: gradient flows only through the units that were kept. dout, dx: shape of x."""
    return dout if cache is None else dout * cache
