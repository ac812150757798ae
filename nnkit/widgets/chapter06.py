"""Chapter 6 (activations): interactive demos and their static twins."""

from __future__ import annotations

import math
from typing import Any

import ipywidgets

from .. import backend
from .base import host_points, slider_figure

__all__ = ["train_activation_net", "draw_activation_net", "activation_explorer"]


def train_activation_net(X: Any, y: Any, activation: str, hidden: tuple[int, ...] = (32, 32), lr: float = 0.3,
                         epochs: int = 100, batch_size: int = 32, seed: int = 0, init: str = "xavier_normal",
                         **params: float) -> tuple[Any, Any]:
    """Train a fresh MLP with ``activation`` after every hidden layer on (X, y); returns (model, History).

    X: (N, D) inputs, y: (N,) integer labels 0 .. K-1. The network is Linear(D, hidden[0]) →
    f → Linear → f → ... → Linear(hidden[-1], K), trained by :func:`nnkit.fit` with
    cross-entropy and plain SGD. ``activation`` is a key of ``nnkit.functional.ACTIVATIONS``
    and ``params`` its parameters (e.g. alpha=0.1). The weights (``init``, biases zero) and the
    shuffles come from ``seed``, so every activation starts from the same weights; nnkit's
    random stream is restored afterwards.
    """
    from ..layers import ACTIVATION_LAYERS, Linear
    from ..losses import CrossEntropyLoss
    from ..module import Sequential
    from ..optim import SGD
    from ..train import fit

    if activation not in ACTIVATION_LAYERS:
        raise KeyError(f"no activation called {activation!r}; choose one of {sorted(ACTIVATION_LAYERS)}.")
    X_host, y_host = backend.to_numpy(X), backend.to_numpy(y).reshape(-1)
    sizes = [X_host.shape[1], *hidden, int(backend.namespace(y_host).max(y_host)) + 1]
    with backend.seeded(seed):
        modules: list[Any] = []
        for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1], strict=True):
            modules += [Linear(fan_in, fan_out, init=init), ACTIVATION_LAYERS[activation](**params)]
        model = Sequential(*modules, Linear(sizes[-2], sizes[-1], init=init))
        history = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=lr), (X_host, y_host),
                      epochs=epochs, batch_size=batch_size, progress=False)
    return model, history


def draw_activation_net(axes: Any, X: Any, y: Any, activation: str, lr: float = 0.3, epochs: int = 100,
                        **params: float) -> tuple[Any, Any]:
    """Draw an activation with its derivative, and what a small net built from it learns (chapter 6).

    axes: a pair (ax_f, ax_boundary). ax_f gets f and f' (:func:`nnkit.viz.plot_activation`);
    ax_boundary the decision regions of :func:`train_activation_net` on (X, y) after
    ``epochs`` epochs of SGD at learning rate ``lr``, titled with its training accuracy.
    X: (N, 2) points, y: (N,) integer labels. Returns (model, History) of the run.
    """
    from ..viz import ACTIVATION_LABELS, plot_activation, plot_decision_boundary

    ax_f, ax_boundary = axes
    plot_activation(activation, ax=ax_f, **params)
    model, history = train_activation_net(X, y, activation, lr=lr, epochs=epochs, **params)
    verdict = (f"loss not finite after {len(history)} epochs" if history.stopped
               else f"training accuracy {history.accuracy[-1]:.0%}")
    name = ACTIVATION_LABELS.get(activation, (activation,))[0]
    plot_decision_boundary(model, X, y, ax=ax_boundary, resolution=120,
                           title=f"{name} net, η = {lr:.3g}, {epochs} epochs:\n{verdict}")
    ax_boundary.get_legend().remove()
    ax_boundary.title.set_fontsize(10)
    return model, history


def activation_explorer(X: Any, y: Any, activation: str = "relu", lr: float = 0.3,
                        epochs: int = 100) -> ipywidgets.VBox:
    """An activation menu and a learning-rate slider over :func:`draw_activation_net` (chapter 6).

    Every change trains a fresh 2-32-32-K network on (X, y) from the same starting weights
    (well under a second for a few hundred points) and redraws the activation, its derivative
    and the decision regions. Try: the linear and threshold units cannot bend the boundary;
    sigmoid needs a larger η than tanh; push η up to 3 and watch ReLU and ELU nets break.
    """
    from ..viz import ACTIVATION_LABELS

    host_points(X, y)  # fail early, in the cell that builds the widget
    controls = {
        "activation": ipywidgets.Dropdown(options=[(label, key) for key, (label, _) in
                                                   ACTIVATION_LABELS.items()],
                                          value=activation, description="activation",
                                          style={"description_width": "initial"},
                                          layout=ipywidgets.Layout(width="280px")),
        "lr": ipywidgets.FloatLogSlider(value=lr, base=10, min=-2, max=math.log10(3), step=0.05,
                                        description="learning rate η", continuous_update=False,
                                        readout_format=".3g", style={"description_width": "initial"},
                                        layout=ipywidgets.Layout(width="380px")),
    }

    def draw(ax: Any, activation: str, lr: float) -> None:
        spec = ax.get_subplotspec()
        ax.remove()
        draw_activation_net(spec.subgridspec(1, 2, width_ratios=(1, 1.1)).subplots(), X, y, activation, lr=lr,
                            epochs=epochs)

    return slider_figure(draw, controls, figsize=(10.0, 4.2))
