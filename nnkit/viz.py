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
from matplotlib.colors import ListedColormap
from matplotlib.ticker import MaxNLocator

from . import backend
from .train import History, Model, predict

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
                           title: str = "Decision boundary", threshold: float = 0.0) -> Any:
    """Colour the plane by the class ``model`` predicts, and scatter the data on top; returns the Axes.

    model: a Module or a function mapping points (M, 2) to scores (M, K), or to one binary
           logit per point, (M,) or (M, 1) (class 1 above ``threshold``).
    X: (N, 2) points; y: (N,) integer labels (host or backend arrays).
    resolution: grid points per axis (resolution² forward passes, batched).
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
    ax.contourf(g1, g2, regions, levels=hx.arange(n_classes + 1) - 0.5, cmap=ListedColormap(colours),
                alpha=0.3)
    for k in range(n_classes):
        points = X[y == k]
        if len(points):
            ax.scatter(points[:, 0], points[:, 1], s=18, color=colours[k], marker=MARKERS[k % len(MARKERS)],
                       edgecolors="white", linewidths=0.4, label=f"class {k}")
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$", xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]),
           aspect="equal")
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
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
                 max_nodes: int = 10, title: str | None = None) -> Any:
    """Draw a fully connected network: each layer a column of nodes, every pair of neighbours joined.

    layer_sizes: units per layer, input first, e.g. [3, 4, 1].
    labels:      a name per layer (default "input", "hidden 1", ..., "output"), shown with its size.
    max_nodes:   a larger layer shows its first nodes, a "⋮" and its last node.
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
    for x in range(depth - 1):
        for a in layout[x][0]:
            for b in layout[x + 1][0]:
                ax.plot([x, x + 1], [a, b], color="0.6", linewidth=0.6, zorder=1)
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
