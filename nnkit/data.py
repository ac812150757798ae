"""Data: toy 2-D sets, toy sequences, the 8×8 digits, splits, mini-batches, one-hot labels, standardising.

Where the arrays live:

* The data *sets* (``spirals``, ``moons``, ``rings``, ``xor``, ``blobs``, the sequence sets
  ``remember_the_first`` and ``waveforms``, and ``load_digits``) return host NumPy arrays:
  X of floats, y of integer class labels. Plot them with matplotlib or hand them to
  scikit-learn as they are.
* ``batches`` (and so ``nnkit.fit``) moves data onto the active backend; to do it by
  hand, ``nnkit.asarray(X)``.
* The helpers that transform arrays (``train_val_test_split``, ``one_hot``,
  ``Standardizer``) accept arrays of any backend and return the same kind they got.

Every random choice is drawn on the host from a NumPy generator, so the same seed gives
the same data and the same batches on every backend.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from . import backend
from . import functional as F

__all__ = ["train_val_test_split", "batches", "batch_slices", "one_hot", "Standardizer",
           "spirals", "moons", "rings", "xor", "blobs", "remember_the_first", "WAVEFORM_NAMES", "waveforms",
           "load_digits"]


# ----------------------------------------------------------------------------- helpers

def _check_pair(X: Any, y: Any, where: str) -> int:
    """The number of examples N, after checking that X (N, ...) and y (N, ...) agree."""
    if not (backend.is_array(X) and backend.is_array(y)):
        raise TypeError(f"{where} expects arrays X and y, got {type(X).__name__} and {type(y).__name__}.")
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"{where}: X has {n} examples (rows) but y has {y.shape[0]} labels; "
                         "they must match one to one.")
    return n


def _take_rows(a: Any, rows: Any) -> Any:
    """The rows ``rows`` (a host integer array) of ``a`` (an array of any backend), in that order."""
    xp = backend.namespace(a)
    return xp.take(a, xp.asarray(rows, device=a.device), axis=0)


# ----------------------------------------------------------------------------- splitting

def train_val_test_split(X: Any, y: Any, val: float = 0.15, test: float = 0.15, seed: int | None = 0,
                         stratify: bool = False) -> tuple[tuple[Any, Any], tuple[Any, Any], tuple[Any, Any]]:
    """Shuffle the examples and cut them into training, validation and test sets.

    X: (N, ...) inputs; y: (N,) labels (or (N, ...) targets).
    val, test: the fractions of N for the validation and test sets (the rest trains).
    seed:      the shuffle's seed (None: nnkit's shared generator).
    stratify:  split each class separately, so every set has the class proportions of y.

    Returns ``(X_train, y_train), (X_val, y_val), (X_test, y_test)``, arrays of the same
    kind as X and y; each example lands in exactly one set.
    """
    n = _check_pair(X, y, "train_val_test_split")
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"train_val_test_split: val={val} and test={test} must be fractions "
                         "with val + test < 1, so that some examples are left to train on.")
    hx, gen = backend.host_xp(), backend.rng(seed)
    if stratify:
        labels = backend.to_numpy(y)
        groups = [hx.nonzero(labels == c)[0] for c in hx.unique_values(labels)]
    else:
        groups = [hx.arange(n)]
    parts: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
    for group in groups:
        group = gen.permutation(group)
        n_val, n_test = round(val * len(group)), round(test * len(group))
        parts[0].append(group[n_val + n_test:])
        parts[1].append(group[:n_val])
        parts[2].append(group[n_val:n_val + n_test])
    splits = (gen.permutation(hx.concat(rows)) for rows in parts)  # mix the classes again
    return tuple((_take_rows(X, rows), _take_rows(y, rows)) for rows in splits)


def batches(X: Any, y: Any, batch_size: int = 32, shuffle: bool = True) -> Iterator[tuple[Any, Any]]:
    """Mini-batches ``(X_batch, y_batch)`` covering every example once (one epoch).

    X: (N, ...) inputs, y: (N, ...) targets, host or backend arrays.
    Yields arrays on the active backend: (B, ...) and (B, ...) with B = batch_size, except
    the last batch, which holds what is left. ``shuffle`` draws a new order each call from
    nnkit's generator (seeded by ``nnkit.seed``).
    """
    n = _check_pair(X, y, "batches")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batches: batch_size must be a whole number >= 1, got {batch_size!r}.")
    X, y = backend.asarray(X), backend.asarray(y)
    if shuffle:
        order = backend.permutation(n)
        X, y = _take_rows(X, order), _take_rows(y, order)
    for rows in batch_slices(n, batch_size):
        yield X[rows, ...], y[rows, ...]


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """Slices that cut n rows, in order, into batches of ``batch_size`` (the last may be shorter)."""
    return [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


# ----------------------------------------------------------------------------- labels and features

def one_hot(y: Any, num_classes: int) -> Any:
    """Integer labels as one-hot rows: label k becomes a row of zeros with a 1 in column k.

    y: (N,) integer labels in 0 .. num_classes-1 (an array of any backend, or a list).
    Returns (N, num_classes) floats (the default float dtype), beside y. The labels are
    checked first; ``nnkit.functional.one_hot`` is the unchecked version the losses use.
    """
    if not backend.is_array(y):
        y = backend.asarray(y)
    xp = backend.namespace(y)
    if y.ndim != 1 or not xp.isdtype(y.dtype, "integral"):
        raise ValueError(f"one_hot expects a 1-D array of integer labels, got shape {tuple(y.shape)} "
                         f"and dtype {backend.dtype_name(y.dtype)}.")
    if y.shape[0] and (int(xp.min(y)) < 0 or int(xp.max(y)) >= num_classes):
        raise ValueError(f"one_hot: labels must lie in 0 .. {num_classes - 1} for num_classes="
                         f"{num_classes}, got labels from {int(xp.min(y))} to {int(xp.max(y))}.")
    return F.one_hot(y, num_classes)


class Standardizer:
    """Shift and scale every feature (column) to mean 0 and standard deviation 1.

    Fit it on the training set only, then transform every set with those same numbers:
    statistics taken from validation or test data would leak them into training.

        scaler = Standardizer().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    mean, std: (D,) the training set's per-feature statistics (a constant feature gets
    std 1, so it maps to 0 instead of dividing by zero).
    """

    def __init__(self) -> None:
        self.mean: Any = None
        self.std: Any = None

    def fit(self, X: Any) -> Standardizer:
        """Learn the per-feature mean and standard deviation of X (N, D); returns self."""
        xp = backend.namespace(X)
        self.mean = xp.mean(X, axis=0)
        std = xp.std(X, axis=0)
        self.std = xp.where(std > 0, std, 1.0)
        return self

    def _check(self, X: Any) -> None:
        if self.mean is None:
            raise RuntimeError("Standardizer: call fit(X_train) before transform.")
        if tuple(X.shape[1:]) != tuple(self.mean.shape):
            raise ValueError(f"Standardizer was fitted on examples of shape {tuple(self.mean.shape)}, "
                             f"got an array of shape {tuple(X.shape)}.")

    def transform(self, X: Any) -> Any:
        """(X − mean) / std, for X (N, D); returns (N, D)."""
        self._check(X)
        return (X - self.mean) / self.std

    def inverse_transform(self, Z: Any) -> Any:
        """Undo transform: Z · std + mean, for Z (N, D); returns (N, D)."""
        self._check(Z)
        return Z * self.std + self.mean

    def fit_transform(self, X: Any) -> Any:
        """fit(X), then transform(X)."""
        return self.fit(X).transform(X)

    def __repr__(self) -> str:
        fitted = f"{self.mean.shape[0]} features" if self.mean is not None else "not fitted"
        return f"Standardizer({fitted})"


# ----------------------------------------------------------------------------- toy 2-D sets

def _labelled(parts: list[Any]) -> tuple[Any, Any]:
    """Stack per-class point sets [(n_k, 2), ...] into X (N, 2) and labels y (N,) = 0, 1, ..."""
    hx = backend.host_xp()
    y = hx.concat([hx.full(len(p), k, dtype=hx.int64) for k, p in enumerate(parts)])
    return hx.concat(parts), y


def _jitter(gen: Any, points: Any, noise: float) -> Any:
    """points (n, 2) plus independent Normal(0, noise²) noise on each coordinate."""
    return points + noise * gen.standard_normal(points.shape)


def _cluster(gen: Any, centre: Any, n: int, noise: float) -> Any:
    """n points (n, 2) scattered around ``centre`` (x₁, x₂) with standard deviation ``noise``."""
    hx = backend.host_xp()
    return _jitter(gen, hx.broadcast_to(hx.asarray(centre, dtype=hx.float64), (n, 2)), noise)


def _circle(radius: Any, angle: Any) -> Any:
    """Points (n, 2) at polar coordinates (radius, angle) (arrays (n,) or scalars)."""
    hx = backend.host_xp()
    return hx.stack([radius * hx.cos(angle), radius * hx.sin(angle)], axis=1)


def spirals(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2,
            seed: int | None = 0) -> tuple[Any, Any]:
    """Interleaved spiral arms, one per class: no straight line separates any two of them.

    Arm k runs from the centre outwards while turning 4 radians; ``noise`` is the standard
    deviation of the jitter added to each point's angle.
    Returns host arrays X (n_classes · n_per_class, 2) and y (n_classes · n_per_class,) ints.
    """
    hx, gen = backend.host_xp(), backend.rng(seed)
    r = hx.linspace(0.0, 1.0, n_per_class)
    arms = [_circle(r, 2 * math.pi * k / n_classes + 4 * r + noise * gen.standard_normal(n_per_class))
            for k in range(n_classes)]
    return _labelled(arms)


def moons(n_per_class: int = 100, noise: float = 0.1, seed: int | None = 0) -> tuple[Any, Any]:
    """Two interleaving half circles (class 0 on top, class 1 below, shifted right).

    Returns host arrays X (2 · n_per_class, 2) and y (2 · n_per_class,) ints.
    """
    hx, gen = backend.host_xp(), backend.rng(seed)
    t = hx.linspace(0.0, math.pi, n_per_class)
    upper = _circle(1.0, t)
    lower = hx.asarray([1.0, 0.5]) - upper
    return _labelled([_jitter(gen, upper, noise), _jitter(gen, lower, noise)])


def rings(n_per_class: int = 100, noise: float = 0.1, factor: float = 0.5,
          seed: int | None = 0) -> tuple[Any, Any]:
    """Two concentric circles: class 0 the outer ring (radius 1), class 1 the inner (radius ``factor``).

    No line separates them in (x₁, x₂); in polar coordinates (r, θ) one does.
    Returns host arrays X (2 · n_per_class, 2) and y (2 · n_per_class,) ints.
    """
    gen = backend.rng(seed)
    outer, inner = (_circle(radius, gen.uniform(0.0, 2 * math.pi, n_per_class)) for radius in (1.0, factor))
    return _labelled([_jitter(gen, outer, noise), _jitter(gen, inner, noise)])


def xor(n_per_class: int = 100, noise: float = 0.3, seed: int | None = 0) -> tuple[Any, Any]:
    """The XOR pattern: clusters at the four corners (±1, ±1); class 1 where the signs differ.

    Each class is two Gaussian clusters (standard deviation ``noise``) on opposite corners.
    Returns host arrays X (2 · n_per_class, 2) and y (2 · n_per_class,) ints.
    """
    hx, gen = backend.host_xp(), backend.rng(seed)
    a, b = n_per_class // 2, n_per_class - n_per_class // 2
    same_signs = hx.concat([_cluster(gen, (1, 1), a, noise), _cluster(gen, (-1, -1), b, noise)])
    mixed_signs = hx.concat([_cluster(gen, (1, -1), a, noise), _cluster(gen, (-1, 1), b, noise)])
    return _labelled([same_signs, mixed_signs])


def blobs(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.5,
          seed: int | None = 0) -> tuple[Any, Any]:
    """Round Gaussian clusters (standard deviation ``noise``), centred evenly on a circle of radius 2.

    Returns host arrays X (n_classes · n_per_class, 2) and y (n_classes · n_per_class,) ints.
    """
    hx, gen = backend.host_xp(), backend.rng(seed)
    centres = _circle(2.0, hx.linspace(0.0, 2 * math.pi, n_classes + 1)[:-1])
    return _labelled([_cluster(gen, centre, n_per_class, noise) for centre in centres])


# ----------------------------------------------------------------------------- toy sequences

def remember_the_first(n: int, steps: int, symbols: int = 4, seed: int = 0) -> tuple[Any, Any]:
    """The memory task of chapter 9: read a sequence, then name the symbol seen at its first step.

    Step 0 holds one of ``symbols`` symbols, one-hot; every later step is all zeros, so a
    recurrent network must carry the symbol across steps − 1 steps of its own recurrence.
    Returns host arrays X (n, steps, symbols) of floats and y (n,) integer labels in
    0 .. symbols-1 (the symbol at step 0).
    """
    hx, generator = backend.host_xp(), backend.rng(seed)
    y = generator.integers(0, symbols, n)
    X = hx.zeros((n, steps, symbols))
    X[:, 0, :] = hx.astype(y[:, None] == hx.arange(symbols), hx.float64)
    return X, y


WAVEFORM_NAMES = ("sine", "square", "sawtooth")


def waveforms(n: int, steps: int = 30, noise: float = 0.3, seed: int = 0) -> tuple[Any, Any]:
    """Noisy periodic signals of three shapes, for a many-to-one classifier (chapter 9).

    Each sequence is a sine, square or sawtooth wave (label 0, 1, 2; :data:`WAVEFORM_NAMES`)
    of amplitude 1 with a random frequency (0.05 to 0.15 cycles per step) and phase, plus
    Normal(0, noise²) noise at every step.
    Returns host arrays X (n, steps, 1) of floats (one number per step) and y (n,) ints.
    """
    hx, generator = backend.host_xp(), backend.rng(seed)
    y = generator.integers(0, len(WAVEFORM_NAMES), n)
    frequency = generator.uniform(0.05, 0.15, (n, 1))
    phase = generator.uniform(0.0, 1.0, (n, 1))
    u = (frequency * hx.arange(steps) + phase) % 1.0                 # position within the cycle, 0 .. 1
    shapes = [hx.sin(2 * math.pi * u), hx.where(u < 0.5, 1.0, -1.0), 2 * u - 1]
    label = y[:, None]
    X = hx.where(label == 0, shapes[0], hx.where(label == 1, shapes[1], shapes[2]))
    X = X + noise * generator.standard_normal((n, steps))
    return X[:, :, None], y


# ----------------------------------------------------------------------------- real data

def load_digits(images: bool = False) -> tuple[Any, Any]:
    """The 1797 handwritten digits (8 × 8 grey pixels) that ship with scikit-learn: no download.

    Pixels are scaled from 0..16 to [0, 1].
    Returns host arrays X (1797, 64), or (1797, 1, 8, 8) with ``images=True`` for
    convolutional networks, and y (1797,) ints in 0..9.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    X, y = digits.data / 16.0, digits.target.astype("int64")
    return (X.reshape(-1, 1, 8, 8) if images else X), y
