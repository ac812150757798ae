"""Figures for the chapters: training curves, decision boundaries, confusion matrices,
network diagrams and digits.

Every function draws on the Axes it is given, or on a new figure of a fixed size, and
returns what it drew on; none calls ``plt.show()`` (the notebook cell does, last).
Arrays of any backend are accepted: they reach matplotlib through ``nnkit.to_numpy``.
Classes and lines use the Okabe–Ito palette, readable with the common colour-vision
deficiencies; classes also get distinct markers, so figures survive grey-scale printing.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.colors import LinearSegmentedColormap, ListedColormap
from matplotlib.ticker import MaxNLocator

from . import backend
from .train import History, Model, _outputs, predict

__all__ = ["PALETTE", "MARKERS", "plot_history", "plot_decision_boundary", "plot_confusion_matrix",
           "draw_network", "plot_digits"]

# Okabe & Ito (2008): blue, orange, bluish green, reddish purple, sky blue, vermillion, yellow, black.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    """``ax`` itself, or the Axes of a new figure of ``figsize`` inches."""
    return ax if ax is not None else plt.subplots(figsize=figsize, layout="constrained")[1]


def plot_history(history: History, ax: Any = None) -> Any:
    """Loss (and, when recorded, accuracy) per epoch, training and validation; returns the Figure.

    ax: None for a new figure with one panel per quantity, one Axes (loss only), or a
        pair of Axes (loss, accuracy).
    """
    panels = [(name, title) for name, title in (("loss", "Loss"), ("accuracy", "Accuracy"))
              if name in history.keys()]
    if ax is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 3.6), squeeze=False,
                                 layout="constrained")
        axes = list(axes[0])
    else:
        axes = list(ax) if isinstance(ax, (list, tuple)) or hasattr(ax, "ravel") else [ax]
        fig = axes[0].figure
    epochs = range(1, len(history) + 1)
    for axis, (name, title) in zip(axes, panels, strict=False):
        axis.plot(epochs, history[name], color=PALETTE[0], marker="o", markersize=3, label="training")
        if f"val_{name}" in history.keys():
            axis.plot(epochs, history[f"val_{name}"], color=PALETTE[1], marker="s", markersize=3,
                      linestyle="--", label="validation")
            axis.legend()
        axis.set(title=f"{title} per epoch", xlabel="epoch",
                 ylabel=f"mean {name}" if name == "loss" else name)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def plot_decision_boundary(model: Model, X: Any, y: Any, ax: Any = None, resolution: int = 200,
                           title: str = "Decision boundary", threshold: float = 0.0,
                           probability: bool = False, equal_aspect: bool = True,
                           legend_loc: str = "best") -> Any:
    """Colour the plane by the class ``model`` predicts, and scatter the data on top; returns the Axes.

    model: a Module or a function mapping points (M, 2) to scores (M, K), or to one binary
           logit per point, (M,) or (M, 1) (class 1 above ``threshold``).
    X: (N, 2) points; y: (N,) integer labels (host or backend arrays).
    resolution: grid points per axis (resolution² forward passes, batched).
    probability: for a binary model, shade by σ(logit), the probability of class 1, from blue (0)
           through white (0.5) to orange (1), with the boundary drawn as a line.
    equal_aspect: one unit the same length on both axes (False: each axis its own scale).
    """
    hx = backend.host_xp()
    X, y = backend.to_numpy(X), backend.to_numpy(y)
    pad = 0.1 * (hx.max(X, axis=0) - hx.min(X, axis=0))
    lo, hi = hx.min(X, axis=0) - pad, hx.max(X, axis=0) + pad
    g1, g2 = hx.meshgrid(hx.linspace(lo[0], hi[0], resolution), hx.linspace(lo[1], hi[1], resolution))
    grid = hx.stack([hx.reshape(g1, (-1,)), hx.reshape(g2, (-1,))], axis=1)
    regions = hx.reshape(backend.to_numpy(predict(model, grid, threshold=threshold)), g1.shape)
    n_classes = int(max(hx.max(y), hx.max(regions))) + 1
    colours = [PALETTE[k % len(PALETTE)] for k in range(n_classes)]
    ax = _axes(ax, (5.0, 4.4))
    if probability:
        logits = hx.reshape(backend.to_numpy(_outputs(model, grid, batch_size=grid.shape[0])), g1.shape)
        prob = 1.0 / (1.0 + hx.exp(-hx.clip(logits, -30.0, 30.0)))
        ax.imshow(prob, extent=(lo[0], hi[0], lo[1], hi[1]), origin="lower", aspect="auto", vmin=0.0,
                  vmax=1.0,
                  cmap=LinearSegmentedColormap.from_list("p", [PALETTE[0], "white", PALETTE[1]]), alpha=0.5)
        ax.contour(g1, g2, regions, levels=[0.5], colors="black", linewidths=1.2)
    else:
        ax.contourf(g1, g2, regions, levels=hx.arange(n_classes + 1) - 0.5, cmap=ListedColormap(colours),
                    alpha=0.3)
    for k in range(n_classes):
        points = X[y == k]
        if len(points):
            ax.scatter(points[:, 0], points[:, 1], s=18, color=colours[k], marker=MARKERS[k % len(MARKERS)],
                       edgecolors="white", linewidths=0.4, label=f"class {k}")
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$", xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]),
           aspect="equal" if equal_aspect else "auto")
    ax.legend(loc=legend_loc, fontsize="small", framealpha=0.8)
    return ax


def plot_confusion_matrix(cm: Any, labels: list[str] | None = None, ax: Any = None,
                          title: str = "Confusion matrix") -> Any:
    """Counts of true (rows) against predicted (columns) classes as an annotated heat map; returns the Axes.

    cm: (K, K) counts, e.g. from :func:`nnkit.confusion_matrix`. labels: K class names
    (default 0 .. K-1).
    """
    cm = backend.to_numpy(cm)
    k = cm.shape[0]
    labels = [str(i) for i in range(k)] if labels is None else list(labels)
    ax = _axes(ax, (5.6, 4.8))
    image = ax.imshow(cm, cmap="viridis")
    ax.figure.colorbar(image, ax=ax, label="examples")
    middle = (cm.max() + cm.min()) / 2
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{cm[i, j]:g}", ha="center", va="center", fontsize="small",
                    color="black" if cm[i, j] > middle else "white")
    ax.set(title=title, xlabel="predicted class", ylabel="true class",
           xticks=range(k), yticks=range(k), xticklabels=labels, yticklabels=labels)
    ax.grid(False)
    return ax


def _node_heights(size: int, max_nodes: int) -> tuple[list[float], float | None]:
    """Heights of the nodes drawn for a layer of ``size`` units (centred on 0), and of its "⋮" (or None).

    A layer larger than ``max_nodes`` shows its first max_nodes − 2 nodes, a "⋮", and its last node.
    """
    slots = min(size, max_nodes)
    heights = [(slots - 1) / 2 - i for i in range(slots)]
    if size <= max_nodes:
        return heights, None
    return heights[:-2] + heights[-1:], heights[-2]


def draw_network(layer_sizes: list[int], ax: Any = None, labels: list[str] | None = None,
                 max_nodes: int = 10, title: str | None = None, weights: list[Any] | None = None) -> Any:
    """Draw a fully connected network: each layer a column of nodes, every pair of neighbours joined.

    layer_sizes: units per layer, input first, e.g. [3, 4, 1].
    labels:      a name per layer (default "input", "hidden 1", ..., "output"), shown with its size.
    max_nodes:   a larger layer shows its first nodes, a "⋮" and its last node.
    weights:     optionally the weight matrices, W of shape (D_in, D_out) per layer (no layer larger
                 than max_nodes): each edge is then drawn in blue (positive) or vermillion (negative),
                 as wide as its |weight|, and labelled with its value.
    Returns the Axes.
    """
    if len(layer_sizes) < 2:
        raise ValueError(f"draw_network needs at least an input and an output layer, got {layer_sizes}.")
    depth = len(layer_sizes)
    if labels is None:
        labels = ["input", *(f"hidden {i}" for i in range(1, depth - 1)), "output"]
    layout = [_node_heights(size, max_nodes) for size in layer_sizes]
    half_height = min(max(layer_sizes), max_nodes) / 2
    ax = _axes(ax, (6.4, 4.0))
    if weights is not None:
        weights = [backend.to_numpy(W) for W in weights]
        shapes = list(zip(layer_sizes[:-1], layer_sizes[1:], strict=True))
        if [W.shape for W in weights] != shapes or max(layer_sizes) > max_nodes:
            raise ValueError(f"draw_network: weights must have shapes {shapes} (D_in, D_out) for layer_sizes "
                             f"{layer_sizes}, each layer at most max_nodes = {max_nodes}; got "
                             f"{[W.shape for W in weights]}.")
        largest = max(float(abs(W).max()) for W in weights) or 1.0
    for x in range(depth - 1):
        for i, a in enumerate(layout[x][0]):
            for j, b in enumerate(layout[x + 1][0]):
                if weights is None:
                    ax.plot([x, x + 1], [a, b], color="0.6", linewidth=0.6, zorder=1)
                    continue
                w = float(weights[x][i, j])
                ax.plot([x, x + 1], [a, b], color=PALETTE[0] if w > 0 else PALETTE[5],
                        linewidth=0.4 + 3.0 * abs(w) / largest, alpha=0.75, zorder=1)
                t = 0.25 + 0.5 * j / max(1, len(layout[x + 1][0]) - 1)   # spread one node's edge labels
                ax.text(x + t, a + t * (b - a), f"{w:g}", fontsize=8, ha="center", va="center", zorder=3,
                        bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
    for x, ((heights, gap), label, size) in enumerate(zip(layout, labels, layer_sizes, strict=True)):
        colour = PALETTE[4] if x == 0 else PALETTE[1] if x == depth - 1 else PALETTE[2]
        ax.scatter([x] * len(heights), heights, s=380, color=colour, edgecolors="black", linewidths=0.8,
                   zorder=2)
        if gap is not None:
            ax.text(x, gap, "⋮", ha="center", va="center", fontsize=16, zorder=3)
        ax.text(x, -half_height - 0.2, f"{label}\n({size})", ha="center", va="top")
    ax.set(title=title or f"A {'–'.join(map(str, layer_sizes))} network", xlim=(-0.5, depth - 0.5),
           ylim=(-half_height - 1.4, half_height + 0.1))
    ax.axis("off")
    return ax


def plot_digits(images: Any, labels: Any = None, predictions: Any = None, ncols: int = 10,
                title: str = "Digits") -> Any:
    """A grid of small grey-scale images, each titled with its label and/or prediction; returns the Figure.

    images: (N, 64), (N, 8, 8) or (N, 1, 8, 8) (any square size).
    labels, predictions: optional (N,) integers; with both, a wrong prediction reads
    "pred 5 ✗" in vermillion, a right one "pred 3" in blue.
    """
    images = backend.to_numpy(images)
    n = images.shape[0]
    side = math.isqrt(images.size // n)
    images = images.reshape(n, side, side)
    labels = None if labels is None else backend.to_numpy(labels)
    predictions = None if predictions is None else backend.to_numpy(predictions)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    title_lines = (labels is not None) + (predictions is not None)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.1 * ncols, (1.0 + 0.25 * title_lines) * nrows + 0.4),
                             squeeze=False, layout="constrained")
    for i, axis in enumerate(axes.flat):
        axis.axis("off")
        if i >= n:
            continue
        axis.imshow(images[i], cmap="gray_r")
        words, colour = [], "black"
        if labels is not None:
            words.append(f"label {labels[i]}")
        if predictions is not None:
            wrong = labels is not None and predictions[i] != labels[i]
            words.append(f"pred {predictions[i]}" + (" ✗" if wrong else ""))
            colour = PALETTE[5] if wrong else PALETTE[0]
        axis.set_title("\n".join(words), fontsize="small", color=colour)
    fig.suptitle(title)
    return fig


# ----------------------------------------------------------------------------- chapter 5: backprop

__all__ += ["plot_computation_graph"]


def plot_computation_graph(root: Any, ax: Any = None, title: str = "Computation graph: forward values and "
                           "gradients", show_local_grads: bool = True) -> Any:
    """Draw the graph of a :class:`nnkit.scalar.Value` from its inputs (left) to ``root`` (right).

    Each node shows its name or operation, its value (``data``) and, once ``root.backward()``
    has run, its gradient ``d root / d node`` (``grad``). Each edge is labelled with the local
    derivative d(child)/d(parent) that backpropagation multiplies along it. Constants are grey.
    Returns the Axes.
    """
    order = root.topological_order()
    steps = {id(root): 0}                       # longest distance from the root
    for node in reversed(order):
        for parent in node.parents:
            steps[id(parent)] = max(steps.get(id(parent), 0), steps[id(node)] + 1)
    depth = max(steps.values())
    ys: dict[int, float] = {}
    slots = iter(range(len(order)))

    def place(node: Any) -> float:              # leaves take the next slot, inner nodes sit between parents
        if id(node) in ys:
            return ys[id(node)]
        ys[id(node)] = (float(next(slots)) if not node.parents
                        else sum(place(p) for p in node.parents) / len(node.parents))
        return ys[id(node)]

    place(root)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.4, 1.75 * (depth + 1)), 1.0 + 0.75 * max(ys.values()) + 1.2))
    pos = {id(n): (1.4 * (depth - steps[id(n)]), -ys[id(n)]) for n in order}
    boxes = {}
    for node in order:
        x, y = pos[id(node)]
        constant = _is_constant(node)
        name = node.label or node.op or f"{node.data:g}"
        if node.label and node.op:
            name = f"{node.label} ({node.op})"
        text = name if constant else f"{name}\n{node.data:.3g}\ngrad {node.grad:.3g}"
        boxes[id(node)] = ax.text(x, y, text, ha="center", va="center", fontsize=8 if constant else 9,
                                  bbox={"boxstyle": "round,pad=0.35", "ec": "0.5",
                                        "fc": "0.93" if constant else "#cce3f2" if not node.parents
                                        else "#fbe3b3"})
    for node in order:
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            ax.annotate("", xy=(0.5, 0.5), xycoords=boxes[id(node)], xytext=(0.5, 0.5),
                        textcoords=boxes[id(parent)],
                        arrowprops={"arrowstyle": "->", "color": "0.45", "lw": 1.2,
                                    "patchA": boxes[id(parent)].get_bbox_patch(),
                                    "patchB": boxes[id(node)].get_bbox_patch()})
            if show_local_grads and not _is_constant(parent):
                (x0, y0), (x1, y1) = pos[id(parent)], pos[id(node)]
                ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.1, f"{local:.3g}", ha="center", va="bottom",
                        fontsize=8, color=PALETTE[5])
    ax.set_xlim(-0.7, 1.4 * depth + 0.7)
    ax.set_ylim(-max(ys.values()) - 0.7, 0.7)
    ax.axis("off")
    ax.set_title(title)
    return ax


def _is_constant(node: Any) -> bool:
    """A leaf with no label: a number written into the expression, such as the 0.5 of ½(y - ŷ)²."""
    return not node.parents and not node.label


# ----------------------------------------------------------------------------- chapter 4: training

__all__ += ["plot_region", "draw_unit_lines"]


def plot_region(model: Model, ax: Any = None, lim: float = 2.0, resolution: int = 241,
                title: str = "Where the network fires", first_layer: Any = None) -> Any:
    """Shade the part of the square [-lim, lim]² where a one-output network says "yes"; returns the Axes.

    model: a Module or function mapping points (M, 2) to one output per point, (M,) or (M, 1),
           in [0, 1] (a threshold or sigmoid unit): the region is where it exceeds 0.5.
    first_layer: optionally a Linear(2, H) (or a pair (W (2, H), b (H,))) whose H unit lines
           are drawn dashed with :func:`draw_unit_lines`.
    """
    hx = backend.host_xp()
    ticks = hx.linspace(-lim, lim, resolution)
    g1, g2 = hx.meshgrid(ticks, ticks)
    grid = hx.stack([hx.reshape(g1, (-1,)), hx.reshape(g2, (-1,))], axis=1)
    fires = predict(model, grid, batch_size=grid.shape[0], threshold=0.5)
    fires = hx.reshape(backend.to_numpy(fires), g1.shape)
    ax = _axes(ax, (4.0, 4.0))
    ax.contourf(g1, g2, fires, levels=[-0.5, 0.5, 1.5], colors=["white", PALETTE[4]], alpha=0.8)
    ax.contour(g1, g2, fires, levels=[0.5], colors=[PALETTE[0]], linewidths=1.5)
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$", xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
    if first_layer is not None:
        draw_unit_lines(ax, first_layer)
    return ax


def draw_unit_lines(ax: Any, layer: Any, colour: str = "0.3") -> Any:
    """Draw, dashed, the line x₁·W[0, j] + x₂·W[1, j] + b[j] = 0 of every unit j of a 2-input layer.

    layer: a Linear(2, H), or a pair (W, b) with W (2, H) and b (H,) (arrays of any backend).
    Each line is where unit j's input changes sign: a threshold unit fires on one side of it.
    The lines are clipped to the Axes' current limits; returns the Axes.
    """
    W, b = (layer.W.data, layer.b.data) if hasattr(layer, "W") else layer
    W, b = backend.to_numpy(W), backend.to_numpy(b)
    (x_lo, x_hi), (y_lo, y_hi) = ax.get_xlim(), ax.get_ylim()
    for j in range(W.shape[1]):
        w1, w2, bias = float(W[0, j]), float(W[1, j]), float(b[j])
        if abs(w2) >= abs(w1):   # closer to horizontal: solve for x₂ at the two ends of the x₁ range
            xs, ys = [x_lo, x_hi], [-(bias + w1 * x_lo) / w2, -(bias + w1 * x_hi) / w2]
        else:                    # closer to vertical: solve for x₁ at the two ends of the x₂ range
            xs, ys = [-(bias + w2 * y_lo) / w1, -(bias + w2 * y_hi) / w1], [y_lo, y_hi]
        ax.plot(xs, ys, color=colour, linestyle="--", linewidth=1.0,
                label="unit lines $x \\cdot w_j + b_j = 0$" if j == 0 else None)
    ax.set(xlim=(x_lo, x_hi), ylim=(y_lo, y_hi))
    return ax


# ----------------------------------------------------------------------------- chapter 2: forward passes

__all__ += ["plot_forward_trace"]


def plot_forward_trace(pre_activations: list[Any], probabilities: Any, title: str = "A forward pass, layer "
                       "by layer", figsize: tuple[float, float] = (11.0, 3.4)) -> Any:
    """Bar charts of one example's pass through a ReLU network: each hidden layer, then the softmax.

    pre_activations: one (K_l,) array per hidden layer (before ReLU), any backend. Bars that
                     ReLU passes are solid; those it sets to zero (≤ 0) are hatched.
    probabilities:   (K,) softmax output, drawn last with its values.
    Returns the Figure.
    """
    layers = [backend.to_numpy(a).reshape(-1) for a in pre_activations]
    p = backend.to_numpy(probabilities).reshape(-1)
    fig, axes = plt.subplots(1, len(layers) + 1, figsize=figsize)
    for l, (ax, z) in enumerate(zip(axes, layers, strict=False), start=1):
        units = list(range(1, len(z) + 1))
        on = [float(v) > 0 for v in z]
        ax.bar(units, z, color=[PALETTE[0] if o else "white" for o in on], edgecolor=PALETTE[0],
               hatch=[None if o else "//" for o in on], linewidth=1.0)
        for u, v in zip(units, z, strict=True):
            ax.text(u, float(v), f"{float(v):g}", ha="center", va="bottom" if v > 0 else "top", fontsize=9)
        ax.axhline(0, color="0.3", linewidth=0.8)
        low, high = min(0.0, float(z.min())), max(0.0, float(z.max()))
        ax.set(title=f"layer {l}: pre-activation", xlabel="unit", xticks=units,
               ylim=(low - 0.15 * (high - low) - 1, high + 0.15 * (high - low) + 1))
    axes[0].set_ylabel("value (hatched: zeroed by ReLU)")
    ax = axes[-1]
    classes = list(range(1, len(p) + 1))
    ax.bar(classes, p, color=PALETTE[1], edgecolor="k", linewidth=0.5)
    for k, v in zip(classes, p, strict=True):
        ax.text(k, float(v) + 0.02, f"{float(v):.4f}", ha="center", va="bottom", fontsize=9)
    ax.set(title="output: softmax", xlabel="class", ylabel="probability", xticks=classes, ylim=(0, 1.1))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- chapter 6: activations

__all__ += ["ACTIVATION_LABELS", "plot_activation", "plot_activation_grid"]

# Name and formula of each activation of nnkit.functional.ACTIVATIONS, for titles.
ACTIVATION_LABELS = {
    "identity": ("linear (identity)", "$f(x) = x$"),
    "step": ("threshold (step)", "$f(x) = 1$ if $x > 0$, else $0$"),
    "sigmoid": ("sigmoid", r"$\sigma(x) = 1 / (1 + e^{-x})$"),
    "tanh": ("tanh", r"$\tanh(x) = 2\sigma(2x) - 1$"),
    "hard_tanh": ("hard tanh", r"$\max(-1, \min(1, x))$"),
    "softsign": ("softsign", r"$x / (1 + |x|)$"),
    "relu": ("ReLU", r"$\max(0, x)$"),
    "leaky_relu": ("leaky ReLU", r"$x$ if $x > 0$, else $\alpha x$"),
    "elu": ("ELU", r"$x$ if $x > 0$, else $\alpha (e^x - 1)$"),
    "softplus": ("softplus", r"$\log(1 + e^x)$"),
    "gelu": ("GELU", r"$x\,\Phi(x)$ (tanh form)"),
    "silu": ("SiLU (swish)", r"$x\,\sigma(x)$"),
    "gaussian": ("Gaussian (radial basis)", r"$e^{-x^2}$"),
}


def _activation(name: str) -> Any:
    """The Activation called ``name`` in nnkit.functional.ACTIVATIONS, or an error listing the names."""
    from .functional import ACTIVATIONS

    if name not in ACTIVATIONS:
        raise KeyError(f"no activation called {name!r}; nnkit.functional.ACTIVATIONS has "
                       f"{sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[name]


def plot_activation(name: str, ax: Any = None, lim: float = 4.0, legend: bool = True,
                    title: str | None = None, **params: float) -> Any:
    """Draw an activation f (solid) and its derivative f' (dashed) on [-lim, lim]; returns the Axes.

    name:   a key of ``nnkit.functional.ACTIVATIONS`` ("relu", "tanh", ...).
    params: the activation's parameters, e.g. ``alpha=0.1`` for "leaky_relu" or "elu".
    The title is the activation's name and formula unless ``title`` replaces it.
    """
    act = _activation(name)
    hx = backend.host_xp()
    x = hx.linspace(-lim, lim, 801)          # includes x = 0, where step, ReLU and hard tanh have a kink
    ax = _axes(ax, (4.0, 3.2))
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.axvline(0, color="0.6", linewidth=0.8)
    ax.plot(x, act(x, **params), color=PALETTE[0], linewidth=2.0, label="$f(x)$")
    ax.plot(x, act.derivative(x, **params), color=PALETTE[1], linewidth=1.8, linestyle="--",
            label="$f'(x)$")
    label, formula = ACTIVATION_LABELS.get(name, (name, ""))
    if params:
        label += " (" + ", ".join(f"{'α' if k == 'alpha' else k} = {v:g}" for k, v in params.items()) + ")"
    ax.set(xlim=(-lim, lim), xlabel="pre-activation $x$", title=title or f"{label}\n{formula}")
    ax.title.set_fontsize(10)
    if legend:
        ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    return ax


def plot_activation_grid(names: list[str] | None = None, ncols: int = 4, lim: float = 4.0,
                         params: dict[str, dict[str, float]] | None = None,
                         title: str = "Activation functions f (solid) and their derivatives f' (dashed)",
                         ) -> Any:
    """One panel per activation, each with f and f' (see :func:`plot_activation`); returns the Figure.

    names:  keys of ``nnkit.functional.ACTIVATIONS`` (default: all, in registry order).
    params: per-activation parameters, e.g. {"leaky_relu": {"alpha": 0.1}}.
    A spare panel at the end holds the legend.
    """
    from .functional import ACTIVATIONS

    names = list(ACTIVATIONS) if names is None else list(names)
    params = params or {}
    nrows = math.ceil((len(names) + 1) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.6 * nrows), sharex=True, squeeze=False,
                             layout="constrained")
    for ax, name in zip(axes.flat, names, strict=False):
        plot_activation(name, ax=ax, lim=lim, legend=False, **params.get(name, {}))
        ax.set_xlabel("")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    spare = axes.flat[len(names)]
    handles, labels = axes.flat[0].get_legend_handles_labels()
    spare.legend(handles, ["activation $f(x)$", "derivative $f'(x)$"], loc="center", fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel("pre-activation $x$")
    fig.suptitle(title)
    return fig


# ----------------------------------------------------------------------------- chapter 7: loss landscapes

__all__ += ["random_direction", "loss_landscape", "plot_loss_landscape"]


def random_direction(model: Any, seed: int = 0) -> list[Any]:
    """A random direction in weight space, scaled unit by unit like the model's weights.

    One host array per parameter of ``model`` (in ``model.parameters()`` order), drawn from
    N(0, 1) with a generator of its own (``seed``), then *filter-normalised* (Li et al., 2018,
    "Visualizing the loss landscape of neural nets"): each unit's incoming weights, a column
    of a Linear weight (D, K) or a filter W[f] of a kernel (F, C, kh, kw), are rescaled to the
    length of that unit's trained weights. A step of 1 along the direction then changes every
    unit by about as much as its weights are long, however large or small they are. Biases
    (1-D parameters) get a zero direction.
    """
    generator, hx = backend.rng(seed), backend.host_xp()
    direction = []
    for p in model.parameters():
        w = backend.to_numpy(p.data)
        if w.ndim < 2:
            direction.append(hx.zeros_like(w))
            continue
        d = generator.standard_normal(w.shape)
        axes = (0,) if w.ndim == 2 else tuple(range(1, w.ndim))   # a column of W, or a filter W[f]
        direction.append(d * _lengths(w, axes) / (_lengths(d, axes) + 1e-12))
    return direction


def _lengths(a: Any, axes: tuple[int, ...]) -> Any:
    """The Euclidean length of ``a`` over ``axes``, keeping those axes (size 1) for broadcasting."""
    hx = backend.host_xp()
    return hx.sqrt(hx.sum(a * a, axis=axes, keepdims=True))


def loss_landscape(model: Any, loss_fn: Any, X: Any, y: Any, span: float = 1.0, steps: int = 25,
                   seed: int = 0) -> tuple[Any, Any, Any]:
    """The loss on a 2-D slice of weight space through the model's current (trained) weights θ*.

    Evaluates J(θ* + α δ + β ν) on a steps × steps grid of α, β in [−span, span], where δ and
    ν are two :func:`random_direction` s (seeds ``seed`` and ``seed + 1``). Each point costs one
    forward pass over (X, y) in eval mode. The model's weights are restored afterwards.
    X: (N, ...) inputs, y: (N,) labels or targets (host or backend arrays).
    Returns host arrays alphas (steps,), betas (steps,) and Z (steps, steps) with Z[i, j] the
    loss at (α_j, β_i), ready for ``ax.contour(alphas, betas, Z)``.
    """
    from .train import evaluate

    hx = backend.host_xp()
    X, y = backend.asarray(X), backend.asarray(y)
    params = model.parameters()
    trained = [p.data for p in params]
    dtype = backend.dtype_name(trained[0].dtype)
    deltas = [backend.asarray(d, dtype=dtype) for d in random_direction(model, seed)]
    nus = [backend.asarray(d, dtype=dtype) for d in random_direction(model, seed + 1)]
    alphas = hx.linspace(-span, span, steps)
    Z = hx.zeros((steps, steps))
    try:
        for i, beta in enumerate(alphas):
            for j, alpha in enumerate(alphas):
                for p, w, d, n in zip(params, trained, deltas, nus, strict=True):
                    p.data = w + float(alpha) * d + float(beta) * n
                Z[i, j] = evaluate(model, loss_fn, X, y)[0]
    finally:
        for p, w in zip(params, trained, strict=True):
            p.data = w
    return alphas, hx.linspace(-span, span, steps), Z


def plot_loss_landscape(alphas: Any, betas: Any, Z: Any, ax: Any = None,
                        title: str = "Loss around the trained weights") -> Any:
    """Filled contours of a loss slice from :func:`loss_landscape` (log-spaced levels); returns the Axes.

    The trained weights sit at (0, 0), marked with a star; the colour bar gives the loss.
    """
    from matplotlib.colors import LogNorm

    hx = backend.host_xp()
    Z = backend.to_numpy(Z)
    ax = _axes(ax, (5.4, 4.4))
    low, high = float(hx.min(Z)), float(hx.max(Z))
    levels = hx.logspace(math.log10(low), math.log10(high), 16)
    filled = ax.contourf(alphas, betas, Z, levels=levels, norm=LogNorm(), cmap="viridis")
    ax.contour(alphas, betas, Z, levels=levels, colors="white", linewidths=0.4, alpha=0.6)
    ax.figure.colorbar(filled, ax=ax, label="loss (log scale)", format="%.2g")
    ax.plot(0, 0, marker="*", color="white", markeredgecolor="k", markersize=14, linestyle="none",
            label="trained weights θ*")
    ax.set(title=title, xlabel="α (along the random direction δ)", ylabel="β (along the random direction ν)",
           aspect="equal")
    ax.legend(loc="upper right", fontsize="small", framealpha=0.8)
    ax.grid(False)
    return ax


# ------------------------------------------------------------------------- chapters 10 and 11: comparisons

__all__ += ["plot_grouped_errorbars"]


def plot_grouped_errorbars(values: dict[str, dict[str, list[float]]], ax: Any = None, ylabel: str = "",
                           title: str = "", log: bool = False, percent: bool = False,
                           figsize: tuple[float, float] = (7.6, 3.8), series: list[str] | None = None) -> Any:
    """Repeated measurements as mean ± one sample standard deviation, one cluster per group; returns the Axes.

    values:  {group: {series: [v₁, v₂, ...]}}, e.g. {data set: {model: test accuracy per split}}.
             Groups sit side by side on the horizontal axis; within a group every series gets
             its own colour, marker and small offset, the same in every group, and a legend entry.
             The faint dots behind each marker are the single measurements.
    log:     a logarithmic vertical axis (for times).
    percent: label the vertical axis in per cent (values are fractions in [0, 1]).
    series:  every series name in a fixed order (default: the order they first appear); a series
             takes its colour and marker from its place here, so that a figure of some of the
             series draws each one as a figure of all of them does.
    """
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    hx = backend.host_xp()
    groups = list(values)
    present = list(dict.fromkeys(name for group in groups for name in values[group]))
    order = list(series) if series is not None else present
    shown = [name for name in order if name in present]
    width = 0.7 / max(len(shown), 1)
    ax = _axes(ax, figsize)
    for position, name in enumerate(shown):
        offset = (position - (len(shown) - 1) / 2) * width
        s = order.index(name)
        colour, marker = PALETTE[s % len(PALETTE)], MARKERS[s % len(MARKERS)]
        xs, means, stds = [], [], []
        for g, group in enumerate(groups):
            if name not in values[group]:
                continue
            v = hx.asarray(values[group][name], dtype=hx.float64)
            xs.append(g + offset)
            means.append(float(hx.mean(v)))
            stds.append(float(hx.std(v, correction=1)) if v.shape[0] > 1 else 0.0)
            ax.scatter([g + offset] * v.shape[0], v, s=10, color=colour, alpha=0.3, linewidths=0)
        ax.errorbar(xs, means, yerr=stds, fmt=marker, color=colour, markersize=7, capsize=4,
                    elinewidth=1.5, label=name)
    ax.set_xticks(range(len(groups)), groups)
    ax.set(xlim=(-0.5, len(groups) - 0.5), ylabel=ylabel, title=title)
    if log:
        ax.set_yscale("log")

        def minor(v: float, _: Any) -> str:      # label 0.2, 0.3, 0.5 between the powers of ten
            leading = round(v / 10 ** math.floor(math.log10(v))) if v > 0 else 0
            return f"{v:g}" if leading in (2, 3, 5) else ""

        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))   # 0.1, not 10⁻¹
        ax.yaxis.set_minor_formatter(FuncFormatter(minor))
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.legend(fontsize="small", framealpha=0.9)
    return ax


# ----------------------------------------------------------------------------- chapter 8: convolution

__all__ += ["FILTER_CMAP", "draw_kernel", "plot_filters", "plot_feature_maps", "plot_top_k"]

# Weights and signed responses: purple negative, white zero, orange positive (readable with the
# common colour-vision deficiencies, unlike red-green maps).
FILTER_CMAP = "PuOr_r"


def _symmetric_limit(a: Any) -> float:
    """The largest |value| of a host array, or 1 for an all-zero one (a colour scale centred on 0)."""
    hx = backend.host_xp()
    return float(hx.max(hx.abs(a))) or 1.0


def draw_kernel(ax: Any, kernel: Any, annotate: bool = True) -> Any:
    """One 2-D kernel (kh, kw) as coloured cells, purple negative to orange positive, centred on 0.

    The colour scale runs to the kernel's largest |weight|; ``annotate`` writes each weight in
    its cell (white on the darkest cells). Returns ax.
    """
    w = backend.to_numpy(backend.asarray(kernel))
    limit = _symmetric_limit(w)
    ax.imshow(w, cmap=FILTER_CMAP, vmin=-limit, vmax=limit)
    if annotate:
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                value = float(w[i, j])
                ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=7,
                        color="white" if abs(value) > 0.6 * limit else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def plot_filters(W: Any, title: str = "Filters", max_filters: int = 16, annotate: bool = False) -> Any:
    """The filters of a convolution as small images, one column per filter; returns the Figure.

    W: (F, C, kh, kw) (a Conv2D's ``W.data``) or (F, kh, kw). Column f shows filter W[f], one row
    per input channel (at most 8 rows and ``max_filters`` columns). Colours run from purple
    (negative) through white (0) to orange (positive), scaled per filter so that every filter's
    pattern shows. ``annotate`` writes each weight in its cell (for small hand-set filters).
    """
    W = backend.to_numpy(W)
    if W.ndim == 3:
        W = W[:, None]
    F, C = min(W.shape[0], max_filters), min(W.shape[1], 8)
    fig, axes = plt.subplots(C, F, figsize=(max(1.05 * F, 2.6), 1.05 * C + 0.75), squeeze=False,
                             layout="constrained")
    for f in range(F):
        for c in range(C):
            ax = draw_kernel(axes[c, f], W[f, c], annotate=annotate)
            ax.images[0].set_clim(-_symmetric_limit(W[f]), _symmetric_limit(W[f]))   # one scale per filter
            if c == 0:
                ax.set_title(f"filter {f}", fontsize="small")
            if f == 0 and C > 1:
                ax.set_ylabel(f"channel {c}", fontsize="small")
    fig.suptitle(title)
    return fig


def plot_feature_maps(maps: Any, title: str = "Feature maps", ncols: int = 8, cmap: str = "viridis",
                      labels: list[str] | None = None, image: Any = None) -> Any:
    """The channels of one feature volume side by side, on one shared colour scale; returns the Figure.

    maps:  (C, H, W), or (1, C, H, W) for a batch of one (a layer's output for one image).
    image: optionally the input image, (H', W') or with leading axes of size 1, drawn in grey in
           the first panel (it does not count towards ``ncols``).
    One panel per channel, titled ``labels[c]`` or "map c"; a colour bar on the right gives the scale.
    """
    maps = backend.to_numpy(maps)
    if maps.ndim == 4:
        maps = maps[0]
    hx = backend.host_xp()
    C = maps.shape[0]
    ncols = min(ncols, C)
    nrows = math.ceil(C / ncols)
    extra = image is not None
    low, high = float(hx.min(maps)), float(hx.max(maps))
    fig, axes = plt.subplots(nrows, ncols + extra, figsize=(1.3 * (ncols + extra) + 0.8, 1.35 * nrows + 0.6),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if extra:
        picture = backend.to_numpy(image)
        axes[0, 0].imshow(picture.reshape(picture.shape[-2:]), cmap="gray_r")
        axes[0, 0].set_title("input", fontsize="small")
        for ax in axes[1:, 0]:
            ax.axis("off")
    panels = axes[:, extra:].flat
    for c, ax in enumerate(panels):
        if c >= C:
            ax.axis("off")
            continue
        shown = ax.imshow(maps[c], cmap=cmap, vmin=low, vmax=high if high > low else low + 1)
        ax.set_title(labels[c] if labels else f"map {c}", fontsize="small")
    fig.colorbar(shown, ax=axes[:, extra:], shrink=0.85, label="activation")
    fig.suptitle(title)
    return fig


def plot_top_k(images: Any, probabilities: Any, labels: Any = None, k: int = 3, ncols: int = 4,
               class_names: list[str] | None = None, title: str = "Top predictions") -> Any:
    """Each image beside a bar chart of its k most likely classes; returns the Figure.

    images:        (N, C, H, W), (N, H, W) or (N, H·W) with square images (grey; the first channel).
    probabilities: (N, K) class probabilities (softmax of the network's scores), rows summing to 1.
    labels:        optional (N,) true classes: the true class's bar is blue, the others grey, and
                   an image whose top guess is wrong gets a vermillion title with ✗.
    """
    hx = backend.host_xp()
    P = backend.to_numpy(probabilities)
    images = backend.to_numpy(images)
    n = images.shape[0]
    if images.ndim == 4:
        images = images[:, 0]
    elif images.ndim == 2:
        side = math.isqrt(images.shape[1])
        images = images.reshape(n, side, side)
    labels = None if labels is None else backend.to_numpy(labels)
    names = class_names or [str(j) for j in range(P.shape[1])]
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig = plt.figure(figsize=(2.9 * ncols, 1.45 * nrows + 0.5), layout="constrained")
    grid = fig.add_gridspec(nrows, 2 * ncols, width_ratios=[1, 1.5] * ncols)
    for i in range(n):
        row, col = divmod(i, ncols)
        ax_img, ax_bar = fig.add_subplot(grid[row, 2 * col]), fig.add_subplot(grid[row, 2 * col + 1])
        ax_img.imshow(images[i], cmap="gray_r")
        ax_img.axis("off")
        top = [int(j) for j in hx.argsort(-P[i], stable=True)[:k]]
        truth = None if labels is None else int(labels[i])
        colours = [PALETTE[0] if j == truth else "0.65" for j in top]
        ax_bar.barh(range(k), [float(P[i, j]) for j in top], color=colours)
        for rank, j in enumerate(top):
            ax_bar.text(min(float(P[i, j]), 0.78) + 0.02, rank, f"{float(P[i, j]):.2f}", va="center",
                        fontsize=7)
        ax_bar.set_yticks(range(k), [names[j] for j in top])
        ax_bar.set(xlim=(0, 1), ylim=(k - 0.5, -0.5))
        ax_bar.tick_params(axis="x", labelsize=7)
        ax_bar.tick_params(axis="y", labelsize=9)
        if truth is not None:
            wrong = top[0] != truth
            ax_img.set_title(f"label {names[truth]}" + (" ✗" if wrong else ""), fontsize="small",
                             color=PALETTE[5] if wrong else "black")
        if row == nrows - 1:
            ax_bar.set_xlabel("probability", fontsize="small")
    fig.suptitle(title)
    return fig


# ----------------------------------------------------------------------------- chapter 9: recurrent networks

__all__ += ["SEQUENCE_SHAPES", "draw_sequence_shapes", "draw_unrolled_rnn"]

# The five ways a network can map sequences (chapter 9): (title, steps, input steps, output steps, task).
SEQUENCE_SHAPES = (
    ("one to one", 1, (0,), (0,), "image → class\n(the digits, chapter 4)"),
    ("one to many", 4, (0,), (0, 1, 2, 3), "image → caption\n(“a man riding a horse”)"),
    ("many to one", 4, (0, 1, 2, 3), (3,), "sequence → one label\n(review → sentiment)"),
    ("many to many\n(encoder-decoder)", 6, (0, 1, 2), (3, 4, 5), "sequence → another sequence\n"
     "(English → French)"),
    ("many to many\n(aligned)", 4, (0, 1, 2, 3), (0, 1, 2, 3), "one label per step\n(next character)"),
)

# Inputs, hidden states and outputs keep these colours in every chapter 9 diagram.
_SEQ_COLOURS = {"input": PALETTE[4], "hidden": PALETTE[2], "output": PALETTE[1]}
_START_COLOUR = "#FFFFFF"  # the initial state h_0


def _seq_box(ax: Any, x: float, y: float, kind: str, label: str = "", size: float = 0.56) -> None:
    """One square node of a sequence diagram, centred at (x, y), coloured by ``kind``."""
    from matplotlib.patches import FancyBboxPatch

    colour = _SEQ_COLOURS.get(kind, _START_COLOUR)
    ax.add_patch(FancyBboxPatch((x - size / 2, y - size / 2), size, size, boxstyle="round,pad=0.02",
                                facecolor=colour, edgecolor="k", linewidth=0.8))
    if label:
        ax.text(x, y, label, ha="center", va="center", fontsize=10)


def _seq_arrow(ax: Any, start: tuple[float, float], end: tuple[float, float], label: str = "",
               offset: tuple[float, float] = (0.0, 0.0), **style: Any) -> None:
    """An arrow between two nodes (shortened to the box edges), with an optional label beside it."""
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "color": "0.2", "lw": 1.0, "shrinkA": 13, "shrinkB": 13,
                            **style})
    if label:
        ax.text((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1], label,
                ha="center", va="center", fontsize=9, color="0.25")


def draw_sequence_shapes(axes: Any = None, shapes: tuple = SEQUENCE_SHAPES) -> Any:
    """Draw the sequence shapes side by side: inputs (blue, bottom), hidden states (green), outputs (orange).

    axes:   a sequence of len(shapes) Axes, or None for a new (15 × 3.6) figure.
    shapes: (title, steps, input steps, output steps, example task) per panel, as in
            :data:`SEQUENCE_SHAPES`. Time runs to the right; the arrows between hidden states
            are the recurrence (the same weights at every step). Returns the Axes.
    """
    if axes is None:
        widths = [max(steps, 2.6) for _, steps, *_ in shapes]
        _, axes = plt.subplots(1, len(shapes), figsize=(15.0, 3.6), width_ratios=widths)
        plt.subplots_adjust(left=0.01, right=0.99, top=0.88, bottom=0.1, wspace=0.08)
    for ax, (title, steps, inputs, outputs, task) in zip(axes, shapes, strict=True):
        for t in range(steps):
            _seq_box(ax, t, 1.0, "hidden")
            if t in inputs:
                _seq_box(ax, t, 0.0, "input")
                _seq_arrow(ax, (t, 0.0), (t, 1.0))
            if t in outputs:
                _seq_box(ax, t, 2.0, "output")
                _seq_arrow(ax, (t, 1.0), (t, 2.0))
            if t > 0:
                _seq_arrow(ax, (t - 1, 1.0), (t, 1.0))
        ax.set_title(title, fontsize=11)
        ax.text((steps - 1) / 2, -0.75, task, ha="center", va="top", fontsize=9)
        middle, half = (steps - 1) / 2, max(steps, 2.6) / 2
        ax.set(xlim=(middle - half, middle + half), ylim=(-1.5, 2.45), aspect="equal")
        ax.axis("off")
    from matplotlib.patches import Patch

    axes[0].figure.legend(handles=[Patch(facecolor=c, edgecolor="k", label=f"{kind}")
                                   for kind, c in _SEQ_COLOURS.items()],
                          loc="lower center", ncols=3, fontsize=9, frameon=False)
    return axes


def draw_unrolled_rnn(ax: Any = None, steps: int = 4) -> Any:
    """The vanilla RNN folded (a cell with a loop) and unrolled over ``steps`` steps; returns ax.

    Each step reads x_t through Wx and the previous state h_{t−1} through Wh, and outputs h_t:
    unrolled, the RNN is a deep feed-forward network with the same weights in every layer.
    """
    ax = _axes(ax, (11.0, 3.0))
    _seq_box(ax, 0, 0.0, "input", "$x_t$")
    _seq_box(ax, 0, 1.2, "hidden", "$h_t$")
    _seq_arrow(ax, (0, 0.0), (0, 1.2), "$W_x$", offset=(0.28, 0.0))
    ax.annotate("", xy=(0.28, 1.36), xytext=(0.28, 1.04), arrowprops={
        "arrowstyle": "-|>", "color": "0.2", "lw": 1.0, "connectionstyle": "arc3,rad=1.6"})
    ax.text(0.8, 1.2, "$W_h$", ha="center", va="center", fontsize=9, color="0.25")
    ax.text(1.6, 0.6, "=", ha="center", va="center", fontsize=22)
    left = 4.0
    _seq_box(ax, left - 1.3, 1.2, "start", "$h_0$")
    for t in range(steps):
        x = left + 1.3 * t
        _seq_box(ax, x, 0.0, "input", f"$x_{t + 1}$")
        _seq_box(ax, x, 1.2, "hidden", f"$h_{t + 1}$")
        _seq_arrow(ax, (x, 0.0), (x, 1.2), "$W_x$", offset=(0.28, 0.0))
        _seq_arrow(ax, (x - 1.3, 1.2), (x, 1.2), "$W_h$", offset=(0.0, 0.22))
    ax.set(xlim=(-0.6, left + 1.3 * steps - 0.5), ylim=(-0.55, 1.85), aspect="equal")
    ax.set_title("A vanilla RNN, folded (left) and unrolled in time (right): the same $W_x$, $W_h$, $b$ "
                 "at every step", fontsize=10)
    ax.axis("off")
    return ax


__all__ += ["draw_lstm_cell"]


def draw_lstm_cell(ax: Any = None) -> Any:
    """One LSTM step as a diagram (chapter 9): the four gates, the cell-state line and the output; returns ax.

    h_{t−1} and x_t feed four layers (σ for the forget, input and output gates f, i, o; tanh for
    the candidate g). The cell state runs along the top, c_t = f ⊙ c_{t−1} + i ⊙ g, touched only
    by a product and a sum; the new state h_t = o ⊙ tanh(c_t) leaves at the bottom right.
    """
    ax = _axes(ax, (10.0, 5.2))
    ax.add_patch(plt.Rectangle((0.6, 0.3), 8.8, 5.2, fc="#F4F8FB", ec="0.5", lw=1, zorder=0))
    line = {"color": "0.2", "lw": 1.4}

    def arrow(start: tuple[float, float], end: tuple[float, float], colour: str = "0.2",
              lw: float = 1.4) -> None:
        ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": colour, "lw": lw,
                                                         "shrinkA": 0, "shrinkB": 0})

    def node(x: float, y: float, symbol: str) -> None:
        ax.add_patch(plt.Circle((x, y), 0.27, fc="white", ec="0.2", lw=1.2, zorder=3))
        ax.text(x, y, symbol, ha="center", va="center", fontsize=12, zorder=4)

    # the cell-state line along the top: × (forget) then + (write)
    arrow((0.0, 4.8), (2.23, 4.8), PALETTE[0], 2.6)
    arrow((2.77, 4.8), (4.73, 4.8), PALETTE[0], 2.6)
    arrow((5.27, 4.8), (10.0, 4.8), PALETTE[0], 2.6)
    node(2.5, 4.8, "×")
    node(5.0, 4.8, "+")
    ax.text(0.0, 5.05, "$c_{t-1}$", fontsize=12, color=PALETTE[0])
    ax.text(9.6, 5.05, "$c_t$", fontsize=12, color=PALETTE[0])
    # h_{t-1} and x_t join into one bus that feeds the four gate layers
    ax.plot([0.0, 7.2], [1.0, 1.0], **line)
    ax.text(0.0, 1.15, "$h_{t-1}$", fontsize=12)
    ax.plot([1.3, 1.3], [-0.3, 1.0], **line)
    ax.text(1.4, -0.3, "$x_t$", fontsize=12)
    gates = [(2.5, "σ", "$f_t$ forget"), (3.9, "σ", "$i_t$ input"), (5.0, "tanh", "$g_t$ candidate"),
             (6.6, "σ", "$o_t$ output")]
    for x, symbol, label in gates:
        arrow((x, 1.0), (x, 1.85))
        ax.add_patch(plt.Rectangle((x - 0.42, 1.85), 0.84, 0.6, fc=PALETTE[1], ec="0.2", lw=1, zorder=2))
        ax.text(x, 2.15, symbol, ha="center", va="center", fontsize=11, zorder=3)
        ax.text(x + 0.46, 1.45, label, fontsize=9, color="0.3")
    arrow((2.5, 2.45), (2.5, 4.53))                                # f_t ⊙ c_{t-1}
    node(4.45, 3.6, "×")                                           # i_t ⊙ g_t
    arrow((3.9, 2.45), (4.27, 3.4))
    arrow((5.0, 2.45), (4.63, 3.4))
    arrow((4.62, 3.82), (4.93, 4.53))
    # the output: h_t = o_t ⊙ tanh(c_t)
    ax.plot([8.0, 8.0], [4.8, 4.3], **line)
    ax.add_patch(plt.Rectangle((7.55, 3.7), 0.9, 0.6, fc="#FFFFFF", ec="0.2", lw=1, zorder=2))
    ax.text(8.0, 4.0, "tanh", ha="center", va="center", fontsize=10, zorder=3)
    node(8.0, 2.15, "×")
    arrow((8.0, 3.7), (8.0, 2.42))
    arrow((7.02, 2.15), (7.73, 2.15))
    ax.plot([8.0, 8.0], [1.88, 1.0], **line)
    arrow((8.0, 1.0), (10.0, 1.0), PALETTE[5], 2.2)
    ax.text(9.6, 1.15, "$h_t$", fontsize=12, color=PALETTE[5])
    ax.text(5.0, 5.75, "$c_t = f_t \\odot c_{t-1} + i_t \\odot g_t$          $h_t = o_t \\odot \\tanh(c_t)$",
            ha="center", fontsize=11)
    ax.set(xlim=(-0.2, 10.3), ylim=(-0.5, 6.2), aspect="equal")
    ax.set_title("One LSTM step: the cell state (top) is changed only by a product and a sum", fontsize=10)
    ax.axis("off")
    return ax


# ----------------------------------------------------------------------------- chapters 0-3: the basics

__all__ += ["plot_arrays", "draw_neuron", "plot_loss_contour", "plot_hidden_layer"]


def plot_arrays(arrays: dict[str, Any], title: str | None = None, cell: float = 0.55) -> Any:
    """Draw small 1-d and 2-d arrays side by side as grids of their values; returns the Figure.

    arrays: {caption: array}, each (n,) or (rows, cols), at most about 8 × 8 to stay readable.
            A 1-d array is drawn as one row, which is how NumPy broadcasts it against a matrix.
    cell:   the size of one cell in inches.
    """
    hx = backend.host_xp()
    shown = [(name, backend.to_numpy(a)) for name, a in arrays.items()]
    grids = [hx.reshape(a, (1, -1)) if a.ndim == 1 else a for _, a in shown]
    widths = [g.shape[1] for g in grids]
    rows = max(g.shape[0] for g in grids)
    size = (cell * (sum(widths) + 1.2 * len(grids)), cell * (rows + 2.4))
    fig, axes = plt.subplots(1, len(grids), figsize=size, gridspec_kw={"width_ratios": widths}, squeeze=False,
                             layout="constrained")
    for ax, (name, a), grid in zip(axes[0], shown, grids, strict=True):
        ax.imshow(hx.zeros(grid.shape), cmap=ListedColormap(["#F2F2F2"]), vmin=0, vmax=1)
        for (i, j), value in hx.ndenumerate(grid):
            ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=10)
        for edge in range(grid.shape[0] + 1):
            ax.axhline(edge - 0.5, color="0.35", linewidth=1.0)
        for edge in range(grid.shape[1] + 1):
            ax.axvline(edge - 0.5, color="0.35", linewidth=1.0)
        ax.grid(False)
        ax.set(xticks=[], yticks=[])
        ax.set_anchor("N")                     # every grid hangs from the top, rows aligned
        ax.set_title(f"{name}\nshape {a.shape}", fontsize=10)
    if title:
        fig.suptitle(title)
    return fig


def draw_neuron(ax: Any = None, n_inputs: int = 3) -> Any:
    """The diagram of one neuron: inputs x_j, weights w_j, bias b, the sum z, the activation f; returns ax."""
    ax = _axes(ax, (7.5, 3.4))
    heights = [1.2 * ((n_inputs - 1) / 2 - j) for j in range(n_inputs)]
    for j, height in enumerate(heights, start=1):
        ax.annotate("", xy=(3.0, 0), xytext=(0.3, height), arrowprops={"arrowstyle": "->", "color": "grey"})
        ax.add_patch(plt.Circle((0, height), 0.3, fc=PALETTE[4], ec="k", alpha=0.6))
        ax.text(0, height, f"$x_{j}$", ha="center", va="center", fontsize=13)
        ax.text(1.5, 0.55 * height + 0.12, f"$w_{j}$", fontsize=13, ha="center")
    ax.annotate("", xy=(3.3, 0.35), xytext=(3.3, 1.3), arrowprops={"arrowstyle": "->", "color": "grey"})
    ax.text(3.3, 1.45, "bias $b$", ha="center", fontsize=12)
    ax.add_patch(plt.Circle((3.6, 0), 0.6, fc=PALETTE[1], ec="k", alpha=0.7))
    ax.plot([3.6, 3.6], [-0.6, 0.6], color="k", lw=1)
    ax.text(3.3, 0, r"$\Sigma$", ha="center", va="center", fontsize=16)
    ax.text(3.9, 0, r"$f$", ha="center", va="center", fontsize=16)
    ax.annotate(r"$\hat y = f(z)$", xy=(6.0, 0), xytext=(4.25, 0), fontsize=13, va="center",
                arrowprops={"arrowstyle": "->", "color": "k"})
    ax.text(3.6, -1.0, r"affine step $z = \mathbf{w}^\top\mathbf{x} + b$, then activation $f$", ha="center")
    ax.set(xlim=(-0.5, 6.6), ylim=(-0.4 - 0.6 * n_inputs, 0.5 + 0.6 * n_inputs),
           title=f"One neuron with D = {n_inputs} inputs")
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def plot_loss_contour(loss: Any, path: Any, lim1: tuple[float, float], lim2: tuple[float, float],
                      ax: Any = None, labels: tuple[str, str] = ("$w_1$", "$w_2$"), resolution: int = 120,
                      title: str = "Loss surface and the gradient-descent path") -> Any:
    """Contour lines of a loss over two parameters, with an optimiser's path on top; returns ax.

    loss:  a function of two host arrays (the parameter grids, same shape) returning the loss on
           each grid point (vectorised).
    path:  (T, 2) the two parameters after each step, start first.
    lim1, lim2: the ranges drawn for the first and second parameter.
    """
    hx = backend.host_xp()
    g1, g2 = hx.meshgrid(hx.linspace(*lim1, resolution), hx.linspace(*lim2, resolution))
    surface = backend.to_numpy(loss(g1, g2))
    path = backend.to_numpy(path)
    ax = _axes(ax, (5.2, 4.4))
    levels = hx.quantile(surface, hx.linspace(0.0, 0.9, 14) ** 2)
    contours = ax.contour(g1, g2, surface, levels=hx.unique(levels), cmap="viridis", linewidths=1.0)
    ax.clabel(contours, fontsize=7, fmt="%.2f")
    ax.plot(path[:, 0], path[:, 1], ".-", color=PALETTE[5], markersize=3, linewidth=1.0,
            label="gradient descent")
    ax.plot(*path[0], "o", color="k", label="start")
    ax.plot(*path[-1], "*", color=PALETTE[5], markersize=14, markeredgecolor="k", label="end")
    ax.set(title=title, xlabel=labels[0], ylabel=labels[1], xlim=lim1, ylim=lim2)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    return ax


def plot_hidden_layer(W: Any, b: Any, lim: float = 2.0, resolution: int = 241) -> Any:
    """What a 2-input ReLU layer does to the plane: each unit's output, then the regions; returns the Figure.

    W: (2, H) weights and b: (H,) biases of the layer (arrays of any backend), H ≤ 6.
    One panel per unit shades relu(x·w_j + b_j) (white where the unit is off) with its line
    x·w_j + b_j = 0 and its weight vector w_j; the last panel colours the plane by which units are
    on: inside each region the layer, and any network on top of it, is one affine function.
    """
    hx = backend.host_xp()
    W, b = backend.to_numpy(W), backend.to_numpy(b)
    ticks = hx.linspace(-lim, lim, resolution)
    g1, g2 = hx.meshgrid(ticks, ticks)
    Z = g1[..., None] * W[0] + g2[..., None] * W[1] + b                       # (R, R, H) pre-activations
    units = W.shape[1]
    fig, axes = plt.subplots(1, units + 1, figsize=(3.1 * (units + 1), 3.3), layout="constrained")
    for j, ax in enumerate(axes[:-1]):
        shown = ax.imshow(hx.maximum(Z[..., j], 0.0), extent=(-lim, lim, -lim, lim), origin="lower",
                          cmap="Blues", vmin=0.0)
        draw_unit_lines(ax, (W[:, j:j + 1], b[j:j + 1]))
        ax.annotate("", xy=(W[0, j] / hx.hypot(*W[:, j]), W[1, j] / hx.hypot(*W[:, j])), xytext=(0, 0),
                    arrowprops={"arrowstyle": "->", "color": PALETTE[5], "lw": 2})
        ax.set(title=f"unit {j + 1}: relu($x \\cdot w_{j + 1} + b_{j + 1}$)", xlabel="$x_1$", ylabel="$x_2$")
        fig.colorbar(shown, ax=ax, shrink=0.8)
    on = (Z > 0).astype(int)
    pattern = (on * (2 ** hx.arange(units))).sum(axis=-1)                     # one integer per on/off pattern
    codes, region = hx.unique(pattern, return_inverse=True)
    colours = [PALETTE[k % len(PALETTE)] for k in range(len(codes))]
    axes[-1].imshow(region.reshape(pattern.shape), extent=(-lim, lim, -lim, lim), origin="lower",
                    cmap=ListedColormap(colours), alpha=0.45, interpolation="nearest")
    for code, colour in zip(codes, colours, strict=True):
        inside = pattern == code
        label = "".join(str(j + 1) for j in range(units) if code >> j & 1) or "none"
        axes[-1].text(float(g1[inside].mean()), float(g2[inside].mean()), label, ha="center", va="center",
                      fontsize=9, bbox={"boxstyle": "round", "fc": "white", "ec": colour, "alpha": 0.9})
    draw_unit_lines(axes[-1], (W, b))
    axes[-1].set(title=f"{len(codes)} regions, by the units on", xlabel="$x_1$", ylabel="$x_2$")
    for ax in axes:
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
    return fig


__all__ += ["plot_clipping_runs"]


def plot_clipping_runs(runs: dict[str, list[tuple[list[float], list[float], float]]],
                       threshold: float) -> Any:
    """Chapter 9's clipping experiment: one colour per setting, one thin line per seed; returns the Figure.

    runs: {setting name: [(losses, gradient norms, accuracy) of each seed]}, each tuple as returned
    by :func:`nnkit.worked.clipping_run` (two lists of one number per update, and a float).
    Left: the training loss per update, with log 4 (guessing among 4 symbols) marked. Right: the
    gradient norm before clipping (log scale), with the clipping threshold.
    """
    fig, (ax_loss, ax_norm) = plt.subplots(1, 2, figsize=(13.0, 4.0), layout="constrained")
    for (name, results), colour in zip(runs.items(), (PALETTE[5], PALETTE[0]), strict=False):
        for k, (losses, norms, _) in enumerate(results):
            label = f"{name} ({len(results)} seeds)" if k == 0 else None
            ax_loss.plot(losses, color=colour, lw=0.8, alpha=0.7, label=label)
            ax_norm.semilogy(norms, color=colour, lw=0.8, alpha=0.7, label=label)
    ax_loss.axhline(math.log(4), color="0.3", ls=":", lw=1.2, label="guessing: log 4")
    ax_norm.axhline(threshold, color="0.3", ls="--", lw=1.2, label=f"threshold c = {threshold:g}")
    ax_loss.set(xlabel="update", ylabel="training loss (cross-entropy)", title="Training loss per update")
    ax_norm.set(xlabel="update", ylabel="gradient norm before clipping (log scale)",
                title="Global gradient norm per update")
    for ax in (ax_loss, ax_norm):
        ax.legend(fontsize=8)
    return fig


__all__ += ["draw_conv_volume"]


def draw_conv_volume(channels: int = 3, size: int = 32, filters: int = 6, kernel: int = 5,
                     ax: Any = None) -> Any:
    """A convolutional layer as volumes (chapter 8): input C × H × H, F filters C × k × k, output F × O × O.

    The input is drawn as a stack of ``channels`` slices with one filter's window on its front; each
    filter (a C × k × k block, every one a different colour) reads the window across all channels
    and writes one number of its own feature map; the F maps stack into the output volume
    (stride 1, no padding: O = H − k + 1). Returns ax.
    """
    ax = _axes(ax, (11.0, 4.2))
    out = size - kernel + 1
    colours = [PALETTE[i % len(PALETTE)] for i in (0, 1, 2, 3, 4, 5, 7)]

    def stack(x: float, y: float, depth: int, side: float, colour_of: Any, step: float) -> None:
        for d in reversed(range(depth)):                       # back slices first, front slice last
            ax.add_patch(plt.Rectangle((x + d * step, y + d * step), side, side, fc=colour_of(d), ec="0.25",
                                       lw=0.8, alpha=0.9))

    side, step = 3.0, 0.35
    stack(0.0, 0.0, channels, side, lambda d: ("#E8E8E8", "#D0D0D0", "#B8B8B8")[d % 3], step)
    window = side * kernel / size
    ax.add_patch(plt.Rectangle((0.6, 1.6), window, window, fill=False, ec=PALETTE[5], lw=2.2))
    ax.text(side / 2 + channels * step / 2, -0.55, f"input: C × H × W = {channels} × {size} × {size}",
            ha="center", fontsize=10)
    # the filters: F blocks of C × k × k
    for f in range(filters):
        x0 = 5.2 + f * 0.75
        stack(x0, 2.3, channels, 0.45, lambda d, f=f: colours[f % len(colours)], 0.09)
    ax.text(5.2 + filters * 0.375, 3.35,
            f"F = {filters} filters, each C × k × k = {channels} × {kernel} × {kernel}",
            ha="center", fontsize=10)
    ax.annotate("", xy=(5.1, 2.5), xytext=(0.6 + window, 1.6 + window),
                arrowprops={"arrowstyle": "-|>", "color": PALETTE[5], "lw": 1.4})
    # the output volume: F maps of O × O, one per filter
    out_side = side * out / size
    stack(10.6, 0.2, filters, out_side, lambda d: colours[d % len(colours)], 0.25)
    ax.annotate("", xy=(10.5, 1.3), xytext=(5.2 + filters * 0.75, 2.5),
                arrowprops={"arrowstyle": "-|>", "color": "0.3", "lw": 1.4})
    ax.text(10.6 + out_side / 2 + filters * 0.125, -0.55,
            f"output: F × O × O = {filters} × {out} × {out}", ha="center", fontsize=10)
    ax.text(8.0, 1.2,
            "each filter reads the window\nthrough all C channels and\nwrites one number of its map",
            ha="center", fontsize=9, color="0.3")
    ax.set(xlim=(-0.3, 15.2), ylim=(-0.9, 3.9), aspect="equal")
    ax.set_title(f"One convolutional layer: {channels} channels in, {filters} feature maps out "
                 f"({filters} · ({channels}·{kernel}·{kernel}) + {filters} = "
                 f"{filters * (channels * kernel * kernel + 1)} parameters)", fontsize=10)
    ax.axis("off")
    return ax


__all__ += ["plot_filters_with_maps"]


def plot_filters_with_maps(W: Any, maps: Any, image: Any,
                           title: str = "Filters and their feature maps") -> Any:
    """Each single-channel filter above the feature map it makes of one image (chapter 8); returns the Figure.

    W:     (F, 1, kh, kw) or (F, kh, kw), e.g. a first Conv2D layer's ``W.data``;
    maps:  (F, H, W) or (1, F, H, W), that layer's output for ``image`` (after its activation);
    image: (H', W') or with leading axes of size 1, drawn in grey in the first column.
    Top row: filter f with its weights written in (purple negative, orange positive, one scale per
    filter). Bottom row: its map, all maps on one shared colour scale, so a dark map is a weak one.
    """
    W, maps, image = (backend.to_numpy(a) for a in (W, maps, image))
    W = W.reshape(W.shape[0], W.shape[-2], W.shape[-1])
    maps = maps.reshape(maps.shape[-3], maps.shape[-2], maps.shape[-1])
    count = W.shape[0]
    fig, axes = plt.subplots(2, count + 1, figsize=(1.7 * (count + 1), 4.0), layout="constrained")
    axes[0, 0].imshow(image.reshape(image.shape[-2], image.shape[-1]), cmap="gray")
    axes[0, 0].set_title("input", fontsize=9)
    axes[1, 0].axis("off")
    top = float(maps.max()) or 1.0
    for f in range(count):
        draw_kernel(axes[0, f + 1], W[f], annotate=True)
        axes[0, f + 1].set_title(f"filter {f}", fontsize=9)
        shown = axes[1, f + 1].imshow(maps[f], cmap="viridis", vmin=0.0, vmax=top)
        axes[1, f + 1].set(xticks=[], yticks=[])
        axes[1, f + 1].set_title(f"its map (max {float(maps[f].max()):.1f})", fontsize=8)
    axes[0, 0].set(xticks=[], yticks=[])
    fig.colorbar(shown, ax=axes[1, -1], shrink=0.9)
    fig.suptitle(title)
    return fig
