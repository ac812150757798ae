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
5. :func:`vanishing_gradients` (static twin :func:`draw_gradient_norms`): gradient norm
   per layer of deep sigmoid, tanh and ReLU nets under sliders for depth and weight gain.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import ipywidgets
import matplotlib.pyplot as plt
from matplotlib.colors import LinearSegmentedColormap

from . import backend
from .viz import MARKERS, PALETTE

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
    saved = backend.rng().bit_generator.state
    backend.seed(seed)
    try:
        model = Sequential(Linear(X_host.shape[1], hidden, init=normal(sigma)), Tanh(),
                           Linear(hidden, classes, init=normal(sigma)))
        history = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=lr), (X_host, y_host),
                      epochs=epochs, batch_size=batch_size, progress=False)
    finally:
        backend.rng().bit_generator.state = saved
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

