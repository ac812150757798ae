"""Loss functions as forward/backward pairs.

One rule for every loss: add up the loss of each example over its outputs (or
classes), then take the **mean over the N examples** (the first axis), the empirical
risk of the slides. So MSE is ½ · (1/N) Σₙ ‖ŷₙ − yₙ‖²: with one output per example that
is ½ · mean((ŷ − y)²). (PyTorch's ``nn.MSELoss`` averages over every element and has no
½; with one output it is exactly twice ours.)

``thing_forward(pred, target) -> (loss, cache)`` returns the loss as a 0-d array (it stays
on the device); ``thing_backward(cache) -> dpred`` returns d(loss)/d(pred), shape of pred.
The loss is the end of the chain, so backward needs no incoming gradient.
Targets are trusted here; :mod:`nnkit.losses` checks them and explains mistakes.
"""

from __future__ import annotations

from typing import Any

from array_api_compat import device

from .. import backend
from .activations import log_softmax, sigmoid, softplus

Array = Any

__all__ = [
    "one_hot", "mse_forward", "mse_backward", "l1_forward", "l1_backward", "bce_forward",
    "bce_backward", "bce_with_logits_forward", "bce_with_logits_backward", "cross_entropy_forward",
    "cross_entropy_backward", "nll_forward", "nll_backward",
]


def one_hot(labels: Array, num_classes: int, dtype: Any = None) -> Array:
    """Rows of the identity: one_hot([2, 0], 3) = [[0, 0, 1], [1, 0, 0]].

    labels: (N,) integers in [0, num_classes). dtype: a float dtype of the labels' namespace
    (default: nnkit's default float). Returns (N, num_classes).
    """
    xp = backend.namespace(labels)
    hits = labels[:, None] == xp.arange(num_classes, device=device(labels))
    return xp.astype(hits, dtype if dtype is not None else backend.float_dtype(xp_=xp))


def _probabilities(target: Array, logits: Array) -> Array:
    """Integer labels (N,) as one-hot rows; (N, K) targets as they are."""
    return one_hot(target, logits.shape[1], logits.dtype) if target.ndim == 1 else target


# ----------------------------------------------------------------------------- regression

def mse_forward(pred: Array, target: Array) -> tuple[Array, tuple]:
    """½ · (1/N) Σₙ ‖predₙ − targetₙ‖² (the L2 loss ½(y − f)², averaged over examples).

    pred, target: (N,) or (N, K), same shape. Returns the loss (0-d) and the cache.
    """
    diff = pred - target
    n = pred.shape[0]
    return backend.namespace(diff).sum(diff * diff) / (2 * n), (diff, n)


def mse_backward(cache: tuple) -> Array:
    """d(loss)/d(pred) = (pred − target) / N."""
    diff, n = cache
    return diff / n


def l1_forward(pred: Array, target: Array) -> tuple[Array, tuple]:
    """(1/N) Σₙ Σₖ |predₙₖ − targetₙₖ|, robust to outliers. pred, target: (N,) or (N, K)."""
    diff = pred - target
    xp = backend.namespace(diff)
    return xp.sum(xp.abs(diff)) / pred.shape[0], (diff, pred.shape[0])


def l1_backward(cache: tuple) -> Array:
    """d(loss)/d(pred) = sign(pred − target) / N (0 where they are equal)."""
    diff, n = cache
    return backend.namespace(diff).sign(diff) / n


# ----------------------------------------------------------------------------- binary

def bce_forward(prob: Array, target: Array) -> tuple[Array, tuple]:
    """Binary cross-entropy of probabilities: −(1/N) Σ [y log p + (1 − y) log(1 − p)].

    prob:   (N,) or (N, K) predicted probabilities of label 1 (e.g. a sigmoid's output).
    target: same shape, labels 0/1 (or soft labels in [0, 1]).
    p is clipped to [ε, 1 − ε], ε = the dtype's machine epsilon, so a confident wrong
    prediction costs a large finite loss (≈ 36 in float64) instead of log(0) = −inf. The
    gradient is the formula's at the clipped p, so saturated predictions still get pushed
    back. Prefer :func:`bce_with_logits_forward`, which needs no clipping.
    """
    xp = backend.namespace(prob)
    eps = xp.finfo(prob.dtype).eps
    p = xp.clip(prob, eps, 1 - eps)
    n = prob.shape[0]
    loss = -xp.sum(target * xp.log(p) + (1 - target) * xp.log(1 - p)) / n
    return loss, (p, target, n)


def bce_backward(cache: tuple) -> Array:
    """d(loss)/dp = (p − y) / (p (1 − p)) / N."""
    p, target, n = cache
    return (p - target) / (p * (1 - p)) / n


def bce_with_logits_forward(logits: Array, target: Array) -> tuple[Array, tuple]:
    """Binary cross-entropy of σ(z), computed from the logits z without ever forming σ(z).

    −[y log σ(z) + (1 − y) log(1 − σ(z))] = softplus(z) − y·z, finite for any z (±1000 too).
    logits, target: (N,) or (N, K), same shape; targets 0/1 or in [0, 1].
    """
    xp = backend.namespace(logits)
    n = logits.shape[0]
    return xp.sum(softplus(logits) - target * logits) / n, (logits, target, n)


def bce_with_logits_backward(cache: tuple) -> Array:
    """d(loss)/dz = (σ(z) − y) / N."""
    logits, target, n = cache
    return (sigmoid(logits) - target) / n


# ----------------------------------------------------------------------------- multiclass

def _ignoring(target: Array, log_probs: Array, ignore_index: int | None) -> tuple[Array, Any]:
    """Target rows y (N, K) with the ignored labels' rows set to zero, and the examples to average over.

    Without ignore_index: one-hot (or the given probability) rows and N. With it (integer labels
    only): the label ignore_index gets a zero row, and the count is the number of other
    labels (a 0-d array; 0 gives a nan loss, as in PyTorch).
    """
    if ignore_index is None:
        return _probabilities(target, log_probs), log_probs.shape[0]
    if target.ndim != 1:
        raise ValueError(f"ignore_index needs integer class labels (N,), got targets of shape "
                         f"{tuple(target.shape)}.")
    xp = backend.namespace(target)
    kept = target != ignore_index
    y = one_hot(target * xp.astype(kept, target.dtype), log_probs.shape[1], log_probs.dtype)
    weight = xp.astype(kept, log_probs.dtype)
    return y * weight[:, None], xp.sum(weight)


def cross_entropy_forward(logits: Array, target: Array,
                          ignore_index: int | None = None) -> tuple[Array, tuple]:
    """Softmax cross-entropy from logits: −(1/N) Σₙ Σₖ yₙₖ log softmax(zₙ)ₖ.

    logits: (N, K) unnormalised scores z.
    target: (N,) integer class labels in [0, K), or (N, K) one-hot / probability rows.
    ignore_index: a label (e.g. the padding of sequences of different lengths) whose examples
    count for nothing: the mean is then over the other examples only, as in PyTorch's
    ``ignore_index`` (whose default is −100; here the default None ignores nothing).
    Uses log_softmax, so it is finite for any logits.
    """
    y, n = _ignoring(target, logits, ignore_index)
    logp = log_softmax(logits)
    xp = backend.namespace(logp)
    p = xp.exp(logp)
    if ignore_index is not None:
        p = p * xp.sum(y, axis=1, keepdims=True)          # ignored rows: no gradient either
    return -xp.sum(y * logp) / n, (p, y, n)


def cross_entropy_backward(cache: tuple) -> Array:
    """d(loss)/dz = (softmax(z) − y) / N: the softmax Jacobian and the log cancel to this.

    With ignore_index, N is the number of examples kept and the ignored rows are zero.
    """
    p, y, n = cache
    return (p - y) / n


def nll_forward(log_probs: Array, target: Array, ignore_index: int | None = None) -> tuple[Array, tuple]:
    """Negative log-likelihood −(1/N) Σₙ log pₙ[yₙ] from log-probabilities (e.g. log_softmax).

    log_probs: (N, K). target: (N,) integer labels or (N, K) one-hot / probability rows.
    ignore_index: as in :func:`cross_entropy_forward`.
    """
    y, n = _ignoring(target, log_probs, ignore_index)
    return -backend.namespace(y).sum(y * log_probs) / n, (y, n)


def nll_backward(cache: tuple) -> Array:
    """d(loss)/d(log_probs) = −y / N (N: the examples kept, with ignore_index)."""
    y, n = cache
    return -y / n
