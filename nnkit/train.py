"""Training and evaluation: the fit loop, its History, and the classification metrics.

:func:`fit` is the loop every chapter writes by hand first, packaged::

    history = nnkit.fit(model, loss_fn, optimizer, (X_train, y_train), epochs=20,
                        batch_size=32, val_data=(X_val, y_val))
    print(history)                  # first and last value of every curve
    nnkit.viz.plot_history(history) # loss and accuracy per epoch

Data may be host NumPy arrays or arrays of the active backend: fit moves them to the
backend once. On a GPU, fit never waits for the device inside an epoch: it sums the
batches' losses and accuracies where they are computed and reads the sums once per
epoch, and it checks the targets' values once per call.

The progress bar (tqdm) counts epochs and shows the latest loss and accuracy. In Jupyter
it is a widget, and the notebook stores only its starting text,
``Training:   0%|          | 0/20 [00:00<?, ?epoch/s]``, the same on every run: stored
outputs stay comparable under nbval without tagging the cell. In a terminal it writes to
stderr. ``progress=False`` prints nothing at all (tests, grading, a loop of many fits).
In a notebook, call fit in a cell of its own with its result assigned, then show
``print(history)`` or ``viz.plot_history(history)`` in the next.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from tqdm.auto import tqdm

from . import backend
from .data import batch_slices, batches, one_hot
from .losses import Loss
from .module import Module
from .optim import LRScheduler, Optimizer

__all__ = ["History", "fit", "evaluate", "predict", "accuracy", "confusion_matrix"]

Model = Callable[[Any], Any]  # a Module, or any function from inputs to scores


@dataclass(repr=False)
class History:
    """What :func:`fit` measured, one entry per epoch.

    loss, accuracy:         on the training batches, averaged over the epoch (the weights
                            change during it; ``evaluate`` gives the end-of-epoch numbers).
    val_loss, val_accuracy: on the validation data after each epoch (empty without it).
    lr:                     the learning rate used in each epoch.
    seconds:                wall-clock time of each epoch.
    stopped:                why training ended early ("" when it ran every epoch).
    Accuracies are recorded only for classification targets (class labels or 0/1 values).
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    stopped: str = ""

    def __len__(self) -> int:
        return len(self.loss)

    def keys(self) -> list[str]:
        """The names of the curves that were recorded, e.g. ["loss", "accuracy", "lr", "seconds"]."""
        curves = (f.name for f in fields(self) if f.name != "stopped")
        return [name for name in curves if getattr(self, name)]

    def __getitem__(self, key: str) -> list[float]:
        if key not in self.keys():
            raise KeyError(f"History has no curve {key!r}; it recorded {self.keys()}.")
        return getattr(self, key)

    def __repr__(self) -> str:
        lines = [f"History({len(self)} epochs{', ' + self.stopped if self.stopped else ''})"]
        for key in self.keys():
            first, last = self[key][0], self[key][-1]
            if key == "lr":
                lines.append(f"  {key:<13} {first:g}" + (f" → {last:g}" if last != first else ""))
            elif key != "seconds":
                lines.append(f"  {key:<13} {first:.4f} → {last:.4f}")
        return "\n".join(lines)


def fit(model: Module, loss_fn: Any, optimizer: Optimizer, train_data: tuple[Any, Any], epochs: int,
        batch_size: int = 32, val_data: tuple[Any, Any] | None = None,
        scheduler: LRScheduler | None = None, progress: bool = True, shuffle: bool = True) -> History:
    """Train ``model`` with mini-batch gradient descent for ``epochs`` passes over the data.

    model:      a Module; it is put in train() mode for the updates, eval() for validation.
    loss_fn:    an nnkit Loss (e.g. ``losses.CrossEntropyLoss()``); fit calls its ``forward``
                and ``backward`` for every batch.
    optimizer:  updates ``model.parameters()`` from their gradients (SGD, Adam, ...).
    train_data: (X, y) with X (N, ...) inputs and y (N,) labels or (N, ...) targets.
    val_data:   optional (X_val, y_val), evaluated after every epoch.
    scheduler:  optional learning-rate schedule, stepped after every epoch.
    progress:   show a progress bar (tqdm; a widget in Jupyter).
    Stops early, saying so in ``History.stopped``, if the loss stops being finite
    (usually a learning rate that is too large).
    """
    if not isinstance(loss_fn, Loss):
        raise TypeError(f"fit: loss_fn must be an nnkit loss such as losses.CrossEntropyLoss(), got "
                        f"{type(loss_fn).__name__}.")
    X, y = _pair(train_data, "train_data")
    val = _pair(val_data, "val_data") if val_data is not None else None
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"fit: epochs must be a whole number >= 1, got {epochs!r}.")
    classify = _is_classification(y)  # device reads happen here, once per fit, not per batch
    val_classify = val is not None and _is_classification(val[1])
    history = History()
    bar = tqdm(range(epochs), desc="Training", unit="epoch", disable=not progress)
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        history.lr.append(optimizer.lr)
        total_loss = total_correct = 0.0  # become 0-d arrays on the device: summed there, read below
        for i, (xb, yb) in enumerate(batches(X, y, batch_size, shuffle=shuffle)):
            optimizer.zero_grad()
            out = model(xb)
            if epoch == i == 0:  # check the values of all the targets once, with the first output
                loss_fn.check_values(out, y)
            loss = loss_fn.forward(out, yb)
            model.backward(loss_fn.backward())
            optimizer.step()
            total_loss = total_loss + loss * xb.shape[0]
            if classify:
                total_correct = total_correct + _accuracy(out, yb) * xb.shape[0]
        sums = [total_loss / X.shape[0]] + ([total_correct / X.shape[0]] if classify else [])
        if val is not None:
            sums += _validation(model, loss_fn, *val, val_classify, check=epoch == 0)
        values = _read(sums)  # the one wait for the device in this epoch
        history.loss.append(values.pop(0))
        if classify:
            history.accuracy.append(values.pop(0))
        if val is not None:
            history.val_loss.append(values.pop(0))
            if val_classify:
                history.val_accuracy.append(values.pop(0))
        if scheduler is not None:
            scheduler.step()
        history.seconds.append(time.perf_counter() - start)  # honest: the read waited for every step
        bar.set_postfix({k: f"{history[k][-1]:.4f}" for k in history.keys()
                         if k.endswith(("loss", "accuracy"))}, refresh=False)
        if not math.isfinite(history.loss[-1]):
            history.stopped = (f"stopped after epoch {epoch + 1}: the loss became {history.loss[-1]} "
                               "(is the learning rate too large?)")
            break
    bar.close()
    return history


def _pair(data: Any, name: str) -> tuple[Any, Any]:
    """(X, y) moved to the active backend, or a clear error when ``data`` is not a pair."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"fit: {name} must be a pair (X, y), as in fit(model, loss_fn, optimizer, "
                        f"(X_train, y_train), epochs=10); got {type(data).__name__}.")
    return backend.asarray(data[0]), backend.asarray(data[1])


# ----------------------------------------------------------------------------- evaluation

@contextlib.contextmanager
def _eval_mode(model: Model) -> Iterator[None]:
    """Evaluation behaviour (e.g. dropout off) inside the block, the model's own mode after it."""
    if not isinstance(model, Module):
        yield
        return
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _outputs(model: Model, X: Any, batch_size: int) -> Any:
    """model(X) for X (N, ...), computed in eval mode, ``batch_size`` rows at a time; (N, ...)."""
    X = backend.asarray(X)
    xp = backend.namespace(X)
    with _eval_mode(model):
        outputs = [model(X[rows, ...]) for rows in batch_slices(X.shape[0], batch_size)]
    return xp.concat(outputs, axis=0)


def evaluate(model: Model, loss_fn: Loss, X: Any, y: Any,
             batch_size: int = 1024) -> tuple[float, float | None]:
    """The mean loss and the accuracy of ``model`` on (X, y), in eval mode.

    X: (N, ...) inputs; y: (N,) labels or (N, ...) targets (host or backend arrays).
    Returns (loss, accuracy); accuracy is None when y is not a classification target.
    """
    y = backend.asarray(y)
    classify = _is_classification(y)
    values = _read(_validation(model, loss_fn, X, y, classify, check=True, batch_size=batch_size))
    return values[0], (values[1] if classify else None)


def _validation(model: Model, loss_fn: Loss, X: Any, y: Any, classify: bool, check: bool,
                batch_size: int = 1024) -> list[Any]:
    """[mean loss] or [mean loss, accuracy] of ``model`` on (X, y): 0-d device arrays, not read.

    check: also check the targets' values (a read from the device; fit does it once).
    """
    out = _outputs(model, X, batch_size)
    if check:
        loss_fn.check_values(out, y)
    return [loss_fn.forward(out, y)] + ([_accuracy(out, y)] if classify else [])


def _read(values: list[Any]) -> list[float]:
    """0-d arrays of one device as Python floats, brought to the host in a single read."""
    xp = backend.namespace(*values)
    return backend.to_numpy(xp.stack([xp.astype(v, xp.float64) for v in values])).tolist()


def predict(model: Model, X: Any, batch_size: int = 1024, threshold: float = 0.0) -> Any:
    """The class ``model`` predicts for each row of X (N, ...): (N,) integers on the active backend.

    Works for scores (N, K) (the arg-max) and for one binary logit per example, (N,) or (N, 1)
    (class 1 where it exceeds ``threshold``). ``model`` may also be a plain function.
    """
    return _labels(_outputs(model, X, batch_size), threshold)


def _labels(a: Any, threshold: float = 0.0) -> Any:
    """Class indices, flattened to one axis, from any way of writing classes.

    Integer (or boolean) labels stay as they are; float scores or one-hot rows (..., K) give
    their arg-max over the last axis; one float score per example, (N,) or (N, 1), gives
    1 where it exceeds ``threshold``.
    """
    xp = backend.namespace(a)
    if xp.isdtype(a.dtype, ("integral", "bool")):
        labels = xp.astype(a, xp.int64)
    elif a.ndim >= 2 and a.shape[-1] > 1:
        labels = xp.argmax(a, axis=-1)
    else:
        labels = xp.astype(a > threshold, xp.int64)
    return xp.reshape(labels, (-1,))


def _is_classification(y: Any) -> bool:
    """True for class labels: integers, or floats that are all 0 or 1 (binary or one-hot)."""
    xp = backend.namespace(y)
    return xp.isdtype(y.dtype, ("integral", "bool")) or bool(xp.all((y == 0) | (y == 1)))


def accuracy(pred: Any, y: Any, threshold: float = 0.0) -> float:
    """The fraction of examples whose predicted class is the true class.

    pred: (N,) predicted labels, (N, K) scores or probabilities (the arg-max counts), or one
          binary logit per example, (N,) or (N, 1) (class 1 above ``threshold``: 0 for logits,
          use 0.5 for probabilities). Sequences work too: (N, T, K) scores, (N, T) labels.
    y:    (N,) integer labels, (N, K) one-hot rows, or (N,)/(N, 1) binary 0/1 targets.
    """
    if not backend.is_array(pred):
        pred = backend.asarray(pred)
    if not backend.is_array(y):
        y = backend.asarray(y)
    return float(_accuracy(pred, y, threshold))


def _accuracy(pred: Any, y: Any, threshold: float = 0.0) -> Any:
    """:func:`accuracy` as a 0-d array on the arrays' device, not read back (fit sums these)."""
    predicted, true = _labels(pred, threshold), _labels(y, 0.5)
    if predicted.shape != true.shape:
        raise ValueError(f"accuracy: {predicted.shape[0]} predictions (from shape {tuple(pred.shape)}) "
                         f"but {true.shape[0]} labels (from shape {tuple(y.shape)}).")
    xp = backend.namespace(predicted, true)
    return xp.mean(xp.astype(predicted == true, backend.float_dtype(xp_=xp)))


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> Any:
    """Counts of (true class, predicted class) pairs: entry [i, j] counts class i predicted as j.

    y_true: (N,) labels; y_pred: (N,) labels or (N, K) scores (arg-max), of one backend.
    Returns (num_classes, num_classes) integers; the diagonal holds the correct predictions.
    """
    truth, guess = one_hot(_labels(y_true), num_classes), one_hot(_labels(y_pred), num_classes)
    xp = backend.namespace(truth)
    return xp.astype(truth.T @ guess, xp.int64)
