"""Chapter 7 (optimisation): interactive demos and their static twins."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets

from .. import backend
from .base import slider_figure

__all__ = ["LossSurface", "LOSS_SURFACES", "OPTIMIZER_NAMES", "OPTIMIZER_STYLES", "make_optimizer",
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
    from .. import optim

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
    from ..module import Parameter

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

    Minima are marked with stars (filled: the global minimum; open: a local one), saddle points
    with crosses; each kind of mark gets one legend entry.
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
    depths = [float(s.loss(hx.asarray(m1), hx.asarray(m2))) for m1, m2 in s.minima]
    labelled = set()
    for (m1, m2), depth in zip(s.minima, depths, strict=True):
        kind = ("minimum" if len(depths) == 1
                else "global minimum" if depth == min(depths) else "local minimum")
        ax.plot(m1, m2, marker="*", color="k", markersize=13, linestyle="none", markeredgewidth=1.2,
                markerfacecolor="white" if kind == "local minimum" else "k",
                label=None if kind in labelled else kind)
        labelled.add(kind)
    for k, (m1, m2) in enumerate(s.saddles):
        ax.plot(m1, m2, marker="X", color="k", markersize=9, linestyle="none",
                label=None if k else "saddle point")
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
