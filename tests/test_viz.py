"""The chapter figures: each draws, labels itself and works with a model on any backend."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import nnkit
from nnkit import data, layers, losses, optim, viz


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labelled(ax) -> bool:
    return bool(ax.get_title() and ax.get_xlabel() and ax.get_ylabel())


def test_plot_history_draws_loss_and_accuracy_with_legends():
    X, y = data.blobs(n_per_class=10, seed=0)
    model = layers.Linear(2, 3)
    history = nnkit.fit(model, losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
                        epochs=3, val_data=(X, y), progress=False)
    fig = viz.plot_history(history)
    assert len(fig.axes) == 2 and all(_labelled(ax) for ax in fig.axes)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert all(ax.get_legend() is not None for ax in fig.axes)


def test_plot_decision_boundary_with_a_model_on_any_backend(backend_name):
    X, y = data.moons(n_per_class=20, seed=0)
    model = nnkit.Sequential(layers.Linear(2, 8), layers.Tanh(), layers.Linear(8, 2))
    ax = viz.plot_decision_boundary(model, X, y, resolution=30, title="Moons")
    assert ax.get_title() == "Moons" and _labelled(ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]


def test_plot_decision_boundary_with_a_function_and_a_threshold():
    X, y = data.xor(n_per_class=10, seed=0)
    ax = viz.plot_decision_boundary(lambda P: P[:, 0] * P[:, 1] < 0, X, y, resolution=20, threshold=0.5)
    assert _labelled(ax)


def test_plot_confusion_matrix_annotates_every_cell():
    ax = viz.plot_confusion_matrix(np.array([[5, 1], [0, 4]]), labels=["cat", "dog"])
    assert [t.get_text() for t in ax.texts] == ["5", "1", "0", "4"]
    assert _labelled(ax) and [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]


def test_draw_network_draws_every_node_and_edge_of_a_small_net():
    ax = viz.draw_network([3, 4, 1])
    assert ax.get_title() == "A 3–4–1 network"
    assert len(ax.lines) == 3 * 4 + 4 * 1
    assert sum(len(c.get_offsets()) for c in ax.collections) == 8


def test_draw_network_elides_large_layers():
    ax = viz.draw_network([64, 16, 10], max_nodes=6, labels=["pixels", "hidden", "digits"])
    assert sum(len(c.get_offsets()) for c in ax.collections) == 5 + 5 + 5
    assert "pixels\n(64)" in [t.get_text() for t in ax.texts]


def test_plot_digits_marks_wrong_predictions():
    X, y = data.load_digits()
    fig = viz.plot_digits(X[:12], labels=y[:12], predictions=np.where(np.arange(12) == 3, 0, y[:12]))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 12 and titles[3].endswith("✗") and not titles[2].endswith("✗")
