"""Loss objects and weight penalties.

>>> loss_fn = CrossEntropyLoss()
>>> loss = loss_fn(logits, y)        # the mean loss over the batch, a Python float
>>> dlogits = loss_fn.backward()     # d(loss)/d(logits), the shape of logits
>>> model.backward(dlogits)

Calling a loss returns a plain ``float``: easy to print, format, store and plot. On a GPU,
reading that number makes the CPU wait until the device has computed it, so a loop that
should keep the GPU busy calls :meth:`Loss.forward` instead, which returns the loss as a
0-d array on the device and reads nothing, and checks the targets' values once with
:meth:`Loss.check_values` (:func:`nnkit.fit` does both).
Every loss sums over each example's outputs and takes the mean over the N examples
(see :mod:`nnkit.functional.losses`). Targets are checked first, so a wrong shape, a
label out of range or a float label gives an error that names the loss and the fix.

Penalties: the regularised cost of the slides is J(Θ) + λ/(2m) Σ Θ², with m the number of
examples J averages over (the batch size for a mini-batch step). :func:`l2_penalty` is that
term, :func:`add_l2_grad` adds its gradient (λ/m)·Θ into each ``param.grad``; the L1
pair does the same for (λ/m) Σ |Θ|. With m = 1 they are the plain λ/2 Σ w² and λ Σ |w|.
The slides do not penalise biases: pass :func:`weights(model) <weights>`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from . import backend
from . import functional as F
from .module import Module, Parameter

Array = Any

__all__ = ["Loss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
           "weights", "l2_penalty", "add_l2_grad", "l1_penalty", "add_l1_grad"]


class Loss:
    """Base class: ``loss_fn(pred, target) -> float`` (or ``forward``), then ``backward() -> dpred``.

    Subclasses name their functional pair and what their targets are:
    "values" (any numbers, shape of pred), "probabilities" (in [0, 1], shape of pred) or
    "classes" (integer labels (N,) in [0, K), or one-hot rows (N, K), for scores (N, K)).
    """

    forward_fn: Any
    backward_fn: Any
    targets: str

    def __init__(self) -> None:
        self._cache: tuple | None = None

    def __call__(self, pred: Array, target: Array) -> float:
        """The mean loss over the batch as a Python float, after checking the targets fully.

        pred: (N, ...) predictions; target: what the loss's ``targets`` describe.
        """
        loss = self.forward(pred, target)
        self.check_values(pred, target)
        return float(loss)

    def forward(self, pred: Array, target: Array) -> Array:
        """The mean loss as a 0-d array where ``pred`` lives, without reading it back.

        Checks shapes and dtypes (known on the host, so free) but not the targets' values,
        which would need a read from the device: call :meth:`check_values` once on the whole
        data set. ``float(loss_fn.forward(pred, target))`` equals ``loss_fn(pred, target)``.
        """
        self._check(pred, target)
        value, self._cache = self.forward_fn(pred, target)
        return value

    def backward(self) -> Array:
        """d(loss)/d(pred) for the last call, the shape of pred."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() needs a forward call first: "
                               "loss = loss_fn(pred, target).")
        return self.backward_fn(self._cache)

    def check_values(self, pred: Array, target: Array) -> None:
        """Raise a clear error unless the targets' values suit this loss (one read from the device).

        Class labels must lie in [0, K) for scores (..., K); probability targets in [0, 1].
        target may hold more rows than pred: fit checks its whole training set once, with
        the first batch's predictions.
        """
        name, xp = type(self).__name__, backend.namespace(target)
        labels = self.targets == "classes" and target.ndim == 1
        if not (labels or self.targets == "probabilities") or target.shape[0] == 0:
            return
        ignore_index = getattr(self, "ignore_index", None)
        if labels and ignore_index is not None:   # ignored labels may be anything (PyTorch pads with −100)
            target = target * xp.astype(target != ignore_index, target.dtype)
        low, high = backend.to_numpy(xp.stack([xp.min(target), xp.max(target)])).tolist()
        if labels and (low < 0 or high >= pred.shape[-1]):
            k = pred.shape[-1]
            raise ValueError(f"{name}: class labels must lie in [0, {k}) for scores with {k} columns, "
                             f"got labels from {low} to {high}. Does the last layer have one output "
                             "per class (and do labels start at 0)?")
        if not labels and (low < 0 or high > 1):
            raise ValueError(f"{name} expects targets in [0, 1] (labels 0 and 1), got values from "
                             f"{low} to {high}. For labels −1/+1, use (y + 1) / 2.")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # -------------------------------------------------------------- target checks
    def _check(self, pred: Array, target: Array) -> None:
        name = type(self).__name__
        for what, a in (("predictions", pred), ("targets", target)):
            if not backend.is_array(a):
                raise TypeError(f"{name} expects {what} as an array, got {type(a).__name__}. "
                                "Wrap data with nnkit.asarray(...).")
        if type(target) is not type(pred):
            raise backend.BackendError(
                f"{name}: the predictions are {type(pred).__module__}.{type(pred).__name__} arrays but "
                f"the targets are {type(target).__module__}.{type(target).__name__}. Move the targets "
                "to the same backend: y = nnkit.asarray(y).")
        if pred.ndim == 0:
            raise ValueError(f"{name} expects a batch of predictions, shape (N, ...), got a 0-d array.")
        if self.targets == "classes":
            self._check_classes(name, pred, target)
        else:
            self._check_same_shape(name, pred, target)

    def _check_classes(self, name: str, scores: Array, target: Array) -> None:
        if scores.ndim != 2:
            raise ValueError(f"{name} expects scores of shape (N, K), one row per example and one "
                             f"column per class, got shape {tuple(scores.shape)}.")
        n, k = scores.shape
        if tuple(target.shape) == (n, k):  # one-hot or probability rows
            self._check_dtype(name, scores, target)
            return
        if target.ndim != 1:
            raise ValueError(f"{name} expects targets of shape ({n},) (integer class labels) or "
                             f"({n}, {k}) (one-hot rows) for scores of shape ({n}, {k}), got shape "
                             f"{tuple(target.shape)}.")
        xp = backend.namespace(target)
        if not xp.isdtype(target.dtype, "integral"):
            raise TypeError(f"{name} expects integer class labels, got dtype "
                            f"{backend.dtype_name(target.dtype)}. Convert them with "
                            "nnkit.asarray(y, dtype='int64').")
        if target.shape[0] != n:
            raise ValueError(f"{name} got {n} rows of scores, shape ({n}, {k}), but {target.shape[0]} "
                             f"labels, shape {tuple(target.shape)}: one label per example is needed.")

    def _check_same_shape(self, name: str, pred: Array, target: Array) -> None:
        if tuple(target.shape) != tuple(pred.shape):
            raise ValueError(f"{name}: targets of shape {tuple(target.shape)} do not match predictions "
                             f"of shape {tuple(pred.shape)}; they must match exactly (broadcasting (N,) "
                             "against (N, 1) would silently compare every pair). A column of targets "
                             "has shape (N, 1).")
        self._check_dtype(name, pred, target)

    def _check_dtype(self, name: str, pred: Array, target: Array) -> None:
        if target.dtype != pred.dtype:
            wanted = backend.dtype_name(pred.dtype)
            raise TypeError(f"{name}: targets are {backend.dtype_name(target.dtype)} but predictions "
                            f"are {wanted}; nnkit never mixes dtypes silently. Convert the targets "
                            f"with nnkit.asarray(y, dtype='{wanted}').")


class MSELoss(Loss):
    """½ · mean over examples of ‖pred − target‖² (regression). pred, target: (N,) or (N, K)."""

    forward_fn, backward_fn, targets = staticmethod(F.mse_forward), staticmethod(F.mse_backward), "values"


class L1Loss(Loss):
    """Mean over examples of Σ |pred − target| (regression, robust to outliers). pred, target: (N, ...)."""

    forward_fn, backward_fn, targets = staticmethod(F.l1_forward), staticmethod(F.l1_backward), "values"


class BCELoss(Loss):
    """Binary cross-entropy of probabilities (e.g. after Sigmoid), clipped to [ε, 1 − ε].

    pred: (N,) or (N, K) probabilities; target: same shape, 0/1. Prefer BCEWithLogitsLoss.
    """

    forward_fn, backward_fn, targets = (staticmethod(F.bce_forward), staticmethod(F.bce_backward),
                                        "probabilities")


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy from logits z (no Sigmoid layer before it); stable for any z.

    pred: (N,) or (N, K) logits; target: same shape, 0/1. Gradient: (σ(z) − y) / N.
    """

    forward_fn, backward_fn, targets = (staticmethod(F.bce_with_logits_forward),
                                        staticmethod(F.bce_with_logits_backward), "probabilities")


class _ClassificationLoss(Loss):
    """A loss over class scores that can skip examples: ``ignore_index`` as in PyTorch.

    ignore_index: a label (e.g. the padding token of sequences of different lengths) whose
    examples count for nothing: no loss, no gradient, and the mean is over the other examples.
    PyTorch's default is −100; here the default None ignores nothing. Integer labels only.
    """

    def __init__(self, ignore_index: int | None = None) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        if ignore_index is not None:
            self.forward_fn = functools.partial(type(self).forward_fn, ignore_index=ignore_index)

    def __repr__(self) -> str:
        setting = "" if self.ignore_index is None else f"ignore_index={self.ignore_index}"
        return f"{type(self).__name__}({setting})"


class CrossEntropyLoss(_ClassificationLoss):
    """Softmax cross-entropy from logits (no Softmax layer before it); stable for any logits.

    pred: (N, K) logits; target: (N,) integer labels in [0, K) or (N, K) one-hot rows.
    Gradient: (softmax(z) − y) / N. ``ignore_index``: see :class:`_ClassificationLoss`.
    """

    forward_fn, backward_fn, targets = (staticmethod(F.cross_entropy_forward),
                                        staticmethod(F.cross_entropy_backward), "classes")


class NLLLoss(_ClassificationLoss):
    """Negative log-likelihood of log-probabilities (e.g. after LogSoftmax): −mean log p[label].

    pred: (N, K) log-probabilities; target: (N,) integer labels or (N, K) one-hot rows.
    ``ignore_index``: see :class:`_ClassificationLoss`.
    """

    forward_fn, backward_fn, targets = staticmethod(F.nll_forward), staticmethod(F.nll_backward), "classes"


# ----------------------------------------------------------------------------- penalties

def weights(model: Module) -> list[Parameter]:
    """The model's weight matrices and kernels (parameters with 2+ axes), leaving out the biases."""
    return [p for p in model.parameters() if len(p.shape) > 1]


def _total(params: Iterable[Parameter], term: Any) -> float:
    """Σ over the parameters of Σ term(θ) over their entries, as a float."""
    return sum(float(backend.namespace(p.data).sum(term(p.data))) for p in params)


def l2_penalty(params: Iterable[Parameter], lam: float, m: int = 1) -> float:
    """λ/(2m) Σ θ² over every entry of ``params`` (weight decay)."""
    return lam / (2 * m) * _total(params, lambda t: t * t)


def add_l2_grad(params: Iterable[Parameter], lam: float, m: int = 1) -> None:
    """Add the L2 penalty's gradient (λ/m)·θ into each ``param.grad`` (call after backward)."""
    for p in params:
        p.grad = p.grad + (lam / m) * p.data


def l1_penalty(params: Iterable[Parameter], lam: float, m: int = 1) -> float:
    """(λ/m) Σ |θ| over every entry of ``params`` (drives many weights to exactly zero)."""
    return lam / m * _total(params, lambda t: backend.namespace(t).abs(t))


def add_l1_grad(params: Iterable[Parameter], lam: float, m: int = 1) -> None:
    """Add the L1 penalty's (sub)gradient (λ/m)·sign(θ) into each ``param.grad``."""
    for p in params:
        p.grad = p.grad + (lam / m) * backend.namespace(p.data).sign(p.data)
