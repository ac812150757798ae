"""Every road from the device to the host, counted on the strict backend during training.

On a GPU each read of a device value (``float(a)``, ``bool(a)``, ``to_numpy(a)``, ...) makes the
CPU wait until the GPU has finished everything queued before it, and each array made from host
data is a copy over the bus. The strict backend stands in for the GPU: these tests wrap
array-api-strict's Array type and creation functions (here, not in the library), count every
such event during ``fit``, and check that nothing happens per batch: the counts per epoch are the
same at 10 and at 100 batches per epoch, and only a few.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Iterator
from typing import Any

import array_api_strict
import numpy as np
import pytest

import nnkit
from nnkit import backend, layers, losses, optim

Array = type(array_api_strict.asarray(0.0))
CPU = array_api_strict.Device("CPU_DEVICE")
READS = ("__float__", "__int__", "__bool__", "__index__", "__complex__", "__array__", "__dlpack__",
         "tolist", "item")


@pytest.fixture
def traffic(monkeypatch: pytest.MonkeyPatch) -> Iterator[collections.Counter]:
    """A Counter of device→host reads ("read: __float__", ...) and host→device copies ("copy: ...").

    Only the outermost event counts: ``to_numpy`` (one read) moves to the CPU device and then
    converts, which is one road to the host, not two.
    """
    counts: collections.Counter = collections.Counter()
    depth = [0]

    def counted(label: str, method: Callable, applies: Callable[..., bool] = lambda *a, **k: True):
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if depth[0] == 0 and applies(*args, **kwargs):
                counts[label] += 1
            depth[0] += 1
            try:
                return method(*args, **kwargs)
            finally:
                depth[0] -= 1
        return wrapper

    for name in READS:
        if hasattr(Array, name):
            monkeypatch.setattr(Array, name, counted(f"read: {name}", getattr(Array, name)))
    monkeypatch.setattr(Array, "to_device", counted("read: to_device(CPU)", Array.to_device,
                                                    lambda self, device, **_: device == CPU))
    monkeypatch.setattr(backend, "to_numpy", counted("read: to_numpy", backend.to_numpy,
                                                     lambda a: isinstance(a, Array)))
    for name in ("asarray", "from_dlpack"):
        monkeypatch.setattr(array_api_strict, name, counted(
            f"copy: {name} of host data", getattr(array_api_strict, name),
            lambda obj, *_, **__: not isinstance(obj, Array)))
    with nnkit.use_backend("strict"):
        yield counts


def _kind(counts: collections.Counter, kind: str) -> int:
    return sum(n for label, n in counts.items() if label.startswith(kind))


def _classification(n: int) -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(0).normal(size=(n, 4))
    return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)


def _regression(n: int) -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(0).normal(size=(n, 4))
    return X, X[:, :1] - X[:, 1:2]


CASES = {  # name: (data maker, loss, output size, with validation data)
    "classification with dropout and validation": (_classification, losses.CrossEntropyLoss, 3, True),
    "regression without validation": (_regression, losses.MSELoss, 1, False),
}


def _fit_traffic(counts: collections.Counter, case: str, batches_per_epoch: int,
                 epochs: int) -> collections.Counter:
    """The reads and copies of one fit of ``epochs`` epochs (counted from zero)."""
    make, loss, outputs, with_val = CASES[case]
    batch_size = 8
    X, y = make(batch_size * batches_per_epoch)
    nnkit.seed(0)
    model = nnkit.Sequential(layers.Linear(4, 16), layers.ReLU(), layers.Dropout(0.25),
                             layers.Linear(16, outputs))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    counts.clear()
    nnkit.fit(model, loss(), optimizer, (X, y), epochs=epochs, batch_size=batch_size,
              val_data=make(20) if with_val else None, progress=False)
    return collections.Counter(counts)


@pytest.mark.parametrize("case", CASES)
def test_fit_reads_and_copies_per_epoch_do_not_grow_with_the_batches(traffic, case):
    per_epoch = {}
    for batches_per_epoch in (10, 100):
        one, two = (_fit_traffic(traffic, case, batches_per_epoch, epochs) for epochs in (1, 2))
        assert sum(two.values()) > 0, "the counting wrappers saw nothing: they do not wrap nnkit's path"
        per_epoch[batches_per_epoch] = {kind: _kind(two, kind) - _kind(one, kind)
                                        for kind in ("read", "copy")}
        per_fit = {kind: _kind(one, kind) - per_epoch[batches_per_epoch][kind] for kind in ("read", "copy")}
        assert per_fit["read"] <= 4 and per_fit["copy"] <= 4, (case, batches_per_epoch, one)
    assert per_epoch[10] == per_epoch[100], per_epoch
    assert per_epoch[100]["read"] == 1, per_epoch   # train (and validation) sums, read together
    assert per_epoch[100]["copy"] <= 2, per_epoch   # the epoch's shuffled order, for X and for y


def test_the_counters_see_what_the_old_fit_did(traffic):
    """The counter is not blind: a float per batch and a host-drawn mask per batch are both seen."""
    x = nnkit.asarray(np.ones((8, 4)))
    traffic.clear()
    loss_fn = losses.CrossEntropyLoss()
    for _ in range(5):
        float(loss_fn.forward(x[:, :3], nnkit.asarray(np.zeros(8, dtype=np.int64))))
    assert traffic["read: __float__"] == 5 and traffic["copy: asarray of host data"] == 5


def test_a_loss_called_as_a_function_reads_once_and_forward_reads_nothing(traffic):
    scores, labels = nnkit.asarray(np.ones((8, 3))), nnkit.asarray(np.arange(8) % 3)
    loss_fn = losses.CrossEntropyLoss()
    traffic.clear()
    value = loss_fn.forward(scores, labels)
    assert sum(traffic.values()) == 0
    assert loss_fn(scores, labels) == pytest.approx(float(value))
    assert traffic["read: __float__"] == 2 and traffic["read: to_numpy"] == 1  # the float, the label check


def test_dropout_draws_its_mask_on_the_device(traffic):
    drop, x = layers.Dropout(0.5), nnkit.asarray(np.ones((64, 32)))
    traffic.clear()
    for _ in range(3):
        drop(x)
    assert sum(traffic.values()) == 0, traffic


def test_clip_grad_norm_reads_once_for_any_number_of_parameters(traffic):
    model = nnkit.Sequential(*(layers.Linear(4, 4) for _ in range(5)))
    for p in model.parameters():
        p.grad = p.data * 10.0
    traffic.clear()
    optim.clip_grad_norm(model.parameters(), max_norm=1.0)
    assert _kind(traffic, "read") == 1 and _kind(traffic, "copy") == 0, traffic
