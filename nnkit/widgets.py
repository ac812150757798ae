"""Interactive demos for the chapter notebooks: every widget of the course lives here.

The pattern (follow it when you add a widget for your chapter)
---------------------------------------------------------------
Each demo is two public functions:

``draw_<thing>(ax, ..., **settings)``
    Draws ONE setting of the demo on a matplotlib ``ax`` and returns ``ax``. The notebook
    calls it two or three times for the static figure that sits before the widget, so the
    chapter reads fully where widgets do not run (nbconvert HTML, GitHub, a PDF).

``<thing>(data..., **initial_settings) -> ipywidgets.Widget``
    Builds the controls and hands them, with a small drawing callback, to
    :func:`slider_figure`, which returns the widget the notebook cell displays. Its
    docstring says what the student sees and what to try.

:func:`slider_figure` is the one place that wires controls to a redrawn figure: controls on
top, the figure below, redrawn (not stacked) on every change, so a browser test can move a
control and see the output change. Data may be an array of any backend: convert it once
with :func:`nnkit.to_numpy` before plotting. Do maths on those host arrays through
``backend.namespace(...)`` (this module must not import numpy). A widget cell in a notebook
is tagged ``nbval-ignore-output``.

Widgets by chapter
------------------
1. :func:`neuron_boundary` (static twin :func:`draw_neuron_boundary`): one neuron's
   decision line under sliders for w1, w2 and b.
3. :func:`softmax_temperature` (static twin :func:`draw_softmax_temperature`): a
   temperature slider over a softmax bar chart.
4. :func:`learning_rate_explorer` (static twin :func:`draw_learning_rate`): a learning-rate
   slider and a batch-size menu; each change retrains a small MLP and redraws its loss
   curve and decision regions.
5. :func:`vanishing_gradients` (static twin :func:`draw_gradient_norms`): gradient norm
   per layer of deep sigmoid, tanh and ReLU nets under sliders for depth and weight gain.
6. :func:`activation_explorer` (static twin :func:`draw_activation_net`): an activation menu
   and a learning-rate slider; each change trains a small MLP with that activation and redraws
   f, f' and its decision regions.
7. :func:`optimizer_explorer` (static twin :func:`draw_optimizer_path`): an optimiser, its
   learning rate and a 2-D loss surface (ravine, curved valley, double well) to choose; each
   change reruns the real nnkit optimiser and redraws its path and its loss per step.
8. :func:`conv_window_explorer` (static twin :func:`draw_conv_window`): input size, kernel,
   stride, padding and the window's position; shows the sliding window, the output grid and
   the output-size arithmetic. :func:`filter_explorer` (static twin
   :func:`draw_filter_response`): a hand-set filter applied to a chosen image.
9. :func:`rnn_gradient_explorer` (static twin :func:`draw_rnn_gradient_norms`): the gradient
   reaching each input of a vanilla RNN under sliders for the recurrent weight scale, the input
   size and the length. :func:`char_temperature` (static twin :func:`draw_char_temperature`): a
   temperature slider over a trained character model's next-character distribution and a sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets
import matplotlib.pyplot as plt
from matplotlib.colors import LinearSegmentedColormap

from . import backend
from .viz import MARKERS, PALETTE, draw_kernel

__all__ = ["slider_figure", "float_slider", "draw_neuron_boundary", "neuron_boundary",
           "draw_softmax_temperature", "softmax_temperature"]

# Classes get the colours and markers of nnkit.viz (Okabe-Ito: class 0 blue, class 1 orange).
CLASS_COLOURS = PALETTE[:2]
# A neuron's output from 0 (class-0 blue) through 0.5 (white) to 1 (class-1 orange).
OUTPUT_CMAP = LinearSegmentedColormap.from_list("nnkit_output",
                                                [CLASS_COLOURS[0], "#FFFFFF", CLASS_COLOURS[1]])


# ----------------------------------------------------------------------------- the pattern

def float_slider(description: str, value: float, low: float, high: float, step: float = 0.1,
                 ) -> ipywidgets.FloatSlider:
    """A float slider with the course's look: label on the left, value shown to two decimals."""
    return ipywidgets.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                                  continuous_update=False, readout_format=".2f",
                                  style={"description_width": "initial"},
                                  layout=ipywidgets.Layout(width="340px"))


def slider_figure(draw: Callable[..., Any], controls: dict[str, ipywidgets.ValueWidget],
                  figsize: tuple[float, float] = (6.4, 4.0)) -> ipywidgets.VBox:
    """Controls above a figure that ``draw(ax, **values)`` redraws whenever a control changes.

    draw:     callable taking a matplotlib Axes plus one keyword per control (its value).
    controls: name -> ipywidgets control (slider, dropdown, ...); the names are the keywords.
    Returns a VBox(controls row, Output); the first drawing happens at once.
    """
    def redraw(**values: Any) -> None:
        fig, ax = plt.subplots(figsize=figsize)
        draw(ax, **values)
        fig.tight_layout()
        plt.show()
        plt.close(fig)

    output = ipywidgets.interactive_output(redraw, controls)
    row = ipywidgets.HBox(list(controls.values()), layout=ipywidgets.Layout(flex_flow="row wrap"))
    return ipywidgets.VBox([row, output])


# ----------------------------------------------------------------------------- chapter 1

def _host_points(X: Any, y: Any) -> tuple[Any, Any]:
    """(X, y) as host arrays: X (N, 2) float, y (N,) labels in {0, 1}."""
    X_host, y_host = backend.to_numpy(X), backend.to_numpy(y).reshape(-1)
    if X_host.ndim != 2 or X_host.shape[1] != 2:
        raise ValueError(f"expected 2-D points X of shape (N, 2), got shape {tuple(X_host.shape)}")
    if y_host.shape[0] != X_host.shape[0]:
        raise ValueError(f"X has {X_host.shape[0]} points but y has {y_host.shape[0]} labels")
    return X_host, y_host


def draw_neuron_boundary(ax: Any, X: Any, y: Any, w1: float, w2: float, b: float,
                         shade: bool = True, title: str | None = None, legend: bool = True) -> Any:
    """Draw the points (X, y) and the decision line w1*x1 + w2*x2 + b = 0 of one logistic neuron.

    X: (N, 2) points; y: (N,) labels 0/1. The background shows the neuron's output
    sigma(w1*x1 + w2*x2 + b) from blue (0) through white (0.5) to orange (1); the arrow is
    the weight vector w, pointing to the side the neuron calls class 1. The title reports
    the accuracy (class 1 where z > 0, as in nnkit.train.predict) and the mean
    cross-entropy, unless ``title`` replaces it. shade=False leaves out the background,
    legend=False the legend (for small multiples).
    Returns ax.
    """
    X_host, y_host = _host_points(X, y)
    xp = backend.namespace(X_host)
    pad = 0.5
    lo1, hi1 = float(xp.min(X_host[:, 0])) - pad, float(xp.max(X_host[:, 0])) + pad
    lo2, hi2 = float(xp.min(X_host[:, 1])) - pad, float(xp.max(X_host[:, 1])) + pad
    if shade:
        g1, g2 = xp.meshgrid(xp.linspace(lo1, hi1, 200), xp.linspace(lo2, hi2, 200))
        prob = 1.0 / (1.0 + xp.exp(-xp.clip(w1 * g1 + w2 * g2 + b, -30.0, 30.0)))
        ax.imshow(prob, extent=(lo1, hi1, lo2, hi2), origin="lower", aspect="auto", cmap=OUTPUT_CMAP,
                  vmin=0.0, vmax=1.0, alpha=0.45, interpolation="bilinear")
    for label in (0, 1):
        colour, marker = CLASS_COLOURS[label], MARKERS[label]
        mask = y_host == label
        ax.scatter(X_host[mask, 0], X_host[mask, 1], s=22, c=colour, marker=marker,
                   edgecolors="k", linewidths=0.4, label=f"class {label}")
    _draw_line(ax, w1, w2, b, (lo1, hi1), (lo2, hi2))
    z = X_host[:, 0] * w1 + X_host[:, 1] * w2 + b
    accuracy = float(xp.mean(xp.astype((z > 0) == (y_host == 1), xp.float64)))
    # Cross-entropy through the stable softplus form: log(1 + e^z) - y z.
    loss = float(xp.mean(xp.logaddexp(0.0, z) - y_host * z))
    ax.set(xlim=(lo1, hi1), ylim=(lo2, hi2), xlabel="$x_1$", ylabel="$x_2$")
    ax.set_title(title or f"$w_1$={w1:.2f}, $w_2$={w2:.2f}, $b$={b:.2f}\n"
                          f"accuracy {accuracy:.0%}, mean cross-entropy {loss:.3f}", fontsize=10)
    if legend:
        ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    return ax


def _draw_line(ax: Any, w1: float, w2: float, b: float, xlim: tuple[float, float],
               ylim: tuple[float, float]) -> None:
    """The line w1*x1 + w2*x2 + b = 0 across the box, and the weight vector w as an arrow on it."""
    norm = math.hypot(w1, w2)
    if norm < 1e-12:  # no line at all: the neuron outputs sigma(b) everywhere
        ax.text(0.5, 0.95, "w = 0: no boundary", transform=ax.transAxes, ha="center", va="top")
        return
    # The point of the line closest to the origin, then a long segment along the line.
    p1, p2 = -b * w1 / norm**2, -b * w2 / norm**2
    d1, d2 = -w2 / norm, w1 / norm
    span = 4 * (abs(xlim[1] - xlim[0]) + abs(ylim[1] - ylim[0]) + abs(p1) + abs(p2))
    ax.plot([p1 - span * d1, p1 + span * d1], [p2 - span * d2, p2 + span * d2], color="k", lw=2,
            label="boundary $w^Tx+b=0$")
    # Arrow for w, anchored at the line's point nearest the centre of the box.
    c1, c2 = (xlim[0] + xlim[1]) / 2, (ylim[0] + ylim[1]) / 2
    t = (c1 - p1) * d1 + (c2 - p2) * d2
    a1, a2 = p1 + t * d1, p2 + t * d2
    length = 0.15 * min(xlim[1] - xlim[0], ylim[1] - ylim[0])
    ax.annotate("", xy=(a1 + length * w1 / norm, a2 + length * w2 / norm), xytext=(a1, a2),
                arrowprops={"arrowstyle": "->", "lw": 2, "color": "k"})
    ax.text(a1 + 1.2 * length * w1 / norm, a2 + 1.2 * length * w2 / norm, "$w$", fontsize=12)


def neuron_boundary(X: Any, y: Any, w1: float = 1.0, w2: float = 1.0, b: float = 0.0,
                    limit: float = 5.0) -> ipywidgets.VBox:
    """Sliders for w1, w2 and b of one logistic neuron over a 2-D data set (chapter 1).

    X: (N, 2) points; y: (N,) labels 0/1. Each move redraws :func:`draw_neuron_boundary`:
    the straight decision line, the neuron's output as background shading and the weight
    vector w. Try: turning w rotates the line, b slides it along w without turning it, and
    scaling w1, w2 and b together keeps the line but sharpens the shading.
    limit: each slider runs over [-limit, limit].
    """
    _host_points(X, y)  # fail early, in the cell that builds the widget
    controls = {
        "w1": float_slider("$w_1$", w1, -limit, limit),
        "w2": float_slider("$w_2$", w2, -limit, limit),
        "b": float_slider("$b$", b, -2 * limit, 2 * limit),
    }

    def draw(ax: Any, w1: float, w2: float, b: float) -> None:
        draw_neuron_boundary(ax, X, y, w1, w2, b)

    return slider_figure(draw, controls)


# ----------------------------------------------------------------------------- chapter 3

def draw_softmax_temperature(ax: Any, logits: Any, temperature: float = 1.0,
                             class_names: list[str] | None = None) -> Any:
    """Draw softmax(logits / temperature) as a bar chart on ``ax`` (chapter 3).

    logits: (K,) real scores of any backend. temperature: T > 0; small T sharpens the
    distribution towards the arg-max (one-hot), large T flattens it towards 1/K (the dashed
    line). The largest bar is highlighted and every bar is labelled with its probability.
    Returns ax.
    """
    from .functional import softmax  # stable (max-subtracted) along the last axis

    if temperature <= 0:
        raise ValueError(f"the temperature must be positive, got {temperature}")
    z = backend.to_numpy(logits).reshape(-1)
    p = softmax(z / temperature)
    k = int(z.shape[0])
    top = int(backend.namespace(p).argmax(p))
    positions = list(range(1, k + 1))
    colours = [CLASS_COLOURS[1] if i == top else "#9DB9D3" for i in range(k)]
    ax.bar(positions, p, color=colours, edgecolor="k", linewidth=0.5)
    ax.axhline(1.0 / k, color="0.35", linestyle="--", linewidth=1)
    for pos, value in zip(positions, p, strict=True):
        ax.text(pos, float(value) + 0.02, f"{float(value):.2f}", ha="center", va="bottom", fontsize=9)
    ax.set(ylim=(0, 1.08), xticks=positions, xticklabels=class_names or [str(i) for i in positions],
           xlabel=f"class k    (dashed: uniform 1/K = {1.0 / k:.2f})", ylabel="probability $p_k$")
    ax.set_title(f"softmax(z / T), T = {temperature:.2f}", fontsize=10)
    return ax


def softmax_temperature(logits: Any, temperature: float = 1.0, low: float = 0.05,
                        high: float = 10.0) -> ipywidgets.VBox:
    """A temperature slider (logarithmic, from ``low`` to ``high``) over a softmax bar chart (chapter 3).

    logits: (K,) scores. Each move redraws :func:`draw_softmax_temperature`. Try: slide T
    towards ``low`` and the bars collapse onto the largest logit (a hard arg-max); slide it
    towards ``high`` and they level out at 1/K; the order of the bars never changes.
    """
    z = backend.to_numpy(logits).reshape(-1)  # fail early, in the cell that builds the widget
    control = ipywidgets.FloatLogSlider(value=temperature, base=10, min=math.log10(low), max=math.log10(high),
                                        step=0.02, description="temperature T", continuous_update=False,
                                        readout_format=".2f", style={"description_width": "initial"},
                                        layout=ipywidgets.Layout(width="340px"))

    def draw(ax: Any, temperature: float) -> None:
        draw_softmax_temperature(ax, z, temperature)

    return slider_figure(draw, {"temperature": control})


# ----------------------------------------------------------------------------- chapter 5

__all__ += ["layer_gradient_norms", "draw_gradient_norms", "vanishing_gradients"]

# One colour and marker per activation in the chapter 5 figures (Okabe-Ito).
_ACTIVATION_STYLE = {"sigmoid": ("#D55E00", "o"), "tanh": ("#009E73", "s"), "relu": ("#0072B2", "^")}


def layer_gradient_norms(activation: str, depth: int = 10, width: int = 64, gain: float = 1.0,
                         n: int = 128, seed: int = 0) -> list[float]:
    """‖∂J/∂W‖ of each hidden layer of a freshly initialised deep MLP, input side first.

    The MLP has ``depth`` hidden layers of ``width`` units with ``activation`` ("sigmoid",
    "tanh" or "relu") and a linear output unit; J is the MSE against random targets on ``n``
    random inputs. Each layer gets the usual initialisation for its activation (Xavier for
    sigmoid and tanh, He for ReLU) times ``gain``, drawn from a generator of its own
    (``seed``), so calling this leaves nnkit's random stream untouched.
    """
    from .layers import ACTIVATION_LAYERS, Linear
    from .losses import MSELoss
    from .module import Sequential

    generator = backend.rng(seed)

    def initial(fan_in: int, fan_out: int, shape: Any = None, dtype: str | None = None) -> Any:
        var = 2 / fan_in if activation == "relu" else 2 / (fan_in + fan_out)
        return backend.asarray(generator.standard_normal(shape or (fan_in, fan_out)) * gain * math.sqrt(var),
                               dtype=dtype)

    hidden = [Linear(width, width, init=initial) for _ in range(depth)]
    net = Sequential(*[m for layer in hidden for m in (layer, ACTIVATION_LAYERS[activation]())],
                     Linear(width, 1, init=initial))
    x = backend.asarray(generator.standard_normal((n, width)))
    target = backend.asarray(generator.standard_normal((n, 1)))
    loss = MSELoss()
    loss(net(x), target)
    net.backward(loss.backward())
    xp = backend.namespace(x)
    return [float(xp.sqrt(xp.sum(layer.W.grad * layer.W.grad))) for layer in hidden]


def draw_gradient_norms(ax: Any, depth: int = 10, gain: float = 1.0,
                        activations: tuple[str, ...] = ("sigmoid", "tanh", "relu")) -> Any:
    """Gradient norm per hidden layer (log scale) of deep MLPs with each activation; returns ax."""
    from matplotlib.ticker import MaxNLocator

    layers_axis = list(range(1, depth + 1))
    for name in activations:
        colour, marker = _ACTIVATION_STYLE.get(name, ("0.3", "o"))
        ax.semilogy(layers_axis, layer_gradient_norms(name, depth=depth, gain=gain), color=colour,
                    marker=marker, markersize=4, label=name)
    ax.set(xlabel="hidden layer (1 = next to the input)", ylabel="gradient norm ‖∂J/∂W‖ (log scale)",
           title=f"Gradient norm per layer at initialisation\n(depth {depth}, weight gain {gain:.2f})")
    ax.title.set_fontsize(10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    return ax


def vanishing_gradients(depth: int = 10, gain: float = 1.0) -> ipywidgets.VBox:
    """Sliders for the depth and the initial weight scale over :func:`draw_gradient_norms` (chapter 5).

    Try: deepen the net and watch the sigmoid line fall by a factor of about 5 per layer while
    tanh and ReLU stay level; raise the gain to 2 and ReLU's gradients explode (every layer
    doubles the signal), while larger weights only partly rescue the sigmoid.
    """
    controls = {"depth": ipywidgets.IntSlider(value=depth, min=2, max=30, description="depth",
                                              continuous_update=False,
                                              layout=ipywidgets.Layout(width="340px")),
                "gain": float_slider("weight gain", gain, 0.25, 3.0, step=0.25)}
    return slider_figure(lambda ax, depth, gain: draw_gradient_norms(ax, depth, gain), controls)


# ----------------------------------------------------------------------------- chapter 4

__all__ += ["train_small_mlp", "draw_learning_rate", "learning_rate_explorer"]


def train_small_mlp(X: Any, y: Any, lr: float, batch_size: int = 32, epochs: int = 60, hidden: int = 32,
                    sigma: float = 0.5, seed: int = 0) -> tuple[Any, Any]:
    """Train a fresh 2-layer tanh MLP on (X, y) with plain SGD; returns (model, History).

    X: (N, D) inputs, y: (N,) integer labels 0 .. K-1. The network is
    Linear(D, hidden) → Tanh → Linear(hidden, K) with weights from N(0, sigma²) and zero
    biases, trained by :func:`nnkit.fit` with cross-entropy. Its weights and shuffles come
    from ``seed``, and nnkit's random stream is restored afterwards, so the same call gives
    the same curve and leaves the rest of the notebook's random numbers alone.
    """
    from .init import normal
    from .layers import Linear, Tanh
    from .losses import CrossEntropyLoss
    from .module import Sequential
    from .optim import SGD
    from .train import fit

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
    from .viz import plot_decision_boundary

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
    n = int(_host_points(X, y)[0].shape[0])  # fails early, in the cell that builds the widget
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



# ----------------------------------------------------------------------------- chapter 6

__all__ += ["train_activation_net", "draw_activation_net", "activation_explorer"]


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
    from .layers import ACTIVATION_LAYERS, Linear
    from .losses import CrossEntropyLoss
    from .module import Sequential
    from .optim import SGD
    from .train import fit

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
    from .viz import ACTIVATION_LABELS, plot_activation, plot_decision_boundary

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
    from .viz import ACTIVATION_LABELS

    _host_points(X, y)  # fail early, in the cell that builds the widget
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


# ----------------------------------------------------------------------------- chapter 7

__all__ += ["LossSurface", "LOSS_SURFACES", "OPTIMIZER_NAMES", "OPTIMIZER_STYLES", "make_optimizer",
            "optimizer_path", "draw_loss_surface", "draw_optimizer_path", "optimizer_explorer"]


@dataclass(frozen=True)
class LossSurface:
    """A loss J(w₁, w₂) of two weights, for watching optimisers move (chapter 7).

    loss(w1, w2) and grad(w1, w2) -> (∂J/∂w1, ∂J/∂w2) work elementwise on numbers and on host
    arrays, so one formula draws the contours on a grid and gives the optimiser its gradient.
    start: where the paths begin; xlim, ylim: the window drawn; minima (stars) and saddles
    (crosses): the points to mark; steps: how many steps a path takes by default;
    learning_rates: a good learning rate for each optimiser of :data:`OPTIMIZER_NAMES` on this
    surface, for that many steps.
    """

    name: str
    formula: str
    loss: Callable[[Any, Any], Any]
    grad: Callable[[Any, Any], tuple[Any, Any]]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    steps: int
    learning_rates: dict[str, float]
    saddles: tuple[tuple[float, float], ...] = ()

    @property
    def lowest(self) -> float:
        """The loss at the lowest of the marked minima."""
        return min(float(self.loss(*m)) for m in self.minima)


LOSS_SURFACES = {
    # A long, narrow quadratic bowl: curvature 0.04 along w1, 2 along w2 (50 times steeper).
    "ravine": LossSurface(
        "ravine", r"$J = 0.02\,w_1^2 + w_2^2$",
        lambda w1, w2: 0.02 * w1**2 + w2**2,
        lambda w1, w2: (0.04 * w1, 2.0 * w2),
        start=(-8.0, 2.0), xlim=(-9.0, 3.0), ylim=(-2.5, 2.5), minima=((0.0, 0.0),), steps=50,
        learning_rates={"SGD": 0.9, "momentum": 0.1, "RMSProp": 0.3, "Adam": 0.5, "Adagrad": 2.0}),
    # Rosenbrock's banana-shaped valley, with a gentler wall (10 instead of the usual 100).
    "valley": LossSurface(
        "valley", r"$J = (1 - w_1)^2 + 10\,(w_2 - w_1^2)^2$",
        lambda w1, w2: (1 - w1)**2 + 10 * (w2 - w1**2)**2,
        lambda w1, w2: (-2 * (1 - w1) - 40 * w1 * (w2 - w1**2), 20 * (w2 - w1**2)),
        start=(-1.5, 2.0), xlim=(-2.0, 2.0), ylim=(-1.0, 3.0), minima=((1.0, 1.0),), steps=100,
        learning_rates={"SGD": 0.012, "momentum": 0.005, "RMSProp": 0.05, "Adam": 0.2, "Adagrad": 0.5}),
    # A tilted double well: a global minimum on the left, a local one on the right, a saddle between.
    "double well": LossSurface(
        "double well", r"$J = (w_1^2 - 1)^2 + 0.25\,w_1 + w_2^2$",
        lambda w1, w2: (w1**2 - 1)**2 + 0.25 * w1 + w2**2,
        lambda w1, w2: (4 * w1 * (w1**2 - 1) + 0.25, 2.0 * w2),
        start=(0.3, 1.8), xlim=(-2.0, 2.0), ylim=(-2.0, 2.0),
        minima=((-1.029896, 0.0), (0.967149, 0.0)), steps=60,
        learning_rates={"SGD": 0.05, "momentum": 0.02, "RMSProp": 0.05, "Adam": 0.1, "Adagrad": 0.5},
        saddles=((0.062747, 0.0),)),
}

OPTIMIZER_NAMES = ("SGD", "momentum", "RMSProp", "Adam", "Adagrad")
# One colour and marker per optimiser in the chapter 7 figures (Okabe-Ito).
OPTIMIZER_STYLES = {"SGD": ("#D55E00", "o"), "momentum": ("#0072B2", "s"), "RMSProp": ("#009E73", "^"),
                    "Adam": ("#CC79A7", "D"), "Adagrad": ("#E69F00", "v")}


def make_optimizer(name: str, params: list[Any], lr: float) -> Any:
    """The nnkit optimiser called ``name`` (one of :data:`OPTIMIZER_NAMES`) over ``params``.

    "momentum" is ``optim.SGD(params, lr, momentum=0.9)``; the others use nnkit's defaults
    (RMSProp ρ = 0.9, Adam β = (0.9, 0.999)).
    """
    from . import optim

    makers = {"SGD": lambda: optim.SGD(params, lr=lr),
              "momentum": lambda: optim.SGD(params, lr=lr, momentum=0.9),
              "RMSProp": lambda: optim.RMSProp(params, lr=lr), "Adam": lambda: optim.Adam(params, lr=lr),
              "Adagrad": lambda: optim.Adagrad(params, lr=lr)}
    if name not in makers:
        raise ValueError(f"Unknown optimiser {name!r}: choose one of {', '.join(makers)}.")
    return makers[name]()


def _surface(surface: str | LossSurface) -> LossSurface:
    if isinstance(surface, LossSurface):
        return surface
    if surface not in LOSS_SURFACES:
        raise ValueError(f"Unknown loss surface {surface!r}: choose one of {', '.join(LOSS_SURFACES)}.")
    return LOSS_SURFACES[surface]


def optimizer_path(surface: str | LossSurface, optimizer: str, lr: float | None = None,
                   steps: int | None = None, start: tuple[float, float] | None = None,
                   noise: float = 0.0, seed: int = 0) -> tuple[Any, Any]:
    """Run a real nnkit optimiser on a 2-D loss surface and record where it goes.

    The two weights (w₁, w₂) live in one :class:`~nnkit.module.Parameter` of shape (2,) on
    the active backend; each step sets its ``grad`` from the surface's formula and calls the
    optimiser's ``step()``, exactly as in a training loop.
    surface: a name in :data:`LOSS_SURFACES` (or a LossSurface). optimizer: a name in
    :data:`OPTIMIZER_NAMES`. lr, steps, start: default to the surface's.
    noise: standard deviation of Gaussian noise added to every gradient (a stand-in for
    mini-batch noise), drawn from a generator of its own (``seed``).
    Returns host arrays path (T + 1, 2), the weights before each step and after the last,
    and losses (T + 1,). A run that blows up (|w| > 10⁴) stops early, so T may be < steps.
    """
    from .module import Parameter

    s = _surface(surface)
    lr = s.learning_rates[optimizer] if lr is None else lr
    steps = s.steps if steps is None else steps
    generator = backend.rng(seed)
    w = Parameter(backend.asarray(list(s.start if start is None else start)))
    opt = make_optimizer(optimizer, [w], lr)
    points = [[float(v) for v in backend.to_numpy(w.data)]]
    for _ in range(steps):
        g1, g2 = s.grad(*points[-1])
        if noise:
            g1 = g1 + noise * float(generator.standard_normal())
            g2 = g2 + noise * float(generator.standard_normal())
        w.grad = backend.asarray([g1, g2], dtype=backend.dtype_name(w.data.dtype))
        opt.step()
        points.append([float(v) for v in backend.to_numpy(w.data)])
        if not all(math.isfinite(v) and abs(v) < 1e4 for v in points[-1]):
            break
    hx = backend.host_xp()
    path = hx.asarray(points)
    return path, s.loss(path[:, 0], path[:, 1])


def draw_loss_surface(ax: Any, surface: str | LossSurface, resolution: int = 200) -> Any:
    """Contour lines of a 2-D loss surface; returns ax.

    Minima are marked with stars, saddle points with crosses.
    """
    s = _surface(surface)
    hx = backend.host_xp()
    g1, g2 = hx.meshgrid(hx.linspace(*s.xlim, resolution), hx.linspace(*s.ylim, resolution))
    J = s.loss(g1, g2)
    # Levels at fixed fractions of the window's area, so that every surface gets lines both
    # near its minima and on its walls, whatever its scale.
    ranked = hx.sort(hx.reshape(J, (-1,)))
    fractions = (0.003, 0.01, 0.02, 0.04, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    levels = sorted({float(ranked[int(f * (ranked.shape[0] - 1))]) for f in fractions})
    ax.contour(g1, g2, J, levels=levels, cmap="Greys_r", linewidths=0.8, alpha=0.8)
    for m1, m2 in s.minima:
        ax.plot(m1, m2, marker="*", color="k", markersize=12, linestyle="none")
    for m1, m2 in s.saddles:
        ax.plot(m1, m2, marker="X", color="k", markersize=9, linestyle="none")
    ax.set(xlim=s.xlim, ylim=s.ylim, xlabel="$w_1$", ylabel="$w_2$")
    return ax


def draw_optimizer_path(ax: Any, surface: str | LossSurface, optimizer: str, lr: float | None = None,
                        steps: int | None = None, start: tuple[float, float] | None = None,
                        contours: bool = True, label: str | None = None, title: str | None = None,
                        noise: float = 0.0) -> tuple[Any, Any]:
    """Draw one optimiser's path on a loss surface's contour plot (chapter 7).

    Arguments as in :func:`optimizer_path`; contours=False draws the path alone (to add a
    second path to a panel). The path starts at the circle; the stars are the minima. The
    title (unless given) names the optimiser, its learning rate and its final loss.
    Returns (path, losses) from :func:`optimizer_path`.
    """
    s = _surface(surface)
    lr = s.learning_rates[optimizer] if lr is None else lr
    path, losses = optimizer_path(s, optimizer, lr, steps, start, noise=noise)
    if contours:
        draw_loss_surface(ax, s)
    colour, marker = OPTIMIZER_STYLES.get(optimizer, ("0.3", "o"))
    ax.plot(path[:, 0], path[:, 1], color=colour, marker=marker, markersize=3, linewidth=1.3,
            label=label or f"{optimizer}, η = {lr:.3g}")
    ax.plot(path[0, 0], path[0, 1], marker="o", color=colour, markersize=9, markerfacecolor="white",
            markeredgewidth=2, linestyle="none")
    ax.set(xlim=s.xlim, ylim=s.ylim)
    blown_up = len(path) - 1 < (s.steps if steps is None else steps)
    final_loss = float(losses[-1])
    final = "blew up" if blown_up or not math.isfinite(final_loss) else f"final J = {final_loss:.3g}"
    ax.set_title(title or f"{optimizer}, η = {lr:.3g}: {len(path) - 1} steps, {final}", fontsize=10)
    return path, losses


def optimizer_explorer(surface: str = "ravine", optimizer: str = "momentum", lr: float | None = None,
                       steps: int | None = None) -> ipywidgets.VBox:
    """Pick a loss surface, an optimiser and its learning rate; watch the path and the loss (chapter 7).

    Left: :func:`draw_optimizer_path` on the surface's contours; right: the loss per step (log
    scale, above the lowest minimum). Choosing another surface or optimiser resets the
    learning rate to a good value for that pair. Try: push SGD's η on the ravine past 1 (it
    diverges along w₂, the steep direction); give momentum the ravine's SGD rate of 0.9; on the
    double well, start Adam and SGD from the same point and see which minimum each reaches.
    """
    s = _surface(surface)
    controls = {
        "surface": ipywidgets.Dropdown(options=list(LOSS_SURFACES), value=s.name, description="surface",
                                       layout=ipywidgets.Layout(width="200px")),
        "optimizer": ipywidgets.Dropdown(options=list(OPTIMIZER_NAMES), value=optimizer,
                                         description="optimiser", layout=ipywidgets.Layout(width="220px")),
        "lr": ipywidgets.FloatLogSlider(value=s.learning_rates[optimizer] if lr is None else lr, base=10,
                                        min=-3, max=math.log10(5), step=0.05, description="learning rate η",
                                        continuous_update=False, readout_format=".3g",
                                        style={"description_width": "initial"},
                                        layout=ipywidgets.Layout(width="360px")),
        "steps": ipywidgets.IntSlider(value=s.steps if steps is None else steps, min=5, max=300, step=5,
                                      description="steps", continuous_update=False,
                                      layout=ipywidgets.Layout(width="300px")),
    }

    def reset_lr(change: dict[str, Any]) -> None:
        chosen = LOSS_SURFACES[controls["surface"].value]
        controls["lr"].value = chosen.learning_rates[controls["optimizer"].value]

    controls["surface"].observe(reset_lr, names="value")
    controls["optimizer"].observe(reset_lr, names="value")

    def draw(ax: Any, surface: str, optimizer: str, lr: float, steps: int) -> None:
        ax_path, ax_loss = ax.get_subplotspec().subgridspec(1, 2, width_ratios=(1.25, 1)).subplots()
        ax.remove()
        _, losses = draw_optimizer_path(ax_path, surface, optimizer, lr, steps)
        above = backend.host_xp().maximum(losses - LOSS_SURFACES[surface].lowest, 1e-12)
        colour, marker = OPTIMIZER_STYLES[optimizer]
        ax_loss.semilogy(range(len(losses)), above, color=colour, marker=marker, markersize=3)
        ax_loss.set(xlabel="step", ylabel="J − lowest minimum (log scale)", title="Loss per step")
        ax_loss.title.set_fontsize(10)

    return slider_figure(draw, controls, figsize=(10.5, 4.2))


# ----------------------------------------------------------------------------- chapter 8

__all__ += ["draw_conv_window", "conv_window_explorer", "HAND_SET_FILTERS", "filter_response",
            "draw_filter_response", "filter_explorer"]


def _grid(ax: Any, left: float, top: float, rows: int, columns: int, colour: Any = "white") -> None:
    """Draw a rows × columns grid of unit squares whose top-left corner is (left, top)."""
    from matplotlib.patches import Rectangle

    for r in range(rows):
        for c in range(columns):
            fill = colour(r, c) if callable(colour) else colour
            ax.add_patch(Rectangle((left + c, top + r), 1, 1, facecolor=fill, edgecolor="0.45",
                                   linewidth=0.6))


def draw_conv_window(ax: Any, size: int = 7, kernel: int = 3, stride: int = 1, padding: int = 0,
                     position: int = 0, title: str | None = None, explain: int = 70) -> Any:
    """One kernel position on a square input (left) and the output cell it fills (right); returns ax.

    size, kernel, stride, padding: the geometry along each axis (square input and kernel).
    position: which output cell, counted row by row (wraps around).
    Grey cells are the zero padding, the blue frame is the window, the blue cell the output it
    produces. When the stride does not tile the padded input, the pixels no window reaches are
    hatched in vermillion: nnkit refuses such a layer, PyTorch silently drops them (the ⌊ ⌋).
    The text under the grids is :func:`nnkit.functional.explain_output_size`, wrapped at
    ``explain`` characters (0 leaves it out).
    """
    import textwrap

    from matplotlib.patches import Rectangle

    from .functional import explain_output_size

    padded = size + 2 * padding
    fits = kernel <= padded
    n_out = (padded - kernel) // stride + 1 if fits else 0
    reach = (n_out - 1) * stride + kernel if fits else 0          # pixels some window covers
    p, q = divmod(position % max(n_out * n_out, 1), max(n_out, 1))

    def input_colour(r: int, c: int) -> str:
        inside = padding <= r < padding + size and padding <= c < padding + size
        return "white" if inside else "0.82"

    ax.clear()
    _grid(ax, 0, 0, padded, padded, input_colour)
    if fits and reach < padded:                                     # rows/columns never reached
        for r in range(padded):
            for c in range(padded):
                if r >= reach or c >= reach:
                    ax.add_patch(Rectangle((c, r), 1, 1, facecolor="none", edgecolor=PALETTE[5],
                                           hatch="///", linewidth=0))
    gap, top = 2.0, (padded - n_out) / 2
    if fits:
        ax.add_patch(Rectangle((q * stride, p * stride), kernel, kernel, facecolor=PALETTE[4], alpha=0.35,
                               edgecolor=PALETTE[0], linewidth=2.5))
        _grid(ax, padded + gap, top, n_out, n_out,
              lambda r, c: PALETTE[4] if (r, c) == (p, q) else "white")
        ax.annotate("", xy=(padded + gap + q + 0.5, top + p + 0.5),
                    xytext=(q * stride + kernel, p * stride + kernel / 2),
                    arrowprops={"arrowstyle": "->", "color": PALETTE[0], "linewidth": 1.5})
        ax.text(padded + gap + n_out / 2, top - 0.4, f"output {n_out}×{n_out}", ha="center", va="bottom")
    label = f"input {size}×{size}" + (f", padded to {padded}×{padded}" if padding else "")
    ax.text(padded / 2, -0.4, label, ha="center", va="bottom")
    exact = (padded - kernel) / stride + 1
    formula = f"({size} + 2·{padding} − {kernel}) / {stride} + 1 = {exact:g}"
    if not fits:
        formula += ": the kernel does not fit"
    elif reach < padded:
        missed = padded - reach
        formula += (f" → ⌊ ⌋ gives {n_out};\n{missed} row{'s' * (missed > 1)} and column{'s' * (missed > 1)} "
                    f"never reached")
    ax.set_title(title or f"kernel {kernel}, stride {stride}, padding {padding}:\n{formula}", fontsize=10)
    if explain:
        ax.text(0, padded + 0.6, textwrap.fill(explain_output_size(size, kernel, stride, padding), explain),
                ha="left", va="top", fontsize=8, color="0.25")
    ax.set(xlim=(-0.5, padded + gap + max(n_out, 1) + 0.5), ylim=(padded + (4.2 if explain else 0.5), -1.6),
           aspect="equal")
    ax.axis("off")
    return ax


def conv_window_explorer(size: int = 7, kernel: int = 3, stride: int = 1,
                         padding: int = 0) -> ipywidgets.VBox:
    """Sliders for input size, kernel, stride and padding, and one for the window's position (chapter 8).

    The figure is :func:`draw_conv_window`: the padded input with the window, the output grid with
    the cell it fills, the output-size formula and nnkit's explanation. Try: a 7-pixel input with
    kernel 3 and stride 2 (3 outputs), then size 8 (a pixel left over: what padding fixes it?);
    find the padding that keeps a 5 × 5 kernel's output as large as its input ("same" padding).
    """
    def int_slider(description: str, value: int, low: int, high: int) -> ipywidgets.IntSlider:
        return ipywidgets.IntSlider(value=value, min=low, max=high, description=description,
                                    continuous_update=False, layout=ipywidgets.Layout(width="250px"))

    controls = {"size": int_slider("input size", size, 3, 12), "kernel": int_slider("kernel", kernel, 1, 7),
                "stride": int_slider("stride", stride, 1, 4), "padding": int_slider("padding", padding, 0, 3),
                "position": int_slider("window", 0, 0, 1)}

    def update_positions(change: Any = None) -> None:
        padded = controls["size"].value + 2 * controls["padding"].value
        n_out = max((padded - controls["kernel"].value) // controls["stride"].value + 1, 1)
        controls["position"].max = n_out * n_out - 1

    update_positions()
    for name in ("size", "kernel", "stride", "padding"):
        controls[name].observe(update_positions, names="value")
    return slider_figure(draw_conv_window, controls, figsize=(9.0, 6.0))


# Hand-set 3 × 3 filters (weights as nested lists; rows are y, pointing down, columns x).
HAND_SET_FILTERS: dict[str, list[list[float]]] = {
    "∂/∂x (vertical edges)": [[-1 / 6, 0, 1 / 6]] * 3,
    "∂/∂y (horizontal edges)": [[-1 / 6] * 3, [0.0] * 3, [1 / 6] * 3],
    "diagonal edges": [[0, 1 / 4, 1 / 2], [-1 / 4, 0, 1 / 4], [-1 / 2, -1 / 4, 0]],
    "blur (3×3 mean)": [[1 / 9] * 3] * 3,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
}


def filter_response(image: Any, kernel: Any) -> Any:
    """The feature map of one grey image under one filter, same size as the image (zero padding).

    image: (H, W); kernel: (kh, kw) with kh, kw odd (a host array, a nested list or a backend array).
    Returns a host array (H, W), computed with nnkit's ``conv2d_forward`` on the active backend.
    """
    from .functional import conv2d_forward

    hx = backend.host_xp()
    image, kernel = backend.to_numpy(backend.asarray(image)), backend.to_numpy(backend.asarray(kernel))
    kh, kw = kernel.shape
    if kh != kw or kh % 2 == 0:
        raise ValueError(f"filter_response needs a square kernel of odd size, "
                         f"got shape {tuple(kernel.shape)}.")
    out, _ = conv2d_forward(backend.asarray(hx.reshape(image, (1, 1, *image.shape))),
                            backend.asarray(hx.reshape(kernel, (1, 1, kh, kw))), None, padding=kh // 2)
    return backend.to_numpy(out)[0, 0]


def draw_filter_response(ax: Any, image: Any, kernel: Any, relu: bool = False, title: str | None = None,
                         colorbar: bool = False) -> Any:
    """The feature map :func:`filter_response` of ``image`` under ``kernel`` (a name of
    :data:`HAND_SET_FILTERS` or a weight array); returns ax.

    Signed responses use the purple (negative) to orange (positive) map centred on 0; with
    ``relu`` the negative part is cut off (what a ReLU after the convolution keeps) and shown
    in viridis from 0.
    """
    from .viz import FILTER_CMAP

    hx = backend.host_xp()
    name = kernel if isinstance(kernel, str) else None
    response = filter_response(image, HAND_SET_FILTERS[kernel] if name else kernel)
    if relu:
        response = hx.maximum(response, 0.0)
        shown = ax.imshow(response, cmap="viridis", vmin=0)
    else:
        limit = float(hx.max(hx.abs(response))) or 1.0
        shown = ax.imshow(response, cmap=FILTER_CMAP, vmin=-limit, vmax=limit)
    if colorbar:
        ax.figure.colorbar(shown, ax=ax, shrink=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"{name or 'filter'}{' + ReLU' if relu else ''}", fontsize=10)
    return ax


def filter_explorer(images: dict[str, Any], kernel: str = "∂/∂x (vertical edges)", image: str | None = None,
                    relu: bool = False) -> ipywidgets.VBox:
    """Choose a grey image and a hand-set filter; see the kernel and the feature map (chapter 8).

    images: name -> (H, W) grey image. The filters are :data:`HAND_SET_FILTERS`; the figure shows
    the input, the kernel's weights and :func:`draw_filter_response`. Try: which filter lights up
    the left edge of a bright square, and with which sign? What does the ReLU keep of it? Which
    filter leaves the image unchanged, and which makes it blurrier?
    """
    controls = {
        "image": ipywidgets.Dropdown(options=list(images), value=image or next(iter(images)),
                                     description="image", layout=ipywidgets.Layout(width="240px")),
        "kernel": ipywidgets.Dropdown(options=list(HAND_SET_FILTERS), value=kernel, description="filter",
                                      layout=ipywidgets.Layout(width="300px")),
        "relu": ipywidgets.Checkbox(value=relu, description="ReLU after the filter", indent=False),
    }

    def draw(ax: Any, image: str, kernel: str, relu: bool) -> None:
        ax_in, ax_k, ax_out = ax.get_subplotspec().subgridspec(1, 3, width_ratios=(1, 0.45, 1)).subplots()
        ax.remove()
        ax_in.imshow(backend.to_numpy(backend.asarray(images[image])), cmap="gray")
        ax_in.set(xticks=[], yticks=[], title=f"input: {image}")
        ax_in.title.set_fontsize(10)
        draw_kernel(ax_k, HAND_SET_FILTERS[kernel]).set_title("kernel", fontsize=10)
        draw_filter_response(ax_out, images[image], kernel, relu=relu)

    return slider_figure(draw, controls, figsize=(9.5, 3.6))


# ----------------------------------------------------------------------------- chapter 9

__all__ += ["rnn_input_gradient_norms", "draw_rnn_gradient_norms", "rnn_gradient_explorer",
            "next_char_probabilities", "sample_text", "draw_char_temperature", "char_temperature"]


def rnn_input_gradient_norms(scale: float, steps: int = 50, hidden: int = 32, inputs: int = 4,
                             input_scale: float = 0.1, n: int = 64, seed: int = 0) -> list[float]:
    """‖∂L/∂x_t‖ for t = 1 .. steps of a vanilla RNN whose Wh is ``scale`` times an orthogonal matrix.

    The RNN (``inputs`` → ``hidden``, zero bias, Wx with entries of size 1/√inputs) reads ``n``
    random sequences whose entries have standard deviation ``input_scale``; the loss
    L = h_T · r depends on the last state only (r a fixed random direction), so every gradient
    reaching x_t has travelled back T − t steps through the recurrence. Returns the norm for
    each step, averaged over the sequences, input side first. The weights and data come from a
    generator of their own (``seed``): every ``scale`` sees the same Wh direction and inputs.
    """
    from .functional import rnn_backward, rnn_forward

    hx, generator = backend.host_xp(), backend.rng(seed)
    orthogonal, _ = hx.linalg.qr(generator.standard_normal((hidden, hidden)))
    Wx = generator.standard_normal((inputs, hidden)) / math.sqrt(inputs)
    x = input_scale * generator.standard_normal((n, steps, inputs))
    dh = hx.zeros((n, steps, hidden))
    dh[:, -1, :] = generator.standard_normal((n, hidden)) / math.sqrt(hidden)   # ∂L/∂h_T = r
    _, cache = rnn_forward(backend.asarray(x), backend.asarray(hx.zeros((n, hidden))), backend.asarray(Wx),
                           backend.asarray(scale * orthogonal), backend.asarray(hx.zeros(hidden)))
    dx = rnn_backward(backend.asarray(dh), cache)[0]
    xp = backend.namespace(dx)
    return [float(v) for v in backend.to_numpy(xp.mean(xp.sqrt(xp.sum(dx * dx, axis=2)), axis=0))]


def draw_rnn_gradient_norms(ax: Any, scales: float | tuple[float, ...] = (0.5, 0.9, 1.0, 1.5, 3.0),
                            steps: int = 50, input_scale: float = 0.1, reference: bool = False) -> Any:
    """Gradient norm reaching each input x_t (log scale) for each recurrent weight scale s (chapter 9).

    One line per scale, from :func:`rnn_input_gradient_norms`. With ``reference``, a dashed line
    per scale shows s^(T−t): what a linear RNN (no tanh) would give. Returns ax.
    """
    from matplotlib.ticker import MaxNLocator

    scales = (scales,) if isinstance(scales, (int, float)) else tuple(scales)
    t_axis = list(range(1, steps + 1))
    colours = ("#0072B2", "#56B4E9", "#000000", "#E69F00", "#D55E00", "#CC79A7", "#009E73")
    for i, s in enumerate(scales):
        colour = colours[i % len(colours)] if len(scales) > 1 else "#D55E00"
        norms = rnn_input_gradient_norms(s, steps=steps, input_scale=input_scale)
        ax.semilogy(t_axis, norms, color=colour, marker=MARKERS[i % len(MARKERS)], markersize=3,
                    label=f"s = {s:g}")
        if reference:
            ax.semilogy(t_axis, [norms[-1] * s ** (steps - t) for t in t_axis], "--", color=colour, lw=1,
                        alpha=0.7, label=f"{s:g}$^{{T-t}}$: a linear RNN (no tanh)")
    ax.set(xlabel=f"time step t of the input $x_t$ (the loss reads only $h_T$, T = {steps})",
           ylabel=r"$\|\partial L / \partial x_t\|$ (log scale)",
           title=f"Gradient reaching each input, $W_h$ = s · orthogonal, inputs of size {input_scale:g}")
    ax.title.set_fontsize(10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc="best")
    return ax


def rnn_gradient_explorer(scale: float = 1.5, input_scale: float = 0.1, steps: int = 50) -> ipywidgets.VBox:
    """Sliders for the recurrent weight scale s, the input size and the length over
    :func:`draw_rnn_gradient_norms` (chapter 9).

    Try: s below 1 and the gradient reaching early inputs fades exponentially; above 1 it grows,
    following s^(T−t) while tanh stays in its linear range; make the inputs larger and tanh
    saturates, its derivative 1 − h² cuts the growth, and large s stops exploding.
    """
    controls = {
        "scale": float_slider("recurrent scale s", scale, 0.25, 3.0, step=0.05),
        "input_scale": ipywidgets.FloatLogSlider(value=input_scale, base=10, min=-2, max=0.5, step=0.05,
                                                 description="input size", continuous_update=False,
                                                 readout_format=".2f", style={"description_width": "initial"},
                                                 layout=ipywidgets.Layout(width="340px")),
        "steps": ipywidgets.IntSlider(value=steps, min=10, max=100, step=5, description="steps T",
                                      continuous_update=False, layout=ipywidgets.Layout(width="340px")),
    }

    def draw(ax: Any, scale: float, input_scale: float, steps: int) -> None:
        draw_rnn_gradient_norms(ax, scale, steps=steps, input_scale=input_scale, reference=True)

    return slider_figure(draw, controls, figsize=(8.0, 4.2))


def next_char_probabilities(model: Any, vocab: Any, prompt: str, temperature: float = 1.0,
                            context: int = 32) -> Any:
    """softmax(z / T) over the vocabulary for the character that follows ``prompt``: host array (V,).

    model:   maps token indices (1, L) to scores (1, L, V), e.g. Embedding → LSTM → Linear;
    vocab:   the V characters (a str or list); a character's token is its position in vocab;
    context: only the last ``context`` characters of the prompt are read.
    z are the scores after the last character; T > 0 sharpens (T < 1) or flattens (T > 1) them.
    """
    from .functional import softmax

    if temperature <= 0:
        raise ValueError(f"the temperature must be positive, got {temperature}")
    tokens = [[vocab.index(c) for c in prompt[-context:]]]
    scores = backend.to_numpy(model(backend.asarray(tokens)))[0, -1]
    return softmax(scores / temperature)


def sample_text(model: Any, vocab: Any, prompt: str, length: int = 100, temperature: float = 1.0,
                context: int = 32, seed: int = 0) -> str:
    """Extend ``prompt`` by ``length`` characters, each drawn from :func:`next_char_probabilities`.

    Every new character is appended to the text and read back in for the next one. The draws
    come from a generator of their own (``seed``), so the same call gives the same text.
    """
    generator = backend.rng(seed)
    text = prompt
    for _ in range(length):
        p = next_char_probabilities(model, vocab, text, temperature, context)
        text += vocab[int(generator.choice(len(vocab), p=p))]
    return text


def _shown(c: str) -> str:
    """A character as a readable tick label: space → ␣, newline → ↵."""
    return {" ": "␣", "\n": "↵"}.get(c, c)


def draw_char_temperature(ax: Any, model: Any, vocab: Any, prompt: str, temperature: float = 1.0,
                          top: int = 12, context: int = 32) -> Any:
    """Bar chart of the ``top`` most likely next characters after ``prompt`` at temperature T (chapter 9).

    The dashed line is the uniform guess 1/V. Returns ax.
    """
    p = next_char_probabilities(model, vocab, prompt, temperature, context)
    hx = backend.namespace(p)
    order = [int(i) for i in hx.argsort(-p, stable=True)[:top]]
    ax.bar(range(len(order)), [float(p[i]) for i in order], color=PALETTE[0], edgecolor="k", linewidth=0.5)
    for k, i in enumerate(order):
        ax.text(k, float(p[i]) + 0.02, f"{float(p[i]):.2f}", ha="center", va="bottom", fontsize=8)
    ax.axhline(1 / len(vocab), color="0.35", ls="--", lw=1)
    ax.set_xticks(range(len(order)), [_shown(vocab[i]) for i in order])
    tail = ("…" if len(prompt) > 30 else "") + prompt[-30:].replace("\n", "↵")
    ax.set(ylim=(0, 1.1), xlabel=f"the {top} likeliest next characters (dashed: uniform 1/V)",
           ylabel="probability")
    ax.set_title(f"after “{tail}”, T = {temperature:.2f}", fontsize=10)
    return ax


def char_temperature(model: Any, vocab: Any, prompt: str, temperature: float = 1.0, length: int = 120,
                     context: int = 32, seed: int = 0) -> ipywidgets.VBox:
    """A temperature slider over the next-character distribution and a sampled text (chapter 9).

    Each move redraws :func:`draw_char_temperature` and a new :func:`sample_text` of ``length``
    characters after ``prompt``. Try: T near 0.1 always takes the likeliest character (the text
    soon repeats itself); T = 1 samples the model as trained; T above 2 flattens the distribution
    towards 1/V and the text dissolves into random letters.
    """
    control = ipywidgets.FloatLogSlider(value=temperature, base=10, min=-1, max=math.log10(5), step=0.02,
                                        description="temperature T", continuous_update=False,
                                        readout_format=".2f", style={"description_width": "initial"},
                                        layout=ipywidgets.Layout(width="340px"))

    def draw(ax: Any, temperature: float) -> None:
        grid = ax.get_subplotspec().subgridspec(2, 1, height_ratios=(1, 0.8), hspace=0.5)
        ax_bars, ax_text = grid.subplots()
        ax.remove()
        draw_char_temperature(ax_bars, model, vocab, prompt, temperature, context=context)
        ax_text.text(0, 1, sample_text(model, vocab, prompt, length, temperature, context, seed),
                     va="top", ha="left", family="monospace", fontsize=9, transform=ax_text.transAxes)
        ax_text.set_title("a sample at this temperature", fontsize=10, loc="left")
        ax_text.axis("off")

    return slider_figure(draw, {"temperature": control}, figsize=(8.0, 6.5))
