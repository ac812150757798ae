"""Chapter 1 (a single neuron): interactive demos and their static twins."""

from __future__ import annotations

import math
from typing import Any

import ipywidgets

from .. import backend
from ..viz import MARKERS
from .base import CLASS_COLOURS, OUTPUT_CMAP, float_slider, host_points, slider_figure

__all__ = ["draw_neuron_boundary", "neuron_boundary"]


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
    X_host, y_host = host_points(X, y)
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
    host_points(X, y)  # fail early, in the cell that builds the widget
    controls = {
        "w1": float_slider("$w_1$", w1, -limit, limit),
        "w2": float_slider("$w_2$", w2, -limit, limit),
        "b": float_slider("$b$", b, -2 * limit, 2 * limit),
    }

    def draw(ax: Any, w1: float, w2: float, b: float) -> None:
        draw_neuron_boundary(ax, X, y, w1, w2, b)

    return slider_figure(draw, controls)
