"""Chapter 4 (training an MLP): interactive demos and their static twins."""

from __future__ import annotations

import math
from typing import Any

import ipywidgets

from .. import backend
from ..viz import PALETTE
from .base import host_points, slider_figure

__all__ = ["train_small_mlp", "draw_learning_rate", "learning_rate_explorer"]


def train_small_mlp(X: Any, y: Any, lr: float, batch_size: int = 32, epochs: int = 60, hidden: int = 32,
                    sigma: float = 0.5, seed: int = 0) -> tuple[Any, Any]:
    """Train a fresh 2-layer tanh MLP on (X, y) with plain SGD; returns (model, History).

    X: (N, D) inputs, y: (N,) integer labels 0 .. K-1. The network is
    Linear(D, hidden) → Tanh → Linear(hidden, K) with weights from N(0, sigma²) and zero
    biases, trained by :func:`nnkit.fit` with cross-entropy. Its weights and shuffles come
    from ``seed``, and nnkit's random stream is restored afterwards, so the same call gives
    the same curve and leaves the rest of the notebook's random numbers alone.
    """
    from ..init import normal
    from ..layers import Linear, Tanh
    from ..losses import CrossEntropyLoss
    from ..module import Sequential
    from ..optim import SGD
    from ..train import fit

    X_host, y_host = backend.to_numpy(X), backend.to_numpy(y).reshape(-1)
    classes = int(backend.namespace(y_host).max(y_host)) + 1
    with backend.seeded(seed):
        model = Sequential(Linear(X_host.shape[1], hidden, init=normal(sigma)), Tanh(),
                           Linear(hidden, classes, init=normal(sigma)))
        history = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=lr), (X_host, y_host),
                      epochs=epochs, batch_size=batch_size, progress=False)
    return model, history


def draw_learning_rate(axes: Any, X: Any, y: Any, lr: float, batch_size: int = 32, epochs: int = 60,
                       colour: str = PALETTE[0], label: str | None = None) -> Any:
    """Train :func:`train_small_mlp` at learning rate ``lr`` and draw what happened (chapter 4).

    axes: a pair (ax_loss, ax_boundary). ax_loss gets the training loss per epoch (log scale)
    with the loss of uniform guessing, ln K, dotted; several calls may share it, one curve
    each. ax_boundary (or None) gets the decision regions after training.
    X: (N, 2) points, y: (N,) integer labels. Returns (model, History) of the run.
    """
    ax_loss, ax_boundary = axes
    from ..viz import plot_decision_boundary

    model, history = train_small_mlp(X, y, lr, batch_size=batch_size, epochs=epochs)
    classes = int(backend.namespace(backend.to_numpy(y)).max(backend.to_numpy(y))) + 1
    if not any(line.get_label().startswith("guessing") for line in ax_loss.get_lines()):
        ax_loss.axhline(math.log(classes), color="0.4", linestyle=":", linewidth=1.2,
                        label=f"guessing: ln {classes} = {math.log(classes):.3f}")
    ax_loss.semilogy(range(1, len(history) + 1), history.loss, color=colour, linewidth=1.8,
                     label=label or f"η = {lr:.3g}: final loss {history.loss[-1]:.3g}")
    ax_loss.set(xlabel="epoch", ylabel="mean training loss (log scale)", xlim=(0, epochs + 1),
                title=f"Training loss, batch size {batch_size}")
    ax_loss.legend(fontsize=8)
    if ax_boundary is not None:
        verdict = f"stopped: loss not finite after {len(history)} epochs" if history.stopped else (
            f"training accuracy {history.accuracy[-1]:.0%}")
        plot_decision_boundary(model, X, y, ax=ax_boundary, resolution=120, title=f"η = {lr:.3g}: {verdict}")
        ax_boundary.get_legend().remove()
        ax_boundary.title.set_fontsize(10)
    return model, history


def learning_rate_explorer(X: Any, y: Any, lr: float = 1.0, batch_size: int = 32,
                           epochs: int = 60) -> ipywidgets.VBox:
    """A learning-rate slider (log scale, 0.001 to 30) and a batch-size menu over a training run (chapter 4).

    Every change trains a fresh small MLP on (X, y) from the same starting weights (well under
    a second for a few hundred points) and redraws :func:`draw_learning_rate`: the loss per
    epoch and the decision regions it ended with. Try: slide η down to 0.01 and the loss
    crawls; up past about 5 and it leaps above the guessing line and stays there; then pick
    the full batch and see how many more epochs the same η needs.
    """
    n = int(host_points(X, y)[0].shape[0])  # fails early, in the cell that builds the widget
    sizes = sorted({s for s in (8, 32, 128) if s < n} | {n})
    controls = {
        "lr": ipywidgets.FloatLogSlider(value=lr, base=10, min=-3, max=math.log10(30), step=0.05,
                                        description="learning rate η", continuous_update=False,
                                        readout_format=".3g", style={"description_width": "initial"},
                                        layout=ipywidgets.Layout(width="380px")),
        "batch_size": ipywidgets.Dropdown(options=[(f"{s} (full batch)" if s == n else str(s), s)
                                                   for s in sizes],
                                          value=batch_size if batch_size in sizes else sizes[0],
                                          description="batch size", style={"description_width": "initial"},
                                          layout=ipywidgets.Layout(width="220px")),
    }

    def draw(ax: Any, lr: float, batch_size: int) -> None:
        spec = ax.get_subplotspec()
        ax.remove()
        draw_learning_rate(spec.subgridspec(1, 2, width_ratios=(1.3, 1)).subplots(), X, y, lr,
                           batch_size=batch_size, epochs=epochs)

    return slider_figure(draw, controls, figsize=(10.0, 4.0))
