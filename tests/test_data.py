"""Splits, mini-batches, one-hot labels, standardising, the toy sets, the toy sequences and the digits."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit import data


def _numbered(n: int) -> tuple[np.ndarray, np.ndarray]:
    """X (n, 2) whose first column is the row number, y (n,) = row number mod 3."""
    X = np.stack([np.arange(n, dtype=float), np.zeros(n)], axis=1)
    return X, np.arange(n) % 3


def _on_active_backend(a) -> bool:
    return type(a) is type(nnkit.asarray([0.0]))


# ----------------------------------------------------------------------------- splitting

@pytest.mark.parametrize("stratify", [False, True])
def test_split_is_disjoint_complete_and_keeps_pairs(backend_name, stratify):
    X, y = _numbered(100)
    parts = data.train_val_test_split(nnkit.asarray(X), nnkit.asarray(y), val=0.2, test=0.1,
                                      seed=1, stratify=stratify)
    rows = [nnkit.to_numpy(Xs)[:, 0].astype(int) for Xs, _ in parts]
    assert [len(r) for r in rows] == ([70, 20, 10] if not stratify else [70, 21, 9])  # rounded per class
    assert sorted(np.concatenate(rows).tolist()) == list(range(100))
    for (Xs, ys), r in zip(parts, rows, strict=True):
        assert _on_active_backend(Xs) and _on_active_backend(ys)
        np.testing.assert_array_equal(nnkit.to_numpy(ys), r % 3)


def test_stratified_split_keeps_the_class_proportions():
    y = np.array([0] * 80 + [1] * 20)
    _, _, (_, y_test) = data.train_val_test_split(np.zeros((100, 1)), y, val=0.25, test=0.25,
                                                  stratify=True)
    assert np.bincount(y_test).tolist() == [20, 5]


def test_split_is_reproducible_and_host_data_stays_on_the_host():
    X, y = _numbered(30)
    first = data.train_val_test_split(X, y, seed=3)
    again = data.train_val_test_split(X, y, seed=3)
    other = data.train_val_test_split(X, y, seed=4)
    assert isinstance(first[0][0], np.ndarray)
    np.testing.assert_array_equal(first[0][0], again[0][0])
    assert not np.array_equal(first[0][0], other[0][0])


def test_split_refuses_bad_fractions_and_mismatched_lengths():
    X, y = _numbered(10)
    with pytest.raises(ValueError, match="val \\+ test < 1"):
        data.train_val_test_split(X, y, val=0.5, test=0.5)
    with pytest.raises(ValueError, match="X has 10 examples .* y has 9 labels"):
        data.train_val_test_split(X, y[:9])


# ----------------------------------------------------------------------------- batches

def test_batches_cover_every_example_once_per_epoch(backend_name):
    X, y = _numbered(10)
    epochs = []
    for _ in range(2):
        got = list(data.batches(X, y, batch_size=4))
        assert [xb.shape[0] for xb, _ in got] == [4, 4, 2]
        assert all(_on_active_backend(xb) and _on_active_backend(yb) for xb, yb in got)
        rows = np.concatenate([nnkit.to_numpy(xb)[:, 0] for xb, _ in got]).astype(int)
        labels = np.concatenate([nnkit.to_numpy(yb) for _, yb in got])
        assert sorted(rows.tolist()) == list(range(10))
        np.testing.assert_array_equal(labels, rows % 3)
        epochs.append(rows)
    assert not np.array_equal(*epochs), "each epoch should draw a new order"


def test_batches_without_shuffle_keep_the_order():
    X, y = _numbered(5)
    rows = [nnkit.to_numpy(xb)[:, 0].tolist() for xb, _ in data.batches(X, y, batch_size=2, shuffle=False)]
    assert rows == [[0, 1], [2, 3], [4]]


def test_batches_follow_nnkit_seed():
    X, y = _numbered(20)
    nnkit.seed(5)
    first = nnkit.to_numpy(next(data.batches(X, y, 20))[1])
    nnkit.seed(5)
    np.testing.assert_array_equal(first, nnkit.to_numpy(next(data.batches(X, y, 20))[1]))


def test_batches_refuse_a_bad_batch_size():
    X, y = _numbered(5)
    with pytest.raises(ValueError, match="batch_size"):
        next(data.batches(X, y, batch_size=0))


# ----------------------------------------------------------------------------- labels and features

def test_one_hot_rows(backend_name):
    rows = data.one_hot(nnkit.asarray([2, 0, 1]), 3)
    assert _on_active_backend(rows)
    np.testing.assert_array_equal(nnkit.to_numpy(rows), [[0, 0, 1], [1, 0, 0], [0, 1, 0]])


def test_one_hot_refuses_out_of_range_and_float_labels():
    with pytest.raises(ValueError, match=r"0 \.\. 2 .* from 0 to 3"):
        data.one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="integer labels"):
        data.one_hot(np.array([0.0, 1.0]), 3)


def test_standardizer_uses_training_statistics_only(backend_name):
    rng = np.random.default_rng(0)
    X_train, X_test = rng.normal(5.0, 3.0, (50, 3)), rng.normal(-1.0, 1.0, (20, 3))
    X_train[:, 2] = 7.0  # a constant feature must not divide by zero
    scaler = data.Standardizer().fit(nnkit.asarray(X_train))
    Z_train = nnkit.to_numpy(scaler.transform(nnkit.asarray(X_train)))
    np.testing.assert_allclose(Z_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z_train.std(axis=0), [1, 1, 0], atol=1e-12)
    Z_test = nnkit.to_numpy(scaler.transform(nnkit.asarray(X_test)))
    std = np.where(X_train.std(axis=0) > 0, X_train.std(axis=0), 1)
    np.testing.assert_allclose(Z_test, (X_test - X_train.mean(axis=0)) / std, rtol=1e-12)
    back = scaler.inverse_transform(scaler.transform(nnkit.asarray(X_test)))
    np.testing.assert_allclose(nnkit.to_numpy(back), X_test, rtol=1e-12)


def test_standardizer_explains_misuse():
    with pytest.raises(RuntimeError, match="call fit"):
        data.Standardizer().transform(np.zeros((2, 3)))
    scaler = data.Standardizer().fit(np.ones((4, 3)))
    with pytest.raises(ValueError, match="fitted on examples of shape \\(3,\\)"):
        scaler.transform(np.ones((4, 2)))


# ----------------------------------------------------------------------------- data sets

TOY_SETS = [(data.spirals, {"n_classes": 4}, 4), (data.moons, {}, 2), (data.rings, {}, 2),
            (data.xor, {}, 2), (data.blobs, {"n_classes": 5}, 5)]


@pytest.mark.parametrize(("make", "kwargs", "n_classes"), TOY_SETS, ids=[m.__name__ for m, _, _ in TOY_SETS])
def test_toy_sets_have_the_promised_shape_and_are_reproducible(make, kwargs, n_classes):
    X, y = make(n_per_class=25, seed=1, **kwargs)
    assert X.shape == (25 * n_classes, 2) and X.dtype == np.float64
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [25] * n_classes
    X_again, _ = make(n_per_class=25, seed=1, **kwargs)
    X_other, _ = make(n_per_class=25, seed=2, **kwargs)
    np.testing.assert_array_equal(X, X_again)
    assert not np.array_equal(X, X_other)


def test_toy_set_without_a_seed_follows_nnkit_seed():
    nnkit.seed(3)
    first, _ = data.moons(seed=None)
    nnkit.seed(3)
    np.testing.assert_array_equal(first, data.moons(seed=None)[0])


def test_rings_have_the_promised_radii():
    X, y = data.rings(n_per_class=200, noise=0.0, factor=0.3)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)


def test_xor_labels_follow_the_signs():
    X, y = data.xor(n_per_class=50, noise=0.1)
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))


def test_remember_the_first_holds_one_symbol_at_step_0_and_zeros_after():
    X, y = data.remember_the_first(6, steps=5, symbols=4, seed=3)
    assert X.shape == (6, 5, 4) and X.dtype == np.float64 and y.shape == (6,)
    np.testing.assert_allclose(X[:, 0], np.eye(4)[y])
    assert not X[:, 1:].any()
    np.testing.assert_array_equal(data.remember_the_first(6, steps=5, symbols=4, seed=3)[1], y)


def test_waveforms_have_the_three_shapes():
    X, y = data.waveforms(90, steps=30, noise=0.0, seed=4)
    assert X.shape == (90, 30, 1) and set(y.tolist()) == {0, 1, 2}
    sine, square, saw = (X[y == k, :, 0] for k in range(3))
    assert np.all(np.abs(sine) <= 1) and np.isin(square, [-1.0, 1.0]).all()
    steps = np.diff(saw, axis=1)
    assert np.all((steps > 0) | (steps < -1))      # a sawtooth only ramps up, or drops back
    assert data.WAVEFORM_NAMES == ("sine", "square", "sawtooth")
    np.testing.assert_array_equal(data.waveforms(90, steps=30, noise=0.0, seed=4)[0], X)


def test_digits_are_8x8_images_of_ten_classes_scaled_to_unit_range():
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0
    assert sorted(set(y.tolist())) == list(range(10))
    images, _ = data.load_digits(images=True)
    assert images.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
