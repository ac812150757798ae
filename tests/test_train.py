"""fit, History, evaluate, predict and the metrics; determinism; learning to a target accuracy."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

import nnkit
from nnkit import data, layers, losses, optim


def _mlp(sizes: list[int], dropout: float = 0.0) -> nnkit.Sequential:
    """Linear layers of the given sizes with ReLU (and optional dropout) between them."""
    stack: list[nnkit.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        stack.append(layers.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            stack.append(layers.ReLU())
            if dropout:
                stack.append(layers.Dropout(dropout))
    return nnkit.Sequential(*stack)


def _train_spirals(epochs: int, seed: int = 0, **fit_args) -> tuple[nnkit.Module, nnkit.History]:
    nnkit.seed(seed)
    X, y = data.spirals(n_per_class=100, n_classes=3, noise=0.2, seed=0)
    model = _mlp([2, 64, 64, 3])
    history = nnkit.fit(model, losses.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.02),
                        (X, y), epochs=epochs, batch_size=32, progress=False, **fit_args)
    return model, history


# ----------------------------------------------------------------------------- determinism

def test_the_same_seed_gives_identical_weights():
    first, _ = _train_spirals(epochs=3, seed=7)
    again, _ = _train_spirals(epochs=3, seed=7)
    other, _ = _train_spirals(epochs=3, seed=8)
    for name, value in first.state_dict().items():
        np.testing.assert_array_equal(value, again.state_dict()[name])
    assert not np.array_equal(first.state_dict()["0.W"], other.state_dict()["0.W"])


def test_numpy_and_strict_backends_train_to_the_same_weights():
    trained = {}
    for name in ("numpy", "strict"):
        with nnkit.use_backend(name):
            trained[name] = _train_spirals(epochs=3, seed=1)
    (model_np, history_np), (model_strict, history_strict) = trained["numpy"], trained["strict"]
    for key, value in model_np.state_dict().items():
        np.testing.assert_allclose(model_strict.state_dict()[key], value, rtol=0, atol=1e-12)
    np.testing.assert_allclose(history_strict.loss, history_np.loss, rtol=1e-12)


# ----------------------------------------------------------------------------- learning

@pytest.mark.slow
def test_mlp_reaches_97_percent_training_accuracy_on_spirals():
    model, history = _train_spirals(epochs=80)
    X, y = data.spirals(n_per_class=100, n_classes=3, noise=0.2, seed=0)
    _, train_accuracy = nnkit.evaluate(model, losses.CrossEntropyLoss(), X, y)
    assert train_accuracy >= 0.97, history


@pytest.mark.slow
def test_mlp_reaches_96_percent_test_accuracy_on_digits():
    nnkit.seed(0)
    X, y = data.load_digits()
    train, val, (X_test, y_test) = data.train_val_test_split(X, y, stratify=True, seed=0)
    model = _mlp([64, 128, 10])
    start = time.perf_counter()
    history = nnkit.fit(model, losses.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), train,
                        epochs=30, batch_size=32, val_data=val, progress=False)
    seconds = time.perf_counter() - start
    _, test_accuracy = nnkit.evaluate(model, losses.CrossEntropyLoss(), X_test, y_test)
    assert test_accuracy >= 0.96, f"{history}\ntest accuracy {test_accuracy:.4f} after {seconds:.1f} s"


# ----------------------------------------------------------------------------- fit and History

def test_history_has_one_entry_per_epoch_for_every_curve():
    X, y = data.blobs(n_per_class=20, seed=0)
    model = _mlp([2, 8, 3])
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    history = nnkit.fit(model, losses.CrossEntropyLoss(), optimizer, (X, y), epochs=4, batch_size=16,
                        val_data=(X[:10], y[:10]), scheduler=optim.StepLR(optimizer, step_size=2, gamma=0.5),
                        progress=False)
    assert history.keys() == ["loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
    assert len(history) == 4 and all(len(history[k]) == 4 for k in history.keys())
    assert history.lr == pytest.approx([0.1, 0.1, 0.05, 0.05])
    assert all(0 <= a <= 1 for a in history.accuracy + history.val_accuracy)
    text = repr(history)
    assert text.startswith("History(4 epochs)") and "val_accuracy" in text
    assert "lr            0.1 → 0.05" in text


def test_regression_history_has_no_accuracy():
    X = np.linspace(-1, 1, 40)[:, None]
    model = layers.Linear(1, 1)
    history = nnkit.fit(model, losses.MSELoss(), optim.SGD(model.parameters(), lr=0.5), (X, 3 * X - 1),
                        epochs=30, batch_size=8, val_data=(X, 3 * X - 1), progress=False)
    assert history.keys() == ["loss", "val_loss", "lr", "seconds"]
    assert history.loss[-1] < 1e-3 * history.loss[0]
    with pytest.raises(KeyError, match="recorded"):
        history["accuracy"]


def test_fit_checks_the_labels_of_every_batch_once_before_training():
    X, y = data.blobs(n_per_class=20, seed=0)
    y = y.copy()
    y[-1] = 3                                  # in the last batch, beyond the 3 outputs
    model = _mlp([2, 8, 3])
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\).*from 0 to 3"):
        nnkit.fit(model, losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
                  epochs=2, batch_size=8, shuffle=False, progress=False)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())  # no step taken


def test_fit_wants_an_nnkit_loss():
    model = _mlp([2, 3])
    with pytest.raises(TypeError, match="loss_fn must be an nnkit loss"):
        nnkit.fit(model, lambda out, y: 0.0, optim.SGD(model.parameters(), lr=0.1),
                  (np.zeros((4, 2)), np.zeros(4, dtype=np.int64)), epochs=1, progress=False)


def test_fit_records_the_same_numbers_as_a_loop_that_reads_every_batch(backend_name):
    X, y = data.blobs(n_per_class=20, seed=0)
    nnkit.seed(0)
    model, loss_fn = _mlp([2, 8, 3]), losses.CrossEntropyLoss()
    history = nnkit.fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2,
                        batch_size=16, val_data=(X[:10], y[:10]), progress=False)
    nnkit.seed(0)
    model, totals = _mlp([2, 8, 3]), []
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):
        loss_sum = correct = 0.0
        for xb, yb in data.batches(X, y, batch_size=16):
            optimizer.zero_grad()
            out = model(xb)
            loss_sum += loss_fn(out, yb) * xb.shape[0]
            correct += nnkit.accuracy(out, yb) * xb.shape[0]
            model.backward(loss_fn.backward())
            optimizer.step()
        totals.append((loss_sum / len(y), correct / len(y), *nnkit.evaluate(model, loss_fn, X[:10], y[:10])))
    recorded = [[history[k][e] for k in ("loss", "accuracy", "val_loss", "val_accuracy")] for e in range(2)]
    np.testing.assert_allclose(recorded, totals, rtol=1e-12)


def test_fit_stops_when_the_loss_diverges():
    X = np.linspace(-1, 1, 40)[:, None]
    model = layers.Linear(1, 1)
    with np.errstate(over="ignore", invalid="ignore"):
        history = nnkit.fit(model, losses.MSELoss(), optim.SGD(model.parameters(), lr=1e4), (X, 3 * X),
                            epochs=500, batch_size=40, progress=False)
    assert len(history) < 500 and not math.isfinite(history.loss[-1])
    assert "learning rate too large" in history.stopped and history.stopped in repr(history)


def test_fit_switches_between_train_and_eval_mode():
    modes = []

    class Spy(nnkit.Module):
        """Passes x through and records the mode of every forward call."""

        def forward(self, x):
            modes.append(self.training)
            return x

        def backward(self, dout):
            return dout

    X, y = data.blobs(n_per_class=4, seed=0)
    model = nnkit.Sequential(layers.Linear(2, 3), Spy())
    nnkit.fit(model, losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
              epochs=1, batch_size=12, val_data=(X, y), progress=False)
    assert modes == [True, False]
    assert model.training  # evaluate restores the mode it found


def test_fit_explains_a_forgotten_pair():
    X, y = data.blobs(n_per_class=4, seed=0)
    model = _mlp([2, 3])
    with pytest.raises(TypeError, match=r"train_data must be a pair \(X, y\)"):
        nnkit.fit(model, losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), X, 5)


def test_progress_false_prints_nothing_and_true_draws_a_bar(capsys):
    X, y = data.blobs(n_per_class=4, seed=0)
    model = _mlp([2, 3])
    fit_args = (model, losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y))
    nnkit.fit(*fit_args, epochs=2, progress=False)
    assert capsys.readouterr() == ("", "")
    nnkit.fit(*fit_args, epochs=2, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "2/2" in err


def test_fit_trains_in_float32():
    with nnkit.use_dtype("float32"):
        _, history = _train_spirals(epochs=2)
        model = _mlp([2, 3])
    assert model[0].W.dtype == np.float32
    assert all(math.isfinite(v) for v in history.loss)


# ----------------------------------------------------------------------------- metrics

def test_accuracy_from_scores_labels_binary_logits_and_one_hot(backend_name):
    logits = nnkit.asarray([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    y = nnkit.asarray([0, 1, 1])
    assert nnkit.accuracy(logits, y) == pytest.approx(2 / 3)
    assert nnkit.accuracy(nnkit.asarray([0, 1, 0]), y) == pytest.approx(2 / 3)
    assert nnkit.accuracy(logits, data.one_hot(y, 2)) == pytest.approx(2 / 3)
    binary = nnkit.asarray([[1.5], [-0.2], [0.3]])
    assert nnkit.accuracy(binary, nnkit.asarray([[1.0], [0.0], [0.0]])) == pytest.approx(2 / 3)
    probabilities = nnkit.asarray([0.2, 0.7, 0.3])
    assert nnkit.accuracy(probabilities, y, threshold=0.5) == pytest.approx(2 / 3)


def test_accuracy_of_sequence_scores_counts_every_time_step(backend_name):
    scores = nnkit.asarray([[[3.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [5.0, 4.0]]])  # (N=2, T=2, K=2)
    assert nnkit.accuracy(scores, nnkit.asarray([[0, 1], [0, 0]])) == pytest.approx(3 / 4)


def test_accuracy_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="3 predictions .* but 2 labels"):
        nnkit.accuracy(np.zeros((3, 2)), np.array([0, 1]))


def test_confusion_matrix_counts_true_rows_against_predicted_columns(backend_name):
    cm = nnkit.confusion_matrix(nnkit.asarray([0, 1, 2, 2]), nnkit.asarray([0, 2, 2, 1]), num_classes=3)
    np.testing.assert_array_equal(nnkit.to_numpy(cm), [[1, 0, 0], [0, 0, 1], [0, 1, 1]])


def _identity_model() -> layers.Linear:
    model = layers.Linear(2, 2)
    model.W.data, model.b.data = nnkit.asarray([[1.0, 0.0], [0.0, 1.0]]), nnkit.asarray([0.0, 0.0])
    return model


def test_evaluate_gives_mean_loss_and_accuracy(backend_name):
    """Scores (2, 0) and (0, 1), both labelled 0: losses log(1 + e⁻²) and log(1 + e)."""
    loss, acc = nnkit.evaluate(_identity_model(), losses.CrossEntropyLoss(),
                               np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([0, 0]), batch_size=1)
    assert loss == pytest.approx((math.log1p(math.exp(-2)) + math.log1p(math.e)) / 2, rel=1e-12)
    assert acc == 0.5


def test_predict_returns_class_indices_in_eval_mode(backend_name):
    model = nnkit.Sequential(_identity_model(), layers.Dropout(0.5))
    X = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 4.0]])
    predicted = nnkit.predict(model, X, batch_size=2)
    np.testing.assert_array_equal(nnkit.to_numpy(predicted), [0, 1, 1])
    assert model.training
    np.testing.assert_array_equal(nnkit.to_numpy(nnkit.predict(lambda x: x[:, 0] - 1.0, X)), [1, 0, 1])
